"""Plain-Python reference implementation of the Rings counting rules (test oracle).

Deliberately simple and independent of ``rings_cli``: one regex per format and a
per-line loop. Tests compare the real pipeline's output against ``reference()``.

Rules (summary):

* formats tried in order vcombined (``host:port`` + combined), combined, common;
  combined/vcombined may carry extra fields after the user agent, common may not;
  no match, an unparseable timestamp, or an empty line => rejected;
* timestamps are converted to UTC, day and hour are UTC;
* tenant = ``tenant`` argument, else vhost lower-cased without ``:port`` and a
  leading ``www.``, else ``default``; an invalid tenant name rejects the line;
* bot = user agent matches a crawler-user-agents pattern (``re.search``);
* page view = not bot, ``GET``, status 2xx or 304, path (before ``?``) is a page;
* unique visitors = distinct (ip, user agent) pairs with a page view.

Run ``python tests/reference.py FILE [--tenant NAME]`` to print the JSON result.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

# A quoted field: any chars except quote/backslash, or a backslash escape.
_Q = r'"((?:[^"\\]|\\.)*)"'
_HEAD = r"(\S+) (\S+) (\S+) \[([^\]]*)\] " + _Q + r" (\d{3}) (\d+|-)"
_COMBINED_TAIL = " " + _Q + " " + _Q + r"(?: .*)?"

VCOMBINED_RE = re.compile(r"^(\S+) " + _HEAD + _COMBINED_TAIL + "$")
COMBINED_RE = re.compile("^" + _HEAD + _COMBINED_TAIL + "$")
COMMON_RE = re.compile("^" + _HEAD + "$")

TIMESTAMP_RE = re.compile(r"^(\d{2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
}
REQUEST_RE = re.compile(r"^(\S+) (\S+)(?: (\S+))?$")
TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
EXTENSION_RE = re.compile(r"\.[A-Za-z0-9]+$")
PAGE_EXTENSIONS = {".html", ".htm", ".php", ".asp", ".aspx", ".jsp"}


@dataclass
class DayCounts:
    """Counts for one (tenant, UTC day)."""

    requests: int = 0
    bytes: int = 0
    bot_requests: int = 0
    page_views: int = 0
    unique_visitors: int = 0
    status: dict[str, int] = field(default_factory=dict)
    hours: dict[int, tuple[int, int]] = field(default_factory=dict)  # hour -> (page_views, uniques)
    pages: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> (views, unique views)


@dataclass
class Reference:
    """Result of ``reference()``: rejected line count and per (tenant, day) counts."""

    rejected: int = 0
    days: dict[tuple[str, str], DayCounts] = field(default_factory=dict)


@dataclass
class ParsedLine:
    """The fields of one accepted line that the rules need."""

    vhost: str | None
    ip: str
    when: datetime  # UTC
    request: str
    status: str
    size: int
    ua: str | None  # None for common format


@cache
def bot_patterns() -> tuple[re.Pattern[str], ...]:
    """The crawler-user-agents patterns, compiled (case-sensitive)."""
    text = (importlib.resources.files("crawleruseragents") / "crawler-user-agents.json").read_text("utf-8")
    return tuple(re.compile(entry["pattern"]) for entry in json.loads(text))


@cache
def is_bot(ua: str | None) -> bool:
    """True when the user agent matches any crawler pattern; no UA is never a bot."""
    return ua is not None and any(p.search(ua) for p in bot_patterns())


def unescape(value: str) -> str:
    """Undo ``\\"`` and ``\\\\`` escapes inside a quoted log field (others are kept)."""
    return re.sub(r'\\(["\\])', r"\1", value)


def parse_timestamp(text: str) -> datetime | None:
    """Parse ``dd/Mon/yyyy:HH:MM:SS +hhmm`` into an aware UTC datetime, or None."""
    m = TIMESTAMP_RE.match(text)
    if not m or m.group(2) not in MONTHS:
        return None
    day, _, year, hh, mi, ss, sign, oh, om = m.groups()
    try:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(offset if sign == "+" else -offset)
        local = datetime(int(year), MONTHS[m.group(2)], int(day), int(hh), int(mi), int(ss), tzinfo=tz)
    except ValueError:
        return None
    return local.astimezone(UTC)


def parse_line(line: str) -> ParsedLine | None:
    """Parse one line in vcombined, combined or common format; None if rejected."""
    vhost: str | None = None
    ua: str | None = None
    if m := VCOMBINED_RE.match(line):
        vhost, ip, _, _, ts, req, status, size, _ref, ua = m.groups()
    elif m := COMBINED_RE.match(line):
        ip, _, _, ts, req, status, size, _ref, ua = m.groups()
    elif m := COMMON_RE.match(line):
        ip, _, _, ts, req, status, size = m.groups()
    else:
        return None
    when = parse_timestamp(ts)
    if when is None:
        return None
    return ParsedLine(
        vhost=vhost,
        ip=ip,
        when=when,
        request=unescape(req),
        status=status,
        size=0 if size == "-" else int(size),
        ua=None if ua is None else unescape(ua),
    )


