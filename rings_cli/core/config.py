"""`rings.toml`: host → tenant mappings, the post route, route rules, and where the client IP is.

Read from `--config PATH`, else `rings.toml` in the state dir (optional). Everything is checked
when the file is loaded, before any data moves: a typo is one `Error:` line and exit 2, never a
run that silently ignores a rule. Regexes must compile both in Python and in Polars (Rust regex:
no look-around, no back-references).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import ipaddress
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rings_cli.core.defaults import EVENT_TYPES
from rings_cli.core.errors import UsageError
from rings_cli.core.goals import EVENT_NAME, Funnel, Goal, parse_funnels, parse_goals
from rings_cli.core.state import TENANT_PATTERN, StateDir, WarehouseSetting

# Login, admin and scanner endpoints: requests, never page views (rings.toml `exclude_paths`
# replaces this list; README, Definitions). Case-insensitive.
DEFAULT_EXCLUDE_PATHS = (
    r"^/wp-login\.php$",
    r"^/xmlrpc\.php$",
    r"^/\.env",
    r"^/(?:\.git|wp-admin|phpmyadmin|administrator|admin|login)(?:/|$)",
    r"^/wp-json(?:/|$)",  # WordPress's REST API (oEmbed and the like): no page
    r"\.json$",
)
# The query parameters a page path keeps (rings.toml `page_params` replaces this list): WordPress's
# plain permalinks, /?p=123 and /?page_id=7. No other parameter of a request is ever stored.
DEFAULT_PAGE_PARAMS = ("p", "page_id")
MAX_PAGE_PARAMS = 16
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}")  # what PHP and the others take as a name

CONFIG_NAME = "rings.toml"
DEFAULT_POST_ROUTE = r"^/(posts|blog)/(?P<post_id>[^/]+)/?$"
SUBDOMAIN = "{subdomain}"
CLIENT_IP_SOURCES = ("remote", "x-forwarded-for")
RULE_EVENTS = tuple(e for e in EVENT_TYPES if e not in ("page_view", "page_exit", "post_view"))
_TOP_KEYS = {
    "post_route",
    "default_rules",
    "client_ip",
    "trusted_proxies",
    "tenants",
    "rules",
    "oldest_date",
    "exclude_paths",
    "group_readable",
    "keep_days",
    "timezone",
    "timezones",
    "breakdowns",
    "files",
    "referrer_spam",
    "outdated_browsers",
    "page_params",
    "warehouse",
    "shard",
    "goals",
    "funnels",
}
WAREHOUSE_KINDS = ("duckdb", "postgres")
# Lines dated before this are rejected as `too old` (no web server logged before 1990); a 1900 or
# 0001 timestamp is a broken clock or a forged field, and would otherwise become a day of its own.
DEFAULT_OLDEST_DATE = dt.date(1990, 1, 1)
_RULE_KEYS = {"event", "method", "path"}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ZoneSpan:
    """A tenant's time zone from `since` on (None: from the start)."""

    zone: str
    since: dt.date | None = None


@dataclass(frozen=True)
class TimezoneEntry:
    """One `[timezones]` entry: a tenant name, host or host pattern, and its zone(s) by date."""

    key: str  # normalised like a host (`*.grove.place`, `ny.example`, `alice`)
    spans: tuple[ZoneSpan, ...]  # sorted by `since`, a `since = None` span first


@dataclass(frozen=True)
class Rule:
    """Requests with one of `methods` (None: any) whose path matches `path` are `event`s.

    A named group `post_id` in `path` says which post the event concerns.
    """

    event: str
    path: str
    methods: tuple[str, ...] | None = None

    @property
    def post_id_group(self) -> int | None:
        """Index of the `post_id` group for Polars' `str.extract` (1-based), if any."""
        index = re.compile(self.path).groupindex.get("post_id")
        return index


