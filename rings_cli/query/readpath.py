"""The read path: what `rings report`, `rings live` and `rings serve` read, never stale.

Flushed tenant-days are read from the warehouse; tenant-days the catalog marks dirty (merged into
their DO file since the last flush) are read from the DO file itself, read-only, so a line is
visible as soon as its batch commits, whatever the flush interval. Both are put together in an
in-memory DuckDB whose tables have the warehouse's names and columns (one definition,
`warehouse._SCHEMA`), so the report SQL in `queries/` runs unchanged on either.

No DO file stays open and the warehouse is attached only for the query: a reader never blocks
an ingest's merge, a flush for longer than one query, or finalization's WAL truncate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rings_cli.core import tables
from rings_cli.core.errors import RingsError
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.query.model import Freshness
from rings_cli.warehouse.arrow import ArrowStream
from rings_cli.warehouse.choose import is_shared, setting_of
from rings_cli.warehouse.local import (
    _SCHEMA,
    IN_PROCESS,
    READ_RETRY_SECONDS,
    SCHEMA_VERSION,
    TABLES,
    gate,
    table_columns,
    warehouse_failure,
    while_locked,
)

if TYPE_CHECKING:
    import duckdb
    import polars as pl  # imported only when a DO file is read: a report of flushed days needs none

if TYPE_CHECKING:  # the engine has the package's API (and types) for what is used here
    import duckdb as engine
else:
    from rings_cli.core.lazy import lazy_module

    # Imported when a local read first uses it: a shared (PostgreSQL) warehouse's read needs none.
    engine = lazy_module("rings_cli.query.engine")


@dataclass
class ReadInfo:
    """Where a read's numbers came from: `live` tenant-days were read from their DO files."""

    live: list[tuple[str, str]] = field(default_factory=list)
    as_of: dt.datetime | None = None  # the newest commit included (DO file or warehouse)
    damaged: list[str] = field(default_factory=list)  # DO files that could not be read
    # A shared warehouse: when each ingest host last flushed, and this host's newest DO commit.
    parts: dict[str, Any] | None = None

    def to_dict(self) -> Freshness:
        out: Freshness = {
            "as_of": self.as_of.isoformat(timespec="seconds") if self.as_of else None,
            "live_tenant_days": len(self.live),
        }
        if self.damaged:
            out["damaged"] = self.damaged
        if self.parts is not None:
            out["as_of_parts"] = self.parts
        return out


# Served by the catalog's partial index `days_dirty` (catalog.py): no scan of every tenant-day.
DIRTY_DAYS = (
    "SELECT tenant, date FROM days WHERE dirty = 1 AND (? IS NULL OR tenant = ?) ORDER BY tenant, date"
)


def only_these(tenants: Collection[str]) -> str:
    """An SQL condition on `tenant` for a set of tenants (a site token's): each name checked
    against the tenant pattern first, so the literals hold nothing but [a-z0-9._-]."""
    names = [check_tenant(t) for t in sorted(set(tenants))]
    return f"tenant IN ({', '.join(repr(n) for n in names)})" if names else "FALSE"


def dirty_tenant_days(state: StateDir, tenant: str | None = None) -> list[tuple[str, str]]:
    """Tenant-days merged since their last flush, from the catalog opened read-only."""
    path = state.catalog_path
    if not path.exists():
        return []
    try:
        with closing(open_read_only(path)) as con:
            rows = con.execute(DIRTY_DAYS, (tenant, tenant)).fetchall()
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return []  # an ingest is creating it this instant: nothing merged yet
        raise RingsError(f"cannot read catalog {path}: {e}") from e
    except sqlite3.DatabaseError as e:
        raise RingsError(f"cannot read catalog {path}: {e}") from e
    return [(t, d) for t, d in rows]


