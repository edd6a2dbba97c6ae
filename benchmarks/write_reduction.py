#!/usr/bin/env python3
"""The seed's write-reduction table ("Write Reduction Analysis"), measured on Rings, not estimated.

Scenario (the seed's): one UTC day, per tenant 10,000 page views and 1,000 reactions spread over 24
hours (a diurnal curve), ingested as `rings ingest --follow` does: lines are appended to a vhost
combined log minute by minute, read with follow mode's own code (`Follower.poll` →
`Ingest._ingest_block`, inside `Ingest._session()`, no finalization), and the warehouse is flushed
once per simulated minute (`Ingest._flush`: only dirty tenant-days). The clock is simulated, so a
day takes minutes, not a day. Reactions are `POST /api/posts/<slug>/reactions` → 201, which the default
route rules count as `reaction` events; the run checks that the warehouse holds exactly the
generated page views and reactions.

"Before" is the seed's direct design: one write per page view and per reaction. For Rings it
reports, from the `FlushResult`s: flushes that had changes, warehouse rows written and SQL
statements (`FlushResult.statements`). A flush *replaces* each dirty tenant-day's rows, so rows
written per flush is that day's whole current row count over all tables. To see every statement a
flush really runs (the DELETEs, schema checks, transaction control), `duckdb` inside
`rings_cli.warehouse.local` is wrapped, for this process only, by a counter that forwards every call.
DO-file transactions are read back from each DO file's `version` (one per merged batch).

Optionally (`--extras`) each tenant also gets asset requests and bot traffic, reported apart: they
are not "events" in the seed's sense, but they reach the DO files and the warehouse too.

    python benchmarks/write_reduction.py [--tenants 1 100] [--extras] [--polls-per-minute 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rings_cli.warehouse.local as warehouse_module
from rings_cli import __version__
from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.source.follow import Follower
from rings_cli.store.dofile import DoFile
from rings_cli.warehouse.flush import FlushResult
from rings_cli.warehouse.local import TABLES, Warehouse

REPO = Path(__file__).resolve().parent.parent
DAY = dt.date(2025, 12, 1)
MINUTES = 24 * 60
SECONDS = MINUTES * 60
FLUSH_SECONDS = 60  # the seed's alarm, and `--flush-interval`'s default
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
)
# Where sessions come from: (referrer, query string of the landing page), weighted.
ARRIVALS = (
    (("-", ""), 50),
    (("https://www.google.com/", ""), 20),
    (("https://news.ycombinator.com/", ""), 8),
    (("https://t.co/abc123", ""), 7),
    (("https://duckduckgo.com/", ""), 5),
    (("-", "?utm_source=newsletter&utm_medium=email&utm_campaign=week48"), 7),
    (("https://mastodon.social/", "?utm_source=mastodon&utm_medium=social&utm_campaign=launch"), 3),
)
POSTS = 40
RETURNING = 0.2  # share of sessions by a visitor seen earlier that day


@dataclass
class Day:
    """One simulated day of log lines, bucketed by the minute they are written in."""

    buckets: list[list[tuple[float, str]]]
    tenants: int
    page_views: int = 0
    reactions: int = 0
    assets: int = 0
    bots: int = 0

    @property
    def lines(self) -> int:
        return self.page_views + self.reactions + self.assets + self.bots

    def first(self, minutes: int) -> Day:
        """Only the lines of the first `minutes` minutes, counted again from the lines themselves."""
        buckets = self.buckets[:minutes]
        kept = Counter(_what(line) for bucket in buckets for _, line in bucket)
        return Day(buckets, self.tenants, kept["view"], kept["reaction"], kept["asset"], kept["bot"])


def _what(line: str) -> str:
    """What a generated line is (for --minutes): view, reaction, asset or bot."""
    request = line.split('"', 2)[1]
    if request.startswith("POST"):
        return "reaction"
    if "/static/" in request:
        return "asset"
    return "bot" if any(b in line for b in BOTS) else "view"


def _stamp(second: float) -> str:
    s = int(second)
    clock = f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{DAY.day:02d}/{MONTHS[DAY.month - 1]}/{DAY.year}:{clock} +0000"


def _line(host: str, ip: str, second: float, request: str, status: int, size: int, ref: str, ua: str) -> str:
    return f'{host}:443 {ip} - - [{_stamp(second)}] "{request} HTTP/1.1" {status} {size} "{ref}" "{ua}"'


def _diurnal() -> list[float]:
    """Cumulative weights per minute: traffic peaks at 15:00 UTC at about 5x the 03:00 trough."""
    weights = [1 + 0.7 * math.sin(2 * math.pi * (m - 540) / MINUTES) for m in range(MINUTES)]
    total = 0.0
    cumulative = []
    for w in weights:
        total += w
        cumulative.append(total)
    return cumulative


def generate_day(tenants: int, views: int, reactions: int, extras: bool, seed: int) -> Day:
    """Every tenant's lines for the day: exactly `views` page views and `reactions` reactions each."""
    day = Day(buckets=[[] for _ in range(MINUTES)], tenants=tenants)
    cumulative = _diurnal()
    minutes = range(MINUTES)

    def emit(
        host: str, second: float, ip: str, ua: str, request: str, status: int, size: int, ref: str
    ) -> None:
        second = min(second, SECONDS - 0.001)  # an asset or reaction just after 23:59:59 stays today
        day.buckets[int(second) // 60].append(
            (second, _line(host, ip, second, request, status, size, ref, ua))
        )

    for t in range(tenants):
        rng = random.Random(seed * 1_000_003 + t)
        host = "blog.example" if tenants == 1 else f"t{t:03d}.example"
        slugs = [f"post-{i:02d}" for i in range(POSTS)]
        pages = ["/", "/about", "/blog/", "/archive", *(f"/posts/{s}" for s in slugs)]
        popularity = [1 / (rank + 1) ** 0.8 for rank in range(len(pages))]
        rng.shuffle(popularity)
        visitors: list[tuple[str, str]] = []
        post_views: list[tuple[float, str, str, str]] = []  # (second, ip, ua, slug)
        n_views = 0
        while n_views < views:  # sessions: a landing page, then a few pages 10 s to 4 min apart
            second = rng.choices(minutes, cum_weights=cumulative)[0] * 60 + rng.random() * 60
            if visitors and rng.random() < RETURNING:
                ip, ua = rng.choice(visitors)
            else:
                k = len(visitors)
                ip, ua = f"10.{t % 256}.{k // 250 % 256}.{k % 250 + 1}", rng.choice(BROWSERS)
                visitors.append((ip, ua))
            ((ref, query),) = rng.choices([a for a, _ in ARRIVALS], [w for _, w in ARRIVALS])
            previous = ""
            for _ in range(1 + min(int(rng.expovariate(1 / 1.8)), 12)):
                if second >= SECONDS or n_views == views:
                    break
                path = rng.choices(pages, popularity)[0]
                target, referrer = (
                    (f"{path}{query}", ref) if not previous else (path, f"https://{host}{previous}")
                )
                emit(host, second, ip, ua, f"GET {target}", 200, rng.randint(4_000, 40_000), referrer)
                n_views += 1
                if path.startswith("/posts/"):
                    post_views.append((second, ip, ua, path.removeprefix("/posts/")))
                if extras:  # a first visit loads the assets, later pages revalidate them (304)
                    for asset in ("/static/app.js",) if previous else ("/static/app.css", "/static/app.js"):
                        status, size = (304, 0) if previous else (200, 52_000)
                        emit(
                            host, second + 0.3, ip, ua, f"GET {asset}", status, size, f"https://{host}{path}"
                        )
                        day.assets += 1
                previous = path
                second += rng.uniform(10, 240)
        for _ in range(reactions):  # a reader reacts to a post a little after opening it
            second, ip, ua, slug = rng.choice(post_views or [(0.0, "10.255.0.1", BROWSERS[0], "post-00")])
            post = f"/posts/{slug}"
            emit(
                host,
                second + rng.uniform(5, 180),
                ip,
                ua,
                f"POST /api{post}/reactions",
                201,
                64,
                f"https://{host}{post}",
            )
        if extras:  # crawlers: uniform over the day, a few probing for what is not there
            for i in range(views // 5):
                path, status = ("/wp-login.php", 404) if i % 20 == 0 else (rng.choice(pages), 200)
                ip = f"66.249.{t % 256}.{i % 250 + 1}"
                emit(host, rng.random() * SECONDS, ip, rng.choice(BOTS), f"GET {path}", status, 9_000, "-")
                day.bots += 1
        day.page_views += views
        day.reactions += reactions
    for bucket in day.buckets:
        bucket.sort(key=lambda item: item[0])
    return day


def _kind(statement: str) -> str:
    """INSERT, DELETE, SELECT, BEGIN, COMMIT, ...; DDL and the layout-version row are "schema"."""
    kind = statement.split()[0].upper()
    if kind in ("CREATE", "DROP") or (kind == "INSERT" and "schema_version" in statement):
        return "schema"
    return kind


class _CountingConnection:
    """A DuckDB connection that counts the statements passed to `execute`, by first keyword."""

    def __init__(self, con: Any, counts: Counter[str]) -> None:
        self._con = con
        self._counts = counts

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        for statement in sql.split(";"):  # the schema script is several statements in one call
            if statement.strip():
                self._counts[_kind(statement)] += 1
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class SqlCounter:
    """Stands in for the `duckdb` module inside `rings_cli.warehouse.local`; forwards everything."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.statements: Counter[str] = Counter()
        self.connections: Counter[str] = Counter()

    def connect(self, *args: Any, **kwargs: Any) -> _CountingConnection:
        self.connections["read-only" if kwargs.get("read_only") else "read-write"] += 1
        return _CountingConnection(self._module.connect(*args, **kwargs), self.statements)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


@dataclass
class Measured:
    """What one simulated day did."""

    name: str
    day: Day
    flushes: list[FlushResult]
    statements: Counter[str]
    connections: Counter[str]
    do_transactions: int
    expected_merges: int
    final_rows: dict[str, int]
    warehouse_views: int
    warehouse_reactions: int
    ingested_views: int
    ingested_bots: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def before(self) -> int:
        return self.day.page_views + self.day.reactions

    @property
    def changed(self) -> list[FlushResult]:
        return [f for f in self.flushes if f.tenant_days]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.flushes)

    @property
    def reported_statements(self) -> int:
        return sum(f.statements for f in self.flushes)


def _polls(bucket: list[tuple[float, str]], minute: int, polls: int) -> list[list[str]]:
    """A minute's lines cut into `polls` consecutive slices by time (what each poll would find)."""
    slices: list[list[str]] = [[] for _ in range(polls)]
    for second, line in bucket:
        slices[min(int((second - minute * 60) * polls / 60), polls - 1)].append(line)
    return slices


def simulate(name: str, day: Day, polls: int, counter: SqlCounter) -> Measured:
    """Follow mode over the day with a simulated clock: append, poll, merge; flush every minute."""
    midnight = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC)
    clock = [midnight]
    counter.statements.clear()
    counter.connections.clear()
    expected_merges = 0
    seconds = {"ingest": 0.0, "flush": 0.0}
    with tempfile.TemporaryDirectory(prefix="rings-writes-") as tmp:
        state = StateDir(Path(tmp) / "state")
        log = Path(tmp) / "logs" / "access.log"
        log.parent.mkdir()
        log.touch()
        ingest = Ingest(state, fmt="vcombined", grace=None, now=lambda: clock[0])
        with ingest._session(), open(log, "a", encoding="utf-8") as out:
            follower = Follower([str(log)], ingest._checkpoint)
            try:
                for minute, bucket in enumerate(day.buckets):
                    for p, lines in enumerate(_polls(bucket, minute, polls)):
                        clock[0] = midnight + dt.timedelta(seconds=minute * 60 + (p + 1) * 60 / polls)
                        if not lines:
                            continue
                        out.write("".join(line + "\n" for line in lines))
                        out.flush()
                        expected_merges += len({line.split(":", 1)[0] for line in lines})
                        started = time.perf_counter()
                        for tail, block in follower.poll(ingest.chunk_bytes):  # follow()'s loop body
                            ingest._ingest_block(tail, block)
                        seconds["ingest"] += time.perf_counter() - started
                    started = time.perf_counter()
                    ingest._flush()  # every FLUSH_SECONDS of simulated time: only dirty tenant-days
                    seconds["flush"] += time.perf_counter() - started
            finally:
                follower.close()
                ingest._flush()  # on exit, as follow() does
        statements, connections = Counter(counter.statements), Counter(counter.connections)
        do_transactions = 0
        for path in sorted((state.root / "do").glob("*/*.sqlite")):
            do = DoFile(path, path.parent.name, path.stem, create=False)
            do_transactions += do.version()  # +1 per merged batch (and per finalization: none here)
            do.close()
        with Warehouse(state.warehouse_path).reader() as con:
            final_rows = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}
            views, reactions = con.execute(
                "SELECT sum(page_views), sum(reactions_given) FROM hourly"
            ).fetchone()
    return Measured(
        name=name,
        day=day,
        flushes=ingest.summary.flushes,
        statements=statements,
        connections=connections,
        do_transactions=do_transactions,
        expected_merges=expected_merges,
        final_rows=final_rows,
        warehouse_views=int(views),
        warehouse_reactions=int(reactions),
        ingested_views=ingest.summary.page_views,
        ingested_bots=ingest.summary.bot_requests,
        seconds=seconds,
    )


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _reduction(after: int, before: int) -> str:
    return (
        f"{(1 - after / before) * 100:+.1f}%".replace("+", "")
        if after <= before
        else (f"none: {after / before:.1f}x more")
    )


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seed_table(runs: list[Measured]) -> str:
    rows = []
    for m in runs:
        minutes = len(m.day.buckets)  # the seed: one write per tenant per minute, one summary per day
        seed_after = m.day.tenants * (minutes + (minutes == MINUTES))
        rows.append(
            [
                m.name,
                _n(m.before),
                f"~{_n(seed_after)} ({_reduction(seed_after, m.before)})",
                _n(len(m.changed)),
                f"{_n(m.rows)} ({_reduction(m.rows, m.before)})",
                _n(m.reported_statements),
                _reduction(m.reported_statements, m.before),
            ]
        )
    minutes = len(runs[0].day.buckets) if runs else MINUTES
    header = [
        "scenario (1 UTC day)" if minutes == MINUTES else f"scenario (first {minutes} min of the day)",
        "before: per-event writes",
        "seed's estimate (after)",
        "Rings: flushes with changes",
        "warehouse rows written (vs before)",
        "SQL statements (FlushResult)",
        "reduction in statements",
    ]
    return _table(header, rows)