# Sensible defaults for common blog/app routes (README, "Route rules and events"). Only requests
# with a status below 400 count: a 403 on POST /comment is not a comment.
_POST = r"^/(?:api/)?posts?/(?P<post_id>[^/]+)/"
DEFAULT_RULES = (
    Rule("reaction", _POST + r"(?:reactions?|likes?|kudos)/?$", ("POST", "PUT")),
    Rule("comment", _POST + r"comments?/?$", ("POST",)),
    Rule("comment", r"^/(?:api/)?comments?/?$", ("POST",)),
    Rule("share", _POST + r"shares?/?$", ("POST",)),
    Rule("post_read_complete", _POST + r"(?:read|read-complete|read_complete)/?$", ("POST", "GET")),
    Rule("search", r"^/search/?$", ("GET",)),
    Rule("signup", r"^/(?:api/)?(?:auth/)?(?:signup|sign-up|register)/?$", ("POST",)),
    Rule("login", r"^/(?:api/)?(?:auth/)?(?:login|log-in|signin|sign-in)/?$", ("POST",)),
)


@dataclass(frozen=True)
class HostPattern:
    """`*.grove.place` → a regex capturing the one label `*` stands for, and the tenant template."""

    pattern: str
    regex: str
    tenant: str  # may contain {subdomain}


@dataclass(frozen=True)
class Shard:
    """`shard = "K/N"`: this ingest host owns the tenants whose stable hash falls in shard K of N
    (1 <= K <= N); every host of a fleet has the same N (enrich/tenants.py: shard_of)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(value: object, where: str = "shard") -> Shard:
    """`"2/4"` → Shard(2, 4); anything else is a usage error naming `where`."""
    match = re.fullmatch(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*", value) if isinstance(value, str) else None
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(f'{where} must be "K/N" with 1 <= K <= N (e.g. "2/4"), not {value!r}')
    return Shard(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class Config:
    """The validated configuration; `Config()` is the default (no file)."""

    path: Path | None = None
    hosts: dict[str, str] = field(default_factory=dict)
    host_patterns: tuple[HostPattern, ...] = ()
    post_route: str = DEFAULT_POST_ROUTE
    rules: tuple[Rule, ...] = DEFAULT_RULES
    client_ip: str = "remote"
    trusted_proxies: tuple[Network, ...] = ()
    oldest_date: dt.date = DEFAULT_OLDEST_DATE
    exclude_paths: tuple[str, ...] = DEFAULT_EXCLUDE_PATHS  # regexes: never page views
    page_params: tuple[str, ...] = DEFAULT_PAGE_PARAMS  # query parameters a page path keeps, sorted
    group_readable: bool = False  # state dir 0750/0640 instead of 0700/0600, for a reporting group
    keep_days: int | None = None  # retention for every tenant (None: keep forever)
    keep_days_by_tenant: dict[str, int] = field(default_factory=dict)  # `[keep_days]` "alice" = 30
    timezone: str = "UTC"  # the default zone of a tenant-day (zones.py)
    timezones: tuple[TimezoneEntry, ...] = ()  # `[timezones]`, in file order
    breakdowns: bool = True  # browsers, OS, devices, countries counted (false: skipped entirely)
    files: tuple[tuple[str, str], ...] = ()  # `[files]`: (path glob, tenant), in file order
    referrer_spam: bool = True  # the shipped referrer-spam list makes bots (enrich/spam.py)
    spam_domains: tuple[str, ...] = ()  # `referrer_spam = [...]`: domains added to that list
    outdated_browsers: bool = True  # a browser over 5 years older than the line is a bot (enrich/stale.py)
    warehouse: WarehouseSetting = field(default_factory=WarehouseSetting)  # `[warehouse]`
    shard: Shard | None = None  # `shard = "2/4"`: the tenants this ingest host owns (None: all)
    goals: tuple[Goal, ...] = ()  # `[goals]` (core/goals.py)
    funnels: tuple[Funnel, ...] = ()  # `[funnels]`

    def file_tenant(self, path: str) -> str | None:
        """The tenant `[files]` gives a log file by its path (the first glob that matches), if any.
        A glob matches the path as given or as an absolute path."""
        absolute = os.path.abspath(path)
        for pattern, tenant in self.files:
            if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(absolute, pattern):
                return tenant
        return None

    def keep_days_for(self, tenant: str) -> int | None:
        """How many days back a tenant's data is kept (its own value, else the global one)."""
        return self.keep_days_by_tenant.get(tenant, self.keep_days)

    @property
    def post_id_group(self) -> int:
        return re.compile(self.post_route).groupindex["post_id"]


