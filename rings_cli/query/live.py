"""Live: what `rings live` shows, and how it notices that there is something new to show.

Data only (no terminal): one `LiveFrame` is the report of one day through the read path (so the
numbers are `rings report`'s), plus the latest page views of that day from the open DO files.
`ChangeWatch` tells cheaply whether any process committed since the last look: it compares the
modification times and sizes of the few files a commit must touch (the catalog, the warehouse,
the shown day's DO files and their WALs), so an idle dashboard re-reads nothing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Collection
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rings_cli.core.config import Config, load_config
from rings_cli.core.errors import RingsError, StateLockedError
from rings_cli.core.state import StateDir
from rings_cli.enrich.zones import zone_on
from rings_cli.ingest.run import Ingest
from rings_cli.query.model import Report
from rings_cli.query.readpath import KeptDatabase, open_read_only, written_at
from rings_cli.query.report import build_report, empty_report
from rings_cli.source.inputs import expand_paths
from rings_cli.warehouse.choose import is_shared, setting_of

FEED_LIMIT = 12
CURRENT_WINDOW_US = 5 * 60 * 1_000_000  # current visitors: a page view in the last 5 minutes
FEED_FILES = 32  # at most this many DO files (the most recently written) are read for the feed
POLL_SECONDS = 2.0  # `rings live PATH` takes new lines every 2 s at most: one batch, one re-read, one redraw
# ... and less often when a cycle costs more: the process spends at most this share of a core on a
# log that keeps growing (Ingest.follow's `pace`).
CPU_SHARE = 0.08
# The sections a frame shows (no days, no campaigns): fewer queries a re-read.
SECTIONS = (
    "totals",
    "hours",
    "status",
    "top_pages",
    "top_referrers",
    "content",
    "tenants",
    "browsers",
    "os",
    "devices",
    "countries",
    "not_found",
    "goals",
)


@dataclass
class LiveFrame:
    """Everything one dashboard frame shows."""

    date: dt.date
    tenant: str | None
    report: Report
    feed: list[dict[str, Any]] = field(default_factory=list)
    current_visitors: int = 0

    @property
    def has_data(self) -> bool:
        return bool(self.report["totals"]["requests"])

    @property
    def as_of(self) -> dt.datetime | None:
        stamp = self.report.get("as_of")
        return dt.datetime.fromisoformat(stamp) if stamp else None


def day_files(state: StateDir, date: dt.date, tenant: str | None) -> list[Path]:
    """The DO files of one day: one tenant's, or every tenant's."""
    name = f"{date.isoformat()}.sqlite"
    if tenant is not None:
        return [state.root / "do" / tenant / name]
    do = state.root / "do"
    return sorted(do.glob(f"*/{name}")) if do.is_dir() else []


def latest_views(state: StateDir, date: dt.date, tenant: str | None, limit: int = FEED_LIMIT) -> list[dict]:
    """The newest page views of the day (time, tenant, path, source), from open DO files; never
    anything about the visitor. A finalized day has none (its page views are deleted)."""
    files = [p for p in day_files(state, date, tenant) if p.exists()]
    files = sorted(files, key=lambda p: written_at(p) or dt.datetime.min.replace(tzinfo=dt.UTC), reverse=True)
    files = files[:FEED_FILES]
    rows: list[dict] = []
    for path in files:
        try:
            with closing(open_read_only(path)) as con:
                got = con.execute(
                    f"SELECT ts, path, source FROM views {_pages_only(con)} ORDER BY ts DESC, path LIMIT ?",
                    (limit,),
                ).fetchall()
        except sqlite3.Error:
            continue  # being created, or damaged (`rings check` says which): no feed from it
        tenant_name = path.parent.name
        rows.extend({"ts": ts, "tenant": tenant_name, "path": p, "source": s} for ts, p, s in got)
    rows.sort(key=lambda r: (-r["ts"], r["tenant"], r["path"]))
    config = load_config(None, state) if state.root.is_dir() else Config()
    for row in rows:  # each tenant's page views at its own local time (zones.py)
        zone = ZoneInfo(zone_on(config, row["tenant"], date))
        row["time"] = dt.datetime.fromtimestamp(row.pop("ts") / 1e6, zone)
    return rows[:limit]


def _pages_only(con: sqlite3.Connection) -> str:
    """`WHERE` page views only: a DO file's `views` also keep goal event rows (a file from before
    goals has no `event` column, and every row of it is a page view)."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(views)")}
    return "WHERE event IS NULL" if "event" in columns else ""


def current_visitors(
    state: StateDir, tenant: str | None, now: dt.datetime | None = None, only: Collection[str] | None = None
) -> int:
    """Distinct visitors with a page view in the last 5 minutes (Plausible's "current visitors"),
    from the open DO files of today and yesterday (UTC dates widened by a day, so any tenant's
    local today is among them). Hashes are per tenant-day, so a visitor whose 5 minutes span a
    tenant's midnight counts once a day. A file not written in the window holds no such page view
    (a line is committed after its time), so it is not opened: the cost follows the busy sites.
    `only`: those tenants (a site token's `_all`)."""
    now = now or dt.datetime.now(dt.UTC)
    since = int(now.timestamp() * 1_000_000) - CURRENT_WINDOW_US
    total = 0
    dates = {now.date() + dt.timedelta(days=d) for d in (-1, 0, 1)}
    for date in sorted(dates):
        for path in day_files(state, date, tenant):
            if only is not None and path.parent.name not in only:
                continue
            written = max(
                (s[0] for s in (_stamp(path), _stamp(path.with_name(path.name + "-wal"))) if s), default=0
            )
            if written < (since - 60 * 1_000_000) * 1000:  # ns; a minute's slack for clocks
                continue
            try:
                with closing(open_read_only(path)) as con:
                    where = _pages_only(con)
                    where = f"{where} AND ts BETWEEN ? AND ?" if where else "WHERE ts BETWEEN ? AND ?"
                    sql = f"SELECT count(DISTINCT hash) FROM views {where}"
                    row = con.execute(sql, (since, since + CURRENT_WINDOW_US + 60_000_000)).fetchone()
            except sqlite3.Error:
                continue  # being created, or damaged (`rings check` says which)
            total += int(row[0]) if row else 0
    return total


