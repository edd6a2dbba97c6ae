"""Values from outside (options, query parameters), checked once where they enter and bounded.

No value from a user reaches a date, an integer or a timer that cannot hold it: digits are ASCII
(`²` and `٣` are digits to Python's `int()`, not to a user), dates are YYYY-MM-DD from 0001-01-01
to 9999-12-31 and arithmetic on them stops at those ends, numbers lie in a stated range. A range's
ends may also name a month (YYYY-MM), a year (YYYY), `today` or `yesterday` (`period`), and a
range may be counted back as `7d`, `4w`, `12m` or `1y` (`span`, `back`). A value
outside is a UsageError naming the option (exit 2, or a 400 from `rings serve`). And the one bound
that comes from the environment: the open-file limit a run needs (`ensure_open_files`).
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import math
import re

from rings_cli.core.errors import OutOfFilesError, UsageError, open_files_limit

# The open files an ingest needs beside the DO files it keeps open (store/docache.py sizes that cache
# from what the limit leaves): the interpreter and its libraries, the catalog, the warehouse and
# their journals, the locks, the inputs. Measured: 18 when the first DO file opens, more in a flush.
MIN_OPEN_FILES = 64
FIRST_DAY = dt.date.min  # 0001-01-01
LAST_DAY = dt.date.max  # 9999-12-31

_WHOLE = re.compile(r"[0-9]{1,30}")
_DECIMAL = re.compile(r"[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_YEAR = re.compile(r"[0-9]{4}")
_SPAN = re.compile(r"([0-9]{1,7})([dwmy])")
MAX_SPAN = 999_999  # `--last N...`: N from 1 to this (counting back stops at 0001-01-01 anyway)
SPAN_UNITS = {"d": "days", "w": "weeks", "m": "months", "y": "years"}


def _named(option: str | None, detail: str) -> UsageError:
    return UsageError(f"{option}: {detail}" if option else detail)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 24 else text[:24] + "…")


def whole_number(text: str | int, option: str | None, low: int, high: int) -> int:
    """A whole number from `low` to `high`, written in ASCII digits."""
    text = str(text)
    if not _WHOLE.fullmatch(text) or not low <= int(text) <= high:
        raise _named(option, f"{_shown(text)} is not a number from {low:,} to {high:,}")
    return int(text)


def seconds(text: str | float, option: str | None, low: float, high: float) -> float:
    """A number of seconds from `low` to `high`, in ASCII digits with an optional decimal point
    (no exponent, no `inf`, no `nan`)."""
    text = str(text)
    value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not low <= value <= high:
        raise _named(option, f"{_shown(text)} is not a number of seconds from {low:g} to {high:,g}")
    return value


def date(text: str, option: str | None) -> dt.date:
    """A calendar date, YYYY-MM-DD in ASCII digits (0001-01-01 to 9999-12-31)."""
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _named(option, f"{_shown(text)} is not a date (YYYY-MM-DD)") from None


def period(text: str, option: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days a range's end names, (first, last): a day (YYYY-MM-DD), a month (YYYY-MM), a year
    (YYYY), `today` or `yesterday` (of `today`, the tenant's own), in ASCII digits from 0001-01-01
    to 9999-12-31. A range starts on its `--start`'s first day and ends on its `--end`'s last."""
    try:
        if text == "today":
            return today, today
        if text == "yesterday":
            day = shift(today, -1)
            return day, day
        if _DATE.fullmatch(text):
            day = dt.date.fromisoformat(text)
            return day, day
        if _MONTH.fullmatch(text):
            year, month = int(text[:4]), int(text[5:])
            first = dt.date(year, month, 1)
            return first, first.replace(day=calendar.monthrange(year, month)[1])
        if _YEAR.fullmatch(text):
            return dt.date(int(text), 1, 1), dt.date(int(text), 12, 31)
        raise ValueError
    except ValueError:
        words = "a month (YYYY-MM), a year (YYYY), today or yesterday"
        raise _named(option, f"{_shown(text)} is not a date (YYYY-MM-DD), {words}") from None


def span(text: str, option: str | None) -> tuple[int, str]:
    """A length to count back, `7d`, `4w`, `12m` or `1y`: (how many, unit letter), 1 to MAX_SPAN."""
    found = _SPAN.fullmatch(text)
    if found is None or not 1 <= int(found.group(1)) <= MAX_SPAN:
        raise _named(
            option, f"{_shown(text)} is not a length such as 7d, 4w, 12m or 1y (days, weeks, months, years)"
        )
    return int(found.group(1)), found.group(2)


def back(end: dt.date, count: int, unit: str) -> dt.date:
    """The first day of the `count` days, weeks, months or years (`span`'s units) that end on
    `end`, inclusive: 7d ending 2016-03-28 starts 2016-03-22, 12m ending 2016-03-28 starts
    2015-03-29; months that end on a month's last day are whole months (1m ending 2016-02-29
    starts 2016-02-01). Stops at 0001-01-01."""
    if unit in ("d", "w"):
        return shift(end, -(count * (7 if unit == "w" else 1) - 1))
    months = count * (12 if unit == "y" else 1)
    if end.day == calendar.monthrange(end.year, end.month)[1]:  # whole months
        year, month = divmod(end.year * 12 + end.month - months, 12)  # the month after, 0-based
        return dt.date(year, month + 1, 1) if year >= 1 else FIRST_DAY
    year, month = divmod(end.year * 12 + end.month - 1 - months, 12)  # the month `months` before end's
    if year < 1:
        return FIRST_DAY
    day = min(end.day, calendar.monthrange(year, month + 1)[1])
    return shift(dt.date(year, month + 1, day), 1)


def shift(day: dt.date, days: int) -> dt.date:
    """`day` moved by `days`, stopping at 0001-01-01 and 9999-12-31 (Python's dates end there)."""
    if days >= 0:
        return day + dt.timedelta(days=days) if (LAST_DAY - day).days >= days else LAST_DAY
    return day + dt.timedelta(days=days) if (day - FIRST_DAY).days >= -days else FIRST_DAY


def ensure_open_files(need: int = MIN_OPEN_FILES) -> None:
    """Raise the soft limit on open files towards the hard one when it is below `need` (and below
    1,024, a usual default); a hard limit below `need` is an OutOfFilesError before anything is read."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    target = 1024 if hard == resource.RLIM_INFINITY else min(hard, 1024)
    if target > soft:
        with contextlib.suppress(ValueError, OSError):  # not allowed here: the check below says so
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if (open_files_limit() or need) < need:
        raise OutOfFilesError(need)
