"""The identity secrets are guarded (issue 25, items 3 and 4): a missing, damaged or replaced
`secret.key`, and a missing or damaged salt of an open tenant-day, are found by `rings check`
(exit 1, one line each), refused by `rings ingest` before anything is counted twice, and
`--repair` says what it recovers and what it cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_rings

FIXTURES = Path(__file__).parent / "fixtures"
LOST = "files read before can no longer be recognised (read again, they would count twice)"


@pytest.fixture(autouse=True)
def owner_umask() -> Iterator[None]:
    old = os.umask(0o077)
    yield
    os.umask(old)


def lines(n: int, first: int = 0, hour: int = 10, tenant: str = "alice") -> list[str]:
    return [
        line(
            ip=f"198.51.100.{i % 250}",
            when=f"01/Dec/2025:{hour:02d}:{i % 60:02d}:00 +0000",
            request=f"GET /p{i % 7} HTTP/1.1",
            vhost=tenant,
        )
        for i in range(first, first + n)
    ]


def write(path: Path, rows: list[str], mode: str = "w") -> Path:
    with open(path, mode) as f:
        f.write("".join(r + "\n" for r in rows))
    return path


def ingest(state: StateDir, *paths: Path, finalize: bool = False) -> subprocess.CompletedProcess[bytes]:
    extra = () if finalize else ("--no-finalize",)
    return run_rings(
        "ingest", "--state-dir", str(state.root), "-f", "vcombined", "--json", *extra, *map(str, paths)
    )


def check(state: StateDir, *args: str) -> tuple[int, str]:
    result = run_rings("check", "--state-dir", str(state.root), *args)
    assert "Traceback" not in result.stderr.decode()
    return result.returncode, result.stdout.decode()


def requests(state: StateDir) -> int:
    return int(report_json(state)["totals"]["requests"])


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1 and err.count("\n") == 1 and err.startswith("Error: "), err
    return err


# --- the state secret -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda p: p.unlink(), f"state secret missing: {LOST}"),
        (lambda p: p.write_bytes(b""), f"damaged state secret (0 bytes, not 32): {LOST}"),
        (
            lambda p: p.write_bytes(os.urandom(32)),
            "state secret is not the one the file checkpoints were made with",
        ),
    ],
    ids=["deleted", "empty", "replaced"],
)
def test_a_lost_secret_is_found_refused_and_repaired_without_counting_twice(
    state: StateDir, tmp_path: Path, damage, problem: str
) -> None:
    log = write(tmp_path / "access.log", lines(40))
    assert ingest(state, log).returncode == 0
    before = report_json(state)
    secret = state.root / "secret.key"
    damage(secret)

    code, out = check(state)
    assert code == 1 and out.endswith("1 problem\n")
    assert f"{secret}: {problem}" in out and "`rings ingest` refuses to run" in out
    refused = ingest(state, log)
    assert str(secret) in one_line_error(refused) and "rings check" in refused.stderr.decode()
    assert report_json(state) == before  # nothing counted twice

    code, out = check(state, "--repair")
    assert code == 0, out
    assert "repaired: made a new state secret; recognised 1 of 1 files read before again" in out
    assert out.endswith("OK\n")
    assert len(secret.read_bytes()) == 32
    assert json.loads(ingest(state, log).stdout)["lines_read"] == 0  # known again: +0
    write(log, lines(5, first=40, hour=11), "a")
    assert json.loads(ingest(state, log).stdout)["requests"] == 5  # only what it gained
    assert requests(state) == 45


def test_a_file_renamed_by_rotation_is_found_by_its_inode_and_a_vanished_one_is_named(
    state: StateDir, tmp_path: Path
) -> None:
    log = write(tmp_path / "access.log", lines(30))
    gone = write(tmp_path / "old.log", lines(20, first=100, hour=8))
    assert ingest(state, gone, log).returncode == 0
    log.rename(tmp_path / "access.log.1")  # logrotate: same inode, new name
    write(log, lines(3, first=200, hour=12))  # a new access.log
    gone.unlink()
    (state.root / "secret.key").unlink()

    code, out = check(state, "--repair")
    assert code == 0, out
    assert "recognised 1 of 2 files read before again by their checkpoints: " in out
    assert f"to do: not recognised: {gone} (read to line 20): the secret that knew them is gone" in out
    summary = json.loads(ingest(state, tmp_path / "access.log.1", log).stdout)
    assert (summary["lines_read"], summary["requests"]) == (3, 3)  # the rotated copy: +0
    assert requests(state) == 53


def test_a_state_dir_of_the_previous_release_opens_and_its_lost_secret_is_recovered(tmp_path: Path) -> None:
    """The fixture (release 6ba5f44) has no record of its secret: the first run takes the one
    there. Its checkpoints know no inode: after losing the secret, files are found by path."""
    with tarfile.open(FIXTURES / "state_6ba5f44.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    logs = ["logs/access.log.2.gz", "logs/access.log.1", "logs/access.log"]
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    before = report_json(state, *window)

    def rings(*args: str) -> subprocess.CompletedProcess[bytes]:  # in the folder the fixture read from
        command = [sys.executable, "-m", "rings_cli", *args, "--state-dir", str(state.root)]
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        return subprocess.run(command, cwd=tmp_path, capture_output=True, env=env, timeout=300)

    first = rings("ingest", "--no-finalize", "--json", *logs)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["lines_read"] == 0
    assert rings("check").stdout.decode() == "OK\n"
    (state.root / "secret.key").unlink()
    assert rings("check").returncode == 1
    repaired = rings("check", "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert "recognised 3 of 3 files read before again" in repaired.stdout.decode()
    again = rings("ingest", "--no-finalize", "--json", *logs)
    assert json.loads(again.stdout)["lines_read"] == 0
    assert report_json(state, *window) == before


# --- salts of open tenant-days ----------------------------------------------------------------


@pytest.mark.parametrize("damage", [Path.unlink, lambda p: p.write_bytes(b"")], ids=["deleted", "empty"])
def test_a_lost_salt_of_an_open_day_never_inflates_its_uniques(
    state: StateDir, tmp_path: Path, damage
) -> None:
    first = write(tmp_path / "one.log", lines(40) + lines(10, tenant="bob"))
    assert ingest(state, first).returncode == 0
    uniques = report_json(state, "--tenant", "alice")["totals"]["unique_visitors"]
    salt = state.salt_path("alice", "2025-12-01")
    damage(salt)
    more = write(
        tmp_path / "two.log", lines(30, first=20, hour=11) + lines(5, first=10, hour=11, tenant="bob")
    )

    result = ingest(state, more)  # the same visitors again, and new ones
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    assert summary["rejected_by_reason"] == {"damaged state": 30}  # set aside, not counted
    assert str(salt) in result.stdout.decode() + result.stderr.decode()
    assert not salt.exists() or salt.stat().st_size == 0  # no new salt made
    assert report_json(state, "--tenant", "alice")["totals"]["unique_visitors"] == uniques

    code, out = check(state)
    assert code == 1 and out.endswith("1 problem\n")
    assert f"{salt}: " in out and "`rings ingest` sets its lines aside" in out

    code, out = check(state, "--repair")
    assert code == 0, out
    assert "repaired: closed alice/2025-12-01 early: its salt was lost" in out
    assert not salt.exists()
    again = json.loads(ingest(state, more).stdout)  # the lines set aside, now late: once
    assert again["late_tenant_days"] == ["alice/2025-12-01"] and again["rejected_by_reason"] == {}
    alice = report_json(state, "--tenant", "alice")["totals"]
    assert (alice["requests"], alice["unique_visitors"]) == (70, uniques)
    assert requests(state) == 85
    assert check(state) == (0, "OK\n")
