"""`rings check --repair` (issue 25): what a stopped process left is finished or removed, a full
disk is never taken for damage, and a repair that restores an older state than the checkpoints
claim rolls them back, so that the lines are read again exactly once, and says so."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from tests.conftest import line, report_json, run_rings

DAY1 = "01/Dec/2025:{h:02d}:00:00 +0000"


@pytest.fixture(autouse=True)
def owner_umask() -> Iterator[None]:
    """Files the tests plant are owner-only, so no mode problem is reported that they did not mean."""
    old = os.umask(0o077)
    yield
    os.umask(old)


def day_lines(tenant: str, n: int, hour: int = 10, first_ip: int = 1, day: str = DAY1) -> list[str]:
    return [
        line(
            ip=f"203.0.113.{first_ip + i}",
            when=day.format(h=hour),
            request=f"GET /p{i} HTTP/1.1",
            vhost=tenant,
        )
        for i in range(n)
    ]


def ingest(state: StateDir, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_rings("ingest", "--state-dir", str(state.root), "-f", "vcombined", "--json", *args)


def check(state: StateDir, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_rings("check", "--state-dir", str(state.root), *args)


@pytest.fixture
def two_tenants(state: StateDir, write_log) -> StateDir:
    """alice (3 views) and bob (2 views) on one open day, flushed."""
    log = write_log(day_lines("alice", 3) + day_lines("bob", 2), "one.log")
    result = ingest(state, str(log), "--no-finalize")
    assert result.returncode == 0, result.stderr
    return state


# --- what a stopped process left ----------------------------------------------------------------


def test_files_cut_short_while_made_are_reported_and_removed_by_repair(two_tenants: StateDir) -> None:
    state = two_tenants
    before = report_json(state)
    creating = state.root / "do" / "alice" / ".2025-12-02.sqlite.k2j4x9.creating"
    creating.write_bytes(b"SQLite format 3\0" + b"\0" * 100)
    key = state.salts_dir / "alice" / ".2025-12-02.key.4242.0badcafe"
    key.write_bytes(b"\1" * 32)
    out = check(state).stdout.decode()
    assert f"{creating}: a DO file (or an unpacked day) cut short while it was made" in out
    assert f"{key}: a key (a salt or the secret) cut short while it was made" in out
    assert out.endswith("2 problems\n")

    repaired = check(state, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert f"repaired: removed {creating} (cut short while it was made)" in repaired.stdout.decode()
    assert repaired.stdout.decode().endswith("OK\n")
    assert not creating.exists() and not key.exists()
    assert report_json(state) == before


def test_an_erase_stopped_part_way_is_erases_own_file_finished_by_running_it_again(
    two_tenants: StateDir,
) -> None:
    state = two_tenants
    erasing = state.root / "warehouse.duckdb.erasing"
    erasing.write_bytes(state.warehouse_path.read_bytes()[:8192])  # the new warehouse, half built
    out = check(state).stdout.decode()
    assert f"{erasing}: left by a `rings erase` (or retention) that was stopped" in out
    assert "run the same `rings erase` (or `rings gc`) again: it finishes the erase" in out
    assert "stray" not in out
    erased = run_rings("erase", "--state-dir", str(state.root), "--tenant", "bob", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert not erasing.exists()
    assert check(state).returncode == 0
    assert [t["tenant"] for t in report_json(state)["tenants"]] == ["alice"]


# --- a full disk ----------------------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs (needs root and mount rights; skipped, saying why, where there are none)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_is_never_taken_for_damage_and_nothing_is_moved(
    full_disk: Path, tmp_path: Path, write_log
) -> None:
    """Healthy packs, DO files, catalog and warehouse on a disk with no room left: check and repair
    stop with the one disk-full line (SQLite cannot make a -shm file there: it said "disk I/O
    error", and check called the packs damaged and moved them aside)."""
    made = StateDir(tmp_path / "made")
    logs = write_log(day_lines("alice", 3) + day_lines("bob", 2), "one.log")
    later = write_log(day_lines("alice", 2, day="02/Dec/2025:{h:02d}:00:00 +0000"), "two.log")
    assert ingest(made, str(logs), str(later), "--no-finalize").returncode == 0
    assert run_rings("finalize", "--state-dir", str(made.root), "--grace", "0s").returncode == 0
    state = StateDir(full_disk / "state")
    shutil.copytree(made.root, state.root, symlinks=True)
    assert list(state.root.glob("do/*/*.pack.sqlite")) and state.warehouse_path.exists()
    before = report_json(state)
    names = sorted(str(p) for p in state.root.rglob("*"))
    filler = fill(full_disk)
    expected = (
        f"Error: disk full writing to {state.root}; nothing is lost: free space and run the same "
        "command again\n"
    )
    for args in ((), ("--repair",)):
        result = check(state, *args)
        assert (result.returncode, result.stdout, result.stderr.decode()) == (1, b"", expected), args
    assert sorted(str(p) for p in state.root.rglob("*")) == names  # nothing renamed, nothing made
    filler.unlink()
    assert check(state).stdout.decode() == "OK\n"
    assert report_json(state) == before


def test_a_pack_read_on_a_full_disk_is_disk_full_not_damage(
    full_disk: Path, tmp_path: Path, write_log
) -> None:
    """At the storage boundary itself: SQLite's I/O error where no room is left is DiskFullError."""
    from rings_cli.core.errors import DiskFullError
    from rings_cli.store.pack import verify

    made = StateDir(tmp_path / "made")
    assert ingest(made, str(write_log(day_lines("alice", 3), "one.log")), "--no-finalize").returncode == 0
    assert run_rings("finalize", "--state-dir", str(made.root), "--grace", "0s").returncode == 0
    state = StateDir(full_disk / "state")
    shutil.copytree(made.root, state.root, symlinks=True)
    fill(full_disk)
    with pytest.raises(DiskFullError):
        verify(state.root / "do" / "alice" / "2025-12.pack.sqlite", "alice", "2025-12")


# --- repair never hides loss ---------------------------------------------------------------------


def corrupt(path: Path) -> None:
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database\n" * 100)


def test_a_damaged_do_file_with_unflushed_follow_merges_is_read_again_exactly_once(
    tmp_path: Path, state: StateDir
) -> None:
    """Follow mode merged lines after the last flush, then was killed; the DO file is damaged.
    The repair restores the last flush and rolls the file's checkpoint back to just past the
    lines that flush holds, and says so; reading the file again counts the rest once."""
    from tests.test_follow import Follow, append, do_requests, now_line

    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(30)])
    first = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(log))
    assert first.returncode == 0, first.stderr  # flushed: 30 requests
    append(log, [now_line(i) for i in range(30, 50)])
    follower = Follow(state, str(log), flush_interval="3600")  # no flush before it is killed
    try:
        follower.until(lambda: do_requests(state) == 50)
    finally:
        follower.kill()
    (path,) = list(state.root.glob("do/*/*.sqlite"))
    corrupt(path)

    repaired = check(state, "--repair")
    out = repaired.stdout.decode()
    assert repaired.returncode == 0, out
    assert f"repaired: restored {path} from the warehouse's last flush" in out
    assert f"to do: read again: {log} (from line 30; its checkpoint is rolled back)" in out
    assert out.endswith("OK\n")
    assert report_json(state)["totals"]["requests"] == 30  # what the flush held
    again = run_rings("ingest", "--state-dir", str(state.root), "--json", "--no-finalize", str(log))
    summary = json.loads(again.stdout)
    assert (summary["lines_read"], summary["requests"], summary["late_lines"]) == (20, 20, 20)
    totals = report_json(state)["totals"]
    assert (totals["requests"], totals["page_views"]) == (50, 50)
    rerun = json.loads(run_rings("ingest", "--state-dir", str(state.root), "--json", str(log)).stdout)
    assert rerun["lines_read"] == 0


