"""Referrer sources per the contract: `utm_source`/`ref` first, else the referring host, else none.

A referrer from the tenant's own host is internal navigation and never a source; sessions take
the source of their first page view, and `direct` when it has none (see sessions.py).
"""

from __future__ import annotations

import polars as pl

DIRECT = "direct"

_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)"


def _param(name: str) -> pl.Expr:
    """The raw value of a query parameter of the request target; null when absent or empty."""
    value = pl.col("target").str.extract(rf"[?&]{name}=([^&#]*)", 1)
    return pl.when(value.str.len_bytes() > 0).then(value)


def _bare_host(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.replace(r":\d*$", "").str.strip_prefix("www.")


def with_sources(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `source`, `medium`, `campaign` to rows (null where none applies).

    `frame` needs target, referrer, tenant and, when the format has one, vhost.
    """
    own = (
        _bare_host(pl.col("vhost")).fill_null(pl.col("tenant"))
        if "vhost" in frame.columns
        else pl.col("tenant")
    )
    ref_host = _bare_host(pl.col("referrer").str.extract(_HOST, 1))
    external = pl.when(ref_host.is_not_null() & (ref_host.str.len_bytes() > 0) & (ref_host != own)).then(
        ref_host
    )
    utm = _param("utm_source")
    return frame.with_columns(
        source=pl.coalesce(utm, _param("ref"), external),
        # Campaign fields only mean something beside a utm_source; "" when that one is absent.
        medium=pl.when(utm.is_not_null()).then(_param("utm_medium").fill_null("")),
        campaign=pl.when(utm.is_not_null()).then(_param("utm_campaign").fill_null("")),
    )
