"""Sessions, bounces, durations, entries/exits, time on page, referrer sources and posts (issue 4).

Hand-written visits with every number counted by hand (and checked against tests/reference.py too),
then generated logs compared with the reference per tenant-day, and one run versus ten slices.

Single-run tests use `Ingest(state)`: the day is long past, so the run finalizes it, and the report
must show the same numbers afterwards. Tests that ingest one day in several runs pass `now=` shortly
after that day (inside the default 1 h grace period) so that nothing is finalized in between.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import ROOT, line, report_json

sys.path.insert(0, str(ROOT / "sample_data"))
sys.path.insert(0, str(ROOT / "tests"))
from generate import generate
from reference import reference, reference_sessions

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

HOST = "site.example"
TENANT = "site.example"
DAY = "2025-12-01"
# Shortly after DAY ended, inside the default 1 h grace period: nothing of DAY is finalized yet.
AFTER_DAY = datetime(2025, 12, 2, 0, 30, tzinfo=UTC)

WriteLog = Callable[..., Path]


def approx(value: float) -> Any:
    """Rates and averages are floats in the JSON; compare them with a tight tolerance."""
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def view(
    ip: str,
    at: str,
    path: str = "/",
    referrer: str = "-",
    ua: str = FIREFOX,
    vhost: str | None = HOST,
    day: str = "01/Dec/2025",
) -> str:
    """A page view (GET, 200) of `path` at UTC time `at` (HH:MM:SS) on `day`."""
    return line(
        ip=ip,
        when=f"{day}:{at} +0000",
        request=f"GET {path} HTTP/1.1",
        referrer=referrer,
        ua=ua,
        vhost=vhost,
    )


def asset(ip: str, at: str, path: str = "/assets/app.js", referrer: str = f"https://{HOST}/") -> str:
    return line(
        ip=ip, when=f"01/Dec/2025:{at} +0000", request=f"GET {path} HTTP/1.1", referrer=referrer, vhost=HOST
    )


def ingest(
    state: StateDir, write_log: WriteLog, lines: Iterable[str], name: str = "access.log", **kwargs: Any
) -> None:
    Ingest(state, **kwargs).run([str(write_log(list(lines), name))])


def day_report(state: StateDir, *args: str, tenant: str = TENANT, day: str = DAY) -> dict[str, Any]:
    return report_json(state, "--tenant", tenant, "--start", day, "--end", day, *args)


def pages(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """top_pages as {path: (views, unique_views, entries, exits, avg_time_seconds)}."""
    return {
        p["path"]: (p["views"], p["unique_views"], p["entries"], p["exits"], p["avg_time_seconds"])
        for p in report["top_pages"]
    }


def referrers(report: dict[str, Any]) -> dict[str, int]:
    return {r["source"]: r["visits"] for r in report["top_referrers"]}


def content(report: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """content as {post_id: (views, unique_views, reactions, comments, shares)}."""
    return {
        c["post_id"]: (c["views"], c["unique_views"], c["reactions"], c["comments"], c["shares"])
        for c in report["content"]
    }


# --- Hand-written visits --------------------------------------------------------------------------


@dataclass
class Scenario:
    """Log lines of one tenant-day (TENANT, DAY) and every number they give, counted by hand."""

    name: str
    lines: list[str]
    sessions: int
    bounces: int
    bounce_rate: float
    duration_total: int
    avg_session_duration: float
    pages: dict[str, tuple[int, int, int, int, float]]  # path -> views, uniques, entries, exits, avg time
    referrers: dict[str, int]  # source -> visits
    content: dict[str, tuple[int, int]] = field(default_factory=dict)  # post_id -> views, unique views
    read_time: dict[str, tuple[int, int]] = field(default_factory=dict)  # post_id -> total s, count
    tenant_option: str | None = None  # Ingest(tenant=...)


SCENARIOS = [
    Scenario(
        name="one bounce",
        lines=[
            view("1.1.1.1", "10:00:00", "/"),
            asset("1.1.1.1", "10:00:01"),  # an asset: not a page view
            view("2.2.2.2", "10:05:00", "/about", ua=GOOGLEBOT),  # a bot: no session
            line(
                ip="1.1.1.1", when="01/Dec/2025:10:06:00 +0000", request="POST /comment HTTP/1.1", vhost=HOST
            ),  # not a GET
            line(
                ip="1.1.1.1",
                when="01/Dec/2025:10:07:00 +0000",
                request="GET /missing HTTP/1.1",
                status=404,
                vhost=HOST,
            ),  # not a 2xx/304
        ],
        sessions=1,
        bounces=1,
        bounce_rate=1.0,
        duration_total=0,
        avg_session_duration=0.0,
        pages={"/": (1, 1, 1, 1, 0.0)},
        referrers={"direct": 1},
    ),
    Scenario(
        name="three-page session and a bounce",
        lines=[
            view("1.1.1.1", "10:00:00", "/", "https://news.ycombinator.com/item?id=1"),
            asset("1.1.1.1", "10:00:01"),
            view("1.1.1.1", "10:01:30", "/posts/hello-world/", f"https://{HOST}/"),
            asset("1.1.1.1", "10:01:31", referrer=f"https://{HOST}/posts/hello-world/"),
            view(
                "1.1.1.1",
                "10:05:30",
                "/about",
                f"https://{HOST}/posts/hello-world/",
            ),
            view("2.2.2.2", "11:00:00", "/"),
        ],
        sessions=2,
        bounces=1,
        bounce_rate=0.5,
        duration_total=330,  # 10:00:00 .. 10:05:30, and 0 for the bounce
        avg_session_duration=165.0,
        pages={
            "/": (2, 2, 2, 1, 90.0),  # time on page: 10:00:00 -> 10:01:30 (the bounce has none)
            "/posts/hello-world/": (1, 1, 0, 0, 240.0),  # 10:01:30 -> 10:05:30
            "/about": (1, 1, 0, 1, 0.0),  # last page: no time on page
        },
        referrers={"news.ycombinator.com": 1, "direct": 1},
        content={"hello-world": (1, 1)},
        read_time={"hello-world": (240, 1)},
    ),
    Scenario(
        name="31-minute gap splits, 30-minute gap does not",
        lines=[
            view("1.1.1.1", "10:00:00", "/"),
            view("1.1.1.1", "10:31:00", "/about", f"https://{HOST}/"),
            view("2.2.2.2", "10:00:00", "/"),
            view("2.2.2.2", "10:30:00", "/about", f"https://{HOST}/"),
        ],
        sessions=3,  # 1.1.1.1 twice (both bounces), 2.2.2.2 once
        bounces=2,
        bounce_rate=2 / 3,
        duration_total=1800,
        avg_session_duration=600.0,
        pages={"/": (2, 2, 2, 1, 1800.0), "/about": (2, 2, 1, 2, 0.0)},
        referrers={"direct": 3},  # 1.1.1.1's second session opens with an internal referrer
    ),
    Scenario(
        name="page views in the same second are ordered by path, then source",
        lines=[
            view("1.1.1.1", "10:00:00", "/b", "https://www.google.com/"),  # logged first, ordered second
            view("1.1.1.1", "10:00:00", "/a"),
            view("1.1.1.1", "10:01:00", "/c", f"https://{HOST}/b"),
            view("2.2.2.2", "12:00:00", "/x", "https://b.example/"),
            view("2.2.2.2", "12:00:00", "/x", "https://a.example/"),  # same path: a.example first
        ],
        sessions=2,
        bounces=0,
        bounce_rate=0.0,
        duration_total=60,
        avg_session_duration=30.0,
        pages={
            "/a": (1, 1, 1, 0, 0.0),  # entry; 0 s to /b (counted, but 0)
            "/b": (1, 1, 0, 0, 60.0),
            "/c": (1, 1, 0, 1, 0.0),
            "/x": (2, 1, 1, 1, 0.0),
        },
        referrers={"direct": 1, "a.example": 1},  # /a has no source; the session is direct
    ),
    Scenario(
        name="self-referrals are internal navigation",
        lines=[
            view("1.1.1.1", "10:00:00", "/", "https://www.google.com/search?q=rings"),
            view("1.1.1.1", "10:02:00", "/about", f"https://{HOST}/"),  # internal: still google.com
            # opens with a referrer from its own host (www. and port removed): direct
            view(
                "2.2.2.2",
                "11:00:00",
                "/posts/hello-world/",
                "https://www.site.example:8443/",
                vhost="www.site.example:8443",
            ),
            view("3.3.3.3", "12:00:00", "/", "https://other.example/"),
            view("4.4.4.4", "13:00:00", "/"),
            view("4.4.4.4", "13:40:00", "/about", f"http://{HOST}/"),  # new session, internal: direct
        ],
        sessions=5,
        bounces=4,
        bounce_rate=0.8,
        duration_total=120,
        avg_session_duration=24.0,
        pages={
            "/": (3, 3, 3, 2, 120.0),
            "/about": (2, 2, 1, 2, 0.0),
            "/posts/hello-world/": (1, 1, 1, 1, 0.0),
        },
        referrers={"google.com": 1, "direct": 3, "other.example": 1},
        content={"hello-world": (1, 1)},
        read_time={"hello-world": (0, 0)},
    ),
    Scenario(
        name="without a virtual host the own host is the tenant name",
        lines=[
            view("1.1.1.1", "10:00:00", "/", "https://www.site.example/blog", vhost=None),
            view("2.2.2.2", "10:00:00", "/", "https://blog.site.example/", vhost=None),
        ],
        tenant_option=TENANT,
        sessions=2,
        bounces=2,
        bounce_rate=1.0,
        duration_total=0,
        avg_session_duration=0.0,
        pages={"/": (2, 2, 2, 2, 0.0)},
        referrers={"direct": 1, "blog.site.example": 1},
    ),
    Scenario(
        name="utm_source and ref come first",
        lines=[
            view(
                "1.1.1.1",
                "10:00:00",
                "/?utm_source=newsletter&utm_medium=email&utm_campaign=dec",
                "https://www.google.com/",
            ),
            view(
                "2.2.2.2", "10:00:00", "/pricing?ref=producthunt", "https://www.producthunt.com/posts/rings"
            ),
            view("3.3.3.3", "10:00:00", "/?utm_source=&ref=hn"),  # empty utm_source: ref
            view("4.4.4.4", "10:00:00", "/?utm_source=a+b%20c"),  # raw, not decoded
            view("5.5.5.5", "10:00:00", "/?ref=", "https://duckduckgo.com/"),  # empty ref: the referrer
            view("6.6.6.6", "10:00:00", "/"),
            view("6.6.6.6", "10:01:00", "/about?utm_source=twitter", f"https://{HOST}/"),  # not the first
            view("7.7.7.7", "10:00:00", "/?ref=producthunt"),
        ],
        sessions=7,
        bounces=6,
        bounce_rate=6 / 7,
        duration_total=60,
        avg_session_duration=60 / 7,
        pages={"/": (6, 6, 6, 5, 60.0), "/pricing": (1, 1, 1, 1, 0.0), "/about": (1, 1, 0, 1, 0.0)},
        referrers={
            "newsletter": 1,
            "producthunt": 2,
            "hn": 1,
            "a+b%20c": 1,
            "duckduckgo.com": 1,
            "direct": 1,
        },
    ),
    Scenario(
        name="referrer hosts lose www. and the port",
        lines=[
            view("1.1.1.1", "10:00:00", "/", "https://www.Example.COM:8443/page?x=1"),
            view("2.2.2.2", "10:00:00", "/", "http://news.ycombinator.com:80/item?id=1"),
            view("3.3.3.3", "10:00:00", "/", "https://www.reddit.com/r/selfhosted/"),
            view("4.4.4.4", "10:00:00", "/", "https://WWW.EXAMPLE.com/"),
            view("5.5.5.5", "10:00:00", "/", "android-app://com.google.android.gm/"),  # an app: a source
        ],
        sessions=5,
        bounces=5,
        bounce_rate=1.0,
        duration_total=0,
        avg_session_duration=0.0,
        pages={"/": (5, 5, 5, 5, 0.0)},
        referrers={"example.com": 2, "news.ycombinator.com": 1, "reddit.com": 1, "com.google.android.gm": 1},
    ),
    Scenario(
        name="posts: views, unique views and read time",
        lines=[
            view("1.1.1.1", "10:00:00", "/posts/hello-world/"),
            view("1.1.1.1", "10:02:00", "/blog/hello-world", f"https://{HOST}/posts/hello-world/"),
            view("1.1.1.1", "10:05:00", "/posts/other", f"https://{HOST}/blog/hello-world"),
            view("2.2.2.2", "11:00:00", "/posts/hello-world/"),
            view("2.2.2.2", "11:10:00", "/blog/"),  # not a post
            view("2.2.2.2", "11:20:00", "/posts/hello-world/comments"),  # not a post
        ],
        sessions=2,
        bounces=0,
        bounce_rate=0.0,
        duration_total=300 + 1200,
        avg_session_duration=750.0,
        pages={
            "/posts/hello-world/": (2, 2, 2, 0, 360.0),  # (120 + 600) / 2
            "/blog/hello-world": (1, 1, 0, 0, 180.0),
            "/posts/other": (1, 1, 0, 1, 0.0),
            "/blog/": (1, 1, 0, 0, 600.0),
            "/posts/hello-world/comments": (1, 1, 0, 1, 0.0),
        },
        referrers={"direct": 2},
        content={"hello-world": (3, 2), "other": (1, 1)},
        read_time={"hello-world": (120 + 180 + 600, 3), "other": (0, 0)},
    ),
]


def check_report(report: dict[str, Any], s: Scenario) -> None:
    """The report of one tenant-day holds every number of the scenario."""
    totals = report["totals"]
    assert totals["sessions"] == s.sessions
    assert totals["bounce_rate"] == approx(s.bounce_rate)
    assert totals["avg_session_duration"] == approx(s.avg_session_duration)
    [day] = report["days"]
    assert day["sessions"] == s.sessions
    assert day["bounce_rate"] == approx(s.bounce_rate)
    assert pages(report) == {path: (*v[:4], approx(v[4])) for path, v in s.pages.items()}
    assert referrers(report) == s.referrers
    visits = [r["visits"] for r in report["top_referrers"]]
    assert visits == sorted(visits, reverse=True)
    assert content(report) == {post_id: (v, u, 0, 0, 0) for post_id, (v, u) in s.content.items()}


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_reference_agrees_with_the_hand_counts(s: Scenario) -> None:
    """The oracle itself: the hand-counted numbers are what tests/reference.py computes."""
    assert s.bounce_rate == approx(s.bounces / s.sessions)
    assert s.avg_session_duration == approx(s.duration_total / s.sessions)
    ref = reference(s.lines, s.tenant_option).days[(TENANT, DAY)]
    got = reference_sessions(s.lines, s.tenant_option)
    assert list(got) == [(TENANT, DAY)]
    c = got[(TENANT, DAY)]
    assert (c.sessions, c.bounces, c.duration_total) == (s.sessions, s.bounces, s.duration_total)
    ref_pages = {
        path: (
            *ref.pages[path],
            p.entries,
            p.exits,
            approx(p.time_total / p.time_count if p.time_count else 0.0),
        )
        for path, p in c.pages.items()
    }
    assert ref_pages == s.pages
    assert c.referrers == s.referrers
    assert {post_id: (p.views, p.unique_views) for post_id, p in c.content.items()} == s.content
    read_time = {post_id: (p.read_time_total, p.read_time_count) for post_id, p in c.content.items()}
    assert read_time == (s.read_time or {post_id: (0, 0) for post_id in s.content})


@pytest.mark.parametrize("s", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_hand_written_visits(s: Scenario, state: StateDir, write_log: WriteLog) -> None:
    ingest(state, write_log, s.lines, tenant=s.tenant_option)
    check_report(day_report(state), s)


@pytest.mark.parametrize(("gap", "sessions"), [(1799, 1), (1800, 1), (1801, 2), (1860, 2)])
def test_a_gap_over_30_minutes_splits_the_session(
    state: StateDir, write_log: WriteLog, gap: int, sessions: int
) -> None:
    minutes, seconds = divmod(gap, 60)
    ingest(
        state, write_log, [view("1.1.1.1", "10:00:00"), view("1.1.1.1", f"10:{minutes:02d}:{seconds:02d}")]
    )
    report = day_report(state)
    assert report["totals"]["sessions"] == sessions
    assert report["totals"]["bounce_rate"] == approx(1.0 if sessions == 2 else 0.0)
    assert report["totals"]["avg_session_duration"] == approx(0.0 if sessions == 2 else gap)
    assert pages(report) == {"/": (2, 1, sessions, sessions, approx(0.0 if sessions == 2 else gap))}
    assert referrers(report) == {"direct": sessions}


def test_sessions_end_at_midnight(state: StateDir, write_log: WriteLog) -> None:
    """A session lives in one tenant-day: 23:50 and 00:10 are two bounces, one on each day."""
    lines = [
        view("1.1.1.1", "23:50:00", "/", "https://lobste.rs/"),
        view("1.1.1.1", "00:10:00", "/about", f"https://{HOST}/", day="02/Dec/2025"),
    ]
    ingest(state, write_log, lines)
    report = report_json(state, "--tenant", TENANT, "--start", "2025-12-01", "--end", "2025-12-02")
    assert report["totals"]["sessions"] == 2
    assert report["totals"]["bounce_rate"] == approx(1.0)
    assert report["totals"]["avg_session_duration"] == approx(0.0)
    assert [(d["date"], d["sessions"], d["bounce_rate"]) for d in report["days"]] == [
        ("2025-12-01", 1, approx(1.0)),
        ("2025-12-02", 1, approx(1.0)),
    ]
    assert pages(report) == {"/": (1, 1, 1, 1, approx(0.0)), "/about": (1, 1, 1, 1, approx(0.0))}
    assert referrers(report) == {"lobste.rs": 1, "direct": 1}
    ref = reference_sessions(lines)
    assert {day: c.sessions for (_, day), c in ref.items()} == {"2025-12-01": 1, "2025-12-02": 1}


# --- Sessions across ingest runs (these construct Ingest(state, now=...)) --------------------------


def test_a_session_spanning_two_runs_is_one_session(
    state: StateDir, write_log: WriteLog, tmp_path: Path
) -> None:
    first = [
        view("1.1.1.1", "10:00:00", "/", "https://www.google.com/"),
        view("2.2.2.2", "10:00:00", "/"),
    ]
    second = [
        view("1.1.1.1", "10:10:00", "/about", f"https://{HOST}/"),  # continues 1.1.1.1's session
        view("1.1.1.1", "10:50:00", "/x", f"https://{HOST}/about"),  # 40 min later: a new session
    ]
    ingest(state, write_log, first, "a.log", now=AFTER_DAY)
    after_first = day_report(state)
    assert after_first["totals"]["sessions"] == 2
    assert after_first["totals"]["bounce_rate"] == approx(1.0)
    assert referrers(after_first) == {"google.com": 1, "direct": 1}

    ingest(state, write_log, second, "b.log", now=AFTER_DAY)
    report = day_report(state)
    assert report["totals"]["sessions"] == 3
    assert report["totals"]["bounce_rate"] == approx(2 / 3)  # 2.2.2.2, and 1.1.1.1's /x
    assert report["totals"]["avg_session_duration"] == approx(600 / 3)
    assert [(d["sessions"], d["bounce_rate"]) for d in report["days"]] == [(3, approx(2 / 3))]
    assert pages(report) == {
        "/": (2, 2, 2, 1, approx(600.0)),
        "/about": (1, 1, 0, 1, approx(0.0)),
        "/x": (1, 1, 1, 1, approx(0.0)),
    }
    assert referrers(report) == {"google.com": 1, "direct": 2}

    one_run = StateDir(tmp_path / "one-run")
    ingest(one_run, write_log, first + second, "all.log", now=AFTER_DAY)
    assert day_report(one_run) == report


def test_an_earlier_page_view_arriving_in_a_later_run(
    state: StateDir, write_log: WriteLog, tmp_path: Path
) -> None:
    """Sessions follow page view times, not arrival order: a log line written late (or a slice
    boundary in a log whose lines are a few seconds out of order) changes nothing."""
    s = SCENARIOS[1]  # the three-page session and a bounce
    later = [s.lines[4]]  # 10:05:30 /about
    earlier = [ln for i, ln in enumerate(s.lines) if i != 4]
    ingest(state, write_log, later, "a.log", now=AFTER_DAY)
    ingest(state, write_log, earlier, "b.log", now=AFTER_DAY)
    check_report(day_report(state), s)
    one_run = StateDir(tmp_path / "one-run")
    ingest(one_run, write_log, s.lines, "all.log", now=AFTER_DAY)
    assert day_report(one_run) == day_report(state)


# --- The report's shape ----------------------------------------------------------------------------


def test_report_json_has_the_contracts_session_keys(state: StateDir, write_log: WriteLog) -> None:
    ingest(state, write_log, SCENARIOS[1].lines)
    report = day_report(state)
    assert {"sessions", "bounce_rate", "avg_session_duration"} <= set(report["totals"])
    assert isinstance(report["totals"]["sessions"], int)
    assert isinstance(report["totals"]["bounce_rate"], float)
    assert 0.0 <= report["totals"]["bounce_rate"] <= 1.0  # a fraction, not a percentage
    assert isinstance(report["totals"]["avg_session_duration"], float)
    for d in report["days"]:
        assert {"date", "sessions", "bounce_rate"} <= set(d)
    for p in report["top_pages"]:
        assert {"path", "views", "unique_views", "entries", "exits", "avg_time_seconds"} <= set(p)
        assert isinstance(p["avg_time_seconds"], float)
    for r in report["top_referrers"]:
        assert {"source", "visits"} <= set(r)
    for c in report["content"]:
        assert {"post_id", "views", "unique_views", "reactions", "comments", "shares"} <= set(c)


def test_limit_applies_to_referrers_and_content(state: StateDir, write_log: WriteLog) -> None:
    lines = [
        view("10.0.0.1", "10:00:00", "/?ref=producthunt"),
        view("10.0.0.1", "10:01:00", "/posts/a/", f"https://{HOST}/?ref=producthunt"),
        view("10.0.0.1", "10:02:00", "/posts/a/", f"https://{HOST}/posts/a/"),
        view("10.0.0.2", "10:00:00", "/?ref=producthunt"),
        view("10.0.0.2", "10:01:00", "/posts/a/", f"https://{HOST}/?ref=producthunt"),
        view("10.0.0.3", "10:00:00", "/"),
        view("10.0.0.3", "10:01:00", "/posts/b/", f"https://{HOST}/"),
        view("10.0.0.4", "10:00:00", "/"),
        view("10.0.0.5", "10:00:00", "/"),
        view("10.0.0.6", "10:00:00", "/?ref=hn"),
    ]
    assert reference_sessions(lines)[(TENANT, DAY)].referrers == {"direct": 3, "producthunt": 2, "hn": 1}
    ingest(state, write_log, lines)
    report = day_report(state, "--limit", "2")
    assert [(r["source"], r["visits"]) for r in report["top_referrers"]] == [
        ("direct", 3),
        ("producthunt", 2),
    ]
    assert [(c["post_id"], c["views"], c["unique_views"]) for c in report["content"]] == [
        ("a", 3, 2),
        ("b", 1, 1),
    ]
    assert [p["path"] for p in report["top_pages"]] == ["/", "/posts/a/"]
    one = day_report(state, "--limit", "1")
    assert [(r["source"], r["visits"]) for r in one["top_referrers"]] == [("direct", 3)]
    assert [(c["post_id"], c["views"], c["unique_views"]) for c in one["content"]] == [("a", 3, 2)]


# --- Generated logs against the reference ---------------------------------------------------------

GEN_START = "2025-12-01"
GEN_DAYS = ("2025-12-01", "2025-12-02", "2025-12-03")
GEN_TENANTS = ("alice.example", "bob.example", "carol.example")
LIMIT = "1000"


@cache
def generated_lines() -> tuple[str, ...]:
    return tuple(generate(lines=20_000, seed=11, start=GEN_START, days=len(GEN_DAYS)))


def expected_day(key: tuple[str, str]) -> dict[str, Any]:
    """What a one-day report of tenant-day `key` must say, from the reference."""
    lines = generated_lines()
    ref = reference(lines).days[key]
    c = reference_sessions(lines)[key]
    return {
        "sessions": c.sessions,
        "bounce_rate": approx(c.bounces / c.sessions if c.sessions else 0.0),
        "avg_session_duration": approx(c.duration_total / c.sessions if c.sessions else 0.0),
        "pages": {
            path: (
                *ref.pages[path],
                p.entries,
                p.exits,
                approx(p.time_total / p.time_count if p.time_count else 0.0),
            )
            for path, p in c.pages.items()
        },
        "referrers": c.referrers,
        "content": {post_id: (p.views, p.unique_views) for post_id, p in c.content.items()},
    }


def test_generated_log_matches_reference_per_tenant_day(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(generated_lines()) + "\n")
    state = StateDir(tmp_path / "state")
    Ingest(state, chunk_bytes=256 * 1024).run([str(log)])  # small chunks: sessions span batches
    keys = sorted(reference_sessions(generated_lines()))
    assert keys == [(t, d) for t in GEN_TENANTS for d in GEN_DAYS]
    for tenant, day in keys:
        report = day_report(state, "--limit", LIMIT, tenant=tenant, day=day)
        want = expected_day((tenant, day))
        assert len(report["top_pages"]) < int(LIMIT)
        got = {
            "sessions": report["totals"]["sessions"],
            "bounce_rate": report["totals"]["bounce_rate"],
            "avg_session_duration": report["totals"]["avg_session_duration"],
            "pages": pages(report),
            "referrers": referrers(report),
            "content": {post_id: v[:2] for post_id, v in content(report).items()},
        }
        assert got == want, (tenant, day)
        assert [(d["date"], d["sessions"], d["bounce_rate"]) for d in report["days"]] == [
            (day, want["sessions"], want["bounce_rate"])
        ]


def test_generated_log_matches_reference_in_the_warehouse(tmp_path: Path) -> None:
    """The numbers the report does not show (hourly sessions and time on page, read time, totals of
    seconds) straight from the warehouse. Column names are assumed: daily(sessions, bounces,
    duration_total), pages(entries, exits, time_total, time_count), referrers(source, visits),
    hourly(sessions, bounces, time_total, time_count), content(read_time_total, read_time_count)."""
    log = tmp_path / "access.log"
    log.write_text("\n".join(generated_lines()) + "\n")
    state = StateDir(tmp_path / "state")
    Ingest(state, chunk_bytes=256 * 1024).run([str(log)])
    ref = reference_sessions(generated_lines())
    want: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {
        "daily": {k: (c.sessions, c.bounces, c.duration_total) for k, c in ref.items()},
        "pages": {
            (*k, path): (p.entries, p.exits, p.time_total, p.time_count)
            for k, c in ref.items()
            for path, p in c.pages.items()
        },
        "referrers": {(*k, source): (n,) for k, c in ref.items() for source, n in c.referrers.items()},
        "hourly": {
            (*k, hour): (h.sessions, h.bounces, h.time_total, h.time_count)
            for k, c in ref.items()
            for hour, h in c.hours.items()
        },
        "content": {
            (*k, post_id): (p.read_time_total, p.read_time_count)
            for k, c in ref.items()
            for post_id, p in c.content.items()
        },
    }
    sql = {
        "daily": "SELECT tenant, strftime(date, '%Y-%m-%d'), sessions, bounces, duration_total FROM daily",
        "pages": "SELECT tenant, strftime(date, '%Y-%m-%d'), path, entries, exits, time_total, time_count"
        " FROM pages",
        "referrers": "SELECT tenant, strftime(date, '%Y-%m-%d'), source, visits FROM referrers",
        "hourly": "SELECT tenant, strftime(date, '%Y-%m-%d'), hour, sessions, bounces, time_total,"
        " time_count FROM hourly WHERE page_views > 0",
        "content": "SELECT tenant, strftime(date, '%Y-%m-%d'), post_id, read_time_total, read_time_count"
        " FROM content",
    }
    key_width = {"daily": 2, "pages": 3, "referrers": 3, "hourly": 3, "content": 3}
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        for table, query in sql.items():
            rows = con.execute(query).fetchall()
            n = key_width[table]
            got = {tuple(r[:n]): tuple(r[n:]) for r in rows}
            assert got == want[table], table


def test_ten_slices_equal_one_run(tmp_path: Path) -> None:
    """One run, or ten consecutive runs of a tenth each (nothing finalized in between): the same
    reports; and finalizing afterwards changes no number."""
    lines = generated_lines()
    whole = StateDir(tmp_path / "whole")
    (tmp_path / "all.log").write_text("\n".join(lines) + "\n")
    Ingest(whole, grace=None).run([str(tmp_path / "all.log")])
    sliced = StateDir(tmp_path / "sliced")
    step = len(lines) // 10
    for i in range(10):
        part = tmp_path / f"part{i}.log"
        part.write_text("\n".join(lines[i * step : (i + 1) * step if i < 9 else None]) + "\n")
        Ingest(sliced, grace=None).run([str(part)])

    def reports(state: StateDir) -> dict[str | None, dict[str, Any]]:
        out = {}
        for tenant in (*GEN_TENANTS, None):
            args = ("--tenant", tenant) if tenant else ()
            out[tenant] = report_json(
                state, *args, "--start", GEN_DAYS[0], "--end", GEN_DAYS[-1], "--limit", LIMIT
            )
        return out

    before = reports(whole)
    assert before[None]["totals"]["sessions"] == sum(c.sessions for c in reference_sessions(lines).values())
    assert reports(sliced) == before

    (tmp_path / "empty.log").write_text("")
    for state in (whole, sliced):
        Ingest(state).run([str(tmp_path / "empty.log")])  # now = the real clock: finalizes every day
        assert reports(state) == before
