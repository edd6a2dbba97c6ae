"""The DO file: one SQLite database per tenant-day, the stand-in for a Durable Object.

It holds the day's running totals (hourly, pages, referrers, content tables, plus
status, campaigns and a one-row `day` summary) and, until the day is finalized, `views`: one row
per page view keyed by visitor hash, which makes uniques and sessions exact across batches and
runs. Every batch merges in one transaction, so a DO file is always a consistent picture of some
prefix of the input. Finalization writes the daily summary and deletes every hash.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rings_cli.core import tables
from rings_cli.core.errors import DamagedStateError, RingsError
from rings_cli.core.tables import BREAKDOWN_KEYS
from rings_cli.count.sessions import VIEW_SCHEMA
from rings_cli.store import sqlite as storage

SCHEMA_VERSION = 5  # 3: hourly keyed by (hour, utc_offset); 4: bots, definitions; 5: goals (_install_schema)
TOP_LIMIT = 10
# A finalized tenant-day is a few rows in each of ~20 tables and indexes, one page each at least:
# 1 KiB pages keep such a file near 20 KB (4 KiB pages: ~80 KB), and cost little on busy days.
PAGE_SIZE = 1024
_INCREMENTAL = 2  # PRAGMA auto_vacuum

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
{tables.sqlite_schema()}-- Keyed hashes only (see privacy.py); emptied when the day is finalized.
CREATE TABLE IF NOT EXISTS views (
  hash INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  path TEXT NOT NULL,
  source TEXT,
  medium TEXT,
  campaign TEXT,
  post_id TEXT,
  {", ".join(f"{c} TEXT" for c in BREAKDOWN_KEYS)},
  utc_offset INTEGER NOT NULL DEFAULT 0,
  event TEXT -- NULL: a page view; else a request of an event a goal counts (count/goals.py)
);
CREATE INDEX IF NOT EXISTS views_by_hash ON views (hash);
-- A visitors table, derived rather than stored twice.
CREATE VIEW IF NOT EXISTS visitors AS
  SELECT hash, min(ts) AS first_seen, max(ts) AS last_seen, sum(event IS NULL) AS page_views
  FROM views GROUP BY hash;
-- Per source fingerprint, the last line number whose effects this file holds (exactly-once).
CREATE TABLE IF NOT EXISTS absorbed (source TEXT PRIMARY KEY, line INTEGER NOT NULL);
INSERT OR IGNORE INTO day (id) VALUES (1);
"""

_NEWER = tables.NEWER_TABLES  # tables a DO file made by an older release may lack

# What a flush copies to the warehouse: table -> SELECT of its current totals (tables.py).
SNAPSHOT_QUERIES = tables.SNAPSHOT_QUERIES


# A DO file's version and snapshot rows (`snapshot_rows`), as a flush takes them from a caller that
# had the file open (finalization) or from a pack.
Snapshot = tuple[int, dict[str, tuple[list[str], list[tuple[Any, ...]]]]]


def snapshot_rows(
    con: sqlite3.Connection, current: bool = False, marks: bool = False
) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """SNAPSHOT_QUERIES on an open DO file connection: per table, its column names and rows.
    A flush of many tenant-days gathers these and makes one frame per table (`snapshot_frames`).
    `current`: the file is known to have every table and column of this release (no need to look).
    `marks`: with the lines it holds (`absorbed`), which a flush keeps beside the counts, so that a
    DO file restored from the warehouse knows which lines it holds (`rings check --repair`)."""
    out = {}
    present = None if current else storage.table_names(con)
    for table, sql in SNAPSHOT_QUERIES.items():
        if present is None:
            pass
        elif table in _NEWER and table not in present:
            continue  # a file from before the table, opened read-only: it has no rows of it
        else:
            for name, column in tables.NEWER_KEYS:  # read-only, from before the key: its default
                if table == tables.BY_NAME[name].warehouse_name and column not in _columns(con, name):
                    sql = sql.replace(f" {column},", f" {tables.key_default(name, column)} AS {column},", 1)
        cur = con.execute(sql)
        out[table] = ([d[0] for d in cur.description], cur.fetchall())
    if marks:
        out[tables.ABSORBED] = (
            ["source", "line"],
            con.execute("SELECT source, line FROM absorbed").fetchall(),
        )
    return out


