"""The shared warehouse: one PostgreSQL database that every ingest host flushes into (psycopg 3).

The same tables as the local DuckDB file (core/tables.py: `postgres_tables`), in the schema
`rings`, each with an index on (tenant, date) and `tenant` first, so Citus can distribute them by
tenant. A flush keeps its meaning: per chunk of tenant-days, one transaction that takes a lock per
tenant (transaction-scoped advisory locks, in one order), then per table a DELETE of the chunk's
tenant-days and a COPY of their rows; a serialization failure or deadlock (a stricter default
isolation, two writers of one tenant) is retried. Hosts own disjoint tenants, so their flushes
never wait for each other; readers see a chunk's tenant-days before or after, never half.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rings_cli.core import tables
from rings_cli.core.errors import DamagedStateError, RingsError, StateLockedError

if TYPE_CHECKING:
    import polars as pl
    import psycopg

SCHEMA = "rings"
SCHEMA_VERSION = 2  # the DuckDB file's too: one layout of the tables
TABLES = tables.WAREHOUSE_TABLES
WRITTEN = (*TABLES, tables.ABSORBED)
_KEYS = {t.warehouse_name: tables.warehouse_keys(t) for t in tables.TABLES} | {
    tables.ABSORBED: tables.ABSORBED_KEYS
}
RETRIES = 8  # serialization failures and deadlocks a chunk is tried again after
INIT = "run `rings warehouse init` (as the database's owner) to create Rings' tables"


def schema_sql() -> list[str]:
    """Every statement `rings warehouse init` runs (idempotent)."""
    out = [
        f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_version (version integer NOT NULL)",
        # When each ingest host last committed a flush: what `as_of` says of the shared part.
        f"CREATE TABLE IF NOT EXISTS {SCHEMA}.flushes (host text PRIMARY KEY, at timestamptz NOT NULL)",
    ]
    for name, ddl in tables.postgres_tables().items():
        out.append(ddl.replace(f"EXISTS {name} (", f"EXISTS {SCHEMA}.{name} (", 1))
        out.append(f"CREATE INDEX IF NOT EXISTS {name}_tenant_date ON {SCHEMA}.{name} (tenant, date)")
    out.append(
        f"INSERT INTO {SCHEMA}.schema_version SELECT {SCHEMA_VERSION} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.schema_version)"
    )
    return out


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection with Rings' schema first in its search path, dates as YYYY-MM-DD and JSON
    columns as their text; a failure to connect is one RingsError line."""
    import psycopg
    from psycopg.types.string import TextLoader

    try:
        con = psycopg.connect(dsn, autocommit=True, connect_timeout=10, application_name="rings")
    except psycopg.Error as e:
        raise RingsError(f"cannot connect to the PostgreSQL warehouse: {_first(e)}") from e
    con.adapters.register_loader("json", TextLoader)
    con.execute(f"SET search_path = {SCHEMA}; SET datestyle = 'ISO, YMD'; SET timezone = 'UTC'")
    con.autocommit = autocommit
    return con


