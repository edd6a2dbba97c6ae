"""Tenants: which tenant each request belongs to, and refusing names that are not safe.

Contract: `--tenant NAME`, else the config's mapping of the line's virtual host (exact hosts
first, then patterns like `*.grove.place` in file order), else the host itself (lower-case,
port and leading `www.` removed), else `default`. Anything that does not match the tenant
pattern is rejected as `bad tenant`: a Host header is attacker-controlled and a tenant name
becomes a directory name. All of it runs on the batch's distinct hosts, as Polars expressions.
"""

from __future__ import annotations

import hashlib

import polars as pl

from rings_cli.core.config import SUBDOMAIN, Config, Shard
from rings_cli.core.state import TENANT_PATTERN
from rings_cli.source.parse import BAD_TENANT, Rejects

DEFAULT_TENANT = "default"


def _host_name(host: pl.Expr) -> pl.Expr:
    """A raw host (`www.Example.com:443`) normalised: lower case, no port, no `www.`; null when empty."""
    name = host.str.strip_chars().str.to_lowercase().str.replace(r":\d*$", "").str.strip_prefix("www.")
    return pl.when(host.is_null() | name.is_in(["", "-"])).then(pl.lit(None, pl.String)).otherwise(name)


def _mapped(name: pl.Expr, config: Config) -> list[pl.Expr]:
    """The config's tenant for a normalised host: exact hosts first, then patterns in file order."""
    choices = []
    if config.hosts:
        choices.append(name.replace_strict(list(config.hosts), list(config.hosts.values()), default=None))
    for p in config.host_patterns:
        template = p.tenant.replace("$", "$$").replace(SUBDOMAIN, "${1}")
        choices.append(pl.when(name.str.contains(p.regex)).then(name.str.replace(p.regex, template)))
    return choices


def host_to_tenant(host: pl.Expr, config: Config) -> pl.Expr:
    """The tenant of a raw host (`www.Example.com:443`) per the config, or null when none is valid."""
    name = _host_name(host)
    tenant = pl.coalesce(*_mapped(name, config), name, pl.lit(DEFAULT_TENANT))
    return pl.when(tenant.str.contains(TENANT_PATTERN)).then(tenant)


def configured_tenant(host: pl.Expr, config: Config) -> pl.Expr:
    """The tenant that rings.toml `[tenants]` maps a raw host to; null when it maps it to none.

    Those hosts are that tenant's own, so referrals from them are internal (see referrers.py).
    """
    choices = _mapped(_host_name(host), config)
    return pl.coalesce(*choices) if choices else pl.lit(None, pl.String)


def assign_tenants(
    frame: pl.DataFrame,
    fixed: str | None,
    rejects: Rejects,
    config: Config | None = None,
    lines: pl.Series | None = None,
) -> pl.DataFrame:
    """Add a `tenant` column; drop (and count) rows whose tenant name is invalid.

    `lines` (the batch's raw lines, indexed by the frame's `row` column) lets rejected lines be
    sampled for `--rejects`.
    """
    if fixed is not None:
        return frame.with_columns(tenant=pl.lit(fixed, pl.String))
    hosts = frame.select(pl.col("vhost").unique()).with_columns(
        tenant=host_to_tenant(pl.col("vhost"), config or Config())
    )
    frame = frame.join(hosts, on="vhost", how="left", nulls_equal=True)
    valid = frame.get_column("tenant").is_not_null()
    if not valid.all():
        bad = frame.filter(~valid)
        sampled = (
            lines.gather(bad.get_column("row"))
            if lines is not None and "row" in bad.columns
            else pl.Series([], dtype=pl.String)
        )
        rejects.add_rows(pl.repeat(BAD_TENANT, bad.height, dtype=pl.String, eager=True), sampled)
        frame = frame.filter(valid)
    return frame


def shard_of(tenant: str, count: int) -> int:
    """The shard (1..count) that owns a tenant: the first 8 bytes of the SHA-256 of its name,
    modulo `count`. The same on every host, Python and run (never `hash()`, salted per process)."""
    return int.from_bytes(hashlib.sha256(tenant.encode()).digest()[:8], "big") % count + 1


def owns(shard: Shard | None, tenant: str) -> bool:
    return shard is None or shard_of(tenant, shard.count) == shard.index


def keep_shard(frame: pl.DataFrame, shard: Shard | None, rejects: Rejects) -> pl.DataFrame:
    """The rows of the tenants this host owns (`shard = "K/N"`); the others are counted as
    `other shard` (their owner reads them), never lost silently and never counted here."""
    if shard is None or frame.is_empty():
        return frame
    names = frame.get_column("tenant").unique().to_list()
    mine = [t for t in names if owns(shard, t)]
    if len(mine) == len(names):
        return frame
    keep = frame.get_column("tenant").is_in(mine)
    rejects.other_shard += frame.height - int(keep.sum())
    return frame.filter(keep)
