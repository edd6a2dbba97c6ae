"""Renderers: the ingest summary and the report as Rich tables, JSON or CSV (JSON and CSV from
export.py, which needs no Rich: `rings report -f json` never imports it).

Pure functions from plain data to text or renderables; the CLI chooses where they go.
Every value from a log (paths, sources, campaigns, post ids, file names) is attacker-controlled: it
goes through `safe_text` and into a `Text` cell, never into a markup string (see rings_cli/core/text.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Span, Text

from rings_cli.core.defaults import MAX_HOURS_DAYS
from rings_cli.core.text import cell, plural, safe_text
from rings_cli.query.export import CSV_SECTIONS, report_csv, report_json  # noqa: F401 - also render's names
from rings_cli.query.model import Report, TotalKey, Totals
from rings_cli.query.periods import periods
from rings_cli.ui.charts import (  # duration and human_bytes: shared with the HTML page and `rings live`
    VIEWS,
    VISITORS,
    change,
    daily_chart,
    definitions_note,
    duration,
    hour_chart,
    human_bytes,
    middle_cut,
    range_notes,
    response_time,
    zone_label,
)


def literal(value: object, style: str = "") -> Text:
    """Log text as a Rich Text: shown as written (never parsed as markup), controls escaped."""
    return Text(safe_text(value), style=style)


def _named(tenants: list[str], shown: int = 10) -> str:
    """` (a, b, c)`: which tenants a run saw, the first `shown` of them, then how many more."""
    if not tenants:
        return ""
    names = ", ".join(safe_text(t) for t in tenants[:shown])
    more = f" and {len(tenants) - shown:,} more" if len(tenants) > shown else ""
    return f" ({names}{more})"


def summary_text(summary: dict[str, Any]) -> str:
    """The one-paragraph ingest summary a person reads after a run."""
    rejected = summary["rejected"]
    reasons = ", ".join(f"{safe_text(k)} {v:,}" for k, v in summary["rejected_by_reason"].items())
    rate = summary["lines_read"] / summary["seconds"] if summary["seconds"] else 0.0
    already = summary.get("already_read", [])
    lines = [
        f"Read {plural(summary['lines_read'], 'line')}: {summary['parsed']:,} parsed, {rejected:,} rejected"
        + (f" ({reasons})" if reasons else "")
        + (f", {summary['other_shard']:,} other shard" if summary.get("other_shard") else ""),
        f"{plural(summary['requests'], 'request')}, {plural(summary['page_views'], 'page view')}, "
        f"{plural(summary['bot_requests'], 'bot request')}",
        f"{plural(len(summary['tenants']), 'tenant')}{_named(summary['tenants'])}, "
        f"{plural(len(summary['days']), 'day')}, in {summary['seconds']:.2f} s ({rate:,.0f} lines/s)",
    ]
    if already and not summary["lines_read"]:  # nothing new anywhere: not a run of zeros
        lines = []
    lines += [f"{safe_text(a['file'])}: already read up to line {a['line']:,}" for a in already]
    if late := summary.get("late_tenant_days"):
        lines.append(
            f"{plural(summary['late_lines'], 'late line')}, for {plural(len(late), 'finalized tenant-day')} "
            f"({', '.join(safe_text(d) for d in late)}): their requests and page views are counted, "
            "their visitors could not be (uniques, sessions and referrer visits stay as finalized)"
        )
    if retries := summary.get("flush_retries"):
        lines.append(
            f"{plural(retries, 'flush attempt')} put off while readers held the warehouse; "
            "a later one wrote their days"
        )
    lines += format_lines(summary["formats"])
    lines += [safe_text(w) for w in summary.get("warnings", [])]
    return "\n".join(lines)


def format_lines(formats: dict[str, str], shown: int = 3) -> list[str]:
    """One line per format: `format of access.log: combined`, or for several files
    `format combined: 29 files (access.log, access.log.1, …, access.log.9.gz)`."""
    by_format: dict[str, list[str]] = {}
    for name, fmt in formats.items():
        by_format.setdefault(fmt, []).append(name)
    out = []
    for fmt, names in by_format.items():
        if len(names) == 1:
            out.append(f"format of {safe_text(names[0])}: {safe_text(fmt)}")
            continue
        short = [safe_text(os.path.basename(n) or n) for n in names]
        if len(short) > shown:  # the first ones and the last, cut in the middle
            short = [*short[: shown - 1], "\u2026", short[-1]]
        out.append(f"format {safe_text(fmt)}: {len(names):,} files ({', '.join(short)})")
    return out


def _shown(
    rows: Sequence[Mapping[str, Any]], rates: tuple[str, ...] = (), times: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """Rates as percentages and durations as minutes, for tables only (JSON/CSV keep raw numbers)."""
    out = []
    for row in rows:
        shown = dict(row)
        idle = row.get("sessions") == 0  # nothing to average: NOTHING, not a made-up 0% or 0s
        for key in rates:
            shown[key] = NOTHING if idle else f"{row[key]:.0%}"
        for key in times:
            shown[key] = NOTHING if idle else duration(row[key])
        out.append(shown)
    return out


NOTHING = "\u2013"  # en dash: a rate or an average over nothing (JSON keeps the contract's 0.0)


def session_figures(totals: Totals) -> tuple[str, str]:
    """(bounce rate, average session) as shown in tables: NOTHING when there was no session."""
    if not totals["sessions"]:
        return NOTHING, NOTHING
    return f"{totals['bounce_rate']:.0%}", duration(totals["avg_session_duration"])


# Columns of the report's tables: (key, header, short header, priority). A table too wide for
# the terminal first shortens its headers, then drops columns from the lowest priority up (0 never),
# then cuts its first column's text in the middle; a header never wraps.
Column = tuple[str, str, str, int]
_DAY_COLUMNS: list[Column] = [
    ("date", "date", "date", 0),
    ("page_views", "page views", "views", 0),
    ("unique_visitors", "unique visitors", "visitors", 0),
    ("sessions", "sessions", "sess.", 3),
    ("bounce_rate", "bounce", "bounce", 2),
    ("avg_session_duration", "avg duration", "avg dur", 1),
    ("requests", "requests", "req.", 4),
]
_PAGE_COLUMNS: list[Column] = [
    ("path", "path", "path", 0),
    ("views", "views", "views", 0),
    ("unique_views", "unique views", "uniq", 4),
    ("entries", "entries", "entr", 2),
    ("exits", "exits", "exits", 1),
    ("avg_time_seconds", "avg time", "time", 3),
]
_POST_COLUMNS: list[Column] = [
    ("post_id", "post", "post", 0),
    ("views", "views", "views", 0),
    ("unique_views", "unique views", "uniq", 5),
    ("reactions", "reactions", "react", 3),
    ("comments", "comments", "comm", 2),
    ("shares", "shares", "shares", 1),
    ("avg_read_time", "avg read time", "read", 4),
]
_TENANT_COLUMNS: list[Column] = [
    ("tenant", "tenant", "tenant", 0),
    ("page_views", "page views", "views", 0),
    ("unique_visitors", "unique visitors", "visitors", 0),
    ("sessions", "sessions", "sess.", 2),
    ("requests", "requests", "req.", 1),
]
_TEXT_COLUMNS = frozenset({"medium", "campaign"})
CHANGE = "change"  # the column added after the compared number with --compare


def _geometry(widths: list[int]) -> int:
    """Width of a Rich table without edges: one space of padding each side, one rule between."""
    return sum(w + 2 for w in widths) + max(0, len(widths) - 1)


def fit_table(
    title: str, rows: Sequence[Mapping[str, Any]], columns: list[Column], width: int, cut_first: bool = True
) -> RenderableType:
    """A table no wider than `width`: short headers, then fewer columns, then a middle-cut first
    column. Cells are log text made safe (`safe_text`) in `Text`, never markup."""
    cells = {key: [safe_text(cell(row.get(key))) for row in rows] for key, *_ in columns}
    kept = list(columns)

    def widths(use_short: bool) -> list[int]:
        return [
            max([cell_len(short if use_short else header)] + [cell_len(c) for c in cells[key]])
            for key, header, short, _ in kept
        ]

    short = _geometry(widths(False)) > width
    first = kept[0][0]

    def cut_to(room: int) -> None:
        cells[first] = [middle_cut(c, room) for c in cells[first]]

    if cut_first and _geometry(widths(short)) > width:
        # Cut long text first, down to a third of the width, before giving up a column.
        sizes = widths(short)
        cut_to(max(sizes[0] - (_geometry(sizes) - width), min(sizes[0], max(20, width // 3))))
    while _geometry(widths(short)) > width and any(c[3] > 0 for c in kept):
        kept.remove(min((c for c in kept if c[3] > 0), key=lambda c: c[3]))
    sizes = widths(short)
    if cut_first and _geometry(sizes) > width:
        first_header = kept[0][2] if short else kept[0][1]
        cut_to(max(cell_len(first_header), sizes[0] - (_geometry(sizes) - width), 6))
    headers = [abbr if short else header for _, header, abbr, _ in kept]
    lefts = [i == 0 or key in _TEXT_COLUMNS for i, (key, *_) in enumerate(kept)]
    texts = [cells[key] for key, *_ in kept]
    drawn = table_text(title, headers, lefts, texts, width)
    return drawn if drawn is not None else rich_table(title, headers, lefts, texts)


def rich_table(title: str, headers: list[str], lefts: list[bool], columns: list[list[str]]) -> Table:
    """The table as a Rich `Table` (show_edge off): what `table_text` draws, for when it cannot."""
    table = Table(title=title, title_justify="left", show_edge=False)
    for header, left in zip(headers, lefts, strict=True):
        table.add_column(header, justify="left" if left else "right", no_wrap=True, overflow="ellipsis")
    for row in zip(*columns, strict=True):
        # Text, not str: a str cell is parsed as Rich markup (`/[/]` crashes, `[link=...]` links).
        table.add_row(*(Text(c) for c in row))
    return table


def table_text(
    title: str, headers: list[str], lefts: list[bool], columns: list[list[str]], width: int
) -> Text | None:
    """The same table as `rich_table`, character for character and style for style, drawn as one
    `Text` (Rich lays out a `Table` cell by cell, a tenth of a second for a report's tables).

    Cells are already safe text (`safe_text`: no control characters) and go in as plain strings,
    never markup; widths are Rich's own `cell_len` (wide characters count two). None when the table
    would not fit in `width` or its title in the table: Rich's `Table` shrinks and wraps then."""
    sizes = [max([cell_len(h)] + [cell_len(c) for c in col]) for h, col in zip(headers, columns, strict=True)]
    total = _geometry(sizes)
    if total > width or cell_len(title) > total:
        return None

    def fit(value: str, size: int, left: bool) -> str:
        if left:  # Rich pads a left cell as it is, and strips a right one's trailing space first
            return value + " " * (size - cell_len(value))
        value = value.rstrip()
        return " " * (size - cell_len(value)) + value

    spans: list[Span] = [Span(0, len(title) + total - cell_len(title), "table.title")]
    lines = [title + " " * (total - cell_len(title))]
    at = len(lines[0]) + 1
    head = []
    for header, size, left in zip(headers, sizes, lefts, strict=True):
        part = f" {fit(header, size, left)} "
        spans.append(Span(at, at + len(part), "table.header"))
        at += len(part) + 1
        head.append(part)
    lines.append("\u2503".join(head))
    lines.append("\u2547".join("\u2501" * (size + 2) for size in sizes))
    for row in zip(*columns, strict=True):
        lines.append(
            "\u2502".join(f" {fit(c, size, left)} " for c, size, left in zip(row, sizes, lefts, strict=True))
        )
    return Text("\n".join(lines), spans=spans, no_wrap=True, overflow="ignore")


def _with_change(
    columns: list[Column],
    rows: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]] | None,
    metric: str,
) -> tuple[list[Column], Sequence[Mapping[str, Any]]]:
    """With --compare: a `change` column after `metric`, from the previous period's same rows."""
    if previous is None:
        return columns, rows
    out = [{**row, CHANGE: change(row[metric], old[metric])} for row, old in zip(rows, previous, strict=True)]
    at = [c[0] for c in columns].index(metric) + 1
    return [*columns[:at], (CHANGE, "change", "chg", 0), *columns[at:]], out


