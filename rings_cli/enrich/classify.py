"""Classify requests: bot or human, page or asset, page view or not (contract definitions).

A request is a bot for one of four reasons (`bot_reason`, null for a person), the first that
applies: its agent is an HTTP library or tool (`library`) or a crawler (`crawler`), both decided
once per distinct agent (bots.py); its referrer's host is referrer spam (spam.py, once per distinct
referrer); or its browser is outdated on the line's date (stale.py, once per distinct agent, then
one comparison of times). Each test costs a pass over a batch's distinct values, and a pass over its
lines only when some value of the batch has that reason.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from rings_cli.core.config import DEFAULT_EXCLUDE_PATHS, DEFAULT_PAGE_PARAMS, Config
from rings_cli.enrich.bots import CRAWLER, LIBRARY, OUTDATED, REFERRER_SPAM, agent_reasons
from rings_cli.enrich.breakdowns import parse_agent
from rings_cli.enrich.spam import spam_domains, spam_referrers
from rings_cli.enrich.stale import cutoff

# A path is a page when its last segment has no extension, or one of these (contract).
PAGE_EXTENSIONS = ("html", "htm", "php", "asp", "aspx", "jsp")
_HAS_EXTENSION = r"\.[A-Za-z0-9]+$"
_PAGE_EXTENSION = r"(?i)\.(?:" + "|".join(PAGE_EXTENSIONS) + r")$"
# A feed is an asset (contract): last segment `feed`, `rss` or `atom` (a trailing slash allowed),
# or a name ending in .xml, .rss, .atom.
_FEED = r"(?i)(?:(?:^|/)(?:feed|rss|atom)/?$|\.(?:xml|rss|atom)$)"


def exclude_regex(patterns: tuple[str, ...]) -> str | None:
    """One case-insensitive alternation of the excluded path patterns (None: exclude nothing)."""
    return "(?i)" + "|".join(f"(?:{p})" for p in patterns) if patterns else None


def page_path(target: pl.Expr, params: tuple[str, ...] = DEFAULT_PAGE_PARAMS) -> pl.Expr:
    """The page path (contract): the path without its query, except the query parameters named in
    `params` (rings.toml `page_params`), kept in the order of their names: `/index.php?id=46&
    option=com_content`. A parameter's first value counts; one without a value is left out, and so
    is every parameter not named (none of them is ever stored). One expression: a regex per name
    over the query, no Python per line."""
    parts = target.str.split_exact("?", 1)
    path = parts.struct.field("field_0")
    if not params:
        return path
    query = parts.struct.field("field_1")
    kept = [
        pl.lit(f"{name}=") + query.str.extract(rf"(?:^|&){re.escape(name)}=([^&#]+)", 1)
        for name in sorted(set(params))
    ]
    joined = pl.concat_str(kept, separator="&", ignore_nulls=True)
    return pl.when(joined.fill_null("") != "").then(path + "?" + joined).otherwise(path)


def page_paths(frame: pl.DataFrame, params: tuple[str, ...]) -> pl.Expr:
    """`page_path` of column `target`, computed on the batch's distinct targets that have a query
    (a few per hundred lines): half the cost of running the regexes on every line."""
    bare = pl.col("target").str.split_exact("?", 1).struct.field("field_0")
    if not params:
        return bare
    targets = frame.get_column("target")
    queried = targets.filter(targets.str.contains("?", literal=True)).unique()
    if queried.is_empty():
        return bare
    paths = queried.to_frame("target").select(page_path(pl.col("target"), params)).to_series()
    return pl.col("target").replace_strict(queried, paths, default=bare, return_dtype=pl.String)


def outdated_cutoffs(agents: list[str], latest: dt.datetime) -> dict[str, dt.datetime]:
    """The agents that are outdated by `latest` (the batch's last time), with the instant from
    which each is (stale.cutoff; ua-parser's cached family and major)."""
    out = {}
    for ua in agents:
        agent = parse_agent(ua)
        when = cutoff(agent.browser, agent.version, ua)
        if when is not None and when <= latest:
            out[ua] = when
    return out


def bot_reason(frame: pl.DataFrame, config: Config) -> pl.Expr:
    """Each row's bot reason (null: a person), as one expression over columns ua, referrer, ts."""
    distinct = frame.get_column("ua").drop_nulls().unique()
    distinct = distinct.filter((distinct != "") & (distinct != "-"))
    reasons = agent_reasons(distinct)
    tests: list[tuple[pl.Expr, str]] = []
    for reason in (LIBRARY, CRAWLER):
        agents = [ua for ua, why in reasons.items() if why == reason]
        if agents:
            tests.append((pl.col("ua").is_in(pl.Series(agents, dtype=pl.String).implode()), reason))
    domains = spam_domains(config.referrer_spam, config.spam_domains)
    if domains and "referrer" in frame.columns:
        spam = spam_referrers(frame.get_column("referrer"), domains)
        if spam.len():
            tests.append((pl.col("referrer").is_in(spam.implode()), REFERRER_SPAM))
    if config.outdated_browsers and "ts" in frame.columns and frame.height:
        latest = frame.get_column("ts").max()
        if isinstance(latest, dt.datetime):
            people = [ua for ua in distinct.to_list() if ua not in reasons]
            cutoffs = outdated_cutoffs(people, latest)
            if cutoffs:
                since = pl.col("ua").replace_strict(
                    list(cutoffs),
                    list(cutoffs.values()),
                    default=None,
                    return_dtype=frame.schema["ts"],
                )
                tests.append((pl.col("ts") >= since, OUTDATED))
    if not tests:
        return pl.lit(None, pl.String)
    chain: Any = pl.when(tests[0][0].fill_null(False)).then(pl.lit(tests[0][1]))
    for test, reason in tests[1:]:
        chain = chain.when(test.fill_null(False)).then(pl.lit(reason))
    return chain.otherwise(pl.lit(None, pl.String))


def classify(
    frame: pl.DataFrame, exclude: tuple[str, ...] = DEFAULT_EXCLUDE_PATHS, config: Config | None = None
) -> pl.DataFrame:
    """Add `path` (the page path: `page_path`), `bot_reason` (crawler, library, referrer spam,
    outdated browser; null for a person), `is_bot` and `is_page_view` columns; paths matching
    `exclude` (regexes) are never page views. Whether a path is a page (its extension, a feed,
    `exclude`) is decided on the path without its query. `config`: the referrer-spam and
    outdated-browser settings, and `page_params`."""
    config = config or Config()
    excluded = exclude_regex(exclude)
    reason = bot_reason(frame, config)
    bare = pl.col("target").str.split_exact("?", 1).struct.field("field_0")
    status = pl.col("status")
    return (
        frame.with_columns(path=page_paths(frame, config.page_params), _bare=bare, bot_reason=reason)
        .with_columns(is_bot=pl.col("bot_reason").is_not_null())
        .with_columns(
            is_page_view=(
                ~pl.col("is_bot")
                & (pl.col("method") == "GET")
                & (status.is_between(200, 299) | (status == 304))
                & pl.col("_bare").is_not_null()
                & (
                    ~pl.col("_bare").str.contains(_HAS_EXTENSION)
                    | pl.col("_bare").str.contains(_PAGE_EXTENSION)
                )
                & ~pl.col("_bare").str.contains(_FEED)
                & (~pl.col("_bare").str.contains(excluded) if excluded else pl.lit(True))
            ).fill_null(False),
        )
        .drop("_bare")
    )
