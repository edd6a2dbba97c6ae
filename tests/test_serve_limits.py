"""Issue 25, item 10, `rings serve`: every tenant's dashboard is reachable whatever its name, wrong
tokens are limited per client, and requests that take too long to arrive are cut off (slowloris).
A real server on a free loopback port; every socket is on loopback and every wait is bounded."""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rings_cli.core.state import StateDir
from rings_cli.web.limits import BODY_SECONDS, FREE_FAILURES, HEADER_SECONDS, FailedTokens
from rings_cli.web.server import RESERVED
from tests.conftest import line, run_cli
from tests.test_serve import Server

NAMES = sorted(RESERVED | {"site", "alice.example"})


@pytest.fixture(scope="module")
def named(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    """One page view for a tenant named like each of the server's own paths (and `site`)."""
    tmp = tmp_path_factory.mktemp("named")
    state = StateDir(tmp / "state")
    for i, name in enumerate(NAMES):
        log = tmp / f"{name}.log"
        log.write_text(line(ip=f"203.0.113.{i + 1}") + "\n")
        result = run_cli("ingest", "--state-dir", str(state.root), "-q", "--tenant", name, str(log))
        assert result.exit_code == 0, result.output
    return state


@pytest.fixture
def servers() -> Iterator[Any]:
    started: list[Server] = []

    def start(state: StateDir, *args: str, **kw: Any) -> Server:
        started.append(Server(state, *args, **kw))
        return started[-1]

    yield start
    for s in started:
        err = s.stop()
        assert "Traceback" not in err, err
        assert s.proc.returncode == 0, err


# --- reserved names ----------------------------------------------------------------------------


def test_every_tenant_has_a_dashboard_whatever_its_name(named: StateDir, servers) -> None:
    server = servers(named)
    assert server.json("/api/tenants")["tenants"] == NAMES
    for name in NAMES:
        status, head, body = server.request(f"/site/{name}")
        assert status == 200 and head["content-type"].startswith("text/html"), (name, status)
        assert b"/static/app.js" in body
        report = server.json(f"/api/{name}/range?start=2025-12-01&end=2025-12-01")
        assert (report["tenant"], report["totals"]["page_views"]) == (name, 1)
        assert server.json(f"/analytics/range?tenant={name}&start=2025-12-01")["tenant"] == name
    # `/{tenant}` still works where it is no path of the server's...
    for name in ("alice.example", "site", "_all"):
        status, head, _ = server.request(f"/{name}")
        assert status == 200 and head["content-type"].startswith("text/html"), name
    assert server.request("/site/_all")[0] == 200
    # ... and never answers a path of the server's with a dashboard.
    for name in sorted(RESERVED):
        status, head, _ = server.request(f"/{name}")
        assert not (status == 200 and head["content-type"].startswith("text/html")), name
    for bad in ("/site/Not%20A%20Tenant", "/site/", "/site/a/b", "/site/..%2f"):
        assert server.request(bad)[0] == 404, bad


def test_the_dashboard_links_every_tenant_under_site() -> None:
    script = (Path(__file__).resolve().parents[1] / "rings_cli" / "web" / "static" / "app.js").read_text()
    assert 'function sitePath(tenant) { return "/site/" + encodeURIComponent(tenant); }' in script
    assert 'href: "/" +' not in script and 'location.href = "/" +' not in script


# --- wrong tokens --------------------------------------------------------------------------------


def test_the_bucket_allows_a_burst_then_one_a_second() -> None:
    now = [100.0]
    bucket = FailedTokens(burst=3, rate=1.0, clock=lambda: now[0])
    for _ in range(3):
        assert bucket.retry_after("a") is None
        bucket.failed("a")
    assert bucket.retry_after("a") == 1 and bucket.retry_after("b") is None
    now[0] += 1.0
    assert bucket.retry_after("a") is None
    bucket.failed("a")
    assert bucket.retry_after("a") == 1
    now[0] += 10.0
    assert bucket.retry_after("a") is None  # refilled, never past the burst
    for _ in range(100):  # a guesser that keeps trying: every try counts, down to -burst
        bucket.failed("a")
    assert bucket.retry_after("a") == 4
    now[0] += 3.0
    assert bucket.retry_after("a") == 1
    now[0] += 1.0
    assert bucket.retry_after("a") is None


def _ask(con: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    con.request("GET", path, headers=headers)
    r = con.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


def test_wrong_tokens_are_limited_per_client(named: StateDir, servers) -> None:
    secret = "right-token-for-tests"
    server = servers(named, "--host", "127.0.0.1", env={"RINGS_TOKEN": secret})
    host = {"Host": f"127.0.0.1:{server.port}"}
    good = {**host, "Authorization": f"Bearer {secret}"}
    status, head, _ = server.request(f"/login?token={secret}")
    assert status == 303
    cookie = {**host, "Cookie": head["set-cookie"].split(";")[0]}

    con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # one connection, as a guesser
    started = time.monotonic()
    statuses = []
    while time.monotonic() - started < 3:
        statuses.append(_ask(con, "/api/tenants", {**host, "Authorization": "Bearer guess"})[0])
    # 10 free, then none while it keeps guessing (it was thousands a second)
    assert statuses[:FREE_FAILURES] == [401] * FREE_FAILURES
    assert statuses.count(401) == FREE_FAILURES and len(statuses) > 100
    status, head, body = _ask(con, "/api/tenants", {**host, "Authorization": "Bearer guess"})
    assert status == 429 and int(head["retry-after"]) == FREE_FAILURES + 1
    assert json.loads(body)["error"].startswith("too many wrong tokens from this address")
    # Past its allowance a token is not compared at all, right or wrong, nor a /login token...
    assert _ask(con, "/api/tenants", good)[0] == 429
    assert _ask(con, f"/login?token={secret}", host)[0] == 429
    # ... but a session cookie still works (nothing to guess there), a wrong one is a plain 401,
    assert _ask(con, "/api/tenants", cookie)[0] == 200
    assert _ask(con, "/api/tenants", {**host, "Cookie": "rings_session=x"})[0] == 401
    con.close()
    # and another client is not held back by this one.
    other = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=("127.0.0.2", 0))
    assert _ask(other, "/api/tenants", good)[0] == 200
    other.close()
    time.sleep(int(head["retry-after"]) + 0.2)  # one more try a second
    assert server.request("/api/tenants", {"Authorization": f"Bearer {secret}"})[0] == 200


# --- slow requests -------------------------------------------------------------------------------


def _wait_closed(sock: socket.socket, deadline: float) -> bool:
    while time.monotonic() < deadline:
        readable = select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]
        if not readable:
            return False
        try:
            if sock.recv(65536) == b"":
                return True
        except OSError:
            return True
    return False


