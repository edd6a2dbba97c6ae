"""What `rings serve` reads, and how it knows when to read again.

`freshness` is a cheap token of everything a report could have read: the catalog, the warehouse
and the DO files of the dirty (not yet flushed) tenant-days, by modification time and size (the
idea of `live.ChangeWatch`, for any range). A commit by any ingest process changes it.

`Reports` answers report questions through `build_report` (the numbers of `rings report --format
json`) and keeps each answer while its token is unchanged, so a hundred dashboards asking at once
cost one read, and no read holds the warehouse beyond its query.

`Hub` is the one watcher of the state dir for every WebSocket: it polls the token, and when it
moves, recomputes each watched report once and sends every socket only what changed (and the new
page views), so idle dashboards cost a few `stat` calls a tick.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import datetime as dt
import json
import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from rings_cli.core.config import CONFIG_NAME, Config, load_config
from rings_cli.core.errors import RingsError
from rings_cli.core.state import StateDir
from rings_cli.enrich.zones import local_today
from rings_cli.query.live import _stamp, latest_views, shared_stamp
from rings_cli.query.model import Report
from rings_cli.query.readpath import current_view, dirty_tenant_days
from rings_cli.query.report import SECTIONS, build_report, empty_report

READ_THREADS = 2
POLL_SECONDS = 0.25  # a commit is seen within this (plus one report's read): well under 1 s
CACHE_ENTRIES = 256
FEED_WINDOW = 50  # the newest page views compared between two reads to find the new ones
SEND_TIMEOUT = 5.0  # a socket that cannot take a message in this long is dropped
METRICS = (*(s for s in SECTIONS), "events")

# When the request being answered arrived: any read started after it is fresh enough for it.
ASKED: contextvars.ContextVar[float | None] = contextvars.ContextVar("rings_asked", default=None)
Scope = tuple[str | None, str | None, str | None, bool]  # freshness(): tenant, start, end, files
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class Key(NamedTuple):
    """A report question: `rings report`'s options (start and end may be range words)."""

    tenant: str | None
    start: str | None
    end: str | None
    limit: int
    last: str | None = None
    all_data: bool = False
    compare: str | None = None
    only: tuple[str, ...] | None = None  # all tenants (`tenant` None) that a site token sees

    @property
    def today(self) -> bool:
        """No range at all: today (the seed's live view), looked up again each tick."""
        return self.start is None and self.end is None and self.last is None and not self.all_data

    @property
    def days(self) -> bool:
        """Both ends are days (YYYY-MM-DD): no other range word, nothing that depends on the data."""
        plain = all(d is not None and _DAY.fullmatch(d) for d in (self.start, self.end))
        return plain and self.last is None and not self.all_data


def freshness(
    state: StateDir,
    tenant: str | None = None,
    start: str | None = None,
    end: str | None = None,
    files: bool = True,
) -> tuple:
    """Changes whenever a commit could change a report of `tenant` (None: any) over [start, end].

    A report reads the warehouse and the DO files of the catalog's dirty tenant-days, nothing else:
    so the token is the warehouse's stamps, the dirty list itself (a new day, a flush) and the
    stamps of the dirty DO files inside the range (commits to other days cannot change it).
    Without `files`, only which tenant-days exist (enough for the list of tenants)."""
    root = state.root
    stamps: list[Any] = [_stamp(root / "warehouse.duckdb"), _stamp(root / "warehouse.duckdb.wal")]
    stamps.append(shared_stamp(state))  # another host's flush into a shared warehouse
    try:
        dirty = dirty_tenant_days(state, tenant)
    except (RingsError, sqlite3.Error):  # being created or damaged: its own stamps, then
        dirty = []
        stamps += [_stamp(root / "catalog.sqlite"), _stamp(root / "catalog.sqlite-wal")]
    first, last = _window(start, end)
    paths = [state.do_path(t, d) for t, d in dirty if files and first <= d <= last]
    paths += [p.with_name(p.name + "-wal") for p in paths]
    return (root.is_dir(), *stamps, tuple(dirty), *(_stamp(p) for p in paths))


def _window(start: str | None, end: str | None) -> tuple[str, str]:
    """The days a report can read: the range when both ends are days; otherwise (range words, one
    end, none: days that depend on the data) any day."""
    if start is not None and end is not None and _DAY.fullmatch(start) and _DAY.fullmatch(end):
        return (start, end)
    return ("0000-00-00", "9999-99-99")


_CONFIGS: dict[str, tuple[tuple[int, int] | None, Config]] = {}


def _config(state: StateDir) -> Config:
    """The state dir's rings.toml, parsed again only when it changes (the watcher asks each tick)."""
    path = state.root / CONFIG_NAME
    try:
        st = path.stat()
        key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except FileNotFoundError:
        key = None
    hit = _CONFIGS.get(str(path))
    if hit is not None and hit[0] == key:
        return hit[1]
    config = load_config(None, state)
    _CONFIGS[str(path)] = (key, config)
    return config


