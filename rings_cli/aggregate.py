"""Aggregate: a classified batch to per-tenant-day partial counts, ready to merge into DO files.

Everything here is a Polars group-by over the whole batch. Visitors are grouped before they are
hashed, so each distinct (day, tenant, ip, ua) is hashed once and raw values go no further.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.privacy import SaltStore, hash_visitors

DAY_KEY = ["tenant", "date"]


@dataclass
class DayBatch:
    """One tenant-day's share of a batch. Counts are deltas to add; visitor rows are hashed."""

    tenant: str
    date: str
    hourly: pl.DataFrame  # hour, requests, bytes, bot_requests, page_views
    status: pl.DataFrame  # status, requests
    pages: pl.DataFrame  # path, views
    visitors: pl.DataFrame  # visitor, first_seen, last_seen, page_views, hours (bitmask)
    visitor_pages: pl.DataFrame  # visitor, path

    @property
    def requests(self) -> int:
        return int(self.hourly.get_column("requests").sum())


def aggregate(frame: pl.DataFrame, salts: SaltStore) -> list[DayBatch]:
    """Split a classified batch into per-tenant-day deltas."""
    frame = frame.with_columns(date=pl.col("ts").dt.date(), hour=pl.col("ts").dt.hour().cast(pl.Int32))
    hourly = frame.group_by([*DAY_KEY, "hour"]).agg(
        requests=pl.len(),
        bytes=pl.col("bytes").sum(),
        bot_requests=pl.col("is_bot").sum(),
        page_views=pl.col("is_page_view").sum(),
    )
    status = frame.group_by([*DAY_KEY, "status"]).agg(requests=pl.len())
    views = frame.filter(pl.col("is_page_view"))
    pages = views.group_by([*DAY_KEY, "path"]).agg(views=pl.len())

    person = [*DAY_KEY, "ip", "ua"]
    persons = (
        views.group_by(person)
        .agg(
            first_seen=pl.col("ts").min().dt.epoch("s"),
            last_seen=pl.col("ts").max().dt.epoch("s"),
            page_views=pl.len(),
            hours=pl.lit(2, pl.Int64).pow(pl.col("hour")).bitwise_or(),
        )
        .with_row_index("rid")
    )
    visited = (
        views.select(*person, "path")
        .unique()
        .join(persons.select(*person, "rid"), on=person)
        .select(*DAY_KEY, "rid", "path")
    )
    visitors = hash_visitors(persons, salts)
    visitor_pages = visited.join(visitors.select("rid", "visitor"), on="rid").drop("rid")
    visitors = visitors.drop("rid")

    return [
        DayBatch(
            tenant=tenant,
            date=str(date),
            hourly=_part(hourly, tenant, date),
            status=_part(status, tenant, date),
            pages=_part(pages, tenant, date),
            visitors=_part(visitors, tenant, date),
            visitor_pages=_part(visitor_pages, tenant, date),
        )
        for tenant, date in hourly.select(DAY_KEY).unique().sort(DAY_KEY).iter_rows()
    ]


def _part(frame: pl.DataFrame, tenant: str, date: object) -> pl.DataFrame:
    return frame.filter((pl.col("tenant") == tenant) & (pl.col("date") == date)).drop(DAY_KEY)
