"""The warehouse as an interface: what flushes, the ended-days path, readers, erase, check and
audit ask of the history, and which implementation a state dir uses.

Two implementations: `local.LocalWarehouse`, the state dir's DuckDB file (the default), and
`postgres.PostgresWarehouse`, a PostgreSQL database shared by every ingest host (rings.toml
`[warehouse] kind = "postgres"`). Both keep the same tables (core/tables.py) with the same meaning:
a flush replaces whole tenant-days, idempotently, one transaction per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import polars as pl

# How long a reader or a flush waits for the warehouse before giving up.
READ_RETRY_SECONDS = 30.0


class Audited(Protocol):
    """What `rings audit` is given of a warehouse's tables (ops/audit.py)."""

    counts: dict[str, int]  # rows per table
    days: set[tuple[str, str]]  # every tenant-day held
    values: list[tuple[str, str, list[bytes]]]  # (table, column, distinct text values)


class Warehouse(Protocol):
    """The history: per tenant-day rows of every table of core/tables.py, and `absorbed`."""

    kind: str  # "duckdb" or "postgres"

    def describe(self) -> str:
        """Where it is, for messages: a path, or the database (never a password)."""
        ...

    def exists(self) -> bool:
        """Whether there is anything to read (a file; a database always is)."""
        ...

    def is_current(self, wait: float = READ_RETRY_SECONDS) -> bool:
        """False when it has no Rings tables of this version: every day must be flushed again."""
        ...

    def flush(
        self,
        chunks: Iterable[dict[str, list[pl.DataFrame]]],
        wait: float = READ_RETRY_SECONDS,
        on_commit: Callable[[], None] | None = None,
        new: bool = False,
    ) -> tuple[int, int]:
        """Replace the rows of every tenant-day in `chunks`, one transaction per chunk; `on_commit`
        after each. Returns (rows written, statements executed)."""
        ...

    def days(self, wait: float = READ_RETRY_SECONDS) -> set[tuple[str, str]]:
        """Every tenant-day it holds (a `daily` row)."""
        ...

    def held(
        self, keys: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str, str], int]]:
        """Which of these tenant-days it holds, and the last line of each source it holds of them."""
        ...

    def rows_of(
        self, keys: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS
    ) -> dict[str, pl.DataFrame]:
        """Every table's rows of these tenant-days (`date` a string), `absorbed` included."""
        ...

    def tenant_day(self, tenant: str, date: str) -> tuple[dict[str, Any], dict[str, pl.DataFrame]] | None:
        """One tenant-day's `daily` row and its other tables' rows (for `rings check --repair`)."""
        ...

    def verify(self, wait: float = READ_RETRY_SECONDS) -> None:
        """Read every table; DamagedStateError when it is not usable or holds a row twice."""
        ...

    def stored_rows(self, wait: float = READ_RETRY_SECONDS, tenants: list[str] | None = None) -> pl.DataFrame:
        """(tenant, date, table, rows) of every tenant-day held (of `tenants` only, when given)."""
        ...

    def erase(self, days: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS) -> None:
        """Delete these tenant-days so that no byte of them is left in the tables' files."""
        ...

    def audit(self, wait: float = READ_RETRY_SECONDS) -> Audited | None:
        """Every table's row count and text values, for `rings audit` (None: nothing stored)."""
        ...

    def freshness(self, wait: float = READ_RETRY_SECONDS) -> dict[str, str]:
        """When each writer last committed a flush: {host: ISO time} (one entry for a local file)."""
        ...

    def export_parquet(self, target: Any, wait: float = READ_RETRY_SECONDS) -> dict[str, int]:
        """Every table into `target/<table>.parquet`; rows per table."""
        ...

    def session(self, wait: float = READ_RETRY_SECONDS) -> AbstractContextManager[Any]:
        """A connection to read with (DuckDB or psycopg), for code that asks its own questions."""
        ...
