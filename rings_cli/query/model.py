"""The report's shape: what `build_report` returns and every rendering reads (JSON, CSV, the
tables, the HTML page, `rings live`, `rings serve`), defined once.

The contract's JSON (CONTRACT.md) with the extra keys Rings adds. Rows carry the columns of their
query in `queries/` (`queries/days.sql` for `DayRow`, ...; tests/test_report_model.py checks that
they agree). A key that only some reports have is `NotRequired`: read it with `in` or `.get`.

Types only: this module imports nothing of Rings and no library, so `rings report -f json` pays
nothing for it. Its annotations are evaluated (no `from __future__ import annotations`), so each
type's `__required_keys__` and `__optional_keys__` are right at run time too.
"""

from typing import Any, Literal, NotRequired, TypedDict

# The keys of `Totals` (and of `Change`), for code that picks one by name.
TotalKey = Literal[
    "requests",
    "page_views",
    "unique_visitors",
    "bytes",
    "bot_requests",
    "sessions",
    "bounce_rate",
    "avg_session_duration",
]


class Totals(TypedDict):
    """The range's totals (queries/totals.sql). Rates are fractions, durations seconds."""

    requests: int
    page_views: int
    unique_visitors: int
    bytes: int
    bot_requests: int
    sessions: int
    bounce_rate: float
    avg_session_duration: float


class Change(TypedDict):
    """Each total's change against the compared period as a fraction (0.12 is +12%); None when
    the compared period had none."""

    requests: float | None
    page_views: float | None
    unique_visitors: float | None
    bytes: float | None
    bot_requests: float | None
    sessions: float | None
    bounce_rate: float | None
    avg_session_duration: float | None


class DayRow(TypedDict):
    """One day of the range, days without data as zeros (queries/days.sql)."""

    date: str  # YYYY-MM-DD, the tenant's own day
    requests: int
    page_views: int
    unique_visitors: int
    bytes: int
    sessions: int
    bounce_rate: float
    avg_session_duration: float


class HourRow(TypedDict):
    """One hour of a day that saw any request (queries/hours.sql): the tenant's local hour."""

    date: str
    hour: int
    utc_offset: NotRequired[int]  # minutes east of UTC; one tenant's report only
    page_views: int
    unique_visitors: int
    requests: int
    sessions: int
    bounce_rate: float
    avg_time_on_page: float
    posts_created: int
    comments_created: int
    reactions_given: int


class PageRow(TypedDict):
    """A page of `top_pages` (queries/top_pages.sql)."""

    path: str
    views: int
    unique_views: int
    entries: int
    exits: int
    avg_time_seconds: float


class ReferrerRow(TypedDict):
    """A source of `top_referrers`: sessions by the source of their first page view."""

    source: str
    visits: int


class CampaignRow(TypedDict):
    """Sessions that arrived with a utm_source (queries/top_campaigns.sql)."""

    source: str
    medium: str
    campaign: str
    visits: int


class ContentRow(TypedDict):
    """A post of `content` (queries/content.sql)."""

    post_id: str
    views: int
    unique_views: int
    reactions: int
    comments: int
    shares: int
    reads_completed: int
    avg_read_time: float


class TenantRow(TypedDict):
    """One tenant's totals over the range (queries/tenants.sql), in an all-tenants report."""

    tenant: str
    requests: int
    page_views: int
    unique_visitors: int
    sessions: int


class BreakdownRow(TypedDict):
    """What the rows of browsers, OS, devices and countries all have."""

    page_views: int
    unique_visitors: int
    requests: int


class BrowserRow(BreakdownRow):
    browser: str
    version: str


class OsRow(BreakdownRow):
    os: str


class DeviceRow(BreakdownRow):
    device: str  # desktop, mobile, tablet, bot, other


class CountryRow(BreakdownRow):
    country: str  # ISO 3166-1 alpha-2, or `unknown`
    name: str  # its English name (countries.py)


class NotFoundRow(TypedDict):
    """A path answered 404 (queries/not_found.sql)."""

    path: str
    requests: int
    bot_requests: int


class DefinitionsRow(TypedDict):
    """The requests of the range one version of the definitions counted (queries/definitions.sql)."""

    version: int
    first: str  # its first and last day in the range
    last: str
    tenant_days: int
    requests: int
    changes: str  # what that version counts (core/definitions.py)


class GoalSourceRow(TypedDict):
    """Converting visitors by the referrer source of the session they first completed the goal in."""

    source: str
    visitors: int


class GoalRow(TypedDict):
    """A goal over the range (queries/goals.sql): summed over its tenant-days; the rate is the
    summed visitors over the summed unique visitors of the days it was counted on."""

    goal: str
    visitors: int
    completions: int
    conversion_rate: float
    sources: list[GoalSourceRow]


