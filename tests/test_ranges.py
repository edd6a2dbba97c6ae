"""Ranges (issue 28, item 2): `--all`, `--last 7d|4w|12m`, `--start/--end` as YYYY, YYYY-MM,
YYYY-MM-DD, `today`, `yesterday`; a default range that shows part of the data says which part;
`--compare` against a period the data only partly covers says so. The same words in `rings serve`'s
API, which also gives the report as a JSON or CSV file to download. Real `rings` processes."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.state import StateDir
from rings_cli.query.export import report_csv
from tests.conftest import line, run_cli, run_rings
from tests.test_serve import Server, without_state_times

# old.example: one day in 2005, one in 2010, then 2016-03-01 and every day from 2016-03-20 to 28.
OLD_DAYS = ["2005-11-26", "2010-06-15", "2016-03-01", *(f"2016-03-{d}" for d in range(20, 29))]
NEW_DAYS = [f"2016-03-{d}" for d in range(24, 29)]  # new.example: its data starts on 2016-03-24
NOTE = "showing the last 7 days of data from 2005-11-26 to 2016-03-28; --all for everything"


def stamp(day: str, hour: int = 10) -> str:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00").strftime("%d/%b/%Y:%H:%M:%S +0000")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    tmp = tmp_path_factory.mktemp("ranges")
    lines = [
        line(ip=f"203.0.113.{i}", when=stamp(day, 9 + i), vhost="old.example", request=f"GET /p{i} HTTP/1.1")
        for day in OLD_DAYS
        for i in range(1, 3)
    ]
    lines += [line(ip="198.51.100.7", when=stamp(day), vhost="new.example") for day in NEW_DAYS]
    log = tmp / "access.log"
    log.write_text("".join(x + "\n" for x in lines))
    state = StateDir(tmp / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), "-q", str(log))
    assert result.exit_code == 0, result.output
    return state


def rings(state: StateDir, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_rings("report", "--state-dir", str(state.root), *args)


def report(state: StateDir, *args: str) -> dict[str, Any]:
    result = rings(state, "--format", "json", *args)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_the_default_range_says_it_shows_part_of_the_data(archive: StateDir) -> None:
    data = report(archive)
    assert (data["start"], data["end"]) == ("2016-03-22", "2016-03-28")
    assert data["range_note"] == NOTE
    table = " ".join(rings(archive).stdout.decode().split())  # (the line wraps at the terminal's width)
    assert "Showing the last 7 days of data from 2005-11-26 to 2016-03-28; --all for everything" in table
    page = rings(archive, "--format", "html").stdout.decode()
    assert NOTE[1:] in page
    # A range the user chose is what they asked for: no note.
    assert "range_note" not in report(archive, "--start", "2016-03-22", "--end", "2016-03-28")


def test_all_is_every_day_with_data(archive: StateDir) -> None:
    data = report(archive, "--all")
    assert (data["start"], data["end"]) == ("2005-11-26", "2016-03-28")
    assert data["totals"]["page_views"] == 2 * len(OLD_DAYS) + len(NEW_DAYS)
    assert "range_note" not in data
    one = report(archive, "--all", "--tenant", "new.example")
    assert (one["start"], one["end"]) == ("2016-03-24", "2016-03-28")  # the tenant's own data


@pytest.mark.parametrize(
    ("args", "start", "end"),
    [
        (["--start", "2016-03"], "2016-03-01", "2016-03-28"),  # alone: up to the newest data
        (["--start", "2016"], "2016-01-01", "2016-03-28"),
        (["--start", "2016", "--end", "2016-03"], "2016-01-01", "2016-03-31"),  # a month's last day
        (["--start", "2005", "--end", "2005"], "2005-01-01", "2005-12-31"),
        (["--start", "2016-02", "--end", "2016-02"], "2016-02-01", "2016-02-29"),
        (["--start", "2016-03-25"], "2016-03-25", "2016-03-28"),
        (["--last", "7d"], "2016-03-22", "2016-03-28"),  # today has none: back from the newest data
        (["--last", "4w"], "2016-03-01", "2016-03-28"),
        (["--last", "12m"], "2015-03-29", "2016-03-28"),
        (["--last", "1w", "--end", "2016-03-10"], "2016-03-04", "2016-03-10"),
        (["--last", "1m", "--end", "2016-02"], "2016-02-01", "2016-02-29"),
    ],
)
def test_range_words(archive: StateDir, args: list[str], start: str, end: str) -> None:
    data = report(archive, *args)
    assert (data["start"], data["end"]) == (start, end)


def test_today_and_yesterday_are_the_tenants_own_days(archive: StateDir) -> None:
    today = dt.datetime.now(dt.UTC).date()
    data = report(archive, "--start", "yesterday", "--end", "today")
    if dt.datetime.now(dt.UTC).date() == today:  # not across midnight
        assert (data["start"], data["end"]) == (str(today - dt.timedelta(days=1)), str(today))
    assert data["totals"]["requests"] == 0
    assert data["data_from"] == "2005-11-26"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--all", "--start", "2016"], "--all shows every day with data: not with --start, --end or --last"),
        (["--last", "7x"], "--last: '7x' is not a length such as 7d, 4w, 12m or 1y"),
        (["--last", "0d"], "--last: '0d' is not a length"),
        (["--last", "4w", "--start", "2016"], "--last counts back from --end"),
        (["--start", "2016-13"], "--start: '2016-13' is not a date (YYYY-MM-DD), a month (YYYY-MM)"),
        (["--start", "0000"], "--start: '0000' is not a date"),
        (["--end", "\u0662\u0660\u0661\u0666"], "--end: "),  # Arabic-Indic digits: not ASCII
        (["--start", "tomorrow"], "--start: 'tomorrow' is not a date"),
        (["--start", "2016-04", "--end", "2016-03"], "--start 2016-04-01 is after --end 2016-03-31"),
        (["--compare", "2016-13:2016"], "--compare: '2016-13' is not a date"),
    ],
)
def test_bad_ranges_are_one_line_and_exit_2(archive: StateDir, args: list[str], says: str) -> None:
    result = rings(archive, *args)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1 and says in err, err
    assert "Traceback" not in err


def test_compare_says_when_the_data_covers_part_of_the_other_period(archive: StateDir) -> None:
    args = ["--tenant", "new.example", "--start", "2016-03-26", "--end", "2016-03-28", "--compare"]
    compared = report(archive, *args)["compare"]
    assert (compared["start"], compared["end"], compared["days"], compared["covered_days"]) == (
        "2016-03-23",
        "2016-03-25",
        3,
        2,
    )
    note = (
        "the compared period 2016-03-23 to 2016-03-25 is only partly covered by data: 2 of its 3 days "
        "(data from 2016-03-24 to 2016-03-28)"
    )
    assert compared["note"] == note
    assert "Note: " + note in " ".join(rings(archive, *args).stdout.decode().split())
    assert note in rings(archive, *args, "--format", "html").stdout.decode()
    none = report(archive, "--tenant", "new.example", "--start", "2016-03-24", "--compare")["compare"]
    assert none["note"] == (
        "no data in the compared period 2016-03-19 to 2016-03-23 (data from 2016-03-24 to 2016-03-28)"
    )
    whole = report(archive, "--start", "2016-03-27", "--end", "2016-03-28", "--compare")["compare"]
    assert whole["covered_days"] == whole["days"] == 2 and "note" not in whole
    words = report(archive, "--start", "2016-03", "--compare", "2016-02:2016-02")["compare"]
    assert (words["start"], words["end"]) == ("2016-02-01", "2016-02-29")


# --- rings serve: the same words, and downloads -------------------------------------------------


@pytest.fixture(scope="module")
def server(archive: StateDir) -> Iterator[Server]:
    s = Server(archive)
    yield s
    assert "Traceback" not in s.stop()


@pytest.mark.parametrize(
    ("query", "args"),
    [
        ("", []),
        ("?all=1", ["--all"]),
        ("?start=2016-03", ["--start", "2016-03"]),
        ("?start=2016&end=2016-03", ["--start", "2016", "--end", "2016-03"]),
        ("?last=4w", ["--last", "4w"]),
        ("?last=1w&end=2016-03-10", ["--last", "1w", "--end", "2016-03-10"]),
        ("?start=yesterday&end=today", ["--start", "yesterday", "--end", "today"]),
        ("?start=2016-03-26&compare=previous", ["--start", "2016-03-26", "--compare"]),
    ],
)
def test_the_api_takes_the_same_words(archive: StateDir, server: Server, query: str, args: list[str]) -> None:
    got = server.json(f"/api/_all/range{query}")
    expected = report(archive, *args)
    assert without_state_times(got) == without_state_times(expected)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("?all=2", "all: '2' is not 1 or 0"),
        ("?all=1&start=2016", "all shows every day with data: not with start, end or last"),
        ("?last=7x", "last: '7x' is not a length"),
        ("?start=2016-13", "start: '2016-13' is not a date"),
        ("?compare=2016", "compare: '2016' is not START:END"),
        ("?format=xml", "format: 'xml' is not json or csv"),
        ("?format=csv&section=secrets", "section: with format=csv, one of days"),
        ("?section=days", "section: with format=csv"),
    ],
)
def test_bad_api_ranges_are_400(server: Server, query: str, says: str) -> None:
    assert says in server.json(f"/api/new.example/range{query}", 400)["error"]


def test_downloads_are_the_report_as_a_file(archive: StateDir, server: Server, tmp_path: Path) -> None:
    status, head, body = server.request("/api/new.example/range?all=1&format=csv&section=top_pages")
    assert status == 200, body
    assert head["content-type"].startswith("text/csv")
    assert head["content-disposition"] == (
        'attachment; filename="rings-new.example-2016-03-24-2016-03-28-top_pages.csv"'
    )
    data = report(archive, "--tenant", "new.example", "--all")
    assert body.decode() == report_csv(data, "top_pages")  # type: ignore[arg-type]
    status, head, body = server.request("/api/_all/range?start=2016-03&format=json")
    assert status == 200
    assert head["content-disposition"] == 'attachment; filename="rings-all-2016-03-01-2016-03-28.json"'
    assert without_state_times(json.loads(body)) == without_state_times(report(archive, "--start", "2016-03"))
