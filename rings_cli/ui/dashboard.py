"""The `rings live` dashboard: Rich renderables of a `LiveFrame`, and the loop that redraws them.

Drawing is a pure function of (frame, size, clock, selection), so `--once` and the tests render
into a plain console; the loop only decides when to re-read (a commit seen by `ChangeWatch`) and
when to redraw (every `interval`, for the "updated N s ago" clock and the keys). Panels are
dropped, never squashed, when the terminal is small; text never wraps.
"""

from __future__ import annotations

import datetime as dt
import os
import select
import sys
import termios
import tty
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

from rings_cli.query.live import LiveFrame
from rings_cli.query.model import BreakdownRow, Report
from rings_cli.ui.charts import zone_label
from rings_cli.ui.render import human_bytes, literal, session_figures

BLOCKS = " ▁▂▃▄▅▆▇█"
PANEL_ROWS = 10  # body rows of a list panel on a tall terminal
MIN_PANEL_ROWS = 3


@dataclass
class View:
    """What the user is looking at: a tenant or all, and the highlighted row of the tenants list."""

    tenant: str | None
    pinned: bool  # started with --tenant: Esc does not go back to all tenants
    selected: int = 0


def ago(then: dt.datetime | None, now: dt.datetime) -> str:
    if then is None:
        return "no data yet"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return f"updated {seconds} s ago"
    if seconds < 3600:
        return f"updated {seconds // 60} min ago"
    return f"updated {then:%Y-%m-%d %H:%M} UTC"


def header(frame: LiveFrame, now: dt.datetime, note: str | None) -> Text:
    who = frame.tenant or "all tenants"
    text = Text.assemble(
        ("Rings live", "bold cyan"),
        "  ",
        literal(who, "bold"),
        f"  {frame.date.isoformat()} ({zone_label(frame.report)})  ",
    )
    if frame.has_data and frame.date >= now.astimezone(dt.UTC).date() - dt.timedelta(days=1):  # today
        n = frame.current_visitors
        text.append(f"{n:,} current visitor{'' if n == 1 else 's'}", "bold green" if n else "dim")
        text.append("  ")
    text.append(ago(frame.as_of, now), "dim")
    if note:
        text.append("  ")
        text.append_text(literal(note, "yellow"))
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text


def totals(frame: LiveFrame) -> Table:
    t = frame.report["totals"]
    bot_share = t["bot_requests"] / t["requests"] if t["requests"] else 0.0
    cells = [
        ("page views", f"{t['page_views']:,}"),
        ("visitors", f"{t['unique_visitors']:,}"),
        ("sessions", f"{t['sessions']:,}"),
        ("bounce", session_figures(t)[0]),
        ("avg session", session_figures(t)[1]),
        ("requests", f"{t['requests']:,}"),
        ("bots", f"{bot_share:.0%}"),
        ("bytes", human_bytes(t["bytes"])),
    ]
    grid = Table.grid(padding=(0, 2))
    for _ in cells:
        grid.add_column(no_wrap=True)
    grid.add_row(*[Text(label, "dim") for label, _ in cells])
    grid.add_row(*[Text(value, "bold") for _, value in cells])
    return grid


