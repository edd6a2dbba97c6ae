"""Browsers, OS, devices, countries and not-found: equal to a plain per-line reference."""

from __future__ import annotations

import sys

import polars as pl
import pytest

from rings_cli.enrich.breakdowns import OTHER, bound_keys, country_codes, fold_keys, with_breakdowns
from rings_cli.enrich.classify import classify
from rings_cli.query.countries import country_name
from rings_cli.source.formats import get_format
from rings_cli.source.parse import Rejects, parse_lines
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tests"))
from breakdown_reference import KNOWN_ADDRESSES, KNOWN_AGENTS, breakdown_reference, generated_log


def classified(lines: list[str]) -> pl.DataFrame:
    frame = parse_lines(pl.Series(lines), get_format("combined"), Rejects())
    return with_breakdowns(classify(frame)).with_columns(day=pl.col("ts").dt.strftime("%Y-%m-%d"))


def per_value(frame: pl.DataFrame, value: pl.Expr) -> dict[tuple[str, str], tuple[int, int]]:
    views = frame.filter(pl.col("is_page_view")).with_columns(value=value)
    rows = views.group_by("day", "value").agg(pl.len(), pl.struct("ip", "ua").n_unique())
    return {(d, v): (n, u) for d, v, n, u in rows.iter_rows()}


def test_every_known_agent_is_classified_as_a_person_reads_it() -> None:
    frame = with_breakdowns(
        classify(
            pl.DataFrame(
                {"ua": list(KNOWN_AGENTS), "ip": "8.8.8.8", "target": "/", "method": "GET"}
            ).with_columns(status=pl.lit(200))
        )
    )
    got = {r["ua"]: (r["browser"], r["version"], r["os"], r["device"]) for r in frame.iter_rows(named=True)}
    assert got == KNOWN_AGENTS


def test_counts_equal_the_per_line_reference() -> None:
    lines = generated_log(3000)
    expected = breakdown_reference(lines)
    frame = classified(lines)
    browser = pl.concat_str("browser", "version", separator=" ").str.strip_chars()
    assert per_value(frame, browser) == expected["browsers"]
    assert per_value(frame, pl.col("os")) == expected["os"]
    assert per_value(frame, pl.col("device")) == expected["devices"]
    assert per_value(frame, pl.col("country")) == expected["countries"]
    requests = frame.group_by("day", "device").len()
    assert {(d, v): n for d, v, n in requests.iter_rows()} == expected["requests_by_device"]


def test_known_addresses_have_their_country_and_private_ones_are_unknown() -> None:
    got = country_codes(pl.Series([*KNOWN_ADDRESSES, "::ffff:8.8.8.8", "not-an-ip", "", "[::1]"]))
    assert dict(got.iter_rows()) == {
        **KNOWN_ADDRESSES,
        "::ffff:8.8.8.8": "US",
        "not-an-ip": "unknown",
        "": "unknown",
        "[::1]": "unknown",
    }
    assert country_name("US") == "United States"
    assert country_name("FR") == "France"
    assert country_name("unknown") == "unknown"


def test_an_empty_batch_gets_the_columns() -> None:
    frame = with_breakdowns(pl.DataFrame(schema={"ua": pl.String, "ip": pl.String, "is_bot": pl.Boolean}))
    assert frame.columns == ["ua", "ip", "is_bot", "browser", "version", "os", "device", "country"]


@pytest.mark.parametrize(
    ("stored", "known", "expected"),
    [
        (0, [], {"/a", "/b", "/c"}),  # room for all
        (3, ["/a"], {"/a", "/b"}),  # one slot left: the first new key in sorted order
        (4, ["/a"], {"/a"}),  # full: only what is stored stays its own row
    ],
)
def test_bound_keys_fill_the_room_left(stored: int, known: list[str], expected: set[str]) -> None:
    keep = bound_keys(pl.Series(["/c", "/b", "/a", "/b"]), pl.Series(known, dtype=pl.String), stored, limit=4)
    assert set(keep.to_list()) == expected
    folded = fold_keys(pl.DataFrame({"path": ["/c", "/b", "/a"]}), "path", keep)
    assert set(folded.get_column("path")) == expected | ({OTHER} if len(expected) < 3 else set())