def snapshot_of(path: Path, tenant: str, date: str) -> dict[str, pl.DataFrame] | None:
    """A DO file's current totals, read-only (None when the file is not there yet)."""
    if not path.exists():
        return None
    from rings_cli.store.dofile import snapshot_tables  # (and Polars) only when a DO file is read

    with closing(open_read_only(path)) as con:
        con.execute("BEGIN")  # one consistent snapshot across the tables
        out = snapshot_tables(con, tenant, date)
        con.execute("COMMIT")
    return out


def open_read_only(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=5.0)
    con.execute("PRAGMA query_only = ON")
    return con


def written_at(path: Path) -> dt.datetime | None:
    """When a SQLite file (or its WAL) was last written: the time of its last commit."""
    return _mtime(path, path.with_name(path.name + "-wal"))


def _mtime(*paths: Path) -> dt.datetime | None:
    times = [p.stat().st_mtime for p in paths if p.exists()]
    return dt.datetime.fromtimestamp(max(times), dt.UTC) if times else None


WAREHOUSE_TABLES = "wh.main"  # where the attached warehouse's tables are
# Each table's columns in a warehouse of this version: one that has them all is read as it is.
_COLUMNS = {
    t.warehouse_name: {"tenant", "date", *(c[0] for c in tables.warehouse_columns(t))} for t in tables.TABLES
}


def _connect() -> duckdb.DuckDBPyConnection:
    """The in-memory database a read puts its view in. One DuckDB thread: the queries are small
    (a few ms), and a reader that wants both cores runs two at a time on two cursors (report.run_all:
    38 ms for a year's sections, against 45 with DuckDB's two threads each contending for the cores)."""
    return engine.connect(":memory:", config={"threads": 1})


_WARM: dict[str, Any] = {}  # "thread" making a database for the next read, then "con", the database


def warm_up() -> None:
    """Start making the next read's in-memory database in a thread while this one goes on (DuckDB
    lets go of the GIL): a process's first takes about 30 ms, as long as Typer's parsing and the
    report's imports. `current_view` takes it over; a process that makes no read drops it."""
    if "thread" in _WARM:
        return

    def make() -> None:
        # Whatever fails here, the read makes its own database and says why (one line, no thread's
        # traceback).
        with contextlib.suppress(Exception):
            _WARM["con"] = _connect()

    thread = threading.Thread(target=make, name="rings-warm-up")
    thread.start()
    _WARM["thread"] = thread  # only once started: `_warmed` joins it


def _warmed() -> duckdb.DuckDBPyConnection | None:
    """The database `warm_up` made, once; None when there is none."""
    if "thread" not in _WARM:
        return None
    _WARM["thread"].join()
    return _WARM.pop("con", None)


class KeptDatabase:
    """The in-memory database of one read, kept for the next by a process that reads again and
    again (`rings live` re-reads its day at every commit): made once instead of at every read (22
    ms of CPU), its schema `live` emptied rather than made again (16 ms). Between reads it holds
    nothing: the warehouse is detached, the views dropped, the live tables empty."""

    def __init__(self) -> None:
        self._con: duckdb.DuckDBPyConnection | None = None

    def take(self) -> duckdb.DuckDBPyConnection | None:
        con, self._con = self._con, None
        return con

    def keep(self, con: duckdb.DuckDBPyConnection) -> None:
        """Reset `con` for the next read (and keep it), or close it when that fails."""
        try:
            reset = ["DETACH DATABASE IF EXISTS wh", "RESET search_path", "SET schema = 'main'"]
            reset += [f"DROP VIEW IF EXISTS main.{table}" for table in TABLES]
            if _has_live_schema(con):
                reset += [f"DELETE FROM live.{table}" for table in (*TABLES, "keys")]
            con.execute(";\n".join(reset))
        except engine.Error:
            con.close()
            return
        if self._con is not None:
            self._con.close()
        self._con = con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _has_live_schema(con: duckdb.DuckDBPyConnection) -> bool:
    found = con.execute(
        "SELECT count(*) FROM duckdb_schemas() WHERE database_name = 'memory' AND schema_name = 'live'"
    ).fetchall()
    return bool(found[0][0])


