"""Classify requests: bot or human, page or asset, page view or not (contract definitions).

Bots come from the maintained `crawler-user-agents` list: its ~1,500 patterns compile into one
regex, matched only against the distinct user agents of a batch.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import polars as pl

from rings_cli.core.config import DEFAULT_EXCLUDE_PATHS

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


@cache
def bot_pattern() -> str:
    """One alternation of every crawler-user-agents pattern (case-sensitive, as the list intends)."""
    data = resources.files("crawleruseragents").joinpath("crawler-user-agents.json").read_text()
    patterns = [entry["pattern"] for entry in json.loads(data)]
    return "|".join(f"(?:{p})" for p in patterns)


def bot_agents(ua: pl.Series) -> pl.Series:
    """The distinct user agents of `ua` that are bots: the regex runs once per distinct string."""
    distinct = ua.drop_nulls().unique()
    return distinct.filter(distinct.str.contains(bot_pattern()))


def classify(frame: pl.DataFrame, exclude: tuple[str, ...] = DEFAULT_EXCLUDE_PATHS) -> pl.DataFrame:
    """Add `path` (target without query), `is_bot` and `is_page_view` columns; paths matching
    `exclude` (regexes) are never page views."""
    excluded = exclude_regex(exclude)
    bots = bot_agents(frame.get_column("ua"))
    path = pl.col("target").str.split_exact("?", 1).struct.field("field_0")
    status = pl.col("status")
    return frame.with_columns(
        path=path,
        is_bot=pl.col("ua").is_in(bots.implode()).fill_null(False),
    ).with_columns(
        is_page_view=(
            ~pl.col("is_bot")
            & (pl.col("method") == "GET")
            & (status.is_between(200, 299) | (status == 304))
            & pl.col("path").is_not_null()
            & (~pl.col("path").str.contains(_HAS_EXTENSION) | pl.col("path").str.contains(_PAGE_EXTENSION))
            & ~pl.col("path").str.contains(_FEED)
            & (~pl.col("path").str.contains(excluded) if excluded else pl.lit(True))
        ).fill_null(False),
    )
