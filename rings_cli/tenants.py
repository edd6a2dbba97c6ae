"""Tenants: which tenant each request belongs to, and refusing names that are not safe.

Contract: `--tenant NAME`, else the line's virtual host (lower-case, port and leading `www.`
removed), else `default`. Anything that does not match the tenant pattern is rejected: a Host
header is attacker-controlled and a tenant name becomes a directory name.
"""

from __future__ import annotations

import polars as pl

from rings_cli.parse import BAD_TENANT, Rejects
from rings_cli.state import TENANT_PATTERN

DEFAULT_TENANT = "default"


def assign_tenants(frame: pl.DataFrame, fixed: str | None, rejects: Rejects) -> pl.DataFrame:
    """Add a `tenant` column; drop (and count) rows whose tenant name is invalid."""
    if fixed is not None:
        return frame.with_columns(tenant=pl.lit(fixed, pl.String))
    host = (
        pl.col("vhost")
        .str.to_lowercase()
        .str.replace(r":\d*$", "")
        .str.strip_prefix("www.")
        .fill_null(DEFAULT_TENANT)
    )
    frame = frame.with_columns(tenant=host)
    valid = frame.get_column("tenant").str.contains(TENANT_PATTERN)
    rejects.add(BAD_TENANT, int((~valid).sum()))
    return frame.filter(valid)
