"""Issue 8, hostile input and unlucky operators: forged dates and sizes, many sites under a small
descriptor limit, owner-only files, the --rejects file, and errors that are one line."""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_cli, run_rings


def ingest(state: StateDir, log: Path, *extra: str) -> dict:
    result = run_cli("ingest", "--state-dir", str(state.root), "--json", *extra, str(log))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- item 7: sizes ---------------------------------------------------------------------------


def test_absurd_sizes_are_rejected_and_sums_stay_exact(state: StateDir, write_log) -> None:
    tib = str(1 << 40)
    log = write_log(
        [
            line(size="9223372036854775807"),
            line(size="9223372036854775807"),
            line(size="99999999999999999999"),
            line(size="100"),
            line(size=tib),
            line(size=tib),
            line(size="-"),
        ]
    )
    summary = ingest(state, log)
    assert summary["rejected_by_reason"] == {"bad size": 3}
    assert summary["requests"] == 4
    report = report_json(state)
    assert report["totals"]["bytes"] == 100 + 2 * (1 << 40)
    assert report["totals"]["requests"] == 4


# --- item 2: dates ---------------------------------------------------------------------------


def test_far_future_and_far_past_lines_never_become_days(state: StateDir, write_log) -> None:
    log = write_log(
        [
            line(when="01/Dec/2025:10:00:00 +0000"),
            line(when="01/Jan/2999:10:00:00 +0000"),
            line(when="01/Jan/1900:10:00:00 +0000"),
            line(when="02/Dec/2025:10:00:00 +0000"),
        ]
    )
    summary = ingest(state, log)
    assert summary["rejected_by_reason"] == {"future": 1, "too old": 1}
    assert summary["days"] == ["2025-12-01", "2025-12-02"]
    report = report_json(state)
    assert (report["start"], report["end"]) == ("2025-12-01", "2025-12-02")
    assert not list(state.salts_dir.glob("2999-*")) and not list(state.salts_dir.glob("1900-*"))


def test_an_event_with_a_client_chosen_future_time_is_rejected(state: StateDir, write_log) -> None:
    ok = {"type": "page_view", "timestamp": 1764583200000, "path": "/a", "visitorHash": "x"}
    forged = {**ok, "timestamp": 32503680000000}  # year 3000
    log = write_log([json.dumps(ok), json.dumps(forged)], "events.log")
    summary = ingest(state, log, "--tenant", "app")
    assert summary["rejected_by_reason"] == {"future": 1}
    assert summary["requests"] == 1


def test_lines_a_day_ahead_are_kept_and_the_floor_is_configurable(tmp_path: Path, write_log) -> None:
    state = StateDir(tmp_path / "state")
    state.root.mkdir()
    (state.root / "rings.toml").write_text('oldest_date = "2025-12-02"\n')
    log = write_log([line(when="01/Dec/2025:23:59:59 +0000"), line(when="02/Dec/2025:00:00:00 +0000")])
    summary = ingest(state, log)
    assert summary["rejected_by_reason"] == {"too old": 1}
    (state.root / "rings.toml").write_text("oldest_date = 12\n")
    result = run_cli("ingest", "--state-dir", str(state.root), str(log))
    assert result.exit_code == 2
    assert "oldest_date must be a date" in result.output


def test_a_ten_year_range_is_small_and_says_hours_are_left_out(state: StateDir, write_log) -> None:
    log = write_log([line(when="01/Dec/2025:10:00:00 +0000"), line(when="03/Dec/2025:10:00:00 +0000")])
    ingest(state, log)
    report = report_json(state, "--start", "2016-01-01", "--end", "2025-12-31")
    assert report["hours"] == []
    assert "hours_omitted" in report
    # zero days are listed only within the history the state dir holds
    assert [d["date"] for d in report["days"]] == ["2025-12-01", "2025-12-02", "2025-12-03"]
    assert report["totals"]["requests"] == 2
    week = report_json(state, "--start", "2025-11-28", "--end", "2025-12-04")
    assert "hours_omitted" not in week and len(week["hours"]) == 2
    assert week["days"][0]["date"] == "2025-12-01"
    huge = report_json(state, "--start", "0001-01-01", "--end", "9999-12-31")
    assert len(huge["days"]) == 3


# --- item 9: many sites under a descriptor limit ----------------------------------------------


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def test_many_sites_at_once_under_a_small_descriptor_limit(tmp_path: Path, write_log) -> None:
    sites, days = 120, 2
    lines = [
        line(ip=f"10.1.{s}.{d + 1}", when=f"0{d + 1}/Dec/2025:10:00:00 +0000", vhost=f"site{s}.example")
        for s in range(sites)
        for d in range(days)
    ]
    log = write_log(lines)
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "rings_cli", "ingest", "--state-dir", str(state), "--json", str(log)],
        capture_output=True,
        preexec_fn=_limit_descriptors,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    summary = json.loads(result.stdout)
    assert summary["requests"] == sites * days and len(summary["tenants"]) == sites
    report = report_json(StateDir(state), "--start", "2025-12-01", "--end", "2025-12-02")
    assert report["totals"]["page_views"] == sites * days
    assert report["totals"]["unique_visitors"] == sites * days
    assert len(report["tenants"]) == sites


