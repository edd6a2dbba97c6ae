"""Follow mode and exactly-once ingestion, with real processes: appends, rotation by rename and by
copytruncate, files appearing under a glob, kill -9 and restart, reports while following, SIGINT.

Every wait here is on a condition (a count in the DO files, a flush seen) with a generous deadline,
never a fixed sleep, so a loaded machine makes these tests slower, not red."""

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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
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


DEADLINE = 90.0  # seconds: generous, as 2 busy cores can be slow; a passing wait returns at once


def each_do_file(state: StateDir, sql: str) -> Iterator[tuple[int, ...]]:
    """The first row of `sql` in every DO file there is, read-only, as `rings live` reads them."""
    for path in sorted((state.root / "do").rglob("*.sqlite")):
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.OperationalError:
            if path.exists():
                raise
            continue  # gone since the glob
        try:
            yield con.execute(sql).fetchone()
        finally:
            con.close()


def do_requests(state: StateDir) -> int:
    """Requests merged into DO files so far (what `rings live` reads), all tenants and days."""
    return sum(row[0] for row in each_do_file(state, "SELECT coalesce(sum(requests), 0) FROM hourly"))


def absorbed_line(state: StateDir) -> int:
    """The furthest line of any source whose effects some DO file holds (-1: none yet)."""
    return max(
        (row[0] for row in each_do_file(state, "SELECT coalesce(max(line), -1) FROM absorbed")), default=-1
    )


def wait_for(
    check: Callable[[], bool], timeout: float = DEADLINE, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll `check` until it holds; fail at the deadline, or at once if `proc` has exited."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the process exited ({proc.returncode}) first: {stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout} s")
        time.sleep(0.05)


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

    def until(self, check: Callable[[], bool]) -> None:
        wait_for(check, proc=self.proc)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Signal, then wait for the exit code (a process that ignored the signal fails the wait)."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=DEADLINE)

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


def test_appended_lines_reach_the_do_file_without_waiting_for_a_flush(
    tmp_path: Path, state: StateDir, follow
) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(5)])
    proc = follow(str(log), flush_interval="3600")  # no flush before exit: merging must not wait for one
    proc.until(lambda: do_requests(state) == 5)
    append(log, [now_line(i) for i in range(5, 8)])
    proc.until(lambda: do_requests(state) == 8)
    assert not state.warehouse_path.exists()  # nothing flushed to the warehouse yet ...
    live = report_json(state)
    assert live["totals"]["requests"] == 8 and live["live_tenant_days"] == 1  # ... yet reported
    assert proc.stop(signal.SIGINT) == 0  # well before the next flush was due
    flushed = report_json(state)
    assert flushed["totals"]["requests"] == 8 and flushed["live_tenant_days"] == 0  # flushed on exit


def test_rename_and_create_rotation(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(3)])
    proc = follow(str(log))
    proc.until(lambda: do_requests(state) == 3)
    append(log, [now_line(i) for i in range(3, 5)])  # written just before rotation
    os.rename(log, tmp_path / "access.log.1")
    append(tmp_path / "access.log.1", [now_line(5)])  # the server still writes to its old fd
    append(log, [now_line(i) for i in range(6, 9)])  # then reopens: a new file
    proc.until(lambda: do_requests(state) == 9)
    assert proc.stop(signal.SIGTERM) == 0
    assert report_json(state)["totals"]["requests"] == 9


def test_copytruncate_rotation(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(4)])
    proc = follow(str(tmp_path / "access.log*"))
    proc.until(lambda: do_requests(state) == 4)
    append(log, [now_line(i) for i in range(4, 6)])
    shutil.copyfile(log, tmp_path / "access.log.1")  # copytruncate: copy, then truncate in place
    with open(log, "r+") as f:
        f.truncate(0)
    append(log, [now_line(i, "/after") for i in range(6, 9)])
    proc.until(lambda: do_requests(state) == 9)
    # Nothing is counted twice, even after more polls: each poll reads every file, so a line
    # appended later and counted proves one more poll of the copy and of the truncated file.
    for i in (9, 10):
        append(log, [now_line(i, "/later")])
        proc.until(lambda i=i: do_requests(state) >= i + 1)
    assert do_requests(state) == 11
    assert proc.stop() == 0
    assert report_json(state)["totals"]["requests"] == 11


def test_files_created_later_under_a_glob(tmp_path: Path, state: StateDir, follow) -> None:
    (tmp_path / "logs").mkdir()
    append(tmp_path / "logs" / "first.log", [now_line(0)])
    proc = follow(str(tmp_path / "logs" / "*.log"))
    proc.until(lambda: do_requests(state) == 1)  # the follower is polling: what comes now comes later
    append(tmp_path / "logs" / "a.log", [now_line(1)])
    proc.until(lambda: do_requests(state) == 2)
    append(tmp_path / "logs" / "b.log", [now_line(2), now_line(3)])
    proc.until(lambda: do_requests(state) == 4)
    assert proc.stop() == 0