def snapshot_frames(
    rows: dict[str, list[tuple[str, str, list[str], list[tuple[Any, ...]]]]],
) -> dict[str, pl.DataFrame]:
    """One frame per table from (tenant, date, names, rows) of many DO files, tagged with
    tenant and date."""
    out: dict[str, pl.DataFrame] = {}
    for table, parts in rows.items():
        names = ["tenant", "date", *parts[0][2]] if parts else ["tenant", "date"]
        tagged = [(tenant, date, *row) for tenant, date, _, table_rows in parts for row in table_rows]
        frame = pl.DataFrame(tagged, schema=names, orient="row", infer_schema_length=None)
        out[table] = frame.with_columns(
            pl.col("tenant").cast(pl.String), pl.col("date").cast(pl.String).str.to_date()
        )
    return out


def snapshot_tables(con: sqlite3.Connection, tenant: str, date: str) -> dict[str, pl.DataFrame]:
    """SNAPSHOT_QUERIES on an open DO file connection (the flush's or a reader's), table by table,
    tagged with tenant and date."""
    return snapshot_frames(
        {table: [(tenant, date, names, rows)] for table, (names, rows) in snapshot_rows(con).items()}
    )


_VIEW_COLUMNS = ["hash", *list(VIEW_SCHEMA)[1:]]  # the `views` table's names for VIEW_SCHEMA
_STORED_VIEWS = (
    f"SELECT ?, ?, {', '.join(_VIEW_COLUMNS)} FROM views WHERE hash IN (SELECT value FROM json_each(?))"
)
_INSERT_VIEWS = (
    f"INSERT INTO views ({', '.join(_VIEW_COLUMNS)}) VALUES ({', '.join('?' for _ in VIEW_SCHEMA)})"
)
_DAY_DELTA = "UPDATE day SET " + ", ".join(f"{v} = {v} + ?" for v in tables.DAY.of_kind("visitor"))
# absorbed line of a source, finalized flag, any page view, and upper bounds of the row counts
# of the tables with a row limit (max rowid: no count(*) scan unless the limit may be near).
_LOOK = """SELECT (SELECT line FROM absorbed WHERE source = ?),
  (SELECT value FROM meta WHERE key = 'finalized'),
  EXISTS (SELECT 1 FROM views),
  (SELECT max(rowid) FROM pages),
  (SELECT max(rowid) FROM not_found),
  (SELECT value FROM meta WHERE key = 'goals'),
  (SELECT max(rowid) FROM path_times)"""


@dataclass
class Look:
    """A DO file's state as a merge needs it before aggregating (`DoFile.look`)."""

    absorbed: int  # last line of the source merged here, -1 for none
    finalized: bool
    has_views: bool
    rows_at_most: dict[str, int]  # pages, not_found: at least as many as their rows
    goals: str = ""  # the goals' fingerprint its goal rows were counted under (core/goals.py)


@dataclass
class DayRows:
    """One tenant-day's share of a batch as ready rows: (upsert SQL, rows) per non-empty table,
    the `day` row's visitor-metric delta (DAY's visitor columns, in order), page-view rows."""

    upserts: dict[str, tuple[str, Sequence[tuple[Any, ...]]]]  # table -> (upsert SQL, rows)
    day: tuple[Any, ...] | None = None
    views: Sequence[tuple[Any, ...]] = ()
    goals: str | None = None  # the goals' fingerprint the rows were counted under (None: as it was)


class FinalizedDayError(RingsError):
    """A merge of visitor data into a tenant-day that is already final: the caller must merge
    such lines as late (`merge(..., late=True)`: counts without visitors)."""


