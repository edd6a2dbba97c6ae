"""The live feed of `rings serve` never freezes (issue 28): two page views of one path in the same
second, one with a referrer and one without, used to make every update fail (their feed rows did
not compare) until they left the feed's window."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.state import StateDir
from rings_cli.web.hub import event_json, event_key
from tests.conftest import line, run_rings
from tests.test_serve import Server, ingest, now_line, recv_until


@pytest.fixture
def server_of() -> Iterator[Any]:
    servers: list[Server] = []

    def start(state: StateDir) -> Server:
        servers.append(Server(state))
        return servers[-1]

    yield start
    for s in servers:
        err = s.stop()
        assert "Traceback" not in err and "live update failed" not in err, err


def same_second(path: str, refs: list[str], start: int) -> list[str]:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return [
        line(
            ip=f"10.7.0.{start + i}",
            when=stamp,
            request=f"GET {path} HTTP/1.1",
            vhost="alice.example",
            referrer=r,
        )
        for i, r in enumerate(refs)
    ]


def test_feed_rows_with_and_without_a_source_compare() -> None:
    when = dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    rows = [{"time": when, "tenant": "a", "path": "/", "source": s} for s in (None, "news.example")]
    keys = sorted(event_key(r) for r in rows)  # raised TypeError before
    assert [event_json(k)["source"] for k in keys] == ["news.example", None]


def test_a_view_with_and_one_without_a_referrer_in_one_second_do_not_freeze_the_feed(
    tmp_path: Path, server_of: Any, write_log: Any
) -> None:
    state = StateDir(tmp_path / "state")
    ingest(state, write_log([now_line(0)], "first.log"))
    server = server_of(state)
    with server.ws("/api/alice.example/live") as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "init"
        both = write_log(same_second("/same", ["https://news.example/a", "-"], 10), "both.log")
        proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "-q", str(both))
        assert proc.returncode == 0, proc.stderr
        update = recv_until(ws, "update", time.monotonic() + 10)
        assert update["stats"]["totals"]["page_views"] == 3
        # And the next commit still gets through (it froze until those rows left the window).
        more = write_log([now_line(40, path="/after")], "more.log")
        proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "-q", str(more))
        assert proc.returncode == 0, proc.stderr
        deadline = time.monotonic() + 10
        while True:
            msg = recv_until(ws, "update", deadline)
            if msg["stats"].get("totals", {}).get("page_views") == 4:
                break
