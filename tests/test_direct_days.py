"""Ended tenant-days straight to the warehouse (days/direct.py): the same numbers as the DO-file
path, no DO file or salt left, nothing counted twice on a re-read, late lines add counts only."""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rings_cli.core import tables
from rings_cli.core.state import StateDir
from rings_cli.days.finalize import finalize_days
from rings_cli.ingest.run import Ingest
from rings_cli.ops.audit import audit
from rings_cli.ops.check import check_state
from tests.conftest import REAL_DATA, SAMPLE_LOG, line, report_json

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # every day of the sample log has ended
WHOLE = ("--start", "2025-11-01", "--end", "2025-12-31", "--limit", "50")


def warehouse_tables(state: StateDir) -> dict[str, list[tuple[Any, ...]]]:
    """Every aggregate table of the warehouse (every one tables.py defines, so a table added later
    is compared too), rows sorted, rows whose values are all zero left out: a DO file can keep such
    a row when a visitor's later page view moved a session's start (a delta back to zero)."""
    out = {}
    con = duckdb.connect(str(state.warehouse_path), read_only=True)
    try:
        for table in tables.TABLES:
            name = table.warehouse_name
            cur = con.execute(f"SELECT * FROM {name}")
            columns = [d[0] for d in cur.description]
            keys = {"tenant", "date", *table.key_names, "finalized"}
            values = [i for i, c in enumerate(columns) if c not in keys]
            rows = [r for r in cur.fetchall() if any(r[i] not in (0, None, 0.0) for i in values)]
            out[name] = sorted(rows, key=repr)
    finally:
        con.close()
    return out


def both_ways(tmp_path: Path, logs: list[Path], chunk: int) -> tuple[StateDir, StateDir]:
    """The same logs ingested through DO files (kept open, then finalized) and straight."""
    through = StateDir(tmp_path / "do-files")
    Ingest(through, grace=None, now=NOW, chunk_bytes=chunk).run([str(p) for p in logs])
    finalize_days(through, now=NOW)
    direct = StateDir(tmp_path / "direct")
    summary = Ingest(direct, now=NOW, chunk_bytes=chunk).run([str(p) for p in logs])
    assert summary.finalized, "the days went straight to the warehouse, as finalized"
    return through, direct


def test_ended_days_give_the_numbers_of_the_do_file_path(tmp_path: Path) -> None:
    """Small batches (sessions and visitors cross them), every table compared."""
    through, direct = both_ways(tmp_path, [SAMPLE_LOG], chunk=64 * 1024)
    assert not list((direct.root / "do").glob("**/*.sqlite")), "no DO file for an ended day"
    assert list((through.root / "do").glob("**/*.sqlite")), "the other path did use DO files"
    assert warehouse_tables(direct) == warehouse_tables(through)
    assert report_json(direct) == report_json(through)


REAL = sorted(REAL_DATA.glob("wordpress-2025/*.gz")) + sorted(REAL_DATA.glob("farm-nginx/*.gz"))[:6]


@pytest.mark.skipif(not REAL, reason="../shared/data/real is not beside this checkout")
def test_on_real_logs_too(tmp_path: Path) -> None:
    through, direct = both_ways(tmp_path, REAL, chunk=256 * 1024)
    assert warehouse_tables(direct) == warehouse_tables(through)


def test_days_made_final_in_many_small_groups_give_the_same_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days taken together are split into groups by their requests (days/direct.py): tiny groups,
    each made and written apart, give every table of the DO-file path."""
    from rings_cli.days import direct

    monkeypatch.setattr(direct, "TAKE_REQUESTS", 40)
    through, grouped = both_ways(tmp_path, [SAMPLE_LOG], chunk=1024 * 1024)
    assert warehouse_tables(grouped) == warehouse_tables(through)


def test_days_held_past_the_memory_budget_go_on_in_do_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tiny budget: held days spill into DO files (salt kept, lines recorded) as the run goes,
    and the numbers are those of either path; read again, nothing counts twice."""
    from rings_cli.ingest import store

    monkeypatch.setattr(store, "HELD_BYTES", 20_000)
    through, spilled = both_ways(tmp_path, [SAMPLE_LOG], chunk=64 * 1024)
    assert list((spilled.root / "do").glob("**/*.sqlite")), "some days went on in DO files"
    assert warehouse_tables(spilled) == warehouse_tables(through)
    before = report_json(spilled)
    Ingest(spilled, now=NOW, chunk_bytes=64 * 1024).run([str(SAMPLE_LOG)])
    assert report_json(spilled) == before
    assert check_state(spilled).ok
    assert audit(spilled).ok
    assert not list(spilled.salts_dir.rglob("*.key")), "finalized at the end: their salts are gone"


def test_nothing_of_the_visitors_stays_and_the_state_dir_checks_out(tmp_path: Path, state: StateDir) -> None:
    Ingest(state, now=NOW).run([str(SAMPLE_LOG)])
    assert not (state.root / "do").exists() or not any((state.root / "do").iterdir())
    assert not any(p.is_file() for p in state.salts_dir.rglob("*"))
    result = check_state(state)
    assert result.ok, result.problems
    assert audit(state).ok


def test_the_catalog_names_the_files_whose_lines_only_the_warehouse_holds(state: StateDir) -> None:
    """A lost warehouse loses such days: the catalog knows which files to read again."""
    from rings_cli.store.catalog import Catalog

    Ingest(state, now=NOW).run([str(SAMPLE_LOG)])
    catalog = Catalog(state.catalog_path)
    try:
        named = [name for _, name in catalog.direct_sources()]
    finally:
        catalog.close()
    assert named == [str(SAMPLE_LOG)]


