"""Issue 9, reports that are never stale: `rings report` reads dirty tenant-days from their DO
files while `rings ingest --follow` runs, and readers never make a flush fail."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.state import StateDir
from rings_cli.query.report import build_report
from tests.conftest import run_rings
from tests.test_follow import Follow, append, now_line, wait_for


def timed(check: Callable[[], bool]) -> float:
    """Seconds until `check` holds (polled every 20 ms; fails at the shared deadline)."""
    started = time.monotonic()
    wait_for(check)
    return time.monotonic() - started


def requests_now(state: StateDir) -> int:
    if not state.root.exists():
        return 0
    return build_report(state)["totals"]["requests"]


@pytest.fixture
def follow():
    running: list[Follow] = []

    def start(state: StateDir, log: Path, flush_interval: str) -> Follow:
        running.append(Follow(state, str(log), flush_interval=flush_interval))
        return running[-1]

    yield start
    for f in running:
        f.kill()


def without_freshness(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("as_of", "live_tenant_days")}


def test_a_followed_line_is_in_the_next_report_long_before_the_flush(tmp_path: Path, follow) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(3)])
    proc = follow(state, log, "3600")  # no flush until the end
    proc.until(lambda: requests_now(state) == 3)
    append(log, [now_line(i, "/new") for i in range(3, 7)])
    lag = timed(lambda: requests_now(state) == 7)
    assert lag < 2.0, f"visible after {lag:.2f} s"

    live = json.loads(run_rings("report", "--state-dir", str(state.root), "-f", "json").stdout)
    assert live["totals"]["requests"] == 7 and live["totals"]["page_views"] == 7
    assert live["live_tenant_days"] == 1 and live["as_of"] is not None
    assert not state.warehouse_path.exists()  # nothing flushed: all of it came from the DO file
    table = run_rings("report", "--state-dir", str(state.root)).stdout.decode()
    assert "/new" in table and "7 page views" in table

    assert proc.stop() == 0  # flushes on the way out
    flushed = json.loads(run_rings("report", "--state-dir", str(state.root), "-f", "json").stdout)
    assert flushed["live_tenant_days"] == 0
    assert without_freshness(flushed) == without_freshness(live)


def test_twenty_readers_in_a_loop_never_fail_and_every_flush_lands(tmp_path: Path, follow) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    append(log, [now_line(0)])
    proc = follow(state, log, "1")
    proc.until(lambda: state.warehouse_path.exists() and requests_now(state) == 1)
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
    assert proc.stop() == 0
    assert b"Error" not in proc.proc.stderr.read()
    assert build_report(state)["totals"]["requests"] == 6


def test_a_dirty_day_with_a_flushed_copy_counts_once(state: StateDir, write_log) -> None:
    """With no dirty tenant-day the report reads the warehouse alone (no anti-join); with one,
    the DO file's numbers replace the warehouse's copy of that day, never add to it."""
    from rings_cli.ingest.run import Ingest
    from rings_cli.store.catalog import Catalog
    from tests.conftest import line

    days = ["01/Dec/2025:10:00:00 +0000", "02/Dec/2025:10:00:00 +0000"]
    log = write_log([line(when=w, ip=f"203.0.113.{i}") for w in days for i in range(1, 4)])
    Ingest(state, grace=None).run([str(log)])  # flushed at the end: nothing dirty
    args = {"start": "2025-12-01", "end": "2025-12-02"}
    flushed = build_report(state, **args)
    assert flushed["live_tenant_days"] == 0 and flushed["totals"]["requests"] == 6
    catalog = Catalog(state.catalog_path)
    catalog.mark_dirty([("default", "2025-12-01")])
    catalog.close()
    live = build_report(state, **args)
    assert live["live_tenant_days"] == 1
    assert without_freshness(live) == without_freshness(flushed)


def test_dirty_tenant_days_are_found_through_an_index(state: StateDir, write_log) -> None:
    """Every report asks the catalog for its dirty tenant-days: at 36,400 tenant-days a scan of
    the table would cost more than the rest of the read path's set-up."""
    from rings_cli.ingest.run import Ingest
    from rings_cli.query.readpath import DIRTY_DAYS, open_read_only
    from tests.conftest import line

    Ingest(state, grace=None).run([str(write_log([line()]))])
    con = open_read_only(state.catalog_path)
    plan = con.execute(f"EXPLAIN QUERY PLAN {DIRTY_DAYS}", (None, None)).fetchall()
    con.close()
    assert any("USING INDEX days_dirty" in row[-1] for row in plan), plan


def test_a_flush_in_this_process_waits_for_its_reader(state: StateDir, write_log) -> None:
    """`rings live PATH` reads and flushes in one process: a flush that starts while a read has the
    warehouse attached waits for it (warehouse.IN_PROCESS), instead of failing on DuckDB's
    "Unique file handle conflict" and ending the ingest."""
    from rings_cli.ingest.run import Ingest
    from rings_cli.query.readpath import current_view
    from rings_cli.warehouse.local import Warehouse
    from tests.conftest import line

    lines = [line(vhost="a.example", when=f"03/Nov/2025:10:0{i}:00 +0000") for i in range(3)]
    Ingest(state, grace=None).run([str(write_log(lines))])
    outcome: list[object] = []

    def flush() -> None:
        try:
            Warehouse(state.warehouse_path).flush([], wait=60)
            outcome.append("flushed")
        except Exception as e:  # the failure this test is about
            outcome.append(e)

    with current_view(state) as (con, _):
        flusher = threading.Thread(target=flush)
        flusher.start()
        flusher.join(timeout=1.0)  # it must still be waiting: a failure comes at once
        assert outcome == []
        assert con.execute("SELECT sum(requests) FROM daily").fetchone() == (3,)
    flusher.join(timeout=120)
    assert outcome == ["flushed"]
