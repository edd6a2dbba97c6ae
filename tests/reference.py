"""Plain-Python reference implementation of the Rings counting rules (test oracle).

Deliberately simple and independent of ``rings_cli``: one regex per format and a
per-line loop. Tests compare the real pipeline's output against ``reference()``.

Rules (summary):

* formats tried in order vcombined (``host:port`` + combined), combined, common;
  combined/vcombined may carry extra fields after the user agent, common may not;
  no match, an unparseable timestamp, or an empty line => rejected;
* timestamps are converted to UTC, day and hour are UTC;
* tenant = ``tenant`` argument (read like a host), else vhost lower-cased without ``:port``
  and a leading ``www.`` (mapped by exact ``[tenants]`` hosts), else ``default``; an invalid
  tenant name rejects the line;
* a referrer from one of the tenant's own hosts (the vhost, the tenant name, hosts mapped to
  it) is internal navigation, never a source;
* bot = the user agent is an HTTP library or tool, or a crawler (crawler-user-agents' patterns
  less those that match browsers, then device-detector's bot test), or the referrer's host (or a
  parent domain) is referrer spam, or the browser's major came out over 60 months before the line;
* page view = not bot, ``GET``, status 2xx or 304, path (before ``?``) is a page; the page
  path keeps the query parameters ``p`` and ``page_id`` (their first non-empty value, by name);
* unique visitors = distinct (ip, user agent) pairs with a page view.

Run ``python tests/reference.py FILE [--tenant NAME]`` to print the JSON result.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import ipaddress
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

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
    referrer: str | None = None  # None for common format; unescaped, "-" kept as is


# The bot rules' data is Rings' own (its lists and tables); the rules are applied here line by
# line, in plain Python: Python's `re`, one pattern at a time, ua-parser's default API, urlsplit.
@cache
def bot_patterns() -> tuple[re.Pattern[str], ...]:
    """The crawler-user-agents patterns less the ones that match browsers, and their narrowed
    replacements, compiled one by one (case-sensitive)."""
    from rings_cli.enrich.bots import CRAWLER_EXCLUDED, CRAWLER_NARROWED

    text = (importlib.resources.files("crawleruseragents") / "crawler-user-agents.json").read_text("utf-8")
    patterns = [e["pattern"] for e in json.loads(text) if e["pattern"] not in CRAWLER_EXCLUDED]
    return tuple(re.compile(p) for p in [*patterns, *CRAWLER_NARROWED])


@cache
def library_patterns() -> tuple[re.Pattern[str], ...]:
    from rings_cli.enrich.bots import _LIBRARIES

    return tuple(re.compile(r"(?:^|[\s;(,])(?:" + p + ")", re.IGNORECASE) for p in _LIBRARIES)


@cache
def agent_reason(ua: str | None) -> str | None:
    """`library`, `crawler` or None for one user agent (no agent, or `-`, is never a bot)."""
    if not ua or ua == "-":
        return None
    if any(p.search(ua) for p in library_patterns()):
        return "library"
    if any(p.search(ua) for p in bot_patterns()):
        return "crawler"
    from device_detector.parser.device.bot import Bot
    from device_detector.utils import clean_ua

    text = ua[:1000]
    return "crawler" if Bot(clean_ua(text, text.lower()), None).parse().is_bot() else None


@cache
def spam_list() -> frozenset[str]:
    text = (importlib.resources.files("rings_cli.enrich") / "data" / "referrer-spam.txt").read_text("utf-8")
    return frozenset(x.strip().lower() for x in text.splitlines() if x.strip() and not x.startswith("#"))


def is_spam(referrer: str | None) -> bool:
    """The referrer's host, or a parent domain of it, is on the referrer-spam list."""
    if not referrer or "://" not in referrer:
        return False
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return False
    if not host:
        return False
    labels = host.rstrip(".").split(".")
    return any(".".join(labels[i:]) in spam_list() for i in range(len(labels) - 1))


