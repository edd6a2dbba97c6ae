"""A tenant-day's final rows, made once from all its counts and page views (no DO file).

What a finalized DO file holds after every batch merged into it (counts added up, visitor metrics
from all its page views, paths past the row limit under OTHER, the daily summary), computed in one
go for many tenant-days at once: the shape of the warehouse's tables, as a flush writes them.
Only page views ever carry a visitor hash, and they stay in memory: what comes out is aggregates.
"""

from __future__ import annotations

import json

import polars as pl

from rings_cli.core import tables
from rings_cli.core.config import Config
from rings_cli.core.tables import DAY, TABLES, warehouse_columns
from rings_cli.count.sessions import visitor_metrics
from rings_cli.count.times import busiest
from rings_cli.enrich.breakdowns import OTHER, ROW_LIMIT, bound_keys

KEY = ["tenant", "date"]
TOP_LIMIT = 10  # rows of the daily summary's top pages and referrers (as a DO file writes them)
_PLAIN = r"^[ !#-\[\]-~]*$"  # what json.dumps writes as it is (ensure_ascii): no escape needed
BOUNDED = ("pages", "not_found")  # tables with at most ROW_LIMIT paths a tenant-day


def summed(frames: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    """Count deltas of many batches added up per key (the frames share their columns)."""
    frame = pl.concat(frames, how="diagonal_relaxed")
    values = [c for c in frame.columns if c not in keys]
    return frame.group_by(keys).agg(pl.col(values).fill_null(0).sum())


def bounded(
    counts: dict[str, pl.DataFrame], views: pl.DataFrame
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Fold the paths of a tenant-day past ROW_LIMIT into OTHER, in `counts` and the page views
    (so uniques, entries and exits agree with views), keeping the first paths in sorted order: what
    a DO file keeps of a day that arrived in one batch (breakdowns.bound_keys)."""
    counts = dict(counts)
    for name in BOUNDED:
        frame = counts.get(name)
        if frame is None or frame.is_empty():
            continue
        sizes = frame.group_by(KEY).agg(n=pl.len()).filter(pl.col("n") > ROW_LIMIT)
        if sizes.is_empty():
            continue
        kept = [
            pl.DataFrame(
                {"path": bound_keys(part.get_column("path"), pl.Series([], dtype=pl.String), 0)}
            ).with_columns(tenant=pl.lit(tenant), date=pl.lit(date))
            for (tenant, date), part in frame.join(sizes, on=KEY, how="semi").group_by(KEY)
        ]
        keep = pl.concat(kept).select(*KEY, "path", _keep=pl.lit(True))
        over = sizes.select(KEY).with_columns(_over=pl.lit(True))
        counts[name] = summed([_fold(frame, over, keep)], [*KEY, "path"])
        if name == "pages":
            views = _fold(views, over, keep)
    return counts, views


def _fold(frame: pl.DataFrame, over: pl.DataFrame, keep: pl.DataFrame) -> pl.DataFrame:
    marked = frame.join(over, on=KEY, how="left").join(keep, on=[*KEY, "path"], how="left")
    folded = pl.col("_over").fill_null(False) & pl.col("_keep").is_null()
    path = pl.when(folded).then(pl.lit(OTHER)).otherwise(pl.col("path"))
    return marked.with_columns(path=path).drop("_over", "_keep")


def final_tables(
    counts: dict[str, pl.DataFrame], views: pl.DataFrame, config: Config | None = None
) -> dict[str, pl.DataFrame]:
    """Every warehouse table's rows for the tenant-days of `counts` and `views` (`date` a string):
    counts added up with the visitor metrics of all their page views, as finalized days."""
    counts, views = bounded(counts, views)
    if "path_times" in counts:  # the day's busiest paths, over all its batches (count/times.py)
        counts["path_times"] = busiest(counts["path_times"])
    metrics = visitor_metrics(views, config) if views.height else {}
    out: dict[str, pl.DataFrame] = {}
    for table in TABLES:
        if table is DAY:
            continue
        parts = [f for f in (counts.get(table.name), metrics.get(table.name)) if f is not None and f.height]
        on = [*KEY, *table.key_names]
        if not parts:
            continue  # no row of it: a flush writes none
        frame = parts[0]
        for other in parts[1:]:
            frame = frame.join(other, on=on, how="full", coalesce=True, nulls_equal=True)
        out[table.warehouse_name] = complete(frame, table)
    out[DAY.warehouse_name] = daily_of(out, metrics.get("day"))
    return {name: _dated(frame) for name, frame in out.items()}


def complete(frame: pl.DataFrame, table: tables.Table) -> pl.DataFrame:
    """A table's rows with every column of it, in order: a value none of the parts had is 0."""
    values = [c for c in table.names if c not in table.key_names]
    frame = frame.with_columns([pl.lit(0).alias(c) for c in values if c not in frame.columns])
    return frame.with_columns(pl.col(values).fill_null(0)).select(*KEY, *table.names)


def daily_of(out: dict[str, pl.DataFrame], day: pl.DataFrame | None) -> pl.DataFrame:
    """The `daily` rows of the tenant-days of `out` (every other table's final rows): the hourly
    counts summed over the day, the day's visitor metrics (`day`: tenant, date and DAY's visitor
    columns), the summary of its top pages and referrers (JSON, as a DO file writes it), finalized."""
    hourly = tables.BY_NAME["hourly"]
    per_day = [c.name for c in hourly.columns if c.per_day]
    rows = out["hourly"].group_by(KEY).agg(pl.col(per_day).sum())  # every day has requests
    own = DAY.of_kind("visitor")
    if day is not None and day.height:
        rows = rows.join(day.select(*KEY, *own), on=KEY, how="left")
    rows = rows.with_columns(
        [pl.col(c).fill_null(0) if c in rows.columns else pl.lit(0).alias(c) for c in own]
    )
    empty = pl.DataFrame()
    summaries = _summaries(out.get("pages", empty), out.get("referrers", empty))
    rows = rows.join(summaries, on=KEY, how="left").with_columns(
        pl.col("top_pages", "top_referrers").fill_null("[]"), finalized=pl.lit(True)
    )
    names = [name for name, _, _ in warehouse_columns(DAY)]
    return rows.select(*KEY, *names)


def _summaries(pages: pl.DataFrame, referrers: pl.DataFrame) -> pl.DataFrame:
    """top_pages and top_referrers per tenant-day, as a DO file's summary writes them."""
    top_pages = _top(pages, ["views", "path"], ["path", "views", "unique_views"], "top_pages")
    top_refs = _top(referrers, ["visits", "source"], ["source", "visits"], "top_referrers")
    return top_pages.join(top_refs, on=KEY, how="full", coalesce=True)


def _top(frame: pl.DataFrame, order: list[str], columns: list[str], name: str) -> pl.DataFrame:
    """Per tenant-day, the JSON list of its first TOP_LIMIT rows by count, then by name: the bytes
    `json.dumps` gives for them (a DO file's summary): its text quoted as json.dumps quotes it (a
    plain value as it is, any other by json.dumps itself), once per distinct value."""
    schema = {"tenant": pl.String, "date": pl.String, name: pl.String}
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    text, numbers = columns[0], columns[1:]
    ranked = frame.sort(order, descending=[True, False]).group_by(KEY, maintain_order=True).head(TOP_LIMIT)
    values = ranked.select(text).unique()
    # Printable ASCII but `"` and `\` is its own JSON text, quoted: json.dumps for the others only.
    plain = pl.col(text).str.contains(_PLAIN).fill_null(False)
    quoted = pl.concat(
        [
            values.filter(plain).with_columns(_quoted=pl.format('"{}"', pl.col(text))),
            values.filter(~plain).with_columns(
                _quoted=pl.col(text).map_elements(json.dumps, return_dtype=pl.String)
            ),
        ]
    )
    ranked = ranked.join(quoted, on=text, how="left", maintain_order="left")
    item = pl.concat_str(
        pl.lit(f'{{"{text}": '),
        pl.col("_quoted"),
        *(part for n in numbers for part in (pl.lit(f', "{n}": '), pl.col(n).cast(pl.Int64).cast(pl.String))),
        pl.lit("}"),
    )
    out = ranked.group_by(KEY, maintain_order=True).agg(item.str.join(", ").alias(name))
    return out.with_columns(pl.format("[{}]", pl.col(name)).alias(name)).cast(schema)  # type: ignore[arg-type]


def _dated(frame: pl.DataFrame) -> pl.DataFrame:
    """`date` as a date, as the warehouse has it."""
    if "date" not in frame.columns:
        return frame
    return frame.with_columns(pl.col("tenant").cast(pl.String), pl.col("date").cast(pl.String).str.to_date())
