"""`rings live --tenant` with a tenant the state dir has no data for (issue 28, item 9): exit 2 naming
the closest known ones, as `rings report` does, not a silent wait. On a real terminal (a pty) and
with `--once`; with log files, once they are read (the tenant may be one the files bring)."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rings_cli.core.state import StateDir
from tests.conftest import SAMPLE_LOG, line, run_cli, run_rings


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    state = StateDir(tmp_path_factory.mktemp("live-tenant") / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), "-q", str(SAMPLE_LOG))
    assert result.exit_code == 0, result.output
    return state


def on_a_terminal(*args: str, seconds: float = 90) -> tuple[int | None, str]:
    """`rings live ARGS` with a pty (100x40) as its terminal: (exit code, stderr); None when it kept
    running that long (it is then stopped with q)."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rings_cli", "live", *args],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    os.set_blocking(master, False)
    deadline = time.monotonic() + seconds
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            # What it draws is read, so that it never waits to write; the wait is for output or
            # the process's end (a closed terminal reads as an error: its exit is then polled).
            if select.select([master], [], [], 0.5)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        code = proc.poll()
        if code is None:
            os.write(master, b"q")
            proc.wait(timeout=60)
        assert proc.stderr is not None
        return code, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_an_unknown_tenant_is_exit_2_with_suggestions(sample: StateDir) -> None:
    says = "Error: no data for tenant 'alicee.example'; known tenants: alice.example"
    once = run_rings("live", "--state-dir", str(sample.root), "--tenant", "alicee.example", "--once")
    assert once.returncode == 2 and once.stderr.decode().startswith(says), once.stderr.decode()
    code, err = on_a_terminal("--state-dir", str(sample.root), "--tenant", "alicee.example", seconds=60)
    assert code == 2 and err.startswith(says), (code, err)
    assert "Traceback" not in err


def test_a_tenant_written_as_a_host_is_the_tenant(sample: StateDir) -> None:
    shown = run_rings(
        "live",
        "--state-dir",
        str(sample.root),
        "--tenant",
        "WWW.Alice.Example",
        "--once",
        "--date",
        "2025-12-02",
    )
    assert shown.returncode == 0, shown.stderr.decode()
    assert "alice.example" in shown.stdout.decode() and "135" in shown.stdout.decode()


def test_with_files_the_tenant_is_checked_once_they_are_read(tmp_path: Path) -> None:
    log = tmp_path / "shop.log"
    when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    log.write_text(
        "".join(line(ip=f"203.0.113.{i}", when=when, vhost="shop.example") + "\n" for i in range(5))
    )
    state = str(tmp_path / "state")
    # The files bring the tenant: it is known once they are read.
    ok = run_rings("live", "--state-dir", state, "--tenant", "shop.example", "--once", str(log))
    assert ok.returncode == 0, ok.stderr.decode()
    assert "shop.example" in ok.stdout.decode()
    typo = run_rings("live", "--state-dir", state, "--tenant", "shop.exmple", "--once", str(log))
    assert typo.returncode == 2
    assert typo.stderr.decode().startswith(
        "Error: no data for tenant 'shop.exmple'; known tenants: shop.example"
    )
    code, err = on_a_terminal("--state-dir", state, "--tenant", "shop.exmple", str(log), seconds=90)
    assert code == 2 and "known tenants: shop.example" in err, (code, err)


def test_an_empty_state_dir_waits_for_data(tmp_path: Path) -> None:
    """Nothing ingested yet: nothing to suggest, the dashboard says so and waits (as before)."""
    shown = run_rings("live", "--state-dir", str(tmp_path / "none"), "--tenant", "new.example", "--once")
    assert shown.returncode == 0, shown.stderr.decode()
    assert "No data for" in shown.stdout.decode()