def totals_lines(report: Report, width: int) -> list[str]:
    """The range's totals as `value label` items packed into lines of `width` (with the change
    against the compared period when there is one)."""
    t = report["totals"]
    bounce, average = session_figures(t)
    before = report.get("compare", {}).get("totals")
    items: list[tuple[str, TotalKey]] = [
        (f"{t['page_views']:,} page views", "page_views"),
        (f"{t['unique_visitors']:,} unique visitors", "unique_visitors"),
        (f"{t['sessions']:,} sessions", "sessions"),
        (f"{bounce} bounce", "bounce_rate"),
        (f"{average} average session", "avg_session_duration"),
        (f"{t['requests']:,} requests", "requests"),
        (f"{t['bot_requests']:,} from bots", "bot_requests"),
        (f"{human_bytes(t['bytes'])}", "bytes"),
    ]
    words = []
    for text, key in items:
        if before is not None:
            text += f" ({change(t[key], before[key])})"
        words.append(text)
    lines: list[str] = []
    for word in words:
        if lines and cell_len(lines[-1]) + 3 + cell_len(word) <= width:
            lines[-1] += " · " + word
        else:
            lines.append(word)
    return lines


def _chart_text(lines: list[str]) -> Text:
    """Chart lines with the title in bold and the bars coloured."""
    text = Text("\n".join(lines), no_wrap=True, overflow="crop")
    if lines:
        text.stylize("bold", 0, len(lines[0]))
    text.highlight_regex(f"{VISITORS}+", "cyan")
    text.highlight_regex(f"[{VIEWS}]+", "blue")
    text.highlight_regex("[▁▂▃▄▅▆▇]+", "cyan")
    return text