class DoFile:
    """One tenant-day's SQLite file. Owns its SQL; callers pass frames, get frames back."""

    def __init__(self, path: Path, tenant: str, date: str, create: bool = True) -> None:
        """Open (with `create`, create) the file. A file that is not a usable DO file, or missing
        when `create` is False, raises DamagedStateError naming it (see `docache.open_do_file`)."""
        self.path = path
        self.tenant = tenant
        self.date = date
        self._late_merged = False  # a finalized file grew: vacuum it when closing
        self._has_views: bool | None = None  # None: not known yet (see views_of)
        self._finalized: bool | None = None  # as `look` found it (a merge holds the ingest lock)
        self._current = False  # every table and column of this release is there (see _open)
        existed = path.exists()
        self._fresh = False  # made by this open, nothing merged yet: `look` needs no statement
        if not create and not existed:
            raise DamagedStateError(path, "missing DO file of an open tenant-day (the catalog lists it)")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        if create and not existed:
            with storage.translating(path, path.parent.parent.parent):
                create_file(path, tenant, date, sync=False)  # synced with its batch
            self._has_views = False  # and every table is there: made by _install_schema just now
            self._fresh = True
        # <state>/do/<tenant>/<date>.sqlite: a full disk is reported for the whole state dir.
        self.con = storage.connect(path, path.parent.parent.parent, create)
        try:
            self._open(create, existed)
        except BaseException:
            self.con.close()
            raise

    def _open(self, create: bool, existed: bool) -> None:
        self.con.execute("PRAGMA journal_mode = WAL")
        # No sync per commit nor per checkpoint: many open days (1,000 sites in follow mode) would
        # cost syncs per file and batch. The ingest syncs the file system once per batch before it
        # checkpoints the batch's lines (sqlite.sync_filesystem), so a power loss loses at most
        # merges whose lines are read again.
        self.con.execute("PRAGMA synchronous = OFF")
        self.con.execute("PRAGMA cache_size = -64")  # KiB: up to 64 files are open at once (docache)
        self.con.execute(
            "PRAGMA secure_delete = ON"
        )  # deleted hashes are overwritten, not left in free pages
        if not existed or self._says_current():
            self._current = True  # made from the template just now, or by this release: all there
            return
        names = storage.table_names(self.con)
        if names and "meta" not in names:
            raise DamagedStateError(self.path, "not a Rings DO file (no `meta` table)")
        if existed and not names and not create:
            raise DamagedStateError(self.path, "DO file of an open tenant-day is empty (truncated?)")
        current = bool(names) and _current(self.con, names)  # then nothing below has anything to do
        if create and existed and not current:
            with self._transaction():
                _install_schema(self.con, self.tenant, self.date)  # a no-op unless the file predates a table
            self._current = True
        elif names and not current and (not set(_NEWER).issubset(names) or _lacks_newer_keys(self.con)):
            with self._transaction():
                _install_schema(self.con, self.tenant, self.date)  # a file from before the breakdowns
            self._current = True
        else:
            self._current = current

    def _says_current(self) -> bool:
        """The file's `meta` names this release's schema (only `_install_schema` writes it, having
        made every table and column): one statement instead of listing its tables. Anything else
        (no `meta`, an older file) is looked at the long way."""
        try:
            row = self.con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except (sqlite3.Error, DamagedStateError):
            return False
        return row is not None and row[0] == str(SCHEMA_VERSION)

    def _transaction(self) -> _Transaction:
        return _Transaction(self.con)

    def _meta(self, key: str) -> str:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise DamagedStateError(self.path, f"not a Rings DO file (no {key!r} in `meta`)")
        return str(row[0])

    @property
    def finalized(self) -> bool:
        return self._meta("finalized") == "1"

    def version(self) -> int:
        return int(self._meta("version"))

    def look(self, source: str | None) -> Look:
        """What a merge must know of this file before it aggregates, in one statement (none for
        a file this open has just made)."""
        if self._fresh:
            self._finalized = False
            at_most = dict.fromkeys(("pages", "not_found", "path_times"), 0)
            return Look(absorbed=-1, finalized=False, has_views=False, rows_at_most=at_most)
        row = self.con.execute(_LOOK, (source,)).fetchone()
        if row[1] is None:
            raise DamagedStateError(self.path, "not a Rings DO file (no 'finalized' in `meta`)")
        look = Look(
            absorbed=-1 if row[0] is None else int(row[0]),
            finalized=str(row[1]) == "1",
            has_views=bool(row[2]),
            rows_at_most={
                "pages": int(row[3] or 0),
                "not_found": int(row[4] or 0),
                "path_times": int(row[6] or 0),
            },
            goals=str(row[5] or ""),
        )
        self._has_views = look.has_views
        self._finalized = look.finalized
        return look

    def views_of(self, visitors: pl.Series) -> pl.DataFrame:
        """Every stored page view of these visitors (what sessions.metric_deltas calls `before`).

        A file that holds no page view (new, or finalized) is not asked."""
        rows = self.stored_views(visitors.unique().to_list())
        return pl.DataFrame([r[2:] for r in rows], schema=VIEW_SCHEMA, orient="row")

    def stored_views(self, visitors: list[int]) -> list[tuple[Any, ...]]:
        """Rows (tenant, date, VIEW_SCHEMA...) of the stored page views of these visitor hashes,
        in one statement (the hashes go in as one JSON array); none when the file holds no view."""
        if self._has_views is None:
            self._has_views = bool(self.con.execute("SELECT EXISTS (SELECT 1 FROM views)").fetchone()[0])
        if not self._has_views or not visitors:
            return []
        return self.con.execute(_STORED_VIEWS, (self.tenant, self.date, json.dumps(visitors))).fetchall()

    def goals_fingerprint(self) -> str:
        """The goals' fingerprint its goal rows were counted under ("" for none, or before goals)."""
        row = self.con.execute("SELECT value FROM meta WHERE key = 'goals'").fetchone()
        return str(row[0]) if row else ""

    def all_views(self) -> pl.DataFrame:
        """Every stored row (tenant, date, VIEW_SCHEMA): to count the goals again when they changed."""
        rows = self.con.execute(
            f"SELECT ?, ?, {', '.join(_VIEW_COLUMNS)} FROM views", (self.tenant, self.date)
        ).fetchall()
        schema = {"tenant": pl.String, "date": pl.String, **VIEW_SCHEMA}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def replace_goals(self, frames: dict[str, pl.DataFrame], fingerprint: str) -> None:
        """The goal tables (tables.GOAL_TABLES) replaced by `frames` (counted again from all stored
        rows under the goals of `fingerprint`), in one transaction."""
        with self._transaction():
            for name in tables.GOAL_TABLES:
                table = tables.BY_NAME[name]
                self.con.execute(f"DELETE FROM {name}")
                frame = frames.get(name)
                if frame is not None and frame.height:
                    names = table.names
                    self.con.executemany(
                        f"INSERT INTO {name} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                        frame.select(names).rows(),
                    )
            self.con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('goals', ?)", (fingerprint,))
            self.con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")

    def stored_views_count(self) -> int:
        """Page views held with their visitor's hash (0 once finalized)."""
        return int(self.con.execute("SELECT count(*) FROM views").fetchone()[0])

    def known_paths(self, table: str, paths: list[str]) -> tuple[int, list[str]]:
        """How many paths `table` (pages, not_found, path_times) holds, and which of `paths` it
        has: what breakdowns.bound_keys needs when a batch may take a tenant-day past its limit."""
        stored = int(self.con.execute(f"SELECT count(DISTINCT path) FROM {table}").fetchone()[0])
        known = self.con.execute(
            f"SELECT path FROM {table} WHERE path IN (SELECT value FROM json_each(?))", (json.dumps(paths),)
        ).fetchall()
        return stored, [k for (k,) in known]

    def absorbed(self, source: str) -> int:
        """The last line of `source` merged here, -1 for none: lines up to it must not count again."""
        row = self.con.execute("SELECT line FROM absorbed WHERE source = ?", (source,)).fetchone()
        return int(row[0]) if row else -1

    def merge(
        self,
        rows: DayRows,
        absorbed: Sequence[tuple[str, int]] = (),
        late: bool = False,
        finalized: bool | None = None,
    ) -> None:
        """Add one batch's ready rows (counts and visitor-metric deltas, page views); all or nothing.

        `absorbed` ((source fingerprint, last line number of the batch in this day), one per
        source) commits with
        the counts, so after a crash a re-read line is recognised per DO file. A `late` batch is
        for a finalized tenant-day: it adds only the counts that need no visitor identity (no
        `views`, no `day` delta), and the daily summary is written again. One statement per
        non-empty table. `finalized`: as the caller's `look` found it (None: read it here).
        """
        con = self.con
        self._fresh = False
        with self._transaction():
            if absorbed:  # usually one mark; several for days held in memory, then spilled here
                con.executemany(
                    """INSERT INTO absorbed (source, line) VALUES (?, ?)
                       ON CONFLICT (source) DO UPDATE SET line = max(line, excluded.line)""",
                    absorbed,
                )
            if self._finalized is None:
                self._finalized = finalized
            final = self._finalized if self._finalized is not None else self.finalized
            if final and not late:
                raise FinalizedDayError(f"{self.tenant} {self.date} is finalized")
            if late and (rows.views or rows.day is not None):
                raise ValueError("a late batch carries no visitor data")
            for sql, table_rows in rows.upserts.values():
                if table_rows:
                    con.executemany(sql, table_rows)
            if rows.day is not None:
                con.execute(_DAY_DELTA, rows.day)
            if rows.views:
                con.executemany(_INSERT_VIEWS, rows.views)
                self._has_views = True
            if rows.goals is not None and not final:
                con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('goals', ?)", (rows.goals,))
            if final:
                self._write_summary()
                self._late_merged = True
            con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")

    def snapshot(self) -> dict[str, pl.DataFrame]:
        """The day's current totals, table by table, tagged with tenant and date."""
        return snapshot_tables(self.con, self.tenant, self.date)

    def snapshot_rows(self) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
        """The day's current totals as rows (see `snapshot_frames`)."""
        return snapshot_rows(self.con, self._current, marks=True)

    def finalize(self) -> bool:
        """Write the daily summary, delete every visitor hash, and make sure no byte of them remains.

        Returns whether the WAL truncate completed (`PRAGMA wal_checkpoint(TRUNCATE)` not busy):
        until it has, deleted hashes may still sit in the WAL, so the caller must not call the
        tenant-day finalized yet (calling this again is harmless).
        """
        with self._transaction():
            if not self.finalized:
                self._write_summary()
                self.con.execute("DELETE FROM views")
                self._has_views = False
                self.con.execute("UPDATE meta SET value = '1' WHERE key = 'finalized'")
                self._finalized = True
                self.con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'")
        return self._compact()

    def _write_summary(self) -> None:
        """The daily summary: top pages and referrers, as JSON in the `day` row."""
        top_pages = self.con.execute(
            "SELECT path, views, unique_views FROM pages ORDER BY views DESC, path LIMIT ?",
            (TOP_LIMIT,),
        ).fetchall()
        top_referrers = self.con.execute(
            "SELECT source, visits FROM referrers ORDER BY visits DESC, source LIMIT ?",
            (TOP_LIMIT,),
        ).fetchall()
        self.con.execute(
            "UPDATE day SET top_pages = ?, top_referrers = ?",
            (
                json.dumps([{"path": p, "views": v, "unique_views": u} for p, v, u in top_pages]),
                json.dumps([{"source": s, "visits": v} for s, v in top_referrers]),
            ),
        )

    def _compact(self) -> bool:
        """Leave no free page (none may keep deleted bytes), then empty the WAL; True when it emptied.

        secure_delete has already zeroed every deleted row and freed page. A file made by this
        release (auto_vacuum incremental) then only has to cut its free pages off its end, which
        costs a few page writes; an older file needs a full VACUUM (a rewrite) once.
        """
        if self.con.execute("PRAGMA auto_vacuum").fetchone()[0] == _INCREMENTAL:
            with storage.translating(self.path, self.path.parent.parent.parent):
                self.con.executescript("PRAGMA incremental_vacuum;")  # execute() frees one page a call
        else:
            self.con.execute("VACUUM")
        busy, _, _ = self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    def restore(self, frames: dict[str, pl.DataFrame], day: dict[str, Any], version: int) -> None:
        """Refill a new, empty file with a warehouse copy of its totals (and of the lines it holds,
        `absorbed`, when the copy has them), then finalize it.

        `rings check --repair` uses it for a DO file lost after a flush: the counts come back,
        the visitor hashes cannot, so the tenant-day can only be closed (later lines are `late`:
        counted without their visitors).
        """
        with self._transaction():
            for table, frame in frames.items():
                if frame.height:
                    names = ", ".join(frame.columns)
                    marks = ", ".join("?" for _ in frame.columns)
                    self.con.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", frame.rows())
            counters = tables.DAY.of_kind("visitor")
            self.con.execute(
                f"UPDATE day SET {', '.join(f'{c} = ?' for c in counters)}", [day[c] for c in counters]
            )
            self.con.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(version),))
        self.finalize()

    def close(self) -> None:
        """Close; a finalized file that took late lines is compacted first, like at finalization."""
        try:
            if self._late_merged:
                self._late_merged = False
                self._compact()
        finally:
            self.con.close()


