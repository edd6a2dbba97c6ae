"""Issue 14: the web dashboard in headless Chromium (Debian's `chromium`): the numbers render, log
text stays text, and a screenshot is not blank."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from tests.browser import chromium, needs_chromium, png_colours
from tests.conftest import SAMPLE_LOG, line, report_json
from tests.test_serve import Server, ingest, now_line

pytestmark = needs_chromium
HOSTILE = "/<img/src=x/onerror=alert(1)>"  # an element, were it ever parsed as HTML
HOSTILE_404 = "/<img/src=x/onerror=alert(404)>"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("browser")
    state = StateDir(tmp / "state")
    ingest(state, SAMPLE_LOG)
    log = tmp / "today.log"
    # A page view whose path is markup: it must show as these characters, never become an element.
    log.write_text(now_line(1, path=HOSTILE) + "\n" + now_line(2) + "\n")
    ingest(state, log)
    # dave.example today: two page views by one Chrome-on-Windows visitor from 8.8.8.8 (US), and
    # three 404s of a path that is markup, one of them by a bot.
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    lines = [line(ip="8.8.8.8", ua=CHROME, when=stamp, vhost="dave.example") for _ in range(2)]
    lines += [
        line(
            ip="8.8.4.4",
            ua=ua,
            when=stamp,
            vhost="dave.example",
            status=404,
            request=f"GET {HOSTILE_404} HTTP/1.1",
        )
        for ua in (BOT, CHROME, CHROME)
    ]
    breakdowns = tmp / "breakdowns.log"
    breakdowns.write_text("".join(x + "\n" for x in lines))
    ingest(state, breakdowns)
    s = Server(state)
    s.state = state  # type: ignore[attr-defined]
    yield s
    assert "Traceback" not in s.stop()


def metric(dom: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}">([^<]*)<', dom)
    assert found, f"no {name} rendered"
    return found.group(1)


def test_dashboard_renders_the_report_numbers(server: Server, tmp_path: Path) -> None:
    state: StateDir = server.state  # type: ignore[attr-defined]
    report = report_json(state, "--tenant", "bob.example")
    dom = chromium(tmp_path, f"http://127.0.0.1:{server.port}/bob.example", "--dump-dom").stdout
    assert metric(dom, "page_views") == f"{report['totals']['page_views']:,}"
    assert metric(dom, "unique_visitors") == f"{report['totals']['unique_visitors']:,}"
    assert metric(dom, "requests") == f"{report['totals']['requests']:,}"
    assert html.escape(report["top_pages"][0]["path"], quote=False) in dom
    assert dom.count("<rect") >= 24  # the hourly chart's bars (and the daily chart's)


def test_log_text_is_text(server: Server, tmp_path: Path) -> None:
    today = report_json(server.state, "--tenant", "alice.example")["end"]  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{server.port}/alice.example?start={today}&end={today}"
    dom = chromium(tmp_path, url, "--dump-dom").stdout
    assert "/&lt;img/src=x/onerror=alert(1)&gt;" in dom
    assert "<img" not in dom
    assert metric(dom, "page_views") == "2"
    assert 'id="not_found-panel" hidden' in dom  # no 404s here: no empty panel


def rows(dom: str, panel: str) -> list[tuple[str, ...]]:
    """The cells of one breakdown panel's table, as the browser drew them."""
    found = re.search(rf'<section class="panel" id="{panel}-panel">(.*?)</section>', dom, re.S)
    assert found, f"the {panel} panel is hidden or missing"
    return [
        tuple(re.sub(r"<[^>]*>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    ]


def test_breakdown_panels_show_browsers_countries_and_404s(server: Server, tmp_path: Path) -> None:
    state: StateDir = server.state  # type: ignore[attr-defined]
    today = report_json(state, "--tenant", "dave.example")["end"]
    url = f"http://127.0.0.1:{server.port}/dave.example?start={today}&end={today}"
    dom = chromium(tmp_path, url, "--dump-dom").stdout
    assert ("Chrome 120", "2", "1") in rows(dom, "browsers")
    assert ("Windows", "2", "1") in rows(dom, "os")
    assert rows(dom, "devices")[1:] == [("desktop", "2", "1", "4"), ("bot", "0", "0", "1")]
    assert ("US United States", "2", "1") in rows(dom, "countries")
    assert ("/&lt;img/src=x/onerror=alert(404)&gt;", "3", "1") in rows(dom, "not_found")  # requests, bots
    assert "<img" not in dom


def test_tenant_picker_lists_every_tenant(server: Server, tmp_path: Path) -> None:
    dom = chromium(tmp_path, f"http://127.0.0.1:{server.port}/", "--dump-dom").stdout
    for tenant in ("alice.example", "bob.example", "carol.example", "_all"):
        assert f'href="/site/{tenant}"' in dom


@pytest.mark.parametrize("size", ["1280,1000", "390,900"])  # a desktop and a phone
def test_screenshot_is_not_blank(server: Server, tmp_path: Path, size: str) -> None:
    shot = tmp_path / "shot.png"
    chromium(
        tmp_path, f"http://127.0.0.1:{server.port}/_all", f"--window-size={size}", f"--screenshot={shot}"
    )
    width, height, colours = png_colours(shot.read_bytes())
    assert (width, height) == tuple(int(x) for x in size.split(","))
    assert colours > 50, "the screenshot is (nearly) one colour"