def report_renderable(report: Report, width: int = 80) -> RenderableType:
    """The report for a terminal `width` columns wide: totals, a daily and an hour-of-day chart,
    then GoAccess-style tables that shorten, drop or cut columns rather than wrap."""
    who = safe_text(report["tenant"] or "all tenants")
    title = f"Rings report: {who}, {report['start']} to {report['end']} ({zone_label(report)})"
    compared = report.get("compare")
    if compared is not None:
        title += f", compared with {compared['start']} to {compared['end']}"
    head = Text(title + "\n", style="bold")
    for note in range_notes(report):  # which part of the data, and a compared period it lacks
        head.append(note + "\n", style="yellow")
    head.append("\n".join(totals_lines(report, width)), style="")
    parts: list[RenderableType] = [head]
    if note := definitions_note(report):
        parts.append(Text(note, style="yellow"))
    if report["days"] and report["totals"]["page_views"]:
        parts.append(_chart_text(daily_chart(report["days"], width)))
    if report.get("hours_omitted"):
        parts.append(
            Text(f"No hour-of-day chart past {MAX_HOURS_DAYS} days: ask for a shorter range.", style="dim")
        )
    elif report["totals"]["page_views"]:
        parts.append(_chart_text(hour_chart(report["hours"], width, zone=zone_label(report, short=True))))
    # A long range by week or month (query/periods.py); JSON and CSV keep one row a day.
    unit, period_rows = periods(report["days"])
    days = _shown(period_rows, rates=("bounce_rate",), times=("avg_session_duration",))
    first = {"day": "date", "week": "week from", "month": "month"}[unit]
    day_columns = [("date", first, first, 0), *_DAY_COLUMNS[1:]]
    title = {"day": "Days", "week": "Weeks", "month": "Months"}[unit]
    parts.append(fit_table(title, days, day_columns, width))
    pages = _shown(report["top_pages"], times=("avg_time_seconds",))
    columns, rows = _with_change(_PAGE_COLUMNS, pages, compared and compared["top_pages"], "views")
    parts.append(fit_table("Top pages", rows, columns, width))
    if report["top_referrers"]:
        columns, rows = _with_change(
            [("source", "source", "source", 0), ("visits", "visits", "visits", 0)],
            report["top_referrers"],
            compared and compared["top_referrers"],
            "visits",
        )
        parts.append(fit_table("Top referrers", rows, columns, width))
    if report.get("top_campaigns"):
        columns, rows = _with_change(
            [
                ("source", "source", "source", 0),
                ("medium", "medium", "medium", 1),
                ("campaign", "campaign", "campaign", 2),
                ("visits", "visits", "visits", 0),
            ],
            report["top_campaigns"],
            compared and compared.get("top_campaigns"),
            "visits",
        )
        parts.append(fit_table("Campaigns", rows, columns, width))
    if report["content"]:
        posts = _shown(report["content"], times=("avg_read_time",))
        columns, rows = _with_change(_POST_COLUMNS, posts, compared and compared["content"], "views")
        parts.append(fit_table("Posts", rows, columns, width))
    parts += goal_tables(report, width)
    parts += time_tables(report, width)
    parts += breakdown_tables(report, width)
    status = report["status"]
    status_rows: list[dict[str, object]] = [{"status": k, "requests": v} for k, v in status.items()]
    status_columns: list[Column] = [
        ("status", "status", "status", 0),
        ("requests", "requests", "requests", 0),
    ]
    if compared is not None:
        before = compared["status"]
        status_rows = [
            {"status": k, "requests": v, CHANGE: change(v, before.get(k, 0))} for k, v in status.items()
        ]
        status_columns.append((CHANGE, "change", "chg", 0))
    parts.append(fit_table("Status codes", status_rows, status_columns, width))
    if report["totals"]["bot_requests"]:
        bots = [{"reason": k, "requests": v} for k, v in report["bots"].items()]
        parts.append(
            fit_table(
                "Bot requests (not page views)",
                bots,
                [("reason", "reason", "reason", 0), ("requests", "requests", "requests", 0)],
                width,
            )
        )
    if "tenants" in report:
        parts.append(fit_table("Tenants", report["tenants"], _TENANT_COLUMNS, width))
    return Group(*[p for part in parts for p in (part, Text(""))][:-1])


