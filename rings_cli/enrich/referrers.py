"""Referrer sources per the contract: `utm_source`/`ref` first, else the referring host, else none.

A referrer from the tenant's own host (its virtual host, the tenant name, or a host rings.toml
`[tenants]` maps to it) is internal navigation and never a source; sessions take
the source of their first page view, and `direct` when it has none (see sessions.py).

An IP address is never a source: a referrer whose host is an address (`http://203.0.113.9/`,
`http://[2001:db8::1]:8080/`, or any host a browser would read as one, such as `3405803785`) and
an IP-shaped `utm_source`/`ref`/`utm_medium`/`utm_campaign` value are stored as `(ip address)`.
The own-host check compares the real host first, so a site visited by address still sees its own
links as internal navigation.
"""

from __future__ import annotations

import polars as pl

from rings_cli.core.config import Config
from rings_cli.enrich.tenants import configured_tenant

DIRECT = "direct"
IP_SOURCE = "(ip address)"

# The authority's host: a bracketed IPv6 literal `[...]`, or everything up to the port.
_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/?#@]*\]|[^/?#:]+)"
# WHATWG URL: a host whose last label is a number (`1.2.3.4`, `3405803785`, `0xcb.0.0x71.9`) is
# parsed as an IPv4 address, never as a domain name.
_NUMERIC_HOST = r"^(?:[^.]*\.)*(?:[0-9]+|0x[0-9a-f]*)\.?$"
# A parameter value shaped like an address: dotted IPv4, or IPv6 (hex groups and colons, which
# may be percent-encoded as %3A, possibly bracketed) with a `::` or all eight groups, so that a
# time such as 10:00:00 is not one.
_IPV4_VALUE = r"^\[?\d{1,3}(?:\.\d{1,3}){3}\]?$"
_IPV6_VALUE = r"(?i)^\[?[0-9a-f]{0,4}(?:(?::|%3a)[0-9a-f]{0,4}){2,7}(?:(?::|%3a)\d{1,3}(?:\.\d{1,3}){3})?\]?$"
_COLON = r"(?i)(?::|%3a)"


def _param(name: str) -> pl.Expr:
    """The raw value of a query parameter of the request target; null when absent or empty."""
    value = pl.col("target").str.extract(rf"[?&]{name}=([^&#]*)", 1)
    return pl.when(value.str.len_bytes() > 0).then(value)


def _no_ip(value: pl.Expr) -> pl.Expr:
    """`value`, or `(ip address)` when it is shaped like one (null stays null)."""
    ipv6 = value.str.contains(_IPV6_VALUE) & (
        value.str.contains(_COLON + _COLON) | (value.str.count_matches(_COLON) == 7)
    )
    return pl.when(value.str.contains(_IPV4_VALUE) | ipv6).then(pl.lit(IP_SOURCE)).otherwise(value)


def _bare_host(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.replace(r":\d*$", "").str.strip_prefix("www.")


def with_sources(frame: pl.DataFrame, config: Config | None = None) -> pl.DataFrame:
    """Add `source`, `medium`, `campaign` to rows (null where none applies).

    `frame` needs target, referrer, tenant and, when the format has one, vhost. The tenant's own
    hosts, whose referrals are internal: the line's virtual host, the tenant name (`--tenant`
    names the site when the format has no vhost), and every host `config` maps to that tenant.
    """
    ref_host = _bare_host(pl.col("referrer").str.extract(_HOST, 1))
    frame = frame.with_columns(_ref_host=ref_host)
    ref = pl.col("_ref_host")
    own = ref == _bare_host(pl.col("tenant"))
    if "vhost" in frame.columns:
        own = own | (ref == _bare_host(pl.col("vhost"))).fill_null(False)
    if config is not None and (config.hosts or config.host_patterns):
        hosts = frame.get_column("_ref_host").drop_nulls().unique()  # each distinct host mapped once
        tenants = hosts.to_frame().select(configured_tenant(ref, config)).to_series()
        mapped = ref.replace_strict(hosts, tenants, default=None, return_dtype=pl.String)
        own = own | (mapped == pl.col("tenant")).fill_null(False)
    external = pl.when(ref.is_not_null() & (ref.str.len_bytes() > 0) & ~own.fill_null(False)).then(
        pl.when(ref.str.starts_with("[") | ref.str.contains(_NUMERIC_HOST))
        .then(pl.lit(IP_SOURCE))
        .otherwise(ref)
    )
    utm = _param("utm_source")
    return frame.with_columns(
        source=_no_ip(pl.coalesce(utm, _param("ref"))).fill_null(external),
        # Campaign fields only mean something beside a utm_source; "" when that one is absent.
        medium=pl.when(utm.is_not_null()).then(_no_ip(_param("utm_medium")).fill_null("")),
        campaign=pl.when(utm.is_not_null()).then(_no_ip(_param("utm_campaign")).fill_null("")),
    ).drop("_ref_host")


# The path of a referrer URL (after its host), without query or fragment.
_REF_PATH = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(/[^?#]*)"


def own_host_candidates(frame: pl.DataFrame) -> pl.DataFrame:
    """For lines that name no host and went to `default`: per referring host, how many requests it
    referred and how many of those from a path this log itself serves. A host that mostly refers
    from the log's own paths is most likely the site itself (its pages link to each other and load
    their assets), which the summary suggests as the tenant. (host, referrals, own)."""
    empty = pl.DataFrame(schema={"host": pl.String, "referrals": pl.UInt32, "own": pl.UInt32})
    if "vhost" in frame.columns and frame.get_column("vhost").drop_nulls().len():
        return empty
    rows = frame.filter((pl.col("tenant") == "default") & pl.col("referrer").is_not_null())
    if rows.is_empty():
        return empty
    # The paths it serves, without the query parameters a page path keeps (a referrer's path has none).
    served = frame.get_column("path").drop_nulls().unique().str.split_exact("?", 1).struct.field("field_0")
    ref = pl.col("referrer")
    return (
        rows.select(
            host=_bare_host(ref.str.extract(_HOST, 1)),
            own=ref.str.extract(_REF_PATH, 1).is_in(served.implode()).fill_null(False),
        )
        .drop_nulls("host")
        .group_by("host")
        .agg(referrals=pl.len(), own=pl.col("own").sum().cast(pl.UInt32))
        .select("host", "referrals", "own")
    )