def fetch(
    state: StateDir, date: dt.date, tenant: str | None, limit: int = 10, kept: KeptDatabase | None = None
) -> LiveFrame:
    """One frame: the day's report through the read path, and its feed. `kept`: the in-memory
    database kept from the last frame's read (readpath.KeptDatabase)."""
    if not state.root.is_dir():
        return LiveFrame(date, tenant, empty_report(tenant, date, date))
    day = date.isoformat()
    report = build_report(
        state,
        tenant=tenant,
        start=day,
        end=day,
        limit=limit,
        known_tenant=False,
        sections=SECTIONS,
        kept=kept,
        parallel=False,  # the fewest CPU seconds: a dashboard re-reads at every commit
    )
    return LiveFrame(date, tenant, report, latest_views(state, date, tenant), current_visitors(state, tenant))


class ChangeWatch:
    """Has any process committed something that the shown day depends on since the last call?"""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self._last: tuple | None = None

    def _files(self, date: dt.date, tenant: str | None) -> list[Path]:
        root = self.state.root
        fixed = [root / "catalog.sqlite", root / "catalog.sqlite-wal"]
        fixed += [root / "warehouse.duckdb", root / "warehouse.duckdb.wal"]
        days = day_files(self.state, date, tenant)
        return fixed + days + [p.with_name(p.name + "-wal") for p in days]

    def changed(self, date: dt.date, tenant: str | None) -> bool:
        token = (date, tenant, tuple(_stamp(p) for p in self._files(date, tenant)), shared_stamp(self.state))
        if token == self._last:
            return False
        self._last = token
        return True


def shared_stamp(state: StateDir) -> object:
    """Another host's flush into a shared warehouse (None: the local file, stamped as a file)."""
    if not state.root.is_dir() or not is_shared(state):
        return None
    from rings_cli.query.pgview import last_flush

    return last_flush(setting_of(state).dsn)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def newest_day(state: StateDir, tenant: str | None, days: set[str] | None = None) -> dt.date | None:
    """The newest day with data: among `days` if given, else any the catalog lists."""
    if days:
        return dt.date.fromisoformat(max(days))
    path = state.catalog_path
    if not path.exists():
        return None
    try:
        with closing(open_read_only(path)) as con:
            row = con.execute(
                "SELECT max(date) FROM days WHERE (? IS NULL OR tenant = ?)", (tenant, tenant)
            ).fetchone()
    except sqlite3.Error:
        return None
    return dt.date.fromisoformat(row[0]) if row and row[0] else None


class LiveIngest:
    """`rings live PATH...`: tail the logs in a background thread while the dashboard shows them.

    It is follow mode's own code path (same state dir, checkpoints, exactly-once); when another
    ingest holds the state dir, nothing is ingested and `note()` says so: the dashboard still shows
    what that ingest writes.
    """

    def __init__(self, state: StateDir, fmt: str, patterns: list[str], flush_interval: float) -> None:
        self.patterns = expand_paths(patterns)  # a missing file fails now, before the screen opens
        self.ingest = Ingest(state, fmt=fmt)
        self.flush_interval = flush_interval
        self.thread: threading.Thread | None = None
        self.problem: str | None = None
        self.caught_up = threading.Event()  # the files were read to their end once (or it stopped)

    def _guarded(self, work: Callable[[], object]) -> None:
        try:
            work()
        except StateLockedError:
            self.problem = "another `rings ingest` holds this state dir: showing it, not ingesting"
        except RingsError as e:
            self.problem = f"ingest stopped: {e}"
        finally:
            self.caught_up.set()

    def read_once(self) -> None:
        """For --once: read the files to their end (no finalization), then show."""
        self.ingest.grace = None
        self._guarded(lambda: self.ingest.run(self.patterns))

    def start(self) -> None:
        target = lambda: self._guarded(  # noqa: E731
            lambda: self.ingest.follow(
                self.patterns, self.flush_interval, POLL_SECONDS, on_idle=self.caught_up.set, pace=CPU_SHARE
            )
        )
        self.thread = threading.Thread(target=target, name="rings-live-ingest", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop tailing: the current batch commits and everything is flushed before we return."""
        self.ingest.stop()
        if self.thread is not None:
            self.thread.join(timeout=120)

    def note(self) -> str | None:
        if self.problem:
            return self.problem
        s = self.ingest.summary
        return f"tailing {len(self.patterns)} file(s): {s.lines_read:,} lines read"

    def newest_day(self, today: dt.date) -> dt.date:
        """Today when the files have lines for today, else their newest day."""
        days = self.ingest.summary.days
        if not days or today.isoformat() in days:
            return today
        return dt.date.fromisoformat(max(days))
