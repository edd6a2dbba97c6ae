"""The warehouse's tables have no PRIMARY KEY (tables.duckdb_ddl says why): an older warehouse
loses its keys in place without losing a row, and a flush still refuses a row twice."""

from __future__ import annotations

import sqlite3
import tarfile
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from rings_cli.core import tables
from rings_cli.core.errors import RingsError
from rings_cli.core.state import StateDir
from rings_cli.store.dofile import snapshot_tables
from rings_cli.warehouse.local import Warehouse
from tests.conftest import line, report_json, run_rings

FIXTURES = Path(__file__).parent / "fixtures"


def keyed_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    ).fetchall()
    return {r[0] for r in rows}


def all_rows(con: duckdb.DuckDBPyConnection) -> dict[str, Counter[tuple]]:
    """Every row of every table the file has, each with how many times, without `hourly.utc_offset`
    (added since the legacy fixture)."""
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    out = {}
    for table in tables.WAREHOUSE_TABLES:
        if table in names:
            exclude = " EXCLUDE (utc_offset)" if table == "hourly" else ""
            cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
            query = f"SELECT *{exclude if 'utc_offset' in cols else ''} FROM {table}"
            out[table] = Counter(con.execute(query).fetchall())
    return out


@pytest.mark.parametrize(
    ("fixture", "keyed"),
    [
        ("legacy_state.tar.gz", {"daily", "hourly", "pages"}),  # before breakdowns and time zones
        # the release before this change (it had every table but those of issues 29 and 30)
        (
            "state_6ba5f44.tar.gz",
            set(tables.WAREHOUSE_TABLES)
            - {"bots", "definitions", *tables.GOAL_TABLES, "times", "path_times"},
        ),
    ],
)
def test_an_older_warehouse_loses_its_keys_and_keeps_every_row(
    tmp_path: Path, write_log, fixture: str, keyed: set[str]
) -> None:
    """State dirs of earlier releases (fixtures/make_legacy_state.py) have warehouse tables with
    primary keys; the first flush after the upgrade rebuilds them without, every row kept, and the
    report's numbers stay."""
    with tarfile.open(FIXTURES / fixture) as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:  # the tar keeps no modes; check wants owner-only
        path.chmod(0o700 if path.is_dir() else 0o600)
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert keyed <= keyed_tables(con)
        before = all_rows(con)
    assert sum(map(len, before.values())) > 30
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    report = report_json(state, *window)

    added = [line(vhost="c.example", when="03/Nov/2025:10:00:00 +0000", ip="8.8.8.8")]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(added)))
    assert result.returncode == 0, result.stderr.decode()

    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert keyed_tables(con) == set()
        after = all_rows(con)
        assert con.execute("SELECT count(*) FROM daily WHERE tenant = 'c.example'").fetchone() == (1,)
        names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert names == {*tables.WAREHOUSE_TABLES, tables.ABSORBED, "schema_version"}  # none half-migrated
    for table, rows in before.items():
        assert Counter({r: n for r, n in after[table].items() if r[0] != "c.example"}) == rows, table
    assert report_json(state, *window) == report
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_a_flush_with_a_row_twice_writes_none_of_its_chunk(state: StateDir, write_log) -> None:
    """What the primary key refused, the flush refuses: a chunk that has a tenant-day's rows twice."""
    lines = [
        line(vhost="a.example", when="03/Nov/2025:10:00:00 +0000", request=f"GET /{i} HTTP/1.1")
        for i in range(3)
    ]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(lines)))
    assert result.returncode == 0, result.stderr.decode()
    with sqlite3.connect(state.do_path("a.example", "2025-11-03")) as con:
        frames = snapshot_tables(con, "a.example", "2025-11-03")
    warehouse = Warehouse(state.root / "other.duckdb")
    with pytest.raises(RingsError, match="a row twice"):
        warehouse.flush([{table: [frame, frame] for table, frame in frames.items()}])
    with warehouse.reader() as con:
        assert con.execute("SELECT count(*) FROM daily").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM pages").fetchone() == (0,)
    warehouse.flush([{table: [frame] for table, frame in frames.items()}])
    with warehouse.reader() as con:
        assert con.execute("SELECT sum(page_views) FROM daily").fetchone() == (3,)
        assert keyed_tables(con) == set()


def unpacked(tmp_path: Path, fixture: str) -> StateDir:
    with tarfile.open(FIXTURES / fixture) as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:  # the tar keeps no modes; check wants owner-only
        path.chmod(0o700 if path.is_dir() else 0o600)
    return state


def test_erase_on_a_warehouse_not_yet_migrated(tmp_path: Path) -> None:
    """`rings erase` rewrites the warehouse: one from before the UTC offset (the legacy fixture, no
    flush since the upgrade) gets the offset's default instead of failing on it."""
    state = unpacked(tmp_path, "legacy_state.tar.gz")
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    b_before = report_json(state, *window, "--tenant", "b.example")
    result = run_rings("erase", "--state-dir", str(state.root), "--tenant", "a.example", "-y")
    assert result.returncode == 0, result.stderr.decode()
    assert report_json(state, *window)["totals"] == b_before["totals"]
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT DISTINCT tenant FROM daily").fetchall() == [("b.example",)]
        assert con.execute("SELECT DISTINCT utc_offset FROM hourly").fetchall() == [(0,)]
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_check_finds_a_row_twice_and_repair_rebuilds(state: StateDir, write_log) -> None:
    """Without keys DuckDB would take a row twice: `rings check` looks for one, and `--repair`
    rebuilds the warehouse from the DO files."""
    lines = [
        line(vhost="a.example", when="03/Nov/2025:10:00:00 +0000", request=f"GET /{i} HTTP/1.1")
        for i in range(3)
    ]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(lines)))
    assert result.returncode == 0, result.stderr.decode()
    report = report_json(state, "--start", "2025-11-03", "--end", "2025-11-03")
    with duckdb.connect(str(state.warehouse_path)) as con:
        con.execute("INSERT INTO pages SELECT * FROM pages WHERE path = '/1'")
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 1
    assert "1 rows of pages twice" in check.stdout.decode() + check.stderr.decode()
    repair = run_rings("check", "--state-dir", str(state.root), "--repair")
    assert repair.returncode == 0, repair.stdout.decode() + repair.stderr.decode()
    assert report_json(state, "--start", "2025-11-03", "--end", "2025-11-03") == report
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pages WHERE path = '/1'").fetchone() == (1,)