def detail_table(runs: list[Measured]) -> str:
    def per_run(label: str, value: Callable[[Measured], str]) -> list[str]:
        return [label, *(value(m) for m in runs)]

    def sql(m: Measured, *kinds: str) -> int:
        return sum(m.statements[k] for k in kinds)

    rows = [
        per_run(
            "page views / reactions (generated)", lambda m: f"{_n(m.day.page_views)} / {_n(m.day.reactions)}"
        ),
        per_run(
            "page views / reactions in the warehouse",
            lambda m: f"{_n(m.warehouse_views)} / {_n(m.warehouse_reactions)}",
        ),
        per_run("asset / bot requests (not events)", lambda m: f"{_n(m.day.assets)} / {_n(m.day.bots)}"),
        per_run("log lines", lambda m: _n(m.day.lines)),
        per_run("flushes run (1/min + 1 on exit)", lambda m: _n(len(m.flushes))),
        per_run("flushes with changes", lambda m: _n(len(m.changed))),
        per_run(
            "tenant-days flushed (sum over flushes)", lambda m: _n(sum(f.tenant_days for f in m.flushes))
        ),
        per_run("warehouse rows written (FlushResult.rows)", lambda m: _n(m.rows)),
        per_run(
            "rows per flush with changes: mean / max",
            lambda m: (
                f"{m.rows / max(len(m.changed), 1):,.1f} / {_n(max((f.rows for f in m.flushes), default=0))}"
            ),
        ),
        per_run("warehouse rows at day end", lambda m: _n(sum(m.final_rows.values()))),
        per_run(
            "  daily/hourly/status/pages/referrers/campaigns/content",
            lambda m: "/".join(str(m.final_rows[t]) for t in TABLES),
        ),
        per_run(
            "rows deleted by re-flushes (written - final)", lambda m: _n(m.rows - sum(m.final_rows.values()))
        ),
        per_run("INSERT statements (= FlushResult.statements)", lambda m: _n(sql(m, "INSERT"))),
        per_run("DELETE statements (not in FlushResult)", lambda m: _n(sql(m, "DELETE"))),
        per_run(
            "INSERT + DELETE vs before",
            lambda m: (
                f"{_n(sql(m, 'INSERT', 'DELETE'))} ({_reduction(sql(m, 'INSERT', 'DELETE'), m.before)})"
            ),
        ),
        per_run("schema statements (CREATE ... IF NOT EXISTS)", lambda m: _n(sql(m, "schema"))),
        per_run("SELECT (layout-version checks)", lambda m: _n(sql(m, "SELECT"))),
        per_run("BEGIN / COMMIT", lambda m: f"{_n(sql(m, 'BEGIN'))} / {_n(sql(m, 'COMMIT'))}"),
        per_run("all warehouse SQL statements", lambda m: _n(sum(m.statements.values()))),
        per_run(
            "warehouse connections: read-only / read-write",
            lambda m: f"{_n(m.connections['read-only'])} / {_n(m.connections['read-write'])}",
        ),
        per_run("DO-file transactions (sum of DO versions)", lambda m: _n(m.do_transactions)),
        per_run("  expected: sum over polls of tenants touched", lambda m: _n(m.expected_merges)),
        per_run(
            "seconds: generate / ingest / flush",
            lambda m: "{generate:.1f} / {ingest:.1f} / {flush:.1f}".format(**m.seconds),
        ),
    ]
    return _table(["measured", *(m.name for m in runs)], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--tenants", type=int, nargs="+", default=[1, 10], help="one scenario per count (the seed: 1 100)"
    )
    parser.add_argument("--views", type=int, default=10_000, help="page views per tenant-day")
    parser.add_argument("--reactions", type=int, default=1_000, help="reactions per tenant-day")
    parser.add_argument("--extras", action="store_true", help="add asset and bot requests (reported apart)")
    parser.add_argument(
        "--polls-per-minute", type=int, default=1, help="batches per minute (follow polls every 0.25 s)"
    )
    parser.add_argument("--minutes", type=int, default=MINUTES, help="replay only the day's first N minutes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    python = Path(sys.executable)
    if python.is_relative_to(REPO):
        python = python.relative_to(REPO)
    print("$ " + shlex.join([str(python), "benchmarks/write_reduction.py", *(argv or sys.argv[1:])]))
    print(
        f"Rings {__version__}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs; simulated day {DAY}, flush every {FLUSH_SECONDS} s of simulated time, "
        f"{args.polls_per_minute} poll(s) with new lines per minute",
        flush=True,
    )
    if args.minutes < MINUTES:
        print(f"PARTIAL: only the first {args.minutes} minutes of the day are replayed", flush=True)
    counter = SqlCounter(warehouse_module.duckdb)
    warehouse_module.duckdb = counter  # type: ignore[assignment]  # count, for this process only
    runs = []
    for tenants in args.tenants:
        name = f"{tenants} tenant{'s' if tenants > 1 else ''} x {args.views:,} views"
        name += " + assets, bots" if args.extras else ""
        started = time.perf_counter()
        day = generate_day(tenants, args.views, args.reactions, args.extras, args.seed)
        if args.minutes < MINUTES:
            day = day.first(args.minutes)
        generated = time.perf_counter() - started
        m = simulate(name, day, args.polls_per_minute, counter)
        m.seconds["generate"] = generated
        runs.append(m)
        print(
            f"  {name}: {_n(day.lines)} lines, {sum(m.seconds.values()):.1f} s", file=sys.stderr, flush=True
        )
        for what, got, want in (
            ("page views ingested", m.ingested_views, day.page_views),
            ("page views in the warehouse", m.warehouse_views, day.page_views),
            ("reactions in the warehouse", m.warehouse_reactions, day.reactions),
            ("bot requests ingested", m.ingested_bots, day.bots),
            ("DO-file transactions", m.do_transactions, m.expected_merges),
        ):
            if got != want:
                print(f"WARNING: {name}: {what}: {got:,}, expected {want:,}")
    print()
    print(seed_table(runs))
    print()
    print(detail_table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
