"""Every aggregate table, defined once: its key columns, its additive columns and their types.

A DO file (SQLite) holds one tenant-day's rows of each table; the warehouse (DuckDB) holds the
same tables with `tenant` and `date` in front. Everything that names their columns is derived from
`TABLES` here: the SQLite DDL (`sqlite_ddl`, dofile.py), the DuckDB DDL (`duckdb_ddl`,
warehouse.py and the read path), the snapshot queries a flush and a reader run on a DO file
(`SNAPSHOT_QUERIES`), the add-on-conflict upserts of a merge (`upsert_sql`), the per-batch counts
(`count_columns`, aggregate.py) and the visitor-metric tables of sessions.py (`SESSION_TABLES`).

Each value column says where its numbers come from:
- `count(...)`: counted from a batch's lines (aggregate.py). `recipe` is "rows" (one per line),
  "sum:COLUMN" (sum of a classified column, e.g. `bytes`, `is_bot`) or "event:NAME" (lines of that
  event). The table's `rows` says which lines: "requests" (all) or "page_views".
- `visitor(...)`: a visitor metric (uniques, sessions, time on page), computed from the stored
  page views by sessions.py and merged as a delta.
- `summary(...)`: written whole at finalization (not additive).

Adding a table is one entry in `TABLES`, e.g. requests per browser:

    Table("browsers", keys=(text("browser"),), columns=(count("requests"),), rows="requests")

gives the SQLite table (added to an existing DO file when it is next opened for a merge; a DO
file not merged since lacks it, so its snapshot must then read the table as empty), the warehouse
table (created by the next flush; tenant-days flushed before have no rows in it until flushed
again), the snapshot, the flush, the read path and erase. The batch must carry the key column
(here `browser`, a classified column). A `visitor(...)` column also needs its metric in
sessions.visitor_metrics (and its key in the stored page views, sessions.VIEW_SCHEMA). Tables are
listed in warehouse order; `day` stays first.

This module imports nothing heavy (no Polars), so that `rings --help` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

INT, REAL, TEXT, JSON = "int", "real", "text", "json"

_SQLITE = {INT: "INTEGER", REAL: "REAL", TEXT: "TEXT", JSON: "TEXT"}
_DUCKDB = {INT: "BIGINT", REAL: "DOUBLE", TEXT: "VARCHAR", JSON: "JSON"}
_DUCKDB_KEY = {INT: "INTEGER", TEXT: "VARCHAR"}  # hour and status stay 32-bit in the warehouse
# PostgreSQL (warehouse/postgres.py): text compares byte by byte (COLLATE "C"), as in DuckDB, so
# `ORDER BY path` lists rows in the same order on both; JSON kept as written (json, not jsonb).
_POSTGRES = {
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "VARCHAR": 'text COLLATE "C"',
    "JSON": "json",
    "BOOLEAN": "boolean",
    "DATE": "date",
}


@dataclass(frozen=True)
class Column:
    """One column: `kind` is "key", "count", "visitor" or "summary" (see the module docstring)."""

    name: str
    type: str
    kind: str
    recipe: str = ""  # for "count": how a batch computes it
    per_day: bool = False  # an hourly count that the warehouse's `daily` row sums over the day
    default: str = ""  # a key's value in rows written before the key existed (SQL literal)

    @property
    def additive(self) -> bool:
        return self.kind in ("count", "visitor")


def key(name: str, type: str = TEXT, default: str = "") -> Column:
    return Column(name, type, "key", default=default)


def text(name: str) -> Column:
    return key(name, TEXT)


def count(name: str, recipe: str = "rows", per_day: bool = False) -> Column:
    return Column(name, INT, "count", recipe, per_day)


def visitor(name: str, type: str = INT) -> Column:
    return Column(name, type, "visitor")


def summary(name: str, type: str = JSON) -> Column:
    return Column(name, type, "summary")


@dataclass(frozen=True)
class Table:
    """One aggregate table. `rows` picks the lines its counts come from ("requests", "page_views",
    "bots": bot requests, keyed by their `bot_reason`), or "custom" when aggregate.py builds them
    itself (content: page views and events together)."""

    name: str
    keys: tuple[Column, ...]
    columns: tuple[Column, ...]
    rows: str = "requests"
    warehouse: str = ""  # its name in the warehouse, when not `name`
    extra_sql: tuple[str, ...] = field(default=())  # extra SQLite column definitions (the day row's id)

    @property
    def warehouse_name(self) -> str:
        return self.warehouse or self.name

    @property
    def key_names(self) -> list[str]:
        return [c.name for c in self.keys]

    @property
    def names(self) -> list[str]:
        """Every column of the DO file's table, keys first, in table order."""
        return [c.name for c in (*self.keys, *self.columns)]

    def of_kind(self, kind: str) -> list[str]:
        return [c.name for c in self.columns if c.kind == kind]

    @property
    def counts(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "count"]


