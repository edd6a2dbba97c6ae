"""The report as one self-contained HTML page: inline CSS and SVG, no script, no external URL.

For people who mail a report to a client: the page works offline, from a file, in any browser,
light or dark as the reader's system prefers. Same content as the table report (totals, daily and
hourly charts, top lists, status codes, campaigns, posts, browsers, OS, devices, countries, 404
paths, tenants), from the same report dict.
Every string from a log (paths, sources, campaigns, post ids, tenants) goes through `_h`
(`safe_text`, then `html.escape`), in text and in attributes alike.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from rings_cli.core.text import cell, safe_text
from rings_cli.query.model import Report, TotalKey
from rings_cli.query.periods import periods
from rings_cli.ui.charts import (
    NOTHING,
    change,
    definitions_note,
    duration,
    hour_totals,
    human_bytes,
    range_notes,
    response_time,
    zone_label,
)


def _h(value: Any) -> str:
    """Log text for HTML: controls made visible, then every `<>&"'` escaped."""
    return html.escape(safe_text(value), quote=True)


CSS = """
:root { color-scheme: light dark; --bg: #f7f7f8; --card: #ffffff; --fg: #1d1d22; --muted: #6b6b76;
  --line: #e3e3e8; --views: #a5b4fc; --visitors: #4f46e5; --up: #15803d; --down: #b91c1c; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #121217; --card: #1c1c24; --fg: #ececf1; --muted: #9a9aa8; --line: #2e2e3a;
    --views: #3f4a8a; --visitors: #8b93ff; --up: #4ade80; --down: #f87171; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 20px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 15px; margin: 0 0 10px; color: var(--muted); font-weight: 600;
  text-transform: uppercase; letter-spacing: .04em; }
.sub { color: var(--muted); margin: 0 0 20px; }
.note { margin: -12px 0 20px; padding: 8px 12px; border-left: 3px solid #d97706; background: var(--card); }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px;
  margin-bottom: 16px; }