class FunnelStep(TypedDict):
    """Visitors who reached this step (and every one before it) in one session."""

    step: str  # as rings.toml names it ("/pricing", "goal:signup"), or `step N` for one no longer there
    visitors: int


class FunnelRow(TypedDict):
    """A funnel over the range (queries/funnels.sql): each step's visitors, summed over tenant-days;
    `conversion_rate` is the last step's visitors over the first's."""

    funnel: str
    steps: list[FunnelStep]
    conversion_rate: float


class SlowPage(TypedDict):
    """A path of `slowest_pages` (queries/slowest_pages.sql): seconds; percentiles within 2%."""

    path: str
    count: int
    mean: float
    p50: float
    p95: float
    max: float


class TimeHour(TypedDict):
    """The requests of one hour of the day that carry a time, over the range."""

    hour: int
    count: int
    mean: float
    p50: float
    p95: float


class ResponseTimes(TypedDict):
    """How long the server took (count/times.py), over the requests whose lines carry a time:
    count and mean exact, percentiles and max within 2%; seconds."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float
    slowest_pages: list[SlowPage]  # paths with at least 5 timed requests, by p95
    hours: list[TimeHour]  # per hour of the day ("time served")


class Compare(TypedDict):
    """`--compare`: the compared period's totals and status, and the previous numbers of the rows
    each top list shows (same rows, same order; zeros for a row the period did not have)."""

    start: str
    end: str
    totals: Totals
    change: Change
    status: dict[str, int]
    top_pages: list[PageRow]
    top_referrers: list[ReferrerRow]
    top_campaigns: list[CampaignRow]
    content: list[ContentRow]
    goals: NotRequired[list[GoalRow]]  # the report's goals, the same rows in the same order
    funnels: NotRequired[list[FunnelRow]]
    days: int  # days in the compared period
    covered_days: int  # how many of them lie between the first and last day with data
    note: NotRequired[str]  # the period is only partly covered by data, or not at all


class Sections(TypedDict):
    """The report's numbers over [start, end]: the first keys of a report."""

    tenant: str | None  # None: all tenants
    start: str
    end: str
    totals: Totals
    days: list[DayRow]
    hours: list[HourRow]  # empty when `hours_omitted`
    status: dict[str, int]  # requests by HTTP status (`-`: none, the connection closed first)
    bots: dict[str, int]  # bot requests by reason: crawler, library, referrer spam, outdated browser
    top_pages: list[PageRow]
    top_referrers: list[ReferrerRow]
    top_campaigns: list[CampaignRow]
    content: list[ContentRow]
    browsers: list[BrowserRow]
    os: list[OsRow]
    devices: list[DeviceRow]
    countries: list[CountryRow]
    not_found: list[NotFoundRow]
    hours_omitted: NotRequired[str]  # why `hours` is empty: the range is too long for hourly rows
    # The range holds days counted by different versions of the definitions: each version's days.
    definitions_changed: NotRequired[list[DefinitionsRow]]
    tenants: NotRequired[list[TenantRow]]  # all-tenants reports only
    # Goals and funnels (rings.toml): absent when none is configured and the range holds none.
    goals: NotRequired[list[GoalRow]]
    # A goal first counted after the range's first day with data (added to rings.toml later: days
    # finalized before have no numbers for it): goal -> that first day.
    goals_since: NotRequired[dict[str, str]]
    funnels: NotRequired[list[FunnelRow]]
    response_times: NotRequired[ResponseTimes]  # absent: no line of the range carries a time


class Freshness(TypedDict):
    """Where the numbers were read from (readpath.ReadInfo): the next keys of a report."""

    as_of: str | None  # the newest commit read, ISO 8601; None when there was none
    live_tenant_days: int  # tenant-days read from their DO files (not yet flushed)
    damaged: NotRequired[list[str]]  # DO files that could not be read, and what was shown instead
    # A shared warehouse: {"warehouse": {host: its last flush}, "this_host": its newest DO commit}
    as_of_parts: NotRequired[dict[str, Any]]


class Place(TypedDict, total=False):
    """The report's time zone and where its data lies: the last keys of a report."""

    timezone: str  # IANA name, or `per tenant`; absent from `empty_report`
    timezone_changes: list[str]  # a tenant's zone changed inside the range
    data_from: str  # the first and last day with data (for the tenant), whatever the range
    data_to: str
    range_note: str  # the default range shows only part of the data: which part
    compare: Compare


class Report(Sections, Freshness, Place):
    """The whole report. Its JSON has the keys in this order: `Sections`, `Freshness`, `Place`."""