def _secs(value: float) -> str:
    return response_time(value, "")


def time_tables(report: Report, width: int) -> list[RenderableType]:
    """ "Time served": the range's response times and per hour of the day; the slowest pages."""
    times = report.get("response_times")
    if not times:
        return []
    head = Text(
        f"Time served: {times['count']:,} timed requests · mean {_secs(times['mean'])} · "
        f"p50 {_secs(times['p50'])} · p95 {_secs(times['p95'])} · p99 {_secs(times['p99'])} · "
        f"max {_secs(times['max'])} (percentiles within 2%)"
    )
    out: list[RenderableType] = [head]
    slow = [{**p, **{k: _secs(p[k]) for k in ("mean", "p50", "p95", "max")}} for p in times["slowest_pages"]]
    if slow:
        columns: list[Column] = [
            ("path", "path", "path", 0),
            ("count", "requests", "req.", 1),
            ("p50", "p50", "p50", 2),
            ("p95", "p95", "p95", 0),
            ("max", "max", "max", 3),
        ]
        out.append(fit_table("Slowest pages (5 requests or more)", slow, columns, width))
    hours = [{**h, **{k: _secs(h[k]) for k in ("mean", "p50", "p95")}} for h in times["hours"]]
    columns = [
        ("hour", "hour", "hour", 0),
        ("count", "requests", "req.", 1),
        ("mean", "mean", "mean", 2),
        ("p50", "p50", "p50", 0),
        ("p95", "p95", "p95", 0),
    ]
    out.append(fit_table("Time served by hour", hours, columns, width))
    return out