@contextmanager
def current_view(
    state: StateDir,
    tenant: str | None = None,
    wait: float = READ_RETRY_SECONDS,
    kept: KeptDatabase | None = None,
    only: Collection[str] | None = None,
) -> Iterator[tuple[duckdb.DuckDBPyConnection, ReadInfo]]:
    """A DuckDB connection whose tables `daily`, `hourly`, ... hold the current numbers.

    The warehouse is attached read-only for the duration of the block; keep the block short.
    With `kept`, the in-memory database is taken from it and given back after the block. With
    `only`, the tables hold those tenants' rows and no other's (a site token's `_all`): every
    query, the extent of the data included, sees nothing of the others.
    """
    info = ReadInfo()
    live: dict[str, list[pl.DataFrame]] = {}
    newest: list[dt.datetime] = []
    for t, d in dirty_tenant_days(state, tenant):
        if only is not None and t not in only:
            continue
        path = state.do_path(t, d)
        try:
            snap = snapshot_of(path, t, d)
        except sqlite3.DatabaseError as e:
            # Shown from its last flush instead, and named (`rings check` says how to repair it).
            info.damaged.append(f"{path}: {e}; showing its last flushed numbers")
            continue
        if snap is None:
            continue
        info.live.append((t, d))
        for table, frame in snap.items():
            live.setdefault(table, []).append(frame)
        if (stamp := written_at(path)) is not None:
            newest.append(stamp)
    if is_shared(state):
        from rings_cli.query.pgview import postgres_view

        where = None if only is None else only_these(only)
        with postgres_view(setting_of(state).dsn, live, info.live, where) as view:
            local = max(newest) if newest else None
            shared = max(view.flushes.values()) if view.flushes else None
            info.as_of = max((t for t in (local, shared) if t is not None), default=None)
            info.parts = {
                "warehouse": {h: _iso(t) for h, t in sorted(view.flushes.items())},
                "this_host": _iso(local) if local is not None else None,
            }
            yield view, info  # type: ignore[misc]  # report.py asks DuckDB's questions of it
        return
    with contextlib.ExitStack() as stack:
        if state.warehouse_path.exists():
            stack.enter_context(IN_PROCESS)
        con = (kept.take() if kept is not None else None) or _warmed() or _connect()
        # closed, or reset and kept (detached either way), before the lock is let go
        stack.callback(con.close if kept is None else lambda: kept.keep(con))
        attached = _attach_warehouse(con, state, wait)
        if attached:
            newest.extend(s for s in [_mtime(state.warehouse_path)] if s is not None)
        columns = table_columns(con, "wh") if attached else {}
        flushed = set(columns)
        lacking = any(not names <= columns.get(t, set()) for t, names in _COLUMNS.items())
        if info.live or lacking or only is not None:
            _live_tables(con, live, info.live)
            con.execute(_views(flushed, bool(info.live), None if only is None else only_these(only)))
        else:  # the warehouse's tables as they are: named straight, no views to bind (4 ms)
            con.execute(f"SET search_path = '{WAREHOUSE_TABLES}'")
        info.as_of = max(newest) if newest else None
        try:
            yield con, info
        except engine.Error as e:  # a damaged block of the warehouse shows only when a query reads it
            raise _read_failure(e, state.warehouse_path if attached else None) from e


def _read_failure(error: duckdb.Error, warehouse: Path | None) -> RingsError:
    """What a DuckDB error in a report's query means: the warehouse's damage or full disk
    (`warehouse_failure`: `rings check --repair` rebuilds it), else one line naming the read."""
    failure = warehouse_failure(error, warehouse) if warehouse is not None else None
    where = f" of {warehouse}" if warehouse is not None else ""
    return failure or RingsError(f"a read{where} failed: {str(error).splitlines()[0][:200]}")