def load_config(path: Path | str | None, state: StateDir | None = None) -> Config:
    """`--config PATH` (must exist), else `rings.toml` in the state dir if there is one."""
    if path is None:
        if state is None or not (state.root / CONFIG_NAME).is_file():
            return Config()
        path = state.root / CONFIG_NAME
    path = Path(path)
    try:
        stamp: tuple[str, bytes] | None = (str(path.resolve()), path.read_bytes())
    except OSError:
        stamp = None
    if stamp is not None and stamp in _LOADED:
        return _LOADED[stamp]  # this very text, read and checked already (a report asks twice)
    config = _load(path)
    if stamp is not None:
        _LOADED[stamp] = config
    return config


_LOADED: dict[tuple[str, bytes], Config] = {}


def _load(path: Path) -> Config:
    import tomllib  # only when there is a file: `rings report` of a state dir without one skips it

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such config file: {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read config {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML: {e}") from None
    try:
        return parse_config(data, path)
    except UsageError as e:
        raise UsageError(f"{path}: {e}") from None


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Validate a decoded `rings.toml`."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UsageError(f"unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    post_route = _string(data, "post_route", DEFAULT_POST_ROUTE)
    if post_route != DEFAULT_POST_ROUTE:  # the default is known good (and Polars stays unimported)
        check_regex(post_route, "post_route")
    if "post_id" not in re.compile(post_route).groupindex:
        raise UsageError("post_route needs a named group (?P<post_id>...)")
    default_rules = data.get("default_rules", True)
    if not isinstance(default_rules, bool):
        raise UsageError("default_rules must be true or false")
    rules = tuple(_rule(r, i) for i, r in enumerate(_list(data, "rules"), 1))
    client_ip = _string(data, "client_ip", "remote").lower()
    if client_ip not in CLIENT_IP_SOURCES:
        raise UsageError(f"client_ip must be one of {', '.join(CLIENT_IP_SOURCES)}, not {client_ip!r}")
    proxies = tuple(_network(p) for p in _list(data, "trusted_proxies"))
    hosts, patterns = _tenants(data.get("tenants", {}))
    oldest = data.get("oldest_date", DEFAULT_OLDEST_DATE)
    if isinstance(oldest, str):
        try:
            oldest = dt.date.fromisoformat(oldest)
        except ValueError:
            oldest = None
    if not isinstance(oldest, dt.date) or isinstance(oldest, dt.datetime):
        raise UsageError("oldest_date must be a date, e.g. oldest_date = 2005-01-01")
    exclude = data.get("exclude_paths", list(DEFAULT_EXCLUDE_PATHS))
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p for p in exclude):
        raise UsageError("exclude_paths must be a list of path regexes (an empty list excludes nothing)")
    for i, pattern in enumerate(exclude if "exclude_paths" in data else [], 1):  # defaults: known good
        check_regex(pattern, f"exclude_paths[{i}]")
    page_params = _page_params(data.get("page_params", list(DEFAULT_PAGE_PARAMS)))
    group_readable = data.get("group_readable", False)
    if not isinstance(group_readable, bool):
        raise UsageError("group_readable must be true or false")
    keep_days, keep_by_tenant = _keep_days(data.get("keep_days"))
    timezone = check_zone(_string(data, "timezone", "UTC"), "timezone")
    timezones = _timezones(data.get("timezones", {}))
    files = _files(data.get("files", {}))
    breakdowns = data.get("breakdowns", True)
    if not isinstance(breakdowns, bool):
        raise UsageError("breakdowns must be true or false")
    referrer_spam, spam_domains = _referrer_spam(data.get("referrer_spam", True))
    outdated = data.get("outdated_browsers", True)
    if not isinstance(outdated, bool):
        raise UsageError("outdated_browsers must be true or false")
    shard = parse_shard(data["shard"]) if "shard" in data else None
    all_rules = rules + (DEFAULT_RULES if default_rules else ())
    goals = parse_goals(data.get("goals", {}), {*RULE_EVENTS, *(r.event for r in all_rules)})
    funnels = parse_funnels(data.get("funnels", {}), goals)
    return Config(
        path=path,
        hosts=hosts,
        host_patterns=patterns,
        post_route=post_route,
        rules=all_rules,
        client_ip=client_ip,
        trusted_proxies=proxies,
        oldest_date=oldest,
        exclude_paths=tuple(exclude),
        page_params=page_params,
        group_readable=group_readable,
        keep_days=keep_days,
        keep_days_by_tenant=keep_by_tenant,
        timezone=timezone,
        timezones=timezones,
        breakdowns=breakdowns,
        files=files,
        referrer_spam=referrer_spam,
        spam_domains=spam_domains,
        outdated_browsers=outdated,
        warehouse=_warehouse(data.get("warehouse", {}), shard),
        shard=shard,
        goals=goals,
        funnels=funnels,
    )


def _page_params(raw: object) -> tuple[str, ...]:
    """`page_params = ["option", "id"]`: the query parameters a page path keeps (an allow-list; `[]`
    keeps none), as written (names are case-sensitive), sorted, each once."""
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise UsageError('page_params must be a list of query parameter names (["p", "page_id"])')
    if len(raw) > MAX_PAGE_PARAMS:
        raise UsageError(f"page_params: at most {MAX_PAGE_PARAMS} names, not {len(raw)}")
    for name in raw:
        if not _PARAM_NAME.fullmatch(name):
            raise UsageError(
                f"page_params: {name[:40]!r} is not a query parameter name (letters, digits, _ . - [ ])"
            )
    return tuple(sorted(set(raw)))


def _files(table: object) -> tuple[tuple[str, str], ...]:
    """`[files]`: "path glob" = "tenant", one site per log file (nginx's default format names no
    host). A glob should cover the rotated names too ("/var/log/nginx/shop.*")."""
    if not isinstance(table, dict):
        raise UsageError('[files] must be a table of "path glob" = "tenant"')
    out = []
    for pattern, tenant in table.items():
        if not isinstance(tenant, str) or not re.match(TENANT_PATTERN, normalize_host(tenant)):
            raise UsageError(
                f"[files] {pattern!r} = {tenant!r}: not a valid tenant name ([a-z0-9][a-z0-9._-]{{0,62}})"
            )
        if not pattern:
            raise UsageError("[files]: an empty path glob")
        out.append((pattern, normalize_host(tenant)))
    return tuple(out)


# A domain of `referrer_spam = [...]`: labels of letters, digits and hyphens, at least two.
_DOMAIN = r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$"


def _referrer_spam(raw: object) -> tuple[bool, tuple[str, ...]]:
    """`referrer_spam = true` (the shipped list), `false` (none), or a list of domains added to the
    shipped list (each matches itself and its subdomains)."""
    if isinstance(raw, bool):
        return raw, ()
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise UsageError('referrer_spam must be true, false or a list of domains (["spam.example"])')
    domains = []
    for value in raw:
        domain = value.strip().lower().rstrip(".")
        if not re.match(_DOMAIN, domain):
            raise UsageError(f"referrer_spam: {value!r} is not a domain name (like spam.example)")
        domains.append(domain)
    return True, tuple(domains)


def _warehouse(table: object, shard: Shard | None = None) -> WarehouseSetting:
    """`[warehouse]`: kind = "duckdb" (the state dir's file, the default) or "postgres" with a
    `dsn` (libpq's connection string or URI), checked here, before any data moves."""
    if not isinstance(table, dict):
        raise UsageError('[warehouse] must be a table: kind = "postgres", dsn = "..."')
    unknown = set(table) - {"kind", "dsn"}
    if unknown:
        raise UsageError(f"[warehouse]: unknown key {sorted(unknown)[0]!r} (known: dsn, kind)")
    kind = table.get("kind", "duckdb")
    if kind not in WAREHOUSE_KINDS:
        raise UsageError(f"[warehouse] kind must be one of {', '.join(WAREHOUSE_KINDS)}, not {kind!r}")
    dsn = table.get("dsn", "")
    if not isinstance(dsn, str):
        raise UsageError("[warehouse] dsn must be a string")
    if kind == "duckdb":
        if dsn:
            raise UsageError(
                '[warehouse] dsn is for kind = "postgres" (the DuckDB warehouse is a file of the state dir)'
            )
        return WarehouseSetting()
    if not dsn.strip():
        raise UsageError(
            '[warehouse] kind = "postgres" needs a dsn, e.g. dsn = "dbname=rings host=/run/postgresql"'
        )
    _check_dsn(dsn)
    return WarehouseSetting(kind, dsn, str(shard) if shard is not None else "")


def _check_dsn(dsn: str) -> None:
    """libpq's own parse of the connection string (psycopg), without connecting."""
    try:
        from psycopg import conninfo
    except ImportError:  # pragma: no cover - psycopg is a dependency
        raise UsageError(
            '[warehouse] kind = "postgres" needs psycopg: pip install "psycopg[binary]"'
        ) from None
    try:
        conninfo.conninfo_to_dict(dsn)
    except Exception as e:  # psycopg.ProgrammingError: libpq's words
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"[warehouse] dsn: {first}") from None


