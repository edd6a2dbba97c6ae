"""Log text made safe to show: every output (terminal, CSV, later HTML) starts from `safe_text`.

Paths, referrer sources, campaigns, post ids and file names come from whoever sent the request or
named the file. Shown raw, an ESC or OSC byte drives the terminal (clears it, plants a hyperlink), a
U+202E turns the rest of a line around, and a CSV cell starting with `=` is a spreadsheet formula.
`safe_text` turns every such character into a visible escape (`\\x1b`, `\\u202e`), so the text is
shown as it was, one character per character, and can never act. It adds no markup and escapes
nothing else: an HTML view escapes the result (`html.escape(safe_text(v))`), a Rich view wraps it
in `rich.text.Text`, which never parses markup. JSON needs neither: `json.dumps` escapes every
control and non-ASCII character (`ensure_ascii`), and a machine reading it gets the exact text.

Pipeline-neutral (no rich, no typer), so `rings report`, `rings live` and `rings serve` share it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Categories that act instead of being seen: controls (C0, DEL, C1), format characters (bidi
# overrides and isolates, zero-width joiners, BOM, ...), lone surrogates (from undecodable bytes;
# they cannot even be encoded to stdout), and the Unicode line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Printable ASCII is never hidden: only other characters are looked up (fast path for plain text).
_NOT_PLAIN = re.compile(r"[^\x20-\x7e]")
# OWASP's CSV-injection triggers: a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in _HIDDEN_CATEGORIES:
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def safe_text(value: Any) -> str:
    """`value` as text with every control, format or separator character shown as an escape.

    `"/\\x1b[2J"` → `"/\\\\x1b[2J"` (a backslash, then `x1b`), `"a\\u202eb"` → `"a\\\\u202eb"`.
    Everything else, markup brackets and backslashes included, is kept as it is.
    """
    return _NOT_PLAIN.sub(_escape, str(value))


def csv_cell(value: Any) -> Any:
    """A CSV cell: numbers as they are; text made safe and, if a spreadsheet would read it as a
    formula (starts with `= + - @`, tab or CR), prefixed with `'` as OWASP recommends. A lone `-`
    (the status of a request without one) is no formula."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = safe_text(value)
    return "'" + text if text.startswith(_FORMULA_START) and text != "-" else text


def plural(n: int, word: str) -> str:
    """`1 tenant`, `3 tenants`, `1,000 lines`: counts read as sentences, not as `1 tenants`."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def cell(value: Any) -> str:
    """A report value as a table cell: thousands separated, two decimals, anything else as is."""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
