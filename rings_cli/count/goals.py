"""Goals and funnels (core/goals.py) counted with Polars, whole batches at once.

Completions are counts of lines (page views whose path matches, non-bot requests of the event), so
late lines add them too. Visitors, sources and funnel steps are visitor metrics: computed from a
tenant-day's stored rows of the visitors a batch touches, like sessions (sessions.py), from page
views and the event rows kept beside them (`event` set). For goals and funnels a visitor's page
views and events form one timeline, cut into sessions where a gap exceeds 30 minutes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from rings_cli.core.goals import GOAL_PREFIX, Funnel, Goal, pattern_regex

if TYPE_CHECKING:
    from rings_cli.core.config import Config

DAY = ["tenant", "date"]
PERSON = [*DAY, "visitor"]
SESSION_GAP_US = 30 * 60 * 1_000_000
DIRECT = "direct"


def goal_events(config: Config) -> list[str]:
    """The events some goal counts: only their lines are kept as event rows."""
    return sorted({g.event for g in config.goals if g.event})


def _tenants(item: Goal | Funnel, items: tuple[Goal, ...] | tuple[Funnel, ...]) -> pl.Expr:
    """Rows of the tenants `item` applies to: its own tenant, or (a global one) every tenant
    without its own entry of that name."""
    if item.tenant is not None:
        return pl.col("tenant") == item.tenant
    own = sorted({i.tenant for i in items if i.tenant is not None and i.name == item.name})
    return ~pl.col("tenant").is_in(own) if own else pl.lit(True)


def _path_match(rows: pl.DataFrame, regex: str) -> pl.Expr:
    """Page rows whose path matches: the regex runs on the distinct paths, not every row."""
    paths = rows.filter(pl.col("event").is_null()).get_column("path").drop_nulls().unique()
    hits = paths.filter(paths.str.contains(regex))
    return pl.col("event").is_null() & pl.col("path").is_in(hits.implode()).fill_null(False)


def _goal_match(rows: pl.DataFrame, goal: Goal) -> pl.Expr:
    if goal.event is not None:
        return pl.col("event") == goal.event
    assert goal.regex is not None
    return _path_match(rows, goal.regex)


def matches(rows: pl.DataFrame, config: Config) -> pl.DataFrame:
    """(row, goal) for every row of `rows` (columns `_row`, tenant, path, event) that completes a
    goal of its tenant."""
    parts = [
        rows.filter(_tenants(goal, config.goals) & _goal_match(rows, goal)).select(
            "_row", goal=pl.lit(goal.name, pl.String)
        )
        for goal in config.goals
    ]
    if not parts:
        return pl.DataFrame(schema={"_row": pl.UInt32, "goal": pl.String})
    return pl.concat(parts)


def completions(frame: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Per tenant-day and goal of the batch's tenants: page views and non-bot event requests that
    complete it (late lines too), with a 0 row for each goal none completed."""
    if not config.goals:
        return (
            frame.select(*DAY)
            .clear()
            .with_columns(goal=pl.lit(None, pl.String), completions=pl.lit(0, pl.Int64))
        )
    events = goal_events(config)
    pages = frame.filter(pl.col("is_page_view")).select(*DAY, "path", event=pl.lit(None, pl.String))
    acts = frame.filter(~pl.col("is_bot") & pl.col("event").is_in(events)).select(*DAY, "path", "event")
    rows = pl.concat([pages, acts]).with_row_index("_row")
    found = matches(rows, config).join(rows.select("_row", *DAY), on="_row")
    counted = found.group_by([*DAY, "goal"]).agg(completions=pl.len())
    days = frame.select(DAY).unique()
    defined = pl.concat(
        [
            days.filter(_tenants(goal, config.goals)).with_columns(goal=pl.lit(goal.name, pl.String))
            for goal in config.goals
        ]
    ).unique()
    out = defined.join(counted, on=[*DAY, "goal"], how="left")
    return out.with_columns(pl.col("completions").fill_null(0).cast(pl.Int64))


