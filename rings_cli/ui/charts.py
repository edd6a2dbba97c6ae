"""Text charts for the terminal report: plain strings of block characters, no Rich.

The report's numbers become bars here, as lists of lines a renderer can colour (render.py) or a test
can measure. Bars are whole cells, so a bar's length is `round(count / largest * width)` and can be
checked against known counts. Also the helpers that keep tables inside a terminal's width: a long
path cut in the middle, and the change against a previous period (`+12%`, `-5%`
(with a minus sign), `new`, an en dash).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from rings_cli.core.text import safe_text
from rings_cli.query.model import DayRow, HourRow, Report

VISITORS = "█"  # visitors: the solid part of a day's bar
VIEWS = "▒"  # page views beyond the visitors: the lighter rest of the bar
SPARKS = "▁▂▃▄▅▆▇█"
COLUMN = " ▁▂▃▄▅▆▇█"  # eighths of a cell, for the hour-of-day columns
ELLIPSIS = "…"
MINUS = "\u2212"
NOTHING = "\u2013"  # en dash: nothing to compare

DAILY_ROWS = 31  # up to a month: one row a day; longer: one row a week, then a sparkline
WEEKLY_ROWS = 26
HOUR_ROWS = 5  # height of the hour-of-day chart, in lines


def duration(seconds: float) -> str:
    """`95.5` → `1m 36s`: session lengths and times on page read better than raw seconds."""
    whole = round(seconds)
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def human_bytes(n: int) -> str:
    """`179_923_456` → `171.6 MiB`."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def cells(value: float, largest: float, width: int) -> int:
    """Whole cells of a bar for `value` when `largest` fills `width`: never 0 for a non-zero value."""
    if largest <= 0 or value <= 0 or width <= 0:
        return 0
    return max(1, round(value / largest * width))


def middle_cut(text: str, width: int) -> str:
    """`/blog/2025/a-very-long-title/` → `/blog/20…title/`: both ends of a path say the most."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = width // 2
    tail = width - 1 - head
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def change(current: float, previous: float) -> str:
    """Plausible-style change: `+12%`, `-5%` (a minus sign, U+2212), `0%`; `new` when there was none
    before, an en dash (NOTHING) when there is none either time."""
    if not previous:
        return "new" if current else NOTHING
    pct = round((current - previous) / previous * 100)
    if pct == 0:
        return "0%"
    return f"+{pct:,}%" if pct > 0 else f"{MINUS}{-pct:,}%"


def _buckets(days: Sequence[DayRow]) -> tuple[str, list[tuple[str, int, int]]]:
    """(what a row is, [(label, page views, visitors)]): days for a month, weeks (from Monday) for
    half a year; more is the sparkline's business."""
    if len(days) <= DAILY_ROWS:
        rows = []
        for d in days:
            date = dt.date.fromisoformat(d["date"])
            rows.append((f"{date:%a} {date.isoformat()}", int(d["page_views"]), int(d["unique_visitors"])))
        return "day", rows
    weeks: dict[dt.date, list[Any]] = {}  # Monday: [first day of the range in that week, views, visitors]
    for d in days:
        date = dt.date.fromisoformat(d["date"])
        sums = weeks.setdefault(date - dt.timedelta(days=date.weekday()), [date, 0, 0])
        sums[1] += int(d["page_views"])
        sums[2] += int(d["unique_visitors"])
    return "week from", [
        (f"{first:%a} {first.isoformat()}", pv, uv) for _, (first, pv, uv) in sorted(weeks.items())
    ]


def daily_chart(days: Sequence[DayRow], width: int) -> list[str]:
    """Page views and visitors over the range, one bar per day (per week past a month, a sparkline
    past half a year), fitted to `width` columns."""
    if not days:
        return []
    kind, rows = _buckets(days)
    if kind != "day" and len(rows) > WEEKLY_ROWS:
        return sparkline_chart(days, width)
    title = f"Page views and visitors per {'week' if kind != 'day' else 'day'}"
    legend = f"{VISITORS} visitors  {VIEWS} page views"
    label_w = max(len(r[0]) for r in rows)
    pv_w = max(len("page views"), *(len(f"{r[1]:,}") for r in rows))
    uv_w = max(len("visitors"), *(len(f"{r[2]:,}") for r in rows))
    bar_w = max(4, width - label_w - pv_w - uv_w - 6)
    largest = max(max(r[1], r[2]) for r in rows)
    lines = [_title(title, legend, width), f"{kind:<{label_w}}  {'page views':>{pv_w}}  {'visitors':>{uv_w}}"]
    for label, pv, uv in rows:
        total, solid = cells(pv, largest, bar_w), cells(uv, largest, bar_w)
        solid = min(solid, total) if pv >= uv else solid
        bar = VISITORS * solid + VIEWS * max(0, total - solid)
        lines.append(f"{label:<{label_w}}  {pv:>{pv_w},}  {uv:>{uv_w},}  {bar}".rstrip())
    return [line[:width] for line in lines]