def check_zone(name: object, where: str) -> str:
    """An IANA zone name that zoneinfo (with the tzdata package) knows, e.g. America/New_York."""
    if isinstance(name, str) and name and not name.startswith(("/", ".")) and ".." not in name:
        try:
            zoneinfo.ZoneInfo(name)
            return name
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise UsageError(f'{where}: {name!r} is not an IANA time zone name (e.g. "America/New_York")')


def _timezones(table: object) -> tuple[TimezoneEntry, ...]:
    """`[timezones]`: "tenant or host" = "Zone/Name", or {zone = "...", since = YYYY-MM-DD}, or a
    list of those (the zone applies from `since` on; days before keep the zone they had)."""
    if not isinstance(table, dict):
        raise UsageError('[timezones] must be a table of "tenant or host" = "Zone/Name"')
    entries = []
    for name, value in table.items():
        where = f"[timezones] {name!r}"
        key = normalize_host(name)
        if "*" in key and (not key.startswith("*.") or "*" in key[2:]):
            raise UsageError(f"{where}: '*' may only stand for the first label ('*.example.com')")
        if not key:
            raise UsageError(f"{where}: empty tenant or host")
        values = value if isinstance(value, list) else [value]
        spans = sorted((_zone_span(v, where) for v in values), key=lambda s: s.since or dt.date.min)
        if not spans:
            raise UsageError(f"{where}: needs a zone")
        starts = [s.since for s in spans]
        if len(set(starts)) != len(starts):
            raise UsageError(f"{where}: two zones start on the same date")
        entries.append(TimezoneEntry(key, tuple(spans)))
    return tuple(entries)