@cache
def release(ua: str) -> tuple[int, int] | None:
    """(year, month) of the first release of the agent's browser major (None: not dated)."""
    from ua_parser import parse

    from rings_cli.enrich.stale import DEAD, EMBEDDED, RELEASES

    if EMBEDDED.search(ua):
        return None
    agent = parse(ua).user_agent
    if agent is None:
        return None
    if agent.family in DEAD:
        year, month = DEAD[agent.family].split("-")
        return int(year), int(month)
    if agent.family not in RELEASES or not (agent.major or "").isdigit():
        return None
    major = int(agent.major or "")
    for segment in RELEASES[agent.family]:
        for (m0, d0), (m1, d1) in pairwise([*segment, segment[-1]]):
            y0, n0 = (int(x) for x in d0.split("-"))
            if major == m0:
                return y0, n0
            if m0 < major < m1:
                y1, n1 = (int(x) for x in d1.split("-"))
                first, last = y0 * 12 + n0 - 1, y1 * 12 + n1 - 1
                months = first + -(-(last - first) * (major - m0) // (m1 - m0))  # rounded up
                return months // 12, months % 12 + 1
    return None


def bot_reason(ua: str | None, referrer: str | None = None, when: datetime | None = None) -> str | None:
    """Why a line is a bot (crawler, library, referrer spam, outdated browser), None for a person."""
    reason = agent_reason(ua)
    if reason is not None:
        return reason
    if is_spam(referrer):
        return "referrer spam"
    made = release(ua) if ua and ua != "-" and when is not None else None
    months = (when.year * 12 + when.month) - (made[0] * 12 + made[1]) if when and made else 0
    if months > 60:
        return "outdated browser"
    return None


def is_bot(ua: str | None, referrer: str | None = None, when: datetime | None = None) -> bool:
    return bot_reason(ua, referrer, when) is not None


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
    ref: str | None = None
    if m := VCOMBINED_RE.match(line):
        vhost, ip, _, _, ts, req, status, size, ref, ua = m.groups()
    elif m := COMBINED_RE.match(line):
        ip, _, _, ts, req, status, size, ref, ua = m.groups()
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
        referrer=None if ref is None else unescape(ref),
    )


def tenant_for(vhost: str | None, tenant: str | None, hosts: dict[str, str] | None = None) -> str | None:
    """The tenant name for a line, or None when it is not a valid name.

    ``tenant`` (``--tenant``) is written like a host (``www.Site.example``) and read as one;
    ``hosts`` are exact ``[tenants]`` entries of rings.toml (host -> tenant).
    """
    if tenant is not None:
        name = site_host(tenant.strip())
    elif vhost is not None:
        name = re.sub(r":[0-9]+$", "", vhost.lower())
        if name.startswith("www."):
            name = name[len("www.") :]
        name = (hosts or {}).get(name, name)
    else:
        name = "default"
    return name if TENANT_RE.match(name) else None


FEED_SEGMENTS = {"feed", "rss", "atom"}
FEED_SUFFIXES = (".xml", ".rss", ".atom")
# The documented default exclude list (README, Definitions), written out plainly.
EXCLUDED_EXACT = {"/wp-login.php", "/xmlrpc.php"}
EXCLUDED_FIRST_SEGMENTS = {".git", "wp-admin", "phpmyadmin", "administrator", "admin", "login", "wp-json"}
EXCLUDED_SUFFIXES = (".json",)
PAGE_PARAMS = ("p", "page_id")  # the default page_params, in order of their names


def is_feed(path: str) -> bool:
    lower = path.lower()
    trimmed = lower[:-1] if lower.endswith("/") else lower
    return trimmed.rsplit("/", 1)[-1] in FEED_SEGMENTS or lower.endswith(FEED_SUFFIXES)