# Event types (from route rules or app event logs) and the columns they count in.
HOURLY_EVENTS = {
    "post_created": "posts_created",
    "comment": "comments_created",
    "reaction": "reactions_given",
}
CONTENT_EVENTS = {
    "reaction": "reactions",
    "comment": "comments",
    "share": "shares",
    "post_read_complete": "reads_completed",
}

# The one-row `day` table of a DO file; `daily` in the warehouse, with the day's sums of the hourly
# `per_day` counts in front and `finalized` at the end (see warehouse_columns).
DAY = Table(
    "day",
    keys=(),
    columns=(
        visitor("unique_visitors"),
        visitor("sessions"),
        visitor("bounces"),
        visitor("duration_total", REAL),
        summary("top_pages"),  # JSON, written at finalization (the daily summary)
        summary("top_referrers"),  # likewise
    ),
    rows="custom",
    warehouse="daily",
    extra_sql=("id INTEGER PRIMARY KEY CHECK (id = 1)",),
)

TABLES: tuple[Table, ...] = (
    DAY,
    Table(
        "hourly",
        # The tenant's local hour and its UTC offset (minutes east): a 25-hour DST day has two
        # 01:00 rows, one per offset. Rows from before time zones are UTC (offset 0).
        keys=(key("hour", INT), key("utc_offset", INT, default="0")),
        columns=(
            count("requests", per_day=True),
            count("bytes", "sum:bytes", per_day=True),
            count("bot_requests", "sum:is_bot", per_day=True),
            count("page_views", "sum:is_page_view", per_day=True),
            visitor("unique_visitors"),
            visitor("sessions"),  # by the hour the session started
            visitor("bounces"),
            visitor("time_total", REAL),  # time on page of this hour's page views
            visitor("time_count"),
            *(count(col, f"event:{event}") for event, col in HOURLY_EVENTS.items()),
        ),
    ),
    Table("status", keys=(key("status", INT),), columns=(count("requests"),)),  # 0: no status (`-`)
    Table(
        "pages",
        keys=(text("path"),),
        columns=(
            count("views"),
            visitor("unique_views"),
            visitor("entries"),
            visitor("exits"),
            visitor("time_total", REAL),
            visitor("time_count"),
        ),
        rows="page_views",
    ),
    Table("referrers", keys=(text("source"),), columns=(visitor("visits"),), rows="custom"),
    Table(
        "campaigns",
        keys=(text("source"), text("medium"), text("campaign")),
        columns=(visitor("visits"),),
        rows="custom",
    ),
    Table(
        "content",
        keys=(text("post_id"),),
        columns=(
            count("views"),
            visitor("unique_views"),
            *(count(col, f"event:{event}") for event, col in CONTENT_EVENTS.items()),
            visitor("read_time_total", REAL),
            visitor("read_time_count"),
        ),
        rows="custom",
    ),
)

# What visitors use and where they come from (breakdowns.py): per value, requests, page views and
# exact unique visitors (the value is kept with each stored page view, sessions.VIEW_SCHEMA).
BREAKDOWN_TABLES = ("browsers", "os", "devices", "countries")
_BREAKDOWN_KEYS = {
    "browsers": ("browser", "version"),
    "os": ("os",),
    "devices": ("device",),
    "countries": ("country",),
}
# The values each stored page view carries for them (one column each; `views` in DO files).
BREAKDOWN_KEYS = tuple(k for keys in _BREAKDOWN_KEYS.values() for k in keys)
# Tables added after warehouse SCHEMA_VERSION 2 without changing it: an older DO file or warehouse
# gains them in place (dofile._install_schema, warehouse NEWER_TABLES), keeping every row it has.
NEWER_TABLES = (
    *BREAKDOWN_TABLES,
    "not_found",
    "bots",
    "definitions",
    "goals",
    "goal_sources",
    "funnels",
    "times",
    "path_times",
)

