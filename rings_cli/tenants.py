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
    # Work on the few distinct hosts, then map every row through them.
    hosts = frame.select(pl.col("vhost").unique()).with_columns(
        tenant=pl.col("vhost")
        .str.to_lowercase()
        .str.replace(r":\d*$", "")
        .str.strip_prefix("www.")
        .fill_null(DEFAULT_TENANT)
    )
    hosts = hosts.with_columns(tenant=pl.when(pl.col("tenant").str.contains(TENANT_PATTERN)).then("tenant"))
    frame = frame.join(hosts, on="vhost", how="left", nulls_equal=True)
    valid = frame.get_column("tenant").is_not_null()
    if not valid.all():
        rejects.add(BAD_TENANT, int((~valid).sum()))
        frame = frame.filter(valid)
    return frame