def is_excluded(path: str) -> bool:
    lower = path.lower()
    if lower in EXCLUDED_EXACT or lower.startswith("/.env") or lower.endswith(EXCLUDED_SUFFIXES):
        return True
    return lower.startswith("/") and lower[1:].split("/", 1)[0] in EXCLUDED_FIRST_SEGMENTS


def is_page(path: str) -> bool:
    """True when the last path segment has no extension or a page extension, and the path is
    neither a feed nor a login, admin or scanner endpoint."""
    if is_feed(path) or is_excluded(path):
        return False
    last = path.rsplit("/", 1)[-1]
    m = EXTENSION_RE.search(last)
    return m is None or m.group(0).lower() in PAGE_EXTENSIONS


def page_path(request: str) -> tuple[str, str, str] | None:
    """(method, path without query, page path) for a well-formed request field, else None. The
    page path is the path with the PAGE_PARAMS the query has (each one's first value, if any)."""
    m = REQUEST_RE.match(request)
    if not m:
        return None
    path, _, query = m.group(2).partition("?")
    query = query.split("#", 1)[0]
    kept = []
    for name in PAGE_PARAMS:
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            if key == name and eq and value:
                kept.append(f"{name}={value}")
                break
    return m.group(1), path, path + ("?" + "&".join(kept) if kept else "")


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
        bot = is_bot(parsed.ua, parsed.referrer, parsed.when)
        if bot:
            counts.bot_requests += 1
        req = page_path(parsed.request)
        status = int(parsed.status)
        if bot or req is None or req[0] != "GET" or not (200 <= status <= 299 or status == 304):
            continue
        if not is_page(req[1]):
            continue
        path = req[2]
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


# --- Sessions -----------------------------------------------------------------------------------------
#
# A session is one visitor's page views in one tenant-day (visitor = (ip, user agent); the oracle
# does not hash), ordered by (timestamp, path, source) with a missing source sorting as "", split
# where the gap between consecutive page views exceeds SESSION_GAP seconds (a gap of exactly
# SESSION_GAP does not split).

SESSION_GAP = 30 * 60
POST_RE = re.compile(r"^/(posts|blog)/(?P<post_id>[^/]+)/?$")
# Any absolute URL with a host counts (http, https, android-app, ...), as Plausible does.
ABSOLUTE_HTTP_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)")


@dataclass
class PageSessions:
    """Session numbers of one page path: entries, exits and time on page (seconds)."""

    entries: int = 0
    exits: int = 0
    time_total: int = 0
    time_count: int = 0


@dataclass
class HourSessions:
    """Session numbers of one UTC hour: sessions (and bounces) by the hour of their first page view,
    time on page by the hour of the page view that has it."""

    sessions: int = 0
    bounces: int = 0
    time_total: int = 0
    time_count: int = 0


@dataclass
class PostCounts:
    """One post (a page matching POST_RE): views, distinct visitors, read time (= time on page)."""

    views: int = 0
    unique_views: int = 0
    read_time_total: int = 0
    read_time_count: int = 0


@dataclass
class SessionCounts:
    """Session numbers of one (tenant, UTC day), as returned by ``reference_sessions()``."""

    sessions: int = 0
    bounces: int = 0
    duration_total: int = 0  # sum over sessions of last minus first page view time, seconds
    pages: dict[str, PageSessions] = field(default_factory=dict)  # every path with a page view
    hours: dict[int, HourSessions] = field(default_factory=dict)  # every hour with a page view
    referrers: dict[str, int] = field(default_factory=dict)  # source (or "direct") -> sessions
    campaigns: dict[tuple[str, str, str], int] = field(default_factory=dict)  # utm triple -> sessions
    content: dict[str, PostCounts] = field(default_factory=dict)  # post_id -> counts


@dataclass
class PageView:
    """One page view, with what sessions need."""

    when: int  # UTC epoch seconds
    hour: int  # UTC hour
    path: str
    source: str | None  # referrer source, None when there is none
    campaign: tuple[str, str, str] | None  # (utm_source, utm_medium or "", utm_campaign or "")


