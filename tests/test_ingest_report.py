"""End to end through the library and CLI: exact numbers from known input, in the contract's JSON."""

from __future__ import annotations

import datetime as dt

import duckdb

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import line, report_json, run_cli, run_rings

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def known_log() -> list[str]:
    """Two tenants, two days, visitors, assets, bots, errors: every number below is counted by hand."""
    return [
        # alice.example, 2025-12-01
        line(vhost="alice.example:443", ip="1.1.1.1", ua=CHROME, when="01/Dec/2025:10:00:00 +0000"),
        line(
            vhost="alice.example:443",
            ip="1.1.1.1",
            ua=CHROME,
            when="01/Dec/2025:10:00:01 +0000",
            request="GET /style.css HTTP/1.1",
            size="1000",
        ),
        line(
            vhost="www.alice.example:443",
            ip="1.1.1.1",
            ua=CHROME,
            when="01/Dec/2025:11:05:00 +0000",
            request="GET /about HTTP/1.1",
        ),
        line(
            vhost="alice.example:443",
            ip="1.1.1.1",
            ua=FIREFOX,
            when="01/Dec/2025:12:00:00 +0100",
            request="GET /about HTTP/1.1",
            status=304,
            size="-",
        ),
        line(vhost="alice.example:443", ip="2.2.2.2", ua=GOOGLEBOT, when="01/Dec/2025:10:30:00 +0000"),
        line(
            vhost="alice.example:443",
            ip="3.3.3.3",
            ua=CHROME,
            when="01/Dec/2025:10:31:00 +0000",
            request="GET /missing HTTP/1.1",
            status=404,
            size="10",
        ),
        line(
            vhost="alice.example:443",
            ip="3.3.3.3",
            ua=CHROME,
            when="01/Dec/2025:10:32:00 +0000",
            request="POST /comment HTTP/1.1",
            status=200,
            size="20",
        ),
        # alice.example, 2025-12-02 (the +0100 offset moves 00:30 back into Dec 1!)
        line(vhost="alice.example:443", ip="1.1.1.1", ua=CHROME, when="02/Dec/2025:00:30:00 +0100"),
        line(vhost="alice.example:443", ip="1.1.1.1", ua=CHROME, when="02/Dec/2025:09:00:00 +0000"),
        # bob.example, 2025-12-02
        line(
            vhost="BOB.example",
            ip="4.4.4.4",
            ua=FIREFOX,
            when="02/Dec/2025:09:00:00 +0000",
            request="GET /index.html?utm_source=x HTTP/1.1",
            size="100",
        ),
        line(
            vhost="bob.example",
            ip="4.4.4.4",
            ua=FIREFOX,
            when="02/Dec/2025:09:00:00 +0000",
            request="GET /logo.png HTTP/1.1",
            size="100",
        ),
        # rejected: bad tenant and garbage
        line(vhost="../../etc:80", ip="5.5.5.5"),
        "not a log line",
    ]


