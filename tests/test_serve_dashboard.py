"""The web dashboard (issue 28): "All" and presets that count back from the newest data, a long
range binned by week or month with year labels, whole paths wrapped (never cut), a compare toggle,
and JSON/CSV downloads of what it shows. Headless Chromium over the DevTools protocol
(tests/browser.py), so the tests measure what the browser laid out, and click."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.state import StateDir
from rings_cli.query.periods import periods
from tests.browser import Page, needs_chromium, png_colours
from tests.conftest import line, run_cli
from tests.test_ranges import NEW_DAYS, archive, report, stamp  # noqa: F401 - `archive`: a fixture
from tests.test_serve import Server

pytestmark = needs_chromium
LONG_PATH = "/blog/2016/03/a-rather-long-article-title-that-goes-on-and-on/and-a-second-part-of-it/index.html"
HOSTILE = "/<img/src=x/onerror=alert(28)>/" + "x" * 60
DASH = "\u2013"  # the dashboard's "start - end" has an en dash
CHART = """(() => {
    const c = document.getElementById("daily-chart");
    const labels = [...c.querySelectorAll("text.axis")].map((t) => t.textContent);
    return {kind: c.dataset.kind, bars: c.querySelectorAll("rect.bar").length,
            heights: [...c.querySelectorAll("rect.bar")].map((r) => +r.getAttribute("height")),
            labels: labels.filter((t) => /^[0-9]{4}/.test(t)),
            title: document.getElementById("daily-title").textContent,
            on: [...document.querySelectorAll(".presets button.on")].map((b) => b.textContent)};
})()"""
CELLS = """[...document.querySelectorAll("#pages td:first-child .txt")].map((t) => ({
    text: t.textContent, over: t.scrollWidth - t.clientWidth, tall: t.getBoundingClientRect().height,
    line: parseFloat(getComputedStyle(t).lineHeight) || 20}))"""
COMPARED = """({period: document.getElementById("period").textContent,
    notice: document.getElementById("notice").textContent,
    views: document.querySelector("[data-change=page_views]").textContent,
    heads: [...document.querySelectorAll("#pages th")].map((t) => t.textContent),
    checked: document.getElementById("compare").checked})"""
DOWNLOADS = """(async () => {
    const csv = document.querySelector("a[data-csv=top_pages]");
    const js = document.getElementById("download-json");
    const a = await fetch(csv.href), b = await fetch(js.href);
    return {csvHref: csv.href, disposition: a.headers.get("content-disposition"), csv: await a.text(),
            json: await b.json(), download: csv.hasAttribute("download")};
})()"""


@pytest.fixture(scope="module")
def server(archive: StateDir, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("dashboard")
    log = tmp / "paths.log"
    when = stamp("2016-03-28", 12)
    paths = [LONG_PATH, LONG_PATH, HOSTILE]
    log.write_text(
        "".join(
            line(ip=f"192.0.2.{i}", when=when, vhost="new.example", request=f"GET {p} HTTP/1.1") + "\n"
            for i, p in enumerate(paths, start=1)
        )
    )
    result = run_cli("ingest", "--state-dir", str(archive.root), "-q", str(log))
    assert result.exit_code == 0, result.output
    s = Server(archive)
    yield s
    assert "Traceback" not in s.stop()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    p = Page(tmp_path_factory.mktemp("chromium"))
    yield p
    p.close()


def value(page: Page, script: str) -> Any:
    return page.evaluate(script)


def size(page: Page, width: int, height: int) -> None:
    page.send(
        "Emulation.setDeviceMetricsOverride",
        session=True,
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=width < 600,
    )


def test_all_bins_ten_years_by_month_with_years(archive: StateDir, server: Server, page: Page) -> None:  # noqa: F811
    page.open(f"http://127.0.0.1:{server.port}/site/_all?all=1")
    kind, rows = periods(report(archive, "--all")["days"])
    assert kind == "month" and len(rows) == 125  # 2005-11 to 2016-03
    chart = value(page, CHART)
    assert chart["kind"] == "month" and chart["bars"] == len(rows)  # not ~3,800 one-pixel bars
    assert chart["labels"] and all(len(label) == 7 for label in chart["labels"])  # YYYY-MM: the year
    assert chart["labels"][0] == "2005-11"
    assert chart["title"] == "Page views and visitors by month"
    assert chart["on"] == ["All"]
    assert sum(1 for h in chart["heights"] if h > 0) == sum(1 for r in rows if r["page_views"])


def test_a_long_range_screenshot(server: Server, page: Page, tmp_path: Path) -> None:
    page.open(f"http://127.0.0.1:{server.port}/site/_all?all=1")
    shot = tmp_path / "all.png"
    page.screenshot(shot)
    width, height, colours = png_colours(shot.read_bytes())
    assert (width, height) == (1280, 1000) and colours > 50


def test_weeks_past_sixty_days(archive: StateDir, server: Server, page: Page) -> None:  # noqa: F811
    page.open(f"http://127.0.0.1:{server.port}/site/_all?start=2016&end=2016-03")
    chart = value(page, CHART)
    assert chart["kind"] == "week" and chart["title"] == "Page views and visitors by week"
    assert chart["labels"][0] == "2016-01-01"  # the first week starts with the range, with its year
    kind, weeks = periods(report(archive, "--start", "2016", "--end", "2016-03")["days"])
    assert kind == "week" and chart["bars"] == len(weeks) == 14  # 2016-01-01 (a Friday), 01-04, ..., 03-28


def test_the_default_range_says_which_part_it_shows(server: Server, page: Page) -> None:
    page.open(f"http://127.0.0.1:{server.port}/site/_all")
    notice = value(page, 'document.getElementById("notice").textContent')
    assert "Showing the last 7 days of data; the data goes from 2005-11-26 to 2016-03-28" in notice
    assert '"All" shows everything' in notice


def preset(page: Page, label: str, query: str) -> str:
    """Click a preset button; the period the page then shows."""
    buttons = "[...document.querySelectorAll('.presets button')]"
    value(page, f"{buttons}.find((b) => b.textContent === '{label}').click()")
    page.wait(f"location.search === '{query}'")
    page.wait("document.getElementById('period').textContent.startsWith('2016')")
    return str(value(page, "document.getElementById('period').textContent"))


def test_presets_count_back_from_the_newest_data(server: Server, page: Page) -> None:
    page.open(f"http://127.0.0.1:{server.port}/site/_all?start=2016-03-01&end=2016-03-01")
    assert preset(page, "7 days", "?last=7d").startswith(f"2016-03-22 {DASH} 2016-03-28")
    assert preset(page, "30 days", "?last=30d").startswith(f"2016-02-28 {DASH} 2016-03-28")
    assert value(page, "document.querySelector('[data-metric=page_views]').textContent") != "0"
    assert value(page, CHART)["on"] == ["30 days"]


def test_whole_paths_wrap_and_log_text_stays_text(server: Server, page: Page) -> None:
    try:
        for width in (1280, 390):  # a desktop and a phone
            size(page, width, 900)
            page.open(f"http://127.0.0.1:{server.port}/site/new.example?start=2016-03-28&end=2016-03-28")
            cells = value(page, CELLS)
            texts = [c["text"] for c in cells]
            assert LONG_PATH in texts and HOSTILE in texts  # whole, as written: no "…"
            for c in cells:
                assert c["over"] <= 1, c  # nothing hidden past the cell's edge
            long = next(c for c in cells if c["text"] == LONG_PATH)
            assert long["tall"] > 1.5 * long["line"]  # wrapped onto more lines
            assert value(page, "document.querySelectorAll('#pages img').length") == 0
    finally:
        size(page, 1280, 1000)


def test_compare_toggle(archive: StateDir, server: Server, page: Page) -> None:  # noqa: F811
    page.open(f"http://127.0.0.1:{server.port}/site/new.example?start=2016-03-26&end=2016-03-28")
    assert value(page, "document.querySelectorAll('.card .chg').length") == 0
    value(page, "document.getElementById('compare').click()")
    page.wait("new URLSearchParams(location.search).get('compare') === 'previous'")
    page.wait("document.querySelector('.card .chg')")
    days = ["--start", "2016-03-26", "--end", "2016-03-28"]
    expected = report(archive, "--tenant", "new.example", *days, "--compare")
    shown = value(page, COMPARED)
    assert shown["checked"] and "Change" in shown["heads"]
    assert f"compared with 2016-03-23 {DASH} 2016-03-25" in shown["period"]
    assert expected["compare"]["note"] in shown["notice"]  # the period is only partly covered
    now, before = expected["totals"]["page_views"], expected["compare"]["totals"]["page_views"]
    assert shown["views"] == f"+{round((now - before) / before * 100)}%"


def test_downloads_are_what_it_shows(archive: StateDir, server: Server, page: Page) -> None:  # noqa: F811
    page.open(f"http://127.0.0.1:{server.port}/site/new.example?all=1")
    got = value(page, DOWNLOADS)
    assert got["download"]
    assert "start=2016-03-24&end=2016-03-28" in got["csvHref"] and "section=top_pages" in got["csvHref"]
    name = "rings-new.example-2016-03-24-2016-03-28-top_pages.csv"
    assert got["disposition"] == f'attachment; filename="{name}"'
    assert got["csv"].splitlines()[0] == "path,views,unique_views,entries,exits,avg_time_seconds"
    assert HOSTILE in got["csv"]
    shown = report(archive, "--tenant", "new.example", "--all")
    assert got["json"]["top_pages"] == shown["top_pages"]
    assert got["json"]["totals"] == shown["totals"]  # (1.0 is 1 once JavaScript has read it)
    assert NEW_DAYS[0] == got["json"]["start"]