def test_slow_headers_and_slow_bodies_are_cut_off(named: StateDir, servers) -> None:
    server = servers(named)
    host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
    slow: list[socket.socket] = []
    with server.ws("/api/alice.example/live") as ws:  # an upgraded connection: no deadline applies
        assert json.loads(ws.recv(timeout=30))["type"] == "init"
        try:
            opened = time.monotonic()
            for i in range(60):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
                if i % 3 == 0:
                    pass  # sends nothing at all
                elif i % 3 == 1:
                    sock.sendall(b"GET /api/tenants HTTP/1.1\r\n" + host)  # headers, never finished
                else:  # headers whole, then a body that never finishes
                    sock.sendall(b"POST /api/tenants HTTP/1.1\r\n" + host + b"Content-Length: 100000\r\n\r\n")
                slow.append(sock)
            # Trickle a byte on each every second: a byte is no reprieve. Meanwhile others are served.
            last = max(HEADER_SECONDS, BODY_SECONDS) + 5
            while time.monotonic() - opened < max(HEADER_SECONDS, BODY_SECONDS) - 2:
                for i, sock in enumerate(slow):
                    if i % 3:
                        with contextlib.suppress(OSError):  # closed already: the test says so below
                            sock.sendall(b"X-Slow: 1\r\n" if i % 3 == 1 else b"x")
                assert server.json("/api/tenants")["tenants"] == NAMES
                time.sleep(1)
            # Not before their time (the POSTs have had their 405, not their end).
            assert select.select([s for i, s in enumerate(slow) if i % 3 != 2], [], [], 0)[0] == []
            deadline = opened + last
            still_open = [i for i, s in enumerate(slow) if not _wait_closed(s, deadline)]
            assert still_open == [], f"{len(still_open)} slow connections still open after {last:.0f} s"
        finally:
            for sock in slow:
                sock.close()
        # The WebSocket, open all along, still answers.
        ws.send(json.dumps({"type": "unsubscribe", "metrics": ["hours"]}))
        assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"


def test_a_request_sent_in_pieces_in_time_is_answered(named: StateDir, servers) -> None:
    server = servers(named)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
        for piece in (b"GET /api/tenants HTTP/1.1\r\n", host, b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.5)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        sock.close()
