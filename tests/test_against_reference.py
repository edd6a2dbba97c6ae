"""Rings' numbers equal an independent plain-Python count (tests/reference.py) per tenant-day.

On the bundled sample, on generated logs in every format, on the same log cut into ten
consecutive ingest runs, and on the real public logs in ../shared/data/real/.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import REAL_DATA, ROOT, SAMPLE_LOG, report_json

sys.path.insert(0, str(ROOT / "sample_data"))
sys.path.insert(0, str(ROOT / "tests"))
from generate import generate
from reference import Reference, reference


def warehouse_days(state: StateDir) -> dict[tuple[str, str], dict[str, Any]]:
    """Every tenant-day as the warehouse holds it, in the reference's shape."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with duckdb.connect(str(state.warehouse_path), read_only=True) as con:
        for t, d, req, byt, bots, pv, uv in con.execute(
            "SELECT tenant, strftime(date, '%Y-%m-%d'), requests, bytes, bot_requests, page_views,"
            " unique_visitors FROM daily"
        ).fetchall():
            out[(t, d)] = {
                "requests": req,
                "bytes": byt,
                "bot_requests": bots,
                "page_views": pv,
                "unique_visitors": uv,
                "status": {},
                "hours": {},
                "pages": {},
            }
        for t, d, status, n in con.execute(
            "SELECT tenant, strftime(date, '%Y-%m-%d'), status, requests FROM status"
        ).fetchall():
            out[(t, d)]["status"][str(status)] = n
        for t, d, hour, pv, uv in con.execute(
            "SELECT tenant, strftime(date, '%Y-%m-%d'), hour, page_views, unique_visitors FROM hourly"
            " WHERE page_views > 0"
        ).fetchall():
            out[(t, d)]["hours"][hour] = (pv, uv)
        for t, d, path, views, uniq in con.execute(
            "SELECT tenant, strftime(date, '%Y-%m-%d'), path, views, unique_views FROM pages"
        ).fetchall():
            out[(t, d)]["pages"][path] = (views, uniq)
    return out


def expected_days(ref: Reference) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        key: {
            "requests": c.requests,
            "bytes": c.bytes,
            "bot_requests": c.bot_requests,
            "page_views": c.page_views,
            "unique_visitors": c.unique_visitors,
            "status": c.status,
            "hours": c.hours,
            "pages": c.pages,
        }
        for key, c in ref.days.items()
    }


def read_text_lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def test_sample_log_matches_reference(state: StateDir) -> None:
    summary = Ingest(state).run([str(SAMPLE_LOG)])
    ref = reference(read_text_lines(SAMPLE_LOG))
    assert summary.rejected and sum(summary.rejected.values()) == ref.rejected
    assert warehouse_days(state) == expected_days(ref)


@pytest.mark.parametrize("fmt", ["vcombined", "combined", "common"])
def test_generated_logs_match_reference_in_every_format(tmp_path: Path, fmt: str) -> None:
    lines = list(generate(lines=20_000, seed=11, start="2026-01-30", days=4, fmt=fmt))
    log = tmp_path / f"{fmt}.log"
    log.write_text("\n".join(lines) + "\n")
    state = StateDir(tmp_path / "state")
    Ingest(state, chunk_bytes=256 * 1024).run([str(log)])  # small chunks: many batches per day
    assert warehouse_days(state) == expected_days(reference(lines))


def test_same_traffic_in_each_format_gives_the_same_totals(tmp_path: Path) -> None:
    totals = {}
    for fmt in ("vcombined", "combined"):
        log = tmp_path / f"{fmt}.log"
        log.write_text("\n".join(generate(lines=5_000, seed=3, fmt=fmt, garbage=0)) + "\n")
        state = StateDir(tmp_path / fmt)
        Ingest(state, tenant="site").run([str(log)])
        report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-03")
        totals[fmt] = report["totals"]
    assert totals["vcombined"] == totals["combined"]


def test_ten_slices_equal_one_run(tmp_path: Path) -> None:
    lines = list(generate(lines=10_000, seed=5, days=2))
    whole = StateDir(tmp_path / "whole")
    (tmp_path / "all.log").write_text("\n".join(lines) + "\n")
    Ingest(whole, grace=None).run([str(tmp_path / "all.log")])
    sliced = StateDir(tmp_path / "sliced")
    for i in range(10):
        part = tmp_path / f"part{i}.log"
        part.write_text("\n".join(lines[i * 1000 : (i + 1) * 1000]) + "\n")
        Ingest(sliced, grace=None).run([str(part)])  # no finalization between slices
    assert warehouse_days(sliced) == warehouse_days(whole)
    for tenant in ("alice.example", "bob.example", None):
        args = ("--tenant", tenant) if tenant else ()
        assert report_json(sliced, *args) == report_json(whole, *args)


REAL_FILES = sorted(
    p
    for folder in (
        "elastic-apache-2015",
        "wordpress-2025",
        "farm-nginx",
        "farm-apache-vhost",
        "farm-apache-common",
    )
    for p in (REAL_DATA / folder).glob("*.gz")
)


@pytest.mark.skipif(not REAL_FILES, reason="../shared/data/real is not beside this checkout")
@pytest.mark.parametrize(
    "folder",
    ["elastic-apache-2015", "wordpress-2025", "farm-nginx", "farm-apache-vhost", "farm-apache-common"],
)
def test_real_logs_match_reference(tmp_path: Path, folder: str) -> None:
    files = sorted((REAL_DATA / folder).glob("*.gz"))
    state = StateDir(tmp_path / "state")
    summary = Ingest(state).run([str(f) for f in files])
    lines = [line for f in files for line in read_text_lines(f)]
    ref = reference(lines)
    assert sum(summary.rejected.values()) == ref.rejected
    assert warehouse_days(state) == expected_days(ref)