def _zone_span(value: object, where: str) -> ZoneSpan:
    if isinstance(value, str):
        return ZoneSpan(check_zone(value, where))
    if not isinstance(value, dict) or set(value) - {"zone", "since"} or "zone" not in value:
        raise UsageError(f'{where}: must be "Zone/Name" or {{zone = "Zone/Name", since = YYYY-MM-DD}}')
    since = value.get("since")
    if isinstance(since, str):
        with contextlib.suppress(ValueError):  # still a string when not a date: refused below
            since = dt.date.fromisoformat(since)
    if since is not None and (not isinstance(since, dt.date) or isinstance(since, dt.datetime)):
        raise UsageError(f"{where}: since must be a date, e.g. since = 2026-01-01")
    return ZoneSpan(check_zone(value["zone"], where), since)


MAX_KEEP_DAYS = 36500  # 100 years: counted back from today, a longer one would be no date at all


def _keep_days(raw: object) -> tuple[int | None, dict[str, int]]:
    """`keep_days = 90` (every tenant), or a `[keep_days]` table: `"alice" = 30`, and `"*" = 90`
    for the others (TOML cannot have both a number and a table under one key)."""
    if raw is None:
        return None, {}
    table = raw if isinstance(raw, dict) else {"*": raw}
    by_tenant: dict[str, int] = {}
    for name, days in table.items():
        where = "keep_days" if not isinstance(raw, dict) else f"[keep_days] {name!r}"
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_KEEP_DAYS:
            raise UsageError(
                f"{where} must be a whole number of days from 1 to {MAX_KEEP_DAYS} (100 years), not {days!r}"
            )
        if name != "*" and not re.match(TENANT_PATTERN, name):
            raise UsageError(f'{where}: not a valid tenant name ([a-z0-9][a-z0-9._-]{{0,62}}) or "*"')
        by_tenant[name] = days
    return by_tenant.pop("*", None), by_tenant


