"""Aggregate: a classified batch to per-tenant-day deltas, ready to merge into DO files.

Counts are Polars group-bys over the whole batch. Page views keep one row each (hashed visitor,
time, path, referrer source, post) because sessions need them; each distinct (day, tenant, ip, ua)
is hashed once, and raw values go no further than this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.core.config import Config
from rings_cli.core.definitions import VERSION as DEFINITIONS
from rings_cli.core.privacy import Salts, hash_visitors
from rings_cli.core.tables import (
    BREAKDOWN_KEYS,
    BREAKDOWN_TABLES,
    BY_NAME,
    CONTENT_EVENTS,
    COUNT_TABLES,
    HOURLY_EVENTS,
    Column,
)
from rings_cli.count.goals import completions
from rings_cli.count.sessions import VIEW_SCHEMA
from rings_cli.count.times import time_counts
from rings_cli.enrich.bots import CRAWLER
from rings_cli.enrich.breakdowns import not_found, with_breakdowns
from rings_cli.enrich.events import POST_VIEW
from rings_cli.enrich.referrers import with_sources
from rings_cli.enrich.zones import with_local_time

__all__ = ["CONTENT_EVENTS", "HOURLY_EVENTS", "BatchTables", "aggregate"]

DAY_KEY = ["tenant", "date"]
PAGE_EVENTS = ["page_view", POST_VIEW]  # events that are page views: kept as page views already


@dataclass
class BatchTables:
    """A batch's deltas for all its tenant-days at once (`date` as a string, like DO files).

    Counts are deltas to add, one frame per table (tables.COUNT_TABLES: tenant, date, its keys and
    its `count` columns); `views` are new page-view rows (tenant, date and VIEW_SCHEMA). Kept whole,
    never split into a frame per tenant-day: the merge turns each table into rows once.
    """

    counts: dict[str, pl.DataFrame]
    views: pl.DataFrame


def aggregate(frame: pl.DataFrame, salts: Salts | None, config: Config | None = None) -> BatchTables:
    """A classified batch to its per-tenant-day deltas (`config`: whose hosts are whose, for
    internal referrals; whether breakdowns are counted).

    Rows of finalized tenant-days (`late` True, when the column is there) and every row when there
    are no `salts` are counted but never hashed: only the counts that need no visitor identity
    are made of them, and no salt is ever asked for their tenant-day.
    """
    config = config or Config()
    # `event` and `post_id` come from events.assign_events (post route and route rules).
    if "hour" not in frame.columns:  # the tenant's local date and hour (ingest adds them)
        frame = with_local_time(frame, config)
    events = frame.filter(pl.col("event").is_not_null())
    page_views = frame.filter(pl.col("is_page_view"))
    if "source" not in page_views.columns:  # ingest/prepare.py adds it
        page_views = with_sources(page_views, config)
    counts: dict[str, pl.DataFrame] = {}
    for table in COUNT_TABLES:
        if table.rows == "custom":
            continue
        if table.rows == "bots":  # keyed by the reason (its only key): bot requests only
            # (a frame classified without reasons: its bots are crawlers)
            reason = pl.col("bot_reason") if "bot_reason" in frame.columns else pl.lit(CRAWLER)
            rows = frame.filter(pl.col("is_bot")) if "bot_reason" not in frame.columns else frame
            rows = rows.select(*DAY_KEY, reason=reason).filter(pl.col("reason").is_not_null())
        else:
            rows = page_views if table.rows == "page_views" else frame
        counts[table.name] = rows.group_by([*DAY_KEY, *table.key_names]).agg(
            **{c.name: _count(c) for c in table.counts}
        )
    # Every request of the batch was counted by this version of the definitions.
    counts["definitions"] = (
        counts["hourly"]
        .group_by(DAY_KEY)
        .agg(pl.col("requests").sum())
        .select(*DAY_KEY, pl.lit(DEFINITIONS, pl.Int32).alias("version"), "requests")
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
    counts["goals"] = completions(frame, config)  # count/goals.py (late lines too)
    counts.update(time_counts(frame))  # response times (count/times.py)
    dims = None
    if config.breakdowns:
        # Browsers, OS, devices, countries: derived per person (tenant, day, address, agent), far
        # fewer rows than lines, then counted from those; page views carry their person's values.
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
    hashable = _with_goal_events(page_views, frame, config)
    if salts is None:
        hashable = hashable.clear()
    elif "late" in hashable.columns and hashable.get_column("late").any():
        hashable = hashable.filter(~pl.col("late"))
    views = _hashed_views(hashable, salts, dims)
    return BatchTables(
        counts={name: part.with_columns(pl.col("date").cast(pl.String)) for name, part in counts.items()},
        views=views.with_columns(pl.col("date").cast(pl.String)),
    )


def _with_goal_events(page_views: pl.DataFrame, frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """The rows a tenant-day keeps per visitor: page views (`goal_event` NULL) and the non-bot
    requests of route-rule events (no source: they start no session), every event, not only
    those a goal counts now: a goal added later counts an open day from its start."""
    page_views = page_views.with_columns(goal_event=pl.lit(None, pl.String))
    acts = frame.filter(
        ~pl.col("is_bot") & pl.col("event").is_not_null() & ~pl.col("event").is_in(PAGE_EVENTS)
    )
    if acts.is_empty():
        return page_views
    unsourced = [pl.lit(None, pl.String).alias(c) for c in ("source", "medium", "campaign")]
    acts = acts.with_columns(pl.col("event").alias("goal_event"), *unsourced)
    return pl.concat([page_views, acts.select(page_views.columns)], how="vertical_relaxed")


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


def _hashed_views(page_views: pl.DataFrame, salts: Salts | None, dims: pl.DataFrame | None) -> pl.DataFrame:
    """Page-view rows keyed by visitor hash instead of (ip, ua): hash each distinct person once.
    `dims` gives each person's breakdown values (browser, ..., country); None: NULL there."""
    person = [*DAY_KEY, "ip", "ua"]
    persons = page_views.select(person).unique().with_row_index("rid")
    if salts is None:  # no rows: nothing to hash, and no salt is ever created for a late tenant-day
        hashed = pl.DataFrame(schema={"rid": pl.UInt32, "visitor": pl.Int64})
    else:
        hashed = hash_visitors(persons, salts).select("rid", "visitor")
    if dims is not None:
        persons = persons.join(dims, on=person, how="left", nulls_equal=True)
    else:  # breakdowns = false: the stored page views carry no value for them
        persons = persons.with_columns([pl.lit(None, pl.String).alias(c) for c in BREAKDOWN_KEYS])
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
            pl.col("goal_event").alias("event"),
        )
        .cast(VIEW_SCHEMA)  # type: ignore[arg-type]
    )
