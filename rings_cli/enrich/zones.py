"""Per-site time zones: which zone a tenant-day is in, and each line's local date and hour.

A tenant-day is the tenant's local calendar day (rings.toml `timezone`, `[timezones]`; UTC when
unset). A `[timezones]` key names a tenant, a host (`[tenants]` maps it to its tenant) or a host
pattern (`*.example.com`: tenants named after such hosts, or made by the `[tenants]` pattern of the
same key); exact names first, then patterns in file order. A zone with `since` applies from that
local date on; the dates before keep the zone they had, so days already stored do not move.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import polars as pl
    from polars.expr.whenthen import ChainedThen, Then

from rings_cli.core.config import SUBDOMAIN, Config, TimezoneEntry, ZoneSpan, normalize_host

UTC = "UTC"


def zone_spans(config: Config, tenant: str) -> tuple[ZoneSpan, ...]:
    """A tenant's zones by date, oldest first; the first one has no `since`."""
    entry = _entry(config, tenant)
    return _with_default(config, entry.spans if entry is not None else ())


def _entry(config: Config, tenant: str) -> TimezoneEntry | None:
    """The `[timezones]` entry of a tenant: exact names first, then patterns in file order."""
    entry = next((e for e in config.timezones if "*" not in e.key and _names(config, e.key, tenant)), None)
    if entry is None:
        entry = next((e for e in config.timezones if "*" in e.key and _matches(config, e.key, tenant)), None)
    return entry


def _names(config: Config, key: str, tenant: str) -> bool:
    return key == tenant or config.hosts.get(key) == tenant


def _matches(config: Config, key: str, tenant: str) -> bool:
    """`*.example.com` matches a tenant named after such a host, or one its `[tenants]` pattern made."""
    if re.fullmatch(r"[^.]+\." + re.escape(key[2:]), tenant):
        return True
    for p in config.host_patterns:
        if normalize_host(p.pattern) == key:
            template = re.escape(p.tenant).replace(re.escape(SUBDOMAIN), r"[^.]+")
            if re.fullmatch(template, tenant):
                return True
    return False


def zone_on(config: Config, tenant: str, date: str | dt.date) -> str:
    """The zone of the tenant-day `tenant`/`date`."""
    day = dt.date.fromisoformat(date) if isinstance(date, str) else date
    zone = UTC
    for span in zone_spans(config, tenant):
        if span.since is None or span.since <= day:
            zone = span.zone
    return zone


def day_end(config: Config, tenant: str, date: str) -> dt.datetime:
    """When the tenant-day ends (aware, UTC): the next local midnight in its zone (23 or 25 hours
    after its start on a DST day)."""
    day = dt.date.fromisoformat(date) + dt.timedelta(days=1)
    local = dt.datetime.combine(day, dt.time(), ZoneInfo(zone_on(config, tenant, date)))
    return local.astimezone(dt.UTC)


def tenant_zone(config: Config, tenant: str | None) -> str:
    """What a report names as the zone: the tenant's current one, or the common one of all
    tenants (`per tenant` when they differ)."""
    if tenant is not None:
        return zone_spans(config, tenant)[-1].zone
    zones = {config.timezone} | {s.zone for e in config.timezones for s in e.spans}
    return zones.pop() if len(zones) == 1 else "per tenant"


def _local(zone: str) -> pl.Expr:
    """The line's wall-clock time in `zone`, naive."""
    import polars as pl  # here, not at the top: `rings report` needs no Polars

    return pl.col("ts").dt.convert_time_zone(zone).dt.replace_time_zone(None)


def _plan(spans: tuple[ZoneSpan, ...]) -> pl.Expr:
    """Local time under a tenant's zones: each later zone wins for lines on or after its `since`."""
    import polars as pl  # here, not at the top: `rings report` needs no Polars

    local = _local(spans[0].zone)
    for span in spans[1:]:
        candidate = _local(span.zone)
        local = pl.when(candidate.dt.date() >= pl.lit(span.since)).then(candidate).otherwise(local)
    return local


def with_local_time(frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Add each line's local `date`, `hour` and `utc_offset` (minutes east of UTC) in its tenant's
    zone: one conversion per group of tenants sharing a zone plan, none per line."""
    import polars as pl  # here, not at the top: `rings report` needs no Polars

    plans: dict[tuple[ZoneSpan, ...], list[str]] = {}
    for tenant in frame.get_column("tenant").unique().to_list():
        plans.setdefault(zone_spans(config, tenant), []).append(tenant)
    if not plans:
        local = pl.col("ts").dt.replace_time_zone(None)
    elif len(plans) == 1:
        local = _plan(next(iter(plans)))
    else:
        items = list(plans.items())
        chain: Then | ChainedThen = pl.when(pl.col("tenant").is_in(items[0][1])).then(_plan(items[0][0]))
        for spans, tenants in items[1:-1]:
            chain = chain.when(pl.col("tenant").is_in(tenants)).then(_plan(spans))
        local = chain.otherwise(_plan(items[-1][0]))
    utc = pl.col("ts").dt.replace_time_zone(None)
    return (
        frame.with_columns(local.alias("_local"))
        .with_columns(
            date=pl.col("_local").dt.date(),
            hour=pl.col("_local").dt.hour().cast(pl.Int32),
            utc_offset=((pl.col("_local") - utc).dt.total_minutes()).cast(pl.Int32),
        )
        .drop("_local")
    )


def with_local_day(frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """`with_local_time`, and `day`: the local date as text, which names the request's tenant-day
    (a tenant-day is the tenant's own day)."""
    import polars as pl

    return with_local_time(frame, config).with_columns(day=pl.col("date").cast(pl.String))


def zone_changes(config: Config, tenant: str | None, start: dt.date, end: dt.date) -> list[str]:
    """A note per zone change inside [start, end] (of `tenant`, or of any tenant): the days before
    it are in the old zone, so an hour-of-day chart across it mixes the two."""
    notes = []
    entries = config.timezones if tenant is None else [e for e in [_entry(config, tenant)] if e]
    for entry in entries:
        spans = _with_default(config, entry.spans)
        for before, span in itertools.pairwise(spans):
            if span.since is not None and start < span.since <= end:
                who = tenant or entry.key
                notes.append(f"{who} is in {span.zone} from {span.since}, in {before.zone} before")
    return notes


def _with_default(config: Config, spans: tuple[ZoneSpan, ...]) -> tuple[ZoneSpan, ...]:
    return spans if spans and spans[0].since is None else (ZoneSpan(config.timezone), *spans)


def local_today(config: Config, tenant: str | None, now: dt.datetime | None = None) -> dt.date:
    """Today in the tenant's zone (all tenants: the default zone's today)."""
    now = now or dt.datetime.now(dt.UTC)
    if tenant is None:
        return now.astimezone(ZoneInfo(config.timezone)).date()
    # The zone of the local date: try the UTC date's zone, then the zone of the day that gives.
    day = now.astimezone(ZoneInfo(zone_on(config, tenant, now.date()))).date()
    return now.astimezone(ZoneInfo(zone_on(config, tenant, day))).date()