def check_regex(pattern: str, where: str) -> None:
    """Fail unless both Python and Polars accept `pattern`."""
    import polars as pl  # only where a config has regexes: `rings report` needs no Polars

    try:
        re.compile(pattern)
        pl.Series([""], dtype=pl.String).str.contains(pattern)
    except (re.error, pl.exceptions.PolarsError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"{where}: bad regex {pattern!r}: {first}") from None


def normalize_host(host: str) -> str:
    """Lower case, no port, no leading `www.`: the contract's host → tenant rule."""
    host = re.sub(r":\d*$", "", host.strip().lower())
    return host.removeprefix("www.")


def _tenants(table: object) -> tuple[dict[str, str], tuple[HostPattern, ...]]:
    if not isinstance(table, dict):
        raise UsageError('[tenants] must be a table of "host" = "tenant"')
    hosts: dict[str, str] = {}
    patterns: list[HostPattern] = []
    for host, tenant in table.items():
        if not isinstance(tenant, str):
            raise UsageError(f"[tenants] {host!r}: the tenant must be a string")
        sample = tenant.replace(SUBDOMAIN, "x")
        if not re.match(TENANT_PATTERN, sample):
            raise UsageError(
                f"[tenants] {host!r} = {tenant!r}: not a valid tenant name ([a-z0-9][a-z0-9._-]{{0,62}})"
            )
        key = normalize_host(host)
        if "*" in key:
            if not key.startswith("*.") or "*" in key[2:]:
                raise UsageError(
                    f"[tenants] {host!r}: '*' may only stand for the first label ('*.example.com')"
                )
            regex = r"^([^.]+)\." + re.escape(key[2:]) + "$"
            patterns.append(HostPattern(host, regex, tenant))
        elif SUBDOMAIN in tenant:
            raise UsageError(f"[tenants] {host!r}: {SUBDOMAIN} needs a pattern like '*.example.com'")
        else:
            hosts[key] = tenant
    return hosts, tuple(patterns)


def _rule(raw: object, index: int) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise UsageError(f"{where} must be a table ([[rules]] with event, method, path)")
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: event, method, path)")
    event = raw.get("event")
    if event not in RULE_EVENTS and not (isinstance(event, str) and EVENT_NAME.fullmatch(event)):
        raise UsageError(
            f"{where}: event must be one of {', '.join(RULE_EVENTS)} or a name of your own"
            f" (a-z, 0-9, _), not {event!r:.40}"
        )
    path = raw.get("path")
    if not isinstance(path, str) or not path:
        raise UsageError(f"{where}: path must be a regex string")
    check_regex(path, where)
    method = raw.get("method", "*")
    methods = [method] if isinstance(method, str) else method
    if not isinstance(methods, list) or not all(isinstance(m, str) and m for m in methods):
        raise UsageError(f"{where}: method must be a string or a list of strings")
    upper = tuple(m.upper() for m in methods)
    return Rule(event, path, None if "*" in upper else upper)


def _network(raw: object) -> Network:
    try:
        return ipaddress.ip_network(str(raw), strict=False)
    except ValueError:
        raise UsageError(f"trusted_proxies: {raw!r} is not an IP address or network") from None


def _string(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise UsageError(f"{key} must be a string")
    return value


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise UsageError(f"{key} must be a list")
    return value
