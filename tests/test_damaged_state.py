"""A damaged state dir: each damage is named in one line, never a traceback, never silent loss;
`rings check` finds it and `--repair` fixes what can be fixed. A full disk loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rings_cli.core.errors import DamagedStateError, StateLockedError
from rings_cli.core.state import StateDir
from rings_cli.store.catalog import Catalog
from rings_cli.store.dofile import DoFile
from rings_cli.store.pack import pack_days, pack_path
from rings_cli.warehouse.flush import flush_dirty
from rings_cli.warehouse.local import Warehouse
from tests.conftest import line, report_json, run_cli, run_rings

DAY1 = "01/Dec/2025:{h:02d}:00:00 +0000"


@pytest.fixture(autouse=True)
def owner_umask() -> Iterator[None]:
    """The files these tests plant themselves (stray files, copies) are made owner-only, so that
    only the mode problems a test means to plant are reported. (Rings' own files are owner-only
    under any umask: tests/test_hardening.py checks that under umask 022.)"""
    old = os.umask(0o077)
    yield
    os.umask(old)


def day_lines(tenant: str, n: int, hour: int = 10, first_ip: int = 1) -> list[str]:
    return [
        line(
            ip=f"203.0.113.{first_ip + i}",
            when=DAY1.format(h=hour),
            request=f"GET /p{i} HTTP/1.1",
            vhost=tenant,
        )
        for i in range(n)
    ]


def ingest(state: StateDir, log: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return run_rings("ingest", "--state-dir", str(state.root), "-f", "vcombined", "--json", *extra, str(log))


def one_line_error(result: subprocess.CompletedProcess[bytes]) -> str:
    """The run failed with exit 1 and exactly one `Error: ...` line, no traceback."""
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("Error: "), err
    return err


def check(state: StateDir, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_rings("check", "--state-dir", str(state.root), *args)


@pytest.fixture
def two_tenants(state: StateDir, write_log) -> StateDir:
    """alice (3 views) and bob (2 views) on one open day, flushed."""
    result = ingest(state, write_log(day_lines("alice", 3) + day_lines("bob", 2), "one.log"), "--no-finalize")
    assert result.returncode == 0, result.stderr
    return state


def tenant_totals(state: StateDir) -> dict[str, int]:
    return {t["tenant"]: t["page_views"] for t in report_json(state)["tenants"]}


# --- DO files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"this is not a database\n" * 100),
        lambda p: p.write_bytes(p.read_bytes()[:5000]),
        lambda p: (p.unlink(), sqlite3.connect(p).execute("CREATE TABLE other (x)")),
    ],
    ids=["garbage", "truncated", "other-sqlite"],
)
def test_a_damaged_do_file_raises_damaged_state_error_naming_it(two_tenants: StateDir, damage) -> None:
    path = two_tenants.do_path("alice", "2025-12-01")
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    damage(path)
    with pytest.raises(DamagedStateError) as caught:
        do = DoFile(path, "alice", "2025-12-01")
        try:  # a truncated file may open and fail on the first read of a lost page
            do.snapshot()
            do.views_of(__import__("polars").Series([1]))
        finally:
            do.close()
    assert caught.value.path == path
    assert str(path) in str(caught.value) and "rings check" in str(caught.value)


def test_ingest_with_a_garbage_do_file_names_it_without_a_traceback(two_tenants: StateDir, write_log) -> None:
    path = two_tenants.do_path("alice", "2025-12-01")
    path.write_bytes(b"garbage\n" * 100)
    result = ingest(two_tenants, write_log(day_lines("alice", 1, first_ip=50), "two.log"), "--no-finalize")
    out = result.stdout.decode() + result.stderr.decode()
    assert "Traceback" not in out
    assert str(path) in out  # as an `Error:` line now; in the summary once ingest skips the tenant-day


def test_ingest_keeps_counting_other_tenant_days_past_a_garbage_do_file(
    two_tenants: StateDir, write_log
) -> None:
    two_tenants.do_path("alice", "2025-12-01").write_bytes(b"garbage\n" * 100)
    log = write_log(day_lines("alice", 2, first_ip=50) + day_lines("bob", 4, first_ip=60), "two.log")
    result = ingest(two_tenants, log, "--no-finalize")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rejected_by_reason"] == {"damaged state": 2}
    assert str(two_tenants.do_path("alice", "2025-12-01")) in result.stdout.decode() + result.stderr.decode()
    assert tenant_totals(two_tenants)["bob"] == 6


def test_flush_skips_a_damaged_do_file_keeps_it_dirty_and_flushes_the_others(two_tenants: StateDir) -> None:
    state = two_tenants
    bad = state.do_path("alice", "2025-12-01")
    bad.write_bytes(b"garbage\n" * 100)
    catalog = Catalog(state.catalog_path)
    try:
        catalog.mark_all_dirty()
        result = flush_dirty(state, catalog)
        assert [e.path for e in result.damaged] == [bad]
        assert result.tenant_days == 1
        assert catalog.dirty() == [("alice", "2025-12-01")]
    finally:
        catalog.close()
    assert tenant_totals(state) == {"alice": 3, "bob": 2}  # alice's last flush is kept, not zeroed


def test_finalize_finishes_the_other_tenant_days_and_names_the_damaged_file(two_tenants: StateDir) -> None:
    bad = two_tenants.do_path("alice", "2025-12-01")
    bad.write_bytes(b"garbage\n" * 100)
    result = run_rings("finalize", "--state-dir", str(two_tenants.root))
    assert str(bad) in one_line_error(result)
    # alice's tenant-day is closed too: the privacy promise keeps its time.
    assert result.stdout.decode() == "Finalized 2 tenant-days: alice/2025-12-01, bob/2025-12-01\n"
    assert not two_tenants.salt_path("alice", "2025-12-01").exists()
    assert not two_tenants.salt_path("bob", "2025-12-01").exists()
    assert "2025-12-01" in pack_days(pack_path(two_tenants, "bob", "2025-12"))  # finalized, packed
    assert not two_tenants.do_path("bob", "2025-12-01").exists()


# --- a DO file deleted ------------------------------------------------------------------------


def test_a_deleted_do_file_of_an_open_day_is_never_recreated_and_the_warehouse_keeps_its_copy(
    two_tenants: StateDir, write_log
) -> None:
    state = two_tenants
    path = state.do_path("alice", "2025-12-01")
    path.unlink()
    result = ingest(state, write_log(day_lines("alice", 1, first_ip=50), "two.log"), "--no-finalize")
    assert "Traceback" not in result.stderr.decode()
    assert str(path) in result.stdout.decode() + result.stderr.decode()  # named: error line or summary
    assert not path.exists()
    assert tenant_totals(state) == {"alice": 3, "bob": 2}  # not replaced by a re-created, emptier file

    catalog = Catalog(state.catalog_path)
    try:
        catalog.mark_all_dirty()
        flushed = flush_dirty(state, catalog)
        assert [e.problem for e in flushed.damaged] == [
            "missing DO file of an open tenant-day (the catalog lists it)"
        ]
    finally:
        catalog.close()
    assert not path.exists()
    assert tenant_totals(state) == {"alice": 3, "bob": 2}


def test_check_reports_a_deleted_do_file_and_repair_restores_it_from_the_warehouse(
    two_tenants: StateDir, write_log
) -> None:
    state = two_tenants
    before = report_json(state)
    path = state.do_path("alice", "2025-12-01")
    path.unlink()
    result = check(state)
    assert result.returncode == 1
    assert f"{path}: missing DO file of an open tenant-day" in result.stdout.decode()
    assert result.stdout.decode().endswith("1 problem\n")

    repaired = check(state, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert f"restored {path}" in repaired.stdout.decode()
    assert repaired.stdout.decode().endswith("OK\n")
    assert report_json(state) == before
    do = DoFile(path, "alice", "2025-12-01", create=False)
    assert do.finalized  # its visitor hashes are gone: it can only be closed
    do.close()
    # A later line for that tenant-day is late (its page view counts, its visitor cannot); bob's
    # day stays open.
    later = ingest(state, write_log(day_lines("alice", 1, 11, 90) + day_lines("bob", 1, 11, 91), "3.log"))
    summary = json.loads(later.stdout)
    assert summary["rejected_by_reason"] == {}
    assert summary["late_tenant_days"] == ["alice/2025-12-01"]
    assert tenant_totals(state) == {"alice": 4, "bob": 3}
    assert [t["unique_visitors"] for t in report_json(state)["tenants"]] == [3, 3]


# --- the catalog ------------------------------------------------------------------------------


@pytest.mark.parametrize("other_sqlite", [False, True], ids=["garbage", "other-sqlite"])
def test_a_damaged_catalog_is_one_line_and_repair_rebuilds_it_from_the_do_files(
    two_tenants: StateDir, write_log, other_sqlite: bool
) -> None:
    state = two_tenants
    before = report_json(state)
    for side in ("-wal", "-shm"):
        Path(f"{state.catalog_path}{side}").unlink(missing_ok=True)
    if other_sqlite:
        state.catalog_path.unlink()
        sqlite3.connect(state.catalog_path).execute("CREATE TABLE other (x)")
    else:
        state.catalog_path.write_bytes(b"garbage\n" * 100)
    result = ingest(state, write_log(day_lines("bob", 1, first_ip=70), "two.log"), "--no-finalize")
    assert str(state.catalog_path) in one_line_error(result)
    checked = check(state)
    assert checked.returncode == 1
    assert f"{state.catalog_path}: " in checked.stdout.decode()

    repaired = check(state, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert repaired.stdout.decode().endswith("OK\n")
    assert report_json(state) == before
    assert list(state.root.glob("catalog.sqlite.damaged-*"))  # moved aside, never deleted
    # Files read again after the rebuild are recognised by each DO file: +0.
    again = ingest(state, write_log(day_lines("alice", 3) + day_lines("bob", 2), "one.log"), "--no-finalize")
    assert again.returncode == 0, again.stderr
    assert report_json(state) == before


# --- the warehouse -----------------------------------------------------------------------------


def corrupt_warehouse(path: Path) -> None:
    """Overwrite every block after DuckDB's headers (the first 12 KiB): block checksums fail."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(12288)
        f.write(b"\xab" * (size - 12288))


