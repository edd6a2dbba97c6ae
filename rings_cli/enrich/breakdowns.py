"""Breakdowns: what visitors use and where they come from, derived in memory from raw values.

Browser family and major version, OS family and device type come from the user agent
(`ua-parser`, its native `ua-parser-rs` resolver and the `ua-parser-builtins` rules); the country
(ISO 3166-1 alpha-2) comes from the client address (`iptocc`: the Regional Internet Registries'
allocations, embedded in the wheel, no network). Both run on the DISTINCT values of a batch and
join back, so a batch of a million lines parses only its few thousand agents and addresses. Only
the derived category leaves this module's frames: the user agent and address go on to the keyed
visitor hash and are dropped (aggregate.py), never written.

Not-found paths and page paths are attacker-chosen: `bound_keys` caps the distinct rows a
tenant-day keeps (ROW_LIMIT), counting the rest under OTHER.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cache
from typing import Any, NamedTuple

import polars as pl

from rings_cli.core.tables import BREAKDOWN_KEYS

UNKNOWN = "unknown"  # no browser / OS / country could be derived (private or documentation address)
OTHER = "(other)"  # the row that collects keys past ROW_LIMIT
ROW_LIMIT = 5000  # distinct paths kept per tenant-day in `pages` and `not_found`
_CACHE_SIZE = 50_000  # parsed agents kept across batches (follow mode sees the same ones again)

_DESKTOP_OS = {
    "Windows",
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Chrome OS",
    "Fedora",
    "Debian",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Red Hat",
    "SUSE",
    "Mint",
    "Arch Linux",
    "Gentoo",
    "Solaris",
    "Kubuntu",
}
_MOBILE_OS = {
    "iOS",
    "Android",
    "Windows Phone",
    "Windows Mobile",
    "BlackBerry OS",
    "KaiOS",
    "Firefox OS",
    "Tizen",
    "HarmonyOS",
    "Symbian OS",
    "webOS",
}


class Agent(NamedTuple):
    """What a user agent says: browser family, its major version ('' if none), OS, device type."""

    browser: str
    version: str
    os: str
    device: str


def device_type(ua: str, os_family: str) -> str:
    """desktop / mobile / tablet / other from the OS family and the agent's own words (bots are
    decided by classify.py's list, in `with_breakdowns`).

    ua-parser's device rules (hundreds of phone models) are not loaded: they would double its
    start-up time, and the type needs only these rules. Tablets: iPad, Kindle/Silk, `Tablet`, or
    Android without `Mobile` (Chrome's convention); phones: a mobile OS or `Mobi`; desktops: a
    desktop OS.
    """
    low = ua.lower()
    if (
        "ipad" in low
        or "kindle" in low
        or "silk/" in low
        or "tablet" in low
        or (os_family == "Android" and "mobile" not in low)
    ):
        return "tablet"
    if os_family in _MOBILE_OS or "mobi" in low:
        return "mobile"
    if os_family in _DESKTOP_OS or os_family.startswith("Windows"):
        return "desktop"
    return "other"


_parsed: OrderedDict[str, Agent] = OrderedDict()


@cache
def _parser() -> Any:
    """ua-parser with the native ua-parser-rs resolver, user agent and OS rules only (~0.2 s to
    build once per process). The lazy rules: the eager ones would also compile every pattern with
    Python's `re` (0.25 s), which the Rust resolver never uses."""
    from ua_parser import Parser, loaders, regex

    agents, systems, _devices = loaders.load_lazy_builtins()
    return Parser(regex.Resolver((agents, systems, [])))


def parse_agent(ua: str) -> Agent:
    """One user agent → Agent (ua-parser; 'Other' families become UNKNOWN). Cached, bounded."""
    hit = _parsed.get(ua)
    if hit is not None:
        _parsed.move_to_end(ua)
        return hit
    result = _parser().parse(ua)
    browser, version, os_family = UNKNOWN, "", UNKNOWN
    if result.user_agent is not None and result.user_agent.family != "Other":
        browser, version = result.user_agent.family, result.user_agent.major or ""
    if result.os is not None and result.os.family != "Other":
        os_family = result.os.family
    agent = Agent(browser, version, os_family, device_type(ua, os_family))
    _parsed[ua] = agent
    if len(_parsed) > _CACHE_SIZE:
        _parsed.popitem(last=False)
    return agent


def agents(ua: pl.Series) -> pl.DataFrame:
    """The distinct user agents of `ua` with their browser, version, os and device columns."""
    distinct = ua.fill_null("").unique()
    rows = [parse_agent(u) for u in distinct.to_list()]  # one parse per DISTINCT agent
    return pl.DataFrame(
        {"ua": distinct, **{f: [getattr(r, f) for r in rows] for f in Agent._fields}},
        schema={"ua": pl.String, **dict.fromkeys(Agent._fields, pl.String)},
    )


def country_codes(ip: pl.Series) -> pl.DataFrame:
    """The distinct addresses of `ip` with `country`: ISO code, or UNKNOWN (private, reserved,
    documentation, unallocated, not an address)."""
    from iptocc import country_code  # lazy, like ua_parser

    distinct = ip.fill_null("").unique()
    # An IPv4 address written as IPv6 (::ffff:a.b.c.d, from dual-stack sockets) is that IPv4 address.
    plain = distinct.str.replace(r"(?i)^::ffff:(\d+\.\d+\.\d+\.\d+)$", "$1").str.strip_chars("[]")
    codes = country_code(plain.to_list())
    return pl.DataFrame(
        {"ip": distinct, "country": [c if c else UNKNOWN for c in codes]},
        schema={"ip": pl.String, "country": pl.String},
    )


def with_breakdowns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add browser, version, os, device (bots by our bot list are always `bot`) and country
    columns to a classified batch (columns ua, ip, is_bot)."""
    if frame.is_empty():
        return frame.with_columns([pl.lit(None, pl.String).alias(c) for c in BREAKDOWN_KEYS])
    by_ua = agents(frame.get_column("ua"))
    by_ip = country_codes(frame.get_column("ip"))
    return (
        frame.with_columns(pl.col("ua").fill_null("").alias("_ua"), pl.col("ip").fill_null("").alias("_ip"))
        .join(by_ua.rename({"ua": "_ua"}), on="_ua", how="left")
        .join(by_ip.rename({"ip": "_ip"}), on="_ip", how="left")
        .with_columns(device=pl.when(pl.col("is_bot")).then(pl.lit("bot")).otherwise(pl.col("device")))
        .drop("_ua", "_ip")
    )


def not_found(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """404 answers per `by` + path: requests, and how many of them came from bots."""
    return (
        frame.filter(pl.col("status") == 404)
        .group_by([*by, pl.col("path").fill_null("")])
        .agg(requests=pl.len(), bot_requests=pl.col("is_bot").sum().cast(pl.Int64))
    )


def bound_keys(incoming: pl.Series, known: pl.Series, stored: int, limit: int = ROW_LIMIT) -> pl.Series:
    """The keys of `incoming` (distinct) to keep as their own row; the rest count under OTHER.

    `known` are those already stored (always kept), `stored` how many rows the tenant-day holds.
    New keys fill the room left under `limit`, in sorted order, so the result depends only on
    what is stored and what arrives, never on the order of a batch's lines.
    """
    distinct = incoming.unique()
    new = distinct.filter(~distinct.is_in(known.implode()) & (distinct != OTHER))
    room = max(limit - stored, 0)
    return pl.concat([known, new.sort().head(room)]).unique()


def fold_keys(frame: pl.DataFrame, column: str, keep: pl.Series) -> pl.DataFrame:
    """`frame` with every `column` value not in `keep` replaced by OTHER (rows not re-grouped)."""
    return frame.with_columns(
        pl.when(pl.col(column).is_in(keep.implode()))
        .then(pl.col(column))
        .otherwise(pl.lit(OTHER))
        .alias(column)
    )