# --- item 6: owner-only --------------------------------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def _ingest_under_umask_022(state: Path, log: Path, *extra: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rings_cli",
            "ingest",
            "--state-dir",
            str(state),
            "--no-finalize",
            *extra,
            str(log),
        ],
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()


def test_state_dir_is_owner_only_even_under_umask_022(tmp_path: Path, write_log) -> None:
    log = write_log([line(), line(vhost="b.example")])
    state = tmp_path / "state"
    _ingest_under_umask_022(state, log)
    modes = _modes(state)
    assert any(name.endswith(".sqlite") and name.startswith("do/") for name in modes)
    wider = {name: oct(m) for name, m in modes.items() if m & 0o077}
    assert wider == {}


def test_group_readable_setting_is_0750_0640_and_nothing_wider(tmp_path: Path, write_log) -> None:
    log = write_log([line()])
    state = tmp_path / "state"
    state.mkdir()
    (state / "rings.toml").write_text("group_readable = true\n")
    _ingest_under_umask_022(state, log)
    modes = _modes(state)
    assert modes["."] == 0o750
    assert modes["warehouse.duckdb"] == 0o640 and modes["catalog.sqlite"] == 0o640
    assert all(m & 0o007 == 0 for m in modes.values())  # nothing for others
    assert modes["salts"] == 0o700


def test_an_older_state_dir_left_world_readable_is_narrowed(tmp_path: Path, write_log) -> None:
    log = write_log([line()])
    state = tmp_path / "state"
    _ingest_under_umask_022(state, log)
    os.chmod(state, 0o755)
    os.chmod(state / "catalog.sqlite", 0o644)
    os.chmod(state / "warehouse.duckdb", 0o644)
    _ingest_under_umask_022(state, log)
    modes = _modes(state)
    assert modes["."] == 0o700 and modes["catalog.sqlite"] == 0o600 and modes["warehouse.duckdb"] == 0o600


def test_rejects_file_is_fresh_owner_only_and_never_a_symlink(tmp_path: Path, write_log) -> None:
    log = write_log([line(), "junk"])
    out = tmp_path / "rejects.tsv"
    out.write_text("old\n")
    os.chmod(out, 0o644)
    result = run_cli("ingest", "--state-dir", str(tmp_path / "s1"), "--rejects", str(out), str(log))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().split("\t")[1:] == ["unparseable", "junk\n"]

    target = tmp_path / "precious"
    target.write_text("keep me\n")
    link = tmp_path / "link.tsv"
    link.symlink_to(target)
    result = run_rings("ingest", "--state-dir", str(tmp_path / "s2"), "--rejects", str(link), str(log))
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        f"Error: --rejects {link}: is a symbolic link; name a plain file"
    ]
    assert target.read_text() == "keep me\n"
    assert not (tmp_path / "s2" / "catalog.sqlite").exists()  # refused before any input was read


def test_rejects_path_is_checked_before_reading_input(tmp_path: Path, write_log) -> None:
    log = write_log([line()])
    bad = tmp_path / "no-such-dir" / "rejects.tsv"
    result = run_rings("ingest", "--state-dir", str(tmp_path / "s"), "--rejects", str(bad), str(log))
    assert result.returncode == 2
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert not (tmp_path / "s" / "catalog.sqlite").exists()


# --- item 11: one-line errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["report", "--format", "xml"], 2, "'xml' is not one of table, json, csv"),
        (["report", "--limit", "abc"], 2, "--limit"),
        (["report", "--limit", "0"], 2, "--limit"),
        (["report", "--bogus"], 2, "No such option: --bogus"),
        (["bogus"], 2, "No such command 'bogus'"),
        (["ingest", "--rejects-limit", "-1", "x.log"], 2, "--rejects-limit"),
        (["report", "--section", "hours"], 2, "--section: only goes with --format csv"),
    ],
)
def test_option_errors_are_one_line(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    result = run_rings(*args, "--state-dir", str(tmp_path / "s")) if args[0] != "bogus" else run_rings(*args)
    assert result.returncode == code
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and says in err[0], err
    assert "╭" not in result.stderr.decode() and result.stdout == b""


def test_state_dir_that_is_a_file_and_a_missing_one(tmp_path: Path, write_log) -> None:
    log = write_log([line()])
    afile = tmp_path / "afile"
    afile.write_text("x")
    for command in (["ingest", str(log)], ["report"], ["finalize"]):
        result = run_rings(*command, "--state-dir", str(afile))
        assert result.returncode == 2, command
        assert result.stderr.decode().strip().splitlines() == [f"Error: state dir {afile} is not a directory"]
    result = run_rings("report", "--state-dir", str(tmp_path / "missing"))
    assert result.returncode == 1
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"Error: no state dir at {tmp_path / 'missing'}")
    assert not (tmp_path / "missing").exists()