def test_exact_counts_per_tenant_and_day(state: StateDir, write_log) -> None:
    summary = Ingest(state).run([str(write_log(known_log()))])
    assert summary.lines_read == 13
    assert summary.parsed == 11
    assert summary.rejected == {"bad tenant": 1, "unparseable": 1}
    assert summary.tenants == {"alice.example", "bob.example"}
    assert summary.days == {"2025-12-01", "2025-12-02"}

    alice = report_json(state, "--tenant", "alice.example", "--start", "2025-12-01", "--end", "2025-12-02")
    d1, d2 = alice["days"]
    # Chrome: / at 10:00, /about at 11:05 (gap over 30 min), / at 23:30; Firefox once: four bounces.
    assert d1 == {
        "date": "2025-12-01",
        "requests": 8,
        "page_views": 4,
        "unique_visitors": 2,
        "bytes": 512 * 4 + 1000 + 0 + 10 + 20,
        "sessions": 4,
        "bounce_rate": 1.0,
        "avg_session_duration": 0.0,
    }
    assert (d2["requests"], d2["page_views"], d2["unique_visitors"]) == (1, 1, 1)
    assert alice["status"] == {"200": 7, "304": 1, "404": 1}
    assert alice["totals"]["bot_requests"] == 1
    assert alice["totals"]["unique_visitors"] == 3  # daily uniques summed over the range
    assert "tenants" not in alice
    pages = {p["path"]: (p["views"], p["unique_views"]) for p in alice["top_pages"]}
    assert pages == {"/": (3, 2), "/about": (2, 2)}
    hours = {(h["date"], h["hour"]): (h["page_views"], h["unique_visitors"]) for h in alice["hours"]}
    assert hours[("2025-12-01", 10)] == (1, 1)
    assert hours[("2025-12-01", 11)] == (2, 2)  # 11:05 chrome, 12:00+0100 firefox
    assert hours[("2025-12-01", 23)] == (1, 1)

    both = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")
    assert both["tenant"] is None
    assert both["totals"]["requests"] == 11
    assert both["totals"]["page_views"] == 6
    assert {t["tenant"]: t["page_views"] for t in both["tenants"]} == {"alice.example": 5, "bob.example": 1}
    assert both["top_pages"][0] == {
        "path": "/",
        "views": 3,
        "unique_views": 2,
        "entries": 3,
        "exits": 3,
        "avg_time_seconds": 0.0,
    }


def test_default_range_is_the_last_seven_days_with_data(state: StateDir, write_log) -> None:
    days = [1, 3, 5, 7, 9, 11, 13, 15, 17]
    Ingest(state).run([str(write_log([line(when=f"{d:02d}/Jan/2026:10:00:00 +0000") for d in days]))])
    report = report_json(state)
    assert (report["start"], report["end"]) == ("2026-01-05", "2026-01-17")
    assert report["totals"]["requests"] == 7
    assert len(report["days"]) == 13  # every day of the range, zero-filled
    only_start = report_json(state, "--start", "2026-01-01")  # alone: up to the newest data (issue 28)
    assert (only_start["start"], only_start["end"]) == ("2026-01-01", "2026-01-17")


NOT_YET_FINAL = dt.datetime(2025, 12, 1, 20, tzinfo=dt.UTC)  # "now" inside the day: nothing finalizes


def test_two_runs_count_a_returning_visitor_once(state: StateDir, write_log) -> None:
    first = write_log([line(ip="9.9.9.9", when="01/Dec/2025:10:00:00 +0000")], "a.log")
    second = write_log(
        [
            line(ip="9.9.9.9", when="01/Dec/2025:18:00:00 +0000", request="GET /x HTTP/1.1"),
            line(ip="8.8.8.8", when="01/Dec/2025:10:00:00 +0000"),
        ],
        "b.log",
    )
    Ingest(state, now=NOT_YET_FINAL).run([str(first)])
    Ingest(state, now=NOT_YET_FINAL).run([str(second)])
    report = report_json(state)
    assert report["totals"]["page_views"] == 3
    assert report["totals"]["unique_visitors"] == 2
    hours = {h["hour"]: h["unique_visitors"] for h in report["hours"]}
    assert hours == {10: 2, 18: 1}
    pages = {p["path"]: p["unique_views"] for p in report["top_pages"]}
    assert pages == {"/": 2, "/x": 1}


def test_flush_replaces_rows_so_reflushing_changes_nothing(state: StateDir, write_log) -> None:
    from rings_cli.store.catalog import Catalog
    from rings_cli.warehouse.flush import flush_dirty

    Ingest(state).run([str(write_log([line(), line(ip="7.7.7.7")]))])
    before = report_json(state)
    catalog = Catalog(state.catalog_path)
    catalog.mark_dirty([("default", "2025-12-01")])  # force the same tenant-day to flush again
    assert flush_dirty(state, catalog).tenant_days == 1
    assert flush_dirty(state, catalog).tenant_days == 0
    catalog.close()
    assert report_json(state) == before
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*), sum(page_views) FROM daily").fetchone() == (1, 2)


