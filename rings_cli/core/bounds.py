"""Values from outside (options, query parameters), checked once where they enter and bounded.

No value from a user reaches a date, an integer or a timer that cannot hold it: digits are ASCII
(`²` and `٣` are digits to Python's `int()`, not to a user), dates are YYYY-MM-DD from 0001-01-01
to 9999-12-31 and arithmetic on them stops at those ends, numbers lie in a stated range. A value
outside is a UsageError naming the option (exit 2, or a 400 from `rings serve`). And the one bound
that comes from the environment: the open-file limit a run needs (`ensure_open_files`).
"""

from __future__ import annotations

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
