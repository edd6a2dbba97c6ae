"""The report's tables drawn as one Text (render.table_text) look exactly like Rich's Table:
same characters and same styles on every cell of a colour terminal, for hostile log text too
(markup, control characters made safe, wide and combining characters, trailing spaces)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console, Group, RenderableType
from rich.text import Text

from rings_cli.core.text import safe_text
from rings_cli.ui import render
from rings_cli.ui.render import fit_table, report_renderable, rich_table, table_text

HOSTILE = [
    "/[/]",
    "/[link=http://evil.example]x",
    "/[bold]loud[/bold]",
    "/:smile:",
    safe_text("/\x1b]8;;http://evil\x07x\x1b]8;;\x07"),
    safe_text("/p\u202eevil\u2066"),
    "/日本語のページ",
    "/e\u0301te",  # combining accent: no cell of its own
    "/🎉party",
    "trailing  ",
    "  leading",
    "",
]


def styled_cells(renderable: RenderableType, width: int) -> list[list[tuple[str, str]]]:
    """Each line as (character, style) pairs, as a colour terminal `width` columns wide shows them."""
    console = Console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=width)
    lines = console.render_lines(renderable, console.options, pad=False, new_lines=False)
    return [[(ch, str(seg.style or "")) for seg in line for ch in seg.text] for line in lines]


def ansi(renderable: RenderableType, width: int, terminal: bool) -> str:
    """Printed as `rings report` prints it: in a Group (a bare Text would be re-wrapped by Rich,
    which counts characters, not cells, and drops padding after zero-width ones)."""
    out = io.StringIO()
    if terminal:
        Console(file=out, force_terminal=True, color_system="truecolor", width=width).print(Group(renderable))
    else:
        Console(file=out, width=width).print(Group(renderable))
    return out.getvalue()


def both(title: str, headers: list[str], lefts: list[bool], columns: list[list[str]], width: int) -> Text:
    drawn = table_text(title, headers, lefts, columns, width)
    assert drawn is not None
    rich = rich_table(title, headers, lefts, columns)
    assert styled_cells(drawn, width) == styled_cells(rich, width)
    assert ansi(drawn, width, terminal=False) == ansi(rich, width, terminal=False)
    return drawn


def test_hostile_cells_draw_like_rich_and_stay_literal() -> None:
    numbers = [f"{i * 1234:,}" for i in range(len(HOSTILE))]
    drawn = both("Top pages", ["path", "views"], [True, False], [HOSTILE, numbers], 120)
    shown = ansi(drawn, 120, terminal=True)
    assert "/[link=http://evil.example]x" in shown and "/[bold]loud[/bold]" in shown
    assert "\x1b]8" not in shown and "\x07" not in shown  # no hyperlink, no bell: the escapes are text


def test_right_column_with_trailing_space_and_wide_header() -> None:
    both("Status codes", ["statut été", "requêtes"], [True, False], [["200", "404"], ["1 ", "22  "]], 80)


def test_empty_table_and_a_table_exactly_as_wide_as_the_terminal() -> None:
    both("Days", ["date", "page views"], [True, False], [[], []], 80)
    width = render._geometry([10, 6])
    both("Top pages", ["path", "views"], [True, False], [["/abcdefghi", "/"], ["1", "12,345"]], width)


def test_too_wide_or_title_too_long_falls_back_to_rich() -> None:
    assert table_text("T", ["path"], [True], [["/" + "x" * 100]], 80) is None
    assert table_text("A rather long title", ["p"], [True], [["/"]], 80) is None
    table = fit_table("Top pages", [{"path": "/" + "x" * 300, "views": 1}], render._PAGE_COLUMNS, 8)
    assert not isinstance(table, Text)  # narrower than anything it can cut to: Rich's Table crops it


def _report(paths: list[str]) -> dict[str, Any]:
    rows = [
        {"path": p, "views": 10 - i, "unique_views": 9, "entries": 8, "exits": 7, "avg_time_seconds": 61.5}
        for i, p in enumerate(paths)
    ]
    return {
        "tenant": "a.example",
        "start": "2025-12-01",
        "end": "2025-12-01",
        "timezone": "UTC",
        "totals": {
            "requests": 30,
            "page_views": 20,
            "unique_visitors": 5,
            "bytes": 1000,
            "bot_requests": 1,
            "sessions": 4,
            "bounce_rate": 0.5,
            "avg_session_duration": 30.0,
        },
        "days": [
            {
                "date": "2025-12-01",
                "page_views": 20,
                "unique_visitors": 5,
                "sessions": 4,
                "bounce_rate": 0.5,
                "avg_session_duration": 30.0,
                "requests": 30,
            }
        ],
        "hours": [{"hour": 10, "page_views": 20, "unique_visitors": 5}],
        "status": {"200": 29, "404": 1},
        "bots": {"crawler": 1, "library": 0, "referrer spam": 0, "outdated browser": 0},
        "top_pages": rows,
        "top_referrers": [{"source": p or "direct", "visits": 3} for p in paths],
        "top_campaigns": [{"source": p, "medium": p[::-1], "campaign": p, "visits": 1} for p in paths],
        "content": [],
        "browsers": [],
        "os": [],
        "devices": [],
        "countries": [],
        "not_found": [{"path": p, "requests": 1, "bot_requests": 0} for p in paths],
    }


@pytest.mark.parametrize("width", [30, 50, 80, 120, 250])
def test_whole_report_is_the_same_as_with_rich_tables(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """At every width, cut or not: the report prints the same bytes, plain and in colour."""
    report = _report(["/a", *[safe_text(h) for h in HOSTILE], "/" + "long-path-" * 12])
    fast = [ansi(report_renderable(report, width), width, t) for t in (False, True)]
    fast_cells = styled_cells(report_renderable(report, width), width)
    monkeypatch.setattr(render, "table_text", lambda *args: None)
    slow = [ansi(report_renderable(report, width), width, t) for t in (False, True)]
    assert fast[0] == slow[0]
    assert fast_cells == styled_cells(report_renderable(report, width), width)
    # Rich closes and reopens bold around a header's padding: the same colours, fewer bytes
    assert fast[1].replace("\x1b[0m\x1b[1m", "") == slow[1].replace("\x1b[0m\x1b[1m", "")


CELL = st.lists(
    st.sampled_from(["[", "]", "/", ":", "x", "日", "\u0301", "🎉", " ", "\\x1b", "é", "=", "-"]), max_size=8
).map("".join)


@settings(max_examples=60, deadline=None)
@example(rows=[("x\u0301", "a", 5)], width=26)  # a combining accent in a table as wide as the terminal
@given(rows=st.lists(st.tuples(CELL, CELL, st.integers(0, 10**9)), max_size=6), width=st.integers(20, 140))
def test_random_cells_draw_like_rich(rows: list[tuple[str, str, int]], width: int) -> None:
    columns = [[r[0] for r in rows], [r[1] for r in rows], [f"{r[2]:,}" for r in rows]]
    drawn = table_text("Campaigns", ["source", "medium", "visits"], [True, True, False], columns, width)
    if drawn is None:
        return
    rich = rich_table("Campaigns", ["source", "medium", "visits"], [True, True, False], columns)
    assert styled_cells(drawn, width) == styled_cells(rich, width)
    assert ansi(drawn, width, terminal=False) == ansi(rich, width, terminal=False)
