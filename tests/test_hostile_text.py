"""Log text is shown literally: markup, control characters and formulas from a log never act.

Everything goes through the real CLI: ingest a log, then `rings report` as table, JSON and CSV.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rings_cli.core.text import csv_cell, safe_text
from rings_cli.ui.render import CSV_SECTIONS
from tests.conftest import line, run_cli

# Raw path in the log → how the table and CSV show it (JSON keeps the raw text, \u-escaped).
HOSTILE_PATHS = {
    "/[/]": "/[/]",
    "/[link=http://evil.example]x": "/[link=http://evil.example]x",
    "/[bold]loud[/bold]": "/[bold]loud[/bold]",
    "/:smile:": "/:smile:",
    "/\x1b]8;;http://evil\x07x\x1b]8;;\x07": "/\\x1b]8;;http://evil\\x07x\\x1b]8;;\\x07",
    "/\x1b[2J": "/\\x1b[2J",
    "/c\x85x\x9b31m": "/c\\x85x\\x9b31m",
    "/p\u202eevil\u2066": "/p\\u202eevil\\u2066",
}
# Unicode categories that must never reach stdout raw (newline aside, between lines of output).
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
SGR = re.compile(r"\x1b\[[0-9;]*m")
TEXT_COLUMNS = {"path", "source", "medium", "campaign", "post_id", "tenant", "status", "date"}
# breakdowns (browsers, os, devices, countries): derived names, text too
TEXT_COLUMNS |= {"browser", "version", "os", "device", "country", "name", "reason"}  # and bot reasons


def raw_controls(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in HIDDEN]


def ingest(root: Path, lines: list[str], name: str = "access.log", *args: str) -> Path:
    """Ingest `lines` (written as UTF-8) into a fresh state dir under root; return the state dir."""
    log = root / name
    log.write_bytes("".join(x + "\n" for x in lines).encode("utf-8", "surrogateescape"))
    state = root / "state"
    result = run_cli("ingest", "--state-dir", str(state), *args, str(log))
    assert result.exit_code == 0, result.output
    return state


def report(state: Path, fmt: str, *args: str) -> str:
    result = run_cli("report", "--state-dir", str(state), "--format", fmt, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    assert b"\x1b" not in result.stdout_bytes
    return result.stdout


def csv_rows(state: Path, section: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(report(state, "csv", "--section", section))))


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich tables wrap long cells at 80 columns; a wide console keeps each path on one line."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.mark.parametrize("raw", list(HOSTILE_PATHS), ids=ascii)
def test_hostile_path_is_shown_literally_in_every_format(tmp_path: Path, raw: str) -> None:
    state = ingest(tmp_path, [line(request=f"GET {raw} HTTP/1.1")])
    shown = HOSTILE_PATHS[raw]

    table = report(state, "table")
    assert f" {shown} " in table  # the whole text, in its cell
    assert not raw_controls(table)

    out = report(state, "json")
    assert out.isascii()  # C1 and bidi characters too are \u-escaped
    assert [p["path"] for p in json.loads(out)["top_pages"]] == [raw]  # exact text for machines

    assert [r["path"] for r in csv_rows(state, "top_pages")] == [shown]


def test_markup_in_utm_source_and_campaign_is_text(tmp_path: Path) -> None:
    state = ingest(
        tmp_path, [line(request="GET /?utm_source=[/]&utm_campaign=[link=http://evil.example]x HTTP/1.1")]
    )
    table = report(state, "table")
    assert " [/] " in table
    assert " [link=http://evil.example]x " in table
    data = json.loads(report(state, "json"))
    assert data["top_referrers"] == [{"source": "[/]", "visits": 1}]
    assert data["top_campaigns"][0]["campaign"] == "[link=http://evil.example]x"
    assert csv_rows(state, "top_campaigns")[0]["source"] == "[/]"


def test_link_markup_and_osc_never_reach_a_colour_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal Rich writes styles; a path must still never become a hyperlink (OSC 8)."""
    osc = "/\x1b]8;;http://evil\x07x\x1b]8;;\x07"
    state = ingest(
        tmp_path,
        [line(request="GET /[link=http://evil.example]x HTTP/1.1"), line(request=f"GET {osc} HTTP/1.1")],
    )
    monkeypatch.setenv("FORCE_COLOR", "1")
    result = run_cli("report", "--state-dir", str(state))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "\x1b[" in out  # styles are drawn: this really is terminal output
    assert "\x1b]" not in out  # no OSC at all, so no hyperlink
    assert "evil.example" not in "".join(re.findall(r"\x1b[^m]*m", out))
    plain = SGR.sub("", out)
    assert "\x1b" not in plain  # every escape left is a colour
    assert " /[link=http://evil.example]x " in plain
    assert " /\\x1b]8;;http://evil\\x07x\\x1b]8;;\\x07 " in plain