def _first(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


@dataclass
class Audit:
    counts: dict[str, int] = field(default_factory=dict)
    days: set[tuple[str, str]] = field(default_factory=set)
    values: list[tuple[str, str, list[bytes]]] = field(default_factory=list)


class PostgresWarehouse:
    """The warehouse in a PostgreSQL database (rings.toml `[warehouse] kind = "postgres"`)."""

    kind = "postgres"

    def __init__(self, dsn: str, host: str = "localhost") -> None:
        self.dsn = dsn
        self.host = host  # this writer's name in `flushes`
        self._checked = False  # the schema was found current by this object

    def describe(self) -> str:
        from psycopg import conninfo

        parts = conninfo.conninfo_to_dict(self.dsn)
        shown = " ".join(f"{k}={v}" for k, v in parts.items() if k in ("dbname", "host", "port", "user"))
        return f"PostgreSQL warehouse ({shown or 'default connection'})"

    @contextmanager
    def session(self, wait: float = 30.0, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A connection whose lock waits end after `wait` seconds (a flush behind an erase's table
        rewrite: follow mode tries again at its next interval, as for a busy local file); any
        database error in the block is one RingsError line."""
        import psycopg

        con = connect(self.dsn, autocommit)
        try:
            con.execute(f"SET lock_timeout = {max(1, int(wait * 1000))}")
            if not autocommit:
                con.commit()
            yield con
        except psycopg.errors.LockNotAvailable as e:
            raise StateLockedError(f"{self.describe()} stayed busy (a lock) for {wait:.0f}s") from e
        except psycopg.errors.UndefinedTable as e:
            raise RingsError(f"{self.describe()} has no Rings tables: {INIT}") from e
        except psycopg.errors.InsufficientPrivilege as e:
            raise RingsError(f"{self.describe()}: {_first(e)}") from e
        except psycopg.errors.DiskFull as e:
            raise RingsError(f"{self.describe()}: disk full on the database server; nothing is lost") from e
        except psycopg.Error as e:
            raise RingsError(f"{self.describe()}: {_first(e)}") from e
        finally:
            con.close()

    # --- schema ------------------------------------------------------------------------------------

    def init(self) -> None:
        """`rings warehouse init`: the schema, tables and indexes (idempotent)."""
        import psycopg

        with self.session(autocommit=False) as con, con.transaction():
            con.execute("SELECT pg_advisory_xact_lock(hashtextextended('rings schema', 0))")
            try:
                for statement in schema_sql():
                    con.execute(statement)
            except psycopg.errors.InsufficientPrivilege as e:
                raise RingsError(f"{self.describe()}: {_first(e)}; {INIT}") from e
        self._checked = True

    def _version(self, con: psycopg.Connection[Any]) -> int | None:
        row = con.execute("SELECT to_regclass('rings.schema_version') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return None
        got = con.execute("SELECT max(version) FROM rings.schema_version").fetchone()
        return got[0] if got else None

    def exists(self) -> bool:
        return True

    def is_current(self, wait: float = 30.0) -> bool:
        if self._checked:
            return True
        with self.session(wait) as con:
            current = self._version(con) == SCHEMA_VERSION
            con.rollback()
        if not current:
            self.init()  # a new database: made on the first flush when the role may (else: INIT)
        self._checked = True
        return current

    # --- flush -------------------------------------------------------------------------------------

    def flush(
        self,
        chunks: Iterable[dict[str, list[pl.DataFrame]]],
        wait: float = 30.0,
        on_commit: Callable[[], None] | None = None,
        new: bool = False,
    ) -> tuple[int, int]:
        """Replace the rows of every tenant-day in `chunks` (see the module): one transaction per
        chunk, retried whole on a serialization failure or deadlock. `new` changes nothing here
        (a DELETE of rows that are not there is cheap, and another host may have written them)."""
        import psycopg

        self.is_current(wait)
        written = statements = 0
        with self.session(wait) as con:
            for snapshots in chunks:
                keys, copies = _prepared(snapshots)
                for attempt in range(RETRIES + 1):
                    try:
                        with con.transaction():
                            statements += self._write(con, keys, copies)
                        break
                    except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
                        if attempt == RETRIES:
                            raise
                        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                written += sum(n for _, _, _, n in copies)
                if on_commit is not None:
                    on_commit()
        return written, statements

    def _write(
        self,
        con: psycopg.Connection[Any],
        keys: tuple[list[str], list[str]],
        copies: list[tuple[str, str, bytes, int]],
    ) -> int:
        tenants, dates = keys
        # One writer per tenant at a time, locks taken in one order (no deadlock between hosts).
        con.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t, 7) AS k "
            "FROM unnest(%s::text[]) AS t ORDER BY 1) AS s",
            [sorted(set(tenants))],
        )
        statements = 0
        for table in WRITTEN:
            con.execute(
                f"DELETE FROM {table} WHERE (tenant, date) IN (SELECT * FROM unnest(%s::text[], %s::date[]))",
                [tenants, dates],
            )
            statements += 1
        for table, columns, data, _ in copies:
            with con.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(data)
            statements += 1
        con.execute(
            "INSERT INTO flushes VALUES (%s, now()) ON CONFLICT (host) DO UPDATE SET at = excluded.at",
            [self.host],
        )
        return statements

    # --- reads -------------------------------------------------------------------------------------

    def days(self, wait: float = 30.0) -> set[tuple[str, str]]:
        if not self._has_schema(wait):
            return set()
        with self.session(wait) as con:
            rows = con.execute("SELECT tenant, date::text FROM daily").fetchall()
        return {(t, d) for t, d in rows}

    def _has_schema(self, wait: float) -> bool:
        if self._checked:
            return True
        with self.session(wait) as con:
            return self._version(con) == SCHEMA_VERSION

    def held(
        self, keys: list[tuple[str, str]], wait: float = 30.0
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str, str], int]]:
        if not keys or not self._has_schema(wait):
            return set(), {}
        pairs = _unnest(keys)
        with self.session(wait) as con:
            present = con.execute(
                "SELECT tenant, date::text FROM daily WHERE (tenant, date) IN "
                "(SELECT * FROM unnest(%s::text[], %s::date[]))",
                pairs,
            ).fetchall()
            marks = con.execute(
                "SELECT tenant, date::text, source, line FROM absorbed WHERE (tenant, date) IN "
                "(SELECT * FROM unnest(%s::text[], %s::date[]))",
                pairs,
            ).fetchall()
        return {(t, d) for t, d in present}, {(t, d, s): int(n) for t, d, s, n in marks}

    def rows_of(self, keys: list[tuple[str, str]], wait: float = 30.0) -> dict[str, pl.DataFrame]:
        out: dict[str, pl.DataFrame] = {}
        if not keys or not self._has_schema(wait):
            return out
        pairs = _unnest(keys)
        with self.session(wait) as con:
            for table in WRITTEN:
                cur = con.execute(
                    f"SELECT * FROM {table} WHERE (tenant, date) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::date[]))",
                    pairs,
                )
                out[table] = _frame(cur, text_date=True)
        return out

    def tenant_day(self, tenant: str, date: str) -> tuple[dict[str, Any], dict[str, pl.DataFrame]] | None:
        if not self._has_schema(30.0):
            return None
        with self.session() as con:
            cur = con.execute("SELECT * FROM daily WHERE tenant = %s AND date = %s::date", [tenant, date])
            row = cur.fetchone()
            if row is None:
                return None
            names = [d.name for d in cur.description or []]
            found = {}
            for table in TABLES[1:]:
                cur = con.execute(
                    f"SELECT * FROM {table} WHERE tenant = %s AND date = %s::date", [tenant, date]
                )
                found[table] = _frame(cur).drop("tenant", "date")
            return dict(zip(names, row, strict=True)), found

    def freshness(self, wait: float = 30.0) -> dict[str, str]:
        if not self._has_schema(wait):
            return {}
        with self.session(wait) as con:
            rows = con.execute("SELECT host, at FROM flushes ORDER BY host").fetchall()
        return {h: at.astimezone(dt.UTC).isoformat(timespec="seconds") for h, at in rows}

    def verify(self, wait: float = 30.0) -> None:
        """Every table there and readable, no row twice (what a primary key would refuse)."""
        with self.session(wait) as con:
            if self._version(con) != SCHEMA_VERSION:
                raise DamagedStateError(Path(self.describe()), f"no Rings schema: {INIT}")
            for table in WRITTEN:
                if con.execute("SELECT to_regclass(%s)", [f"{SCHEMA}.{table}"]).fetchone() == (None,):
                    raise DamagedStateError(Path(self.describe()), f"warehouse lacks table {table}: {INIT}")
                keys = ", ".join(_KEYS[table])
                twice = con.execute(
                    f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {keys} HAVING count(*) > 1) AS t"
                ).fetchone()
                if twice and twice[0]:
                    raise DamagedStateError(
                        Path(self.describe()), f"warehouse has {twice[0]:,} rows of {table} twice"
                    )

    def stored_rows(self, wait: float = 30.0, tenants: list[str] | None = None) -> pl.DataFrame:
        import polars as pl

        empty = pl.DataFrame(
            schema={"tenant": pl.String, "date": pl.String, "table": pl.String, "rows": pl.Int64}
        )
        if not self._has_schema(wait):
            return empty
        where = "WHERE tenant = ANY(%(tenants)s)" if tenants is not None else ""
        union = " UNION ALL ".join(
            f"SELECT tenant, date::text, '{t}', count(*) FROM {t} {where} GROUP BY tenant, date"
            for t in TABLES
        )
        with self.session(wait) as con:
            rows = con.execute(union, {"tenants": tenants} if tenants is not None else None).fetchall()
        return pl.DataFrame(rows, schema=empty.schema, orient="row") if rows else empty

    # --- erase -------------------------------------------------------------------------------------

    def erase(self, days: list[tuple[str, str]], wait: float = 30.0) -> None:
        """Delete the tenant-days in one transaction, then rewrite every table that held any of
        them (VACUUM FULL: a new file, the old one unlinked) so no byte of them stays in a table
        or index file, and refresh the planner's statistics, whose samples may have held their
        values (pg_statistic is rewritten too when this role owns the database). The write-ahead
        log keeps them until PostgreSQL recycles its segments (docs/warehouse.md)."""
        if not days or not self._has_schema(wait):
            return
        pairs = _unnest(days)
        touched: list[str] = []
        with self.session(wait) as con, con.transaction():
            con.execute(
                "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(t, 7) AS k "
                "FROM unnest(%s::text[]) AS t ORDER BY 1) AS s",
                [sorted({t for t, _ in days})],
            )
            for table in WRITTEN:
                cur = con.execute(
                    f"DELETE FROM {table} WHERE (tenant, date) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::date[]))",
                    pairs,
                )
                if cur.rowcount:
                    touched.append(table)
        self.rewrite(touched, wait)

    def drop_copies(self, wait: float = 30.0) -> int:
        """`rings check --repair`: of rows that are there twice, whole (a double write), one stays.
        Rows that share a key with different numbers stay for their owner host's next flush."""
        dropped = 0
        with self.session(wait) as con, con.transaction():
            for table in WRITTEN:
                same = " AND ".join(f"a.{k} = b.{k}" for k in _KEYS[table])
                cur = con.execute(
                    f"DELETE FROM {table} AS a USING {table} AS b "
                    f"WHERE {same} AND a.ctid > b.ctid AND a::text = b::text"
                )
                dropped += max(cur.rowcount, 0)
        return dropped

    def analyze(self, wait: float = 30.0) -> None:
        """Fresh planner statistics for every table (autovacuum's job, done now after a bulk load)."""
        with self.session(wait, autocommit=True) as con:
            for table in WRITTEN:
                con.execute(f"ANALYZE {SCHEMA}.{table}")

    def rewrite(self, touched: list[str], wait: float = 30.0) -> None:
        """VACUUM FULL and ANALYZE the tables, then pg_statistic (a warning when not allowed)."""
        import psycopg

        with self.session(wait, autocommit=True) as con:
            for table in touched:
                con.execute(f"VACUUM (FULL, ANALYZE) {SCHEMA}.{table}")
            if touched:
                with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                    # Only the database's owner may: its old samples are dead rows until then.
                    con.execute("VACUUM FULL pg_catalog.pg_statistic")

    # --- audit and export -------------------------------------------------------------------------

    def audit(self, wait: float = 30.0) -> Audit | None:
        if not self._has_schema(wait):
            return None
        out = Audit()
        with self.session(wait) as con:
            names = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
                    [SCHEMA],
                ).fetchall()
            ]
            for table in names:
                row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                out.counts[table] = int(row[0]) if row else 0
            rows = con.execute("SELECT DISTINCT tenant, date::text FROM daily").fetchall()
            out.days = {(t, d) for t, d in rows}
            columns = con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND data_type IN ('text', 'json', 'character varying', 'bytea') ORDER BY 1, 2",
                [SCHEMA],
            ).fetchall()
            for table, column in columns:
                values = con.execute(
                    f'SELECT DISTINCT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL'
                ).fetchall()
                out.values.append((table, column, [v[0].encode() for v in values]))
        return out

    def export_parquet(self, target: Any, wait: float = 30.0) -> dict[str, int]:
        """Each table, whole, as `target/<table>.parquet`: copied out as CSV into a temporary file
        beside it, then streamed into Parquet by Polars with the table's types (memory stays
        bounded however big the table). One snapshot for every table."""
        import psycopg

        counts: dict[str, int] = {}
        folder = Path(target)
        with self.session(wait) as con:
            con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            for table in WRITTEN:
                part = folder / f".{table}.csv.part"
                try:
                    with (
                        part.open("wb") as out,
                        con.cursor().copy(
                            f"COPY (SELECT * FROM {table} ORDER BY tenant, date) "
                            "TO STDOUT (FORMAT csv, HEADER)"
                        ) as copy,
                    ):
                        for data in copy:
                            out.write(data)
                    counts[table] = _csv_to_parquet(part, folder / f"{table}.parquet", table)
                finally:
                    part.unlink(missing_ok=True)
            con.rollback()
        return counts

    def stored_tenants(self, wait: float = 30.0) -> set[str]:
        if not self._has_schema(wait):
            return set()
        with self.session(wait) as con:
            return {r[0] for r in con.execute("SELECT DISTINCT tenant FROM daily").fetchall()}


