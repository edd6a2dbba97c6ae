"""The stages before the store: a block of raw lines → parsed → enriched requests, one row each.

`Prepare` is a pure function of a block (it reads the configuration and the clock, writes nothing),
so the read-ahead worker can run it on the next block while the current one merges. Its output is
a `Parsed`: the frame the count and store stages take (ingest/merge.py), and what the parse counted
(lines, rejects by reason) for the run's summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from rings_cli.core.config import Config
from rings_cli.enrich.classify import classify
from rings_cli.enrich.events import assign_events
from rings_cli.enrich.proxies import client_from_xff
from rings_cli.enrich.referrers import own_host_candidates
from rings_cli.enrich.tenants import assign_tenants, keep_shard
from rings_cli.enrich.zones import with_local_day
from rings_cli.source.formats import LogFormat
from rings_cli.source.parse import Rejects, parse_lines, reject_implausible_times
from rings_cli.source.tail import Block


@dataclass
class Parsed:
    """One block's enriched requests, and what its parse counted, until its merge takes them."""

    frame: pl.DataFrame
    lines: int  # lines read
    format_parsed: int  # lines the format parsed, before `too old` and `bad tenant` drop some
    rejects: Rejects  # this block's own, added to the run's when it is merged
    block: Block | None = None  # a file's block: where its checkpoint goes
    fmt: str = ""  # the format's spec
    position: int = 0  # raw bytes of all inputs read when it was read (progress)
    earliest: dt.datetime | None = None  # the earliest time of its requests (the run's watermark)
    own_hosts: pl.DataFrame | None = None  # lines without a host: who refers from their own paths


@dataclass(frozen=True)
class Prepare:
    """source → parse → enrich for one run's settings: which tenant (`--tenant`, or from the host),
    the zone of times written without an offset, and the clock that bounds plausible times."""

    config: Config
    tenant: str | None
    log_timezone: str
    now: Callable[[], dt.datetime]

    def __call__(
        self,
        lines: pl.Series,
        fmt: LogFormat,
        rejects: Rejects,
        first_line: int = 0,
        file_tenant: str | None = None,
    ) -> Parsed:
        """Lines → requests (one row per accepted line) with `line_no`, each row's line number in
        its source (`first_line` + its index in the block); every other line is a reject.
        `file_tenant`: the site of the whole file (`[files]`, `--tenant-from-path`)."""
        frame = parse_lines(lines, fmt, rejects, self.log_timezone)
        format_parsed = frame.height
        frame = self.enrich(frame, lines, rejects, file_tenant)
        frame = frame.with_columns(line_no=pl.col("row").cast(pl.Int64) + first_line)
        earliest = frame.get_column("ts").min() if frame.height else None
        own_hosts = own_host_candidates(frame) if self.tenant is None and file_tenant is None else None
        return Parsed(
            frame.drop("row", "xff", strict=False),
            lines.len(),
            format_parsed,
            rejects,
            earliest=earliest if isinstance(earliest, dt.datetime) else None,
            own_hosts=own_hosts,
        )

    def enrich(
        self, frame: pl.DataFrame, lines: pl.Series, rejects: Rejects, file_tenant: str | None = None
    ) -> pl.DataFrame:
        """Parsed rows → rows with a plausible time, their client, tenant, class and event. The
        tenant: `--tenant`, else the file's, else the line's host (rings.toml `[tenants]`)."""
        config = self.config
        frame = reject_implausible_times(frame, lines, rejects, config.oldest_date, self.now())
        if config.client_ip == "x-forwarded-for":
            frame = client_from_xff(frame, config.trusted_proxies)
        frame = assign_tenants(frame, self.tenant or file_tenant, rejects, config, lines)
        frame = keep_shard(frame, config.shard, rejects)  # another host's tenants: its own to read
        frame = assign_events(classify(frame, config.exclude_paths, config), config)
        # The tenant's local day and hour: here, in the read-ahead worker, not in the count stage
        # (the run's critical path).
        return with_local_day(frame, config)
