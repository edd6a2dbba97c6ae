"""A long range's days as weeks or months, for the views people read (issue 28).

A ten-year report with one row or bar per day is thousands of lines; past DAILY_DAYS a range is
shown by week (from Monday), past WEEKLY_DAYS by month, each row labelled with its first day (or
its month) and so its year. The report's JSON and CSV keep one row per day. Counts add up; unique
visitors add up too (the contract: over a range, the sum of daily uniques); the bounce rate and the
average session duration are weighted by sessions, so a period's figures are those of its days.
Pure Python on the report's rows: `rings report` draws it without Polars.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rings_cli.query.model import DayRow

DAILY_DAYS = 60  # up to this many days, a row a day
WEEKLY_DAYS = 731  # up to two years, a row a week; past it, a row a month


# A day, a week or a month of the range: the day row's figures over its days; its `date` is the
# period's first day in the range (a day, a week), or YYYY-MM (a month).
PeriodRow = DayRow


def period_kind(days: int) -> str:
    """`day`, `week` or `month`: how a range of `days` days is shown."""
    return "day" if days <= DAILY_DAYS else "week" if days <= WEEKLY_DAYS else "month"


def periods(days: Sequence[DayRow]) -> tuple[str, list[PeriodRow]]:
    """(kind, rows): the day rows as they are, or summed by week or month."""
    kind = period_kind(len(days))
    if kind == "day":
        return kind, list(days)  # as they are (a PeriodRow is a DayRow)
    groups: dict[str, list[DayRow]] = {}
    for day in days:
        date = dt.date.fromisoformat(day["date"])
        if kind == "week":
            key = max(
                date - dt.timedelta(days=date.weekday()), dt.date.fromisoformat(days[0]["date"])
            ).isoformat()
        else:
            key = date.strftime("%Y-%m")
        groups.setdefault(key, []).append(day)
    return kind, [_summed(key, rows) for key, rows in groups.items()]


def _summed(key: str, rows: list[DayRow]) -> PeriodRow:
    sessions = sum(int(r["sessions"]) for r in rows)
    bounces = sum(float(r["bounce_rate"]) * int(r["sessions"]) for r in rows)
    time = sum(float(r["avg_session_duration"]) * int(r["sessions"]) for r in rows)
    return PeriodRow(
        date=key,
        requests=sum(int(r.get("requests", 0)) for r in rows),
        page_views=sum(int(r["page_views"]) for r in rows),
        unique_visitors=sum(int(r["unique_visitors"]) for r in rows),
        bytes=sum(int(r.get("bytes", 0)) for r in rows),
        sessions=sessions,
        bounce_rate=round(bounces / sessions, 6) if sessions else 0.0,
        avg_session_duration=round(time / sessions, 6) if sessions else 0.0,
    )
