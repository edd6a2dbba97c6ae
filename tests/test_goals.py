"""Goals and funnels (issue 30): every number counted by hand.

The day is long past: a single run writes it straight to the warehouse as finalized; runs with
`now=AFTER_DAY` keep it open in a DO file (inside the grace period), so batches, runs, late lines
and goals added later are each checked against the same hand counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.config import load_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import line, report_json, run_cli

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DAY = "2025-12-01"
AFTER_DAY = dt.datetime(2025, 12, 2, 0, 30, tzinfo=dt.UTC)  # inside the 1 h grace: DAY stays open

CONFIG = """
[[rules]]
event = "subscribe"
method = "POST"
path = "^/subscribe$"

[goals]
signup = "/welcome"
docs = "/docs/**"
newsletter = "event:subscribe"

[funnels]
checkout = ["/", "/pricing", "goal:signup"]
"""


def hit(
    ip: str, at: str, path: str, referrer: str = "-", ua: str = FIREFOX, method: str = "GET", day: str = "01"
) -> str:
    return line(
        ip=ip,
        when=f"{day}/Dec/2025:{at} +0000",
        request=f"{method} {path} HTTP/1.1",
        referrer=referrer,
        ua=ua,
    )


# A: / (from google) -> /pricing -> /about -> /welcome: the whole funnel, other pages between.
# B: /pricing -> / -> /welcome: steps out of order: step 1 only.
# C: / ... 40 minutes ... /pricing -> /welcome: the gap splits the session: step 1 only;
#    then /docs/a/b and /docs/ (docs twice) and POST /subscribe (newsletter).
# D: /welcome twice (signup: 2 completions, 1 visitor), no funnel step.
# Googlebot: /welcome (a bot: no completion). E: an asset under /docs (not a page view).
LINES = [
    hit("10.0.0.1", "10:00:00", "/", "https://www.google.com/"),
    hit("10.0.0.1", "10:01:00", "/pricing"),
    hit("10.0.0.1", "10:02:00", "/about"),
    hit("10.0.0.1", "10:03:00", "/welcome"),
    hit("10.0.0.2", "10:05:00", "/pricing"),
    hit("10.0.0.2", "10:06:00", "/"),
    hit("10.0.0.2", "10:07:00", "/welcome"),
    hit("10.0.0.3", "10:00:00", "/"),
    hit("10.0.0.3", "10:41:00", "/pricing", "https://news.example/"),
    hit("10.0.0.3", "10:42:00", "/welcome"),
    hit("10.0.0.3", "10:43:00", "/docs/a/b"),
    hit("10.0.0.3", "10:44:00", "/docs/"),
    hit("10.0.0.3", "10:45:00", "/subscribe", method="POST"),
    hit("10.0.0.4", "11:00:00", "/welcome", ua=CHROME),
    hit("10.0.0.4", "11:05:00", "/welcome", ua=CHROME),
    hit("10.0.0.9", "11:00:00", "/welcome", ua=GOOGLEBOT),
    hit("10.0.0.5", "11:00:00", "/docs/logo.png"),
]
UNIQUES = 4  # A, B, C, D (the bot and the asset are no visitors)


def setup(state: StateDir, text: str = CONFIG) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    (state.root / "rings.toml").write_text(text)


def ingest(state: StateDir, tmp_path: Path, lines: list[str], name: str = "a.log", **kwargs: Any) -> None:
    path = tmp_path / name
    path.write_text("".join(x + "\n" for x in lines))
    Ingest(state, config=load_config(None, state), **kwargs).run([str(path)])


def goals(report: dict[str, Any]) -> dict[str, tuple[int, int, float]]:
    return {g["goal"]: (g["visitors"], g["completions"], g["conversion_rate"]) for g in report["goals"]}


def sources(report: dict[str, Any], goal: str) -> dict[str, int]:
    found = next(g for g in report["goals"] if g["goal"] == goal)
    return {s["source"]: s["visitors"] for s in found["sources"]}


def funnel(report: dict[str, Any], name: str = "checkout") -> list[tuple[str, int]]:
    found = next(f for f in report["funnels"] if f["funnel"] == name)
    return [(s["step"], s["visitors"]) for s in found["steps"]]


HAND = {
    "signup": (4, 5, pytest.approx(4 / UNIQUES)),  # A, B, C, D (D twice)
    "docs": (1, 2, pytest.approx(1 / UNIQUES)),
    "newsletter": (1, 1, pytest.approx(1 / UNIQUES)),
}
FUNNEL = [("/", 3), ("/pricing", 1), ("goal:signup", 1)]


def check_hand_counts(report: dict[str, Any]) -> None:
    assert report["totals"]["unique_visitors"] == UNIQUES
    assert goals(report) == HAND
    # The session each visitor first completed signup in: A's from google; C's second session
    # came from news.example; B's and D's direct.
    assert sources(report, "signup") == {"direct": 2, "google.com": 1, "news.example": 1}
    assert sources(report, "newsletter") == {"news.example": 1}  # C's second session
    assert funnel(report) == FUNNEL
    assert report["funnels"][0]["conversion_rate"] == pytest.approx(1 / 3)
    assert "goals_since" not in report


def test_hand_counted_goals_and_funnel_in_one_run(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    ingest(state, tmp_path, LINES)  # the day is over: straight to the warehouse, finalized
    check_hand_counts(report_json(state, "--all"))
    audit = run_cli("audit", "--state-dir", str(state.root))
    assert audit.exit_code == 0, audit.output


def test_the_same_numbers_line_by_line_across_runs_then_finalized(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    for i, one in enumerate(LINES):  # one run a line, the day kept open in its DO file
        ingest(state, tmp_path, [one], f"{i}.log", now=AFTER_DAY)
    check_hand_counts(report_json(state, "--all"))
    finalize = run_cli("finalize", "--state-dir", str(state.root))
    assert finalize.exit_code == 0, finalize.output
    check_hand_counts(report_json(state, "--all"))  # kept at finalization, with no hash left
    audit = run_cli("audit", "--state-dir", str(state.root))
    assert audit.exit_code == 0, audit.output


def test_late_lines_add_completions_never_visitors(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    ingest(state, tmp_path, LINES)
    ingest(state, tmp_path, [hit("10.0.0.7", "12:00:00", "/welcome")], "late.log")  # a finalized day
    report = report_json(state, "--all")
    assert goals(report)["signup"][:2] == (4, 6)
    assert report["totals"]["unique_visitors"] == UNIQUES


def test_a_range_sums_days_and_rates_the_sums(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    second_day = [
        hit("10.0.0.1", "09:00:00", "/welcome", day="02"),
        hit("10.0.0.2", "09:00:00", "/", day="02"),
    ]
    ingest(state, tmp_path, LINES + second_day)
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")
    assert goals(report)["signup"] == (5, 6, pytest.approx(5 / 6))  # 4 + 1 visitors of 4 + 2 uniques
    assert funnel(report) == [("/", 4), ("/pricing", 1), ("goal:signup", 1)]
    second = report_json(state, "--start", "2025-12-02", "--end", "2025-12-02")
    assert goals(second) == {
        "signup": (1, 1, pytest.approx(0.5)),
        "docs": (0, 0, 0.0),
        "newsletter": (0, 0, 0.0),
    }


def test_goals_added_later_count_open_days_from_their_start(state: StateDir, tmp_path: Path) -> None:
    state.root.mkdir(parents=True)
    rule = CONFIG.split("[goals]")[0]
    (state.root / "rings.toml").write_text(rule)
    earlier = [hit("10.0.0.1", "10:00:00", "/welcome", day="30")]
    ingest(state, tmp_path, [x.replace("/Dec/", "/Nov/") for x in earlier], "nov.log", now=AFTER_DAY)
    ingest(state, tmp_path, LINES[:7], "first.log", now=AFTER_DAY)  # DAY open, no goals yet
    assert "goals" not in report_json(state, "--all")
    setup(state)  # now the goals: DAY is still open, its page views are there
    ingest(state, tmp_path, LINES[7:], "rest.log", now=AFTER_DAY)
    report = report_json(state, "--all")
    assert goals(report) == HAND  # counted from the day's start, not from the change
    assert funnel(report) == FUNNEL
    assert report["goals_since"] == {"docs": DAY, "newsletter": DAY, "signup": DAY}  # not Nov 30
    assert goals(report_json(state, "--start", "2025-11-30", "--end", "2025-11-30")) == {
        "docs": (0, 0, 0.0),
        "newsletter": (0, 0, 0.0),
        "signup": (0, 0, 0.0),
    }


def test_goals_changed_before_finalizing_are_counted_again(state: StateDir, tmp_path: Path) -> None:
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(CONFIG.split("[goals]")[0])
    ingest(state, tmp_path, LINES, now=AFTER_DAY)  # open, no goals
    setup(state)
    finalize = run_cli("finalize", "--state-dir", str(state.root))  # no line since: finalizing recounts
    assert finalize.exit_code == 0, finalize.output
    check_hand_counts(report_json(state, "--all"))


def test_goals_in_compare_csv_and_table(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    ingest(state, tmp_path, LINES)
    report = report_json(state, "--start", DAY, "--end", DAY, "--compare", "previous")
    assert [g["goal"] for g in report["compare"]["goals"]] == [g["goal"] for g in report["goals"]]
    assert all(g["visitors"] == 0 for g in report["compare"]["goals"])
    csv = run_cli("report", "--state-dir", str(state.root), "--all", "-f", "csv", "--section", "funnels")
    assert csv.stdout.splitlines() == [
        "funnel,step_number,step,visitors",
        "checkout,1,/,3",
        "checkout,2,/pricing,1",
        "checkout,3,goal:signup,1",
    ]
    table = run_cli("report", "--state-dir", str(state.root), "--all", "-f", "table")
    assert "Goals" in table.stdout and "Funnel checkout" in table.stdout
    assert "2. /pricing" in table.stdout


def test_no_goals_configured_means_no_keys(state: StateDir, tmp_path: Path) -> None:
    state.root.mkdir(parents=True)
    ingest(state, tmp_path, LINES)
    report = report_json(state, "--all")
    assert "goals" not in report and "funnels" not in report


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[funnels]\nf = ["/", "goal:nope"]', "unknown goal 'nope'"),
        ('[goals]\nsignup = ""', "starts with /"),
        ('[goals]\nx = "event:Bad-Name"', "not an event name"),
        ('[goals]\nx = "event:subscribe"', "no route rule makes the event 'subscribe'"),
        ('[funnels]\nf = ["/"]', "2 to 16 steps"),
        ('[goals."Not A Tenant"]\nx = "/a"', "not a tenant name"),
    ],
)
def test_bad_goals_are_one_line_before_any_data_moves(
    state: StateDir, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(UsageError, match=r"goal|funnel|tenant|event|step|/"):
        setup(state, text)
        load_config(None, state)
    (tmp_path / "a.log").write_text(LINES[0] + "\n")
    result = run_cli("ingest", "--state-dir", str(state.root), str(tmp_path / "a.log"))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (state.root / "do").exists() and not (state.root / "warehouse.duckdb").exists()


def test_a_tenants_own_goals_replace_the_global_ones_of_that_name(state: StateDir, tmp_path: Path) -> None:
    setup(
        state,
        """
