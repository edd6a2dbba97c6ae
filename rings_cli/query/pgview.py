"""The read path over the shared PostgreSQL warehouse: `queries/*.sql` run where the data is.

The report's SQL is written once, in a dialect both engines speak (queries/: casts, `INTERVAL '1
day'`, an alias on every subquery); only its parameters differ (`$tenant` in DuckDB, a typed
`%(tenant)s` here), and `list_contains` becomes `= ANY`. Text columns compare byte by byte
(COLLATE "C"), integer sums come back as Decimal (report._clean makes them ints), rates are divided
as doubles: the answers are DuckDB's, to the last digit a report shows (tests/test_postgres.py).

The host's own open tenant-days (dirty in its catalog) are added as in the local read path: their
rows are copied into temporary tables, and temporary views named `daily`, `hourly`, ... (found
before Rings' schema: PostgreSQL searches `pg_temp` first) show the warehouse's rows less those
tenant-days, plus the live ones. Everything happens in one REPEATABLE READ transaction that is
rolled back: one snapshot for every section, nothing left behind.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rings_cli.core import tables
from rings_cli.core.errors import RingsError
from rings_cli.query.pgconn import connection
from rings_cli.warehouse.postgres import SCHEMA, connect

if TYPE_CHECKING:
    import polars as pl
    import psycopg

# Each report parameter's type in PostgreSQL (DuckDB infers them; PostgreSQL cannot from `$x IS NULL`).
PARAM_TYPES = {"tenant": "text", "start": "date", "end": "date", "limit": "bigint"}
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)\b")
_CONTAINS = re.compile(r"list_contains\(\$([a-z_][a-z0-9_]*), ([a-z_.]+)\)")


def translate(sql: str) -> str:
    """DuckDB-dialect report SQL to psycopg's: typed named parameters, `= ANY` for lists."""
    sql = sql.replace("%", "%%")
    sql = _CONTAINS.sub(lambda m: f"{m[2]} = ANY(CAST(%({m[1]})s AS text[]))", sql)
    return _PARAM.sub(lambda m: f"CAST(%({m[1]})s AS {PARAM_TYPES.get(m[1], 'text')})", sql)


class View:
    """What report.py runs its queries on (DuckDB's `execute(sql, params)` and `cursor()`), over
    one psycopg connection; a lock makes threads sharing it take turns. With no temporary tables
    (no live tenant-day), `cursor()` opens a second connection on the same snapshot (exported and
    imported), so report.py's two query threads keep two server processes busy."""

    dialect = "postgres"

    def __init__(
        self,
        con: psycopg.Connection[Any],
        flushes: dict[str, dt.datetime],
        dsn: str = "",
        snapshot: str | None = None,
    ) -> None:
        self.con = con
        self.flushes = flushes  # each ingest host's last flush
        self.dsn = dsn
        self.snapshot = snapshot  # pg_export_snapshot() of `con`'s transaction, to share
        self._lock = threading.Lock()
        self._owned = False  # a second connection, closed on __exit__

    def execute(self, sql: str, params: dict[str, Any] | list[Any] | None = None) -> psycopg.Cursor[Any]:
        with self._lock:
            cur = self.con.cursor()
            cur.execute(translate(sql), params or None)
            return cur

    def cursor(self) -> View:
        if self.snapshot is None:
            return self
        import psycopg

        con = connection(self.dsn)
        con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            con.execute("SET TRANSACTION SNAPSHOT %s", [self.snapshot])
        except psycopg.Error:  # the snapshot cannot be shared: take turns on one connection
            con.close()
            return self
        other = View(con, self.flushes)
        other._owned = True
        return other

    def __enter__(self) -> View:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            try:
                self.con.rollback()
            finally:
                self.con.close()