def test_reports_always_succeed_while_following(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(str(log), flush_interval="0.2")  # flush as often as possible: maximum contention
    proc.until(lambda: do_requests(state) == 1)
    for i in range(1, 25):
        append(log, [now_line(i)])
        result = run_rings("report", "--state-dir", str(state.root), "--format", "json")
        assert result.returncode == 0, result.stderr.decode()
    # Stopping commits the batch in hand but reads no further: wait until the last line is read
    # (follow mode polls every 0.25 s; a report takes about as long, so it may not be yet).
    proc.until(lambda: do_requests(state) == 25)
    assert proc.stop() == 0
    assert report_json(state)["totals"]["requests"] == 25


def test_a_second_ingest_is_refused_while_following(tmp_path: Path, state: StateDir, follow) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(str(log))
    proc.until(lambda: do_requests(state) == 1)
    second = run_rings("ingest", "--state-dir", str(state.root), str(log))
    assert second.returncode == 1
    assert "another `rings ingest` is running" in second.stderr.decode()
    assert proc.stop() == 0


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
    killed = [*cmd, "--no-finalize"]
    # Kill points by progress, not by time: after the ingest has committed a random share of the
    # lines (somewhere in reading, merging, creating DO files or checkpointing), and once more
    # after it has merged every line (in its final flush, if it is still there). The killed runs
    # keep the days open in DO files (`--no-finalize`); the last run finalizes them, so its report
    # is compared with a clean run that wrote the same ended days straight to the warehouse.
    rng = random.Random(1)
    targets = sorted(int(len(lines) * rng.uniform(0.03, 0.9)) for _ in range(7))
    killed_mid_run = 0
    for target in [*targets, len(lines) - 1]:
        # At least one batch of this run committed, so no kill lands before start-up is over.
        goal = max(target, absorbed_line(state) + 1)
        proc = subprocess.Popen(killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda goal=goal, proc=proc: absorbed_line(state) >= goal or proc.poll() is not None)
        killed_mid_run += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=DEADLINE)
    assert killed_mid_run >= len(targets)  # a share below 90 % leaves the ingest lines to read
    final = subprocess.run(cmd, capture_output=True, timeout=300)
    assert final.returncode == 0, final.stderr
    assert report_json(state) == expected


def test_follow_mode_finalizes_days_as_they_end(tmp_path: Path, state: StateDir) -> None:
    import threading

    from rings_cli.ingest.run import Ingest

    log = tmp_path / "access.log"
    append(log, [line(when="01/Dec/2025:23:50:00 +0000"), line(when="02/Dec/2025:00:10:00 +0000")])
    clock = {"now": dt.datetime(2025, 12, 2, 0, 20, tzinfo=dt.UTC)}  # Dec 1 ended 20 minutes ago
    ingest = Ingest(state, now=lambda: clock["now"])
    runner = threading.Thread(target=ingest.follow, args=([str(log)], 0.1), kwargs={"poll": 0.05})
    runner.start()
    try:
        wait_for(lambda: do_requests(state) == 2)
        flushes = len(ingest.summary.flushes)
        wait_for(lambda: len(ingest.summary.flushes) >= flushes + 2)  # a whole flush-finalize cycle since
        assert ingest.summary.finalized == []  # within the 1 h grace: Dec 1 stays open
        clock["now"] = dt.datetime(2025, 12, 2, 1, 30, tzinfo=dt.UTC)  # the grace period has passed
        wait_for(lambda: ingest.summary.finalized == ["default/2025-12-01"])
        assert not state.salt_path("default", "2025-12-01").exists()
        assert state.salt_path("default", "2025-12-02").exists()
    finally:
        ingest.stop()
        runner.join(timeout=DEADLINE)
    assert not runner.is_alive()


def test_a_file_written_without_pause_is_still_flushed(tmp_path: Path, state: StateDir) -> None:
    """Each poll reads a bounded part of a file, so a log that grows faster than it is read does
    not keep the follower in one poll forever: the flush due after every poll happens."""
    from rings_cli.ingest.run import Ingest

    log = tmp_path / "access.log"
    clock = {"t": 0.0}
    now = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.UTC)
    ingest = Ingest(state, fmt="combined", chunk_bytes=4096, clock=lambda: clock["t"], now=now)
    written = 0

    def write(n: int) -> None:
        nonlocal written
        append(log, [line(request=f"GET /p{written + i} HTTP/1.1") for i in range(n)])
        written += n

    write(400)
    with ingest.following([str(log)], flush_interval=1.0) as step:
        for n in range(1, 6):
            clock["t"] += 2.0  # a flush is due at every step
            assert step()
            assert ingest.summary.requests < written  # a poll reads part of what is there
            assert len(ingest.summary.flushes) == n  # and is flushed after, not at the file's end
            write(400)  # the server writes more than a poll reads
        while step():  # the server pauses: the follower catches up
            clock["t"] += 2.0
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")
    assert report["totals"]["requests"] == written
