"""Current visitors (issue 30): distinct visitors with a page view in the last 5 minutes, from the
open DO files, in `rings live` (a frame, --once) and `/api/{tenant}/today` (`current_visitors`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pexpect

from rings_cli.core.state import StateDir
from rings_cli.query.live import current_visitors
from tests.conftest import line, run_rings
from tests.test_live import Screen
from tests.test_serve import Server, ingest


def at(ip: str, when: dt.datetime, path: str = "/", vhost: str = "alice.example", method: str = "GET") -> str:
    """A request at `when`, or at today's midnight if earlier (one day's hashes, at any hour)."""
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stamp = max(when, midnight).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return line(ip=ip, when=stamp, request=f"{method} {path} HTTP/1.1", vhost=vhost)


def write(tmp_path: Path, lines: list[str], name: str = "access.log") -> Path:
    log = tmp_path / name
    with open(log, "a") as f:
        f.write("".join(x + "\n" for x in lines))
    return log


def test_the_last_five_minutes_count_each_visitor_once(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    lines = [
        at("10.0.0.1", now - dt.timedelta(minutes=1)),
        at("10.0.0.1", now - dt.timedelta(minutes=2), "/about"),  # the same visitor again
        at("10.0.0.2", now - dt.timedelta(minutes=4)),
        at("10.0.0.3", now - dt.timedelta(minutes=9)),  # too long ago
        at("10.0.0.4", now - dt.timedelta(minutes=1), "/style.css"),  # an asset: no page view
        at("10.0.0.5", now - dt.timedelta(minutes=1), "/comments", method="POST"),  # an event, no page
        at("10.0.0.6", now - dt.timedelta(minutes=1), vhost="bob.example"),  # another tenant
    ]
    if (now - dt.timedelta(minutes=9)).date() != now.date():  # just after midnight: not too long ago
        lines = [x for x in lines if "10.0.0.3" not in x]
    ingest(state, write(tmp_path, lines))
    assert current_visitors(state, "alice.example", now) == 2
    assert current_visitors(state, "bob.example", now) == 1
    assert current_visitors(state, None, now) == 3
    assert current_visitors(state, None, now, only=("bob.example",)) == 1
    assert current_visitors(state, "alice.example", now + dt.timedelta(minutes=10)) == 0


def test_today_api_says_current_visitors(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    now = dt.datetime.now(dt.UTC)
    ingest(state, write(tmp_path, [at("10.0.0.1", now), at("10.0.0.2", now)]))
    server = Server(state)
    try:
        assert server.json("/api/alice.example/today")["current_visitors"] == 2
        assert server.json("/api/alice.example/current") == {"current_visitors": 2}
        assert server.json("/api/_all/current") == {"current_visitors": 2}
        server.json("/api/nobody.example/current", status=404)
    finally:
        assert "Traceback" not in server.stop()


def test_live_shows_current_visitors_changing_as_lines_arrive(tmp_path: Path) -> None:
    state = tmp_path / "state"
    log = write(tmp_path, [at("10.0.0.1", dt.datetime.now(dt.UTC))])
    screen = Screen(str(log), "--state-dir", str(state), "--interval", "0.2")
    try:
        screen.wait_for(lambda f: "1 current visitor " in f)
        write(tmp_path, [at("10.0.0.2", dt.datetime.now(dt.UTC)), at("10.0.0.1", dt.datetime.now(dt.UTC))])
        screen.wait_for(lambda f: "2 current visitors" in f)
        screen.child.send("q")
        screen.child.expect(pexpect.EOF, timeout=30)
    finally:
        screen.close()


def test_live_once_prints_current_visitors(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    now = dt.datetime.now(dt.UTC)
    ingest(state, write(tmp_path, [at("10.0.0.1", now), at("10.0.0.2", now), at("10.0.0.3", now)]))
    result: Any = run_rings("live", "--state-dir", str(state.root), "--once", "--tenant", "alice.example")
    assert result.returncode == 0, result.stderr
    assert "3 current visitors" in result.stdout.decode()