def test_csv_cells_that_look_like_formulas_are_neutralised(tmp_path: Path) -> None:
    lines = [
        line(request="GET -1 HTTP/1.1"),
        line(request="GET @SUM(1) HTTP/1.1"),
        line(
            request="GET /?utm_source==HYPERLINK(1,2)&utm_medium=+1&utm_campaign=@SUM(1) HTTP/1.1",
            ip="203.0.113.2",
        ),
        line(request="GET /posts/-1/ HTTP/1.1", ip="203.0.113.3", referrer="http://=cmd.example/"),
        line(request="GET /posts/=1+1/ HTTP/1.1", ip="203.0.113.4", referrer="http://-2.example/"),
    ]
    state = ingest(tmp_path, lines)
    sections = {s: csv_rows(state, s) for s in CSV_SECTIONS}

    assert {r["path"] for r in sections["top_pages"]} >= {"'-1", "'@SUM(1)"}
    assert sections["top_campaigns"] == [
        {"source": "'=HYPERLINK(1,2)", "medium": "'+1", "campaign": "'@SUM(1)", "visits": "1"}
    ]
    assert {r["source"] for r in sections["top_referrers"]} >= {"'=cmd.example", "'-2.example"}
    assert {r["post_id"] for r in sections["content"]} == {"'-1", "'=1+1"}
    # No cell a spreadsheet would evaluate; every number stays a plain number.
    for name, rows in sections.items():
        for row in rows:
            for column, cell in row.items():
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, column, cell)
                if column not in TEXT_COLUMNS:
                    assert re.fullmatch(r"\d+(\.\d+)?", cell), (name, column, cell)
    # JSON keeps the exact text: it is data for machines, not a spreadsheet.
    data = json.loads(report(state, "json"))
    assert {p["post_id"] for p in data["content"]} == {"-1", "=1+1"}


def test_ingest_summary_shows_file_names_literally(tmp_path: Path) -> None:
    name = "a\x1b]8;;http:\x07b\x1b[2J[b]\u202e.log"
    log = tmp_path / name
    log.write_text(line() + "\n")
    result = run_cli("ingest", "--state-dir", str(tmp_path / "state"), str(log))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert not raw_controls(result.stdout)
    assert "a\\x1b]8;;http:\\x07b\\x1b[2J[b]\\u202e.log: combined" in result.stdout

    result = run_cli("ingest", "--state-dir", str(tmp_path / "state2"), "--json", str(log))
    assert result.exit_code == 0, result.output
    assert result.stdout.isascii()
    assert list(json.loads(result.stdout)["formats"]) == [str(log)]


def test_safe_text_and_csv_cell() -> None:
    assert safe_text("\t\n\r\x00\x7f\x9b\u00ad\u200b\u2028\u2029\ufeff\udc80\U000e0041") == (
        "\\x09\\x0a\\x0d\\x00\\x7f\\x9b\\xad\\u200b\\u2028\\u2029\\ufeff\\udc80\\U000e0041"
    )
    assert safe_text("/café/日本/[b]\\x") == "/café/日本/[b]\\x"  # printable text is kept as it is
    assert csv_cell(-1) == -1 and csv_cell(-0.5) == -0.5 and csv_cell(None) is None
    assert csv_cell("-1") == "'-1"
    assert csv_cell("\t=1") == "\\x09=1"  # an escaped tab no longer starts the cell


# Pieces the property test builds fields from: markup, escapes, controls, bidi, odd bytes.
PIECES = st.one_of(
    st.sampled_from(
        [
            "[/]",
            "[link=http://evil.example]",
            "[bold]",
            ":smile:",
            "\x1b[2J",
            "\x1b]8;;http://x\x07",
            "\u202e",
            "=",
            "@",
            "+",
            "-",
            "\\",
            "%1b",
            "\x85",
            "\x00",
        ]
    ),
    st.characters(blacklist_characters='\n\r "', codec="utf-8"),
    st.characters(whitelist_categories=("Cc", "Cf", "Zl", "Zp"), blacklist_characters='\n\r "'),
    st.binary(min_size=1, max_size=2).map(lambda b: b.decode("utf-8", "surrogateescape")),
)
FIELD = st.lists(PIECES, max_size=6).map("".join)
REQUEST = st.fixed_dictionaries(
    {"path": FIELD, "source": FIELD, "referrer": FIELD, "ua": FIELD, "host": FIELD}
)
# Sections with free log text (tenants are validated names, status codes digits; the regression
# tests above write every section). Fewer report runs keep each example under a second.
TEXT_SECTIONS = ("top_pages", "top_referrers", "top_campaigns", "content")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(REQUEST, min_size=1, max_size=4))
def test_random_log_text_never_crashes_or_reaches_the_terminal(requests: list[dict[str, str]]) -> None:
    """Whatever requests carry in path, utm_source, referrer, user agent and host, ingest → report
    (table, JSON, CSV) exits 0 and prints no raw control character. Each file starts with a good
    line so its format is recognised; a random line that does not parse is counted as rejected."""
    combined, vhosts = [line()], [line(vhost="good.example")]
    for i, r in enumerate(requests):
        ip = f"203.0.113.{i + 10}"
        query = f"?utm_source={r['source']}&utm_campaign={r['path']}"
        combined.append(
            line(ip=ip, request=f"GET /{r['path']}{query} HTTP/1.1", referrer=r["referrer"], ua=r["ua"])
        )
        combined.append(
            line(ip=ip, request=f"GET /posts/{r['path']}/ HTTP/1.1", referrer=f"http://{r['host']}/")
        )
        vhosts.append(line(ip=ip, request=f"GET /{r['path']} HTTP/1.1", ua=r["ua"], vhost=r["host"] or "-"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = [root / "combined.log", root / "vhost.log"]
        for file, lines in zip(files, (combined, vhosts), strict=True):
            file.write_bytes("".join(x + "\n" for x in lines).encode("utf-8", "surrogateescape"))
        state = root / "state"
        result = run_cli("ingest", "--state-dir", str(state), "--no-finalize", *map(str, files))
        assert result.exit_code == 0, (result.output, result.exception)
        assert not raw_controls(result.stdout)
        assert not raw_controls(report(state, "table"))
        out = report(state, "json")
        assert out.isascii()
        assert json.loads(out)["totals"]["requests"] >= 2
        for section in TEXT_SECTIONS:
            assert not raw_controls(report(state, "csv", "--section", section))