def test_a_corrupt_warehouse_is_named_at_once_not_reported_as_locked(two_tenants: StateDir) -> None:
    corrupt_warehouse(two_tenants.warehouse_path)
    started = time.monotonic()
    result = run_rings("report", "--state-dir", str(two_tenants.root))
    err = one_line_error(result)
    assert time.monotonic() - started < 20  # no 30 s of waiting for a lock nobody holds
    assert str(two_tenants.warehouse_path) in err and "damaged warehouse" in err
    assert "locked" not in err and "rings check --repair" in err


def test_check_repair_rebuilds_a_corrupt_warehouse_from_the_do_files(two_tenants: StateDir) -> None:
    state = two_tenants
    before = report_json(state)
    corrupt_warehouse(state.warehouse_path)
    result = check(state)
    assert result.returncode == 1
    assert f"{state.warehouse_path}: damaged warehouse" in result.stdout.decode()

    repaired = check(state, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    assert "flushed 2 tenant-days" in repaired.stdout.decode()
    assert report_json(state) == before
    assert len(list(state.root.glob("warehouse.duckdb.damaged-*"))) == 1


def test_a_warehouse_held_by_another_process_is_still_a_lock(two_tenants: StateDir) -> None:
    path = two_tenants.warehouse_path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); input()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
        with pytest.raises(StateLockedError, match="stayed locked"), Warehouse(path).reader(wait=0.2):
            pass
    finally:
        holder.communicate(b"\n", timeout=30)