def test_a_lost_warehouse_rolls_back_the_files_whose_days_went_straight_to_it(
    tmp_path: Path, state: StateDir, write_log
) -> None:
    """Ended days went straight to the warehouse (no DO file): a damaged warehouse is rebuilt from
    the DO files and packs, which do not have them; the files that fed them are read again from
    their start, and every line counts once (the open day's DO file skips what it holds)."""
    old = [*day_lines("alice", 4), *day_lines("bob", 3)]
    today = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:{h:02d}:00:00 +0000")
    log = write_log(old + day_lines("alice", 2, hour=0, day=today), "mixed.log")
    assert ingest(state, str(log)).returncode == 0
    before = report_json(state, "--start", "2025-11-01", "--end", "2099-12-31")
    assert before["totals"]["requests"] == 9
    assert not (state.root / "do" / "bob").exists()  # bob's day went straight to the warehouse
    size = state.warehouse_path.stat().st_size
    with open(state.warehouse_path, "r+b") as f:  # every block after DuckDB's headers: checksums fail
        f.seek(12288)
        f.write(b"\xab" * (size - 12288))

    repaired = check(state, "--repair")
    out = repaired.stdout.decode()
    assert repaired.returncode == 0, out
    assert f"to do: read again: {log} (from its start; its checkpoint is rolled back)" in out
    assert "days written straight to the warehouse" in out
    again = json.loads(ingest(state, str(log)).stdout)
    assert again["lines_read"] == 9
    assert report_json(state, "--start", "2025-11-01", "--end", "2099-12-31") == before


def test_a_lost_warehouse_with_days_from_standard_input_says_they_are_lost(state: StateDir) -> None:
    lines = "".join(x + "\n" for x in day_lines("alice", 3)).encode()
    streamed = run_rings("ingest", "--state-dir", str(state.root), "-f", "vcombined", "-", input=lines)
    assert streamed.returncode == 0, streamed.stderr
    state.warehouse_path.unlink()
    checked = check(state)
    assert checked.returncode == 1 and f"{state.warehouse_path}: warehouse missing" in checked.stdout.decode()
    out = check(state, "--repair").stdout.decode()
    assert "to do: lost: days written straight to the warehouse from standard input" in out
