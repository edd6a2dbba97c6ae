"""Shared fixtures: a fresh state dir per test, log writers, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rings_cli.cli import app
from rings_cli.core.state import StateDir

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOG = ROOT / "sample_data" / "access.log"
REAL_DATA = ROOT.parent / "shared" / "data" / "real"


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


@pytest.fixture
def write_log(tmp_path: Path) -> Callable[[Iterable[str], str], Path]:
    """Write lines to a file in tmp_path and return its path."""

    def write(lines: Iterable[str], name: str = "access.log") -> Path:
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines))
        return path

    return write


def run_cli(*args: str, input: str | None = None) -> Any:
    """Invoke the Typer app in-process; returns click's Result."""
    return CliRunner().invoke(app, list(args), input=input)


def run_rings(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m rings_cli` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "rings_cli", *args],
        input=input,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=300,  # a deadline for a hung process, generous for a loaded machine
    )


def report_json(state: StateDir, *args: str) -> dict[str, Any]:
    """The JSON report, without `as_of` (a time: two state dirs with the same data differ in it) and
    `data_from`/`data_to` (where the whole state dir's data is, not the range's numbers)."""
    result = run_cli("report", "--state-dir", str(state.root), "--format", "json", *args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    for key in ("as_of", "data_from", "data_to"):  # about the state dir, not the range asked for
        report.pop(key, None)
    return report


def line(
    ip: str = "203.0.113.1",
    when: str = "01/Dec/2025:10:00:00 +0000",
    request: str = "GET / HTTP/1.1",
    status: int = 200,
    size: str = "512",
    referrer: str = "-",
    ua: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    vhost: str | None = None,
) -> str:
    """One combined (or, with vhost, vcombined) log line."""
    prefix = f"{vhost} " if vhost else ""
    return f'{prefix}{ip} - - [{when}] "{request}" {status} {size} "{referrer}" "{ua}"'


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One PostgreSQL cluster for the session (tests/pgserver.py); skipped without the binaries."""
    from tests.pgserver import SKIP_REASON, Server, pg_bin

    if pg_bin() is None:
        pytest.skip(SKIP_REASON)
    server = Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: Any) -> str:
    """A new, empty database of the session's PostgreSQL server."""
    return str(pg_server.database())


def use_postgres(state: StateDir, dsn: str, shard: str | None = None) -> None:
    """Point a state dir at a PostgreSQL warehouse (its rings.toml)."""
    state.root.mkdir(parents=True, exist_ok=True)
    text = f'[warehouse]\nkind = "postgres"\ndsn = "{dsn}"\n'
    if shard is not None:
        text = f'shard = "{shard}"\n' + text
    (state.root / "rings.toml").write_text(text)
    (state.root / "rings.toml").chmod(0o600)  # it names the database (rings check wants it private)


@pytest.fixture
def serve() -> Iterator[Any]:
    """Start `rings serve` subprocesses (tests/test_serve.py's Server); each is stopped at the end
    and must have exited cleanly, with no traceback."""
    from tests.test_serve import Server

    servers: list[Server] = []

    def start(state: StateDir, *args: str, **kw: Any) -> Server:
        servers.append(Server(state, *args, **kw))
        return servers[-1]

    yield start
    for s in servers:
        err = s.stop()
        assert "Traceback" not in err, err
        assert s.proc.returncode == 0, err
