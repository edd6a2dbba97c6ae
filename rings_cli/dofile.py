"""The DO file: one SQLite database per tenant-day, our stand-in for the seed's AnalyticsDO.

It holds the day's running totals (hourly, status, pages, referrers, content) and the visitor
table that makes unique counts exact across batches. Every batch merges in one transaction, so a
DO file is always a consistent picture of some prefix of the input.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import polars as pl

from rings_cli.aggregate import DayBatch

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS day (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  unique_visitors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS hourly (
  hour INTEGER PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  bot_requests INTEGER NOT NULL DEFAULT 0,
  page_views INTEGER NOT NULL DEFAULT 0,
  unique_visitors INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS status (
  status INTEGER PRIMARY KEY,
  requests INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS pages (
  path TEXT PRIMARY KEY,
  views INTEGER NOT NULL DEFAULT 0,
  unique_views INTEGER NOT NULL DEFAULT 0,
  entries INTEGER NOT NULL DEFAULT 0,
  exits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS referrers (
  source TEXT PRIMARY KEY,
  visits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS content (
  post_id TEXT PRIMARY KEY,
  views INTEGER NOT NULL DEFAULT 0,
  unique_views INTEGER NOT NULL DEFAULT 0,
  reactions INTEGER NOT NULL DEFAULT 0,
  comments INTEGER NOT NULL DEFAULT 0,
  shares INTEGER NOT NULL DEFAULT 0
);
-- Keyed hashes only (see privacy.py); deleted when the day is finalized.
CREATE TABLE IF NOT EXISTS visitors (
  hash INTEGER PRIMARY KEY,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  page_views INTEGER NOT NULL,
  hours INTEGER NOT NULL  -- bit h set: a page view in UTC hour h
);
CREATE TABLE IF NOT EXISTS visitor_pages (
  hash INTEGER NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (hash, path)
) WITHOUT ROWID;
INSERT OR IGNORE INTO day (id) VALUES (1);
"""

_MERGE_NEW_VISITORS = """
UPDATE hourly SET unique_visitors = unique_visitors + d.n
FROM (
  WITH RECURSIVE h(hour) AS (SELECT 0 UNION ALL SELECT hour + 1 FROM h WHERE hour < 23)
  SELECT h.hour, count(*) AS n
  FROM temp.batch_visitors AS b LEFT JOIN visitors AS v ON v.hash = b.hash, h
  WHERE ((b.hours & ~coalesce(v.hours, 0)) >> h.hour) & 1
  GROUP BY h.hour
) AS d
WHERE hourly.hour = d.hour;
UPDATE day SET unique_visitors = unique_visitors + (
  SELECT count(*) FROM temp.batch_visitors AS b
  WHERE NOT EXISTS (SELECT 1 FROM visitors AS v WHERE v.hash = b.hash)
);
INSERT INTO visitors SELECT * FROM temp.batch_visitors WHERE true
ON CONFLICT (hash) DO UPDATE SET
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = max(last_seen, excluded.last_seen),
  page_views = page_views + excluded.page_views,
  hours = hours | excluded.hours;
UPDATE pages SET unique_views = unique_views + d.n
FROM (
  SELECT b.path, count(*) AS n FROM temp.batch_pages AS b
  WHERE NOT EXISTS (
    SELECT 1 FROM visitor_pages AS v WHERE v.hash = b.hash AND v.path = b.path)
  GROUP BY b.path
) AS d
WHERE pages.path = d.path;
INSERT OR IGNORE INTO visitor_pages SELECT hash, path FROM temp.batch_pages;
UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version';
"""

# What a flush copies to the warehouse: table -> SELECT of its current totals.
SNAPSHOT_QUERIES = {
    "daily": """SELECT sum(requests) AS requests, sum(bytes) AS bytes,
                       sum(bot_requests) AS bot_requests, sum(page_views) AS page_views,
                       (SELECT unique_visitors FROM day) AS unique_visitors
                FROM hourly HAVING count(*) > 0""",
    "hourly": "SELECT hour, requests, bytes, bot_requests, page_views, unique_visitors FROM hourly",
    "status": "SELECT status, requests FROM status",
    "pages": "SELECT path, views, unique_views, entries, exits FROM pages",
    "referrers": "SELECT source, visits FROM referrers",
    "content": "SELECT post_id, views, unique_views, reactions, comments, shares FROM content",
}