# --- rings check ------------------------------------------------------------------------------


def test_check_of_a_healthy_state_dir_is_ok(two_tenants: StateDir) -> None:
    result = check(two_tenants)
    assert (result.returncode, result.stdout.decode()) == (0, "OK\n")


def test_check_finds_unlisted_do_files_stale_salts_stray_files_and_loose_modes(two_tenants: StateDir) -> None:
    state = two_tenants
    extra = state.do_path("carol", "2025-12-01")
    shutil.copy(state.do_path("bob", "2025-12-01"), extra.parent.mkdir() or extra)
    with sqlite3.connect(extra) as con:
        con.execute("UPDATE meta SET value = 'carol' WHERE key = 'tenant'")
    carol_salt = state.salt_path("carol", "2025-12-01")  # its visitor hashes' salt comes with it
    shutil.copy(state.salt_path("bob", "2025-12-01"), carol_salt.parent.mkdir(mode=0o700) or carol_salt)
    catalog = Catalog(state.catalog_path)
    catalog.mark_finalized("alice", "2025-11-30", "2025-12-01T01:00:00+00:00")
    catalog.close()
    state.salt_path("alice", "2025-11-30").write_bytes(b"s" * 32)
    stray = state.root / "notes.txt"
    stray.write_text("mine")
    os.chmod(state.catalog_path, 0o644)

    out = check(state).stdout.decode()
    assert f"{extra}: DO file not in the catalog" in out
    assert f"{state.salt_path('alice', '2025-11-30')}: salt of a finalized tenant-day still present" in out
    assert f"{stray}: stray file" in out
    assert f"{state.catalog_path}: readable or writable by other users (mode 0644)" in out
    assert out.endswith("4 problems\n")

    repaired = check(state, "--repair")
    assert repaired.returncode == 1  # the stray file is someone's: reported, never removed
    assert repaired.stdout.decode().endswith(
        f"{stray}: stray file: not a Rings file; repair: "
        "move it out of the state dir if you need it\n1 problem\n"
    )
    assert not state.salt_path("alice", "2025-11-30").exists()
    assert state.salt_path("alice", "2025-12-01").exists()  # open: kept
    assert os.stat(state.catalog_path).st_mode & 0o777 == 0o640  # group access is a setting (item 6)
    assert tenant_totals(state) == {"alice": 3, "bob": 2, "carol": 2}
    stray.unlink()
    assert check(state).returncode == 0


