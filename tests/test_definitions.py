"""Issue 29: days counted before a definition changed keep their numbers, and a report whose range
spans a change says so; a line without a status is a request of status `-`."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import duckdb

from rings_cli.core import definitions
from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_cli, run_rings

FIXTURES = Path(__file__).parent / "fixtures"
OLD_DAYS = ("--start", "2025-11-01", "--end", "2025-11-02")
ALL_DAYS = ("--start", "2025-11-01", "--end", "2025-11-03")


def legacy(tmp_path: Path, name: str = "legacy_state.tar.gz") -> StateDir:
    """A state dir written by an earlier release (fixtures/make_legacy_state.py): its days were
    counted by definitions 1."""
    with tarfile.open(FIXTURES / name) as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return state


def test_a_report_of_days_of_one_version_says_nothing(tmp_path: Path) -> None:
    state = legacy(tmp_path)
    report = report_json(state, *OLD_DAYS)
    assert "definitions_changed" not in report
    assert report["bots"] == dict.fromkeys(definitions.BOT_REASONS, 0)


def test_old_days_keep_their_numbers_and_a_range_across_the_change_says_so(tmp_path: Path, write_log) -> None:
    state = legacy(tmp_path)
    before = report_json(state, *OLD_DAYS)
    new_day = [
        line(vhost="a.example", when="03/Nov/2025:10:00:00 +0000", ip="192.0.2.7"),
        line(vhost="a.example", when="03/Nov/2025:10:01:00 +0000", ip="192.0.2.7", ua="Java/1.8.0_73"),
    ]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(new_day)))
    assert result.returncode == 0, result.stderr.decode()
    assert report_json(state, *OLD_DAYS) == before  # the old days: as they were counted
    report = report_json(state, *ALL_DAYS)
    changed = report["definitions_changed"]
    assert [(r["version"], r["first"], r["last"]) for r in changed] == [
        (1, "2025-11-01", "2025-11-02"),
        (definitions.VERSION, "2025-11-03", "2025-11-03"),
    ]
    assert [r["requests"] for r in changed] == [before["totals"]["requests"], 2]
    assert all(r["changes"] == definitions.CHANGES[r["version"]] for r in changed)
    assert report["bots"]["library"] == 1
    table = run_cli("report", "--state-dir", str(state.root), *ALL_DAYS)
    assert table.exit_code == 0, table.output
    assert "the definitions changed within this range" in " ".join(table.output.split())
    html = run_cli("report", "--state-dir", str(state.root), *ALL_DAYS, "--format", "html")
    assert "the definitions changed within this range" in html.output
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_a_day_with_lines_of_both_versions_is_both(tmp_path: Path, write_log) -> None:
    """The fixture's open day (a DO file of the earlier release) takes a line counted now."""
    state = legacy(tmp_path)
    late = [line(vhost="a.example", when="02/Nov/2025:23:00:00 +0000", ip="192.0.2.8")]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(late)))
    assert result.returncode == 0, result.stderr.decode()
    changed = report_json(state, "--start", "2025-11-02", "--end", "2025-11-02")["definitions_changed"]
    assert [(r["version"], r["first"]) for r in changed] == [
        (1, "2025-11-02"),
        (definitions.VERSION, "2025-11-02"),
    ]
    assert changed[1]["requests"] == 1


def test_the_older_fixture_opens_and_gains_the_new_tables(tmp_path: Path, write_log) -> None:
    state = legacy(tmp_path, "state_6ba5f44.tar.gz")
    report = report_json(state, "--start", "2025-01-01", "--end", "2026-12-31")
    assert report["totals"]["requests"] > 0 and "definitions_changed" not in report
    added = [line(vhost="a.example", when="05/Nov/2025:10:00:00 +0000", ip="192.0.2.9", ua="curl/8.5.0")]
    result = run_rings("ingest", "--state-dir", str(state.root), str(write_log(added)))
    assert result.returncode == 0, result.stderr.decode()
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT reason, requests FROM bots").fetchall() == [("library", 1)]
    report = report_json(state, "--start", "2025-01-01", "--end", "2026-12-31")
    assert [r["version"] for r in report["definitions_changed"]] == [1, definitions.VERSION]


# --- a line without a status ---------------------------------------------------------------------

FIREFOX = "Mozilla/5.0+(X11;+Linux+x86_64;+rv:140.0)+Gecko/20100101+Firefox/140.0"
W3C = [
    "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes cs(User-Agent)",
    f"2025-12-01 10:00:00 192.0.2.12 GET /a - - {FIREFOX}",  # the edge closed the connection
    f"2025-12-01 10:00:01 192.0.2.12 GET /b 200 512 {FIREFOX}",
    f"2025-12-01 10:00:02 192.0.2.12 GET /c abc 0 {FIREFOX}",
]


def test_a_line_without_a_status_is_a_request_of_status_dash(state: StateDir, write_log) -> None:
    result = run_cli(
        "ingest", "--state-dir", str(state.root), "--json", "--tenant", "site", str(write_log(W3C, "u.log"))
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"] == 2
    assert summary["rejected_by_reason"] == {"comment": 1, "bad status": 1}  # `abc` is no status
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-01")
    assert report["status"] == {"-": 1, "200": 1}
    assert report["totals"]["requests"] == 2 and report["totals"]["page_views"] == 1
    root = str(state.root)
    csv = run_cli("report", "--state-dir", root, "--start", "2025-12-01", "-f", "csv", "--section", "status")
    assert csv.stdout.splitlines() == ["status,requests", "-,1", "200,1"]
