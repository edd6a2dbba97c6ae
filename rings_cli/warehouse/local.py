"""The warehouse: one DuckDB file of per-tenant-day history, written only by flushes.

A flush *replaces* each tenant-day's rows with the DO file's current totals (never adds), so
flushing twice, or re-flushing after a crash, changes nothing. DuckDB lets one process hold the
file for writing and nobody else open it at all, so every connection here is short, and readers
retry for a while when a flush holds the lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rings_cli.core import tables
from rings_cli.core.errors import (
    DamagedStateError,
    DiskFullError,
    OutOfFilesError,
    RingsError,
    StateLockedError,
    is_disk_full,
    is_out_of_files,
)
from rings_cli.core.lazy import lazy_module
from rings_cli.store import sqlite as storage
from rings_cli.warehouse.arrow import ArrowStream
from rings_cli.warehouse.base import READ_RETRY_SECONDS

if TYPE_CHECKING:
    import duckdb
    import polars as pl  # imported where used: `rings report` reads without it
else:  # on first use: `rings report` reads through DuckDB's engine alone (readpath.engine), and an
    duckdb = lazy_module("duckdb")  # ingest's batches run without it (imported at the flush)

SCHEMA_VERSION = 2

_SCHEMA = tables.duckdb_schema()  # one definition of every table: tables.py

TABLES = tables.WAREHOUSE_TABLES  # `daily` first
_KEYS = {t.warehouse_name: tables.warehouse_keys(t) for t in tables.TABLES} | {
    tables.ABSORBED: tables.ABSORBED_KEYS
}
# What a flush replaces per tenant-day: every table, and the record of the lines a day written
# straight to the warehouse holds (days/direct.py).
WRITTEN = (*TABLES, tables.ABSORBED)
_ABSORBED = tables.ABSORBED
# The breakdown tables came after SCHEMA_VERSION 2 without changing it: an older warehouse gains
# them in place at its next flush (CREATE ... IF NOT EXISTS), keeping every row it has; until
# then readers see them empty (readpath), and `verify` does not call their absence damage.
NEWER_TABLES = tables.NEWER_TABLES

REBUILD = "`rings check --repair` rebuilds it from the DO files"

# Warehouse files (path, inode) whose schema this process has made current (see _ensure_schema).
_ENSURED: set[tuple[str, int]] = set()

REWRITE_SUFFIX = ".erasing"  # the new warehouse while erase builds it (removed by a rerun after a crash)


def _is_lock_error(error: duckdb.Error) -> bool:
    """Another process holds the file: DuckDB's exact words (not "lock" anywhere: a corrupt
    "block" is not a lock)."""
    return "Could not set lock on file" in str(error) or "Conflicting lock is held" in str(error)


def _is_damage(error: duckdb.Error) -> bool:
    """The file is not a DuckDB database, or a block of it fails its checksum."""
    text = str(error).lower()
    return (
        "corrupt" in text
        or "checksum" in text
        or "not a valid duckdb database" in text
        or isinstance(error, duckdb.SerializationException)
    )


def warehouse_failure(error: duckdb.Error, path: Path) -> RingsError | None:
    """The RingsError a DuckDB error means for the warehouse at `path`, or None."""
    if is_disk_full(error):
        return DiskFullError(path.parent)
    if is_out_of_files(error):
        return OutOfFilesError()
    if _is_damage(error):
        detail = str(error).splitlines()[0][:200]
        return DamagedStateError(path, f"damaged warehouse ({detail}); {REBUILD}")
    return None


# DuckDB guards its file with POSIX record locks, which belong to a process, not a connection:
# when one thread detaches the warehouse, the process's shared lock is gone for all its threads,
# and a flush by another process could write under a thread still reading; and a flush in the same
# process (`rings live PATH`) is not kept out by them at all. So inside one process, one user of
# the warehouse at a time: each holds it only for a query or a flush.
IN_PROCESS = threading.RLock()


@contextmanager
def gate(path: Path, wait: float, create: bool = False) -> Iterator[None]:
    """Writer preference for the warehouse. Readers hold DuckDB's shared file lock only for a
    query, but many readers in a loop could still overlap forever and starve a flush. So the
    flusher holds this gate (an flock on `warehouse.duckdb.gate`) from before it asks for the file
    until it has it, and a reader passes through the gate before asking: while a flush waits, no new
    reader starts, the running ones finish their query, and the flush gets in."""
    gate_path = path.with_name(path.name + ".gate")
    try:
        # The flusher creates it (under the state dir's umask); a reader only opens it, read-only.
        fd = os.open(gate_path, os.O_RDWR | os.O_CREAT, 0o640) if create else os.open(gate_path, os.O_RDONLY)
    except OSError:
        yield  # no gate yet: no flush has ever waited
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateLockedError(
                        f"warehouse {path} stayed busy (a flush) for {wait:.0f}s"
                    ) from None
                time.sleep(0.005)
        yield
    finally:
        os.close(fd)


T = TypeVar("T")


def while_locked(
    path: Path, wait: float, attempt: Callable[[], T], before: Callable[[], None] = lambda: None
) -> T:
    """`attempt()` (open or attach the file), retried with backoff while another process holds
    it, for up to `wait` seconds; any other DuckDB error names the file and ends it."""
    deadline = time.monotonic() + wait
    delay = 0.01
    while True:
        before()
        try:
            return attempt()
        except duckdb.Error as e:
            if not _is_lock_error(e):
                raise warehouse_failure(e, path) or RingsError(f"cannot open warehouse {path}: {e}") from e
            if time.monotonic() >= deadline:
                raise StateLockedError(
                    f"warehouse {path} stayed locked by another process for {wait:.0f}s"
                ) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


class LocalWarehouse:
    """Open-per-use access to the DuckDB file."""

    kind = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def freshness(self, wait: float = READ_RETRY_SECONDS) -> dict[str, str]:
        """The file's last write: this host's last flush."""
        if not self.path.exists():
            return {}
        times = [
            p.stat().st_mtime for p in (self.path, self.path.with_name(self.path.name + ".wal")) if p.exists()
        ]
        stamp = dt.datetime.fromtimestamp(max(times), dt.UTC)
        return {"local": stamp.isoformat(timespec="seconds")}

    def session(self, wait: float = READ_RETRY_SECONDS) -> contextlib.AbstractContextManager[Any]:
        return self.reader(wait)

    def erase(self, days: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS) -> None:
        """A new file without these tenant-days, renamed over the old (rewrite_warehouse)."""
        rewrite_warehouse(self.path, days, wait)

    def stored_rows(self, wait: float = READ_RETRY_SECONDS, tenants: list[str] | None = None) -> pl.DataFrame:
        """(tenant, date, table, rows) of every tenant-day the warehouse holds."""
        import polars as pl

        empty = pl.DataFrame(
            schema={"tenant": pl.String, "date": pl.String, "table": pl.String, "rows": pl.Int64}
        )
        with self.maybe_reader(wait) as con:
            if con is None:
                return empty
            union = " UNION ALL ".join(
                f"SELECT tenant, CAST(date AS VARCHAR) AS date, '{t}' AS \"table\", count(*) AS rows "
                f"FROM {t} GROUP BY ALL"
                for t in TABLES
                if t not in NEWER_TABLES or has_table(con, t)  # an older warehouse lacks them
            )
            rows = con.execute(union).fetchall()
        frame = pl.DataFrame(rows, schema=empty.schema, orient="row") if rows else empty
        return frame.filter(pl.col("tenant").is_in(tenants)) if tenants is not None else frame

    def audit(self, wait: float = READ_RETRY_SECONDS) -> Audit | None:
        """Row counts, tenant-days and every text value of every table, for `rings audit`."""
        if not self.path.exists():
            return None
        out = Audit()
        with self.reader(wait) as con:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE NOT internal ORDER BY 1"
                ).fetchall()
            ]
            for table in names:
                out.counts[table] = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            if "daily" in names:
                days = con.execute("SELECT DISTINCT tenant, CAST(date AS VARCHAR) FROM daily").fetchall()
                out.days = {(t, d) for t, d in days}
            columns = con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() "
                "WHERE NOT internal AND data_type IN ('VARCHAR', 'JSON', 'BLOB') ORDER BY 1, 2"
            ).fetchall()
            for table, column in columns:
                values = con.execute(
                    f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM "{table}" WHERE "{column}" IS NOT NULL'
                ).fetchall()
                out.values.append((table, column, [v[0].encode() for v in values]))
        return out

    def export_parquet(self, target: Any, wait: float = READ_RETRY_SECONDS) -> dict[str, int]:
        """Each table as `target/<table>.parquet`, by DuckDB's own writer."""
        counts: dict[str, int] = {}
        with self.maybe_reader(wait) as con:
            if con is None:
                return counts
            present = table_columns(con)
            for table in WRITTEN:
                if table not in present:
                    continue
                out = str(Path(target) / f"{table}.parquet").replace("'", "''")
                con.execute(f"COPY (SELECT * FROM {table} ORDER BY tenant, date) TO '{out}' (FORMAT parquet)")
                counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        return counts

    @contextmanager
    def _connect(
        self, read_only: bool, wait: float, gated: bool = False
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file; `gated` (the flusher)
        holds the gate while it waits, so readers let it in, and holds IN_PROCESS while it has the
        file, so this process's readers (`rings live PATH`) wait for it instead of failing on it."""
        with contextlib.ExitStack() as stack:
            if gated:  # IN_PROCESS before the gate, as readers and erase take them
                stack.enter_context(IN_PROCESS)
            with gate(self.path, wait, create=True) if gated else contextlib.nullcontext():
                # A writer on one thread: a flush's inserts are small, and each thread's buffers
                # were ~10 MiB of an ingest's peak (README: Performance).
                config: dict[str, str | bool | int | float | list[str]] = {} if read_only else {"threads": 1}
                path = str(self.path)
                con = while_locked(
                    self.path, wait, lambda: duckdb.connect(path, read_only=read_only, config=config)
                )
            try:
                yield con
            except duckdb.Error as e:  # a damaged block shows only when a query reads it
                # Anything else DuckDB raises (out of memory, an internal error) is one line too.
                failure = warehouse_failure(e, self.path) or RingsError(
                    f"warehouse {self.path}: {str(e).splitlines()[0][:200]}"
                )
                raise failure from e
            finally:
                con.close()

    def flush(
        self,
        chunks: Iterable[dict[str, list[pl.DataFrame]]],
        wait: float = READ_RETRY_SECONDS,
        on_commit: Callable[[], None] | None = None,
        new: bool = False,
    ) -> tuple[int, int]:
        """Replace the rows of every tenant-day present in `chunks`, one transaction per chunk
        (`new`: the caller knows none of them has a row here yet, so nothing is deleted).
        Chunks come one at a time (flush.py reads FLUSH_CHUNK DO files for each), so a flush of
        many tenant-days never holds all their rows at once. A tenant-day is replaced whole (its
        DELETE and INSERT commit together); a reader may see one chunk's tenant-days new and the
        next chunk's not yet, each of them a snapshot the DO files held. `on_commit` runs after
        each chunk's commit (flush.py marks its tenant-days flushed there).

        Returns (rows written, statements executed): per chunk, one DELETE and at most one
        INSERT per table, however many tenant-days it has.
        """
        import polars as pl

        written = statements = 0
        with self._connect(read_only=False, wait=wait, gated=True) as con:
            self._ensure_schema(con)
            con.execute("BEGIN TRANSACTION")
            try:
                for snapshots in chunks:
                    keys = pl.concat(
                        [f.select("tenant", "date") for frames in snapshots.values() for f in frames]
                    ).unique()
                    con.register("flush_keys", ArrowStream(keys))
                    for table in WRITTEN:
                        if not new:
                            con.execute(
                                f"DELETE FROM {table} WHERE (tenant, date) IN "
                                "(SELECT (tenant, date) FROM flush_keys)"
                            )
                            statements += 1
                        frames = [f for f in snapshots.get(table, []) if f.height]
                        if not frames:
                            continue
                        rows = pl.concat(frames, how="vertical_relaxed")
                        # A column of nothing but NULL (no type): DuckDB's Arrow scan wants a typed one.
                        rows = rows.with_columns(
                            pl.col(n).cast(pl.String) for n, d in rows.schema.items() if d == pl.Null
                        )
                        # The check a PRIMARY KEY made (tables.duckdb_ddl): no row twice.
                        if rows.select(_KEYS[table]).is_duplicated().any():
                            raise RingsError(f"a flush of {table} has a row twice; its chunk was not written")
                        con.register("flush_rows", ArrowStream(rows))
                        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM flush_rows")
                        statements += 1
                        con.unregister("flush_rows")
                        written += rows.height
                    con.unregister("flush_keys")
                    # Each chunk commits: DuckDB holds a transaction's rows (and the deleted ones)
                    # in memory until it ends, so one transaction of 1,400 tenant-days took 330 MiB.
                    con.execute("COMMIT")
                    if on_commit is not None:
                        on_commit()
                    con.execute("BEGIN TRANSACTION")
                con.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # a failed write may have ended it already
                    con.execute("ROLLBACK")
                raise
        return written, statements

    @staticmethod
    def _version(con: duckdb.DuckDBPyConnection) -> int | None:
        try:
            # fetchall, not fetchone: a result not fetched to its end keeps the connection busy
            # (DuckDB 2.0), and `register` refuses to run then.
            rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
        except duckdb.CatalogException:
            return None
        return rows[0][0] if rows else None

    def _ensure_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the tables; an older layout is dropped (it is rebuilt from the DO files). Once
        per file and process: a file replaced since (erase's rewrite, a repair) has a new inode."""
        ident = (str(self.path), os.stat(self.path).st_ino)
        if ident in _ENSURED and self._version(con) == SCHEMA_VERSION:
            return
        self._make_schema(con)
        _ENSURED.add(ident)

    def _make_schema(self, con: duckdb.DuckDBPyConnection) -> None:
        if self._version(con) != SCHEMA_VERSION:
            for table in (*TABLES, "schema_version"):
                con.execute(f"DROP TABLE IF EXISTS {table}")
        else:
            _migrate_tables(con)
        con.execute(_SCHEMA)
        if self._version(con) is None:
            con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION])

    def is_current(self, wait: float = READ_RETRY_SECONDS) -> bool:
        """False when the file is missing or has an older layout: every day must be flushed again."""
        if not self.exists():
            return False
        with self._connect(read_only=True, wait=wait, gated=True) as con:
            return self._version(con) == SCHEMA_VERSION

    def exists(self) -> bool:
        return self.path.exists()

    def verify(self, wait: float = READ_RETRY_SECONDS) -> None:
        """Open read-only and read every value of every table (a damaged block shows only when
        read); raises DamagedStateError when the file is not usable or lacks our schema."""
        with self.reader(wait) as con:
            if self._version(con) != SCHEMA_VERSION:
                raise DamagedStateError(self.path, "warehouse has no Rings schema (or an old one)")
            columns = table_columns(con)
            for table in WRITTEN:
                # Asked first: a missing `os` would make DuckDB scan Python's `os` module instead.
                if (table in NEWER_TABLES or table == tables.ABSORBED) and table not in columns:
                    continue  # made at the next flush (see NEWER_TABLES)
                try:
                    con.execute(f"SELECT bit_xor(hash(COLUMNS(*))) FROM {table}").fetchall()
                except duckdb.CatalogException as e:
                    raise DamagedStateError(self.path, f"warehouse lacks table {table}") from e
                # What a primary key ruled out (tables.duckdb_ddl): a row twice.
                keys = ", ".join(k for k in _KEYS[table] if k in columns[table])
                twice = con.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1)"
                ).fetchone()
                if twice and twice[0]:
                    raise DamagedStateError(self.path, f"warehouse has {twice[0]:,} rows of {table} twice")

    def tenant_day(self, tenant: str, date: str) -> tuple[dict[str, Any], dict[str, pl.DataFrame]] | None:
        """The last flushed copy of one tenant-day: its `daily` row and its other tables' rows
        (without tenant and date; `absorbed` too: the lines it holds, source and last line), or
        None when the warehouse has no copy of it."""
        import polars as pl

        with self.maybe_reader() as con:
            if con is None:
                return None
            key = [tenant, date]
            cur = con.execute("SELECT * FROM daily WHERE tenant = ? AND date = ?", key)
            names = [d[0] for d in cur.description]
            row = cur.fetchone()
            if row is None:
                return None
            tables = {}
            for table in (*TABLES[1:], _ABSORBED):  # all but daily
                if (table in NEWER_TABLES or table == _ABSORBED) and not has_table(con, table):
                    continue
                cur = con.execute(
                    f"SELECT * EXCLUDE (tenant, date) FROM {table} WHERE tenant = ? AND date = ?", key
                )
                columns = [d[0] for d in cur.description]
                tables[table] = pl.DataFrame(
                    cur.fetchall(), schema=columns, orient="row", infer_schema_length=None
                )
            return dict(zip(names, row, strict=True)), tables

    def days(self, wait: float = READ_RETRY_SECONDS) -> set[tuple[str, str]]:
        """Every tenant-day the warehouse holds (a `daily` row)."""
        with self.maybe_reader(wait) as con:
            if con is None:
                return set()
            rows = con.execute("SELECT tenant, CAST(date AS VARCHAR) FROM daily").fetchall()
        return {(t, d) for t, d in rows}

    def held(
        self, keys: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str, str], int]]:
        """Which of these tenant-days the warehouse holds (a `daily` row), and the last line of each
        source it holds of them (`absorbed`: days written straight to it, days/direct.py)."""
        if not keys:
            return set(), {}
        frame = _keys_frame(keys)
        with self.maybe_reader(wait) as con:
            if con is None:
                return set(), {}
            con.register("wanted_keys", ArrowStream(frame))
            present = con.execute(
                "SELECT tenant, CAST(date AS VARCHAR) FROM daily SEMI JOIN wanted_keys USING (tenant, date)"
            ).fetchall()
            marks: list[tuple[str, str, str, int]] = []
            if has_table(con, tables.ABSORBED):
                marks = con.execute(
                    "SELECT tenant, CAST(date AS VARCHAR), source, line FROM absorbed "
                    "SEMI JOIN wanted_keys USING (tenant, date)"
                ).fetchall()
            con.unregister("wanted_keys")
        return {(t, d) for t, d in present}, {(t, d, s): int(n) for t, d, s, n in marks}

    def rows_of(
        self, keys: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS
    ) -> dict[str, pl.DataFrame]:
        """Every table's rows of these tenant-days (`date` a string), `absorbed` included."""
        import polars as pl

        frame = _keys_frame(keys)
        out: dict[str, pl.DataFrame] = {}
        with self.maybe_reader(wait) as con:
            if con is None:
                return out
            con.register("wanted_keys", ArrowStream(frame))
            present = table_columns(con)
            for table in WRITTEN:
                if table not in present:
                    continue
                cur = con.execute(
                    f"SELECT * REPLACE (CAST(date AS VARCHAR) AS date) FROM {table} "
                    "SEMI JOIN wanted_keys USING (tenant, date)"
                )
                columns = [d[0] for d in cur.description]
                out[table] = pl.DataFrame(
                    cur.fetchall(), schema=columns, orient="row", infer_schema_length=None
                )
            con.unregister("wanted_keys")
        return out

    @contextmanager
    def maybe_reader(self, wait: float = READ_RETRY_SECONDS) -> Iterator[duckdb.DuckDBPyConnection | None]:
        """Like `reader`, but yields None when nothing has been flushed yet (no file, no tables)."""
        if not self.exists():
            yield None
            return
        with self.reader(wait) as con:
            yield con if self._version(con) == SCHEMA_VERSION else None

    @contextmanager
    def reader(self, wait: float = READ_RETRY_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, waiting out a flush in progress rather than failing."""
        with self._connect(read_only=True, wait=wait) as con:
            yield con


Warehouse = LocalWarehouse  # the name every caller used before the interface (base.Warehouse)


@dataclass
class Audit:
    counts: dict[str, int] = field(default_factory=dict)
    days: set[tuple[str, str]] = field(default_factory=set)
    values: list[tuple[str, str, list[bytes]]] = field(default_factory=list)


def _keys_frame(keys: list[tuple[str, str]]) -> pl.DataFrame:
    """(tenant, date) pairs as a frame with a date column, to join in DuckDB."""
    import polars as pl

    frame = pl.DataFrame(keys, schema={"tenant": pl.String, "date": pl.String}, orient="row")
    return frame.with_columns(pl.col("date").str.to_date())


def _migrate_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild in place, each in one transaction and keeping every row, a table of an older
    warehouse that lacks a key column added since (tables.NEWER_KEYS: the hour's UTC offset; its
    rows get the column's default) or has a PRIMARY KEY (none now: tables.duckdb_ddl says why)."""
    here = "schema_name = 'main' AND database_name = current_database()"
    keyed = {
        row[0]
        for row in con.execute(
            f"SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' AND {here}"
        ).fetchall()
    }
    columns = table_columns(con)
    for table in tables.TABLES:
        name = table.warehouse_name
        if name not in columns:
            continue
        defaults = tables.newer_key_defaults(table, columns[name])
        if name not in keyed and not defaults:
            continue
        old = f"{name}_before_migration"
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"ALTER TABLE {name} RENAME TO {old}")
            con.execute(tables.duckdb_ddl(table))
            con.execute(f"INSERT INTO {name} BY NAME SELECT *{defaults} FROM {old}")
            con.execute(f"DROP TABLE {old}")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise


def table_columns(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> dict[str, set[str]]:
    """Each table of a database's main schema (the connection's own, or an attached `catalog`'s)
    and its columns, in one question: older warehouses lack NEWER_TABLES and NEWER_KEYS columns."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main'"
        " AND database_name = coalesce($catalog, current_database())",
        {"catalog": catalog},
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for name, column in rows:
        columns.setdefault(name, set()).add(column)
    return columns


def has_table(con: duckdb.DuckDBPyConnection, table: str, catalog: str | None = None) -> bool:
    """Whether the (attached `catalog`'s) main schema has `table`: older warehouses lack NEWER_TABLES."""
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = $table"
        " AND ($catalog IS NULL OR database_name = $catalog)",
        {"table": table, "catalog": catalog},
    ).fetchall()  # to its end: see `_version`
    return bool(row and row[0][0])


def rewrite_warehouse(path: Path, erased: list[tuple[str, str]], wait: float = READ_RETRY_SECONDS) -> None:
    """A new warehouse file holding every row except the erased tenant-days', renamed over the old.

    The gate keeps flushes out and the old file is attached read-write, so no other process
    writes meanwhile; readers retry until the rename (an old one finishes on the old file)."""
    import polars as pl

    tmp = path.with_name(path.name + REWRITE_SUFFIX)
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)  # a rewrite cut short
    if not path.exists():
        return
    keys = pl.DataFrame(erased, schema=["tenant", "date"], orient="row").with_columns(
        pl.col("date").str.to_date()
    )
    with IN_PROCESS, gate(path, wait, create=True):
        con = duckdb.connect(str(tmp))
        try:
            quoted = str(path).replace("'", "''")
            while_locked(path, wait, lambda: con.execute(f"ATTACH '{quoted}' AS old"))
            try:
                row = con.execute("SELECT max(version) FROM old.schema_version").fetchone()
                current = row is not None and row[0] == SCHEMA_VERSION
            except duckdb.CatalogException:
                current = False
            if current:  # an older layout is dropped anyway (rebuilt from the DO files on flush)
                con.execute(_SCHEMA)
                con.register("erased_keys", keys)
                con.execute("INSERT INTO schema_version SELECT * FROM old.schema_version")
                old_columns = table_columns(con, "old")
                for each in tables.TABLES:
                    table = each.warehouse_name
                    if table in NEWER_TABLES and table not in old_columns:
                        continue
                    # A key column the old file lacks (not yet migrated by a flush) takes its default.
                    defaults = tables.newer_key_defaults(each, old_columns.get(table, set()))
                    con.execute(
                        f"""INSERT INTO main.{table} BY NAME SELECT *{defaults} FROM old.{table}
                            WHERE (tenant, date) NOT IN (SELECT (tenant, date) FROM erased_keys)"""
                    )
                if tables.ABSORBED in old_columns:  # the lines of days written straight to it
                    con.execute(
                        f"""INSERT INTO main.{tables.ABSORBED} BY NAME SELECT * FROM old.{tables.ABSORBED}
                            WHERE (tenant, date) NOT IN (SELECT (tenant, date) FROM erased_keys)"""
                    )
            con.execute("DETACH old")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
        os.replace(tmp, path)
        storage.fsync_dir(path.parent)