def test_check_of_a_missing_state_dir_fails(tmp_path: Path) -> None:
    result = run_cli("check", "--state-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1
    assert result.stdout.endswith("state dir does not exist; repair: check --state-dir\n1 problem\n")


# --- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root and mount rights; skipped, saying why, where there are none)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_is_one_line_and_a_rerun_with_space_is_exact(small_disk: Path, tmp_path: Path) -> None:
    lines = [
        line(
            ip=f"10.{i % 200}.{i // 200 % 250}.{i % 7}",
            when=f"0{1 + i % 5}/Dec/2025:{i // 7 % 24:02d}:{i % 60:02d}:00 +0000",
            request=f"GET /p/{i % 3000} HTTP/1.1",
            ua=f"Mozilla/5.0 X{i % 50}",
            vhost=f"site{i % 4}.example",
        )
        for i in range(40000)
    ]
    log = tmp_path / "big.log"
    log.write_text("".join(x + "\n" for x in lines))
    full = StateDir(small_disk / "state")
    reference = StateDir(tmp_path / "reference")
    assert ingest(reference, log, "--no-finalize").returncode == 0

    result = ingest(full, log, "--no-finalize")
    err = one_line_error(result)
    assert err == (
        f"Error: disk full writing to {full.root}; "
        "nothing is lost: free space and run the same command again\n"
    )
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    rerun = ingest(full, log, "--no-finalize")
    assert rerun.returncode == 0, rerun.stderr
    assert report_json(full) == report_json(reference)
    assert check(full).returncode == 0


def test_repair_says_which_tenant_days_are_lost_when_no_warehouse_holds_them(two_tenants: StateDir) -> None:
    state = two_tenants
    state.do_path("alice", "2025-12-01").unlink()
    corrupt_warehouse(state.warehouse_path)
    repaired = check(state, "--repair")
    out = repaired.stdout.decode()
    assert "lost: alice 2025-12-01: no DO file and no warehouse copy\n" in out
    assert repaired.returncode == 0 and out.endswith("OK\n")
    assert tenant_totals(state) == {"bob": 2}


def test_any_other_duckdb_error_in_the_warehouse_is_a_rings_error(tmp_path: Path) -> None:
    """Not only damage: whatever DuckDB raises while the warehouse is open (out of memory, an
    internal error) reaches the CLI as a RingsError, one `Error:` line, never a traceback."""
    import duckdb

    from rings_cli.core.errors import RingsError
    from rings_cli.warehouse.local import Warehouse

    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.flush([])  # made, with its schema
    with pytest.raises(RingsError, match="boom") as raised, warehouse.reader() as con:
        con.execute("SELECT error('boom')")
    assert not isinstance(raised.value, duckdb.Error)
    assert str(tmp_path / "warehouse.duckdb") in str(raised.value)