def today(state: StateDir | None = None, tenant: str | None = None) -> dt.date:
    """Today in the tenant's zone (rings.toml's `timezone`/`[timezones]`; all tenants: the default
    zone); UTC where the state dir has no readable config."""
    if state is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return local_today(_config(state), tenant)
    except RingsError:
        return dt.datetime.now(dt.UTC).date()


def compute_report(state: StateDir, key: Key) -> Report:
    """`rings report --format json` for `key`; a state dir with nothing yet gives zeros."""
    if not state.root.is_dir():
        day = today(state, key.tenant).isoformat()
        first, last = (key.start, key.end) if key.days else (day, day)
        assert first is not None and last is not None
        return empty_report(key.tenant, dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    return build_report(
        state,
        tenant=key.tenant,
        start=key.start,
        end=key.end,
        limit=key.limit,
        compare=key.compare,
        last=key.last,
        all_data=key.all_data,
        options="",
        only=key.only,
    )


def known_tenants(state: StateDir) -> list[str]:
    """Tenants with data, as `rings report` knows them (its `daily` table through the read path)."""
    if not state.root.is_dir():
        return []
    with current_view(state) as (con, _):
        return [r[0] for r in con.execute("SELECT DISTINCT tenant FROM daily ORDER BY tenant").fetchall()]


_log = logging.getLogger("rings.serve")


class Reports:
    """Report answers, each kept while the state dir's freshness token stays the same."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        # Reads wait on each other (the warehouse is attached by one reader at a time in a process),
        # so a few threads suffice; stat checks have their own, never stuck behind a read.
        self._reads = ThreadPoolExecutor(READ_THREADS, "rings-read")
        self._stats = ThreadPoolExecutor(2, "rings-stat")
        self._live = ThreadPoolExecutor(2, "rings-live")
        self._entries: collections.OrderedDict[Hashable, tuple[tuple, float, Any]] = collections.OrderedDict()
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def run(self, work: Callable[[], Any]) -> Any:
        """A read (a report, the tenants) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._reads, work)

    async def run_live(self, work: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._live, work)

    async def quick(self, work: Callable[[], Any]) -> Any:
        """A cheap look (stat calls, the catalog, the feed) off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._stats, work)

    def close(self) -> None:
        self._reads.shutdown(wait=False, cancel_futures=True)
        self._stats.shutdown(wait=False, cancel_futures=True)
        self._live.shutdown(wait=False, cancel_futures=True)

    async def _get(self, key: Hashable, scope: Scope, compute: Callable[[], Any], live: bool = False) -> Any:
        asked = ASKED.get(None) or time.monotonic()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one read per key at a time: the others wait for its answer
            hit = self._entries.get(key)
            if hit is not None and hit[1] >= asked:  # read after we asked: as fresh as we need
                return hit[2]
            token = await self.quick(lambda: freshness(self.state, *scope))
            if hit is not None and hit[0] == token:  # nothing committed since that read
                self._entries.move_to_end(key)
                return hit[2]
            started = time.monotonic()
            run = self.run_live if live else self.run
            value = await run(compute)  # token taken before the read: a later commit shows
            self._entries[key] = (token, started, value)
            self._entries.move_to_end(key)
            while len(self._entries) > CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return value

    async def report(self, key: Key, live: bool = False) -> Report:
        """`live`: for the WebSocket watcher, whose reads never queue behind the API's."""
        # A compared period lies outside the range: any day's commit may change the report then.
        scope = (key.tenant, None, None, True) if key.compare is not None else (*key[:3], True)
        return await self._get(("report", *key), scope, lambda: compute_report(self.state, key), live)

    async def tenants(self) -> list[str]:
        # A new tenant comes with a new (dirty) tenant-day; one goes with a warehouse write.
        return await self._get(("tenants",), (None, None, None, False), lambda: known_tenants(self.state))


class Socket:
    """One dashboard's connection: how to send to it, and which metrics it wants."""

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self.send = send
        self.metrics: set[str] = set(METRICS)

    def wants(self, name: str) -> bool:
        return name in self.metrics or name not in METRICS  # tenant, start, end, as_of: always


@dataclass
class Group:
    """The sockets that watch one report (same tenant and range), and what they were last sent."""

    sockets: set[Socket] = field(default_factory=set)
    token: tuple | None = None
    report: Report | None = None
    feed: collections.Counter = field(default_factory=collections.Counter)
    failing: bool = False  # its last update failed (said once; the next commit tries again)


def event_key(row: dict[str, Any]) -> tuple:
    """A page view of the feed, in a total order: two views of one path in one second, one with a
    source and one without, compare (None sorts after every source, never against it)."""
    source = row["source"]
    return (row["time"].isoformat(), row["tenant"], row["path"], source is None, source or "")