[goals]
signup = "/welcome"
[goals."shop.example"]
signup = "/thanks"
cart = "/cart/*"
[funnels."shop.example"]
buy = ["/cart/*", "goal:signup"]
""",
    )

    def at(ip: str, minute: int, path: str, host: str) -> str:
        return line(
            ip=ip, when=f"01/Dec/2025:10:{minute:02d}:00 +0000", request=f"GET {path} HTTP/1.1", vhost=host
        )

    ingest(
        state,
        tmp_path,
        [
            at("10.0.0.1", 0, "/welcome", "blog.example"),
            at("10.0.0.2", 0, "/welcome", "shop.example"),  # the global goal is not shop's
            at("10.0.0.3", 0, "/cart/1", "shop.example"),
            at("10.0.0.3", 1, "/thanks", "shop.example"),
        ],
    )
    blog = report_json(state, "--tenant", "blog.example", "--all")
    shop = report_json(state, "--tenant", "shop.example", "--all")
    assert goals(blog) == {"signup": (1, 1, 1.0)}
    assert goals(shop) == {"signup": (1, 1, 0.5), "cart": (1, 1, 0.5)}
    assert funnel(shop, "buy") == [("/cart/*", 1), ("goal:signup", 1)]
    assert "funnels" not in blog
    everyone = report_json(state, "--all")
    assert goals(everyone)["signup"][:2] == (2, 2)  # summed by name over the tenants


def test_live_shows_a_goals_panel(state: StateDir, tmp_path: Path) -> None:
    setup(state)
    ingest(state, tmp_path, LINES, now=AFTER_DAY)
    result = run_cli("live", "--state-dir", str(state.root), "--once", "--date", DAY)
    assert result.exit_code == 0, result.output
    assert "Goals" in result.stdout and "signup" in result.stdout and "100%" in result.stdout