class DoFile:
    """One tenant-day's SQLite file. Owns its SQL; callers pass frames, get frames back."""

    def __init__(self, path: Path, tenant: str, date: str, create: bool = True) -> None:
        self.path = path
        self.tenant = tenant
        self.date = date
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.exists():
            raise FileNotFoundError(path)
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode = WAL")
        self.con.execute("PRAGMA synchronous = NORMAL")
        if create:
            self._init_schema()

    def _init_schema(self) -> None:
        with self._transaction():
            for statement in _split(_SCHEMA):
                self.con.execute(statement)
            self.con.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("tenant", self.tenant),
                    ("date", self.date),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("version", "0"),
                ],
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self.con)

    def merge(self, batch: DayBatch) -> None:
        """Add one batch's deltas; all or nothing."""
        con = self.con
        with self._transaction():
            con.executemany(
                """INSERT INTO hourly (hour, requests, bytes, bot_requests, page_views)
                   VALUES (?, ?, ?, ?, ?)
                   ON CONFLICT (hour) DO UPDATE SET
                     requests = requests + excluded.requests,
                     bytes = bytes + excluded.bytes,
                     bot_requests = bot_requests + excluded.bot_requests,
                     page_views = page_views + excluded.page_views""",
                _rows(batch.hourly, "hour", "requests", "bytes", "bot_requests", "page_views"),
            )
            con.executemany(
                """INSERT INTO status (status, requests) VALUES (?, ?)
                   ON CONFLICT (status) DO UPDATE SET requests = requests + excluded.requests""",
                _rows(batch.status, "status", "requests"),
            )
            con.executemany(
                """INSERT INTO pages (path, views) VALUES (?, ?)
                   ON CONFLICT (path) DO UPDATE SET views = views + excluded.views""",
                _rows(batch.pages, "path", "views"),
            )
            con.execute(
                """CREATE TEMP TABLE IF NOT EXISTS batch_visitors (
                     hash INTEGER PRIMARY KEY, first_seen INTEGER, last_seen INTEGER,
                     page_views INTEGER, hours INTEGER)"""
            )
            con.execute("CREATE TEMP TABLE IF NOT EXISTS batch_pages (hash INTEGER, path TEXT)")
            con.execute("DELETE FROM temp.batch_visitors")
            con.execute("DELETE FROM temp.batch_pages")
            con.executemany(
                "INSERT INTO temp.batch_visitors VALUES (?, ?, ?, ?, ?)",
                _rows(batch.visitors, "visitor", "first_seen", "last_seen", "page_views", "hours"),
            )
            con.executemany(
                "INSERT INTO temp.batch_pages VALUES (?, ?)",
                _rows(batch.visitor_pages, "visitor", "path"),
            )
            for statement in _split(_MERGE_NEW_VISITORS):
                con.execute(statement)

    def version(self) -> int:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0])

    def snapshot(self) -> dict[str, pl.DataFrame]:
        """The day's current totals, table by table, tagged with tenant and date."""
        out: dict[str, pl.DataFrame] = {}
        for table, sql in SNAPSHOT_QUERIES.items():
            cur = self.con.execute(sql)
            names = [d[0] for d in cur.description]
            frame = pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)
            out[table] = frame.select(
                pl.lit(self.tenant).alias("tenant"),
                pl.lit(self.date).str.to_date().alias("date"),
                pl.all(),
            )
        return out

    def close(self) -> None:
        self.con.close()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")


def _split(script: str) -> list[str]:
    """Split a script on `;` at line ends (our scripts keep one statement per `;\\n`)."""
    statements = (s.strip() for s in script.split(";\n"))
    return [s for s in statements if any(not line.startswith("--") for line in s.splitlines() if line)]


def _rows(frame: pl.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    return frame.select(columns).rows() if frame.height else []
