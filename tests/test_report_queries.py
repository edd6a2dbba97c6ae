"""Issue 13, `rings report` start-up: the read path's short cut for a warehouse of flushed days, and
the section queries run two at a time, give the same report as the long way round."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.query.readpath import current_view
from rings_cli.query.report import SECTIONS, _run, build_report, run_all
from tests.conftest import line, run_rings

DAYS = ["01/Dec/2025:10:00:00 +0000", "02/Dec/2025:11:00:00 +0000"]
RANGE = {"start": "2025-12-01", "end": "2025-12-02"}


@pytest.fixture
def flushed(state: StateDir, write_log) -> StateDir:
    ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
    lines = [
        line(when=w, ip=f"203.0.113.{i}", request=f"GET /p{i} HTTP/1.1", ua=ua)
        for w in DAYS
        for i in range(4)
    ]
    log = write_log(lines)
    Ingest(state, grace=None).run([str(log)])  # flushed at the end: nothing dirty
    return state


def test_the_sections_run_two_at_a_time_give_the_rows_of_one_at_a_time(flushed: StateDir) -> None:
    params = {"tenant": None, "start": dt.date(2025, 12, 1), "end": dt.date(2025, 12, 2), "limit": 10}
    names = ["extent", *SECTIONS]
    with current_view(flushed) as (con, _):
        both = run_all(con, names, params)
        one = {name: _run(con, name, params) for name in names}
    assert list(both) == names
    assert both == one
    assert both["totals"][0]["requests"] == 8
    assert [r["date"] for r in both["days"]] == ["2025-12-01", "2025-12-02"]


def test_a_failing_query_is_raised_to_the_caller(flushed: StateDir) -> None:
    params = {"tenant": None, "start": dt.date(2025, 12, 1), "end": dt.date(2025, 12, 2), "limit": 10}
    with current_view(flushed) as (con, _), pytest.raises(FileNotFoundError, match="no_such_section"):
        run_all(con, ["totals", "no_such_section", "days", "status"], params)


def test_a_failing_query_on_the_second_cursor_is_raised_to_the_caller(
    flushed: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper thread's query fails: the caller gets its error. The caller's own first query
    waits until the helper has taken one, so the helper surely runs one."""
    import threading

    from rings_cli.query import report

    real = report._run
    helper_took_one = threading.Event()

    def run(cur: duckdb.DuckDBPyConnection, name: str, params: dict) -> list:
        if threading.current_thread() is not threading.main_thread():
            helper_took_one.set()
            raise RuntimeError(f"the helper's query {name} failed")
        assert helper_took_one.wait(timeout=60)
        return real(cur, name, params)

    monkeypatch.setattr(report, "_run", run)
    params = {"tenant": None, "start": dt.date(2025, 12, 1), "end": dt.date(2025, 12, 2), "limit": 10}
    with current_view(flushed) as (con, _), pytest.raises(RuntimeError, match="the helper's query"):
        run_all(con, ["totals", "days", "status", "top_pages"], params)


def test_a_warehouse_without_a_newer_table_reads_it_as_empty(flushed: StateDir) -> None:
    """A warehouse flushed before a table existed (and not flushed since) has no such table: with
    no live tenant-day, the report reads it as empty and everything else from the warehouse."""
    before = build_report(flushed, **RANGE)
    assert before["browsers"] and before["live_tenant_days"] == 0
    con = duckdb.connect(str(Path(flushed.warehouse_path)))
    con.execute("DROP TABLE browsers")
    con.close()
    after = build_report(flushed, **RANGE)
    assert after["browsers"] == []
    assert after["totals"] == before["totals"] and after["days"] == before["days"]
    assert after["live_tenant_days"] == 0


def test_the_warmed_up_database_serves_one_read_and_the_next_makes_its_own(flushed: StateDir) -> None:
    from rings_cli.query import readpath

    readpath._WARM.clear()  # whatever an earlier test in this process left
    readpath.warm_up()
    readpath._WARM["thread"].join()
    warmed = readpath._WARM["con"]
    first = build_report(flushed, **RANGE)
    assert readpath._warmed() is None  # taken over by the first read, which closed it
    with pytest.raises(duckdb.ConnectionException):
        warmed.execute("SELECT 1")
    second = build_report(flushed, **RANGE)
    assert first == second and first["totals"]["requests"] == 8


def test_rings_report_through_the_warm_up_and_a_usage_error_beside_it(flushed: StateDir) -> None:
    """`rings report` makes its database while Typer parses (cli.main): the same JSON as the
    library's, and a wrong option still ends at once with one line and exit 2."""
    done = run_rings("report", "-f", "json", "--state-dir", str(flushed.root), *range_args())
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert without_as_of(got) == without_as_of(build_report(flushed, **RANGE))
    wrong = run_rings("report", "-f", "nope", "--state-dir", str(flushed.root))
    assert wrong.returncode == 2
    assert wrong.stderr.decode().count("Error") == 1 and b"Traceback" not in wrong.stderr


def range_args() -> list[str]:
    return ["--start", RANGE["start"], "--end", RANGE["end"]]


def without_as_of(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "as_of"}


def test_a_warehouse_with_every_table_but_an_older_column_reads_as_before(flushed: StateDir) -> None:
    """A warehouse whose tables are all there but one lacks a column added since (the hour's UTC
    offset, tables.NEWER_KEYS) is read through the views, which give the column NULL (hours.sql
    reads it as 0)."""
    before = build_report(flushed, tenant="default", **RANGE)
    assert before["hours"] and before["live_tenant_days"] == 0
    con = duckdb.connect(str(Path(flushed.warehouse_path)))
    con.execute("CREATE TABLE hourly_old AS SELECT * EXCLUDE (utc_offset) FROM hourly")
    con.execute("DROP TABLE hourly")
    con.execute("ALTER TABLE hourly_old RENAME TO hourly")
    con.close()
    after = build_report(flushed, tenant="default", **RANGE)
    assert after["hours"] == before["hours"] and after["totals"] == before["totals"]
