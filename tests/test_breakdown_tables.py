"""Browsers, OS, devices, countries and not-found end to end: report JSON equal to the per-line
reference, exactly-once (same log twice, follow-mode restart), finalization, the row limit,
CSV, `rings live`, and a state dir written before the tables existed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import duckdb

from rings_cli.core.state import StateDir
from rings_cli.enrich.breakdowns import OTHER, ROW_LIMIT
from tests.conftest import ROOT, line, report_json, run_cli, run_rings

sys.path.insert(0, str(ROOT / "tests"))
from breakdown_reference import breakdown_reference, generated_log

FIXTURES = Path(__file__).parent / "fixtures"
KEYS = ("browsers", "os", "devices", "countries", "not_found")
DEADLINE = 60.0
FOLLOW = [
    sys.executable,
    "-m",
    "rings_cli",
    "ingest",
    "--follow",
    "--quiet",
    "--no-finalize",
    "--flush-interval",
    "0.5",
]


def ingest(state: StateDir, *paths: Path | str, no_finalize: bool = True) -> None:
    args = ["ingest", "--state-dir", str(state.root), "-q", *map(str, paths)]
    result = run_cli(*args, *(["--no-finalize"] if no_finalize else []))
    assert result.exit_code == 0, result.output


def day_report(state: StateDir, day: str) -> dict[str, Any]:
    return report_json(state, "--start", day, "--end", day, "--limit", "100000")


def breakdowns(state: StateDir) -> dict[str, Any]:
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02", "--limit", "100000")
    return {key: report[key] for key in KEYS}


def requests_so_far(state: StateDir) -> int:
    """Requests a report sees now (DO files included), 0 before the state dir exists."""
    return report_json(state)["totals"]["requests"] if state.catalog_path.exists() else 0


def test_report_equals_the_per_line_reference(state: StateDir, write_log) -> None:
    lines = generated_log(4000)
    expected = breakdown_reference(lines)
    ingest(state, write_log(lines))
    for day in ("2025-12-01", "2025-12-02"):
        report = day_report(state, day)

        def got(
            key: str, label: Any, report: dict[str, Any] = report, r_day: str = day
        ) -> dict[tuple[str, str], tuple[int, int]]:
            return {(r_day, label(r)): (r["page_views"], r["unique_visitors"]) for r in report[key]}

        def want(key: str, day: str = day) -> dict[tuple[str, str], tuple[int, int]]:
            return {k: v for k, v in expected[key].items() if k[0] == day}

        assert got("browsers", lambda r: f"{r['browser']} {r['version']}".strip()) == want("browsers")
        assert got("os", lambda r: r["os"]) == want("os")
        # devices also lists `bot`, which has requests but no page views
        assert {k: v for k, v in got("devices", lambda r: r["device"]).items() if v != (0, 0)} == want(
            "devices"
        )
        assert {(day, r["device"]): r["requests"] for r in report["devices"]} == {
            k: v for k, v in expected["requests_by_device"].items() if k[0] == day
        }
        assert got("countries", lambda r: r["country"]) == want("countries")
        assert {(day, r["path"]): (r["requests"], r["bot_requests"]) for r in report["not_found"]} == {
            k: v for k, v in expected["not_found"].items() if k[0] == day
        }
        names = {r["country"]: r["name"] for r in report["countries"]}
        assert names["US"] == "United States" and names["unknown"] == "unknown"


def test_same_log_twice_halves_and_finalization_give_the_same_counts(tmp_path: Path, write_log) -> None:
    lines = generated_log(2000, seed=3)
    whole = StateDir(tmp_path / "whole")
    log = write_log(lines, "whole.log")
    ingest(whole, log)
    expected = breakdowns(whole)
    ingest(whole, log)  # exactly-once: nothing new
    assert breakdowns(whole) == expected

    halves = StateDir(tmp_path / "halves")
    first, second = write_log(lines[:900], "a.log"), write_log(lines[900:], "b.log")
    ingest(halves, first)
    ingest(halves, second)
    assert breakdowns(halves) == expected  # uniques stay exact across runs (stored page views)

    result = run_cli("finalize", "--state-dir", str(whole.root), "--grace", "0s")
    assert result.exit_code == 0, result.output
    assert breakdowns(whole) == expected
    with duckdb.connect(str(whole.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT bool_and(finalized) FROM daily").fetchone() == (True,)


def test_follow_mode_restart_counts_each_line_once(tmp_path: Path, write_log) -> None:
    lines = generated_log(1500, seed=5)
    reference_state = StateDir(tmp_path / "ref")
    ingest(reference_state, write_log(lines, "ref.log"))
    expected = breakdowns(reference_state)

    state = StateDir(tmp_path / "state")
    log = tmp_path / "follow.log"
    log.write_text("".join(x + "\n" for x in lines[:700]))
    for target in (700, 1500):
        proc = subprocess.Popen(
            [*FOLLOW, "--state-dir", str(state.root), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + DEADLINE
            while requests_so_far(state) < target:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "follow mode did not catch up"
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=DEADLINE) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if target == 700:
            with log.open("a") as f:
                f.write("".join(x + "\n" for x in lines[700:]))
    assert breakdowns(state) == expected


def test_a_scanner_cannot_grow_not_found_past_the_row_limit(state: StateDir, write_log) -> None:
    scan = [
        line(
            request=f"GET /probe-{i:05d} HTTP/1.1",
            status=404,
            ua="curl/8.4.0",
            when="01/Dec/2025:10:00:00 +0000",
        )
        for i in range(ROW_LIMIT + 50)
    ]
    ingest(state, write_log(scan[: ROW_LIMIT - 10], "a.log"))
    ingest(state, write_log(scan[ROW_LIMIT - 10 :] + scan[:5], "b.log"))  # 5 seen again: their own rows
    report = day_report(state, "2025-12-01")
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT count(*), sum(requests), sum(bot_requests) FROM not_found").fetchone()
        other = con.execute("SELECT requests FROM not_found WHERE path = ?", [OTHER]).fetchone()
    assert rows == (ROW_LIMIT + 1, ROW_LIMIT + 55, ROW_LIMIT + 55)  # every request still counted
    assert other == (50,)
    assert {"path": "/probe-00000", "requests": 2, "bot_requests": 2} in report["not_found"]


def test_pages_past_the_row_limit_count_as_other_with_their_visitors(state: StateDir, write_log) -> None:
    views = [
        line(request=f"GET /p{i:05d} HTTP/1.1", ip=f"198.51.100.{i % 200}", when="01/Dec/2025:10:00:00 +0000")
        for i in range(ROW_LIMIT + 20)
    ]
    ingest(state, write_log(views))
    report = day_report(state, "2025-12-01")
    pages = {p["path"]: p for p in report["top_pages"]}
    assert len(pages) == ROW_LIMIT + 1
    assert pages[OTHER]["views"] == 20 and pages[OTHER]["unique_views"] == 20
    assert report["totals"]["page_views"] == ROW_LIMIT + 20


def test_csv_sections_and_live_panels(state: StateDir, write_log) -> None:
    ingest(state, write_log(generated_log(500)))
    for section, header in (
        ("browsers", "browser,version,page_views,unique_visitors,requests"),
        ("os", "os,page_views,unique_visitors,requests"),
        ("devices", "device,page_views,unique_visitors,requests"),
        ("countries", "country,page_views,unique_visitors,requests,name"),
        ("not_found", "path,requests,bot_requests"),
    ):
        result = run_cli(
            "report",
            "--state-dir",
            str(state.root),
            "--start",
            "2025-12-01",
            "--format",
            "csv",
            "--section",
            section,
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines()[0] == header
    out = run_rings(
        "live", "--once", "--date", "2025-12-01", "--state-dir", str(state.root), env={"COLUMNS": "80"}
    )
    assert out.returncode == 0, out.stderr.decode()
    frame = out.stdout.decode()
    assert all(len(row) <= 80 for row in frame.splitlines())
    for title in ("Browsers", "OS", "Devices", "Countries", "Not found", "United States"):
        assert title in frame


def test_a_state_dir_from_before_the_tables_gains_them_in_place(tmp_path: Path, write_log) -> None:
    """The legacy fixture (fixtures/make_legacy_state.py) has DO files and a warehouse without the
    breakdown tables: reports still work, its numbers stay, and new lines fill the new tables."""
    with tarfile.open(FIXTURES / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:  # the tar keeps no modes; check wants owner-only
        path.chmod(0o700 if path.is_dir() else 0o600)
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    before = report_json(state, *window)
    assert before["totals"]["requests"] == 30 and before["browsers"] == [] and before["not_found"] == []
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    added = [
        line(vhost="a.example", when="02/Nov/2025:23:00:00 +0000", ip="8.8.8.8", ua="curl/8.4.0", status=404),
        line(vhost="a.example", when="02/Nov/2025:23:01:00 +0000", ip="8.8.8.8"),
    ]
    result = run_rings(
        "ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(write_log(added))
    )
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["requests"] == 2
    after = report_json(state, *window)
    assert after["totals"]["requests"] == 32
    assert after["countries"] == [
        {"country": "US", "page_views": 1, "unique_visitors": 1, "requests": 2, "name": "United States"}
    ]
    assert after["not_found"] == [{"path": "/", "requests": 1, "bot_requests": 1}]
    assert {r["device"]: r["requests"] for r in after["devices"]} == {"desktop": 1, "bot": 1}
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
