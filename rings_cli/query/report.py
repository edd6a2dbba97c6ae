"""Report: answer a date-range question from the warehouse, as the contract's JSON structure.

The SQL lives in `queries/*.sql` (one file a section); this module binds parameters and shapes
rows. It returns plain dicts and lists (typed in model.py: `Report`), so every output format
(table, JSON, CSV) renders the same numbers.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from rings_cli.core import bounds, defaults, definitions
from rings_cli.core.config import load_config
from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.enrich.zones import local_today, tenant_zone, zone_changes
from rings_cli.query import goals as goal_report
from rings_cli.query import times as time_report
from rings_cli.query.countries import country_name
from rings_cli.query.model import Change, Compare, DefinitionsRow, Place, Report, Sections, Totals
from rings_cli.query.readpath import KeptDatabase, ReadInfo, current_view, cursor

if TYPE_CHECKING:
    import duckdb

DEFAULT_LIMIT = defaults.DEFAULT_LIMIT
MAX_LIMIT = defaults.MAX_LIMIT
# What visitors use and where they come from (breakdowns.py); JSON keys of the same names.
BREAKDOWN_SECTIONS = ("browsers", "os", "devices", "countries", "not_found")
DEFAULT_DAYS = 7
# Past this many days, `hours` is left out (it would hold up to 24 rows a day); `hours_omitted`
# says so. Every other section stays, so a 10-year range is as quick as a week.
MAX_HOURS_DAYS = defaults.MAX_HOURS_DAYS
SECTIONS = (
    "totals",
    "days",
    "hours",
    "status",
    "bots",
    "top_pages",
    "top_referrers",
    "top_campaigns",
    "content",
    "tenants",
    *BREAKDOWN_SECTIONS,
)


def queries_dir() -> Path:
    """`queries/` ships inside the wheel as rings_cli/queries; in a checkout it sits beside the package."""
    package = Path(__file__).resolve().parents[1]  # rings_cli/
    for candidate in (package / "queries", package.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("queries directory not found")  # pragma: no cover - packaging bug


@cache
def query(name: str) -> str:
    return (queries_dir() / f"{name}.sql").read_text()


def parse_date(value: str | None, option: str) -> dt.date | None:
    """A date option or query parameter (None when absent): YYYY-MM-DD, 0001-01-01 to 9999-12-31."""
    return None if value is None else bounds.date(value, option)


def parse_period(value: str | None, option: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """A range's end (None when absent): a day, a month (YYYY-MM), a year (YYYY), `today` or
    `yesterday`, as (its first day, its last day); `today` is the tenant's own (bounds.period)."""
    return None if value is None else bounds.period(value, option, today)


@dataclass(frozen=True)
class RangeAsk:
    """The range a report is asked for, checked: `--start`, `--end` (range words), `--last`
    (`7d`...), `--all`. Which days it is depends on the data (`resolve`)."""

    start: str | None = None
    end: str | None = None
    last: str | None = None
    all_data: bool = False
    options: str = "--"  # how errors name the options: `--start` (rings report), `start` (rings serve)

    def check(self, today: dt.date) -> None:
        """Usage errors before anything is read: words that name no day, options that conflict."""
        o = self.options
        if self.all_data and (self.start or self.end or self.last):
            raise UsageError(f"{o}all shows every day with data: not with {o}start, {o}end or {o}last")
        if self.last is not None:
            bounds.span(self.last, f"{o}last")
            if self.start is not None:
                raise UsageError(f"{o}last counts back from {o}end (or the newest data): not with {o}start")
        first = parse_period(self.start, f"{o}start", today)
        final = parse_period(self.end, f"{o}end", today)
        if first is not None and final is not None and first[0] > final[1]:
            raise UsageError(f"{o}start {first[0]} is after {o}end {final[1]}")

    @property
    def default(self) -> bool:
        return not (self.start or self.end or self.last or self.all_data)

    def resolve(self, con: duckdb.DuckDBPyConnection, tenant: str | None, today: dt.date) -> Resolved:
        """The days to report, and where the data is (first and last day with data, or None)."""
        if self.default:
            found = _run(con, "range", {"tenant": tenant})[0]
            first, newest = found["first"], found["last"]
            if newest is not None:
                start, end = found["start"], found["end"]
            else:  # no data: the last 7 days
                start, end = bounds.shift(today, -(DEFAULT_DAYS - 1)), today
            note = None
            if first is not None and first < start:
                note = f"showing the last {DEFAULT_DAYS} days of data from {first} to {newest}"
                note += "; --all for everything"
            return Resolved(start, end, first, newest, note)
        extent = _run(con, "extent", {"tenant": tenant})[0]
        first, newest = extent["first"], extent["last"]
        o = self.options
        began = parse_period(self.start, f"{o}start", today)
        ended = parse_period(self.end, f"{o}end", today)
        if self.all_data:
            start, end = (first, newest) if newest is not None else (today, today)
        elif self.last is not None:
            count, unit = bounds.span(self.last, f"{o}last")
            # up to --end; else today, or the newest day with data when today has none
            end = ended[1] if ended is not None else today if newest is None or newest >= today else newest
            start = bounds.back(end, count, unit)
        elif began is not None and ended is not None:
            start, end = began[0], ended[1]
        elif began is not None:  # to the newest data; with none from it on, the period (a week at least)
            start = began[0]
            if newest is not None and newest >= start:
                end = newest
            else:
                end = max(began[1], bounds.shift(start, DEFAULT_DAYS - 1))
        else:
            assert ended is not None
            end = ended[1]
            start = bounds.shift(end, -(DEFAULT_DAYS - 1))
        if start > end:
            raise UsageError(f"{o}start {start} is after {o}end {end}")
        return Resolved(start, end, first, newest, None)