def _prepared(
    snapshots: dict[str, list[pl.DataFrame]],
) -> tuple[tuple[list[str], list[str]], list[tuple[str, str, bytes, int]]]:
    """A chunk's tenant-days (two arrays, for unnest) and per table its rows as CSV for COPY,
    made once (a retried transaction sends the same bytes); a row twice refuses the chunk."""
    import polars as pl

    frames = [f.select("tenant", pl.col("date").cast(pl.String)) for fs in snapshots.values() for f in fs]
    keys = (
        pl.concat(frames).unique()
        if frames
        else pl.DataFrame(schema={"tenant": pl.String, "date": pl.String})
    )
    copies = []
    for table in WRITTEN:
        parts = [f for f in snapshots.get(table, []) if f.height]
        if not parts:
            continue
        rows = pl.concat(parts, how="vertical_relaxed")
        rows = rows.with_columns(pl.col(n).cast(pl.String) for n, d in rows.schema.items() if d == pl.Null)
        if rows.select(_KEYS[table]).is_duplicated().any():
            raise RingsError(f"a flush of {table} has a row twice; its chunk was not written")
        data = rows.write_csv(include_header=False).encode()
        copies.append((table, ", ".join(rows.columns), data, rows.height))
    return (keys.get_column("tenant").to_list(), keys.get_column("date").to_list()), copies


