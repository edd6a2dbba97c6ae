"""Rotation is a fact to be proven, not guessed (issue 25): every rotation logrotate can do, under
`rings ingest --follow` on a file and on a glob, reads each line exactly once and never stops
following. The property runs seeded random schedules (tests/rotation.py); a failing one prints its
seed, and `RINGS_ROTATION_SEED=<seed>` replays it. `RINGS_ROTATION_SCHEDULES` sets how many run here;
benchmarks/rotation_soak.py runs a thousand and more."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.source import follow
from rings_cli.source.tail import FileTail
from rings_cli.warehouse.local import Warehouse
from tests.conftest import line
from tests.rotation import run_schedule, seeds

SCHEDULES = int(os.environ.get("RINGS_ROTATION_SCHEDULES", "50"))


@pytest.mark.parametrize("seed", seeds(SCHEDULES))
def test_every_rotation_reads_each_line_once(seed: int, tmp_path: Path) -> None:
    outcome = run_schedule(seed, tmp_path)
    assert outcome.ok, outcome.report()


# The two breaks issue 25 found, each replayed step by step (`Ingest.following`: the follower looks
# exactly when the test says).


def day_block(day: int, n: int = 200) -> str:
    """`n` lines of 2025-12-`day`, every one of the same length (so two blocks weigh the same)."""
    return "".join(
        line(
            ip=f"10.{day}.{100 + i // 100}.{100 + i % 100}",
            when=f"{day:02d}/Dec/2025:10:{i // 60 % 60:02d}:{i % 60:02d} +0000",
            request=f"GET /p{1000 + i} HTTP/1.1",
        )
        + "\n"
        for i in range(n)
    )


def per_day(state: StateDir) -> dict[str, int]:
    with Warehouse(state.warehouse_path).reader() as con:
        rows = con.execute("SELECT CAST(date AS VARCHAR), requests FROM daily ORDER BY 1").fetchall()
    return {d: n for d, n in rows}


def test_a_file_truncated_and_refilled_between_two_looks_is_a_new_file(
    tmp_path: Path, state: StateDir
) -> None:
    """Break 1: copytruncate under a glob, `mv access.log.1 access.log.2; cp access.log access.log.1;
    : > access.log` after every second block of one day. When the follower looked again, the
    truncated file had grown back past where it had read: its new lines were taken for the old
    file's (a day counted twice), and the copy's unread lines for read (a day lost), silently."""
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    ingest = Ingest(state, grace=None)
    with ingest.following([str(logs / "access.log*")], flush_interval=3600) as step:
        for day in range(1, 7):
            with open(live, "a") as f:
                f.write(day_block(day))
            if day in (1, 4):  # the follower looks after the first and the fourth block only
                step()
            if day % 2 == 0:
                if (logs / "access.log.1").exists():
                    os.rename(logs / "access.log.1", logs / "access.log.2")
                shutil.copyfile(live, logs / "access.log.1")
                live.write_bytes(b"")
        for _ in range(3):
            step()
    assert per_day(state) == {f"2025-12-0{d}": 200 for d in range(1, 7)}
    # Every file read again: nothing is added (it added 400 lines).
    again = Ingest(state, grace=None).run(sorted(str(p) for p in logs.glob("access.log*")))
    assert again.requests == 0


def test_an_archive_still_being_written_never_stops_the_follower(tmp_path: Path, state: StateDir) -> None:
    """Break 2: rename and gzip under --follow on a glob. gzip creates `access.log.1.gz` empty, then
    fills it: opened empty, it was taken for plain text and ended the follower ("cannot recognise the
    log format"); a half-written one could be read as a new, short file."""
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    live.write_text(day_block(1, 2000))  # its archive has newline bytes: as text, it has "lines"
    ingest = Ingest(state, grace=None)
    with ingest.following([str(logs / "access.log*")], flush_interval=3600) as step:
        step()
        os.rename(live, logs / "access.log.1")
        live.write_text(day_block(2, 30))
        step()
        archive = gzip.compress((logs / "access.log.1").read_bytes())
        gz = logs / "access.log.1.gz"
        with open(gz, "wb", buffering=0) as out:
            step()  # there, and empty
            for start, end in ((0, 1), (1, 12), (12, len(archive) // 2), (len(archive) // 2, len(archive))):
                out.write(archive[start:end])
                step()
        (logs / "access.log.1").unlink()
        step()
        with open(live, "a") as f:
            f.write(day_block(3, 20))
        for _ in range(3):
            step()
    assert ingest.summary.skipped == []
    assert per_day(state) == {"2025-12-01": 2000, "2025-12-02": 30, "2025-12-03": 20}


def test_a_file_gone_between_the_glob_and_its_opening_never_stops_the_follower(
    tmp_path: Path, state: StateDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break 2 too: `Error: no such file: access.log.1.gz` (exit 2) when a rotation deleted a file the
    glob had just listed. Here every file the follower opens is deleted just before."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "access.log").write_text(day_block(1, 10))
    (logs / "access.log.2.gz").write_bytes(gzip.compress(day_block(2, 5).encode()))
    opened = follow.FileTail

    def deleted_first(path: str, *args: object, **kwargs: object) -> FileTail:
        if path.endswith(".gz"):
            Path(path).unlink()
        return opened(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(follow, "FileTail", deleted_first)
    ingest = Ingest(state, grace=None)
    with ingest.following([str(logs / "access.log*")], flush_interval=3600) as step:
        step()
        step()
    assert per_day(state) == {"2025-12-01": 10}


def test_a_file_followed_by_name_reads_its_new_rotated_names_but_not_its_history(
    tmp_path: Path, state: StateDir
) -> None:
    """`--follow access.log`: the rotated files already beside it are history nobody asked for; the
    copy copytruncate makes while following holds lines of access.log, read from it."""
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    (logs / "access.log.1").write_text(day_block(1, 40))  # history, there before
    (logs / "access.log.2.gz").write_bytes(gzip.compress(day_block(2, 40).encode()))
    live.write_text(day_block(3, 30))
    ingest = Ingest(state, grace=None)
    with ingest.following([str(live)], flush_interval=3600) as step:
        step()
        with open(live, "a") as f:
            f.write(day_block(4, 25))  # written, not read yet, when copytruncate comes
        os.rename(logs / "access.log.1", logs / "access.log.2")
        shutil.copyfile(live, logs / "access.log.1")
        live.write_bytes(b"")
        with open(live, "a") as f:
            f.write(day_block(5, 10))
        for _ in range(3):
            step()
    assert per_day(state) == {"2025-12-03": 30, "2025-12-04": 25, "2025-12-05": 10}


def test_a_file_that_is_no_log_is_set_aside_and_the_follower_goes_on(tmp_path: Path, state: StateDir) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    live.write_text(day_block(1, 10))
    ingest = Ingest(state, grace=None)
    notes: list[str] = []
    with ingest.following([str(logs / "*")], flush_interval=3600, on_skip=notes.append) as step:
        step()
        (logs / "notes.txt").write_text("".join(f"note number {i}\n" for i in range(20)))
        step()
        with open(live, "a") as f:
            f.write(day_block(2, 5))
        step()
        step()
    assert per_day(state) == {"2025-12-01": 10, "2025-12-02": 5}
    assert ingest.summary.skipped == [(str(logs / "notes.txt"), "cannot recognise the log format")]
    assert notes == [f"skipped: {logs / 'notes.txt'}: cannot recognise the log format (read once it changes)"]
