"""App events from requests: route rules and the post route (README, "Route rules and events").

Adds `event` and `post_id` to a classified batch:
- a request with no event yet (every log line; NDJSON events keep theirs) whose status is below
  400 and whose method and path match a rule gets that rule's event, first rule first, and its
  post id from the rule's `post_id` group;
- otherwise a page view whose path matches the post route is a `post_view`;
- every page view whose path matches the post route gets its `post_id` (unless it has one).

One regex (all rules' paths as an alternation) scans the batch; the rules themselves run only on
the few rows it finds, so the common case costs one pass.
"""

from __future__ import annotations

import re

import polars as pl

from rings_cli.core.config import Config, Rule

POST_VIEW = "post_view"


def _ungrouped(pattern: str) -> str:
    """The same regex with named groups made non-capturing, so several can share one alternation."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def assign_events(frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Fill `event` and `post_id` (see the module docstring)."""
    event = frame.get_column("event")
    post_id = frame.get_column("post_id")
    path = frame.get_column("path")
    if config.rules:
        # The regex runs on the batch's distinct paths (a few per hundred lines), not every line.
        any_rule = "|".join(f"(?:{_ungrouped(r.path)})" for r in config.rules)
        distinct = path.drop_nulls().unique()
        matched = distinct.filter(distinct.str.contains(any_rule))
        hit = frame.select(
            event.is_null()
            & (pl.col("status") < 400)
            & pl.col("path").is_in(matched.implode()).fill_null(False)
        ).to_series()
        if hit.any():
            rows = hit.arg_true()
            found = frame[rows].select(_rules(config.rules))
            event = event.scatter(rows, found.get_column("event"))
            post_id = post_id.scatter(rows, found.get_column("post_id").fill_null(post_id.gather(rows)))
    views = frame.get_column("is_page_view").fill_null(False)
    if views.any():
        rows = views.arg_true()
        viewed = path.gather(rows)
        distinct = viewed.drop_nulls().unique()
        ids = distinct.str.extract(config.post_route, config.post_id_group)  # per distinct path
        route = viewed.replace_strict(distinct, ids, default=None, return_dtype=pl.String)
        old_event = event.gather(rows)
        post_view = pl.select(
            pl.when(old_event.is_null() & route.is_not_null()).then(pl.lit(POST_VIEW)).otherwise(old_event)
        ).to_series()
        event = event.scatter(rows, post_view)
        post_id = post_id.scatter(rows, post_id.gather(rows).fill_null(route))
    return frame.with_columns(event=event, post_id=post_id)


def _rules(rules: tuple[Rule, ...]) -> list[pl.Expr]:
    """`event` and `post_id` of the first matching rule, as two when/then chains."""
    event: pl.Expr = pl.lit(None, pl.String)
    post: pl.Expr = pl.lit(None, pl.String)
    for rule in reversed(rules):  # built inside out: the first rule ends up outermost
        match = pl.col("path").str.contains(rule.path)
        if rule.methods is not None:
            match = match & pl.col("method").is_in(list(rule.methods))
        group = rule.post_id_group
        value = pl.col("path").str.extract(rule.path, group) if group else pl.lit(None, pl.String)
        event = pl.when(match).then(pl.lit(rule.event)).otherwise(event)
        post = pl.when(match).then(value).otherwise(post)
    return [event.alias("event"), post.alias("post_id")]
