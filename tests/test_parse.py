"""Parsing: formats detected, fields extracted, bad lines counted and never fatal."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rings_cli.source.formatcheck import detect
from rings_cli.source.formats import FORMATS
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines
from tests.conftest import line


def parse(text: bytes, fmt: str | None = None) -> tuple[pl.DataFrame, Rejects]:
    lines = lines_from_bytes(text)
    chosen = FORMATS[fmt] if fmt else detect(lines)
    assert chosen is not None
    rejects = Rejects()
    return parse_lines(lines, chosen, rejects), rejects


def test_detects_each_predefined_format_from_its_example() -> None:
    for name, fmt in FORMATS.items():
        found = detect(pl.Series([fmt.example] * 3))
        assert found is not None and found.name == name


def test_combined_fields_and_utc_conversion() -> None:
    frame, rejects = parse(
        (line(when="01/Dec/2025:01:30:00 +0200", request="GET /a?b=1 HTTP/2.0") + "\n").encode()
    )
    row = frame.row(0, named=True)
    assert row["ts"] == dt.datetime(2025, 11, 30, 23, 30, tzinfo=dt.UTC)
    assert (row["method"], row["target"], row["status"], row["bytes"]) == ("GET", "/a?b=1", 200, 512)
    assert rejects.total == 0


def test_vhost_first_field_is_kept() -> None:
    frame, _ = parse((line(vhost="www.Example.com:443") + "\n").encode())
    assert frame.get_column("vhost").to_list() == ["www.Example.com:443"]


def test_tolerates_escaped_quotes_and_trailing_fields() -> None:
    text = "\n".join(
        [
            line(ua=r"Mozilla/5.0 \"quoted\" agent") + ' "-"',
            line() + " 0.012 upstream=1",
            line(size="-"),
        ]
    )
    frame, rejects = parse(text.encode(), "combined")
    assert frame.height == 3 and rejects.total == 0
    assert frame.get_column("bytes").to_list() == [512, 512, 0]


def test_dash_request_is_a_request_without_method() -> None:
    frame, rejects = parse((line(request="-", status=408, size="0") + "\n").encode(), "combined")
    assert frame.height == 1 and rejects.total == 0
    assert frame.get_column("method").to_list() == ["-"]
    assert frame.get_column("target").to_list() == [None]


def test_rejects_are_counted_by_reason() -> None:
    text = "\n".join(
        [
            line(),
            "",
            "complete garbage here",
            line(when="99/Foo/2025:10:00:00 +0000"),
            line()[:40],
        ]
    )
    frame, rejects = parse(text.encode(), "combined")
    assert frame.height == 1
    assert rejects.counts == {"empty": 1, "unparseable": 2, "bad timestamp": 1}


def test_invalid_utf8_does_not_lose_the_line() -> None:
    raw = line(ua="Agent-XX").encode().replace(b"XX", b"\xff\xfe") + b"\n"
    frame, rejects = parse(raw, "combined")
    assert frame.height == 1 and rejects.total == 0


def test_crlf_line_endings() -> None:
    frame, rejects = parse((line() + "\r\n" + line() + "\r\n").encode(), "combined")
    assert frame.height == 2 and rejects.total == 0
    assert frame.get_column("ua").str.ends_with("\r").sum() == 0


@settings(max_examples=60, deadline=None)
@given(garbage=st.lists(st.binary(max_size=200), max_size=20), valid=st.integers(0, 20))
def test_garbage_never_crashes_and_never_hides_valid_lines(garbage: list[bytes], valid: int) -> None:
    # Garbage without newlines, interleaved with valid lines: every valid line must parse.
    junk = [g.replace(b"\n", b" ").replace(b"\r", b" ") for g in garbage]
    good = [line(ip=f"10.0.0.{i}").encode() for i in range(valid)]
    mixed: list[bytes] = []
    for i in range(max(len(junk), len(good))):
        if i < len(junk):
            mixed.append(junk[i])
        if i < len(good):
            mixed.append(good[i])
    if not mixed:
        return
    frame, rejects = parse(b"\n".join(mixed) + b"\n", "combined")
    ips = set(frame.get_column("ip").to_list())
    assert {f"10.0.0.{i}" for i in range(valid)} <= ips
    assert frame.height + rejects.total == len(mixed)


@settings(max_examples=40, deadline=None)
@given(
    ip=st.from_regex(r"\A[0-9a-f:.]{2,39}\Z"),
    path=st.from_regex(r"\A/[A-Za-z0-9/_.~%-]{0,60}\Z"),
    status=st.integers(100, 599),
    size=st.integers(0, 10**12),
    ua=st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='"\\'), max_size=80),
    offset=st.integers(-12 * 60, 14 * 60),
)
def test_any_well_formed_line_round_trips(
    ip: str, path: str, status: int, size: int, ua: str, offset: int
) -> None:
    sign = "+" if offset >= 0 else "-"
    tz = f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}"
    text = line(
        ip=ip,
        request=f"GET {path} HTTP/1.1",
        status=status,
        size=str(size),
        ua=ua,
        when=f"15/Jun/2025:12:00:00 {tz}",
    )
    frame, rejects = parse((text + "\n").encode(), "combined")
    assert rejects.total == 0
    row = frame.row(0, named=True)
    expected = dt.datetime(2025, 6, 15, 12, tzinfo=dt.UTC) - dt.timedelta(minutes=offset)
    assert (row["ip"], row["target"], row["status"], row["bytes"], row["ua"], row["ts"]) == (
        ip,
        path,
        status,
        size,
        ua,
        expected,
    )