def rekey_absorbed(path: Path, rekey: Callable[[str], str | None]) -> None:
    """Rename the sources of `absorbed` that `rekey` maps (file ids change, see tail.py), in one
    transaction; freed bytes are zeroed (secure_delete) and the WAL emptied, so no old name stays."""
    try:
        con = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as e:
        raise DamagedStateError(path, f"cannot open this DO file ({e})") from e
    try:
        con.execute("PRAGMA secure_delete = ON")
        with _Transaction(con):
            for old, line in con.execute("SELECT source, line FROM absorbed").fetchall():
                new = rekey(old)
                if new is not None:
                    con.execute("DELETE FROM absorbed WHERE source = ?", (old,))
                    con.execute(
                        """INSERT INTO absorbed (source, line) VALUES (?, ?)
                           ON CONFLICT (source) DO UPDATE SET line = max(line, excluded.line)""",
                        (new, line),
                    )
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as e:
        raise DamagedStateError(path, f"cannot migrate its file ids ({e})") from e
    finally:
        con.close()


def _install_schema(con: sqlite3.Connection, tenant: str, date: str) -> None:
    """Every table, and the meta rows a new file starts with; idempotent. A file from before the
    breakdowns gets their tables and `views` columns (its stored views have NULL there)."""
    if "views" in storage.table_names(con):
        have = {row[1] for row in con.execute("PRAGMA table_info(views)")}
        for column in BREAKDOWN_KEYS:
            if column not in have:
                con.execute(f"ALTER TABLE views ADD COLUMN {column} TEXT")
        if "utc_offset" not in have:  # a file from before time zones: its page views are UTC
            con.execute("ALTER TABLE views ADD COLUMN utc_offset INTEGER NOT NULL DEFAULT 0")
        if "event" not in have:  # a file from before goals: every row is a page view
            con.execute("ALTER TABLE views ADD COLUMN event TEXT")
    for name, column in tables.NEWER_KEYS:
        _add_key(con, tables.BY_NAME[name], column)
    for statement in _split(_SCHEMA):
        con.execute(statement)
    con.executemany(
        "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
        [("tenant", tenant), ("date", date), ("version", "0"), ("finalized", "0")],
    )
    # Every table and column of this release is there now: say so, so later opens skip all this.
    con.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


