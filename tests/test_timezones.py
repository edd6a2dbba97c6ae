"""Per-site time zones (issue 16): a tenant-day is the tenant's local day. Every expected number
below is counted by hand from the lines, with each line's local time written next to it."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tarfile
from pathlib import Path

import duckdb
import pytest

from rings_cli.core.config import load_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.days.finalize import finalize_days
from rings_cli.ingest.run import Ingest
from rings_cli.store.lifecycle import day_end
from tests.conftest import line, report_json, run_cli, run_rings

ZONES = """
[timezones]
"ny.example" = "America/New_York"      # UTC-5 in December
"in.example" = "Asia/Kolkata"          # UTC+5:30
"nz.example" = "Pacific/Auckland"      # UTC+13 in December (NZDT)
"""


def visit(host: str, ip: str, when: str, path: str = "/") -> str:
    return line(ip=ip, when=when, request=f"GET {path} HTTP/1.1", vhost=host)


def configured(state: StateDir, text: str = ZONES) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    (state.root / "rings.toml").write_text(text)


def days_of(report: dict) -> dict[str, tuple[int, int, int]]:
    """date -> (page views, unique visitors, sessions)."""
    return {d["date"]: (d["page_views"], d["unique_visitors"], d["sessions"]) for d in report["days"]}


def hours_of(report: dict) -> list[tuple[str, int, int]]:
    """(date, hour, page views) of the hours that have any."""
    return [(h["date"], h["hour"], h["page_views"]) for h in report["hours"] if h["page_views"]]


MIDNIGHT_LINES = [
    # ny.example, UTC-5: local midnight of Dec 2 is 05:00 UTC.
    visit("ny.example", "10.0.0.1", "01/Dec/2025:23:30:00 -0500"),  # Dec 1 23:30 local
    visit("ny.example", "10.0.0.1", "02/Dec/2025:04:50:00 +0000", "/a"),  # Dec 1 23:50, same session
    visit("ny.example", "10.0.0.1", "02/Dec/2025:05:10:00 +0000", "/b"),  # Dec 2 00:10: new day, session
    visit("ny.example", "10.0.0.2", "02/Dec/2025:04:59:59 +0000"),  # Dec 1 23:59:59
    visit("ny.example", "10.0.0.2", "02/Dec/2025:05:00:00 +0000", "/a"),  # Dec 2 00:00:00
    # in.example, UTC+5:30: local midnight of Dec 2 is Dec 1 18:30 UTC.
    visit("in.example", "10.0.1.1", "01/Dec/2025:18:29:00 +0000"),  # Dec 1 23:59
    visit("in.example", "10.0.1.1", "01/Dec/2025:18:31:00 +0000", "/a"),  # Dec 2 00:01
    visit("in.example", "10.0.1.2", "01/Dec/2025:18:45:00 +0000"),  # Dec 2 00:15
    visit("in.example", "10.0.1.2", "01/Dec/2025:19:00:00 +0000", "/a"),  # Dec 2 00:30, same session
    # nz.example, UTC+13: local midnight of Dec 2 is Dec 1 11:00 UTC.
    visit("nz.example", "10.0.2.1", "01/Dec/2025:10:59:00 +0000"),  # Dec 1 23:59
    visit("nz.example", "10.0.2.1", "01/Dec/2025:11:00:00 +0000", "/a"),  # Dec 2 00:00
    visit("nz.example", "10.0.2.1", "01/Dec/2025:11:10:00 +0000", "/b"),  # Dec 2 00:10, same session
    visit("nz.example", "10.0.2.2", "02/Dec/2025:00:30:00 +1300"),  # Dec 2 00:30
]


def test_lines_around_local_midnight_count_on_the_local_day(state: StateDir, write_log) -> None:
    configured(state)
    Ingest(state, grace=None).run([str(write_log(MIDNIGHT_LINES))])
    span = ("--start", "2025-12-01", "--end", "2025-12-02")
    ny = report_json(state, "--tenant", "ny.example", *span)
    assert days_of(ny) == {"2025-12-01": (3, 2, 2), "2025-12-02": (2, 2, 2)}
    assert hours_of(ny) == [("2025-12-01", 23, 3), ("2025-12-02", 0, 2)]
    india = report_json(state, "--tenant", "in.example", *span)
    assert days_of(india) == {"2025-12-01": (1, 1, 1), "2025-12-02": (3, 2, 2)}
    assert hours_of(india) == [("2025-12-01", 23, 1), ("2025-12-02", 0, 3)]
    nz = report_json(state, "--tenant", "nz.example", *span)
    assert days_of(nz) == {"2025-12-01": (1, 1, 1), "2025-12-02": (3, 2, 2)}
    assert hours_of(nz) == [("2025-12-01", 23, 1), ("2025-12-02", 0, 3)]
    # All tenants: each tenant's local days summed (in UTC, the 13 lines would split 8 + 5).
    both = report_json(state, *span)
    assert days_of(both) == {"2025-12-01": (5, 4, 4), "2025-12-02": (8, 6, 6)}
    assert both["totals"]["page_views"] == 13
    # Each local tenant-day has its own DO file.
    assert state.do_path("ny.example", "2025-12-01").exists()
    assert state.do_path("in.example", "2025-12-02").exists()


def test_same_lines_without_zones_stay_utc(state: StateDir, write_log) -> None:
    """An existing state dir without time zones keeps its UTC days."""
    Ingest(state, grace=None).run([str(write_log(MIDNIGHT_LINES))])
    both = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")
    assert days_of(both) == {"2025-12-01": (8, 4, 4), "2025-12-02": (5, 2, 2)}


NY = '[timezones]\n"ny.example" = "America/New_York"\n'


def test_spring_forward_day_has_23_hours(state: StateDir, write_log) -> None:
    """2025-03-09, New York: 02:00 EST becomes 03:00 EDT (07:00 UTC); the day is 05:00-04:00 UTC."""
    configured(state, NY)
    lines = [
        visit("ny.example", "10.0.3.1", "09/Mar/2025:05:00:00 +0000"),  # Mar 9 00:00 EST
        visit("ny.example", "10.0.3.1", "09/Mar/2025:06:30:00 +0000", "/a"),  # 01:30 EST, new session
        visit("ny.example", "10.0.3.1", "09/Mar/2025:07:10:00 +0000", "/b"),  # 03:10 EDT, new session
        visit("ny.example", "10.0.3.2", "10/Mar/2025:03:59:00 +0000"),  # Mar 9 23:59 EDT
        visit("ny.example", "10.0.3.2", "10/Mar/2025:04:00:00 +0000", "/a"),  # Mar 10 00:00 EDT
        visit("ny.example", "10.0.3.3", "09/Mar/2025:04:59:00 +0000"),  # Mar 8 23:59 EST
    ]
    Ingest(state, grace=None).run([str(write_log(lines))])
    report = report_json(state, "--tenant", "ny.example", "--start", "2025-03-08", "--end", "2025-03-10")
    assert days_of(report) == {"2025-03-08": (1, 1, 1), "2025-03-09": (4, 2, 4), "2025-03-10": (1, 1, 1)}
    assert hours_of(report) == [
        ("2025-03-08", 23, 1),
        ("2025-03-09", 0, 1),
        ("2025-03-09", 1, 1),
        ("2025-03-09", 3, 1),  # no 02:00 that day
        ("2025-03-09", 23, 1),
        ("2025-03-10", 0, 1),
    ]
    assert report["totals"]["page_views"] == len(lines)  # nothing lost
    config = load_config(state.root / "rings.toml")
    start = dt.datetime(2025, 3, 9, 5, tzinfo=dt.UTC)
    assert day_end("ny.example", "2025-03-09", config) - start == dt.timedelta(hours=23)


def test_fall_back_day_has_25_hours(state: StateDir, write_log) -> None:
    """2025-11-02, New York: 02:00 EDT becomes 01:00 EST (06:00 UTC); the day is 04:00-05:00 UTC,
    and 01:00-02:00 happens twice: once at UTC-4, once at UTC-5."""
    configured(state, NY)
    lines = [
        visit("ny.example", "10.0.4.1", "02/Nov/2025:05:30:00 +0000"),  # 01:30 EDT
        visit("ny.example", "10.0.4.1", "02/Nov/2025:06:30:00 +0000", "/a"),  # 01:30 EST, 60 min later
        visit("ny.example", "10.0.4.2", "02/Nov/2025:04:00:00 +0000"),  # Nov 2 00:00 EDT
        visit("ny.example", "10.0.4.2", "03/Nov/2025:04:59:00 +0000", "/a"),  # Nov 2 23:59 EST
        visit("ny.example", "10.0.4.2", "03/Nov/2025:05:00:00 +0000", "/b"),  # Nov 3 00:00 EST
    ]
    Ingest(state, grace=None).run([str(write_log(lines))])
    report = report_json(state, "--tenant", "ny.example", "--start", "2025-11-02", "--end", "2025-11-03")
    assert days_of(report) == {"2025-11-02": (4, 2, 4), "2025-11-03": (1, 1, 1)}
    hours = [
        (h["date"], h["hour"], h["utc_offset"], h["page_views"], h["unique_visitors"], h["sessions"])
        for h in report["hours"]
        if h["page_views"]
    ]
    assert hours == [
        ("2025-11-02", 0, -240, 1, 1, 1),
        ("2025-11-02", 1, -240, 1, 1, 1),  # 01:30 EDT
        ("2025-11-02", 1, -300, 1, 1, 1),  # 01:30 EST, an hour later: the hour is kept twice
        ("2025-11-02", 23, -300, 1, 1, 1),
        ("2025-11-03", 0, -300, 1, 1, 1),
    ]
    assert sum(h[3] for h in hours) == len(lines)  # nothing lost, nothing counted twice
    config = load_config(state.root / "rings.toml")
    start = dt.datetime(2025, 11, 2, 4, tzinfo=dt.UTC)
    assert day_end("ny.example", "2025-11-02", config) - start == dt.timedelta(hours=25)


def test_each_tenant_is_finalized_at_its_own_midnight_plus_grace(state: StateDir, write_log) -> None:
    configured(state, ZONES.replace('"in.example" = "Asia/Kolkata"', ""))
    lines = [
        visit("nz.example", "10.0.5.1", "01/Dec/2025:10:00:00 +0000"),  # Dec 1 23:00 NZDT; ends 11:00 UTC
        visit("ny.example", "10.0.5.2", "01/Dec/2025:06:00:00 +0000"),  # Dec 1 01:00 EST; ends Dec 2 05:00
        visit("utc.example", "10.0.5.3", "01/Dec/2025:09:00:00 +0000"),  # UTC; ends Dec 2 00:00
    ]
    now = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.UTC)  # NZ midnight + 1 h grace
    summary = Ingest(state, now=now).run([str(write_log(lines))])
    assert summary.finalized == ["nz.example/2025-12-01"]
    assert not state.salt_path("nz.example", "2025-12-01").exists()
    assert state.salt_path("ny.example", "2025-12-01").exists()
    at = dt.datetime(2025, 12, 2, tzinfo=dt.UTC)
    assert finalize_days(state, now=at + dt.timedelta(minutes=59)) == []
    assert finalize_days(state, now=at + dt.timedelta(hours=1)) == ["utc.example/2025-12-01"]
    assert finalize_days(state, now=at + dt.timedelta(hours=5, minutes=59)) == []
    assert finalize_days(state, now=at + dt.timedelta(hours=6)) == ["ny.example/2025-12-01"]
    assert not state.salt_path("ny.example", "2025-12-01").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone = 'Mars/Olympus'", "timezone: 'Mars/Olympus' is not an IANA time zone name"),
        ("timezone = '../../etc/passwd'", "is not an IANA time zone name"),
        ("[timezones]\n'a.com' = 'EST5EDT-ish'", "[timezones] 'a.com': 'EST5EDT-ish' is not an IANA"),
        ("[timezones]\n'a.com' = {zone = 'UTC', since = 'soon'}", "since must be a date"),
        ("[timezones]\n'a.com' = {zone = 'UTC', from = 2025-01-01}", 'must be "Zone/Name" or'),
        ("[timezones]\n'a.*.com' = 'UTC'", "'*' may only stand for the first label"),
    ],
)
def test_bad_zone_is_one_line_and_exit_2(tmp_path: Path, write_log, text: str, message: str) -> None:
    config = tmp_path / "rings.toml"
    config.write_text(text)
    with pytest.raises(UsageError) as error:
        load_config(config)
    assert message in str(error.value)
    state = tmp_path / "state"
    result = run_cli("ingest", "--state-dir", str(state), "--config", str(config), str(write_log([line()])))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (state / "do").exists()


def test_reports_and_live_say_the_zone(state: StateDir, write_log) -> None:
    configured(state)
    Ingest(state, grace=None).run([str(write_log(MIDNIGHT_LINES))])
    span = ("--start", "2025-12-01", "--end", "2025-12-02")
    assert report_json(state, "--tenant", "ny.example", *span)["timezone"] == "America/New_York"
    assert report_json(state, *span)["timezone"] == "per tenant"  # summed by each tenant's local date
    table = run_cli("report", "--state-dir", str(state.root), "--tenant", "in.example", *span)
    assert table.exit_code == 0 and "2025-12-01 to 2025-12-02 (Asia/Kolkata)" in table.stdout
    assert "(UTC)" not in table.stdout
    both = run_cli("report", "--state-dir", str(state.root), *span)
    assert "(each tenant's local days)" in both.stdout
    live = run_cli(
        "live", "--once", "--state-dir", str(state.root), "--tenant", "nz.example", "--date", "2025-12-02"
    )
    assert live.exit_code == 0, live.output
    assert "2025-12-02 (Pacific/Auckland)" in live.stdout
    assert "00:30:00" in live.stdout  # the latest page view at its local time (11:30 UTC)


def test_without_zones_the_report_is_utc(state: StateDir, write_log) -> None:
    Ingest(state, grace=None).run([str(write_log(MIDNIGHT_LINES[:2]))])
    assert report_json(state)["timezone"] == "UTC"


def test_a_zone_change_applies_from_its_date_on(state: StateDir, write_log) -> None:
    """New York from Dec 2 on (UTC before): Dec 1 stays a UTC day, Dec 2 is a New York day."""
    configured(state, '[timezones]\n"ny.example" = {zone = "America/New_York", since = 2025-12-02}\n')
    lines = [
        visit("ny.example", "10.0.6.1", "01/Dec/2025:23:30:00 +0000"),  # Dec 1 23:30 UTC (before the change)
        visit(
            "ny.example", "10.0.6.2", "02/Dec/2025:04:30:00 +0000"
        ),  # NY: Dec 1, before: so Dec 2 04:30 UTC
        visit("ny.example", "10.0.6.3", "02/Dec/2025:05:30:00 +0000"),  # Dec 2 00:30 New York
        visit("ny.example", "10.0.6.4", "03/Dec/2025:02:00:00 +0000"),  # Dec 2 21:00 New York
    ]
    Ingest(state, grace=None).run([str(write_log(lines))])
    span = ("--start", "2025-12-01", "--end", "2025-12-03")
    report = report_json(state, "--tenant", "ny.example", *span)
    assert days_of(report) == {"2025-12-01": (1, 1, 1), "2025-12-02": (3, 3, 3)}
    assert hours_of(report) == [
        ("2025-12-01", 23, 1),
        ("2025-12-02", 0, 1),
        ("2025-12-02", 4, 1),
        ("2025-12-02", 21, 1),
    ]
    config = load_config(state.root / "rings.toml")
    assert day_end("ny.example", "2025-12-01", config) == dt.datetime(2025, 12, 2, tzinfo=dt.UTC)
    assert day_end("ny.example", "2025-12-02", config) == dt.datetime(2025, 12, 3, 5, tzinfo=dt.UTC)
    result = run_cli("report", "--state-dir", str(state.root), "--tenant", "ny.example", *span)
    assert result.exit_code == 0
    assert "Note: ny.example is in America/New_York from 2025-12-02, in UTC before" in result.stderr
    later = run_cli(
        "report", "--state-dir", str(state.root), "--tenant", "ny.example", "--start", "2025-12-02"
    )
    assert "America/New_York from" not in later.stderr  # the range does not span the change


FIXTURES = Path(__file__).parent / "fixtures"


def test_an_all_utc_state_dir_gains_the_offset_in_place(tmp_path: Path, write_log) -> None:
    """The legacy fixture (fixtures/make_legacy_state.py: DO files, views and a warehouse from before
    time zones) reads as UTC (offset 0), and its first ingest migrates it without losing a count or
    a visitor: the page view added below joins a session its visitor began before the migration."""
    with tarfile.open(FIXTURES / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    for path in [state.root, *state.root.rglob("*")]:  # the tar keeps no modes; check wants owner-only
        path.chmod(0o700 if path.is_dir() else 0o600)
    window = ("--tenant", "a.example", "--start", "2025-11-01", "--end", "2025-11-02")
    before = report_json(state, *window)
    assert before["timezone"] == "UTC" and before["hours"]
    assert {h["utc_offset"] for h in before["hours"]} == {0}
    day2 = {d["date"]: d for d in before["days"]}["2025-11-02"]
    hour8 = next(h for h in before["hours"] if (h["date"], h["hour"]) == ("2025-11-02", 8))
    # 198.51.100.10 with Firefox/120 viewed / at 08:00 and 09:10 (lines 0 and 10 of day 2).
    added = [
        line(
            vhost="a.example",
            ip="198.51.100.10",
            when="02/Nov/2025:08:05:00 +0000",
            request="GET /about HTTP/1.1",
        )
    ]
    result = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(write_log(added)))
    assert result.returncode == 0, result.stderr.decode()
    after = report_json(state, *window)
    day2_after = {d["date"]: d for d in after["days"]}["2025-11-02"]
    assert day2_after["page_views"] == day2["page_views"] + 1
    assert (day2_after["unique_visitors"], day2_after["sessions"]) == (
        day2["unique_visitors"],
        day2["sessions"],
    )
    hour8_after = next(h for h in after["hours"] if (h["date"], h["hour"]) == ("2025-11-02", 8))
    assert hour8_after["page_views"] == hour8["page_views"] + 1 and hour8_after["utc_offset"] == 0
    assert len(after["hours"]) == len(before["hours"])  # the old rows are offset 0, the new one too
    with sqlite3.connect(state.do_path("a.example", "2025-11-02")) as con:
        assert "utc_offset" in {r[1] for r in con.execute("PRAGMA table_info(hourly)")}
        assert "utc_offset" in {r[1] for r in con.execute("PRAGMA table_info(views)")}
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        assert "utc_offset" in {r[0] for r in con.execute("DESCRIBE hourly").fetchall()}
        assert con.execute("SELECT count(*) FROM hourly WHERE utc_offset <> 0").fetchone() == (0,)
    check = run_rings("check", "--state-dir", str(state.root))
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_zones_by_tenant_host_and_pattern() -> None:
    """Exact names (a tenant, or a host that [tenants] maps) first, then patterns in file order."""
    from rings_cli.core.config import parse_config
    from rings_cli.enrich.zones import zone_on

    config = parse_config(
        {
            "tenants": {"*.grove.place": "{subdomain}-grove", "blog.example.com": "alice"},
            "timezone": "Europe/London",
            "timezones": {
                "*.grove.place": "Asia/Kolkata",  # the tenants its [tenants] pattern makes
                "blog.example.com": "America/New_York",  # the host's tenant, alice
                "*.other.org": "Asia/Tokyo",  # tenants named after such hosts
                "x.other.org": "Europe/Berlin",  # exact beats a pattern, whatever the order
            },
        }
    )
    expected = {
        "autumn-grove": "Asia/Kolkata",
        "alice": "America/New_York",
        "x.other.org": "Europe/Berlin",
        "y.other.org": "Asia/Tokyo",
        "bob": "Europe/London",
    }
    assert {t: zone_on(config, t, "2025-12-01") for t in expected} == expected


def test_hour_rows_of_all_tenants_have_no_offset(state: StateDir, write_log) -> None:
    configured(state)
    Ingest(state, grace=None).run([str(write_log(MIDNIGHT_LINES))])
    span = ("--start", "2025-12-01", "--end", "2025-12-02")
    assert all("utc_offset" not in h for h in report_json(state, *span)["hours"])
    assert {h["utc_offset"] for h in report_json(state, "--tenant", "in.example", *span)["hours"]} == {330}
    csv_out = run_cli("report", "--state-dir", str(state.root), "-f", "csv", "--section", "hours", *span)
    assert csv_out.stdout.splitlines()[0].startswith("date,hour,page_views,")