def request_target(request: str) -> str | None:
    """The raw request target (path and query) of a well-formed request field, else None."""
    m = REQUEST_RE.match(request)
    return m.group(2) if m else None


def query_param(target: str, name: str) -> str | None:
    """The raw value of the first ``name=`` parameter in target's query string (no decoding), or None."""
    if "?" not in target:
        return None
    for pair in target.split("?", 1)[1].split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def site_host(host: str) -> str:
    """A host lower-cased, without user info, ``:port`` and a leading ``www.``."""
    host = host.rsplit("@", 1)[-1].lower()
    host = re.sub(r":[0-9]*$", "", host)
    return host[len("www.") :] if host.startswith("www.") else host


def is_address(host: str) -> bool:
    """An IPv4 or (bracketed) IPv6 literal: never a source (stored as ``(ip address)``)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def own_hosts(vhost: str | None, tenant_name: str, hosts: dict[str, str] | None = None) -> set[str]:
    """The tenant's own hosts for a line: its virtual host (normalised), the tenant name (``--tenant``
    names the site), and every host that ``[tenants]`` gives to that tenant."""
    own = {tenant_name} | {host for host, name in (hosts or {}).items() if name == tenant_name}
    if vhost is not None:
        own.add(site_host(vhost))
    return own


def referrer_source(target: str, referrer: str | None, own: set[str]) -> str | None:
    """utm_source, else ref (raw, non-empty), else an external absolute referrer's host, else None."""
    for name in ("utm_source", "ref"):
        value = query_param(target, name)
        if value:
            return value
    if referrer is not None and (m := ABSOLUTE_HTTP_RE.match(referrer)):
        host = site_host(m.group(1))
        if host and host not in own:
            return "(ip address)" if is_address(host) else host
    return None


def campaign_of(target: str) -> tuple[str, str, str] | None:
    """(utm_source, utm_medium or "", utm_campaign or "") when utm_source is present and non-empty."""
    source = query_param(target, "utm_source")
    if not source:
        return None
    return (source, query_param(target, "utm_medium") or "", query_param(target, "utm_campaign") or "")


def split_sessions(views: list[PageView]) -> list[list[PageView]]:
    """A visitor's page views (already ordered) split where the gap exceeds SESSION_GAP."""
    sessions: list[list[PageView]] = []
    for view in views:
        if sessions and view.when - sessions[-1][-1].when <= SESSION_GAP:
            sessions[-1].append(view)
        else:
            sessions.append([view])
    return sessions


def count_session(counts: SessionCounts, session: list[PageView]) -> None:
    """Add one session's numbers to its tenant-day."""
    first, last = session[0], session[-1]
    counts.sessions += 1
    counts.hours[first.hour].sessions += 1
    if len(session) == 1:
        counts.bounces += 1
        counts.hours[first.hour].bounces += 1
    counts.duration_total += last.when - first.when
    counts.pages[first.path].entries += 1
    counts.pages[last.path].exits += 1
    source = first.source or "direct"
    counts.referrers[source] = counts.referrers.get(source, 0) + 1
    if first.campaign is not None:
        counts.campaigns[first.campaign] = counts.campaigns.get(first.campaign, 0) + 1
    for view, following in pairwise(session):
        gap = following.when - view.when  # time on page, counted on the page viewed first
        counts.pages[view.path].time_total += gap
        counts.pages[view.path].time_count += 1
        counts.hours[view.hour].time_total += gap
        counts.hours[view.hour].time_count += 1
        if post := POST_RE.match(view.path):
            post_counts = counts.content[post.group("post_id")]
            post_counts.read_time_total += gap
            post_counts.read_time_count += 1


