"""Sessions: the per-visitor metrics (sessions, bounces, durations, entries, exits, time on page,
referrer visits, read time), computed exactly however the input is cut into batches.

Page views of a tenant-day are kept per visitor hash in the DO file until the day is finalized.
When a batch touches a visitor, that visitor's sessions are recomputed from all their page views
of the day, and the *difference* to what was counted before is added to the DO file's totals. So
a session spanning two runs is one session, and a line arriving out of order lands where it
belongs. Everything is a Polars group-by; nothing loops per visitor.
"""

from __future__ import annotations

import polars as pl

from rings_cli.referrers import DIRECT

SESSION_GAP_US = 30 * 60 * 1_000_000  # a gap of more than 30 minutes starts a new session
US = 1_000_000

VIEW_SCHEMA = {
    "visitor": pl.Int64,
    "ts": pl.Int64,  # microseconds since the epoch, UTC
    "hour": pl.Int32,
    "path": pl.String,
    "source": pl.String,
    "medium": pl.String,
    "campaign": pl.String,
    "post_id": pl.String,
}

# Each metric table: its key columns and its additive value columns.
TABLES: dict[str, tuple[list[str], list[str]]] = {
    "day": ([], ["sessions", "bounces", "duration_total"]),
    "hourly": (["hour"], ["sessions", "bounces", "time_total", "time_count"]),
    "pages": (["path"], ["entries", "exits", "time_total", "time_count"]),
    "referrers": (["source"], ["visits"]),
    "campaigns": (["source", "medium", "campaign"], ["visits"]),
    "content": (["post_id"], ["read_time_total", "read_time_count"]),
}


def session_metrics(views: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Every metric table for a set of visitors' complete page views of one day."""
    ordered = views.sort(["visitor", "ts", "path", "source"], nulls_last=True).with_columns(
        gap=pl.col("ts").diff().over("visitor")
    )
    ordered = ordered.with_columns(
        session=(pl.col("gap").is_null() | (pl.col("gap") > SESSION_GAP_US)).cum_sum().over("visitor")
    ).with_columns(
        time_on_page=(pl.col("ts").shift(-1) - pl.col("ts")).over(["visitor", "session"]) / US,
    )
    sessions = ordered.group_by(["visitor", "session"]).agg(
        start=pl.col("ts").first(),
        duration=(pl.col("ts").last() - pl.col("ts").first()) / US,
        views=pl.len(),
        entry=pl.col("path").first(),
        exit=pl.col("path").last(),
        hour=pl.col("hour").first(),
        source=pl.col("source").first(),
        medium=pl.col("medium").first(),
        campaign=pl.col("campaign").first(),
    )
    bounce = (pl.col("views") == 1).cast(pl.Int64)
    timed = ordered.filter(pl.col("time_on_page").is_not_null())
    time_sums = [pl.col("time_on_page").sum().alias("time_total"), pl.len().alias("time_count")]
    entries = sessions.group_by(pl.col("entry").alias("path")).agg(entries=pl.len())
    exits = sessions.group_by(pl.col("exit").alias("path")).agg(exits=pl.len())
    page_time = timed.group_by("path").agg(time_sums)
    pages = entries.join(exits, on="path", how="full", coalesce=True).join(
        page_time, on="path", how="full", coalesce=True
    )
    return _typed(
        {
            "day": sessions.select(
                sessions=pl.len(), bounces=bounce.sum(), duration_total=pl.col("duration").sum()
            ),
            "hourly": sessions.group_by("hour")
            .agg(sessions=pl.len(), bounces=bounce.sum())
            .join(timed.group_by("hour").agg(time_sums), on="hour", how="full", coalesce=True),
            "pages": pages,
            "referrers": sessions.group_by(pl.col("source").fill_null(DIRECT)).agg(visits=pl.len()),
            "campaigns": sessions.filter(pl.col("medium").is_not_null())
            .group_by("source", "medium", "campaign")
            .agg(visits=pl.len()),
            "content": timed.filter(pl.col("post_id").is_not_null())
            .group_by("post_id")
            .agg(read_time_total=pl.col("time_on_page").sum(), read_time_count=pl.len()),
        }
    )


def _typed(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Fill the nulls of outer joins with 0 and fix dtypes, so deltas subtract cleanly."""
    out = {}
    for name, frame in tables.items():
        keys, values = TABLES[name]
        out[name] = frame.select(
            *[pl.col(k) for k in keys],
            *[pl.col(v).fill_null(0).cast(pl.Float64 if v.endswith("total") else pl.Int64) for v in values],
        )
    return out


def metric_deltas(before: pl.DataFrame, after: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """What to add to the stored totals when these visitors' views go from `before` to `after`."""
    old, new = session_metrics(before), session_metrics(after)
    deltas = {}
    for name, (keys, values) in TABLES.items():
        both = pl.concat([new[name], old[name].with_columns([-pl.col(v) for v in values])])
        if keys:
            both = both.group_by(keys).agg([pl.col(v).sum() for v in values])
        else:
            both = both.select([pl.col(v).sum() for v in values])
        nonzero = pl.any_horizontal([pl.col(v) != 0 for v in values])
        deltas[name] = both.filter(nonzero)
    return deltas
