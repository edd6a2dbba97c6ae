"""Aggregate: a classified batch to per-tenant-day deltas, ready to merge into DO files.

Counts are Polars group-bys over the whole batch. Page views keep one row each (hashed visitor,
time, path, referrer source, post) because sessions need them; each distinct (day, tenant, ip, ua)
is hashed once, and raw values go no further than this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.breakdowns import not_found, with_breakdowns
from rings_cli.config import Config
from rings_cli.privacy import SaltStore, hash_visitors
from rings_cli.referrers import with_sources
from rings_cli.sessions import VIEW_SCHEMA
from rings_cli.tables import (
    BREAKDOWN_KEYS,
    BREAKDOWN_TABLES,
    BY_NAME,
    CONTENT_EVENTS,
    COUNT_TABLES,
    HOURLY_EVENTS,
    Column,
)
from rings_cli.zones import with_local_time

__all__ = ["CONTENT_EVENTS", "HOURLY_EVENTS", "DayBatch", "aggregate"]

DAY_KEY = ["tenant", "date"]


@dataclass
class DayBatch:
    """One tenant-day's share of a batch. Counts are deltas to add; `views` are new rows."""

    tenant: str
    date: str
    counts: dict[str, pl.DataFrame]  # per tables.COUNT_TABLES: its keys and its `count` columns
    views: pl.DataFrame  # one row per page view, VIEW_SCHEMA


def aggregate(frame: pl.DataFrame, salts: SaltStore | None, config: Config | None = None) -> list[DayBatch]:
    """Split a classified batch into per-tenant-day deltas (`config`: whose hosts are whose, for
    internal referrals).

    Without `salts` (lines of finalized tenant-days, whose salt is gone) nobody is hashed and
    `views` stay empty: only the counts that need no visitor identity are made.
    """
    # `event` and `post_id` come from events.assign_events (post route and route rules).
    if "hour" not in frame.columns:  # the tenant's local date and hour (ingest adds them)
        frame = with_local_time(frame, config or Config())
    events = frame.filter(pl.col("event").is_not_null())
    page_views = with_sources(frame.filter(pl.col("is_page_view")), config)
    counts: dict[str, pl.DataFrame] = {}
    for table in COUNT_TABLES:
        if table.rows == "custom":
            continue
        rows = page_views if table.rows == "page_views" else frame
        counts[table.name] = rows.group_by([*DAY_KEY, *table.key_names]).agg(
            **{c.name: _count(c) for c in table.counts}
        )
    counts["content"] = (
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
    counts["not_found"] = not_found(frame, DAY_KEY)  # 404s only (breakdowns.py)
    # Browsers, OS, devices, countries: derived per person (tenant, day, address, agent), far fewer
    # rows than lines, then counted from those; the page views below carry their person's values.
    persons = with_breakdowns(
        frame.group_by([*DAY_KEY, "ip", "ua"]).agg(
            requests=pl.len(),
            page_views=pl.col("is_page_view").sum().cast(pl.Int64),
            is_bot=pl.col("is_bot").any(),
        )
    )
    for name in BREAKDOWN_TABLES:
        counts[name] = persons.group_by([*DAY_KEY, *BY_NAME[name].key_names]).agg(
            pl.col("requests").sum(), pl.col("page_views").sum()
        )
    dims = persons.select(*DAY_KEY, "ip", "ua", *BREAKDOWN_KEYS)
    views = _hashed_views(page_views if salts is not None else page_views.clear(), salts, dims)
    # Split each table once per tenant-day (partition_by), not by filtering it per tenant-day.
    parts = {name: _split(part) for name, part in counts.items()}
    view_parts = _split(views)
    no_views = views.drop(DAY_KEY).clear()
    empty = {name: frame.drop(DAY_KEY).clear() for name, frame in counts.items()}
    return [
        DayBatch(
            tenant=tenant,
            date=str(date),
            counts={name: part.get((tenant, date), empty[name]) for name, part in parts.items()},
            views=view_parts.get((tenant, date), no_views),
        )
        for tenant, date in sorted(parts["hourly"])
    ]


def _split(frame: pl.DataFrame) -> dict[tuple[str, object], pl.DataFrame]:
    """Rows per (tenant, date), without those two columns."""
    if frame.is_empty():
        return {}
    return frame.partition_by(DAY_KEY, as_dict=True, include_key=False)  # type: ignore[return-value]


def _count(column: Column) -> pl.Expr:
    """A `count` column's recipe (see tables.py) as a Polars aggregation."""
    how, _, what = column.recipe.partition(":")
    if how == "rows":
        return pl.len()
    if how == "sum":
        return pl.col(what).sum()
    if how == "event":
        return (pl.col("event") == what).sum()
    raise ValueError(f"unknown count recipe {column.recipe!r} of {column.name}")


def _hashed_views(page_views: pl.DataFrame, salts: SaltStore | None, dims: pl.DataFrame) -> pl.DataFrame:
    """Page-view rows keyed by visitor hash instead of (ip, ua): hash each distinct person once.
    `dims` gives each person's breakdown values (browser, ..., country)."""
    person = [*DAY_KEY, "ip", "ua"]
    persons = page_views.select(person).unique().with_row_index("rid")
    if salts is None:  # no rows: nothing to hash, and no salt is ever created for a late tenant-day
        hashed = pl.DataFrame(schema={"rid": pl.UInt32, "visitor": pl.Int64})
    else:
        hashed = hash_visitors(persons, salts).select("rid", "visitor")
    persons = persons.join(dims, on=person, how="left", nulls_equal=True)
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
            *BREAKDOWN_KEYS,
            "utc_offset",
        )
        .cast(VIEW_SCHEMA)  # type: ignore[arg-type]
    )