def reference_sessions(
    lines: Iterable[str], tenant: str | None = None, hosts: dict[str, str] | None = None
) -> dict[tuple[str, str], SessionCounts]:
    """Session numbers per (tenant, UTC day) of ``lines``, per the Rings rules (``hosts``: exact
    ``[tenants]`` entries, normalised host -> tenant).

    Has a key for every tenant-day that ``reference()`` has (zeros when it has no page view).
    """
    result: dict[tuple[str, str], SessionCounts] = {}
    views: dict[tuple[str, str], dict[tuple[str, str], list[PageView]]] = {}
    for raw in lines:
        line = raw.removesuffix("\n").removesuffix("\r")
        parsed = parse_line(line) if line else None
        name = tenant_for(parsed.vhost, tenant, hosts) if parsed else None
        if parsed is None or name is None:
            continue
        key = (name, parsed.when.strftime("%Y-%m-%d"))
        result.setdefault(key, SessionCounts())
        req = page_path(parsed.request)
        target = request_target(parsed.request)
        status = int(parsed.status)
        bot = is_bot(parsed.ua, parsed.referrer, parsed.when)
        if bot or req is None or target is None or req[0] != "GET":
            continue
        if not (200 <= status <= 299 or status == 304) or not is_page(req[1]):
            continue
        view = PageView(
            when=int(parsed.when.timestamp()),
            hour=parsed.when.hour,
            path=req[2],
            source=referrer_source(target, parsed.referrer, own_hosts(parsed.vhost, name, hosts)),
            campaign=campaign_of(target),
        )
        visitor = (parsed.ip, parsed.ua or "")
        views.setdefault(key, {}).setdefault(visitor, []).append(view)

    for key, by_visitor in views.items():
        counts = result[key]
        post_visitors: dict[str, set[tuple[str, str]]] = {}
        for visitor, visitor_views in by_visitor.items():
            visitor_views.sort(key=lambda v: (v.when, v.path, v.source or ""))
            for view in visitor_views:
                counts.pages.setdefault(view.path, PageSessions())
                counts.hours.setdefault(view.hour, HourSessions())
                if post := POST_RE.match(view.path):
                    post_id = post.group("post_id")
                    counts.content.setdefault(post_id, PostCounts()).views += 1
                    post_visitors.setdefault(post_id, set()).add(visitor)
            for session in split_sessions(visitor_views):
                count_session(counts, session)
        for post_id, visitors in post_visitors.items():
            counts.content[post_id].unique_views = len(visitors)
    return result


def sessions_to_json(counts: SessionCounts) -> dict[str, Any]:
    """A JSON-friendly view of one tenant-day's SessionCounts (pages by views order is not known
    here: sorted by entries, then path)."""
    return {
        "sessions": counts.sessions,
        "bounces": counts.bounces,
        "duration_total": counts.duration_total,
        "referrers": dict(sorted(counts.referrers.items(), key=lambda kv: (-kv[1], kv[0]))),
        "campaigns": [
            {"utm_source": s, "utm_medium": m, "utm_campaign": c, "visits": n}
            for (s, m, c), n in sorted(counts.campaigns.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "pages": {
            p: vars(v) for p, v in sorted(counts.pages.items(), key=lambda kv: (-kv[1].entries, kv[0]))
        },
        "hours": {str(h): vars(v) for h, v in sorted(counts.hours.items())},
        "content": {
            post_id: vars(v)
            for post_id, v in sorted(counts.content.items(), key=lambda kv: (-kv[1].views, kv[0]))
        },
    }


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
    p.add_argument("--summary", action="store_true", help="omit hours, pages, campaigns and content")
    a = p.parse_args(argv)
    out = to_json(reference(read_lines(a.file), a.tenant))
    sessions = reference_sessions(read_lines(a.file), a.tenant)
    for d in out["days"]:
        d["sessions"] = sessions_to_json(sessions[(d["tenant"], d["day"])])
    if a.summary:
        for d in out["days"]:
            del d["hours"], d["pages"]
            for detail in ("campaigns", "pages", "hours", "content"):
                del d["sessions"][detail]
    json.dump(out, sys.stdout, indent=2, ensure_ascii=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
