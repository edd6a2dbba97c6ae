"""Issue 10, `rings live`: in a real pseudo-terminal beside an ingest, `--once` against the report,
keys, small terminals, and no lock that could hold up a flush."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from rings_cli.core.state import StateDir
from rings_cli.query.live import fetch
from rings_cli.ui.dashboard import View, dashboard
from tests.conftest import SAMPLE_LOG, line, report_json, run_cli, run_rings

ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def today_line(i: int, vhost: str = "alice.example", path: str = "/") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return line(ip=f"10.7.{i // 250}.{i % 250 + 1}", when=stamp, request=f"GET {path} HTTP/1.1", vhost=vhost)


def ingest_lines(state: StateDir, tmp_path: Path, lines: list[str], name: str) -> None:
    log = tmp_path / name
    log.write_text("".join(x + "\n" for x in lines))
    result = run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", "-q", str(log))
    assert result.exit_code == 0, result.output


class Screen:
    """`rings live` in a pseudo-terminal, with what it last drew as plain text."""

    def __init__(self, *args: str, cols: int = 100, rows: int = 30) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.child = pexpect.spawn(
            sys.executable, ["-m", "rings_cli", "live", *args], env=env, dimensions=(rows, cols), timeout=30
        )
        self.seen = b""

    def text(self) -> str:
        try:
            while True:
                self.seen += self.child.read_nonblocking(65536, timeout=0.05)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass
        # The newest frame: what follows the last "Rings live" heading.
        plain = ANSI.sub(b"", self.seen).decode(errors="replace")
        return plain[plain.rfind("Rings live") :]

    def wait_for(self, check: Callable[[str], bool], timeout: float = 30.0) -> tuple[str, float]:
        started = time.monotonic()
        while True:
            frame = self.text()
            if check(frame):
                return frame, time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not on screen in time; last frame:\n{frame}")
            if not self.child.isalive():
                raise AssertionError(f"rings live exited; output:\n{frame}")

    def close(self) -> None:
        if self.child.isalive():
            self.child.kill(signal.SIGKILL)


@pytest.fixture
def screens():
    opened: list[Screen] = []

    def open_(*args: str, **kw: int) -> Screen:
        opened.append(Screen(*args, **kw))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


def page_views_on(frame: str) -> int | None:
    """The page-view total from the totals row (labels line, then values line)."""
    lines = frame.splitlines()
    for i, text in enumerate(lines[:-1]):
        if text.strip().startswith("page views") and "visitors" in text:
            return int(lines[i + 1].split()[0].replace(",", ""))
    return None


def test_live_sees_another_process_ingest_within_two_seconds(tmp_path: Path, screens) -> None:
    state = StateDir(tmp_path / "state")
    ingest_lines(state, tmp_path, [today_line(i) for i in range(3)], "a.log")
    screen = screens("--tenant", "alice.example", "--state-dir", str(state.root), "--interval", "0.2")
    screen.wait_for(lambda f: page_views_on(f) == 3)
    ingest_lines(state, tmp_path, [today_line(i, path="/fresh") for i in range(3, 8)], "b.log")
    frame, lag = screen.wait_for(lambda f: page_views_on(f) == 8)
    assert lag < 2.0, f"shown after {lag:.2f} s"
    assert "/fresh" in frame
    screen.child.send("q")
    screen.child.expect(pexpect.EOF, timeout=15)
    screen.child.close()
    assert screen.child.exitstatus == 0


def test_keys_pick_a_tenant_and_go_back(tmp_path: Path, screens) -> None:
    state = StateDir(tmp_path / "state")
    lines = [today_line(i) for i in range(4)] + [today_line(i, vhost="bob.example") for i in range(9)]
    ingest_lines(state, tmp_path, lines, "a.log")
    screen = screens("--state-dir", str(state.root), "--interval", "0.2")
    screen.wait_for(lambda f: "all tenants" in f and page_views_on(f) == 13)
    screen.child.send("\x1b[B")  # down: alice (second by page views)
    screen.child.send("\r")
    screen.wait_for(lambda f: "alice.example" in f.splitlines()[0] and page_views_on(f) == 4)
    screen.child.send("\x1b")  # Esc: all tenants again
    screen.wait_for(lambda f: "all tenants" in f and page_views_on(f) == 13)
    screen.child.sendintr()  # Ctrl-C exits cleanly too
    screen.child.expect(pexpect.EOF, timeout=15)
    screen.child.close()
    assert screen.child.exitstatus == 0


def test_once_shows_the_same_numbers_as_the_report(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(SAMPLE_LOG)).exit_code == 0
    out = run_rings(
        "live",
        "--once",
        "--tenant",
        "bob.example",
        "--date",
        "2025-12-02",
        "--state-dir",
        str(state.root),
        env={"COLUMNS": "100"},
    )
    assert out.returncode == 0, out.stderr.decode()
    frame = out.stdout.decode()
    report = report_json(state, "--tenant", "bob.example", "--start", "2025-12-02", "--end", "2025-12-02")
    t = report["totals"]
    assert page_views_on(frame) == t["page_views"]
    values = frame.splitlines()[2].split()
    assert values[:3] == [f"{t['page_views']:,}", f"{t['unique_visitors']:,}", f"{t['sessions']:,}"]
    assert report["top_pages"][0]["path"] in frame
    assert all(len(row) <= 100 for row in frame.splitlines())


def test_small_terminal_drops_panels_and_never_wraps(state: StateDir) -> None:
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(SAMPLE_LOG)).exit_code == 0
    frame = fetch(state, dt.date(2025, 12, 2), None)
    from rich.console import Console

    console = Console(width=80, height=24, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(dashboard(frame, 80, 24, View(None, False)))
    text = console.export_text()
    rows = text.rstrip("\n").splitlines()
    assert len(rows) <= 24, text
    assert all(len(r) <= 80 for r in rows)
    assert "Top pages" in text and "page views" in text
    tall = Console(width=100, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    tall.print(dashboard(frame, 100, None, View(None, False)))
    full = tall.export_text()
    assert "Referrers" in full and "Status" in full and "Posts" in full


def test_empty_state_says_so_and_waits(tmp_path: Path, screens) -> None:
    state = tmp_path / "nothing-yet"
    screen = screens("--state-dir", str(state), "--interval", "0.2")
    screen.wait_for(lambda f: "No data for" in f and "waiting" in f)
    screen.child.send("q")
    screen.child.expect(pexpect.EOF, timeout=15)


def test_live_holds_no_lock_that_stops_a_follow_flush(tmp_path: Path, screens) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    log.write_text(today_line(0) + "\n")
    follow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rings_cli",
            "ingest",
            "--follow",
            "--flush-interval",
            "0.5",
            "--state-dir",
            str(state.root),
            str(log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        screen = screens("--state-dir", str(state.root), "--interval", "0.05")
        screen.wait_for(lambda f: page_views_on(f) == 1)
        for i in range(1, 6):
            with open(log, "a") as f:
                f.write(today_line(i) + "\n")
            screen.wait_for(lambda f, i=i: page_views_on(f) == i + 1)
        # Every flush lands while live redraws 20 times a second: nothing stays dirty.
        deadline = time.monotonic() + 30
        while report_json(state)["live_tenant_days"] != 0:
            assert time.monotonic() < deadline, "a flush never landed"
            time.sleep(0.1)
    finally:
        follow.send_signal(signal.SIGINT)
        _, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err.decode()
    assert b"Error" not in err and b"locked" not in err


def test_live_with_paths_tails_them_itself(tmp_path: Path, screens) -> None:
    state = tmp_path / "state"
    log = tmp_path / "access.log"
    log.write_text("".join(today_line(i) + "\n" for i in range(4)))
    screen = screens(str(log), "--state-dir", str(state), "--interval", "0.2")
    screen.wait_for(lambda f: page_views_on(f) == 4)
    with open(log, "a") as f:
        f.write(today_line(4) + "\n")
    screen.wait_for(lambda f: page_views_on(f) == 5)
    screen.child.send("q")
    screen.child.expect(pexpect.EOF, timeout=30)
    # It ingested exactly once, through the follow-mode path: the report agrees after it stopped.
    assert (
        json.loads(run_rings("report", "--state-dir", str(state), "-f", "json").stdout)["totals"][
            "page_views"
        ]
        == 5
    )


def test_live_with_paths_when_another_ingest_holds_the_lock(tmp_path: Path, screens) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    log.write_text(today_line(0) + "\n")
    with state.ingest_lock():
        screen = screens(str(log), "--state-dir", str(state.root), "--interval", "0.2")
        screen.wait_for(lambda f: "another `rings ingest` holds this state dir" in f.replace("\n", " "))
        screen.child.send("q")
        screen.child.expect(pexpect.EOF, timeout=15)


def test_live_with_paths_shows_the_files_newest_day_when_they_have_none_today(tmp_path: Path) -> None:
    log = tmp_path / "old.log"
    log.write_text(
        line(when="01/Dec/2025:10:00:00 +0000", vhost="old.example")
        + "\n"
        + line(when="03/Dec/2025:10:00:00 +0000", vhost="old.example", ip="10.0.0.9")
        + "\n"
    )
    out = run_rings(
        "live", "--once", str(log), "--state-dir", str(tmp_path / "state"), env={"COLUMNS": "100"}
    )
    assert out.returncode == 0, out.stderr.decode()
    frame = out.stdout.decode()
    assert "2025-12-03 (UTC)" in frame.splitlines()[0]
    assert page_views_on(frame) == 1