TABLES = (
    *TABLES,
    *(
        Table(
            name,
            keys=tuple(text(k) for k in _BREAKDOWN_KEYS[name]),
            columns=(count("requests"), count("page_views", "sum:is_page_view"), visitor("unique_visitors")),
            rows="custom",  # aggregate.py counts them per person (address, agent), then per value
        )
        for name in BREAKDOWN_TABLES
    ),
    # 404 answers per path (aggregate.py: breakdowns.not_found), at most breakdowns.ROW_LIMIT a day.
    Table(
        "not_found", keys=(text("path"),), columns=(count("requests"), count("bot_requests")), rows="custom"
    ),
    # Bot requests by reason (classify.py: crawler, library, referrer spam, outdated browser).
    Table("bots", keys=(text("reason"),), columns=(count("requests"),), rows="bots"),
    # Requests per version of the definitions that counted them (core/definitions.py).
    Table("definitions", keys=(key("version", INT),), columns=(count("requests"),), rows="custom"),
    # Goals and funnels of rings.toml (count/goals.py). A row for every goal configured when the
    # tenant-day was counted (0 completions too): a goal's first row says since when it counts.
    Table("goals", keys=(text("goal"),), columns=(count("completions"), visitor("visitors")), rows="custom"),
    # Converting visitors by the referrer source of the session they first completed the goal in.
    Table("goal_sources", keys=(text("goal"), text("source")), columns=(visitor("visitors"),), rows="custom"),
    # Visitors who reached each step (1-based) of a funnel in one session.
    Table("funnels", keys=(text("funnel"), key("step", INT)), columns=(visitor("visitors"),), rows="custom"),
    # Response times (count/times.py): requests and their summed time (µs) per log-spaced bucket,
    # per hour, and per path for the day's busiest paths.
    Table(
        "times",
        keys=(key("hour", INT), key("utc_offset", INT), key("bucket", INT)),
        columns=(count("requests"), count("total_us")),
        rows="custom",
    ),
    Table(
        "path_times",
        keys=(text("path"), key("bucket", INT)),
        columns=(count("requests"), count("total_us")),
        rows="custom",
    ),
)
GOAL_TABLES = ("goals", "goal_sources", "funnels")

BY_NAME = {t.name: t for t in TABLES}
# Key columns added to a table after it existed: (table, column). An older DO file or warehouse gets
# the table rebuilt in place with the column's default (dofile._install_schema, warehouse).
NEWER_KEYS = (("hourly", "utc_offset"),)


def key_default(table: str, column: str) -> str:
    """The SQL literal a NEWER_KEYS column takes in rows written before it existed."""
    return next(c.default for c in BY_NAME[table].keys if c.name == column)


def newer_key_defaults(table: Table, present: set[str]) -> str:
    """`, <default> AS <column>` for each NEWER_KEYS column of `table` that `present` lacks: what a
    `SELECT *` copy of rows written before the column adds to them."""
    missing = [c for t, c in NEWER_KEYS if t == table.name and c not in present]
    return "".join(f", {key_default(table.name, c)} AS {c}" for c in missing)


WAREHOUSE_TABLES = tuple(t.warehouse_name for t in TABLES)
# Tables whose counts aggregate.py makes from a batch's lines, generically or (custom) itself.
COUNT_TABLES = tuple(t for t in TABLES if t.counts)
# sessions.py: table -> (key columns, additive visitor-metric columns).
SESSION_TABLES: dict[str, tuple[list[str], list[str]]] = {
    t.name: (t.key_names, t.of_kind("visitor")) for t in TABLES if t.of_kind("visitor")
}