def test_tenant_option_puts_every_line_in_one_tenant(state: StateDir, write_log) -> None:
    log = write_log([line(vhost="a.example"), line(vhost="b.example")])
    Ingest(state, tenant="mysite").run([str(log)])
    report = report_json(state)
    assert [t["tenant"] for t in report["tenants"]] == ["mysite"]


def test_lines_without_vhost_go_to_default(state: StateDir, write_log) -> None:
    Ingest(state).run([str(write_log([line()]))])
    assert [t["tenant"] for t in report_json(state)["tenants"]] == ["default"]


def test_report_formats_agree(state: StateDir, write_log) -> None:
    Ingest(state).run([str(write_log([line(), line(request="GET /b HTTP/1.1")]))])
    args = ("report", "--state-dir", str(state.root))
    table = run_cli(*args)
    assert table.exit_code == 0 and "page views" in table.stdout and "/b" in table.stdout
    csv_days = run_cli(*args, "--format", "csv")
    assert (
        csv_days.stdout.splitlines()[0]
        == "date,requests,page_views,unique_visitors,bytes,sessions,bounce_rate,avg_session_duration"
    )
    assert "2025-12-01,2,2,1,1024,1,0.0,0.0" in csv_days.stdout  # one visitor, one 2-page session
    pages = run_cli(*args, "--format", "csv", "--section", "top_pages", "--limit", "1")
    assert len(pages.stdout.splitlines()) == 2


def test_report_on_a_missing_state_dir_is_an_error_and_on_an_empty_one_zeros(state: StateDir) -> None:
    result = run_cli("report", "--state-dir", str(state.root))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no state dir at {state.root}")
    state.root.mkdir()
    report = report_json(state, "--start", "2025-01-01", "--end", "2025-01-02")
    assert report["totals"]["requests"] == 0
    assert [d["date"] for d in report["days"]] == []


def test_report_tenant_is_normalised_unknown_is_one_line_and_empty_range_says_where_data_is(
    state: StateDir, write_log
) -> None:
    log = write_log([line(vhost="alice.example"), line(vhost="bob.example")])
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(log)).exit_code == 0
    same = report_json(state, "--tenant", "WWW.Alice.Example:443")
    assert same["tenant"] == "alice.example" and same["totals"]["requests"] == 1
    unknown = run_rings("report", "--state-dir", str(state.root), "--tenant", "alice.exampel")
    assert unknown.returncode == 2
    assert unknown.stderr.decode().strip().splitlines() == [
        "Error: no data for tenant 'alice.exampel'; known tenants: alice.example, bob.example"
    ]
    empty = run_rings(
        "report", "--state-dir", str(state.root), "--start", "2024-01-01", "--end", "2024-01-02"
    )
    assert empty.returncode == 0
    assert "Note: no data from 2024-01-01 to 2024-01-02; data from 2025-12-01 to 2025-12-01" in (
        empty.stderr.decode()
    )


def test_tables_show_a_dash_where_a_rate_has_nothing_to_average(state: StateDir, write_log) -> None:
    log = write_log([line(ua="curl/8.5.0"), line(request="GET /style.css HTTP/1.1")])
    assert run_cli("ingest", "--state-dir", str(state.root), "-q", str(log)).exit_code == 0
    table = run_cli("report", "--state-dir", str(state.root)).stdout
    assert "0 sessions \u00b7 \u2013 bounce \u00b7 \u2013 average session" in table
    day = next(row for row in table.splitlines() if row.strip().startswith("2025-12-01"))
    assert day.count("\u2013") == 2 and "0%" not in day and "0s" not in day
    assert report_json(state)["totals"]["bounce_rate"] == 0.0  # JSON keeps the contract's numbers