def hour_chart(frame: LiveFrame, width: int, rows: int, now: dt.datetime) -> Text:
    """Page views per hour as Unicode block bars; the current hour (today) in another colour."""
    per_hour = [0] * 24
    for h in frame.report["hours"]:
        per_hour[int(h["hour"])] += int(h["page_views"])
    col = max(2, min(4, (width - 8) // 24))
    top = max(per_hour) or 1
    zone = frame.report.get("timezone", "UTC")  # the tenant's hours: its own "now" (zones.py)
    local = now.astimezone(ZoneInfo(zone)) if zone != "per tenant" else None
    current = local.hour if local is not None and frame.date == local.date() else None
    text = Text(no_wrap=True, overflow="crop")
    text.append(f"page views per hour (max {top:,})\n", "dim")
    for level in range(rows, 0, -1):
        for hour, value in enumerate(per_hour):
            eighths = round(value / top * rows * 8) - (level - 1) * 8
            block = BLOCKS[max(0, min(8, eighths))]
            style = "bold magenta" if hour == current else "green"
            text.append((block * (col - 1)).ljust(col), style)
        text.append("\n")
    for hour in range(24):
        label = f"{hour:02d}" if hour % (1 if col >= 3 else 3) == 0 or hour == current else ""
        text.append(label.ljust(col)[:col], "bold magenta" if hour == current else "dim")
    if current is not None:  # marked in shape too, not only in colour (NO_COLOR)
        text.append("\n" + " " * (current * col) + "▲ now", "bold magenta")
    return text


def _list_panel(
    title: str, columns: list[tuple[str, str]], rows: list[list[Any]], limit: int, selected: int | None = None
) -> Panel:
    """A titled list. Columns are (name, kind): `text` columns share the width left over (and
    are cut with an ellipsis), `number` and `fixed` ones keep theirs."""
    table = Table(box=None, show_edge=False, pad_edge=False, expand=True, header_style="dim")
    for name, kind in columns:
        table.add_column(
            name,
            justify="right" if kind == "number" else "left",
            no_wrap=True,
            overflow="ellipsis",
            ratio=1 if kind == "text" else None,
            min_width=len(name) if kind != "text" else 4,
        )
    for i, row in enumerate(rows[:limit]):
        cells = [c if isinstance(c, Text) else Text(c) for c in row]
        table.add_row(*cells, style="reverse" if i == selected else None)
    if not rows:
        table.add_row(Text("none yet", "dim"), *[""] * (len(columns) - 1))
    return Panel(table, title=title, title_align="left", box=box.ROUNDED, padding=(0, 1))


# A list panel to be drawn: a function of its row budget, and the rows it has.
PanelMaker = tuple[Callable[[int], Panel], int]
# make(title, columns, rows): a list panel's maker (in `panel_makers`).
MakePanel = Callable[[str, list[tuple[str, str]], list[list[Any]]], PanelMaker]
Breakdown = TypeVar("Breakdown", bound=BreakdownRow)


def panel_makers(frame: LiveFrame, view: View) -> list[PanelMaker]:
    """Every list panel, most important first: a function of its row budget, and the rows it has."""
    r = frame.report
    all_tenants = view.tenant is None

    def n(value: int) -> str:
        return f"{value:,}"

    def make(
        title: str, columns: list[tuple[str, str]], rows: list[list[Any]], selected: int | None = None
    ) -> PanelMaker:
        return (lambda k: _list_panel(title, columns, rows, k, selected)), len(rows)

    out = [
        make(
            "Top pages",
            [("path", "text"), ("views", "number"), ("uniq", "number")],
            [[literal(p["path"]), n(p["views"]), n(p["unique_views"])] for p in r["top_pages"]],
        ),
        make(
            "Referrers",
            [("source", "text"), ("visits", "number")],
            [[literal(x["source"]), n(x["visits"])] for x in r["top_referrers"]],
        ),
    ]
    if all_tenants and r.get("tenants"):
        out.insert(
            0,
            make(
                "Tenants (↑/↓ Enter)",
                [("tenant", "text"), ("views", "number"), ("visitors", "number"), ("requests", "number")],
                [
                    [literal(t["tenant"]), n(t["page_views"]), n(t["unique_visitors"]), n(t["requests"])]
                    for t in r["tenants"]
                ],
                view.selected,
            ),
        )
    out.append(
        make(
            "Status",
            [("code", "text"), ("requests", "number")],
            [[Text(code, _status_style(code)), n(count)] for code, count in sorted(r["status"].items())],
        )
    )
    if frame.feed or frame.date >= dt.datetime.now(dt.UTC).date():
        columns = [("time", "fixed"), ("tenant", "text"), ("path", "text"), ("source", "text")]
        rows = [
            [
                Text(f"{v['time']:%H:%M:%S}", "dim"),
                literal(v["tenant"]),
                literal(v["path"]),
                literal(v["source"] or "direct"),
            ]
            for v in frame.feed
        ]
        if not all_tenants:
            columns.pop(1)
            rows = [[row[0], *row[2:]] for row in rows]
        out.append(make("Latest page views", columns, rows))
    if r.get("goals"):
        out.append(
            make(
                "Goals",
                [("goal", "text"), ("visitors", "number"), ("conv.", "number")],
                [
                    [literal(g["goal"]), n(g["visitors"]), f"{g['conversion_rate']:.0%}"]
                    for g in r.get("goals", [])
                ],
            )
        )
    if r["content"]:
        out.append(
            make(
                "Posts",
                [("post", "text"), ("views", "number"), ("uniq", "number")],
                [[literal(c["post_id"]), n(c["views"]), n(c["unique_views"])] for c in r["content"]],
            )
        )
    out += _breakdown_panels(r, make, n)
    return out


def _breakdown_panels(r: Report, make: MakePanel, n: Callable[[int], str]) -> list[PanelMaker]:
    """Browsers, OS, devices, countries and not-found paths: narrow (a name and two numbers), so
    two share a row at 80 columns; after the panels above, shown as the height allows."""
    views = [("views", "number"), ("uniq", "number")]

    def rows(items: Sequence[Breakdown], label: Callable[[Breakdown], str]) -> list[list[Any]]:
        return [[literal(label(x)), n(x["page_views"]), n(x["unique_visitors"])] for x in items]

    out = [
        make(
            "Browsers",
            [("browser", "text"), *views],
            rows(r["browsers"], lambda x: f"{x['browser']} {x['version']}".strip()),
        ),
        make("OS", [("os", "text"), *views], rows(r["os"], lambda x: x["os"])),
        make(
            "Devices",
            [("device", "text"), *views, ("requests", "number")],
            [
                [literal(x["device"]), n(x["page_views"]), n(x["unique_visitors"]), n(x["requests"])]
                for x in r.get("devices", [])
            ],
        ),
        make("Countries", [("country", "text"), *views], rows(r["countries"], lambda x: x["name"])),
    ]
    if r.get("not_found"):
        out.append(
            make(
                "Not found",
                [("path", "text"), ("requests", "number"), ("bots", "number")],
                [[literal(x["path"]), n(x["requests"]), n(x["bot_requests"])] for x in r["not_found"]],
            )
        )
    return out


def _status_style(code: str) -> str:
    return "bold red" if code.startswith("5") else "yellow" if code.startswith("4") else ""


def dashboard(
    frame: LiveFrame,
    width: int,
    height: int | None,
    view: View,
    now: dt.datetime | None = None,
    note: str | None = None,
) -> RenderableType:
    """One frame for a terminal of `width` by `height` (None: as tall as it needs, for --once)."""
    now = now or dt.datetime.now(dt.UTC)
    return Group(header(frame, now, note), *body(frame, width, height, view, now))


def body(
    frame: LiveFrame, width: int, height: int | None, view: View, now: dt.datetime
) -> list[RenderableType]:
    """Everything below the header line: a function of the frame, the size, the selection and the
    time of day (the hour chart marks the current hour, the tenant's own, which may begin on a
    quarter hour), so `run` draws it again only when one of them changes."""
    parts: list[RenderableType] = []
    budget = height if height is not None else 10_000
    footer = Text("q quit" + ("" if view.pinned else "  ↑/↓ Enter pick a tenant  Esc all tenants"), "dim")
    budget -= 2  # header and footer
    if not frame.has_data:
        parts.append(
            Text(f"\nNo data for {frame.date.isoformat()} yet: waiting for `rings ingest`.", "yellow")
        )
        parts.append(footer)
        return parts
    if budget >= 3:
        parts.append(totals(frame))
        budget -= 2
    chart_rows = 5 if budget >= 19 else 3 if budget >= 13 else 0
    if chart_rows:
        parts.append(hour_chart(frame, width, chart_rows, now))
        budget -= chart_rows + (3 if frame.date == now.date() else 2)
    per_row = 2 if width >= 70 else 1
    made = panel_makers(frame, view)
    while made and budget >= MIN_PANEL_ROWS + 3:
        row, made = made[:per_row], made[per_row:]
        rows = min(PANEL_ROWS, max(max(w for _, w in row), 1), budget - 3)
        grid = Table.grid(expand=True, padding=(0, 1))
        for _ in row:
            grid.add_column(ratio=1)
        grid.add_row(*[make(rows) for make, _ in row])
        parts.append(grid)
        budget -= rows + 3
    parts.append(footer)
    return parts


class Drawn:
    """Lines already rendered (Rich segments), drawn again as they are: the cheap part of a redraw
    whose only change is the header's clock ("updated 3 s ago")."""

    def __init__(self, lines: list[list[Segment]]) -> None:
        self.lines = lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Segment]:
        end = Segment.line()
        for line in self.lines:
            yield from line
            yield end


class Keys:
    """Single key presses from a terminal in cbreak mode (no echo, no line buffering); restored on
    exit. Ctrl-C still raises KeyboardInterrupt. Elsewhere (no TTY) it only waits."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdin
        self.fd: int | None = None
        self.saved: list[Any] | None = None

    def __enter__(self) -> Keys:
        try:
            if self.stream.isatty():
                self.fd = self.stream.fileno()
                self.saved = termios.tcgetattr(self.fd)
                tty.setcbreak(self.fd)
        except (OSError, ValueError, termios.error):
            self.fd = None
        return self

    def __exit__(self, *_: object) -> None:
        if self.fd is not None and self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)

    def read(self, timeout: float) -> str | None:
        """The next key ('up', 'down', 'enter', 'esc', or the character), or None after `timeout`."""
        if self.fd is None:
            select.select([], [], [], timeout)
            return None
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return None
        data = os.read(self.fd, 1)
        if data == b"\x1b":
            more, _, _ = select.select([self.fd], [], [], 0.05)
            if not more:
                return "esc"
            data += os.read(self.fd, 8)
        return {
            b"\x1b[A": "up",
            b"\x1bOA": "up",
            b"\x1b[B": "down",
            b"\x1bOB": "down",
            b"\n": "enter",
            b"\r": "enter",
            b"\x7f": "esc",
        }.get(data, data.decode(errors="replace"))


def run(
    console: Console,
    load: Callable[[View], LiveFrame],
    changed: Callable[[View], bool],
    view: View,
    interval: float,
    note: Callable[[], str | None] = lambda: None,
) -> None:
    """Look every `interval` seconds; re-read only when `changed` says a commit happened, and draw
    only what changed: nothing when nothing did, the header alone when only its clock moved (the
    rest is drawn from the lines rendered before). q or Ctrl-C ends it; the terminal is restored
    in every case (Live and Keys both restore)."""
    frame = load(view)
    drawn: tuple[object, ...] | None = None  # what the screen shows now
    kept: tuple[tuple[object, ...], Drawn] | None = None  # the body's rendered lines, and for what
    with Keys() as keys, Live(console=console, screen=True, auto_refresh=False, transient=True) as live:
        while True:
            if changed(view):
                frame = load(view)
            size = console.size
            now = dt.datetime.now(dt.UTC)
            says = note()
            quarter = (now.date(), now.hour, now.minute // 15)
            shape = (id(frame), size.width, size.height, view.tenant, view.selected, quarter)
            state = (*shape, says, ago(frame.as_of, now))
            if state != drawn:
                if kept is None or kept[0] != shape:
                    rows = size.height - 1  # below the header
                    parts = body(frame, size.width, size.height, view, now)
                    options = console.options.update(width=size.width, height=None)
                    kept = shape, Drawn(console.render_lines(Group(*parts), options, pad=False)[:rows])
                live.update(Group(header(frame, now, says), kept[1]), refresh=True)
                drawn = state
            key = keys.read(interval)
            if key in ("q", "Q"):
                return
            tenants = [t["tenant"] for t in frame.report.get("tenants", [])]
            if view.tenant is None and key in ("up", "down") and tenants:
                step = -1 if key == "up" else 1
                view.selected = max(0, min(len(tenants) - 1, view.selected + step))
            elif view.tenant is None and key == "enter" and tenants:
                view.tenant = tenants[min(view.selected, len(tenants) - 1)]
                frame = load(view)
            elif key == "esc" and view.tenant is not None and not view.pinned:
                view.tenant = None
                frame = load(view)
