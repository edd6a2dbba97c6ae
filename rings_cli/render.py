"""Renderers: the ingest summary and the report as Rich tables, JSON or CSV.

Pure functions from plain data to text or renderables; the CLI chooses where they go.
Every value from a log (paths, sources, campaigns, post ids, file names) is attacker-controlled: it
goes through `safe_text` and into a `Text` cell, never into a markup string (see rings_cli/text.py).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rings_cli.text import csv_cell, plural, safe_text

CSV_SECTIONS = (
    "days",
    "hours",
    "top_pages",
    "top_referrers",
    "top_campaigns",
    "content",
    "tenants",
    "status",
    "browsers",
    "os",
    "devices",
    "countries",
    "not_found",
)


def literal(value: object, style: str = "") -> Text:
    """Log text as a Rich Text: shown as written (never parsed as markup), controls escaped."""
    return Text(safe_text(value), style=style)


_HEADERS = {"avg_time_seconds": "avg time", "avg_session_duration": "avg duration", "bounce_rate": "bounce"}


def _n(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def summary_text(summary: dict[str, Any]) -> str:
    """The one-paragraph ingest summary a person reads after a run."""
    rejected = summary["rejected"]
    reasons = ", ".join(f"{safe_text(k)} {v:,}" for k, v in summary["rejected_by_reason"].items())
    rate = summary["lines_read"] / summary["seconds"] if summary["seconds"] else 0.0
    lines = [
        f"Read {plural(summary['lines_read'], 'line')}: {summary['parsed']:,} parsed, {rejected:,} rejected"
        + (f" ({reasons})" if reasons else ""),
        f"{plural(summary['requests'], 'request')}, {plural(summary['page_views'], 'page view')}, "
        f"{plural(summary['bot_requests'], 'bot request')}",
        f"{plural(len(summary['tenants']), 'tenant')}, {plural(len(summary['days']), 'day')}, "
        f"in {summary['seconds']:.2f} s ({rate:,.0f} lines/s)",
    ]
    if late := summary.get("late_tenant_days"):
        lines.append(
            f"{plural(summary['late_lines'], 'late line')}, for {plural(len(late), 'finalized tenant-day')} "
            f"({', '.join(safe_text(d) for d in late)}): their requests and page views are counted, "
            "their visitors could not be (uniques, sessions and referrer visits stay as finalized)"
        )
    for name, fmt in summary["formats"].items():
        lines.append(f"format of {safe_text(name)}: {safe_text(fmt)}")
    lines += [safe_text(w) for w in summary.get("warnings", [])]
    return "\n".join(lines)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False)
    for i, col in enumerate(columns):
        table.add_column(_HEADERS.get(col, col.replace("_", " ")), justify="left" if i == 0 else "right")
    for row in rows:
        # Text, not str: a str cell is parsed as Rich markup (`/[/]` crashes, `[link=...]` links).
        table.add_row(*(Text(safe_text(_n(row.get(c)))) for c in columns))
    return table


def duration(seconds: float) -> str:
    """`95.5` → `1m 36s`: session lengths and times on page read better than raw seconds."""
    whole = round(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _shown(
    rows: list[dict[str, Any]], rates: tuple[str, ...] = (), times: tuple[str, ...] = ()
) -> list[dict]:
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


def session_figures(totals: dict[str, Any]) -> tuple[str, str]:
    """(bounce rate, average session) as shown in tables: NOTHING when there was no session."""
    if not totals["sessions"]:
        return NOTHING, NOTHING
    return f"{totals['bounce_rate']:.0%}", duration(totals["avg_session_duration"])


def report_renderable(report: dict[str, Any]) -> RenderableType:
    """The report as stacked Rich tables, GoAccess-style panels in a terminal."""
    t = report["totals"]
    bounce, average = session_figures(t)
    who = safe_text(report["tenant"] or "all tenants")
    head = Text.assemble(
        (f"Rings report: {who}, {report['start']} to {report['end']} (UTC)\n", "bold"),
        f"{t['page_views']:,} page views, {t['unique_visitors']:,} unique visitors, "
        f"{t['sessions']:,} sessions ({bounce} bounce, {average} "
        f"average), {t['requests']:,} requests ({t['bot_requests']:,} from bots), {human_bytes(t['bytes'])}",
    )
    parts: list[RenderableType] = [head]
    days = _shown(report["days"], rates=("bounce_rate",), times=("avg_session_duration",))
    parts.append(
        _table(
            "Days",
            days,
            [
                "date",
                "page_views",
                "unique_visitors",
                "sessions",
                "bounce_rate",
                "avg_session_duration",
                "requests",
            ],
        )
    )
    pages = _shown(report["top_pages"], times=("avg_time_seconds",))
    parts.append(
        _table("Top pages", pages, ["path", "views", "unique_views", "entries", "exits", "avg_time_seconds"])
    )
    if report["top_referrers"]:
        parts.append(_table("Top referrers", report["top_referrers"], ["source", "visits"]))
    if report.get("top_campaigns"):
        parts.append(_table("Campaigns", report["top_campaigns"], ["source", "medium", "campaign", "visits"]))
    if report["content"]:
        posts = _shown(report["content"], times=("avg_read_time",))
        columns = ["post_id", "views", "unique_views", "reactions", "comments", "shares", "avg_read_time"]
        parts.append(_table("Posts", posts, columns))
    parts += breakdown_tables(report)
    status_rows = [{"status": k, "requests": v} for k, v in report["status"].items()]
    parts.append(_table("Status codes", status_rows, ["status", "requests"]))
    if "tenants" in report:
        parts.append(
            _table(
                "Tenants",
                report["tenants"],
                ["tenant", "page_views", "unique_visitors", "sessions", "requests"],
            )
        )
    return Group(*[p for part in parts for p in (part, Text(""))][:-1])


def breakdown_tables(report: dict[str, Any]) -> list[Table]:
    """Browsers, OS, devices, countries and not-found pages: one table each that has rows."""
    browsers = [
        {**r, "browser": f"{r['browser']} {r['version']}".strip()} for r in report.get("browsers", [])
    ]
    countries = [
        {**r, "country": r["name"] if r["name"] == r["country"] else f"{r['country']} {r['name']}"}
        for r in report.get("countries", [])
    ]
    visitors = ["page_views", "unique_visitors"]
    sections = [
        ("Browsers", browsers, ["browser", *visitors]),
        ("Operating systems", report.get("os", []), ["os", *visitors]),
        ("Devices", report.get("devices", []), ["device", *visitors, "requests"]),
        ("Countries", countries, ["country", *visitors]),
        ("Not found (404)", report.get("not_found", []), ["path", "requests", "bot_requests"]),
    ]
    return [_table(title, rows, columns) for title, rows, columns in sections if rows]


def report_json(report: dict[str, Any]) -> str:
    """Exact values for machines; `ensure_ascii` writes every control, bidi and non-ASCII
    character as `\\uXXXX`, so no raw control character reaches stdout."""
    return json.dumps(report, indent=2, ensure_ascii=True)


def report_csv(report: dict[str, Any], section: str) -> str:
    """One section of the report as CSV (header row included); text cells through `csv_cell`
    (control characters escaped, formula-like cells prefixed with `'`), numbers untouched."""
    if section == "status":
        rows: list[dict[str, Any]] = [{"status": k, "requests": v} for k, v in report["status"].items()]
    else:
        rows = report.get(section, [])
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()
