"""Follow mode and exactly-once ingestion, with real processes: appends, rotation by rename and by
copytruncate, files appearing under a glob, kill -9 and restart, reports while following, SIGINT."""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rings_cli.state import StateDir
from tests.conftest import ROOT, line, report_json, run_rings

sys.path.insert(0, str(ROOT / "sample_data"))
from generate import generate


def now_line(i: int, path: str = "/") -> str:
    """A page view from visitor i, stamped today (so follow mode never finalizes it)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return line(ip=f"10.0.{i // 250}.{i % 250 + 1}", when=stamp, request=f"GET {path} HTTP/1.1")


def append(path: Path, lines: list[str]) -> None:
    with open(path, "a") as f:
        f.write("".join(x + "\n" for x in lines))
        f.flush()


def do_requests(state: StateDir) -> int:
    """Requests merged into DO files so far (what `rings live` reads), all tenants and days."""
    total = 0
    for path in (state.root / "do").rglob("*.sqlite"):
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            total += con.execute("SELECT coalesce(sum(requests), 0) FROM hourly").fetchone()[0]
    return total


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


class Follow:
    """`rings ingest --follow` as a subprocess."""

    def __init__(self, state: StateDir, *patterns: str, flush_interval: str = "1") -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rings_cli",
                "ingest",
                "--follow",
                "--quiet",
                "--flush-interval",
                flush_interval,
                "--state-dir",
                str(state.root),
                *patterns,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def follow(state: StateDir):
    running: list[Follow] = []

    def start(*patterns: str, flush_interval: str = "1") -> Follow:
        f = Follow(state, *patterns, flush_interval=flush_interval)
        running.append(f)
        return f

    yield start
    for f in running:
        f.kill()


def test_appended_lines_reach_the_do_file_within_a_second(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(5)])
    proc = follow(str(log))
    wait_for(lambda: do_requests(state) == 5)
    append(log, [now_line(i) for i in range(5, 8)])
    started = time.monotonic()
    wait_for(lambda: do_requests(state) == 8, timeout=5)
    assert time.monotonic() - started < 2.0
    code, took = proc.stop(signal.SIGINT)
    assert code == 0 and took < 5
    assert report_json(state)["totals"]["requests"] == 8  # flushed on exit


def test_rename_and_create_rotation(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(3)])
    proc = follow(str(log))
    wait_for(lambda: do_requests(state) == 3)
    append(log, [now_line(i) for i in range(3, 5)])  # written just before rotation
    os.rename(log, tmp_path / "access.log.1")
    append(tmp_path / "access.log.1", [now_line(5)])  # the server still writes to its old fd
    append(log, [now_line(i) for i in range(6, 9)])  # then reopens: a new file
    wait_for(lambda: do_requests(state) == 9)
    assert proc.stop(signal.SIGTERM)[0] == 0
    assert report_json(state)["totals"]["requests"] == 9


def test_copytruncate_rotation(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(4)])
    proc = follow(str(tmp_path / "access.log*"))
    wait_for(lambda: do_requests(state) == 4)
    append(log, [now_line(i) for i in range(4, 6)])
    shutil.copyfile(log, tmp_path / "access.log.1")  # copytruncate: copy, then truncate in place
    with open(log, "r+") as f:
        f.truncate(0)
    append(log, [now_line(i, "/after") for i in range(6, 9)])
    wait_for(lambda: do_requests(state) == 9)
    time.sleep(1.5)  # nothing is counted twice, even after a few more polls
    assert do_requests(state) == 9
    assert proc.stop()[0] == 0


def test_files_created_later_under_a_glob(tmp_path: Path, state: StateDir, follow) -> None:
    (tmp_path / "logs").mkdir()
    proc = follow(str(tmp_path / "logs" / "*.log"))
    time.sleep(0.5)
    append(tmp_path / "logs" / "a.log", [now_line(1)])
    wait_for(lambda: do_requests(state) == 1)
    append(tmp_path / "logs" / "b.log", [now_line(2), now_line(3)])
    wait_for(lambda: do_requests(state) == 3)
    assert proc.stop()[0] == 0


def test_reports_always_succeed_while_following(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(str(log), flush_interval="0.2")  # flush as often as possible: maximum contention
    wait_for(lambda: do_requests(state) == 1)
    for i in range(1, 25):
        append(log, [now_line(i)])
        result = run_rings("report", "--state-dir", str(state.root), "--format", "json")
        assert result.returncode == 0, result.stderr.decode()
    assert proc.stop()[0] == 0
    assert report_json(state)["totals"]["requests"] == 25


def test_a_second_ingest_is_refused_while_following(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(str(log))
    wait_for(lambda: do_requests(state) == 1)
    second = run_rings("ingest", "--state-dir", str(state.root), str(log))
    assert second.returncode == 1
    assert "another `rings ingest` is running" in second.stderr.decode()
    assert proc.stop()[0] == 0


def test_batch_rerun_and_growth_count_each_line_once(tmp_path: Path, state: StateDir) -> None:
    log = tmp_path / "access.log"
    lines = list(generate(lines=3000, seed=2, days=1, garbage=0))
    log.write_text("\n".join(lines[:2000]) + "\n")
    args = ("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(log))
    assert run_rings(*args).returncode == 0
    again = run_rings(*args)
    assert b'"lines_read": 0' in again.stdout  # nothing new
    append(log, lines[2000:])
    grown = run_rings(*args)
    assert b'"lines_read": 1000' in grown.stdout
    clean = StateDir(tmp_path / "clean")
    (tmp_path / "whole.log").write_text("\n".join(lines) + "\n")
    assert (
        run_rings(
            "ingest", "--state-dir", str(clean.root), "--no-finalize", str(tmp_path / "whole.log")
        ).returncode
        == 0
    )
    assert report_json(state) == report_json(clean)


def test_rotated_copies_passed_again_are_recognised(tmp_path: Path, state: StateDir) -> None:
    import gzip

    lines = list(generate(lines=2000, seed=4, days=1, garbage=0))
    log = tmp_path / "access.log"
    log.write_text("\n".join(lines[:1500]) + "\n")
    assert run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(log)).returncode == 0
    # logrotate: access.log -> access.log.1 (which had grown) -> access.log.2.gz; a new access.log
    (tmp_path / "access.log.1").write_text("\n".join(lines[:1800]) + "\n")
    with gzip.open(tmp_path / "access.log.2.gz", "wt") as f:
        f.write("\n".join(lines[:1800]) + "\n")
    log.write_text("\n".join(lines[1800:]) + "\n")
    cron = run_rings(
        "ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(tmp_path / "access.log*")
    )
    assert cron.returncode == 0, cron.stderr
    clean = StateDir(tmp_path / "clean")
    (tmp_path / "whole.log").write_text("\n".join(lines) + "\n")
    run_rings("ingest", "--state-dir", str(clean.root), "--no-finalize", str(tmp_path / "whole.log"))
    assert report_json(state) == report_json(clean)


def test_kill_9_at_random_points_then_restart_gives_the_clean_report(tmp_path: Path, state: StateDir) -> None:
    lines = list(generate(lines=150_000, seed=9, days=2))
    log = tmp_path / "big.log"
    log.write_text("\n".join(lines) + "\n")
    clean = StateDir(tmp_path / "clean")
    assert run_rings("ingest", "--state-dir", str(clean.root), str(log)).returncode == 0
    expected = report_json(clean)

    rng = random.Random(1)
    cmd = [
        sys.executable,
        "-m",
        "rings_cli",
        "ingest",
        "--quiet",
        "--state-dir",
        str(state.root),
        "--batch-bytes",
        "200000",
        str(log),
    ]
    killed_mid_run = 0
    for _ in range(8):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.6, 2.0))  # past start-up, somewhere in reading, merging or flushing
        killed_mid_run += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert killed_mid_run >= 4  # the test means something only if most kills hit a running ingest
    final = subprocess.run(cmd, capture_output=True)
    assert final.returncode == 0, final.stderr
    assert report_json(state) == expected


def test_follow_mode_finalizes_days_as_they_end(tmp_path: Path, state: StateDir) -> None:
    import threading

    from rings_cli.ingest import Ingest

    log = tmp_path / "access.log"
    append(log, [line(when="01/Dec/2025:23:50:00 +0000"), line(when="02/Dec/2025:00:10:00 +0000")])
    clock = {"now": dt.datetime(2025, 12, 2, 0, 20, tzinfo=dt.UTC)}  # Dec 1 ended 20 minutes ago
    ingest = Ingest(state, now=lambda: clock["now"])
    runner = threading.Thread(target=ingest.follow, args=([str(log)], 0.1), kwargs={"poll": 0.05})
    runner.start()
    try:
        wait_for(lambda: do_requests(state) == 2)
        time.sleep(0.3)
        assert ingest.summary.finalized == []  # within the 1 h grace: Dec 1 stays open
        clock["now"] = dt.datetime(2025, 12, 2, 1, 30, tzinfo=dt.UTC)  # the grace period has passed
        wait_for(lambda: ingest.summary.finalized == ["2025-12-01"], timeout=5)
        assert not state.salt_path("2025-12-01").exists()
        assert state.salt_path("2025-12-02").exists()
    finally:
        ingest.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()