def goal_tables(report: Report, width: int) -> list[RenderableType]:
    """Goals (visitors, completions, conversion rate, the first source) and one table per funnel
    (each step's visitors, its share of the first step's, the drop from the step before)."""
    out: list[RenderableType] = []
    compared = report.get("compare")
    if report.get("goals"):
        rows = [
            {
                **g,
                "conversion_rate": f"{g['conversion_rate']:.1%}",
                "source": g["sources"][0]["source"] if g["sources"] else NOTHING,
            }
            for g in report.get("goals", [])
        ]
        columns: list[Column] = [
            ("goal", "goal", "goal", 0),
            ("visitors", "visitors", "visitors", 0),
            ("completions", "completions", "done", 1),
            ("conversion_rate", "conversion", "conv.", 0),
            ("source", "top source", "source", 2),
        ]
        columns, shown = _with_change(columns, rows, compared and compared.get("goals"), "visitors")
        out.append(fit_table("Goals", shown, columns, width))
        for goal, day in report.get("goals_since", {}).items():
            out.append(
                Text(
                    f"Goal {safe_text(goal)} counts from {day}: days finalized before it was added have none."
                )
            )
    for funnel in report.get("funnels", []):
        first = funnel["steps"][0]["visitors"] if funnel["steps"] else 0
        steps = []
        for i, step in enumerate(funnel["steps"]):
            before = funnel["steps"][i - 1]["visitors"] if i else step["visitors"]
            steps.append(
                {
                    "step": f"{i + 1}. {step['step']}",
                    "visitors": step["visitors"],
                    "of_first": f"{step['visitors'] / first:.0%}" if first else NOTHING,
                    "dropped": before - step["visitors"] if i else NOTHING,
                }
            )
        columns = [
            ("step", "step", "step", 0),
            ("visitors", "visitors", "visitors", 0),
            ("of_first", "of step 1", "of 1", 1),
            ("dropped", "dropped", "drop", 2),
        ]
        out.append(fit_table(f"Funnel {safe_text(funnel['funnel'])}", steps, columns, width))
    return out


