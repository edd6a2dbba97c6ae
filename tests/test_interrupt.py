"""Ctrl-C stops a batch ingest promptly (issue 28, item 4): the batch in hand commits or is dropped
whole, the summary says how far it got, exit 130; run again, the report equals one clean run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import report_json
from tests.test_direct_days import WHOLE, history


def known(state: StateDir) -> bool:
    """Whether the catalog knows a file (the ingest has begun to read it)."""
    import sqlite3

    if not state.catalog_path.exists():
        return False
    try:
        con = sqlite3.connect(f"file:{state.catalog_path}?mode=ro", uri=True, timeout=5)
        try:
            return bool(con.execute("SELECT count(*) FROM checkpoints").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return False


def reading(state: StateDir, log: Path) -> tuple[subprocess.Popen[bytes], list[str]]:
    """`rings ingest` of `log` in small batches, once it has begun to read it; and its command."""
    cmd = [
        sys.executable,
        "-m",
        "rings_cli",
        "ingest",
        "--batch-bytes",
        "65536",
        "--state-dir",
        str(state.root),
    ]
    proc = subprocess.Popen([*cmd, str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not known(state):  # the log is being read (its checkpoint row is made first)
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the ingest never started reading"
        time.sleep(0.01)
    return proc, cmd


STOP_WITHIN = 10.0  # seconds: a generous bound for a loaded machine; docs/performance.md has the figure


def test_sigint_stops_a_batch_ingest_and_a_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    log = history(tmp_path, copies=8)
    clean = StateDir(tmp_path / "clean")
    Ingest(clean, chunk_bytes=65536).run([str(log)])
    state = StateDir(tmp_path / "state")
    proc, cmd = reading(state, log)
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    took = time.monotonic() - asked
    assert proc.returncode == 130, err
    text = err.decode()
    assert "Interrupted: " in text and "lines committed; run again to continue" in text
    assert "Traceback" not in text
    assert took < STOP_WITHIN, f"stopped {took:.1f} s after Ctrl-C"
    print(f"stopped {took:.2f} s after SIGINT")
    again = subprocess.run([*cmd, "-q", str(log)], capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert report_json(state, *WHOLE) == report_json(clean, *WHOLE)


def test_a_second_sigint_stops_at_once(tmp_path: Path) -> None:
    """Twice: no wait for the batch in hand (its transactions roll back; read again next run)."""
    log = history(tmp_path, copies=8)
    state = StateDir(tmp_path / "state")
    proc, cmd = reading(state, log)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err.decode()
    clean = StateDir(tmp_path / "clean")
    Ingest(clean, chunk_bytes=65536).run([str(log)])
    again = subprocess.run([*cmd, "-q", str(log)], capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert report_json(state, *WHOLE) == report_json(clean, *WHOLE)


def test_progress_names_its_phase_and_knows_the_total_from_the_start(tmp_path: Path) -> None:
    """Long work never looks stuck (issue 28, item 5): the total is known before the first batch
    is read, and the end of a run says what it does."""
    log = history(tmp_path, copies=2)
    seen = []
    Ingest(StateDir(tmp_path / "s"), chunk_bytes=65536, on_progress=seen.append).run([str(log)])
    assert seen[0].bytes_total == log.stat().st_size and seen[0].phase == "reading"
    phases = [p.phase for p in seen]
    assert phases.index("finalizing and flushing") > max(i for i, p in enumerate(phases) if p == "reading")
    assert any(p.startswith("writing ") and p.endswith(" days") for p in phases)