@contextmanager
def postgres_view(
    dsn: str, live: dict[str, list[pl.DataFrame]], keys: list[tuple[str, str]], where: str | None = None
) -> Iterator[View]:
    """A View of the shared warehouse, with `keys` (tenant-days read from this host's DO files)
    replaced by `live`'s rows; with `where` (readpath.only_these), only the rows it keeps."""
    import psycopg

    con = connection(dsn)  # made ahead by `rings report` (pgconn.py)
    con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        row = con.execute("SELECT to_regclass('rings.flushes') IS NOT NULL").fetchone()
        made = bool(row and row[0])
        flushes = dict(con.execute("SELECT host, at FROM flushes").fetchall()) if made else {}
        snapshot = None
        if keys or not made or where is not None:
            _live_tables(con, live, keys, warehouse=made, where=where)
        else:
            got = con.execute("SELECT pg_export_snapshot()").fetchone()
            snapshot = str(got[0]) if got else None
        yield View(con, flushes, dsn, snapshot)
    finally:
        try:
            con.rollback()
        finally:
            con.close()


def _live_tables(
    con: psycopg.Connection[Any],
    live: dict[str, list[pl.DataFrame]],
    keys: list[tuple[str, str]],
    warehouse: bool,
    where: str | None = None,
) -> None:
    """Temporary tables of the live rows and views over both (see the module)."""
    import polars as pl

    for name, ddl in tables.postgres_tables().items():
        if name == tables.ABSORBED:
            continue
        con.execute(
            ddl.replace(f"CREATE TABLE IF NOT EXISTS {name} (", f"CREATE TEMP TABLE live_{name} (", 1)
        )
        frames = [f for f in live.get(name, []) if f.height]
        if frames:
            rows = pl.concat(frames, how="vertical_relaxed")
            rows = rows.with_columns(
                pl.col(n).cast(pl.String) for n, d in rows.schema.items() if d == pl.Null
            )
            with con.cursor().copy(
                f"COPY live_{name} ({', '.join(rows.columns)}) FROM STDIN (FORMAT csv)"
            ) as copy:
                copy.write(rows.write_csv(include_header=False).encode())
    con.execute('CREATE TEMP TABLE live_keys (tenant text COLLATE "C", date date)')
    if keys:
        with con.cursor().copy("COPY live_keys (tenant, date) FROM STDIN") as copy:
            for key in keys:
                copy.write_row(key)
    also = f" AND {where}" if where is not None else ""
    kept = f" WHERE {where}" if where is not None else ""
    for name in tables.WAREHOUSE_TABLES:
        if warehouse:
            sql = (
                f"CREATE TEMP VIEW {name} AS SELECT * FROM {SCHEMA}.{name} AS w WHERE NOT EXISTS "
                f"(SELECT 1 FROM live_keys AS k WHERE k.tenant = w.tenant AND k.date = w.date){also} "
                f"UNION ALL SELECT * FROM live_{name}{kept}"
            )
        else:
            sql = f"CREATE TEMP VIEW {name} AS SELECT * FROM live_{name}{kept}"
        con.execute(sql)


_LAST: dict[str, tuple[float, object]] = {}  # dsn -> (when asked, the newest flush then)
ASK_EVERY = 1.0  # seconds between questions to the database from a watcher (rings live, serve)


def last_flush(dsn: str) -> object:
    """The newest flush of any host into the shared warehouse (asked at most once a second): what
    `rings live` and `rings serve` watch, beside their own files, to redraw when another host's
    tenants change."""
    now = time.monotonic()
    hit = _LAST.get(dsn)
    if hit is not None and now - hit[0] < ASK_EVERY:
        return hit[1]
    import psycopg

    value: object = None
    try:
        con = connect(dsn, autocommit=True)
        try:
            row = con.execute("SELECT to_regclass('rings.flushes') IS NOT NULL").fetchone()
            if row and row[0]:
                value = con.execute("SELECT max(at), count(*) FROM flushes").fetchone()
        finally:
            con.close()
    except (RingsError, psycopg.Error):
        value = "unreachable"
    _LAST[dsn] = (now, value)
    return value
