"""The command surface: exit codes, one-line errors, stdin, compression, JSON summary, the lock."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rings_cli.cli import app
from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_cli, run_rings


def test_ingest_summary_json(state: StateDir, write_log) -> None:
    log = write_log([line(), line(request="GET /a.css HTTP/1.1"), "junk"])
    result = run_cli("ingest", "--state-dir", str(state.root), "--json", str(log))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lines_read"] == 3 and summary["parsed"] == 2 and summary["rejected"] == 1
    assert summary["rejected_by_reason"] == {"unparseable": 1}
    assert summary["page_views"] == 1 and summary["requests"] == 2
    assert summary["tenants"] == ["default"] and summary["days"] == ["2025-12-01"]
    assert summary["formats"] == {str(log): "combined"}


def test_ingest_text_summary_and_quiet(state: StateDir, write_log) -> None:
    log = write_log([line()])
    text = run_cli("ingest", "--state-dir", str(state.root), str(log))
    assert "Read 1 line: 1 parsed, 0 rejected" in text.stdout
    assert "1 request, 1 page view, 0 bot requests" in text.stdout
    assert "1 tenant (default), 1 day, in" in text.stdout
    quiet = run_cli("ingest", "--state-dir", str(state.root), "--quiet", str(log))
    assert quiet.exit_code == 0 and quiet.stdout == ""


@pytest.mark.parametrize("opener", [gzip.open, bz2.open, lzma.open])
def test_compressed_inputs_by_content_not_name(tmp_path: Path, state: StateDir, opener) -> None:
    path = tmp_path / "rotated.1"  # no telling suffix on purpose
    with opener(path, "wt") as f:
        f.write(line() + "\n" + line(ip="9.9.9.9") + "\n")
    result = run_cli("ingest", "--state-dir", str(state.root), "--json", str(path))
    assert json.loads(result.stdout)["page_views"] == 2


def test_stdin_through_a_real_process(state: StateDir) -> None:
    data = (line() + "\n" + line(ip="9.9.9.9") + "\n").encode()
    proc = run_rings("ingest", "--state-dir", str(state.root), "--json", input=data)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["page_views"] == 2
    # The first run finalized 2025-12-01 (long past). stdin has no identity, so each run counts what
    # it reads: the same lines again are late, their page views count, their visitors cannot.
    dash = run_rings("ingest", "--state-dir", str(state.root), "--json", "-", input=data)
    again = json.loads(dash.stdout)
    assert (again["rejected_by_reason"], again["page_views"]) == ({}, 2)
    assert again["late_tenant_days"] == ["default/2025-12-01"]
    totals = report_json(state)["totals"]
    assert (totals["page_views"], totals["unique_visitors"]) == (4, 2)


def test_state_dir_from_environment(tmp_path: Path, write_log) -> None:
    log = write_log([line()])
    env = {"RINGS_STATE_DIR": str(tmp_path / "env-state")}
    assert run_rings("ingest", "-q", str(log), env=env).returncode == 0
    proc = run_rings("report", "--format", "json", env=env)
    assert json.loads(proc.stdout)["totals"]["page_views"] == 1
    assert (tmp_path / "env-state" / "warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "/no/such/file.log"], "Error: no such file: /no/such/file.log"),
        (["ingest", "--format", "klingon", "x"], "Error: unknown format 'klingon'"),
        (["ingest", "--tenant", "../etc", "x"], "Error: invalid tenant name '../etc'"),
        (["report", "--start", "tomorrow"], "Error: --start: 'tomorrow' is not a date"),
        (["report", "--start", "2025-02-01", "--end", "2025-01-01"], "Error: --start 2025-02-01 is after"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    proc = run_rings(*args, "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 2
    err = proc.stderr.decode().strip()
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_unrecognised_format_is_a_usage_error(state: StateDir, write_log) -> None:
    log = write_log(["this is not", "an access log", "at all"])
    proc = run_rings("ingest", "--state-dir", str(state.root), str(log))
    assert proc.returncode == 2
    assert "cannot recognise the log format" in proc.stderr.decode()


def test_bad_option_value_is_exit_2(state: StateDir) -> None:
    result = run_cli("report", "--state-dir", str(state.root), "--format", "xml")
    assert result.exit_code == 2


def test_second_ingest_gets_a_clear_lock_error(state: StateDir, write_log) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "rings_cli", "ingest", "--state-dir", str(state.root), "-q"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # The catalog is opened only once the lock is held: its existence says the lock is taken.
        deadline = time.monotonic() + 90
        while not state.catalog_path.exists():
            assert first.poll() is None and time.monotonic() < deadline, (
                "the first ingest never took the lock"
            )
            time.sleep(0.05)
        second = run_rings("ingest", "--state-dir", str(state.root), str(write_log([line()])))
        assert second.returncode == 1
        assert "another `rings ingest` is running" in second.stderr.decode()
        assert len(second.stderr.decode().strip().splitlines()) == 1
    finally:
        assert first.stdin is not None
        first.stdin.write((line() + "\n").encode())
        first.stdin.close()
        assert first.wait(timeout=120) == 0
    assert report_json(state)["totals"]["page_views"] == 1


def test_python_dash_m_and_version() -> None:
    proc = run_rings("--version")
    assert proc.returncode == 0 and proc.stdout.decode().startswith("rings ")


def test_every_command_and_option_is_documented() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, f"command {name} has no help"
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in group.commands:  # type: ignore[attr-defined]
        assert f"rings {name}" in readme, f"README does not document `rings {name}`"


def test_shell_completion_is_on() -> None:
    """Typer's completion (issue 28): `rings --show-completion bash` prints the script to source
    (named after the program: `python -m rings_cli` here). Typer finds the shell from the parent
    processes, which a CI runner may not have; its own switch makes the shell the option's value."""
    proc = run_rings("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert proc.returncode == 0, proc.stderr
    assert b"_completion() {" in proc.stdout and b"complete " in proc.stdout


def test_flushes_put_off_are_shown() -> None:
    from rings_cli.ingest.summary import IngestSummary
    from rings_cli.ui.render import summary_text

    summary = IngestSummary(lines_read=10, parsed=10, flush_retries=2)
    data = summary.to_dict()
    assert data["flush_retries"] == 2
    assert "2 flush attempts put off while readers held the warehouse" in summary_text(data)
    assert "put off" not in summary_text(IngestSummary(lines_read=10, parsed=10).to_dict())