def sqlite_ddl(table: Table) -> str:
    """CREATE TABLE for a DO file: additive columns default to 0, so a merge can add to them."""
    lines = list(table.extra_sql)
    single = len(table.keys) == 1
    for c in table.keys:
        sql_type = _SQLITE[c.type]
        default = f" DEFAULT {c.default}" if c.default else ""
        lines.append(
            f"{c.name} {sql_type} PRIMARY KEY" if single else f"{c.name} {sql_type} NOT NULL{default}"
        )
    for c in table.columns:
        if c.additive:
            lines.append(f"{c.name} {_SQLITE[c.type]} NOT NULL DEFAULT 0")
        else:
            lines.append(f"{c.name} {_SQLITE[c.type]}")
    if len(table.keys) > 1:
        lines.append(f"PRIMARY KEY ({', '.join(table.key_names)})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {table.name} (\n  {body}\n)"


def warehouse_columns(table: Table) -> list[tuple[str, str, bool]]:
    """(name, DuckDB type, nullable) of a warehouse table, after tenant and date."""
    if table is DAY:
        hourly = BY_NAME["hourly"]
        rolled = [(c.name, _DUCKDB[c.type], False) for c in hourly.columns if c.per_day]
        own = [(c.name, _DUCKDB[c.type], not c.additive) for c in table.columns]
        return [*rolled, *own, ("finalized", "BOOLEAN", False)]
    keys = [(c.name, _DUCKDB_KEY[c.type], False) for c in table.keys]
    return keys + [(c.name, _DUCKDB[c.type], not c.additive) for c in table.columns]


def duckdb_ddl(table: Table) -> str:
    """CREATE TABLE for the warehouse, without a PRIMARY KEY: a flush replaces whole tenant-days
    (warehouse.py checks each chunk's keys are unique instead), and DuckDB holds a key's index in
    memory for every row of the table while it writes, so an ingest's peak grew with its history."""
    cols = ", ".join(
        f"{name} {type_}{'' if nullable else ' NOT NULL'}"
        for name, type_, nullable in warehouse_columns(table)
    )
    return (
        f"CREATE TABLE IF NOT EXISTS {table.warehouse_name} (\n"
        f"  tenant VARCHAR NOT NULL, date DATE NOT NULL, {cols})"
    )


def warehouse_keys(table: Table) -> list[str]:
    """The columns that identify a row of a warehouse table."""
    return ["tenant", "date", *table.key_names]


# The warehouse's own record of the lines in the tenant-days written straight to it, with no DO
# file (days/direct.py): per tenant-day and source (a file's id, see tail.py), the last line it
# holds. Written in the same transaction as the rows, so a line read again is known there.
ABSORBED = "absorbed"
ABSORBED_KEYS = ["tenant", "date", "source"]
ABSORBED_DDL = (
    "CREATE TABLE IF NOT EXISTS absorbed "
    "(tenant VARCHAR NOT NULL, date DATE NOT NULL, source VARCHAR NOT NULL, line BIGINT NOT NULL)"
)


def duckdb_schema() -> str:
    """The warehouse's tables (and its `schema_version`), as one script."""
    statements = [
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        *map(duckdb_ddl, TABLES),
        ABSORBED_DDL,
    ]
    return ";\n".join(statements) + ";\n"


def postgres_ddl(name: str, columns: list[tuple[str, str, bool]]) -> str:
    """CREATE TABLE for the PostgreSQL warehouse, from the same columns as DuckDB's (`tenant` first,
    so Citus can distribute every table by it); no primary key, as in DuckDB (flushes replace whole
    tenant-days; an index on (tenant, date) finds them)."""
    cols = ", ".join(f"{n} {_POSTGRES[t]}{'' if nullable else ' NOT NULL'}" for n, t, nullable in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


def postgres_tables() -> dict[str, str]:
    """Every warehouse table (and `absorbed`) as PostgreSQL DDL, by name, in warehouse order."""
    front = [("tenant", "VARCHAR", False), ("date", "DATE", False)]
    out = {t.warehouse_name: postgres_ddl(t.warehouse_name, front + warehouse_columns(t)) for t in TABLES}
    out[ABSORBED] = postgres_ddl(ABSORBED, [*front, ("source", "VARCHAR", False), ("line", "BIGINT", False)])
    return out


def sqlite_schema() -> str:
    """The aggregate tables of a DO file, one statement per `;\\n`."""
    return "".join(f"{sqlite_ddl(t)};\n" for t in TABLES)


def _snapshot(table: Table) -> str:
    if table is DAY:
        hourly = BY_NAME["hourly"]
        sums = [f"sum(h.{c.name}) AS {c.name}" for c in hourly.columns if c.per_day]
        own = [f"d.{c.name}" for c in table.columns]
        finalized = "coalesce((SELECT value = '1' FROM meta WHERE key = 'finalized'), 0) AS finalized"
        return f"SELECT {', '.join([*sums, *own, finalized])} FROM hourly AS h, day AS d HAVING count(*) > 0"
    return f"SELECT {', '.join(table.names)} FROM {table.name}"


# What a flush copies to the warehouse: warehouse table -> SELECT of a DO file's current totals.
SNAPSHOT_QUERIES: dict[str, str] = {t.warehouse_name: _snapshot(t) for t in TABLES}


def upsert_sql(table: Table, columns: list[str]) -> str:
    """INSERT rows of `columns` (the keys and some additive columns), adding to an existing row."""
    values = [c for c in columns if c not in table.key_names]
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
        f"ON CONFLICT ({', '.join(table.key_names)}) DO UPDATE SET "
        + ", ".join(f"{v} = {v} + excluded.{v}" for v in values)
    )
