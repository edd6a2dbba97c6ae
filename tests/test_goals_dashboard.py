"""Issue 30 in the web dashboard (headless Chromium): the goals and funnel panels, the slowest pages
of a log with request times, and the current visitors card, as the browser draws them."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from rings_cli.core.state import StateDir
from tests.browser import chromium, needs_chromium
from tests.conftest import run_cli
from tests.test_serve import Server
from tests.test_serve_browser import metric, rows

pytestmark = needs_chromium

NGINX = (
    'nginx:$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CONFIG = """
[goals]
signup = "/welcome"
[funnels]
checkout = ["/", "/pricing", "goal:signup"]
"""


def test_goals_funnels_times_and_current_visitors_panels(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(CONFIG)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    midnight = now.replace(hour=0, minute=0, second=0)
    visits = [  # (ip, path, seconds before now, time taken)
        ("10.0.0.1", "/", 120, 0.010),
        ("10.0.0.1", "/pricing", 90, 0.020),
        ("10.0.0.1", "/welcome", 60, 0.030),
        ("10.0.0.2", "/", 50, 0.010),
        *[("10.0.0.3", "/slow", 40 - i, 1.5) for i in range(5)],
    ]
    lines = []
    for ip, path, ago, took in visits:
        when = max(now - dt.timedelta(seconds=ago), midnight).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'shop.example {ip} - - [{when}] "GET {path} HTTP/1.1" 200 10 "-" "{UA}" {took:.3f}')
    log = tmp_path / "access.log"
    log.write_text("".join(x + "\n" for x in lines))
    result = run_cli(
        "ingest", "--state-dir", str(state.root), "--no-finalize", "-q", "--format", NGINX, str(log)
    )
    assert result.exit_code == 0, result.output
    server = Server(state)
    try:
        day = now.date().isoformat()
        url = f"http://127.0.0.1:{server.port}/shop.example?start={day}&end={day}"
        dom = chromium(tmp_path, url, "--virtual-time-budget=5000", "--dump-dom").stdout
    finally:
        assert "Traceback" not in server.stop()
    assert rows(dom, "goals")[1:] == [("signup", "1", "1", "33.3%")]  # 1 of 3 visitors
    assert rows(dom, "funnels")[1:] == [
        ("1. /", "2", "100.0%"),
        ("2. /pricing", "1", "50.0%"),
        ("3. goal:signup", "1", "50.0%"),
    ]
    assert rows(dom, "times")[1][0] == "/slow"  # the slowest page first
    assert re.search(r"9 timed requests", dom)
    assert metric(dom, "current_visitors") == "3"
