"""The client address behind proxies: X-Forwarded-For, read right to left past trusted proxies.

With `client_ip = "x-forwarded-for"`, the client is the rightmost address of the header that is
not a trusted proxy (the address your own proxy appended; anything left of it is what the client
claimed and can be forged). Lines without the header keep the connection's address. Addresses are
checked once per distinct value, never per line.
"""

from __future__ import annotations

import ipaddress

import polars as pl

from rings_cli.core.config import Network


def client_from_xff(frame: pl.DataFrame, trusted: tuple[Network, ...]) -> pl.DataFrame:
    """Replace `ip` by the first untrusted address of `xff` (right to left), where there is one."""
    hops = (
        frame.select(pl.col("xff").str.split(",").alias("hop"))
        .with_row_index("row")
        .explode("hop")
        .with_columns(pl.col("hop").str.strip_chars())
        .with_columns(pos=pl.int_range(pl.len()).over("row"))
        .filter(pl.col("hop").is_not_null() & ~pl.col("hop").is_in(["", "-", "unknown"]))
    )
    if hops.is_empty():
        return frame
    distinct = hops.get_column("hop").unique()
    trusted_hops = distinct.filter(
        pl.Series([_is_trusted(h, trusted) for h in distinct.to_list()], dtype=pl.Boolean)
    )
    chosen = (
        hops.with_columns(trusted=pl.col("hop").is_in(trusted_hops.implode()))
        .sort("row", "pos", descending=[False, True])
        .group_by("row", maintain_order=True)
        # The rightmost untrusted hop; if every hop is trusted, the leftmost one.
        .agg(pl.col("hop").filter(~pl.col("trusted")).first().fill_null(pl.col("hop").last()).alias("client"))
    )
    client = (
        frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"))
        .join(chosen, on="row", how="left")
        .sort("row")
        .get_column("client")
    )
    return frame.with_columns(ip=pl.coalesce(client, pl.col("ip")))


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    if not trusted:
        return False
    host = address
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]  # IPv4 with a port
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(ip in net for net in trusted)