def event_json(key: tuple) -> dict[str, str | None]:
    """A page view as the dashboard sees it: where and when, never who."""
    time, tenant, path, no_source, source = key
    source = None if no_source else source
    return {"time": time, "tenant": tenant, "path": path, "source": source}


class Hub:
    """One watcher of the state dir for all sockets, fanning each change out to them."""

    def __init__(self, state: StateDir, reports: Reports, poll: float = POLL_SECONDS) -> None:
        self.state = state
        self.reports = reports
        self.poll = poll
        self.groups: dict[Key, Group] = {}

    async def key_for(self, ask: Key) -> Key:
        """No range: today (a live view); the day is looked up again each tick. Range
        words (`2016-03`, `yesterday`, `last`, `all`, one end) are resolved once, to the days they
        name now: a socket watches fixed days."""
        if ask.today or ask.days:
            return ask
        report = await self.reports.report(ask)
        return ask._replace(start=report["start"], end=report["end"], last=None, all_data=False)

    def _resolved(self, key: Key) -> Key:
        if key.today:
            day = today(self.state, key.tenant).isoformat()
            return key._replace(start=day, end=day)
        return key

    def _scope(self, key: Key) -> tuple[str | None, str | None, str | None]:
        """What the freshness token watches for `key`: its days, or any day with a compared period."""
        if key.compare is not None:
            return (key.tenant, None, None)
        resolved = self._resolved(key)
        return (key.tenant, resolved.start, resolved.end)

    def _feed(self, key: Key) -> list[tuple]:
        day = dt.date.fromisoformat(self._resolved(key).end)  # type: ignore[arg-type]
        rows = latest_views(self.state, day, key.tenant, FEED_WINDOW)
        return [event_key(r) for r in rows if key.only is None or r["tenant"] in key.only]

    async def join(self, key: Key, socket: Socket) -> None:
        """Send `init` (the full report and the latest page views), then keep it updated."""
        feed = await self.reports.quick(lambda: self._feed(key))  # first: the stats hold all of it
        report = await self.reports.report(self._resolved(key))
        await socket.send(
            json.dumps({"type": "init", "stats": report, "recent": [event_json(k) for k in feed[:12]]})
        )
        group = self.groups.setdefault(key, Group())
        if group.report is None:
            group.report, group.feed = report, collections.Counter(feed)
            group.token = await self.reports.quick(lambda: freshness(self.state, *self._scope(key)))
        group.sockets.add(socket)

    def leave(self, key: Key, socket: Socket) -> None:
        group = self.groups.get(key)
        if group is not None:
            group.sockets.discard(socket)
            if not group.sockets:
                del self.groups[key]

    async def run(self) -> None:
        """Poll forever (until cancelled); every watched report is checked at once each tick."""
        while True:
            await asyncio.sleep(self.poll)
            groups = list(self.groups.values())
            ticks = [self._tick(key, group) for key, group in list(self.groups.items())]
            for group, result in zip(
                groups, await asyncio.gather(*ticks, return_exceptions=True), strict=True
            ):
                # Whatever one report's read raised (a flush held the warehouse too long, a damaged
                # file, a disk error), the watcher goes on: its sockets get the next commit's news.
                # A failure is said once, not at every commit while it lasts.
                failed = isinstance(result, Exception) and not isinstance(result, RingsError)
                if failed and not group.failing:
                    _log.warning("live update failed: %s: %s", type(result).__name__, result)
                group.failing = failed

    async def _tick(self, key: Key, group: Group) -> None:
        token = await self.reports.quick(lambda: freshness(self.state, *self._scope(key)))
        if token == group.token or group.report is None:
            return
        group.token = token
        feed = await self.reports.quick(lambda: self._feed(key))  # first: an event never precedes its stats
        report = await self.reports.report(self._resolved(key), live=True)
        old, group.report = group.report, report
        changed = {k: v for k, v in report.items() if old.get(k) != v}
        changed.update({k: None for k in old if k not in report})
        counts = collections.Counter(feed)
        new = sorted((counts - group.feed).elements())
        group.feed = counts
        await self._fan_out(group, changed, new)

    async def _fan_out(self, group: Group, changed: dict[str, object], new: list[tuple]) -> None:
        jobs = []
        for socket in list(group.sockets):
            messages = []
            stats = {k: v for k, v in changed.items() if socket.wants(k)}
            if set(stats) - {"as_of", "live_tenant_days"}:
                messages.append(json.dumps({"type": "update", "stats": stats}))
            if "events" in socket.metrics:
                messages += [json.dumps({"type": "event", "event": event_json(k)}) for k in new]
            if messages:
                jobs.append(self._send_all(group, socket, messages))
        await asyncio.gather(*jobs)

    async def _send_all(self, group: Group, socket: Socket, messages: list[str]) -> None:
        try:
            for message in messages:
                await asyncio.wait_for(socket.send(message), SEND_TIMEOUT)
        except Exception:  # closed or stuck: it is gone; the others still get theirs
            group.sockets.discard(socket)
