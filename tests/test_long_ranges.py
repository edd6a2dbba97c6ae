"""Long ranges (issue 28): past 60 days the views people read bin by week, past two years by month,
labelled with their year; JSON and CSV keep one row a day."""

from __future__ import annotations

import json

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.query.periods import periods
from sample_data.generate import generate
from tests.conftest import run_cli

TEN_YEARS = ("--start", "2010-01-01", "--end", "2019-12-31")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    """Ten years of one site, a few lines a day (days written straight to the warehouse)."""
    root = tmp_path_factory.mktemp("archive")
    log = root / "archive.log"
    log.write_text(
        "\n".join(generate(12_000, 5, "2010-01-01", 3652, "combined", ["old.example"], 0.0)) + "\n"
    )
    state = StateDir(root / "state")
    Ingest(state, tenant="old.example").run([str(log)])
    return state


def test_a_ten_year_table_report_is_by_month_and_short(archive: StateDir) -> None:
    result = run_cli("report", "--state-dir", str(archive.root), *TEN_YEARS)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = next(i for i, text in enumerate(lines) if text.startswith("Months"))
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].strip())
    assert end - start <= 150  # the binned table (was one row per day: 3,652)
    rows = [text for text in lines[start:end] if text.lstrip().startswith(("20",))]
    assert rows[0].split()[0] == "2010-01" and rows[-1].split()[0] == "2019-12"
    assert len(rows) == 120


def test_json_keeps_every_day(archive: StateDir) -> None:
    result = run_cli("report", "--state-dir", str(archive.root), "--format", "json", *TEN_YEARS)
    days = json.loads(result.stdout)["days"]
    assert len(days) > 3600  # from the first day with data to the last
    kind, months = periods(days)
    assert kind == "month" and len(months) == 120
    assert sum(m["page_views"] for m in months) == sum(d["page_views"] for d in days)
    assert sum(m["sessions"] for m in months) == sum(d["sessions"] for d in days)


def test_weeks_past_sixty_days_and_the_html_labels_have_their_year(archive: StateDir) -> None:
    result = run_cli(
        "report",
        "--state-dir",
        str(archive.root),
        "--start",
        "2015-11-01",
        "--end",
        "2016-02-29",
        "-f",
        "html",
    )
    assert result.exit_code == 0, result.output
    assert "Week from" in result.stdout and ">2015-11-02<" in result.stdout  # a Monday, with its year
    table = run_cli(
        "report", "--state-dir", str(archive.root), "--start", "2015-11-01", "--end", "2016-02-29"
    )
    assert "Weeks" in table.stdout and "week from" in table.stdout


def test_a_period_weights_rates_by_sessions() -> None:
    """70 days (so by week): in the first full week, one day of 1 session (bounced, 0 s) and one of
    3 (none bounced, 60 s each): the week's bounce rate is 1/4 and its average session 45 s."""
    import datetime as dt

    first = dt.date(2020, 1, 6)  # a Monday
    zero = {"requests": 0, "page_views": 0, "unique_visitors": 0, "bytes": 0, "sessions": 0}
    days = [
        dict(zero, date=(first + dt.timedelta(days=i)).isoformat(), bounce_rate=0.0, avg_session_duration=0.0)
        for i in range(70)
    ]
    days[0].update(sessions=1, bounce_rate=1.0, avg_session_duration=0.0, page_views=1)
    days[1].update(sessions=3, bounce_rate=0.0, avg_session_duration=60.0, page_views=6)
    kind, rows = periods(days)  # type: ignore[arg-type]
    assert kind == "week" and len(rows) == 10
    assert (rows[0]["date"], rows[0]["sessions"], rows[0]["page_views"]) == ("2020-01-06", 4, 7)
    assert (rows[0]["bounce_rate"], rows[0]["avg_session_duration"]) == (0.25, 45.0)
    assert rows[1]["bounce_rate"] == 0.0  # no session: nothing to average
