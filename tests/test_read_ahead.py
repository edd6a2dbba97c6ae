"""The second core and bounded memory: one block parsed ahead in a worker thread, rejects counted
in block order, flushes in chunks of tenant-days, and Polars' allocator returning freed pages."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.ahead import ahead
from rings_cli.ingest.run import Ingest
from rings_cli.source.parse import Rejects
from rings_cli.warehouse import flush
from rings_cli.warehouse.local import TABLES
from tests.conftest import line, report_json, run_rings

DEADLINE = 60.0


def wait_until(check: object, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(0.005)


def test_ahead_computes_exactly_one_item_ahead_in_another_thread() -> None:
    made: list[int] = []
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for i in range(5):
            threads.add(threading.current_thread().name)
            made.append(i)
            yield i

    got = []
    with closing(ahead(items())) as it:
        for i in it:
            # While the caller holds item i, the worker makes item i+1, and then waits.
            wait_until(lambda i=i: len(made) >= min(i + 2, 5))
            assert len(made) == min(i + 2, 5)
            got.append(i)
    assert got == [0, 1, 2, 3, 4]
    assert threads and threading.current_thread().name not in threads


def test_an_error_in_the_worker_reaches_the_caller_at_its_item() -> None:
    def items() -> Iterator[int]:
        yield 0
        yield 1
        raise ValueError("bad block")

    got = []
    with pytest.raises(ValueError, match="bad block"), closing(ahead(items())) as it:
        for i in it:
            got.append(i)
    assert got == [0, 1]


def test_stopping_early_waits_for_the_item_being_made() -> None:
    running = threading.Event()
    release = threading.Event()
    finished: list[int] = []

    def items() -> Iterator[int]:
        for i in range(3):
            if i == 1:
                running.set()
                release.wait(DEADLINE)
            finished.append(i)
            yield i

    it = ahead(items())
    assert next(it) == 0
    wait_until(running.is_set)
    closer = threading.Thread(target=it.close)
    closer.start()
    release.set()
    closer.join(DEADLINE)
    assert not closer.is_alive()
    assert finished == [0, 1]  # item 1 was finished before close returned; item 2 never begun


def test_rejects_absorbed_block_by_block_keep_counts_and_the_first_lines() -> None:
    run = Rejects(keep=3)
    first, second = Rejects(keep=3, source="a.log"), Rejects(keep=3, source="a.log")
    first.counts, first.samples = {"empty": 2}, [("a.log", "empty", ""), ("a.log", "empty", " ")]
    second.counts, second.samples = {"empty": 1, "bad timestamp": 2}, [("a.log", "bad timestamp", "x")] * 2
    run.absorb(first)
    run.absorb(second)
    assert run.counts == {"empty": 3, "bad timestamp": 2}
    assert run.samples == [*first.samples, ("a.log", "bad timestamp", "x")]


def many_blocks(tmp_path: Path) -> Path:
    """A log of 3,000 lines (some rejected) over 3 tenants and 2 days."""
    lines = []
    for i in range(3000):
        when = f"0{1 + i % 2}/Dec/2025:{i % 24:02d}:{i % 60:02d}:00 +0000"
        vhost = f"site{i % 3}.example"
        lines.append(
            line(
                ip=f"10.1.{i // 200}.{i % 200 + 1}",
                when=when,
                request=f"GET /p{i % 40} HTTP/1.1",
                vhost=vhost,
            )
        )
        if i % 500 == 7:
            lines.append("garbage line that no format reads")
    path = tmp_path / "access.log"
    path.write_text("".join(x + "\n" for x in lines))
    return path


def test_many_small_blocks_parsed_ahead_count_as_one_block(tmp_path: Path) -> None:
    log = many_blocks(tmp_path)
    whole, small = StateDir(tmp_path / "whole"), StateDir(tmp_path / "small")
    one = Ingest(whole, fmt="vcombined").run([str(log)])
    many = Ingest(small, fmt="vcombined", chunk_bytes=8192, keep_rejects=4).run([str(log)])
    assert (many.lines_read, many.parsed, many.rejected) == (one.lines_read, one.parsed, one.rejected)
    assert many.lines_read == 3006 and many.rejected == {"unparseable": 6}
    assert report_json(small, "--start", "2025-12-01", "--end", "2025-12-02") == report_json(
        whole, "--start", "2025-12-01", "--end", "2025-12-02"
    )


def test_stdin_in_small_blocks_gives_the_same_report_and_rejects(tmp_path: Path) -> None:
    log = many_blocks(tmp_path)
    whole, small = StateDir(tmp_path / "whole"), StateDir(tmp_path / "small")
    rejects = tmp_path / "rejects.tsv"
    assert run_rings("ingest", "-q", "--state-dir", str(whole.root), str(log)).returncode == 0
    proc = run_rings(
        "ingest", "-q", "--state-dir", str(small.root), "--batch-bytes", "8192", "--rejects", str(rejects),
        input=log.read_bytes(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    days = ("--start", "2025-12-01", "--end", "2025-12-02")
    assert report_json(small, *days) == report_json(whole, *days)
    kept = rejects.read_text().splitlines()
    assert kept == ["<stdin>\tunparseable\tgarbage line that no format reads"] * 6


def test_an_unknown_format_on_stdin_is_one_error_line_and_nothing_written(state: StateDir) -> None:
    proc = run_rings("ingest", "--state-dir", str(state.root), input=b"not a log line\n" * 50)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        "Error: <stdin>: cannot recognise the log format; name it with --format "
        "(see README, Formats; `rings formats` lists them)\n"
    )
    assert not list(state.root.glob("do/*/*.sqlite"))


def test_a_flush_of_many_tenant_days_goes_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = many_blocks(tmp_path)  # 3 tenants x 2 days = 6 tenant-days
    whole, chunked = StateDir(tmp_path / "whole"), StateDir(tmp_path / "chunked")
    once = [f for f in Ingest(whole, direct=False).run([str(log)]).flushes if f.tenant_days]
    monkeypatch.setattr(flush, "FLUSH_CHUNK", 4)
    summary = Ingest(chunked, direct=False).run([str(log)])
    results = [f for f in summary.flushes if f.tenant_days]
    assert [f.tenant_days for f in results] == [6]  # finalization's flush took them all
    assert [f.tenant_days for f in once] == [6]
    # One DELETE per table more: the second chunk's (and maybe INSERTs).
    assert results[0].statements >= once[0].statements + len(TABLES)
    days = ("--start", "2025-12-01", "--end", "2025-12-02")
    assert report_json(chunked, *days) == report_json(whole, *days)


def allocator_setting(env: dict[str, str]) -> str:
    code = "import rings_cli, os; print(os.environ['_RJEM_MALLOC_CONF'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True)
    return out.stdout.decode().strip()


def test_polars_allocator_returns_freed_pages_unless_the_user_says_otherwise() -> None:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    assert allocator_setting(env) == "dirty_decay_ms:0,muzzy_decay_ms:0"
    assert allocator_setting({**env, "_RJEM_MALLOC_CONF": "narenas:2"}) == "narenas:2"
