"""The merge's cost per tenant-day: each DO file is opened once in a run whose tenant-days fit the
cache, however many batches touch it (no look at a file this run made or merged into), with
counts exact across the batches."""

from __future__ import annotations

from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.store import dofile
from tests.conftest import line, report_json


def test_each_do_file_is_opened_once_across_batches(
    state: StateDir, write_log, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        line(ip=f"10.0.{i % 7}.{d}", when=f"0{d}/Dec/2025:1{i % 10}:00:00 +0000", vhost=f"site{s}.example")
        for i in range(60)
        for d in (1, 2)
        for s in range(3)
    ]
    log: Path = write_log(lines)
    opened: list[tuple[str, str]] = []
    real_init = dofile.DoFile.__init__

    def counting_init(self: dofile.DoFile, path: Path, tenant: str, date: str, create: bool = True) -> None:
        opened.append((tenant, date))
        real_init(self, path, tenant, date, create)

    monkeypatch.setattr(dofile.DoFile, "__init__", counting_init)
    summary = Ingest(state, chunk_bytes=4096, grace=None).run([str(log)])  # many small batches
    assert summary.requests == len(lines) == 360
    assert sorted(opened) == sorted({(f"site{s}.example", f"2025-12-0{d}") for s in range(3) for d in (1, 2)})
    report = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")
    assert report["totals"]["requests"] == 360 and report["totals"]["page_views"] == 360
    assert report["totals"]["unique_visitors"] == 3 * 2 * 7  # per tenant-day: 7 addresses
