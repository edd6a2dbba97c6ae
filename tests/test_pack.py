"""Packs (pack.py): finalized tenant-days of a tenant and month in one file, and everything that
must keep working with them: reports, late lines (exactly once), `rings check --repair`, erase and
retention (no byte left), `rings audit`, and a state dir of an earlier release."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import stat
import tarfile
from pathlib import Path

import pytest

from rings_cli.core.config import load_config
from rings_cli.core.state import StateDir
from rings_cli.days.erase import gc
from rings_cli.days.finalize import finalize_days, finalize_due
from rings_cli.ingest.run import Ingest
from rings_cli.ops.audit import audit
from rings_cli.store import pack
from rings_cli.store.catalog import Catalog
from rings_cli.store.pack import pack_days, pack_path
from rings_cli.warehouse import flush
from tests.conftest import ROOT, line, report_json, run_cli, run_rings

T = "blog.example"
FIRST = dt.date(2025, 11, 10)
DAYS = 40  # 2025-11-10 .. 2025-12-19: 21 days in November, 19 in December
LATER = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)  # every day of the archive long over
WINDOW = ("--tenant", T, "--start", "2025-11-01", "--end", "2025-12-31")


def archive_lines() -> list[str]:
    """Three requests a day: two visitors, a page unique to the day (`/post-<date>`), a referrer."""
    out = []
    for n in range(DAYS):
        day = FIRST + dt.timedelta(days=n)
        when = day.strftime("%d/%b/%Y")
        out += [
            line(ip=f"198.51.100.{n + 1}", vhost=T, when=f"{when}:09:00:00 +0000"),
            line(
                ip=f"198.51.100.{n + 1}",
                vhost=T,
                when=f"{when}:09:02:00 +0000",
                request=f"GET /post-{day.isoformat()} HTTP/1.1",
                referrer="https://news.example.net/",
            ),
            line(ip="203.0.113.7", vhost=T, when=f"{when}:18:30:00 +0000", request="GET /about HTTP/1.1"),
        ]
    return out


def do_files(state: StateDir) -> list[str]:
    return sorted(p.name for p in (state.root / "do" / T).glob("????-??-??.sqlite"))


def packs(state: StateDir) -> list[str]:
    return sorted(p.name for p in (state.root / "do" / T).glob("*.pack.sqlite"))


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def packed(tmp_path: Path) -> tuple[StateDir, Path, dict]:
    """The archive ingested, finalized and packed; its report."""
    state = StateDir(tmp_path / "state")
    log = tmp_path / "archive.log"
    log.write_text("".join(x + "\n" for x in archive_lines()))
    summary = Ingest(state, now=LATER, direct=False).run([str(log)])
    assert len(summary.finalized) == DAYS
    return state, log, report_json(state, *WINDOW)


def test_an_archive_is_packed_per_month_and_reports_the_same(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "archive.log"
    log.write_text("".join(x + "\n" for x in archive_lines()))
    Ingest(state, grace=None).run([str(log)])
    catalog = Catalog(state.catalog_path)
    try:  # finalized, not packed yet: one DO file per day
        assert len(finalize_due(state, catalog, LATER, pack=False)) == DAYS
    finally:
        catalog.close()
    assert len(do_files(state)) == DAYS and packs(state) == []
    before, before_bytes = report_json(state, *WINDOW), size(state.root / "do")
    assert before["totals"]["requests"] == 3 * DAYS and before["totals"]["unique_visitors"] == 2 * DAYS

    assert finalize_days(state, now=LATER) == []  # nothing left to finalize; the pass packs them
    assert do_files(state) == []
    assert packs(state) == ["2025-11.pack.sqlite", "2025-12.pack.sqlite"]
    assert len(pack_days(pack_path(state, T, "2025-11"))) == 21
    assert len(pack_days(pack_path(state, T, "2025-12"))) == 19
    for name in packs(state):
        assert stat.S_IMODE((state.root / "do" / T / name).stat().st_mode) == 0o600
    assert report_json(state, *WINDOW) == before
    assert size(state.root / "do") * 4 < before_bytes  # 40 files of ~20 KB, now two small packs
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0
    result = audit(state)
    assert result.ok, result.text()
    assert (result.stored.packs, result.stored.packed_days, result.stored.do_files_finalized) == (2, DAYS, 0)


def test_a_late_line_for_a_packed_day_counts_once(tmp_path: Path) -> None:
    state, _, before = packed(tmp_path)
    day = "2025-11-15"
    late = tmp_path / "late.log"
    late.write_text(
        line(ip="192.0.2.99", vhost=T, when="15/Nov/2025:20:00:00 +0000", request="GET /late HTTP/1.1") + "\n"
    )
    summary = Ingest(state, now=LATER, direct=False).run([str(late)])
    assert summary.late_tenant_days == {f"{T}/{day}"}
    assert do_files(state) == []  # unpacked for the line, flushed, packed again in the same run
    assert day in pack_days(pack_path(state, T, "2025-11"))
    after = report_json(state, *WINDOW)
    assert after["totals"]["requests"] == before["totals"]["requests"] + 1
    assert after["totals"]["page_views"] == before["totals"]["page_views"] + 1
    assert after["totals"]["unique_visitors"] == before["totals"]["unique_visitors"]  # finalized: late
    # Read again (the same file, and a copy under another name): nothing more counts.
    shutil.copy(late, tmp_path / "late-copy.log")
    Ingest(state, now=LATER, direct=False).run([str(late), str(tmp_path / "late-copy.log")])
    assert report_json(state, *WINDOW) == after
    assert do_files(state) == []


def test_absorbed_marks_survive_packing_when_the_catalog_is_lost(tmp_path: Path) -> None:
    """Without the catalog's file checkpoints, only each day's absorbed marks (kept in the pack,
    and in the DO file an unpack writes back) stop a re-read log from counting twice."""
    state, log, before = packed(tmp_path)
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (state.root / name).unlink(missing_ok=True)
    repair = run_cli("check", "--state-dir", str(state.root), "--repair")
    assert repair.exit_code == 0, repair.output
    assert f"added {DAYS} packed tenant-days to the catalog" in repair.output
    assert report_json(state, *WINDOW) == before
    Ingest(state, now=LATER, direct=False).run([str(log)])  # every line re-read: each day unpacked, adds 0
    assert report_json(state, *WINDOW) == before
    assert do_files(state) == [] and len(packs(state)) == 2
    assert audit(state).ok


def test_a_reread_without_the_catalog_and_without_repair_adds_nothing_to_packed_days(tmp_path: Path) -> None:
    """The catalog lost and no repair run: a packed day is still looked at in its pack (not taken
    for a new day), so its absorbed marks drop every re-read line and no salt is made for it."""
    state, log, before = packed(tmp_path)
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (state.root / name).unlink(missing_ok=True)
    Ingest(state, now=LATER, direct=False).run([str(log)])
    assert report_json(state, *WINDOW)["totals"] == before["totals"]
    assert list(state.salts_dir.rglob("*.key")) == []


def test_check_repair_rebuilds_the_warehouse_from_packs(tmp_path: Path) -> None:
    state, _, before = packed(tmp_path)
    state.warehouse_path.unlink()
    found = run_cli("check", "--state-dir", str(state.root))
    assert found.exit_code == 1 and "warehouse missing" in found.output
    repair = run_cli("check", "--state-dir", str(state.root), "--repair")
    assert repair.exit_code == 0, repair.output
    assert f"flushed {DAYS} tenant-days" in repair.output
    assert report_json(state, *WINDOW) == before
    assert do_files(state) == []  # read in the packs, nothing unpacked


def test_a_damaged_pack_is_moved_aside_and_its_days_restored(tmp_path: Path) -> None:
    state, _, before = packed(tmp_path)
    bad = pack_path(state, T, "2025-12")
    bad.write_bytes(b"garbage\n" * 200)
    found = run_cli("check", "--state-dir", str(state.root))
    assert found.exit_code == 1 and str(bad) in found.output
    repair = run_cli("check", "--state-dir", str(state.root), "--repair")
    assert repair.exit_code == 0, repair.output
    assert report_json(state, *WINDOW) == before  # 19 days restored from the warehouse
    assert len(do_files(state)) == 19
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0


def scan(root: Path, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            hits += [(path.name, n) for n in needles if n.encode() in data]
    return hits


def test_erase_before_leaves_no_byte_of_the_packed_days(tmp_path: Path) -> None:
    state, _, before = packed(tmp_path)
    gone = [(FIRST + dt.timedelta(days=n)).isoformat() for n in range(10)]  # 2025-11-10 .. 19
    needles = [f"/post-{d}" for d in gone]
    assert len(scan(state.root, needles)) >= len(needles)  # the scan finds them first
    result = run_rings(
        "erase", "--state-dir", str(state.root), "--tenant", T, "--before", "2025-11-20", "--yes"
    )
    assert result.returncode == 0, result.stderr
    assert f"  from pack do/{T}/2025-11.pack.sqlite: 10 days" in result.stdout.decode()
    assert scan(state.root, needles) == []
    kept = sorted(pack_days(pack_path(state, T, "2025-11")))
    assert kept[0] == "2025-11-20" and len(kept) == 11
    with sqlite3.connect(pack_path(state, T, "2025-11")) as con:
        assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
    after = report_json(state, *WINDOW)
    assert after["totals"]["requests"] == before["totals"]["requests"] - 30
    assert [d for d in after["days"] if d["date"] >= "2025-11-20"] == [
        d for d in before["days"] if d["date"] >= "2025-11-20"
    ]
    assert audit(state).ok
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0

    # Erasing the rest of the month removes its pack; the whole tenant, every pack.
    run_rings("erase", "--state-dir", str(state.root), "--tenant", T, "--before", "2025-12-01", "--yes")
    assert packs(state) == ["2025-12.pack.sqlite"]
    run_rings("erase", "--state-dir", str(state.root), "--tenant", T, "--yes")
    assert not (state.root / "do" / T).exists()
    assert scan(state.root, ["/post-2025-12-"]) == []


def test_keep_days_drops_old_days_from_packs(tmp_path: Path) -> None:
    state, _, _ = packed(tmp_path)
    now = dt.datetime(2026, 1, 4, 12, tzinfo=dt.UTC)  # keep 30 days: 2025-12-05 onwards stays
    (state.root / "rings.toml").write_text("keep_days = 30\n")
    done = gc(state, load_config(None, state), now=now)
    assert len(done.days) == 25  # 2025-11-10 .. 2025-12-04
    assert packs(state) == ["2025-12.pack.sqlite"]
    assert min(pack_days(pack_path(state, T, "2025-12"))) == "2025-12-05"
    assert scan(state.root, [f"/post-2025-12-0{d}" for d in range(1, 5)]) == []
    assert audit(state).ok


def test_a_legacy_state_dir_gets_its_finalized_days_packed(tmp_path: Path) -> None:
    """The fixture of an earlier release (fixtures/make_legacy_state.py): DO files of two tenants
    on 2025-11-01 (finalized) and 2025-11-02 (open); `rings finalize` closes and packs them all."""
    with tarfile.open(ROOT / "tests" / "fixtures" / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    before = {t: report_json(state, "--tenant", t, *window) for t in ("a.example", "b.example")}
    done = run_cli("finalize", "--state-dir", str(state.root), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"finalized": ["a.example/2025-11-02", "b.example/2025-11-02"]}
    for tenant in ("a.example", "b.example"):
        assert sorted(pack_days(pack_path(state, tenant, "2025-11"))) == ["2025-11-01", "2025-11-02"]
        assert not list((state.root / "do" / tenant).glob("????-??-??.sqlite"))
    after = {t: report_json(state, "--tenant", t, *window) for t in ("a.example", "b.example")}
    assert after == before
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0
    assert audit(state).ok


@pytest.mark.parametrize("step", ["mark_flushed", "mark_finalized", "pack_copies"])
def test_a_finalization_stopped_between_its_chunks_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Finalization goes chunk by chunk (each due DO file opened once: finalized, flushed, then its
    salt destroyed, the day finalized in the catalog and packed). A failure in the second chunk,
    after its warehouse commit (before it is marked flushed, before the days are finalized in the
    catalog, or before they are packed), leaves a state `rings check` accepts and the same report;
    the next run finishes it, exactly once. `rings audit` names only the salts of the DO files
    finalized and not yet closed (at most a chunk and one: before, every due day's until the
    whole flush was done)."""
    clean = StateDir(tmp_path / "clean")
    log = tmp_path / "archive.log"
    log.write_text("".join(x + "\n" for x in archive_lines()))
    Ingest(clean, now=LATER, direct=False).run([str(log)])
    expected = report_json(clean, *WINDOW)

    state = StateDir(tmp_path / "state")
    monkeypatch.setattr(flush, "FLUSH_CHUNK", 8)  # 40 days: five chunks
    owner = {"mark_flushed": Catalog, "mark_finalized": Catalog, "pack_copies": pack}[step]
    real = getattr(owner, step)
    calls = []

    def failing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2 + (8 if step == "mark_finalized" else 0):  # the second chunk's
            raise RuntimeError("stopped here")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, step, failing)
    with pytest.raises(RuntimeError, match="stopped here"):
        Ingest(state, now=LATER, direct=False).run([str(log)])
    monkeypatch.undo()
    interrupted = report_json(state, *WINDOW)
    interrupted.pop("live_tenant_days")  # days not flushed yet are read in their DO files
    assert interrupted == {k: v for k, v in expected.items() if k != "live_tenant_days"}
    found = run_cli("check", "--state-dir", str(state.root))
    assert found.exit_code == 0, found.output
    result = audit(state)
    failed = {c.name: c.failures for c in result.checks if c.failures}
    assert set(failed) <= {"salts"} and len(failed.get("salts", [])) <= 8 + 1, result.text()

    catalog = Catalog(state.catalog_path)
    try:
        closed = len(catalog.finalized_days())
    finally:
        catalog.close()
    assert 0 < closed < DAYS  # the first chunk, maybe the second

    # every line read before: none counts again
    summary = Ingest(state, now=LATER, direct=False).run([str(log)])
    assert report_json(state, *WINDOW) == expected
    assert len(summary.finalized) == DAYS - closed
    assert do_files(state) == [] and packs(state) == ["2025-11.pack.sqlite", "2025-12.pack.sqlite"]
    assert list(state.salts_dir.rglob("*.key")) == []
    assert run_cli("check", "--state-dir", str(state.root)).exit_code == 0
    result = audit(state)
    assert result.ok, result.text()
