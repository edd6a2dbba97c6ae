"""What people look at: the table report's charts and widths, --compare, the HTML page, --help.

Driven through real `rings` subprocesses (COLUMNS sets the terminal width Rich draws for) on
logs whose counts are known, so every number asserted here is one a user would see.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ui import charts
from tests.browser import CHROMIUM, chromium, png_colours
from tests.conftest import ROOT, line, run_rings

LONG_PATH = "/blog/2025/" + "a-rather-long-title-" * 6 + "that-ends-here/"
HOSTILE = ("/<script>alert(1)</script>", '/\\"><img/src=x/onerror=alert(1)>')

# Page views (and visitors) per day of the known log: day 1 has the most.
PER_DAY = {"01": 12, "02": 6, "03": 3}


def _known_log(tmp_path: Path) -> Path:
    """Three days in December (12, 6 and 3 page views of `/`, two a visitor, at 10:00 and 14:00),
    the long path and two hostile paths on day 1, and an earlier period in November."""
    lines = []
    for day, n in PER_DAY.items():
        for i in range(n):
            hour = 10 if i % 3 else 14
            ip = f"203.0.113.{i // 2 + 1}"  # two page views a visitor
            lines.append(line(ip=ip, when=f"{day}/Dec/2025:{hour}:00:{i:02d} +0000"))
    lines.append(
        line(ip="198.51.100.1", when="01/Dec/2025:10:30:00 +0000", request=f"GET {LONG_PATH} HTTP/1.1")
    )
    for i, path in enumerate(HOSTILE):
        lines.append(
            line(ip=f"198.51.100.{i + 2}", when="01/Dec/2025:11:00:00 +0000", request=f"GET {path} HTTP/1.1")
        )
    # November 28-30: 4 views of / and 2 of /old, so 1-3 December compares with them.
    for i in range(4):
        lines.append(line(ip=f"192.0.2.{i + 1}", when="29/Nov/2025:09:00:00 +0000"))
    for i in range(2):
        lines.append(
            line(ip=f"192.0.2.{i + 9}", when="30/Nov/2025:09:00:00 +0000", request="GET /old HTTP/1.1")
        )
    path = tmp_path / "known.log"
    path.write_text("".join(x + "\n" for x in lines))
    return path


@pytest.fixture
def known(tmp_path: Path, state: StateDir) -> StateDir:
    proc = run_rings("ingest", "--quiet", "--state-dir", str(state.root), str(_known_log(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    return state


def _report(state: StateDir, *args: str, columns: int = 100) -> str:
    proc = run_rings(
        "report", "--state-dir", str(state.root), *args, env={"COLUMNS": str(columns), "NO_COLOR": "1"}
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


@pytest.mark.parametrize("columns", [80, 100])
def test_table_report_fits_the_terminal(known: StateDir, columns: int) -> None:
    out = _report(known, "--start", "2025-12-01", "--end", "2025-12-03", columns=columns)
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= columns
    # A header never wraps: each table has exactly one header line (the one with ┃), directly
    # under its title, with the header rule right after it.
    titles = ["Days", "Top pages", "Top referrers", "Status codes", "Tenants"]
    titles += [
        t for t in ("Browsers", "Operating systems", "Devices", "Countries", "Not found (404)") if t in out
    ]
    for title in titles:
        at = next(i for i, x in enumerate(lines) if x.startswith(title))
        assert "┃" in lines[at + 1] and lines[at + 2].startswith("━"), (title, lines[at : at + 3])
    assert sum("┃" in x for x in lines) == len(titles)
    # The long path is cut in the middle: its start and its end are both shown.
    path_line = next(x for x in lines if "…" in x and x.startswith(" /blog/2025/"))
    shown = path_line.split("│")[0].strip()
    head, tail = shown.split("…")
    assert LONG_PATH.startswith(head) and LONG_PATH.endswith(tail) and len(shown) < len(LONG_PATH)
    assert LONG_PATH not in out
    # The daily chart: bars proportional to the known page views (visitors part solid).
    bars = {}
    for x in lines:
        if m := re.match(r"^\w{3} 2025-12-(\d\d)\s+([\d,]+)\s+([\d,]+)\s+([█▒]+)$", x):
            bars[m.group(1)] = (int(m.group(2)), m.group(4))
    views = {day: n + (3 if day == "01" else 0) for day, n in PER_DAY.items()}  # + long and hostile paths
    assert {day: pv for day, (pv, _) in bars.items()} == views
    full = len(bars["01"][1])
    assert full >= 20
    for day, (pv, bar) in bars.items():
        assert len(bar) == round(pv / views["01"] * full), (day, bar)
    # The hour-of-day chart names the busiest hour and labels the hours.
    assert "busiest 10:00" in out
    assert re.search(r"^\s+00\s+03\s+06\s+09\s+12\s+15\s+18\s+21$", out, re.M)


def test_report_header_at_80_columns_drops_or_abbreviates(known: StateDir) -> None:
    wide = _report(known, "--start", "2025-12-01", "--end", "2025-12-03", columns=100)
    narrow = _report(known, "--start", "2025-12-01", "--end", "2025-12-03", columns=80)
    assert "unique visitors" in wide.split("Days")[1].splitlines()[1]
    days_header = narrow.split("\nDays")[1].splitlines()[1]
    assert "visitors" in days_header and "unique visitors" not in days_header


def test_compare_with_the_previous_period(known: StateDir) -> None:
    args = ("--start", "2025-12-01", "--end", "2025-12-03", "--limit", "3")
    plain = json.loads(_report(known, *args, "--format", "json"))
    data = json.loads(_report(known, *args, "--format", "json", "--compare"))
    compare = data.pop("compare")
    assert data == plain  # existing keys unchanged
    assert (compare["start"], compare["end"]) == ("2025-11-28", "2025-11-30")
    assert compare["totals"]["page_views"] == 6 and data["totals"]["page_views"] == 24
    assert compare["change"]["page_views"] == 3.0  # 24 against 6: +300%
    assert compare["change"]["bot_requests"] is None
    assert [p["path"] for p in data["top_pages"]][:1] == ["/"]
    assert compare["top_pages"][0] == {**compare["top_pages"][0], "path": "/", "views": 4}
    assert all(p["views"] == 0 for p in compare["top_pages"][1:])  # not seen in November
    table = _report(known, "--compare", *args, columns=100)  # bare, followed by another option
    assert "compared with 2025-11-28 to 2025-11-30" in table
    assert "24 page views (+300%)" in table
    assert "0 from bots (\u2013)" in table  # none either time
    assert re.search(r"^ /\s+│\s+21 │\s+\+425% │", table, re.M)  # 21 views of / against 4
    assert re.search(r"^ /<script>alert\(1\)</script>\s+│\s+1 │\s+new │", table, re.M)


def test_compare_with_an_explicit_range(known: StateDir) -> None:
    data = json.loads(
        _report(
            known,
            "--start",
            "2025-12-01",
            "--end",
            "2025-12-03",
            "--compare",
            "2025-11-30:2025-11-30",
            "-f",
            "json",
        )
    )
    compare = data["compare"]
    assert (compare["start"], compare["end"]) == ("2025-11-30", "2025-11-30")
    assert compare["totals"]["page_views"] == 2
    assert compare["top_pages"][0]["views"] == 0  # / had no views on the 30th
    table = _report(
        known, "--start", "2025-12-01", "--end", "2025-12-03", "--compare", "2025-11-30:2025-11-30"
    )
    assert "24 page views (+1,100%)" in table
    proc = run_rings("report", "--state-dir", str(known.root), "--compare", "2025-11-30")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().startswith("Error: --compare: '2025-11-30' is not START:END")


def test_change_wording() -> None:
    assert charts.change(112, 100) == "+12%"
    assert charts.change(95, 100) == "\u22125%"
    assert charts.change(5, 0) == "new"
    assert charts.change(0, 0) == "\u2013"
    assert charts.change(100, 100) == "0%"
    assert charts.middle_cut("/abcdefghij", 7) == "/ab…hij"
    assert charts.middle_cut("/short", 7) == "/short"


def test_hour_chart_columns_are_proportional() -> None:
    hours = [{"hour": 10, "page_views": 8}, {"hour": 14, "page_views": 4}, {"hour": 15, "page_views": 1}]
    lines = charts.hour_chart(hours, width=80, height=2)
    assert lines[0] == "Page views by hour of day (UTC); busiest 10:00, 8 page views"
    rows = [x.ljust(80) for x in lines[1:3]]

    def column(hour: int) -> list[str]:  # the axis label "8" and a space, then 3 cells an hour
        return [r[2 + hour * 3 : 4 + hour * 3] for r in rows]

    assert column(10) == ["██", "██"]  # 8 of 8: two full cells
    assert column(14) == ["  ", "██"]  # 4 of 8: one cell
    assert column(15) == ["  ", "▂▂"]  # 1 of 8: two eighths of one cell
    assert lines[3].split() == ["00", "03", "06", "09", "12", "15", "18", "21"]


def test_long_ranges_chart_by_week_then_sparkline() -> None:
    def days(n: int) -> list[dict]:
        first = dt.date(2025, 1, 6)  # a Monday
        return [
            {"date": (first + dt.timedelta(days=i)).isoformat(), "page_views": 2, "unique_visitors": 1}
            for i in range(n)
        ]

    assert len(charts.daily_chart(days(31), 80)) == 2 + 31
    weekly = charts.daily_chart(days(56), 80)
    assert weekly[1].startswith("week from") and len(weekly) == 2 + 8
    assert all(re.match(r"^Mon 2025-\d\d-\d\d\s+14\s+7\s+█+▒+$", x) for x in weekly[2:])  # 7 days a week
    spark = charts.daily_chart(days(400), 80)
    assert spark[0].startswith("Page views and visitors, one mark per 8 days")  # 400 days in 56 marks
    assert all(len(x) <= 80 for x in spark) and spark[1].startswith("page views  ████")


def test_html_report_is_self_contained_escaped_and_renders(known: StateDir, tmp_path: Path) -> None:
    page = _report(known, "--start", "2025-12-01", "--end", "2025-12-03", "--compare", "--format", "html")
    # Offline: no URL, no script, no external anything; light and dark.
    assert not re.search(r"(?i)https?://|<script|<link|<img|<iframe|@import|url\(", page)
    assert "prefers-color-scheme: dark" in page and "<svg" in page
    for hostile in HOSTILE:
        assert hostile not in page
    assert "/&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "/\\&quot;&gt;&lt;img/src=x/onerror=alert(1)&gt;" in page
    html_file = tmp_path / "report.html"
    html_file.write_text(page)
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: the HTML report is not checked in a browser here")
    dom = chromium(tmp_path, html_file.as_uri(), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    assert "<script" not in text and "<img" not in text  # the hostile paths stayed text
    card = re.search(
        r'data-key="page_views"><div class="label">Page views</div><div class="value">([^<]+)', text
    )
    assert card and card.group(1) == "24"
    assert ">+300%<" in text and "busiest 10:00 UTC, 15 page views" in text
    shot = tmp_path / "report.png"
    result = chromium(tmp_path, html_file.as_uri(), f"--screenshot={shot}", "--window-size=1200,2000")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    width, height, colours = png_colours(shot.read_bytes())
    assert (width, height) == (1200, 2000)
    assert colours > 50, "the screenshot is (nearly) one colour"


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HOSTILE_404 = "/<img/src=x/onerror=alert(404)>"


def test_html_report_has_the_breakdowns_escaped(known: StateDir, tmp_path: Path) -> None:
    # 4 December: three page views by one Chrome-on-Windows visitor from 8.8.8.8 (US), and three
    # 404s of a path that is markup, one of them by a bot.
    when = "04/Dec/2025:10:00:{:02d} +0000"
    lines = [line(ip="8.8.8.8", ua=CHROME, when=when.format(i)) for i in range(3)]
    lines += [
        line(
            ip="8.8.4.4",
            ua=BOT if i == 0 else CHROME,
            status=404,
            when=when.format(10 + i),
            request=f"GET {HOSTILE_404} HTTP/1.1",
        )
        for i in range(3)
    ]
    extra = tmp_path / "dec4.log"
    extra.write_text("".join(x + "\n" for x in lines))
    proc = run_rings("ingest", "--quiet", "--state-dir", str(known.root), str(extra))
    assert proc.returncode == 0, proc.stderr
    page = _report(known, "--start", "2025-12-04", "--end", "2025-12-04", "--format", "html")
    rows = re.findall(r"<tr><td class=text>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", page)
    assert ("Chrome 120", "3", "1") in rows
    assert ("Windows", "3", "1") in rows
    assert ("desktop", "3", "1") in rows
    assert ("US United States", "3", "1") in rows
    assert ("/&lt;img/src=x/onerror=alert(404)&gt;", "3", "1") in rows  # requests, from bots
    assert "<h2>Not found (404)</h2>" in page and HOSTILE_404 not in page
    html_file = tmp_path / "report.html"
    html_file.write_text(page)
    if CHROMIUM is None:
        pytest.skip("chromium is not installed: the HTML report is not checked in a browser here")
    dom = chromium(tmp_path, html_file.as_uri(), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "<img" not in dom.stdout and "alert(404)&gt;" in dom.stdout


def test_help_shows_flags_without_types_and_no_internal_words() -> None:
    for command in ("ingest", "report", "live", "erase", "finalize", "audit", "check"):
        proc = run_rings(command, "--help", env={"COLUMNS": "100"})
        assert proc.returncode == 0
        text = proc.stdout.decode()
        assert "<bool>" not in text, command
        assert not re.search(r"(?i)\bseed\b|contract", text), command
    readme = (ROOT / "README.md").read_text()
    assert not re.search(r"(?i)\bthe seed|seed's|CONTRACT\.md|the contract", readme)
    assert readme.count("A DO file") >= 1