def tenant_for(vhost: str | None, tenant: str | None) -> str | None:
    """The tenant name for a line, or None when it is not a valid name."""
    if tenant is not None:
        name = tenant
    elif vhost is not None:
        name = re.sub(r":[0-9]+$", "", vhost.lower())
        if name.startswith("www."):
            name = name[len("www.") :]
    else:
        name = "default"
    return name if TENANT_RE.match(name) else None


def is_page(path: str) -> bool:
    """True when the last path segment has no extension or a page extension."""
    last = path.rsplit("/", 1)[-1]
    m = EXTENSION_RE.search(last)
    return m is None or m.group(0).lower() in PAGE_EXTENSIONS


def page_path(request: str) -> tuple[str, str] | None:
    """(method, path without query) for a well-formed request field, else None."""
    m = REQUEST_RE.match(request)
    if not m:
        return None
    return m.group(1), m.group(2).split("?", 1)[0]


def reference(lines: Iterable[str], tenant: str | None = None) -> Reference:
    """Count ``lines`` (with or without trailing newlines) per the Rings rules."""
    result = Reference()
    day_visitors: dict[tuple[str, str], set[tuple[str, str]]] = {}
    hour_views: dict[tuple[str, str, int], int] = {}
    hour_visitors: dict[tuple[str, str, int], set[tuple[str, str]]] = {}
    page_views: dict[tuple[str, str, str], int] = {}
    page_visitors: dict[tuple[str, str, str], set[tuple[str, str]]] = {}

    for raw in lines:
        line = raw.removesuffix("\n").removesuffix("\r")
        parsed = parse_line(line) if line else None
        name = tenant_for(parsed.vhost, tenant) if parsed else None
        if parsed is None or name is None:
            result.rejected += 1
            continue
        day = parsed.when.strftime("%Y-%m-%d")
        key = (name, day)
        counts = result.days.setdefault(key, DayCounts())
        counts.requests += 1
        counts.bytes += parsed.size
        counts.status[parsed.status] = counts.status.get(parsed.status, 0) + 1
        bot = is_bot(parsed.ua)
        if bot:
            counts.bot_requests += 1
        req = page_path(parsed.request)
        status = int(parsed.status)
        if bot or req is None or req[0] != "GET" or not (200 <= status <= 299 or status == 304):
            continue
        path = req[1]
        if not is_page(path):
            continue
        visitor = (parsed.ip, parsed.ua or "")
        hour = parsed.when.hour
        counts.page_views += 1
        day_visitors.setdefault(key, set()).add(visitor)
        hour_views[(name, day, hour)] = hour_views.get((name, day, hour), 0) + 1
        hour_visitors.setdefault((name, day, hour), set()).add(visitor)
        page_views[(name, day, path)] = page_views.get((name, day, path), 0) + 1
        page_visitors.setdefault((name, day, path), set()).add(visitor)

    for key, visitors in day_visitors.items():
        result.days[key].unique_visitors = len(visitors)
    for (name, day, hour), views in sorted(hour_views.items()):
        result.days[(name, day)].hours[hour] = (views, len(hour_visitors[(name, day, hour)]))
    for (name, day, path), views in sorted(page_views.items()):
        result.days[(name, day)].pages[path] = (views, len(page_visitors[(name, day, path)]))
    return result


def read_lines(path: str) -> Iterator[str]:
    """Lines of a plain or gzip file, split on ``\\n`` only, decoded as UTF-8 (lossless)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        for raw in f:
            yield raw.decode("utf-8", "surrogateescape")


def to_json(ref: Reference) -> dict[str, Any]:
    """A JSON-friendly view of a Reference, sorted by tenant then day."""
    days = []
    for (name, day), c in sorted(ref.days.items()):
        days.append(
            {
                "tenant": name,
                "day": day,
                "requests": c.requests,
                "bytes": c.bytes,
                "bot_requests": c.bot_requests,
                "page_views": c.page_views,
                "unique_visitors": c.unique_visitors,
                "status": dict(sorted(c.status.items())),
                "hours": {str(h): list(v) for h, v in sorted(c.hours.items())},
                "pages": {p: list(v) for p, v in sorted(c.pages.items(), key=lambda kv: (-kv[1][0], kv[0]))},
            }
        )
    return {"rejected": ref.rejected, "days": days}


def main(argv: list[str] | None = None) -> int:
    """Print the reference JSON for a log file."""
    p = argparse.ArgumentParser(description="Reference counts for an access log (test oracle).")
    p.add_argument("file", help="log file, plain or .gz")
    p.add_argument("--tenant", default=None, help="force every line into this tenant")
    p.add_argument("--summary", action="store_true", help="omit hours and pages")
    a = p.parse_args(argv)
    out = to_json(reference(read_lines(a.file), a.tenant))
    if a.summary:
        for d in out["days"]:
            del d["hours"], d["pages"]
    json.dump(out, sys.stdout, indent=2, ensure_ascii=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