def goal_metrics(views: pl.DataFrame, config: Config) -> dict[str, pl.DataFrame]:
    """goals (visitors), goal_sources and funnels of some visitors' complete rows (tenant, date and
    sessions.VIEW_SCHEMA, event rows included)."""
    out = {
        "goals": pl.DataFrame(schema={**_DAY_SCHEMA, "goal": pl.String, "visitors": pl.Int64}),
        "goal_sources": pl.DataFrame(
            schema={**_DAY_SCHEMA, "goal": pl.String, "source": pl.String, "visitors": pl.Int64}
        ),
        "funnels": pl.DataFrame(
            schema={**_DAY_SCHEMA, "funnel": pl.String, "step": pl.Int32, "visitors": pl.Int64}
        ),
    }
    if not (config.goals or config.funnels) or views.is_empty():
        return out
    rows = (
        views.sort([*PERSON, "ts", "path", "source"], nulls_last=True)
        .with_row_index("_row")
        .with_columns(gap=pl.col("ts").diff().over(PERSON))
        .with_columns(
            session=(pl.col("gap").is_null() | (pl.col("gap") > SESSION_GAP_US)).cum_sum().over(PERSON)
        )
    )
    # A session's source: that of its first page view (a session of events only: direct).
    starts = rows.group_by([*PERSON, "session"]).agg(
        source=pl.col("source").filter(pl.col("event").is_null()).first()
    )
    found = matches(rows, config).join(rows.select("_row", *PERSON, "session"), on="_row")
    if config.goals:
        out["goals"] = found.group_by([*DAY, "goal"]).agg(visitors=pl.col("visitor").n_unique())
        first = found.sort("_row").group_by([*PERSON, "goal"]).agg(pl.col("session").first())
        out["goal_sources"] = (
            first.join(starts, on=[*PERSON, "session"], how="left")
            .with_columns(pl.col("source").fill_null(DIRECT))
            .group_by([*DAY, "goal", "source"])
            .agg(visitors=pl.len())
        )
    if config.funnels:
        out["funnels"] = _funnels(rows, found, config)
    return out


_DAY_SCHEMA = {"tenant": pl.String, "date": pl.String}


def _funnels(rows: pl.DataFrame, found: pl.DataFrame, config: Config) -> pl.DataFrame:
    """Visitors per funnel step: a session reaches step k when it holds steps 1..k in order (each
    a later row than the one before; other rows in between allowed). Greedy earliest matching is
    exact for "in order", and each step is one vectorised pass over all sessions."""
    session = [*PERSON, "session"]
    parts = []
    for funnel in config.funnels:
        scope = rows.filter(_tenants(funnel, config.funnels))
        if scope.is_empty():
            continue
        reached: pl.DataFrame | None = None
        for index, step in enumerate(funnel.steps, 1):
            if step.startswith(GOAL_PREFIX):
                name = step[len(GOAL_PREFIX) :]
                hits = found.filter(pl.col("goal") == name).select(*session, "_row")
                hits = hits.join(scope.select("_row"), on="_row", how="semi")
            else:
                hits = scope.filter(_path_match(scope, pattern_regex(step))).select(*session, "_row")
            if reached is not None:
                hits = hits.join(reached, on=session).filter(pl.col("_row") > pl.col("_at")).drop("_at")
            reached = hits.group_by(session).agg(_at=pl.col("_row").min())
            if reached.is_empty():
                break
            parts.append(
                reached.group_by(DAY)
                .agg(visitors=pl.col("visitor").n_unique())
                .with_columns(funnel=pl.lit(funnel.name, pl.String), step=pl.lit(index, pl.Int32))
            )
    if not parts:
        return pl.DataFrame(
            schema={**_DAY_SCHEMA, "funnel": pl.String, "step": pl.Int32, "visitors": pl.Int64}
        )
    return pl.concat(parts, how="diagonal_relaxed").select(*DAY, "funnel", "step", "visitors")


def recount(views: pl.DataFrame, config: Config, tenant: str, date: str) -> dict[str, pl.DataFrame]:
    """A tenant-day's goal tables counted again from all its stored rows (`views`: tenant, date and
    sessions.VIEW_SCHEMA): completions are its matching page views and event rows (an open day has
    no late lines, and keeps no bot's), with a 0 row for each goal none completed."""
    frame = views.select(*DAY, "path", "event").with_columns(
        is_page_view=pl.col("event").is_null(), is_bot=pl.lit(False)
    )
    day = pl.DataFrame({"tenant": [tenant], "date": [date]})
    counted = completions(
        pl.concat([frame, day], how="diagonal").with_columns(
            pl.col("is_page_view").fill_null(False), pl.col("is_bot").fill_null(False)
        ),
        config,
    )
    metrics = goal_metrics(views, config)
    goals = counted.join(metrics["goals"], on=[*DAY, "goal"], how="full", coalesce=True).with_columns(
        pl.col("completions", "visitors").fill_null(0)
    )
    return {**metrics, "goals": goals}