.card, section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; }
.card { padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 21px; font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chg { font-size: 12px; font-weight: 600; margin-left: 6px; color: var(--muted); }
.card .chg { font-size: 13px; }
.chg.up { color: var(--up); } .chg.down { color: var(--down); }
section { padding: 16px 18px; margin-bottom: 16px; overflow-x: auto; }
@media (max-width: 640px) { .cards { grid-template-columns: repeat(2, 1fr); } }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
.grid section { margin-bottom: 0; }
.grid { margin-bottom: 16px; }
svg { display: block; width: 100%; height: auto; }
svg text { fill: var(--muted); font-size: 13px; }
svg .grid-line { stroke: var(--line); }
svg .views { fill: var(--views); } svg .visitors { fill: var(--visitors); }
.legend { color: var(--muted); font-size: 13px; margin: -4px 0 8px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
th:first-child, td:first-child, .text { text-align: left; }
td:first-child { white-space: normal; overflow-wrap: anywhere; }
tr:last-child td { border-bottom: none; }
.empty { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""


def _change_html(current: float, previous: float, worse_when_up: bool = False) -> str:
    """The change as a small badge: green for better, red for worse (a rising bounce rate is worse)."""
    text = change(current, previous)
    kind = "up" if text.startswith("+") or text == "new" else "down" if text.startswith("\u2212") else ""
    if worse_when_up and kind:
        kind = "down" if kind == "up" else "up"
    return f'<span class="chg {kind}">{html.escape(text)}</span>'


def _cards(report: Report) -> str:
    t = report["totals"]
    before = report.get("compare", {}).get("totals")
    idle = not t["sessions"]
    cards: list[tuple[str, str, TotalKey]] = [
        ("Unique visitors", f"{t['unique_visitors']:,}", "unique_visitors"),
        ("Page views", f"{t['page_views']:,}", "page_views"),
        ("Sessions", f"{t['sessions']:,}", "sessions"),
        ("Bounce rate", NOTHING if idle else f"{t['bounce_rate']:.0%}", "bounce_rate"),
        (
            "Average session",
            NOTHING if idle else duration(t["avg_session_duration"]),
            "avg_session_duration",
        ),
        ("Requests", f"{t['requests']:,}", "requests"),
        ("Bot requests", f"{t['bot_requests']:,}", "bot_requests"),
        ("Traffic", human_bytes(t["bytes"]), "bytes"),
    ]
    out = []
    for label, value, key in cards:
        badge = _change_html(t[key], before[key], key == "bounce_rate") if before is not None else ""
        out.append(
            f'<div class="card" data-key="{key}"><div class="label">{label}</div>'
            f'<div class="value">{value}{badge}</div></div>'
        )
    return '<div class="cards">' + "".join(out) + "</div>"


def _bar_chart(
    title: str, labels: list[str], views: list[int], visitors: list[int] | None, tick_every: int
) -> str:
    """Bars (page views, and visitors in front when given) as an inline SVG with a top gridline."""
    width, height, left, bottom, top = 600, 230, 48, 24, 10
    largest = max([*views, *(visitors or [])], default=0) or 1
    plot_w, plot_h = width - left - 6, height - top - bottom
    step = plot_w / max(1, len(labels))
    bar = min(48.0, max(1.0, step * 0.72))
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<line class="grid-line" x1="{left}" x2="{width - 6}" y1="{top}" y2="{top}"/>',
        f'<line class="grid-line" x1="{left}" x2="{width - 6}" y1="{top + plot_h}" y2="{top + plot_h}"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{largest:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar) / 2
        for cls, series in (("views", views), ("visitors", visitors)):
            if series is None or not series[i]:
                continue
            h = series[i] / largest * plot_h
            tip = f"{_h(label)}: {series[i]:,} {'page views' if cls == 'views' else 'visitors'}"
            parts.append(
                f'<rect class="{cls}" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" rx="1.5"><title>{tip}</title></rect>'
            )
        if i % tick_every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 6}" text-anchor="middle">{_h(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _daily(report: Report) -> str:
    unit, periods_ = periods(report["days"])
    rows = [(p["date"], int(p["page_views"]), int(p["unique_visitors"])) for p in periods_]
    if not rows:
        return '<p class="empty">No days with data in this range.</p>'
    # Days within one year read as MM-DD; weeks and months keep their year.
    one_year = len({r[0][:4] for r in rows}) == 1
    labels = [r[0][5:] if unit == "day" and one_year else r[0] for r in rows]
    ticks = max(1, -(-len(rows) // 10))
    legend = (
        '<p class="legend"><span class="swatch" style="background:var(--visitors)"></span>visitors'
        '<span class="swatch" style="background:var(--views)"></span>page views'
        f" &middot; one bar per {unit}</p>"
    )
    chart = _bar_chart("Page views and visitors", labels, [r[1] for r in rows], [r[2] for r in rows], ticks)
    return legend + chart


def _hourly(report: Report) -> str:
    if report.get("hours_omitted"):
        return f'<p class="empty">{_h(report["hours_omitted"])}</p>'
    totals = hour_totals(report["hours"])
    if not any(totals):
        return '<p class="empty">No page views in this range.</p>'
    busiest = totals.index(max(totals))
    zone = _h(zone_label(report, short=True))
    note = f'<p class="legend">busiest {busiest:02d}:00 {zone}, {max(totals):,} page views</p>'
    return note + _bar_chart("Page views by hour of day", [f"{h:02d}" for h in range(24)], totals, None, 3)


# (key, header, kind): kind "text" is log text, "n" a count, "pct" a rate, "time" seconds.
Col = tuple[str, str, str]


def _table(
    rows: Sequence[Mapping[str, Any]],
    columns: list[Col],
    previous: Sequence[Mapping[str, Any]] | None,
    metric: str,
) -> str:
    if not rows:
        return '<p class="empty">Nothing in this range.</p>'
    head = "".join(
        f"<th{' class=text' if kind == 'text' else ''}>{html.escape(header)}</th>"
        for _, header, kind in columns
    )
    body = []
    for i, row in enumerate(rows):
        cells = []
        for key, _, kind in columns:
            value = row.get(key)
            idle = row.get("sessions") == 0
            if kind == "pct":
                shown = NOTHING if idle else f"{value:.0%}"
            elif kind == "time":
                shown = NOTHING if idle or value is None else duration(value)
            else:
                shown = _h(cell(value))
            if key == metric and previous is not None:
                shown += _change_html(row[metric], previous[i][metric])
            cells.append(f"<td{' class=text' if kind == 'text' else ''}>{shown}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _breakdowns(report: Report) -> list[str]:
    """Browsers, OS, devices, countries and not-found paths: a table each that has rows, as in
    the table report (no change column: `compare` does not cover them)."""
    browsers = [
        {**r, "browser": f"{r['browser']} {r['version']}".strip()} for r in report.get("browsers", [])
    ]
    countries = [
        {**r, "country": r["name"] if r["name"] == r["country"] else f"{r['country']} {r['name']}"}
        for r in report.get("countries", [])
    ]
    visitors: list[Col] = [("page_views", "Page views", "n"), ("unique_visitors", "Visitors", "n")]
    tables: list[tuple[str, Sequence[Mapping[str, Any]], list[Col]]] = [
        ("Browsers", browsers, [("browser", "Browser", "text"), *visitors]),
        ("Operating systems", report.get("os", []), [("os", "OS", "text"), *visitors]),
        (
            "Devices",
            report.get("devices", []),
            [("device", "Device", "text"), *visitors, ("requests", "Requests", "n")],
        ),
        ("Countries", countries, [("country", "Country", "text"), *visitors]),
        (
            "Not found (404)",
            report.get("not_found", []),
            [("path", "Path", "text"), ("requests", "Requests", "n"), ("bot_requests", "From bots", "n")],
        ),
    ]
    shown = [_section(title, _table(rows, columns, None, "")) for title, rows, columns in tables if rows]
    return ['<div class="grid">', *shown, "</div>"] if shown else []


def _secs(value: float) -> str:
    return response_time(value, " ")


def _times(report: Report) -> list[str]:
    """Time served: the range's figures, the slowest pages and each hour (seconds as text)."""
    times = report.get("response_times")
    if not times:
        return []
    summary = (
        f"<p>{times['count']:,} timed requests: mean {_secs(times['mean'])}, p50 {_secs(times['p50'])}, "
        f"p95 {_secs(times['p95'])}, p99 {_secs(times['p99'])}, max {_secs(times['max'])} "
        "(percentiles within 2%).</p>"
    )
    slow = [{**p, **{k: _secs(p[k]) for k in ("p50", "p95", "max")}} for p in times["slowest_pages"]]
    slow_columns: list[Col] = [
        ("path", "Path", "text"),
        ("count", "Requests", "n"),
        ("p50", "p50", "text"),
        ("p95", "p95", "text"),
        ("max", "Max", "text"),
    ]
    hours = [{**h, **{k: _secs(h[k]) for k in ("mean", "p50", "p95")}} for h in times["hours"]]
    hour_columns: list[Col] = [
        ("hour", "Hour", "n"),
        ("count", "Requests", "n"),
        ("mean", "Mean", "text"),
        ("p50", "p50", "text"),
        ("p95", "p95", "text"),
    ]
    return [
        '<div class="grid">',
        _section("Slowest pages", summary + _table(slow, slow_columns, None, "")),
        _section("Time served by hour", _table(hours, hour_columns, None, "")),
        "</div>",
    ]


def _goals(report: Report) -> list[str]:
    """Goals (with the change against the compared period) and each funnel as a chart of its
    steps' visitors and a table of them."""
    out = []
    compared = report.get("compare")
    if report.get("goals"):
        rows = [
            {**g, "source": g["sources"][0]["source"] if g["sources"] else NOTHING}
            for g in report.get("goals", [])
        ]
        columns: list[Col] = [
            ("goal", "Goal", "text"),
            ("visitors", "Visitors", "n"),
            ("completions", "Completions", "n"),
            ("conversion_rate", "Conversion", "pct"),
            ("source", "Top source", "text"),
        ]
        since = "".join(
            f'<p class="note">Goal {_h(goal)} counts from {_h(day)} (finalized days before: none).</p>'
            for goal, day in report.get("goals_since", {}).items()
        )
        out.append(
            _section("Goals", _table(rows, columns, compared and compared.get("goals"), "visitors") + since)
        )
    for funnel in report.get("funnels", []):
        labels = [f"{i}. {s['step']}" for i, s in enumerate(funnel["steps"], 1)]
        counts = [s["visitors"] for s in funnel["steps"]]
        chart = _bar_chart(f"Funnel {funnel['funnel']}", labels, counts, None, 1)
        rows = [{"step": label, "visitors": n} for label, n in zip(labels, counts, strict=True)]
        table = _table(rows, [("step", "Step", "text"), ("visitors", "Visitors", "n")], None, "")
        out.append(_section(f"Funnel {funnel['funnel']}", chart + table))
    return ['<div class="grid">', *out, "</div>"] if out else []


def report_html(report: Report) -> str:
    """The whole page, as one string."""
    compared = report.get("compare")
    who = _h(report["tenant"] or "all tenants")
    period = f"{report['start']} to {report['end']} ({zone_label(report)})"
    if compared is not None:
        period += f", compared with {compared['start']} to {compared['end']}"
    status_rows = [{"status": k, "requests": v} for k, v in report["status"].items()]
    status_prev = [{"requests": compared["status"].get(k, 0)} for k in report["status"]] if compared else None
    sections = [
        '<div class="grid">',
        _section("Page views and visitors", _daily(report)),
        _section("Hour of day", _hourly(report)),
        "</div>",
        _section(
            "Top pages",
            _table(
                report["top_pages"],
                [
                    ("path", "Page", "text"),
                    ("views", "Views", "n"),
                    ("unique_views", "Unique", "n"),
                    ("entries", "Entries", "n"),
                    ("exits", "Exits", "n"),
                    ("avg_time_seconds", "Avg time", "time"),
                ],
                compared and compared["top_pages"],
                "views",
            ),
        ),
        '<div class="grid">',
        _section(
            "Top referrers",
            _table(
                report["top_referrers"],
                [("source", "Source", "text"), ("visits", "Visits", "n")],
                compared and compared["top_referrers"],
                "visits",
            ),
        ),
    ]
    if report.get("top_campaigns"):
        columns = [
            ("source", "Source", "text"),
            ("medium", "Medium", "text"),
            ("campaign", "Campaign", "text"),
            ("visits", "Visits", "n"),
        ]
        sections.append(
            _section(
                "Campaigns",
                _table(
                    report["top_campaigns"], columns, compared and compared.get("top_campaigns"), "visits"
                ),
            )
        )
    sections.append("</div>")
    if report["content"]:
        columns = [
            ("post_id", "Post", "text"),
            ("views", "Views", "n"),
            ("unique_views", "Unique", "n"),
            ("reactions", "Reactions", "n"),
            ("comments", "Comments", "n"),
            ("shares", "Shares", "n"),
            ("avg_read_time", "Avg read time", "time"),
        ]
        sections.append(
            _section("Posts", _table(report["content"], columns, compared and compared["content"], "views"))
        )
    sections += _goals(report)
    sections += _times(report)
    sections += _breakdowns(report)
    unit, period_rows = periods(report["days"])
    days_columns = [
        ("date", {"day": "Day", "week": "Week from", "month": "Month"}[unit], "text"),
        ("page_views", "Page views", "n"),
        ("unique_visitors", "Visitors", "n"),
        ("sessions", "Sessions", "n"),
        ("bounce_rate", "Bounce", "pct"),
        ("avg_session_duration", "Avg duration", "time"),
        ("requests", "Requests", "n"),
    ]
    sections.append('<div class="grid">')
    sections.append(
        _section(
            "Status codes",
            _table(
                status_rows,
                [("status", "Status", "text"), ("requests", "Requests", "n")],
                status_prev,
                "requests",
            ),
        )
    )
    if report["totals"]["bot_requests"]:
        bots = [{"reason": k, "requests": v} for k, v in report["bots"].items()]
        sections.append(
            _section(
                "Bot requests (not page views)",
                _table(bots, [("reason", "Reason", "text"), ("requests", "Requests", "n")], None, ""),
            )
        )
    if "tenants" in report:
        columns = [
            ("tenant", "Tenant", "text"),
            ("page_views", "Page views", "n"),
            ("unique_visitors", "Visitors", "n"),
            ("sessions", "Sessions", "n"),
            ("requests", "Requests", "n"),
        ]
        sections.append(_section("Tenants", _table(report["tenants"], columns, None, "")))
    sections.append("</div>")
    title_of = {"day": "Days", "week": "Weeks", "month": "Months"}[unit]
    sections.append(_section(title_of, _table(period_rows, days_columns, None, "")))
    title = f"Rings report: {who}, {report['start']} to {report['end']}"
    note = f'<p class="sub">{_h(definitions_note(report))}</p>' if report.get("definitions_changed") else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body><main>"
        f'<h1>Rings report: {who}</h1><p class="sub">{period}</p>{note}'
        + "".join(f'<p class="note">{_h(line)}</p>' for line in range_notes(report))
        + f"{_cards(report)}{''.join(sections)}"
        "<footer>Made by Rings from server access logs; no cookies, no IP addresses kept.</footer>"
        "</main></body></html>\n"
    )