_TABLES = {"meta", "views", "absorbed", *(t.name for t in tables.TABLES)}


def _current(con: sqlite3.Connection, names: set[str]) -> bool:
    """The file has every table of this release (else `_install_schema` adds what it lacks)."""
    if not names >= _TABLES:
        return False
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return row is not None and row[0] == str(SCHEMA_VERSION)


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _lacks_newer_keys(con: sqlite3.Connection) -> bool:
    """Whether a table of the file lacks a key column added since (tables.NEWER_KEYS)."""
    present = storage.table_names(con)
    return any(name in present and column not in _columns(con, name) for name, column in tables.NEWER_KEYS)


def _add_key(con: sqlite3.Connection, table: tables.Table, column: str) -> None:
    """Rebuild `table` with the key `column` (SQLite cannot change a primary key in place); its
    rows keep every value and get the column's default."""
    if table.name not in storage.table_names(con) or column in _columns(con, table.name):
        return
    old = f"{table.name}_before_{column}"
    con.execute(f"ALTER TABLE {table.name} RENAME TO {old}")
    con.execute(tables.sqlite_ddl(table))
    kept = [c for c in table.names if c in _columns(con, old)]
    con.execute(f"INSERT INTO {table.name} ({', '.join(kept)}) SELECT {', '.join(kept)} FROM {old}")
    con.execute(f"DROP TABLE {old}")


