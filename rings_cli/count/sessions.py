"""Visitor metrics: uniques, sessions, bounces, durations, entries, exits, time on page, referrer
and campaign visits, read time. Exact however the input is cut into batches.

Page views of a tenant-day are kept per visitor hash in the DO file until the day is finalized.
When a batch touches a visitor, that visitor's metrics are computed from all their page views of
the day, before and after the batch, and the *difference* is added to the DO file's totals. So a
session spanning two runs is one session, a line arriving out of order lands where it belongs, and
a returning visitor is not counted twice. One call covers a whole batch (every tenant-day in it);
everything is a Polars group-by, nothing loops per visitor.
"""

from __future__ import annotations

import polars as pl

from rings_cli.core.config import Config
from rings_cli.core.tables import BREAKDOWN_TABLES, BY_NAME, REAL, SESSION_TABLES
from rings_cli.count.goals import goal_metrics
from rings_cli.enrich.referrers import DIRECT

SESSION_GAP_US = 30 * 60 * 1_000_000  # a gap of more than 30 minutes starts a new session
US = 1_000_000
DAY = ["tenant", "date"]
HOUR = ["hour", "utc_offset"]  # an hour row's key (tables.py)

VIEW_SCHEMA = {
    "visitor": pl.Int64,
    "ts": pl.Int64,  # microseconds since the epoch, UTC
    "hour": pl.Int32,
    "path": pl.String,
    "source": pl.String,
    "medium": pl.String,
    "campaign": pl.String,
    "post_id": pl.String,
    # What the visitor uses and where from (breakdowns.py): one value per visitor, kept with each
    # page view so uniques per value are exact like uniques per page. NULL in views stored before.
    "browser": pl.String,
    "version": pl.String,
    "os": pl.String,
    "device": pl.String,
    "country": pl.String,
    # The UTC offset (minutes east) of the page view's local hour: a DST day repeats an hour.
    "utc_offset": pl.Int32,
    # NULL: a page view. Else a request of an event some goal counts (count/goals.py), kept for
    # goal visitors and funnels only: no other metric sees it.
    "event": pl.String,
}

# Each metric table: its key columns (besides tenant and date) and its additive value columns.
TABLES = SESSION_TABLES
_REAL = {name: {c.name for c in BY_NAME[name].columns if c.type == REAL} for name in TABLES}


def visitor_metrics(views: pl.DataFrame, config: Config | None = None) -> dict[str, pl.DataFrame]:
    """Every metric table for some visitors' complete page views (columns: tenant, date, VIEW_SCHEMA;
    event rows count for goals and funnels only; `config`: which goals and funnels)."""
    goals = goal_metrics(views, config or Config())
    if "event" in views.columns:
        views = views.filter(pl.col("event").is_null())
    person = [*DAY, "visitor"]
    ordered = views.sort([*person, "ts", "path", "source"], nulls_last=True).with_columns(
        gap=pl.col("ts").diff().over(person)
    )
    ordered = ordered.with_columns(
        session=(pl.col("gap").is_null() | (pl.col("gap") > SESSION_GAP_US)).cum_sum().over(person)
    ).with_columns(
        time_on_page=(pl.col("ts").shift(-1) - pl.col("ts")).over([*person, "session"]) / US,
    )
    sessions = ordered.group_by([*person, "session"]).agg(
        duration=(pl.col("ts").last() - pl.col("ts").first()) / US,
        views=pl.len(),
        entry=pl.col("path").first(),
        exit=pl.col("path").last(),
        hour=pl.col("hour").first(),
        utc_offset=pl.col("utc_offset").first(),
        source=pl.col("source").first(),
        medium=pl.col("medium").first(),
        campaign=pl.col("campaign").first(),
    )
    bounce = (pl.col("views") == 1).sum()
    timed = ordered.filter(pl.col("time_on_page").is_not_null())
    times = [pl.col("time_on_page").sum().alias("time_total"), pl.len().alias("time_count")]

    def distinct_visitors(by: list[str], name: str) -> pl.DataFrame:
        rows = ordered.drop_nulls(by) if by else ordered
        return rows.group_by([*DAY, *by]).agg(pl.col("visitor").n_unique().alias(name))

    def outer(*frames: pl.DataFrame, on: list[str]) -> pl.DataFrame:
        out = frames[0]
        for frame in frames[1:]:
            out = out.join(frame, on=on, how="full", coalesce=True)
        return out

    return _typed(
        {
            "day": outer(
                distinct_visitors([], "unique_visitors"),
                sessions.group_by(DAY).agg(
                    sessions=pl.len(), bounces=bounce, duration_total=pl.col("duration").sum()
                ),
                on=DAY,
            ),
            "hourly": outer(
                distinct_visitors(HOUR, "unique_visitors"),
                sessions.group_by([*DAY, *HOUR]).agg(sessions=pl.len(), bounces=bounce),
                timed.group_by([*DAY, *HOUR]).agg(times),
                on=[*DAY, *HOUR],
            ),
            "pages": outer(
                distinct_visitors(["path"], "unique_views"),
                sessions.group_by([*DAY, pl.col("entry").alias("path")]).agg(entries=pl.len()),
                sessions.group_by([*DAY, pl.col("exit").alias("path")]).agg(exits=pl.len()),
                timed.group_by([*DAY, "path"]).agg(times),
                on=[*DAY, "path"],
            ),
            "referrers": sessions.group_by([*DAY, pl.col("source").fill_null(DIRECT)]).agg(visits=pl.len()),
            "campaigns": sessions.filter(pl.col("medium").is_not_null())
            .group_by([*DAY, "source", "medium", "campaign"])
            .agg(visits=pl.len()),
            "content": outer(
                distinct_visitors(["post_id"], "unique_views"),
                timed.filter(pl.col("post_id").is_not_null())
                .group_by([*DAY, "post_id"])
                .agg(read_time_total=pl.col("time_on_page").sum(), read_time_count=pl.len()),
                on=[*DAY, "post_id"],
            ),
            # browsers, os, devices, countries: distinct visitors per value (tables.BREAKDOWN_TABLES)
            **{name: distinct_visitors(TABLES[name][0], "unique_visitors") for name in BREAKDOWN_TABLES},
            **goals,
        }
    )


def _typed(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Fill the nulls of outer joins with 0 and fix dtypes, so deltas subtract cleanly."""
    out = {}
    for name, frame in tables.items():
        keys, values = TABLES[name]
        out[name] = frame.select(
            *DAY,
            *keys,
            *[pl.col(v).fill_null(0).cast(pl.Float64 if v in _REAL[name] else pl.Int64) for v in values],
        )
    return out


def metric_deltas(
    before: pl.DataFrame, new: pl.DataFrame, config: Config | None = None
) -> dict[str, pl.DataFrame]:
    """What to add to the stored totals when `new` page views join the `before` ones.

    `before` must hold every stored page view of each visitor that appears in `new` (and may hold
    no others); both have columns tenant, date and VIEW_SCHEMA.
    """
    old, now = visitor_metrics(before, config), visitor_metrics(pl.concat([before, new]), config)
    deltas = {}
    for name, (keys, values) in TABLES.items():
        both = pl.concat([now[name], old[name].with_columns([-pl.col(v) for v in values])])
        both = both.group_by([*DAY, *keys]).agg([pl.col(v).sum() for v in values])
        deltas[name] = both.filter(pl.any_horizontal([pl.col(v) != 0 for v in values]))
    return deltas
