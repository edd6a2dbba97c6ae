"""End-of-day finalization: the summary stays, every visitor hash and the tenant-day's salt go, late
lines add only what needs no visitor, and the reported numbers do not move."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import struct

import duckdb

from rings_cli.core.state import StateDir
from rings_cli.days.finalize import finalize_days, finalize_due
from rings_cli.ingest.run import Ingest
from rings_cli.store.catalog import Catalog
from rings_cli.store.lifecycle import due_days
from rings_cli.store.pack import pack_days, pack_path
from tests.conftest import line, report_json, run_cli

DAY1 = "01/Dec/2025"
DAY2 = "02/Dec/2025"
END_OF_DAY1 = dt.datetime(2025, 12, 2, tzinfo=dt.UTC)


def visits() -> list[str]:
    return [
        line(ip="1.1.1.1", when=f"{DAY1}:10:00:00 +0000"),
        line(ip="1.1.1.1", when=f"{DAY1}:10:05:00 +0000", request="GET /about HTTP/1.1"),
        line(ip="2.2.2.2", when=f"{DAY1}:23:59:59 +0000", referrer="https://news.ycombinator.com/item?id=1"),
        line(ip="3.3.3.3", when=f"{DAY2}:08:00:00 +0000"),
    ]


def stored_hashes(state: StateDir, date: str) -> list[int]:
    """The visitor hashes of a tenant-day; none once it is packed (a pack has no `views`)."""
    if not state.do_path("default", date).exists():
        assert date in pack_days(pack_path(state, "default", date[:7]))
        return []
    with sqlite3.connect(state.do_path("default", date)) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT hash FROM views")]


def test_grace_period_decides_which_days_close(state: StateDir, write_log) -> None:
    log = write_log(visits())
    # 30 minutes after day 1 ended: within the 1 h grace, nothing is final yet.
    summary = Ingest(state, now=END_OF_DAY1 + dt.timedelta(minutes=30)).run([str(log)])
    assert summary.finalized == []
    assert state.salt_path("default", "2025-12-01").exists()
    # Two hours after: day 1 closes, day 2 (not over) stays open.
    assert finalize_days(state, now=END_OF_DAY1 + dt.timedelta(hours=2)) == ["default/2025-12-01"]
    assert not state.salt_path("default", "2025-12-01").exists()
    assert state.salt_path("default", "2025-12-02").exists()
    assert stored_hashes(state, "2025-12-01") == []
    assert len(stored_hashes(state, "2025-12-02")) == 1


def test_finalized_files_keep_no_byte_of_any_hash(state: StateDir, write_log) -> None:
    Ingest(state, grace=None).run([str(write_log(visits()))])
    hashes = stored_hashes(state, "2025-12-01")
    assert len(hashes) == 2
    before = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")
    assert finalize_days(state, now=END_OF_DAY1 + dt.timedelta(days=5)) == [
        "default/2025-12-01",
        "default/2025-12-02",
    ]
    for path in state.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for h in hashes:
                assert struct.pack(">q", h) not in data, f"hash bytes left in {path}"
                assert str(h).encode() not in data, f"hash digits left in {path}"
    assert list(state.salts_dir.rglob("*")) == []  # the tenant's salt folder went with its last salt
    # Finalizing changes no number a report shows.
    assert report_json(state, "--start", "2025-12-01", "--end", "2025-12-02") == before


def test_daily_summary_reaches_the_warehouse(state: StateDir, write_log) -> None:
    Ingest(state, now=END_OF_DAY1 + dt.timedelta(days=5)).run([str(write_log(visits()))])
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        finalized, top_pages, top_referrers = con.execute(
            "SELECT finalized, top_pages, top_referrers FROM daily WHERE date = '2025-12-01'"
        ).fetchone()
    assert finalized is True
    assert json.loads(top_pages) == [
        {"path": "/", "views": 2, "unique_views": 2},
        {"path": "/about", "views": 1, "unique_views": 1},
    ]
    assert json.loads(top_referrers) == [
        {"source": "direct", "visits": 1},
        {"source": "news.ycombinator.com", "visits": 1},
    ]


def test_late_lines_add_their_requests_and_page_views_but_never_reopen_the_day(
    state: StateDir, write_log
) -> None:
    Ingest(state, direct=False).run([str(write_log(visits(), "first.log"))])  # all long past: final
    window = ("--start", "2025-12-01", "--end", "2025-12-01")
    before = report_json(state, *window)
    late = write_log([line(ip="9.9.9.9", when=f"{DAY1}:12:00:00 +0000")], "late.log")
    summary = Ingest(state).run([str(late)])
    assert summary.rejected == {}
    assert (summary.parsed, summary.requests, summary.page_views) == (1, 1, 1)
    assert summary.late_tenant_days == {"default/2025-12-01"}
    after = report_json(state, *window)
    assert after["totals"]["page_views"] == before["totals"]["page_views"] + 1 == 4
    assert after["totals"]["unique_visitors"] == before["totals"]["unique_visitors"] == 2
    assert after["totals"]["sessions"] == before["totals"]["sessions"]
    assert not state.salt_path("default", "2025-12-01").exists()  # no salt for a finalized tenant-day
    assert stored_hashes(state, "2025-12-01") == []


def test_a_batch_run_never_rejects_its_own_later_lines(state: StateDir, write_log) -> None:
    # Day 1 is long over, yet its lines after other days' lines in the same run still count.
    lines = [visits()[3], *visits()[:3]]
    summary = Ingest(state).run([str(write_log(lines))])
    assert summary.rejected == {}
    assert summary.late_tenant_days == set()
    assert summary.finalized == ["default/2025-12-01", "default/2025-12-02"]


def test_due_days_respect_grace(state: StateDir, write_log) -> None:
    from rings_cli.store.catalog import Catalog

    Ingest(state, grace=None).run([str(write_log(visits()))])
    catalog = Catalog(state.catalog_path)
    hour = dt.timedelta(hours=1)
    assert due_days(catalog, END_OF_DAY1 + dt.timedelta(minutes=59), hour) == []
    assert due_days(catalog, END_OF_DAY1 + hour, hour) == [("default", "2025-12-01")]
    catalog.close()


def test_cli_finalize_and_no_finalize(state: StateDir, write_log) -> None:
    log = write_log(visits())
    ingest = run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(log))
    assert json.loads(ingest.stdout)["finalized"] == []
    result = run_cli("finalize", "--state-dir", str(state.root), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"finalized": ["default/2025-12-01", "default/2025-12-02"]}
    again = run_cli("finalize", "--state-dir", str(state.root))
    assert again.stdout.strip() == "Finalized 0 tenant-days"
    bad = run_cli("finalize", "--state-dir", str(state.root), "--grace", "soon")
    assert bad.exit_code == 2


def test_finalization_without_vacuum_leaves_no_byte_of_many_hashes(state: StateDir, write_log) -> None:
    """Enough visitors that deleting them frees whole pages: secure_delete zeroes them, the free
    pages are cut off the file's end (no full VACUUM), the WAL is emptied, and no hash is left."""
    lines = [
        line(ip=f"10.0.{i // 250}.{i % 250}", when=f"{DAY1}:{i // 300:02d}:{i % 60:02d}:00 +0000")
        for i in range(3000)
    ]
    Ingest(state, grace=None).run([str(write_log(lines))])
    hashes = stored_hashes(state, "2025-12-01")
    assert len(hashes) == 3000
    catalog = Catalog(state.catalog_path)
    try:  # finalization alone (no packing yet): the DO file is cut, not rewritten
        assert finalize_due(state, catalog, END_OF_DAY1 + dt.timedelta(days=5), pack=False) == [
            "default/2025-12-01"
        ]
    finally:
        catalog.close()
    with sqlite3.connect(state.do_path("default", "2025-12-01")) as con:
        assert con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental: cut, not rewritten
        assert con.execute("PRAGMA freelist_count").fetchone()[0] == 0
    packed = [struct.pack(">q", h) for h in hashes]
    for path in state.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [h for h in packed if h in data], f"hash bytes left in {path}"
    # The next pass packs the day (pack.py) and unlinks its DO file: still no byte of a hash.
    assert finalize_days(state, now=END_OF_DAY1 + dt.timedelta(days=5)) == []
    assert not state.do_path("default", "2025-12-01").exists()
    for path in state.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [h for h in packed if h in data], f"hash bytes left in {path}"