def create_file(
    path: Path,
    tenant: str,
    date: str,
    fill: Callable[[sqlite3.Connection], None] | None = None,
    sync: bool = True,
) -> None:
    """Make a new DO file of this tenant-day in one write (sqlite.create_atomically): every table,
    already in WAL mode. `fill` writes rows in the same transaction (pack.py unpacking a day).
    Made in memory (no journal, no lock); `sync` False leaves the sync to the ingest's batch."""
    storage.create_atomically(path, _filled(tenant, date, fill), sync=sync)


def _filled(tenant: str, date: str, fill: Callable[[sqlite3.Connection], None] | None) -> bytes:
    """The bytes of a new DO file of this tenant-day: the template with its meta rows set and
    `fill`'s rows, in WAL mode (header bytes 18 and 19 are 2, what `journal_mode = WAL` writes)."""

    def rows(con: sqlite3.Connection) -> None:
        con.execute("BEGIN")
        con.execute(
            "UPDATE meta SET value = CASE key WHEN 'tenant' THEN ? ELSE ? END "
            "WHERE key IN ('tenant', 'date')",
            (tenant, date),
        )
        if fill is not None:
            fill(con)
        con.execute("COMMIT")

    return storage.wal_image(_template(), rows)


@functools.cache
def _template() -> bytes:
    """The bytes of a new DO file (every table, meta rows with an empty tenant and date), made
    once per process in a private temporary folder, without a journal."""
    with tempfile.TemporaryDirectory(prefix="rings-do-") as folder:
        made = Path(folder) / "template.sqlite"
        con = sqlite3.connect(made, isolation_level=None)
        try:
            con.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            con.execute("PRAGMA auto_vacuum = INCREMENTAL")  # finalization cuts free pages off cheaply
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("PRAGMA synchronous = OFF")
            con.execute("BEGIN IMMEDIATE")
            _install_schema(con, "", "")
            con.execute("COMMIT")
        finally:
            con.close()
        return made.read_bytes()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if not exc_type:
            self.con.execute("COMMIT")
        elif self.con.in_transaction:  # SQLite may have rolled back itself (e.g. disk full)
            self.con.execute("ROLLBACK")


def _split(script: str) -> list[str]:
    """Split a script on `;` at line ends (our scripts keep one statement per `;\\n`)."""
    statements = (s.strip() for s in script.split(";\n"))
    return [s for s in statements if any(not line.startswith("--") for line in s.splitlines() if line)]