def _title(title: str, legend: str, width: int) -> str:
    gap = width - len(title) - len(legend)
    return title + " " * gap + legend if gap >= 2 else title


def spark(values: Sequence[float]) -> str:
    """One character per value, ▁ to █ by size (a zero is a blank)."""
    largest = max(values, default=0)
    out = []
    for v in values:
        out.append(" " if v <= 0 or largest <= 0 else SPARKS[min(7, int(v / largest * 7.999))])
    return "".join(out)


def sparkline_chart(days: Sequence[DayRow], width: int) -> list[str]:
    """A long range as two sparkline rows (page views, visitors), several days a mark when the days
    do not fit the width."""
    label_w = len("page views")
    room = max(8, width - label_w - 2 - 12)
    per = -(-len(days) // room)  # days per mark, rounded up
    pv = [sum(int(d["page_views"]) for d in days[i : i + per]) for i in range(0, len(days), per)]
    uv = [sum(int(d["unique_visitors"]) for d in days[i : i + per]) for i in range(0, len(days), per)]
    what = "day" if per == 1 else f"{per} days"
    first, last = days[0]["date"], days[-1]["date"]
    marks = len(pv)
    lines = [
        f"Page views and visitors, one mark per {what}",
        f"{'page views':<{label_w}}  {spark(pv)}  max {max(pv):,}",
        f"{'visitors':<{label_w}}  {spark(uv)}  max {max(uv):,}",
        " " * (label_w + 2) + (first + last.rjust(max(0, marks - len(first))) if marks > 21 else first),
    ]
    return [line.rstrip()[:width] for line in lines]


def hour_totals(hours: Sequence[HourRow]) -> list[int]:
    """Page views per hour of day (0-23, the tenants' local hours), summed over the range's days."""
    totals = [0] * 24
    for h in hours:
        totals[int(h["hour"])] += int(h["page_views"])
    return totals


def zone_label(report: Report, short: bool = False) -> str:
    """The report's time zone for a title: `America/New_York`, or (all tenants in different zones)
    that each tenant's own local days and hours are summed."""
    zone = safe_text(str(report.get("timezone", "UTC")))
    if zone != "per tenant":
        return zone
    return "local time" if short else "each tenant's local days"


def hour_chart(hours: Sequence[HourRow], width: int, height: int = HOUR_ROWS, zone: str = "UTC") -> list[str]:
    """Page views by hour of day as 24 columns `height` lines tall (eighths of a cell), hours
    labelled every 3 below, the busiest hour named in the title."""
    totals = hour_totals(hours)
    largest = max(totals)
    if largest == 0:
        return []
    axis_w = len(f"{largest:,}") + 1
    col = 3 if width >= axis_w + 24 * 3 else 2 if width >= axis_w + 24 * 2 else 1
    bar = col - 1 if col > 1 else 1
    eighths = [round(v / largest * height * 8) if v else 0 for v in totals]
    eighths = [max(1, e) if v else 0 for e, v in zip(eighths, totals, strict=True)]
    busiest = totals.index(largest)
    title = f"Page views by hour of day ({zone}); busiest {busiest:02d}:00, {largest:,} page views"
    lines = [title if len(title) <= width else f"Page views by hour ({zone}), busiest {busiest:02d}:00"]
    for level in range(height, 0, -1):
        label = f"{largest:,}" if level == height else ""
        row = []
        for e in eighths:
            fill = e - (level - 1) * 8
            ch = COLUMN[max(0, min(8, fill))]
            row.append((ch * bar).ljust(col))
        lines.append(f"{label:>{axis_w - 1}} " + "".join(row).rstrip())
    step = 3 if col >= 2 else 6
    ticks = "".join(f"{h:02d}".ljust(col * step) for h in range(0, 24, step))
    lines.append(" " * axis_w + ticks.rstrip())
    return [line[:width] for line in lines]


def range_notes(report: Report) -> list[str]:
    """What the range leaves out: the default range shows part of the data (`range_note`), or the
    compared period is only partly covered by data (`compare.note`). Dates only: no log text."""
    notes = []
    if "range_note" in report:
        notes.append(report["range_note"][:1].upper() + report["range_note"][1:])
    compared = report.get("compare")
    if compared is not None and "note" in compared:
        notes.append(f"Note: {compared['note']}")
    return notes


def definitions_note(report: Report) -> str:
    """What a range that spans a change of the definitions says about it (empty when it does not):
    each version's days, and what it counted."""
    changed = report.get("definitions_changed")
    if not changed:
        return ""
    parts = [
        f"{row['first']} to {row['last']}: definitions {row['version']} ({row['changes']})" for row in changed
    ]
    return (
        "Note: the definitions changed within this range; days keep the numbers they were counted "
        "with, so days before and after the change do not compare exactly. " + "; ".join(parts) + "."
    )


def response_time(seconds: float, space: str = " ") -> str:
    """A response time for people: `850 ms`, `1.24 s` (`space` between number and unit)."""
    return f"{seconds * 1000:.0f}{space}ms" if seconds < 1 else f"{seconds:.2f}{space}s"