@dataclass(frozen=True)
class Resolved:
    """A range's days, where the data is (None: no data), and what to say about it."""

    start: dt.date
    end: dt.date
    first: dt.date | None
    last: dt.date | None
    note: str | None


def _run(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    sql = query(name)
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    cur = con.execute(sql, used)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


# The sections whose queries take longest (rows scanned: one per tenant-day and browser, country,
# page...; `days` also fills in the days without data), in that order; the others take about the same.
HEAVY = {"browsers": 5, "days": 4, "countries": 3, "top_pages": 2, "os": 1}


def run_all(
    con: duckdb.DuckDBPyConnection, names: list[str], params: dict[str, Any], parallel: bool = True
) -> dict[str, list[dict[str, Any]]]:
    """Each query's rows, two queries at a time: on a second cursor in a thread, as DuckDB lets go
    of the GIL while it runs one. The queries are small (a few ms each, mostly fixed cost), so two
    at a time keep both cores busy where DuckDB's own threads would not (a third off their time).
    Without `parallel`, one after the other: fewer CPU seconds (no thread, no second cursor), for
    a reader that re-reads all the time (`rings live`) rather than one that waits for its answer."""
    if not parallel:
        return {name: _run(con, name, params) for name in names}
    todo = sorted(names, key=lambda n: -HEAVY.get(n, 0))  # the longest first: the two end together
    out: dict[str, list[dict[str, Any]]] = {}
    failed: list[BaseException] = []

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        while not failed:
            try:
                name = todo.pop(0)  # atomic under the GIL: each query is taken once
            except IndexError:
                return
            try:
                out[name] = _run(cur, name, params)
            except BaseException as e:  # raised in the caller's thread, below
                failed.append(e)

    with cursor(con) as cur:
        helper = threading.Thread(target=work, args=(cur,), name="rings-report-query")
        helper.start()
        work(con)
        while helper.is_alive():  # its cursor must outlive its query, even on Ctrl-C
            try:
                helper.join()
            except KeyboardInterrupt as e:  # no new query starts; raised once the helper is done
                failed.insert(0, e)
    if failed:
        raise failed[0]
    return {name: out[name] for name in names}


def build_report(
    state: StateDir,
    tenant: str | None = None,
    start: str | None = None,
    end: str | None = None,
    limit: int = DEFAULT_LIMIT,
    today: dt.date | None = None,
    known_tenant: bool = True,
    compare: str | None = None,
    last: str | None = None,
    all_data: bool = False,
    options: str = "--",
    sections: Collection[str] | None = None,
    kept: KeptDatabase | None = None,
    parallel: bool = True,
    only: Collection[str] | None = None,
) -> Report:
    """The contract's report for `tenant` (None = all) over a range of the tenants' own dates
    (zones.py: each tenant's local days, summed by date for all tenants), inclusive.

    The range (`RangeAsk`): `start` and `end` are range words (a day, YYYY-MM, YYYY, `today`,
    `yesterday`: a period's first day as start, its last as end; `start` alone runs to the newest
    data), `last` counts back (`7d`, `4w`, `12m`) from `end` or the newest data, `all_data` is
    every day with data; none of them: the last 7 days that have data, with `range_note` saying so
    when the data goes back further.

    With `known_tenant`, a tenant the state dir holds no data for is a UsageError naming the
    closest known ones (`rings live` waits for a new tenant's data instead). With `compare`
    (`previous`, or `START:END`), the report gains a `compare` key: that period's totals, their
    change, and the previous numbers of the rows in each top list. `sections` (default all) are
    the sections to read; the others are left empty (`rings live` shows no days nor campaigns).
    `kept`: an in-memory database kept between reads (readpath.KeptDatabase; `rings live`);
    `parallel`: two queries at a time (`run_all`); `only`: the tenants the report may read (a site
    token's), all others as if they had no data (readpath.current_view)."""
    limit = bounds.whole_number(limit, f"{options}limit", 1, MAX_LIMIT)
    ask = RangeAsk(start, end, last, all_data, options)
    ask.check(today or dt.datetime.now(dt.UTC).date())  # the words; `today` is the tenant's, below
    parse_compare(compare, today or dt.datetime.now(dt.UTC).date(), f"{options}compare")
    state.require()
    config = load_config(None, state)  # rings.toml: the tenants' time zones (zones.py)
    if today is None:  # the default range ends on the tenant's own today
        today = local_today(config, tenant)
    against = parse_compare(compare, today, f"{options}compare")
    with current_view(state, tenant, kept=kept, only=only) as (con, info):
        if tenant is not None and known_tenant:
            _check_known(con, tenant)
        days = ask.resolve(con, tenant, today)
        start_d, end_d = days.start, days.end
        params = {"tenant": tenant, "start": start_d, "end": end_d, "limit": limit}
        wanted = [
            s
            for s in SECTIONS
            if (sections is None or s in sections) and (s != "hours" or not _hours_omitted(start_d, end_d))
        ]
        if sections is None or "definitions" in sections:  # the versions that counted the range
            wanted.append("definitions")
        goals_wanted = sections is None or "goals" in sections
        if goals_wanted:
            wanted += goal_report.QUERIES
        times_wanted = sections is None or "response_times" in sections
        if times_wanted:
            wanted += time_report.QUERIES
        rows = run_all(con, wanted, params, parallel)
        if tenant is None:  # tenants' zones may differ: an all-tenants hour row has no one UTC offset
            for row in rows.get("hours", []):
                row.pop("utc_offset", None)
        numbers = _assemble(tenant, start_d, end_d, rows)
        if goals_wanted:
            first = str(max(start_d, days.first)) if days.first is not None else None
            numbers.update(goal_report.sections(rows, config, tenant, limit, first))
        if times_wanted and (times := time_report.section(rows)) is not None:
            numbers["response_times"] = times
        compared = None
        if compare is not None:
            prev_start, prev_end = against or previous_period(start_d, end_d)
            compared = _compare(con, numbers, tenant, prev_start, prev_end, (days.first, days.last))
            if goals_wanted and ("goals" in numbers or "funnels" in numbers):
                prev = {**params, "start": prev_start, "end": prev_end}
                earlier = run_all(con, list(goal_report.QUERIES), prev, parallel)
                previous = goal_report.sections(earlier, config, tenant, limit)
                compared.update(goal_report.aligned(numbers, previous))  # type: ignore[typeddict-item]
    place: Place = {"timezone": tenant_zone(config, tenant)}
    changes = zone_changes(config, tenant, start_d, end_d)
    if changes:
        place["timezone_changes"] = changes
    if days.first is not None and days.last is not None:  # where the data is (to say so when not here)
        place["data_from"], place["data_to"] = str(days.first), str(days.last)
    if days.note is not None:
        place["range_note"] = days.note
    if compared is not None:
        place["compare"] = compared
    return {**numbers, **info.to_dict(), **place}  # the JSON's keys in this order (model.Report)


def parse_compare(
    value: str | None, today: dt.date | None = None, option: str = "--compare"
) -> tuple[dt.date, dt.date] | None:
    """`previous` (None back: the period just before, computed once the range is known) or
    `START:END`, range words as for --start and --end (`2015:2015` is the year 2015)."""
    if value is None or value == "previous":
        return None
    first, sep, last = value.partition(":")
    if not sep:
        raise UsageError(f"{option}: {value!r} is not START:END (YYYY-MM-DD:YYYY-MM-DD)")
    today = today or dt.datetime.now(dt.UTC).date()
    began, ended = parse_period(first, option, today), parse_period(last, option, today)
    assert began is not None and ended is not None
    if began[0] > ended[1]:
        raise UsageError(f"{option}: {began[0]} is after {ended[1]}")
    return began[0], ended[1]


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length that ends the day before `start` (a usage error when it would
    begin before 0001-01-01, where Python's dates begin)."""
    length = (end - start).days + 1
    if (start - bounds.FIRST_DAY).days < length:
        raise UsageError(f"--compare: no period of {length:,} days before {start}; compare with START:END")
    return bounds.shift(start, -length), bounds.shift(start, -1)


# Top lists compared row by row, and the columns that name a row.
COMPARED = {
    "top_pages": ("path",),
    "top_referrers": ("source",),
    "top_campaigns": ("source", "medium", "campaign"),
    "content": ("post_id",),
}


def _compare(
    con: duckdb.DuckDBPyConnection,
    report: Sections,
    tenant: str | None,
    start: dt.date,
    end: dt.date,
    data: tuple[dt.date | None, dt.date | None],
) -> Compare:
    """The comparison period's totals and status, and for each top list the previous numbers of
    the rows the report lists (same order; zeros for a row the period did not have). `data` is the
    first and last day with data: a period it covers only in part (or not at all) gets a `note`."""
    params = {"tenant": tenant, "start": start, "end": end}
    totals = _totals(_run(con, "totals", params)[0])
    days, covered = coverage(start, end, *data)
    out: Compare = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "totals": totals,
        "change": _change(report["totals"], totals),
        "status": {r["status"]: int(r["requests"]) for r in _run(con, "status", params)},
        "top_pages": _previous_rows(con, "top_pages", params, report["top_pages"]),
        "top_referrers": _previous_rows(con, "top_referrers", params, report["top_referrers"]),
        "top_campaigns": _previous_rows(con, "top_campaigns", params, report["top_campaigns"]),
        "content": _previous_rows(con, "content", params, report["content"]),
        "days": days,
        "covered_days": covered,
    }
    first, last = data
    where = f"data from {first} to {last}" if first is not None else "no data at all"
    if covered == 0:
        out["note"] = f"no data in the compared period {start} to {end} ({where})"
    elif covered < days:
        out["note"] = (
            f"the compared period {start} to {end} is only partly covered by data: "
            f"{covered:,} of its {days:,} days ({where})"
        )
    return out


def coverage(start: dt.date, end: dt.date, first: dt.date | None, last: dt.date | None) -> tuple[int, int]:
    """(days in [start, end], how many of them lie between the first and last day with data)."""
    days = (end - start).days + 1
    if first is None or last is None:
        return days, 0
    lo, hi = max(start, first), min(end, last)
    return days, max(0, (hi - lo).days + 1)


def _change(now: Totals, before: Totals) -> Change:
    """Each total's change against the compared period (`change_fraction`)."""
    return {
        "requests": change_fraction(now["requests"], before["requests"]),
        "page_views": change_fraction(now["page_views"], before["page_views"]),
        "unique_visitors": change_fraction(now["unique_visitors"], before["unique_visitors"]),
        "bytes": change_fraction(now["bytes"], before["bytes"]),
        "bot_requests": change_fraction(now["bot_requests"], before["bot_requests"]),
        "sessions": change_fraction(now["sessions"], before["sessions"]),
        "bounce_rate": change_fraction(now["bounce_rate"], before["bounce_rate"]),
        "avg_session_duration": change_fraction(now["avg_session_duration"], before["avg_session_duration"]),
    }


def change_fraction(current: float, previous: float) -> float | None:
    """A change against the previous period as a fraction for JSON (0.12 is +12%; charts.change
    says it for people), None when there was none before."""
    if not previous:
        return None
    return round((current - previous) / previous, 6)


# A row of a top list (model.py): the previous numbers of a row are a row of the same type.
Row = TypeVar("Row", bound=Mapping[str, object])


def _previous_rows(
    con: duckdb.DuckDBPyConnection, section: str, params: dict[str, Any], rows: list[Row]
) -> list[Row]:
    """The section's query over the comparison period, for exactly the given rows."""
    if not rows:
        return []
    keys = COMPARED[section]
    sql = re.sub(r"\s*LIMIT \$limit\s*;?\s*$", "", query(section).strip())
    where = " AND ".join(f"list_contains($k_{k}, q.{k})" for k in keys)
    wrapped = f"SELECT * FROM ({sql}) AS q WHERE {where}"
    bound = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    bound.update({f"k_{k}": list(dict.fromkeys(r[k] for r in rows)) for k in keys})
    cur = con.execute(wrapped, bound)
    names = [d[0] for d in cur.description]
    found = {
        tuple(r[k] for k in keys): _clean(r)
        for r in (dict(zip(names, row, strict=True)) for row in cur.fetchall())
    }
    out: list[Row] = []
    for row in rows:
        key = tuple(row[k] for k in keys)
        zero = {c: (v * 0 if isinstance(v, int | float) and c not in keys else v) for c, v in row.items()}
        out.append(cast(Row, found.get(key, zero)))  # the same query's columns as `row`
    return out


def check_known_tenant(state: StateDir, tenant: str) -> None:
    """`rings live --tenant T`: a tenant the state dir holds no data for is a UsageError naming
    the closest known ones, as for `rings report`. A state dir with no data yet has nothing to
    suggest: the dashboard waits for it."""
    if not state.root.is_dir():
        return
    with current_view(state, tenant) as (con, _):
        _check_known(con, tenant)


def _check_known(con: duckdb.DuckDBPyConnection, tenant: str) -> None:
    """An unknown tenant is a mistake to point out, not a report of zeros."""
    known = [r[0] for r in con.execute("SELECT DISTINCT tenant FROM daily ORDER BY tenant").fetchall()]
    if not known or tenant in known:
        return
    raise UsageError(f"no data for tenant {tenant!r}; known tenants: {', '.join(closest(tenant, known))}")


def closest(name: str, known: list[str]) -> list[str]:
    """The known tenants a mistyped name most likely meant (the first few when none is close)."""
    return difflib.get_close_matches(name, known, n=3, cutoff=0.5) or known[:3]


def empty_report(tenant: str | None, start: dt.date, end: dt.date) -> Report:
    """The report of a state dir that holds nothing yet: zeros, in the same structure (read from
    nothing, and without a time zone)."""
    nowhere: Place = {}
    return {**_assemble(tenant, start, end, {}), **ReadInfo().to_dict(), **nowhere}


def _hours_omitted(start: dt.date, end: dt.date) -> bool:
    return (end - start).days + 1 > MAX_HOURS_DAYS


def _assemble(
    tenant: str | None, start: dt.date, end: dt.date, s: dict[str, list[dict[str, Any]]]
) -> Sections:
    report: Sections = {
        "tenant": tenant,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "totals": _totals((s.get("totals") or [{}])[0]),
        "days": _rows(s, "days"),
        "hours": _rows(s, "hours"),
        "status": {r["status"]: int(r["requests"]) for r in s.get("status", [])},
        "bots": _bots(s.get("bots", [])),
        "top_pages": _rows(s, "top_pages"),
        "top_referrers": _rows(s, "top_referrers"),
        "top_campaigns": _rows(s, "top_campaigns"),
        "content": _rows(s, "content"),
        # BREAKDOWN_SECTIONS, in their order
        "browsers": _rows(s, "browsers"),
        "os": _rows(s, "os"),
        "devices": _rows(s, "devices"),
        "countries": _rows(s, "countries"),
        "not_found": _rows(s, "not_found"),
    }
    for row in report["countries"]:
        row["name"] = country_name(row["country"])
    if _hours_omitted(start, end):
        report["hours_omitted"] = (
            f"the range is longer than {MAX_HOURS_DAYS} days: hourly rows are left out; "
            "ask for a shorter range to see them"
        )
    versions = _rows(s, "definitions")
    if len(versions) > 1:
        report["definitions_changed"] = [
            cast(DefinitionsRow, {**row, "changes": definitions.CHANGES.get(row["version"], "")})
            for row in versions
        ]
    if tenant is None:
        report["tenants"] = _rows(s, "tenants")
    return report


def _bots(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Bot requests by reason: every reason (0 when none), then those of days counted before
    reasons were recorded, when there are any."""
    out = dict.fromkeys(definitions.BOT_REASONS, 0)
    for row in rows:
        out[row["reason"]] = int(row["requests"])
    return out


def _rows(s: dict[str, list[dict[str, Any]]], name: str) -> list[Any]:
    """A section's rows, with plain numbers. Their columns are the section's query's, typed where
    they go (model.py; tests/test_report_model.py checks that the two agree)."""
    return [_clean(r) for r in s.get(name, [])]


def _totals(row: Mapping[str, Any]) -> Totals:
    """The contract's totals from a row of queries/totals.sql (zeros for what it lacks)."""
    return {
        "requests": _int(row.get("requests")),
        "page_views": _int(row.get("page_views")),
        "unique_visitors": _int(row.get("unique_visitors")),
        "bytes": _int(row.get("bytes")),
        "bot_requests": _int(row.get("bot_requests")),
        "sessions": _int(row.get("sessions")),
        "bounce_rate": _float(row.get("bounce_rate")),
        "avg_session_duration": _float(row.get("avg_session_duration")),
    }


def _int(value: Any) -> int:
    return int(value or 0)


def _float(value: Any) -> float:
    return round(float(value or 0), 6)


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """DuckDB sums come back as HUGEINT/Decimal; JSON wants plain ints and floats."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        elif isinstance(value, float):
            value = round(value, 6)
        out[key] = value
    return out
