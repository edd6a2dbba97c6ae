"""`rings audit`: passes on what Rings writes, fails (exit 1, naming the file and the check) on a
state dir where a test planted what must never be there."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from rings_cli.days.finalize import finalize_days
from rings_cli.ingest.run import Ingest
from rings_cli.ops.audit import Finalized, SaltFile, audit, salt_files, salt_outlived
from rings_cli.ops.shapes import find_shapes, scan_file
from rings_cli.store.pack import unpack
from tests.conftest import SAMPLE_LOG, line, run_cli, run_rings

LONG_AFTER = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DO = ("alice.example", "2025-12-01")


def files_of(state: StateDir) -> dict[str, int]:
    return {str(p.relative_to(state.root)): p.stat().st_mode for p in state.root.rglob("*")}


def run_audit(state: StateDir, *args: str) -> tuple[int, str]:
    result = run_cli("audit", "--state-dir", str(state.root), *args)
    return result.exit_code, result.stdout


def failures(out: str) -> list[str]:
    return [x.strip() for x in out.splitlines() if x.startswith("  FAIL ")]


@pytest.fixture
def sample(state: StateDir) -> StateDir:
    """The sample log, every day still open (salts and visitor hashes present)."""
    Ingest(state, grace=None).run([str(SAMPLE_LOG)])
    return state


def test_passes_on_the_sample_open_and_after_finalization(sample: StateDir) -> None:
    before = files_of(sample)
    code, out = run_audit(sample)
    assert code == 0, out
    assert out.splitlines()[-1] == "Audit passed: all 6 checks hold, 0 warnings."
    assert "DO files: 9 (9 open, 0 finalized); tenants: 3; days: 3; tenant-days: 9" in out
    assert "salts: 9; file checkpoints: 1" in out  # one per tenant-day
    assert files_of(sample) == before  # read-only: no -wal, -shm or anything else created

    assert len(finalize_days(sample, now=LONG_AFTER)) == 9
    result = audit(sample)
    assert result.ok and [c.status for c in result.checks] == ["pass"] * 6
    assert (result.stored.do_files_open, result.stored.do_files_finalized, result.stored.salts) == (0, 0, 0)
    assert (result.stored.packs, result.stored.packed_days) == (3, 9)  # finalized days move into packs
    assert result.stored.warehouse_rows is not None and result.stored.warehouse_rows["daily"] == 9
    # The real program, in a process of its own.
    proc = run_rings("audit", "--state-dir", str(sample.root), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True and data["stored"]["tenants"] == 3
    assert {c["name"]: c["status"] for c in data["checks"]} == {
        "tables": "pass",
        "bytes": "pass",
        "hashes": "pass",
        "salts": "pass",
        "set-aside": "pass",
        "permissions": "pass",
    }


def test_an_ip_in_a_referrers_table_fails(sample: StateDir) -> None:
    with closing(sqlite3.connect(sample.do_path(*DO))) as con, con:
        con.execute("INSERT INTO referrers (source, visits) VALUES ('203.0.113.9', 1)")
    code, out = run_audit(sample)
    assert code == 1
    assert failures(out) == [
        "FAIL tables: do/alice.example/2025-12-01.sqlite: referrers.source holds an IP address: 203.0.113.9"
    ]
    assert out.splitlines()[-1].startswith("Audit FAILED: 1 of 6 checks failed (tables), 1 problems")


def test_an_ipv6_in_a_campaign_fails(sample: StateDir) -> None:
    with closing(sqlite3.connect(sample.do_path(*DO))) as con, con:
        con.execute("INSERT INTO campaigns VALUES ('news', '2001:db8:aa::5', 'x', 1)")
    code, out = run_audit(sample)
    assert code == 1
    assert "campaigns.medium holds an IP address: 2001:db8:aa::5" in "\n".join(failures(out))


def test_a_deleted_ip_is_found_in_free_space(sample: StateDir) -> None:
    """Deleted without secure_delete: no table shows it, only the bytes of the file still hold it."""
    path = sample.do_path(*DO)
    con = sqlite3.connect(path)
    con.execute("PRAGMA secure_delete = OFF")  # this SQLite may default to ON
    with con:
        con.execute("INSERT INTO referrers (source, visits) VALUES ('198.51.100.23', 1)")
    with con:
        con.execute("DELETE FROM referrers WHERE source = '198.51.100.23'")
    con.close()
    assert b"198.51.100.23" in path.read_bytes()
    code, out = run_audit(sample)
    assert code == 1
    assert failures(out) == [
        "FAIL bytes: do/alice.example/2025-12-01.sqlite: bytes hold an IP address: 198.51.100.23, "
        "in no table (deleted data?)"
    ]


def test_a_deleted_ip_is_found_in_the_wal(sample: StateDir) -> None:
    """A writer still has the file open: the deleted row is in its WAL, which is scanned too."""
    path = sample.do_path(*DO)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA secure_delete = OFF")
        con.execute("PRAGMA wal_autocheckpoint = 0")
        with con:
            con.execute("INSERT INTO referrers (source, visits) VALUES ('2001:db8:77::9', 1)")
        with con:
            con.execute("DELETE FROM referrers WHERE source = '2001:db8:77::9'")
        wal = path.with_name(path.name + "-wal")
        assert b"2001:db8:77::9" in wal.read_bytes()
        result = audit(sample)
    finally:
        con.close()
    (bytes_check,) = [c for c in result.checks if c.name == "bytes"]
    assert bytes_check.failures == [
        "do/alice.example/2025-12-01.sqlite-wal: bytes hold an IP address: 2001:db8:77::9, "
        "in no table (deleted data?)"
    ]
    assert [c.name for c in result.checks if c.status == "fail"] == ["bytes"]


def test_a_user_agent_in_the_catalog_fails(sample: StateDir) -> None:
    with closing(sqlite3.connect(sample.catalog_path)) as con, con:
        con.execute(
            "INSERT INTO checkpoints (fingerprint, head_len, head_hash, offset, line, name, updated) "
            "VALUES (?, 1, 'x', 1, 1, ?, 'now')",
            ("abc", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
        )
    code, out = run_audit(sample)
    assert code == 1
    assert failures(out) == ["FAIL tables: catalog.sqlite: checkpoints.name holds a user agent: Mozilla/5.0"]


def test_a_path_anyone_can_request_is_a_warning(state: StateDir, write_log) -> None:
    log = write_log(
        [
            line(request="GET /1.2.3.4/ HTTP/1.1", vhost="alice.example"),
            line(request="GET /tools/curl/7/ HTTP/1.1", vhost="alice.example"),
        ]
    )
    Ingest(state, grace=None).run([str(log)])
    for finalized in (False, True):
        if finalized:
            finalize_days(state, now=LONG_AFTER)
        code, out = run_audit(state)
        assert code == 0, out
        warnings = [x.strip() for x in out.splitlines() if x.startswith("  WARN ")]
        where = "do/alice.example/" + ("2025-12.pack.sqlite" if finalized else "2025-12-01.sqlite")
        assert (
            f"WARN tables: {where}: pages.path holds an IP address: 1.2.3.4 (in request paths, which "
            "anyone can choose)" in warnings
        )
        assert (
            f"WARN tables: {where}: pages.path holds a user agent: curl/7 (in request paths, which "
            "anyone can choose)" in warnings
        )
        assert any(
            w.startswith("WARN tables: warehouse.duckdb: pages.path holds an IP address") for w in warnings
        )
        if finalized:  # the daily summaries name the top pages too
            assert any(w.startswith(f"WARN tables: {where}: day.top_pages") for w in warnings)
        assert out.splitlines()[-1].startswith("Audit passed: all 6 checks hold")


def test_a_user_agent_chosen_as_a_campaign_is_a_warning(state: StateDir, write_log) -> None:
    Ingest(state, grace=None).run(
        [str(write_log([line(request="GET /?utm_source=curl/7.1&utm_campaign=Mozilla/5.0 HTTP/1.1")]))]
    )
    code, out = run_audit(state)
    assert code == 0, out
    warned = [x for x in out.splitlines() if x.startswith("  WARN tables: do/default/2025-12-01.sqlite")]
    assert (
        "  WARN tables: do/default/2025-12-01.sqlite: referrers.source holds a user agent: curl/7.1 "
        "(from utm_source, ref or utm_* in a request, which anyone can choose)" in warned
    )
    assert any("campaigns.campaign holds a user agent: Mozilla/5.0" in w for w in warned)


def test_a_tenant_named_by_an_address_is_a_warning(state: StateDir, write_log) -> None:
    """A site reached by its address logs that address as the Host: the tenant is named by it."""
    Ingest(state, direct=False).run(
        [str(write_log([line(vhost="192.0.2.80:80"), line(vhost="alice.example")]))]
    )
    code, out = run_audit(state)
    assert code == 0, out
    assert (
        "  WARN tables: catalog.sqlite: days.tenant holds an IP address: 192.0.2.80 (a tenant name, "
        "from a Host header, which anyone can send; map it to a name in rings.toml)"
    ) in out.splitlines()
    # Another address is no tenant name: it fails.
    with closing(sqlite3.connect(state.catalog_path)) as con, con:
        con.execute(
            "INSERT INTO checkpoints (fingerprint, head_len, head_hash, offset, line, name, updated) "
            "VALUES ('abc', 1, 'x', 1, 1, 'from 192.0.2.81', 'now')"
        )
    code, out = run_audit(state)
    assert code == 1
    assert failures(out) == ["FAIL tables: catalog.sqlite: checkpoints.name holds an IP address: 192.0.2.81"]


def test_a_salt_that_outlives_its_day_fails(state: StateDir) -> None:
    Ingest(state, direct=False).run([str(SAMPLE_LOG)])  # all long past: finalized, salts destroyed
    assert audit(state).ok
    leftover = state.salt_path("alice.example", "2025-12-01")
    leftover.parent.mkdir(mode=0o700)
    old_layout = state.legacy_salt_path("2025-12-02")  # an earlier release's salt of a whole date
    for path in (leftover, old_layout):
        path.write_bytes(os.urandom(32))
        path.chmod(0o600)
    code, out = run_audit(state)
    assert code == 1
    assert failures(out) == [
        "FAIL salts: salts/2025-12-02.key: 2025-12-02 is finalized but its salt still exists",
        "FAIL salts: salts/alice.example/2025-12-01.key: alice.example/2025-12-01 is finalized "
        "but its salt still exists",
    ]


def test_salts_per_tenant_day_are_listed_and_judged(state: StateDir) -> None:
    """Ready for salts/<tenant>/<date>.key: each salt file maps to its tenant-day."""
    state.ensure()
    for rel in (
        "2025-12-01.key",
        "alice/2025-12-01.key",
        "bob/2025-12-01.key",
        ".2025-12-03.key.77.ab12",
        "x",
    ):
        (state.salts_dir / rel).parent.mkdir(mode=0o700, exist_ok=True)
        (state.salts_dir / rel).write_bytes(b"\0" * 32)
    found = {str(s.path.relative_to(state.salts_dir)): s for s in salt_files(state)}
    assert found["alice/2025-12-01.key"] == SaltFile(
        state.salts_dir / "alice/2025-12-01.key", "2025-12-01", "alice"
    )
    assert found["2025-12-01.key"].tenant is None
    assert found[".2025-12-03.key.77.ab12"].date == "2025-12-03"  # a crash leftover is a salt too
    assert found["x"].date is None
    done = Finalized(dates={"2025-12-03"}, tenant_days={("alice", "2025-12-01")})
    outlived = {k for k, s in found.items() if salt_outlived(s, done)}
    assert outlived == {"alice/2025-12-01.key", ".2025-12-03.key.77.ab12"}


def test_wide_permissions_fail(sample: StateDir) -> None:
    path = sample.do_path(*DO)
    path.chmod(0o644)
    code, out = run_audit(sample)
    assert code == 1
    assert failures(out) == [
        "FAIL permissions: do/alice.example/2025-12-01.sqlite: file is 0644, wider than 0600"
    ]


def test_group_readable_allows_the_group_but_never_for_salts(sample: StateDir) -> None:
    (sample.root / "rings.toml").write_text("group_readable = true\n")
    for path in [sample.root, *sample.root.rglob("*")]:
        if not path.is_relative_to(sample.salts_dir):
            path.chmod(0o750 if path.is_dir() else 0o640)
    code, out = run_audit(sample)
    assert code == 0, out
    salt = next(sample.salts_dir.glob("*/*.key"))
    salt.chmod(0o640)
    sample.do_path(*DO).chmod(0o644)
    code, out = run_audit(sample)
    assert code == 1
    assert failures(out) == [
        "FAIL permissions: do/alice.example/2025-12-01.sqlite: file is 0644, wider than 0640",
        f"FAIL permissions: salts/{salt.parent.name}/{salt.name}: file is 0640, wider than 0600",
    ]


def test_times_versions_and_dates_do_not_count(sample: StateDir) -> None:
    with closing(sqlite3.connect(sample.do_path(*DO))) as con, con:
        con.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("at", "10:00:00"), ("when", "2025-12-01T10:00:00+00:00"), ("lib", "1.2.3"), ("v", "v2.10.1")],
        )
    code, out = run_audit(sample)
    assert code == 0, out


@pytest.mark.parametrize(
    "text",
    ["10:00:00", "23:59:59.999", "2025-12-01", "2025.12.01", "1.2.3", "1.2.3.4.5", "std::vec",
     "aa:bb:cc:dd:ee:ff", "fe80::1", "256.1.1.1", "/blog/2025/12/hello", "libcurl-like/7",
     "Name/1.0(no space)"],
)  # fmt: skip
def test_shapes_that_are_not_addresses_or_agents(text: str) -> None:
    assert find_shapes(text.encode()) == set()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("x 203.0.113.9 y", ("IP address", "203.0.113.9")),
        ("[2001:db8::1]:8080", ("IP address", "2001:db8::1")),
        ("1:2:3:4:5:6:7:8", ("IP address", "1:2:3:4:5:6:7:8")),
        ("Mozilla/5.0 (X11; Linux)", ("user agent", "Mozilla/5.0")),
        ("curl/7.68.0", ("user agent", "curl/7.68.0")),
        ("python-requests/2.31.0", ("user agent", "python-requests/2.31.0")),
        ("SomeCrawler/2.1 (+https://example.com)", ("user agent", "SomeCrawler/2.1 (")),
    ],
)
def test_shapes_found(text: str, found: tuple[str, str]) -> None:
    assert find_shapes(text.encode()) == {found}


def test_a_match_across_chunk_boundaries_is_found_whole(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    for offset in range(0, 40):
        path.write_bytes(b"\0" * (4096 - offset) + b" 2001:db8::42 and 198.51.100.200 " + b"\0" * 100)
        assert scan_file(path, chunk_bytes=4096) == {
            ("IP address", "2001:db8::42"),
            ("IP address", "198.51.100.200"),
        }


def test_visitor_hashes_left_in_a_finalized_day_fail(state: StateDir) -> None:
    Ingest(state, direct=False).run([str(SAMPLE_LOG)])
    assert unpack(state, *DO)  # its finalized DO file back from its pack, as a late line does
    with closing(sqlite3.connect(state.do_path(*DO))) as con, con:
        con.execute("INSERT INTO views (hash, ts, hour, path) VALUES (123456789, 0, 0, '/')")
    code, out = run_audit(state)
    assert code == 1
    assert failures(out) == [
        "FAIL hashes: do/alice.example/2025-12-01.sqlite: finalized, yet 1 page views with visitor "
        "hashes remain"
    ]


_HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_busy_warehouse_is_reported_not_a_crash(sample: StateDir) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(sample.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        result = audit(sample, warehouse_wait=0.2)
    finally:
        holder.communicate("")
    assert result.ok
    (tables,) = [c for c in result.checks if c.name == "tables"]
    assert tables.warnings == [
        "warehouse.duckdb: busy (a flush held it for 0.2s), its tables were not read; audit again"
    ]
    assert result.stored.warehouse_rows is None


def test_a_tenant_named_by_an_address_in_the_warehouse_alone_is_a_warning(state: StateDir, write_log) -> None:
    """Days written straight to the warehouse (no DO file, no catalog row): their tenant names are
    tenant names all the same."""
    Ingest(state).run([str(write_log([line(vhost="192.0.2.80:80"), line(vhost="alice.example")]))])
    assert not list(state.root.glob("do/**/*.sqlite"))
    code, out = run_audit(state)
    assert code == 0, out
    assert any("daily.tenant holds an IP address: 192.0.2.80 (a tenant name" in w for w in out.splitlines())


# --- files a repair set aside ----------------------------------------------------------------------


def test_files_a_repair_set_aside_are_audited(sample: StateDir, tmp_path: Path) -> None:
    """Set-aside copies are read like the live files: one holding a tenant the state dir no
    longer has fails (an erase covers them, so it is an earlier release's leftover, or planted),
    and a DO file's copy keeping visitor hashes of a finalized tenant-day fails `hashes`."""
    import shutil

    from rings_cli.days.erase import erase_tenant

    stamp = "20251201T000000Z"
    kept = tmp_path / "kept"
    kept.mkdir()
    shutil.copy(sample.warehouse_path, kept / "warehouse.duckdb")
    shutil.copy(sample.do_path(*DO), kept / "day.sqlite")
    shutil.copy(kept / "warehouse.duckdb", sample.root / f"warehouse.duckdb.damaged-{stamp}")
    code, out = run_audit(sample)
    assert code == 0, out
    assert f"note: warehouse.duckdb.damaged-{stamp}: set aside by `rings check --repair`" in out

    erase_tenant(sample, "alice.example")  # an erase covers the copy: alice's rows leave it too
    code, out = run_audit(sample)
    assert code == 0, out
    shutil.copy(kept / "warehouse.duckdb", sample.root / f"warehouse.duckdb.damaged-{stamp}")  # planted again
    code, out = run_audit(sample)
    assert code == 1
    assert (
        f"FAIL set-aside: warehouse.duckdb.damaged-{stamp}: holds alice.example, which the state dir no "
        "longer has (erased?): run `rings erase --tenant alice.example` again, or delete it"
    ) in failures(out)
    (sample.root / f"warehouse.duckdb.damaged-{stamp}").unlink()

    bob = ("bob.example", "2025-12-01")
    copy = sample.do_path(*bob).with_name(f"2025-12-01.sqlite.damaged-{stamp}")
    shutil.copy(sample.do_path(*bob), copy)
    assert run_audit(sample)[0] == 0  # an open day's copy: its hashes are as the day's own
    finalize_days(sample, now=LONG_AFTER)
    code, out = run_audit(sample)
    assert code == 1
    assert any(
        f.startswith(f"FAIL hashes: do/bob.example/2025-12-01.sqlite.damaged-{stamp}: set aside by a repair")
        for f in failures(out)
    )
