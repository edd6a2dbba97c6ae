"""Which file is which: keyed heads, rotated and grown files, old state dirs, damaged archives,
files with no data yet, FIFOs (issue 8, items 3, 4, 5, 10 and 11's FIFO)."""

from __future__ import annotations

import bz2
import datetime as dt
import errno
import gzip
import hashlib
import json
import lzma
import os
import shutil
import sqlite3
import stat
import tarfile
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from rings_cli.core.privacy import new_secret
from rings_cli.core.state import StateDir
from rings_cli.source.tail import legacy_source
from rings_cli.store.dofile import rekey_absorbed
from tests.conftest import line, report_json, run_cli, run_rings
from tests.renderers import W3C_HEADER
from tests.test_follow import Follow, do_requests, now_line, wait_for

FIXTURES = Path(__file__).parent / "fixtures"
HEALTH = line(ip="10.0.0.1", request="GET /healthz HTTP/1.1", ua="kube-probe/1.29")


def lines(n: int, first: int = 0, day: int = 1) -> list[str]:
    """`n` distinct lines of 2025-12-`day`, one a minute from `first`."""
    start = dt.datetime(2025, 12, day, tzinfo=dt.UTC)
    return [
        line(
            ip=f"198.51.{i // 200}.{i % 200}",
            when=(start + dt.timedelta(minutes=i)).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            request=f"GET /page/{i} HTTP/1.1",
        )
        for i in range(first, first + n)
    ]


def write(path: Path, rows: list[str], mode: str = "w") -> Path:
    with open(path, mode) as f:
        f.write("".join(r + "\n" for r in rows))
    return path


