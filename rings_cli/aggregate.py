"""Aggregate: a classified batch to per-tenant-day deltas, ready to merge into DO files.

Counts are Polars group-bys over the whole batch. Page views keep one row each (hashed visitor,
time, path, referrer source, post) because sessions need them; each distinct (day, tenant, ip, ua)
is hashed once, and raw values go no further than this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.breakdowns import not_found
from rings_cli.privacy import SaltStore, hash_visitors
from rings_cli.referrers import with_sources
from rings_cli.sessions import BREAKDOWN_TABLES, TABLES, VIEW_SCHEMA

DAY_KEY = ["tenant", "date"]

# Event types (from route rules or app event logs) and the DO columns they count in.
HOURLY_EVENTS = {
    "post_created": "posts_created",
    "comment": "comments_created",
    "reaction": "reactions_given",
}
CONTENT_EVENTS = {
    "reaction": "reactions",
    "comment": "comments",
    "share": "shares",
    "post_read_complete": "reads_completed",
}


@dataclass
class DayBatch:
    """One tenant-day's share of a batch. Counts are deltas to add; `views` are new rows."""

    tenant: str
    date: str
    hourly: pl.DataFrame  # hour, requests, bytes, bot_requests, page_views, + HOURLY_EVENTS columns
    status: pl.DataFrame  # status, requests
    pages: pl.DataFrame  # path, views
    content: pl.DataFrame  # post_id, views, + CONTENT_EVENTS columns
    views: pl.DataFrame  # one row per page view, VIEW_SCHEMA
    # browsers, os, devices, countries: key columns (sessions.TABLES), requests, page_views
    breakdowns: dict[str, pl.DataFrame]
    not_found: pl.DataFrame  # path, requests, bot_requests (status 404)


def aggregate(frame: pl.DataFrame, salts: SaltStore | None) -> list[DayBatch]:
    """Split a classified batch into per-tenant-day deltas.

    Without `salts` (lines of finalized tenant-days, whose salt is gone) nobody is hashed and
    `views` stay empty: only the counts that need no visitor identity are made.
    """
    # `event` and `post_id` come from events.assign_events (post route and route rules).
    frame = frame.with_columns(date=pl.col("ts").dt.date(), hour=pl.col("ts").dt.hour().cast(pl.Int32))
    events = frame.filter(pl.col("event").is_not_null())
    hourly = frame.group_by([*DAY_KEY, "hour"]).agg(
        requests=pl.len(),
        bytes=pl.col("bytes").sum(),
        bot_requests=pl.col("is_bot").sum(),
        page_views=pl.col("is_page_view").sum(),
        **{col: (pl.col("event") == event).sum() for event, col in HOURLY_EVENTS.items()},
    )
    status = frame.group_by([*DAY_KEY, "status"]).agg(requests=pl.len())
    page_views = with_sources(frame.filter(pl.col("is_page_view")))
    pages = page_views.group_by([*DAY_KEY, "path"]).agg(views=pl.len())
    content = (
        pl.concat(
            [
                page_views.select(*DAY_KEY, "post_id", pl.lit("view").alias("event")),
                events.select(*DAY_KEY, "post_id", "event"),
            ]
        )
        .filter(pl.col("post_id").is_not_null())
        .group_by([*DAY_KEY, "post_id"])
        .agg(
            views=(pl.col("event") == "view").sum(),
            **{col: (pl.col("event") == event).sum() for event, col in CONTENT_EVENTS.items()},
        )
    )
    views = _hashed_views(page_views if salts is not None else page_views.clear(), salts)
    breakdowns = {
        name: frame.group_by([*DAY_KEY, *TABLES[name][0]]).agg(
            requests=pl.len(), page_views=pl.col("is_page_view").sum().cast(pl.Int64)
        )
        for name in BREAKDOWN_TABLES
    }
    missing = not_found(frame, DAY_KEY)
    return [
        DayBatch(
            tenant=tenant,
            date=str(date),
            hourly=_part(hourly, tenant, date),
            status=_part(status, tenant, date),
            pages=_part(pages, tenant, date),
            content=_part(content, tenant, date),
            views=_part(views, tenant, date),
            breakdowns={name: _part(b, tenant, date) for name, b in breakdowns.items()},
            not_found=_part(missing, tenant, date),
        )
        for tenant, date in hourly.select(DAY_KEY).unique().sort(DAY_KEY).iter_rows()
    ]


def _hashed_views(page_views: pl.DataFrame, salts: SaltStore | None) -> pl.DataFrame:
    """Page-view rows keyed by visitor hash instead of (ip, ua): hash each distinct person once."""
    person = [*DAY_KEY, "ip", "ua"]
    persons = page_views.select(person).unique().with_row_index("rid")
    if salts is None:  # no rows: nothing to hash, and no salt is ever created for a late tenant-day
        hashed = pl.DataFrame(schema={"rid": pl.UInt32, "visitor": pl.Int64})
    else:
        hashed = hash_visitors(persons, salts).select("rid", "visitor")
    return (
        page_views.join(persons, on=person)
        .join(hashed, on="rid")
        .select(
            *DAY_KEY,
            "visitor",
            pl.col("ts").dt.epoch("us").alias("ts"),
            "hour",
            "path",
            "source",
            "medium",
            "campaign",
            "post_id",
            "browser",
            "version",
            "os",
            "device",
            "country",
        )
        .cast(VIEW_SCHEMA)  # type: ignore[arg-type]
    )


def _part(frame: pl.DataFrame, tenant: str, date: object) -> pl.DataFrame:
    return frame.filter((pl.col("tenant") == tenant) & (pl.col("date") == date)).drop(DAY_KEY)