def _iso(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.UTC).isoformat(timespec="seconds")


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the tables `current_view` yields, for another thread (a cursor starts
    on the in-memory database's own schema, without the warehouse's tables in its search path)."""
    if getattr(con, "dialect", "duckdb") == "postgres":
        return con.cursor()  # the same connection (pgview.View), taking turns
    row = con.execute("SELECT current_setting('search_path')").fetchone()
    cur = con.cursor()
    if row and row[0]:
        cur.execute(f"SET search_path = '{row[0]}'")
    return cur


def _live_tables(
    con: duckdb.DuckDBPyConnection, live: dict[str, list[pl.DataFrame]], keys: list[tuple[str, str]]
) -> None:
    """The schema `live`: every table, holding the DO files' rows, and `keys`, their tenant-days.
    Only made when there is something to hold or a table or column the warehouse lacks (a third
    of the read path's set-up on a warehouse of flushed days)."""
    if not _has_live_schema(con):  # (a kept database has it, emptied)
        con.execute("CREATE SCHEMA live")
        con.execute("SET schema = 'live'")
        con.execute(_SCHEMA)
        con.execute("SET schema = 'main'")
        con.execute("CREATE TABLE live.keys (tenant VARCHAR, date DATE)")
    for table, frames in live.items():
        filled = [f for f in frames if f.height]
        if filled:
            import duckdb  # noqa: F401 - sets up the engine's scans of Python (Arrow) objects
            import polars as pl

            rows = pl.concat(filled, how="vertical_relaxed")
            # As an Arrow C stream: the frame itself would be scanned through PyArrow (30 MiB more).
            # A column of nothing but nulls (an open day's summary) goes as text: DuckDB refuses
            # Arrow's null type over the stream ("a non-zero null count but no validity bitmap").
            nulls = [name for name, kind in rows.schema.items() if kind == pl.Null]
            if nulls:
                rows = rows.with_columns(pl.col(nulls).cast(pl.String))
            con.register("live_rows", ArrowStream(rows))
            con.execute(f"INSERT INTO live.{table} BY NAME SELECT * FROM live_rows")
            con.unregister("live_rows")
    if keys:
        con.executemany("INSERT INTO live.keys VALUES (?, CAST(? AS DATE))", keys)


def _views(flushed: set[str], live: bool, where: str | None = None) -> str:
    """The views `main.daily`, ... in one script: the warehouse's rows (less the tenant-days read
    live) and the live ones, by name, so that a column the warehouse lacks reads as NULL; with
    `where` (only_these), only the rows it keeps."""
    conditions = [where] if where is not None else []
    if live:
        conditions.append(
            """NOT EXISTS (SELECT 1 FROM live.keys AS k
                           WHERE k.tenant = w.tenant AND k.date = w.date)"""
        )
    unless_live = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    kept = f"WHERE {where}" if where is not None else ""
    views = []
    for table in TABLES:
        if table in flushed:
            views.append(
                f"""CREATE VIEW main.{table} AS
                    SELECT * FROM wh.main.{table} AS w {unless_live}
                    UNION ALL BY NAME SELECT * FROM live.{table} {kept}"""
            )
        else:
            views.append(f"CREATE VIEW main.{table} AS SELECT * FROM live.{table} {kept}")
    return ";\n".join(views)


def _attach_warehouse(con: duckdb.DuckDBPyConnection, state: StateDir, wait: float) -> bool:
    """Attach the warehouse read-only, waiting out a flush; False when there is none (yet)."""
    path = state.warehouse_path
    if not path.exists():
        return False
    deadline = time.monotonic() + wait

    def let_a_waiting_flush_go_first() -> None:
        with gate(path, max(0.0, deadline - time.monotonic())):
            pass

    while_locked(
        path,
        wait,
        lambda: con.execute(f"ATTACH '{_quoted(path)}' AS wh (READ_ONLY)"),
        before=let_a_waiting_flush_go_first,
    )
    try:
        version = con.execute("SELECT max(version) FROM wh.main.schema_version").fetchone()
    except engine.CatalogException:
        version = None
    if not version or version[0] != SCHEMA_VERSION:
        con.execute("DETACH wh")
        return False
    return True


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
