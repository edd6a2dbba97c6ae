"""Issue 9, reports that are never stale: `rings report` reads dirty tenant-days from their DO
files while `rings ingest --follow` runs, and readers never make a flush fail."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rings_cli.report import build_report
from rings_cli.state import StateDir
from tests.conftest import line, run_rings


def now_line(i: int, path: str = "/") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return line(ip=f"10.9.{i // 250}.{i % 250 + 1}", when=stamp, request=f"GET {path} HTTP/1.1")


def append(path: Path, lines: list[str]) -> None:
    with open(path, "a") as f:
        f.write("".join(x + "\n" for x in lines))


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Poll `check` until it holds; returns the seconds it took (fails past `timeout`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)
    return time.monotonic() - started


def requests_now(state: StateDir) -> int:
    if not state.root.exists():
        return 0
    return build_report(state)["totals"]["requests"]


class Follow:
    def __init__(self, state: StateDir, log: Path, flush_interval: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rings_cli",
                "ingest",
                "--follow",
                "--flush-interval",
                flush_interval,
                "--state-dir",
                str(state.root),
                str(log),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err.decode()


@pytest.fixture
def follow():
    running: list[Follow] = []

    def start(state: StateDir, log: Path, flush_interval: str) -> Follow:
        running.append(Follow(state, log, flush_interval))
        return running[-1]

    yield start
    for f in running:
        if f.proc.poll() is None:
            f.proc.kill()
            f.proc.wait()


def without_freshness(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("as_of", "live_tenant_days")}


def test_a_followed_line_is_in_the_next_report_long_before_the_flush(tmp_path: Path, follow) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(3)])
    proc = follow(state, log, "3600")  # no flush until the end
    wait_for(lambda: requests_now(state) == 3)
    append(log, [now_line(i, "/new") for i in range(3, 7)])
    lag = wait_for(lambda: requests_now(state) == 7)
    assert lag < 2.0, f"visible after {lag:.2f} s"

    live = json.loads(run_rings("report", "--state-dir", str(state.root), "-f", "json").stdout)
    assert live["totals"]["requests"] == 7 and live["totals"]["page_views"] == 7
    assert live["live_tenant_days"] == 1 and live["as_of"] is not None
    assert not state.warehouse_path.exists()  # nothing flushed: all of it came from the DO file
    table = run_rings("report", "--state-dir", str(state.root)).stdout.decode()
    assert "/new" in table and "7 page views" in table

    code, _ = proc.stop()  # flushes on the way out
    assert code == 0
    flushed = json.loads(run_rings("report", "--state-dir", str(state.root), "-f", "json").stdout)
    assert flushed["live_tenant_days"] == 0
    assert without_freshness(flushed) == without_freshness(live)


def test_twenty_readers_in_a_loop_never_fail_and_every_flush_lands(tmp_path: Path, follow) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(state, log, "1")
    wait_for(lambda: state.warehouse_path.exists() and requests_now(state) == 1)
    errors: list[BaseException] = []
    reports = [0]
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                build_report(state)
                reports[0] += 1
            except BaseException as e:  # every failure is the test's business
                errors.append(e)
                return

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 6):
            append(log, [now_line(i)])
            wait_for(lambda i=i: requests_now(state) == i + 1)
        # Every tenant-day is flushed while the readers go on: the catalog's dirty flag clears.
        wait_for(lambda: build_report(state)["live_tenant_days"] == 0)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert reports[0] >= 20
    code, err = proc.stop()
    assert code == 0, err
    assert "Error" not in err
    assert build_report(state)["totals"]["requests"] == 6