def breakdown_tables(report: Report, width: int) -> list[RenderableType]:
    """Browsers, OS, devices, countries and not-found pages: one table each that has rows."""
    browsers = [
        {**r, "browser": f"{r['browser']} {r['version']}".strip()} for r in report.get("browsers", [])
    ]
    countries = [
        {**r, "country": r["name"] if r["name"] == r["country"] else f"{r['country']} {r['name']}"}
        for r in report.get("countries", [])
    ]
    visitors: list[Column] = [
        ("page_views", "page views", "views", 0),
        ("unique_visitors", "unique visitors", "visitors", 1),
    ]
    sections: list[tuple[str, Sequence[Mapping[str, Any]], list[Column]]] = [
        ("Browsers", browsers, [("browser", "browser", "browser", 0), *visitors]),
        ("Operating systems", report.get("os", []), [("os", "OS", "OS", 0), *visitors]),
        (
            "Devices",
            report.get("devices", []),
            [("device", "device", "device", 0), *visitors, ("requests", "requests", "req.", 2)],
        ),
        ("Countries", countries, [("country", "country", "country", 0), *visitors]),
        (
            "Not found (404)",
            report.get("not_found", []),
            [
                ("path", "path", "path", 0),
                ("requests", "requests", "req.", 0),
                ("bot_requests", "from bots", "bots", 1),
            ],
        ),
    ]
    return [fit_table(title, rows, columns, width) for title, rows, columns in sections if rows]