def ingest(state: StateDir, *paths: Path | str, extra: tuple[str, ...] = ()) -> dict:
    result = run_cli(
        "ingest", "--state-dir", str(state.root), "--no-finalize", "--json", *extra, *map(str, paths)
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def state_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def unkeyed(first_line: str) -> list[bytes]:
    """How an unkeyed SHA-256 of a line would sit on disk: hex text or raw digest."""
    digest = hashlib.sha256(first_line.encode()).digest()
    return [digest.hex().encode(), digest]


# Items 4 and 5: identity by a keyed head


def test_two_logs_that_begin_with_the_same_health_check_are_both_read(
    tmp_path: Path, state: StateDir
) -> None:
    a = write(tmp_path / "server-a.log", [HEALTH, *lines(5)])
    b = write(tmp_path / "server-b.log", [HEALTH, *lines(7, first=100)])
    assert ingest(state, a, b)["requests"] == 14  # was 6: b shared a's fingerprint and was skipped
    # In two runs, b first, into another state dir: the same.
    other = StateDir(tmp_path / "other")
    assert ingest(other, b)["requests"] == 8
    assert ingest(other, a)["requests"] == 6
    assert report_json(state)["totals"] == report_json(other)["totals"]
    # Both are known now: read again, they add nothing.
    assert ingest(state, a, b)["lines_read"] == 0


def test_follow_tells_apart_new_logs_that_begin_with_the_same_line(tmp_path: Path, state: StateDir) -> None:
    """Both servers' logs were just rotated and each holds one identical health check: the follower
    cannot tell them apart yet, so it must not give them one id (their next lines would mix)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    health = now_line(0, "/healthz")
    a = write(logs / "server-a.log", [health])
    b = write(logs / "server-b.log", [health])
    running = Follow(state, str(logs / "*.log"))
    try:
        wait_for(lambda: merged(state) == 2)
        write(a, [now_line(i, "/a") for i in range(1, 6)], "a")
        write(b, [now_line(i, "/b") for i in range(1, 8)], "a")
        wait_for(lambda: merged(state) == 14)
        assert running.stop() == 0
    finally:
        running.kill()
    # Restarted, each file is known by its own head by now: nothing is read twice.
    again = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(a), str(b))
    assert json.loads(again.stdout)["lines_read"] == 0
    write(a, [now_line(9, "/a")], "a")
    write(b, [now_line(9, "/b")], "a")
    grown = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(a), str(b))
    assert json.loads(grown.stdout)["requests"] == 2


def test_rotated_and_compressed_copies_add_nothing(tmp_path: Path, state: StateDir) -> None:
    rows = lines(40)
    log = write(tmp_path / "access.log", rows)
    assert ingest(state, log)["requests"] == 40
    shutil.copy(log, tmp_path / "access.log.1")
    for opener, suffix in [(gzip.open, "gz"), (bz2.open, "bz2"), (lzma.open, "xz")]:
        with opener(tmp_path / f"access.log.2.{suffix}", "wt") as f:
            f.write("".join(r + "\n" for r in rows))
    again = ingest(state, *sorted(tmp_path.glob("access.log*")))
    assert again["requests"] == 0 and again["lines_read"] == 0
    assert report_json(state)["totals"]["requests"] == 40


def test_a_file_read_with_one_line_is_recognised_as_it_grows(tmp_path: Path, state: StateDir) -> None:
    rows = lines(30)
    log = write(tmp_path / "access.log", rows[:1])
    assert ingest(state, log)["requests"] == 1
    write(log, rows[1:4], "a")
    grown = ingest(state, log)
    assert grown["lines_read"] == 3 and grown["requests"] == 3  # the first line is not read again
    write(log, rows[4:], "a")
    assert ingest(state, log)["requests"] == 26
    # A rotated, compressed copy of the whole file: nothing new.
    with gzip.open(tmp_path / "access.log.1.gz", "wt") as f:
        f.write("".join(r + "\n" for r in rows))
    assert ingest(state, tmp_path / "access.log.1.gz")["requests"] == 0
    # Now its head is whole (8 lines): a log that shares only its first line is another file.
    other = write(tmp_path / "other.log", [rows[0], *lines(4, first=500)])
    assert ingest(state, other)["requests"] == 5
    assert report_json(state)["totals"]["requests"] == 35


def test_file_ids_are_keyed_with_the_state_secret(tmp_path: Path, state: StateDir) -> None:
    rows = [HEALTH, *lines(3)]
    log = write(tmp_path / "access.log", rows)
    assert ingest(state, log)["requests"] == 4
    secret = state.root / "secret.key"
    assert len(secret.read_bytes()) == 32 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    on_disk = state_bytes(state.root)
    for row in rows:  # no unkeyed hash of any line (a /16 search would give its IP back)
        for needle in unkeyed(row):
            assert needle not in on_disk
    # Another state dir has another secret: its ids of the same file differ.
    other = StateDir(tmp_path / "other")
    ingest(other, log)

    def ids(s: StateDir) -> set[str]:
        with sqlite3.connect(s.catalog_path) as con:
            return {r[0] for r in con.execute("SELECT head_hash FROM checkpoints")}

    assert ids(state).isdisjoint(ids(other))


def test_state_dir_of_the_previous_release_is_migrated_without_reading_anything_twice(tmp_path: Path) -> None:
    """The fixture is a state dir written by release 6747dc0 (see fixtures/make_legacy_state.py):
    files known by unkeyed SHA-256 of their first line; day 1 finalized, day 2 open, two tenants."""
    with tarfile.open(FIXTURES / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    logs = [tmp_path / "logs" / n for n in ("access.log.2.gz", "access.log.1", "access.log")]
    window = ("--start", "2025-11-01", "--end", "2025-11-02")
    before = report_json(state, *window)
    assert before["totals"]["requests"] == 30
    first_lines = [gzip.decompress(logs[0].read_bytes()).decode().splitlines()[0]] + [
        p.read_text().splitlines()[0] for p in logs[1:]
    ]
    assert any(needle in state_bytes(state.root) for needle in unkeyed(first_lines[0]))  # the leak

    args = ("ingest", "--state-dir", str(state.root), "--no-finalize", "--json")
    again = run_rings(*args, *map(str, logs))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["lines_read"] == 0
    assert report_json(state, *window) == before

    added = [
        line(vhost="a.example", when="02/Nov/2025:23:00:00 +0000", request="GET /new HTTP/1.1"),
        line(vhost="b.example", when="02/Nov/2025:23:01:00 +0000", ip="192.0.2.77"),
        line(vhost="a.example", when="02/Nov/2025:23:02:00 +0000", ip="192.0.2.78"),
    ]
    write(logs[2], added, "a")
    grown = run_rings(*args, *map(str, logs))
    assert grown.returncode == 0, grown.stderr
    assert json.loads(grown.stdout)["requests"] == 3
    assert report_json(state, *window)["totals"]["requests"] == 33
    on_disk = state_bytes(state.root)
    for first in first_lines:
        for needle in unkeyed(first):
            assert needle not in on_disk


def test_a_migration_cut_short_after_the_do_files_is_finished_by_the_next_run(tmp_path: Path) -> None:
    with tarfile.open(FIXTURES / "legacy_state.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    state = StateDir(tmp_path / "state")
    key = new_secret(state)
    for path in sorted(state.root.glob("do/*/*.sqlite")):  # as if killed before the catalog's turn
        rekey_absorbed(path, lambda old: legacy_source(key, old))
    logs = sorted((tmp_path / "logs").iterdir())
    assert ingest(state, *logs)["lines_read"] == 0
    with sqlite3.connect(state.catalog_path) as con:
        ids = {r[0] for r in con.execute("SELECT fingerprint FROM checkpoints")}
    assert len(ids) == 3 and all(i.startswith("l:") for i in ids)
    for path in state.root.glob("do/*/*.sqlite"):  # DO files name each file as the catalog does
        with sqlite3.connect(path) as con:
            assert {r[0] for r in con.execute("SELECT source FROM absorbed")} <= ids


# Item 3: damaged archives


def _complete_lines(data: bytes, kind: str) -> int:
    """Whole lines a streaming decompressor gets out of a damaged archive (what `zcat` shows)."""
    decompressor = {
        "gzip": lambda: zlib.decompressobj(wbits=31),
        "bzip2": bz2.BZ2Decompressor,
        "xz": lzma.LZMADecompressor,
    }[kind]()
    return decompressor.decompress(data).count(b"\n")


@pytest.mark.parametrize(
    ("kind", "compress"),
    [
        ("gzip", gzip.compress),
        ("bzip2", lambda b: bz2.compress(b, compresslevel=1)),  # 100 KB blocks: several before the cut
        ("xz", lzma.compress),
    ],
)
def test_a_truncated_archive_counts_every_line_before_the_damage(
    tmp_path: Path, kind: str, compress: Callable[[bytes], bytes]
) -> None:
    rows = lines(6000)
    whole = compress("".join(r + "\n" for r in rows).encode())
    cut = tmp_path / "access.log.2.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    complete = _complete_lines(cut.read_bytes(), kind)
    assert 0 < complete < 6000
    other = write(tmp_path / "other.log", lines(5, day=2))
    state = StateDir(tmp_path / "state")
    args = ("ingest", "--state-dir", str(state.root), "--no-finalize")
    proc = run_rings(*args, "--json", str(cut), str(other))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["requests"] == complete + 5
    problem = f"truncated ({kind} stream ends early)"
    message = f"warning: {cut}: {problem} after line {complete:,}; the lines before it were read"
    assert summary["damaged"] == [{"file": str(cut), "problem": problem, "after_line": complete}]
    assert summary["warnings"] == [message]
    assert proc.stderr.decode().strip() == message  # one line
    assert report_json(state)["totals"]["requests"] == complete + 5
    # The text summary says it too; read again, the damaged file adds nothing.
    text = run_rings(*args, str(cut))
    assert text.returncode == 0 and message in text.stdout.decode()
    assert f"{cut}: already read up to line {complete:,}" in text.stdout.decode()
    assert "Read 0 lines" not in text.stdout.decode()
    # The whole archive turns up: only the lines after the damage are new.
    cut.write_bytes(whole)
    assert json.loads(run_rings(*args, "--json", str(cut)).stdout)["requests"] == 6000 - complete
    assert report_json(state)["totals"]["requests"] == 6005


def test_a_truncated_archive_on_stdin_counts_its_whole_lines(tmp_path: Path) -> None:
    whole = gzip.compress("".join(r + "\n" for r in lines(3000)).encode())
    data = whole[: len(whole) * 2 // 3]
    complete = _complete_lines(data, "gzip")
    state = StateDir(tmp_path / "state")
    proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", input=data)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["requests"] == complete
    assert f"<stdin>: truncated (gzip stream ends early) after line {complete:,}" in proc.stderr.decode()


def test_follow_reads_an_archive_up_to_its_damage_and_the_rest_once_it_is_whole(
    tmp_path: Path, state: StateDir
) -> None:
    rows = [now_line(i) for i in range(3000)]
    whole = gzip.compress("".join(r + "\n" for r in rows).encode())
    logs = tmp_path / "logs"
    logs.mkdir()
    archive = logs / "access.log.1.gz"
    archive.write_bytes(whole[: len(whole) // 2])  # as logrotate's gzip leaves it half-way
    complete = _complete_lines(archive.read_bytes(), "gzip")
    running = Follow(state, str(logs / "access.log*"))
    try:
        wait_for(lambda: merged(state) == complete)
        assert running.proc.poll() is None  # it did not die on the damage
        tmp = logs / ".whole"
        tmp.write_bytes(whole)
        tmp.rename(archive)
        wait_for(lambda: merged(state) == 3000)
        assert running.stop() == 0
    finally:
        running.kill()


def merged(state: StateDir) -> int:
    """Requests in DO files so far; a DO file still being created counts 0 for now."""
    try:
        return do_requests(state)
    except sqlite3.OperationalError:
        return 0


# Item 10: one file without data does not stop the rest


def test_a_w3c_file_with_only_headers_is_skipped_and_the_others_read(tmp_path: Path) -> None:
    headers = write(tmp_path / "u_ex251201.log", W3C_HEADER)
    log = write(tmp_path / "access.log", lines(4))
    state = StateDir(tmp_path / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", str(headers), str(log))
    assert result.exit_code == 0, result.output
    assert f"skipped: {headers}: no data lines yet" in result.stdout
    summary = ingest(StateDir(tmp_path / "json"), headers, log)
    assert summary["requests"] == 4
    assert summary["skipped"] == [{"file": str(headers), "reason": "no data lines yet"}]
    # Once it has data, it is read like any other.
    write(
        headers, ["2025-12-01 10:00:00 10.0.0.1 GET / - 443 - 203.0.113.9 Mozilla/5.0 - 200 0 0 5 512 x"], "a"
    )
    assert ingest(state, headers, log)["requests"] == 1


def test_a_file_of_unknown_format_fails_before_any_file_is_read(tmp_path: Path) -> None:
    good = write(tmp_path / "a.log", lines(4))
    bad = write(tmp_path / "b.log", ["<xml>not a log</xml>", "<xml>nor this</xml>"])
    state = StateDir(tmp_path / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), str(good), str(bad))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {bad}: cannot recognise the log format; "
        "name it with --format (see README, Formats; `rings formats` lists them)"
    ]
    assert not list(state.root.glob("do/**/*.sqlite"))  # a.log was not half read


# Item 11: a FIFO is read like stdin


def test_a_fifo_is_read_like_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    data = "".join(r + "\n" for r in lines(25)).encode()
    failure: list[BaseException] = []

    def writer() -> None:
        deadline = time.monotonic() + 60
        while True:  # open without blocking forever: only once the reader has opened its end
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno != errno.ENXIO or time.monotonic() > deadline:
                    failure.append(e)
                    return
                time.sleep(0.02)
        os.set_blocking(fd, True)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    thread = threading.Thread(target=writer)
    thread.start()
    state = StateDir(tmp_path / "state")
    proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "--json", str(fifo))
    thread.join(timeout=60)
    assert not failure and proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["requests"] == 25 and summary["formats"] == {str(fifo): "combined"}
    with sqlite3.connect(state.catalog_path) as con:  # no identity, no checkpoint, like stdin
        assert con.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
