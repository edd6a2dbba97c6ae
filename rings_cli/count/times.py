"""Response times: how long the server took, as mergeable histograms (GoAccess's "time served").

Every request whose log line carries a time counts (assets and bots too: it is what the server
served). A time goes into a log-spaced bucket (DDSketch's mapping): bucket i holds the times in
(G^(i-1), G^i] with G = (1+A)/(1-A), and stands for 2G^i/(G+1), within A = 2% of every time in it.
Buckets of any set of tenant-days add up exactly, so a range's percentiles are those of the union of
its requests, within 2%; counts and sums are exact. Kept per tenant-day and hour (`times`) and per
path for at most TIME_PATHS paths a tenant-day, the most requested (`path_times`; the rest under
`(other)`, so a scanner's random paths cannot grow the state).
"""

from __future__ import annotations

import polars as pl

from rings_cli.core.histogram import ALPHA, LN_GAMMA, MIN_TIME, ZERO, quantile, value_of
from rings_cli.enrich.breakdowns import OTHER

__all__ = ["ALPHA", "ZERO", "bucket_of", "busiest", "quantile", "time_counts", "value_of"]

TIME_PATHS = 500  # paths with their own `path_times` rows, per tenant-day
DAY = ["tenant", "date"]


def bucket_of(seconds: pl.Expr) -> pl.Expr:
    """The bucket index of a time in seconds (Int32)."""
    index = (seconds.log() / LN_GAMMA).ceil()
    return pl.when(seconds < MIN_TIME).then(pl.lit(ZERO)).otherwise(index).cast(pl.Int32)


def time_counts(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """`times` and `path_times` deltas of a classified batch (its requests that carry a time); the
    paths of each tenant-day past the TIME_PATHS busiest of the batch count as OTHER."""
    if "duration" not in frame.columns:
        frame = frame.with_columns(duration=pl.lit(None, pl.Float64))
    timed = frame.filter(pl.col("duration").is_not_null()).select(
        *DAY,
        "hour",
        "utc_offset",
        "path",
        bucket=bucket_of(pl.col("duration")),
        total_us=(pl.col("duration") * 1_000_000).round(0).cast(pl.Int64),
    )
    agg = [pl.len().cast(pl.Int64).alias("requests"), pl.col("total_us").sum()]
    times = timed.group_by([*DAY, "hour", "utc_offset", "bucket"]).agg(agg)
    paths = timed.with_columns(pl.col("path").fill_null(OTHER)).group_by([*DAY, "path", "bucket"]).agg(agg)
    return {"times": times, "path_times": busiest(paths)}


def busiest(frame: pl.DataFrame, limit: int = TIME_PATHS) -> pl.DataFrame:
    """`path_times` rows with the paths of each tenant-day past its `limit` most requested (then by
    path) folded into OTHER, in one pass over every tenant-day."""
    if frame.is_empty():
        return frame
    per_path = frame.group_by([*DAY, "path"]).agg(n=pl.col("requests").sum())
    ranked = per_path.filter(pl.col("path") != OTHER).sort(
        [*DAY, "n", "path"], descending=[False, False, True, False]
    )
    kept = ranked.filter(pl.int_range(pl.len()).over(DAY) < limit).select(*DAY, "path", _keep=pl.lit(True))
    marked = frame.join(kept, on=[*DAY, "path"], how="left")
    path = pl.when(pl.col("_keep").is_null()).then(pl.lit(OTHER)).otherwise(pl.col("path"))
    out = marked.with_columns(path=path).drop("_keep")
    return out.group_by([*DAY, "path", "bucket"]).agg(pl.col("requests").sum(), pl.col("total_us").sum())