def _unnest(keys: list[tuple[str, str]]) -> list[list[str]]:
    return [[t for t, _ in keys], [d for _, d in keys]]


def _frame(cur: psycopg.Cursor[Any], text_date: bool = False) -> pl.DataFrame:
    import polars as pl

    columns = [d.name for d in cur.description or []]
    rows = cur.fetchall()
    frame = pl.DataFrame(rows, schema=columns, orient="row", infer_schema_length=None)
    if text_date and "date" in frame.columns:
        frame = frame.with_columns(pl.col("date").cast(pl.String))
    return frame


def _csv_to_parquet(source: Path, target: Path, table: str) -> int:
    """A table's CSV (COPY's, with its header) as Parquet, typed as the warehouse types it."""
    import polars as pl

    types = {"bigint": pl.Int64, "integer": pl.Int32, "double precision": pl.Float64}
    schema: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for column in tables.postgres_tables()[table].split("(", 1)[1].rsplit(")", 1)[0].split(", "):
        name, kind = column.split(" ", 1)
        kind = kinds[name] = kind.removesuffix(" NOT NULL")
        schema[name] = pl.Date if kind == "date" else types.get(kind, pl.String)
    frame = pl.scan_csv(source, schema=schema)  # NULL unquoted, an empty text "": told apart
    flags = [n for n, k in kinds.items() if k == "boolean"]  # PostgreSQL writes them t and f
    frame = frame.with_columns((pl.col(n) == "t").alias(n) for n in flags)
    frame.sink_parquet(target)
    return pl.scan_parquet(target).select(pl.len()).collect().item()
