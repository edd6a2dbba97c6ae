"""Creating DO files: a reader never sees one without its tables, and two creators share one file."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

from rings_cli.core.state import StateDir
from rings_cli.store.dofile import DoFile


def unreadable_do_files(root: Path) -> list[str]:
    """What a reader such as `rings live` would trip on: DO files present but without tables."""
    problems: list[str] = []
    for path in root.rglob("*.sqlite"):
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.OperationalError:
            continue  # cannot happen for DO files (never deleted), but a glob may race a deletion
        try:
            con.execute("SELECT count(*) FROM hourly").fetchone()
            con.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        except (sqlite3.OperationalError, TypeError) as e:
            problems.append(f"{path.name}: {e}")
        finally:
            con.close()
    return problems


def test_a_reader_never_sees_a_do_file_without_its_schema(state: StateDir) -> None:
    state.ensure()  # the state dir's modes and umask, as an ingest sets them before any DO file
    root = state.root / "do"
    seen: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.extend(unreadable_do_files(root))

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        for day in range(1, 29):
            for month in range(1, 5):
                DoFile(state.do_path("t", f"2025-{month:02d}-{day:02d}"), "t", "x").close()
    finally:
        done.set()
        watcher.join(timeout=60)
    assert seen == []
    names = [p.name for p in (root / "t").iterdir()]
    assert [n for n in names if n.startswith(".")] == []  # no temporary file is left behind
    files = [n for n in names if n.endswith(".sqlite")]  # (readers may leave -wal and -shm)
    assert len(files) == 28 * 4
    assert all(stat.S_IMODE((root / "t" / f).stat().st_mode) == 0o600 for f in files)


def create_racing(path: Path, creators: int = 2) -> list[DoFile]:
    """Open `path` from several threads released at the same instant."""
    start = threading.Barrier(creators)
    opened: list[DoFile] = []

    def create() -> None:
        start.wait()
        opened.append(DoFile(path, "t", path.stem))

    threads = [threading.Thread(target=create) for _ in range(creators)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return opened


def test_two_creators_of_one_day_share_one_file(tmp_path: Path) -> None:
    for attempt in range(20):
        first, second = create_racing(tmp_path / "t" / f"2025-12-{attempt + 1:02d}.sqlite")
        first.con.execute("INSERT INTO absorbed (source, line) VALUES ('log', 7)")
        assert second.absorbed("log") == 7  # the loser opened the winner's file, not its own
        first.close()
        second.close()
    assert sorted(p.suffix for p in (tmp_path / "t").iterdir()) == [".sqlite"] * 20  # no temporary