def test_a_file_read_again_adds_nothing_even_without_its_checkpoint(state: StateDir) -> None:
    """The warehouse records the lines of each day it holds: a re-read (a crash after the write,
    before the checkpoint) is dropped there, not counted twice."""
    Ingest(state, now=NOW).run([str(SAMPLE_LOG)])
    first = report_json(state)
    Ingest(state, now=NOW).run([str(SAMPLE_LOG)])
    assert report_json(state) == first
    from rings_cli.store.catalog import Catalog

    catalog = Catalog(state.catalog_path)
    catalog.con.execute("UPDATE checkpoints SET offset = 0, line = 0")  # as if never checkpointed
    catalog.close()
    summary = Ingest(state, now=NOW).run([str(SAMPLE_LOG)])
    assert summary.requests == 0
    assert report_json(state) == first


def test_a_late_line_adds_its_counts_but_no_visitor(tmp_path: Path, state: StateDir, write_log) -> None:
    day = [line(ip=f"198.51.100.{i}", when=f"01/Dec/2025:10:{i:02d}:00 +0000") for i in range(5)]
    Ingest(state, now=NOW).run([str(write_log(day, "day.log"))])
    before = report_json(state)["totals"]
    late = write_log([line(ip="198.51.100.77", when="01/Dec/2025:23:00:00 +0000")], "late.log")
    summary = Ingest(state, now=NOW).run([str(late)])
    assert summary.late_lines == 1
    after = report_json(state)["totals"]
    assert after["requests"] == before["requests"] + 1
    assert after["page_views"] == before["page_views"] + 1
    assert after["unique_visitors"] == before["unique_visitors"]  # late: no visitor
    assert not list(state.root.glob("do/**/*.sqlite")), "a late line of such a day needs no DO file"


def test_open_days_keep_their_do_files(state: StateDir, write_log) -> None:
    """A day still within the grace period is open: DO file and salt, as before."""
    now = dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
    Ingest(state, now=now).run([str(write_log([line(when="01/Dec/2025:10:00:00 +0000")]))])
    assert (state.root / "do" / "default" / "2025-12-01.sqlite").exists()
    assert (state.salts_dir / "default" / "2025-12-01.key").exists()


def test_rotated_files_are_read_in_time_order(tmp_path: Path, state: StateDir) -> None:
    """Two halves of a log given newest first, the older one gzipped: one history."""
    lines = SAMPLE_LOG.read_text().splitlines(keepends=True)
    half = len(lines) // 2
    older, newer = tmp_path / "zz-old.log.gz", tmp_path / "aa-new.log"
    with gzip.open(older, "wt") as f:
        f.writelines(lines[:half])
    newer.write_text("".join(lines[half:]))
    Ingest(state, now=NOW, chunk_bytes=64 * 1024).run([str(newer), str(older)])
    whole = StateDir(tmp_path / "whole")
    shutil.copy(SAMPLE_LOG, tmp_path / "whole.log")
    Ingest(whole, now=NOW).run([str(tmp_path / "whole.log")])
    assert warehouse_tables(state) == warehouse_tables(whole)


def history(tmp_path: Path, copies: int) -> Path:
    """The sample log `copies` times, each copy 3 days after the one before: a history of many
    ended days, in time order."""
    import re

    stamp = re.compile(r"\[(\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2}) ([+-]\d{4})\]")
    text = SAMPLE_LOG.read_text().splitlines()
    out = []
    for copy in range(copies):
        shift = dt.timedelta(days=3 * copy)

        def moved(m: re.Match[str], shift: dt.timedelta = shift) -> str:
            when = dt.datetime.strptime(m[1], "%d/%b/%Y:%H:%M:%S") + shift
            return f"[{when.strftime('%d/%b/%Y:%H:%M:%S')} {m[2]}]"

        out += [stamp.sub(moved, row) for row in text]
    path = tmp_path / "history.log"
    path.write_text("\n".join(out) + "\n")
    return path


def checkpoint_line(state: StateDir) -> int:
    """How far the catalog says the log is read (0 before the first checkpoint)."""
    import sqlite3

    if not state.catalog_path.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{state.catalog_path}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT max(line) FROM checkpoints").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0) if row else 0


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.6, 0.9])
def test_kill_9_during_a_history_import_then_a_rerun_equals_one_clean_run(
    tmp_path: Path, fraction: float
) -> None:
    """Killed when the checkpoint first passes a point of the log (0: as soon as the catalog has
    one), then run again: the report equals that of one clean run."""
    import subprocess
    import sys
    import time

    log = history(tmp_path, copies=6)
    total = sum(1 for _ in log.open())
    clean = StateDir(tmp_path / "clean")
    Ingest(clean, chunk_bytes=65536).run([str(log)])
    killed = StateDir(tmp_path / "killed")
    args = [sys.executable, "-m", "rings_cli", "ingest", "-q", "--batch-bytes", "65536"]
    proc = subprocess.Popen([*args, "--state-dir", str(killed.root), str(log)])
    try:
        deadline = time.monotonic() + 120
        while checkpoint_line(killed) <= fraction * total and proc.poll() is None:
            assert time.monotonic() < deadline, "the ingest never got there"
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    again = subprocess.run(
        [*args, "--state-dir", str(killed.root), str(log)], capture_output=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert report_json(killed, *WHOLE) == report_json(clean, *WHOLE)
