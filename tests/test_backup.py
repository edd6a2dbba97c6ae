"""`rings backup` and `rings restore` (issue 25): a consistent copy of the state dir, made while an
ingest runs, that restores elsewhere to the same report and reads no line twice."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from pathlib import Path

from rings_cli.core.state import StateDir
from tests.conftest import report_json, run_rings
from tests.test_follow import Follow, append, do_requests, now_line


def rings(state: StateDir, *args: str) -> tuple[int, str, str]:
    result = run_rings(*args, "--state-dir", str(state.root))
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def test_a_backup_taken_while_following_restores_to_the_same_report_and_reads_nothing_twice(
    tmp_path: Path, state: StateDir
) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(50)])
    follower = Follow(state, str(log), flush_interval="1")
    written = [50]
    try:
        follower.until(lambda: do_requests(state) == 50)
        done = threading.Event()

        def keep_appending() -> None:  # lines go on arriving while the copy is made
            while not done.is_set() and written[0] < 20000:
                append(log, [now_line(i) for i in range(written[0], written[0] + 10)])
                written[0] += 10
                time.sleep(0.02)

        appender = threading.Thread(target=keep_appending)
        appender.start()
        try:
            time.sleep(0.5)
            code, out, err = rings(state, "backup", str(tmp_path / "copy"))
        finally:
            done.set()
            appender.join()
        assert code == 0, err
        assert out.startswith("Copied ") and f"of {state.root} to {tmp_path / 'copy'}" in out
        follower.until(lambda: do_requests(state) == written[0])
        assert follower.stop() == 0
    finally:
        follower.kill()

    restored = StateDir(tmp_path / "restored")
    code, out, err = rings(restored, "restore", str(tmp_path / "copy"))
    assert code == 0, err
    assert rings(restored, "check")[:2] == (0, "OK\n")
    held = report_json(restored)["totals"]["requests"]
    assert 50 <= held < written[0]  # the copy is of a moment while lines were coming in
    again = run_rings("ingest", "--state-dir", str(restored.root), "--json", "--no-finalize", str(log))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["lines_read"] == written[0] - held  # nothing the copy holds
    assert report_json(restored) == report_json(state)

    # A copy of the state dir at rest: restored, the same log adds nothing.
    assert rings(state, "backup", str(tmp_path / "at-rest"))[0] == 0
    second = StateDir(tmp_path / "second")
    assert rings(second, "restore", str(tmp_path / "at-rest"))[0] == 0
    rerun = run_rings("ingest", "--state-dir", str(second.root), "--json", "--no-finalize", str(log))
    assert json.loads(rerun.stdout)["lines_read"] == 0
    assert report_json(second) == report_json(state)


def test_backup_keeps_modes_and_restore_refuses_a_state_dir_with_data(
    tmp_path: Path, state: StateDir
) -> None:
    log = tmp_path / "access.log"
    append(log, [now_line(i) for i in range(5)])
    assert run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", str(log)).returncode == 0
    (state.root / "notes.txt").write_text("mine")
    copy = tmp_path / "copy"
    code, out, _ = rings(state, "backup", str(copy))
    assert code == 0 and f"not copied (not Rings' state): {state.root / 'notes.txt'}" in out
    assert json.loads((copy / "BACKUP.json").read_text())["state_dir"] == str(state.root.absolute())
    assert not list(copy.rglob("*-wal")) and not list(copy.rglob("*.lock"))
    for path in [copy, *copy.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert list(copy.glob("salts/*/*.key")) and (copy / "secret.key").exists()

    code, _, err = rings(state, "backup", str(copy))  # not empty
    assert code == 2 and err.startswith("Error: ") and "not empty" in err
    other = StateDir(tmp_path / "other")
    other.root.mkdir()
    (other.root / "catalog.sqlite").write_bytes(b"something")
    code, _, err = rings(other, "restore", str(copy))
    assert code == 2 and "not empty" in err and "--replace" in err
    assert (other.root / "catalog.sqlite").read_bytes() == b"something"
    code, _, err = rings(other, "restore", str(tmp_path))
    assert code == 2 and "not a Rings backup" in err
    code, _, err = rings(other, "restore", str(copy), "--replace")
    assert code == 0, err
    assert report_json(other) == report_json(state)
    assert rings(other, "check")[:2] == (0, "OK\n")
    salt = next(other.root.glob("salts/*/*.key"))
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600 and stat.S_IMODE(salt.parent.stat().st_mode) == 0o700
    assert os.listdir(other.root / "do")
