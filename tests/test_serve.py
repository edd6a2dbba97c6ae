"""Issue 14, `rings serve`: a real server process on a free loopback port, checked against `rings
report --format json`, its errors, its token, Host and Origin rules, and its WebSocket beside
another process's ingest."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.web.server import Policy, is_loopback
from tests.conftest import SAMPLE_LOG, line, report_json, run_cli, run_rings

FOLLOW = [sys.executable, "-m", "rings_cli", "ingest", "--follow", "--flush-interval", "0.3"]
ABOUT_STATE = ("as_of", "data_from", "data_to")  # times and extents of the state dir, not the range


def now_line(i: int, vhost: str = "alice.example", path: str = "/", ref: str = "-") -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return line(
        ip=f"10.9.{i // 250}.{i % 250 + 1}",
        when=stamp,
        request=f"GET {path} HTTP/1.1",
        vhost=vhost,
        referrer=ref,
    )


def ingest(state: StateDir, log: Path, *extra: str) -> None:
    result = run_cli("ingest", "--state-dir", str(state.root), "--no-finalize", "-q", *extra, str(log))
    assert result.exit_code == 0, result.output


class Server:
    """`rings serve` as a subprocess on port 0; `port` is read from its one start line."""

    def __init__(self, state: StateDir, *args: str, env: dict[str, str] | None = None) -> None:
        cmd = [
            sys.executable,
            "-m",
            "rings_cli",
            "serve",
            "--state-dir",
            str(state.root),
            "--port",
            "0",
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while not select.select([self.proc.stdout], [], [], 0.1)[0]:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no start line"
        self.start_line = self.proc.stdout.readline().decode()
        found = re.search(r"http://[^ ]+:(\d+)/", self.start_line)
        assert found, self.start_line
        self.port = int(found.group(1))

    def request(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, str], bytes]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            con.request(method, path, headers={"Host": f"127.0.0.1:{self.port}", **(headers or {})})
            r = con.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            con.close()

    def json(self, path: str, status: int = 200, headers: dict[str, str] | None = None) -> Any:
        got, head, body = self.request(path, headers)
        assert got == status, (path, got, body)
        assert head["content-type"] == "application/json", head
        return json.loads(body)

    def ws(self, path: str, **kw: Any) -> Any:
        return connect(f"ws://127.0.0.1:{self.port}{path}", open_timeout=30, **kw)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return err.decode()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> StateDir:
    """The sample log (three tenants, December 2025) and a few page views of today."""
    tmp = tmp_path_factory.mktemp("filled")
    state = StateDir(tmp / "state")
    ingest(state, SAMPLE_LOG)
    log = tmp / "today.log"
    log.write_text("".join(now_line(i, path=f"/p{i % 3}") + "\n" for i in range(7)))
    ingest(state, log)
    return state


def without_state_times(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ABOUT_STATE}


def test_every_endpoint_is_the_report_json(filled: StateDir, serve) -> None:
    server = serve(filled)
    assert server.start_line.startswith(f"Rings dashboard at http://127.0.0.1:{server.port}/")
    tenants = ["alice.example", "bob.example", "carol.example"]
    assert server.json("/api/tenants") == {"tenants": tenants}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for tenant in [*tenants, "_all"]:
        opt = [] if tenant == "_all" else ["--tenant", tenant]
        q = f"tenant={tenant}&"
        cases = {
            f"/api/{tenant}/range": report_json(filled, *opt),
            f"/api/{tenant}/range?start=2025-12-01&end=2025-12-02&limit=3": report_json(
                filled, *opt, "--start", "2025-12-01", "--end", "2025-12-02", "--limit", "3"
            ),
            f"/api/{tenant}/range?start=2025-12-02": report_json(filled, *opt, "--start", "2025-12-02"),
            f"/api/{tenant}/today": report_json(filled, *opt, "--start", today, "--end", today),
            f"/analytics/today?{q}": report_json(filled, *opt, "--start", today, "--end", today),
            f"/analytics/range?{q}start=2025-12-01&end=2025-12-03": report_json(
                filled, *opt, "--start", "2025-12-01", "--end", "2025-12-03"
            ),
        }
        for path, expected in cases.items():
            got = server.json(path)
            if "today" in path:  # and who is on the site now (issue 30): tests/test_current_visitors.py
                assert isinstance(got.pop("current_visitors"), int)
            assert without_state_times(got) == expected, path
            assert got["as_of"] is not None
    assert server.json("/api/alice.example/today")["totals"]["page_views"] == 7


def test_seed_aliases_need_no_tenant_when_there_is_one(tmp_path: Path, serve, write_log) -> None:
    state = StateDir(tmp_path / "state")
    ingest(state, write_log([now_line(i) for i in range(3)]), "--tenant", "solo")
    server = serve(state)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    expected = report_json(state, "--tenant", "solo", "--start", today, "--end", today)
    got = server.json("/analytics/today")
    assert got.pop("current_visitors") == 3  # every line is from now
    assert without_state_times(got) == expected
    assert without_state_times(server.json("/analytics/range")) == report_json(state, "--tenant", "solo")


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/alice.example/range?start=2025-13-01", 400, "start: '2025-13-01' is not a date"),
        ("/api/alice.example/range?end=tomorrow", 400, "end: 'tomorrow' is not a date"),
        ("/api/alice.example/range?start=2025-12-03&end=2025-12-01", 400, "is after end"),
        ("/api/alice.example/range?limit=0", 400, "limit"),
        ("/api/alice.example/range?limit=x", 400, "limit"),
        ("/api/_all/range?start=0001-01-01&end=9999-12-31&limit=99999", 400, "limit"),
        ("/analytics/today", 400, "?tenant= is required: known tenants: alice.example, bob.example"),
        (
            "/api/alicee.example/today",
            404,
            "no data for tenant 'alicee.example'; known tenants: alice.example",
        ),
        ("/api/ALICE/range", 404, "no data for tenant 'ALICE'"),
        ("/api/..%2f..%2fetc/today", 404, ""),
        ("/analytics/range?tenant=nobody", 404, "no data for tenant 'nobody'"),
        ("/api/alice.example/nothing", 404, ""),
        ("/api/", 404, ""),
        ("/Not%20A%20Tenant", 404, ""),
    ],
)
def test_bad_requests_are_json_errors(
    filled: StateDir, serve_once, path: str, status: int, says: str
) -> None:
    body = serve_once(filled).json(path, status)
    assert says in body["error"]


def test_wide_ranges_and_writes(filled: StateDir, serve_once) -> None:
    server = serve_once(filled)
    wide = server.json("/api/_all/range?start=0001-01-01&end=9999-12-31")
    assert (
        wide["totals"]["requests"]
        == report_json(filled, "--start", "0001-01-01", "--end", "9999-12-31")["totals"]["requests"]
    )
    for method in ("POST", "PUT", "DELETE"):
        status, _, _ = server.request("/api/alice.example/range", method=method)
        assert status == 405  # read-only: there is nothing to write to


@pytest.fixture(scope="module")
def serve_once() -> Iterator[Any]:
    """One server per state dir for a module's many small requests."""
    servers: dict[Path, Server] = {}

    def get(state: StateDir) -> Server:
        if state.root not in servers:
            servers[state.root] = Server(state)
        return servers[state.root]

    yield get
    for s in servers.values():
        assert "Traceback" not in s.stop()


def test_host_and_origin_are_checked(filled: StateDir, serve_once) -> None:
    server = serve_once(filled)
    status, _, body = server.request("/api/tenants", {"Host": "rebound.evil.example"})
    assert status == 400 and b"Host" in body
    assert server.request("/api/tenants", {"Host": f"localhost:{server.port}"})[0] == 200
    with pytest.raises(InvalidStatus) as e:
        server.ws("/api/alice.example/live", origin="http://evil.example")
    assert e.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        server.ws("/api/alice.example/live", origin=f"http://localhost.evil.example:{server.port}")
    with server.ws("/api/alice.example/live", origin=f"http://127.0.0.1:{server.port}") as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "init"


def test_beyond_loopback_needs_a_token(filled: StateDir, serve) -> None:
    """Bound to 0.0.0.0 (every address; reached here over 127.0.0.1 only)."""
    proc = run_rings("serve", "--state-dir", str(filled.root), "--host", "0.0.0.0", "--port", "0")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        "Error: --host 0.0.0.0 is reachable from other machines: set a token (--token or RINGS_TOKEN) "
        "that every request must carry"
    )
    secret = "s3cret-token-for-tests"
    server = serve(filled, "--host", "0.0.0.0", env={"RINGS_TOKEN": secret})
    assert "/login?token=" in server.start_line and secret not in server.start_line
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"rings_session={secret}"}):
        assert server.json("/api/tenants", 401, headers)["error"].startswith("this server needs its token")
    assert server.request("/", {})[0] == 401
    ok = server.json("/api/tenants", 200, {"Authorization": f"Bearer {secret}"})
    assert ok["tenants"][0] == "alice.example"
    assert server.request(f"/login?token={secret}x")[0] == 401
    status, head, _ = server.request(f"/login?token={secret}")
    assert status == 303 and head["location"] == "/"
    cookie = head["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    value = cookie.split(";")[0]
    assert value.startswith("rings_session=") and secret not in value
    assert server.json("/api/alice.example/today", 200, {"Cookie": value})["tenant"] == "alice.example"
    with pytest.raises(InvalidStatus):
        server.ws("/api/alice.example/live")
    with server.ws("/api/alice.example/live", additional_headers={"Cookie": value}) as ws:
        assert json.loads(ws.recv(timeout=30))["type"] == "init"


def test_loopback_rule() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host)
        Policy(host, None)
    for host in ("0.0.0.0", "::", "192.0.2.7", "stats.example.com"):
        assert not is_loopback(host)
        with pytest.raises(UsageError, match="set a token"):
            Policy(host, None)
    named = Policy("stats.example.com", "t", ["proxy.example"])
    assert named.host_ok("stats.example.com:8080") and named.host_ok("PROXY.example")
    assert not named.host_ok("127.0.0.1:8080") and not named.host_ok("evil.example")
    wildcard = Policy("0.0.0.0", "t")
    assert wildcard.host_ok("192.0.2.7:8080") and wildcard.host_ok("[::1]:80")
    assert not wildcard.host_ok("rebound.example")


def recv_until(ws: Any, kind: str, deadline: float) -> dict[str, Any]:
    while True:
        msg = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg["type"] == kind:
            return msg


def test_websocket_init_then_update_within_two_seconds_of_another_process(
    tmp_path: Path, serve, write_log
) -> None:
    state = StateDir(tmp_path / "state")
    ingest(state, write_log([now_line(i) for i in range(3)], "first.log"))
    server = serve(state)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    with (
        server.ws("/api/alice.example/live") as ws,
        server.ws("/analytics/live?tenant=alice.example") as alias,
    ):
        init = json.loads(ws.recv(timeout=30))
        assert init["type"] == "init"
        assert without_state_times(init["stats"]) == report_json(
            state, "--tenant", "alice.example", "--start", today, "--end", today
        )
        assert {e["path"] for e in init["recent"]} == {"/"}
        assert json.loads(alias.recv(timeout=30))["stats"] == init["stats"]
        ws.send(json.dumps({"type": "unsubscribe", "metrics": ["hours", "top_referrers"]}))
        ack = recv_until(ws, "subscribed", time.monotonic() + 10)
        assert "hours" not in ack["metrics"] and "totals" in ack["metrics"]
        ws.send(json.dumps({"type": "subscribe", "metrics": ["nope"]}))
        assert "unknown metrics ['nope']" in recv_until(ws, "error", time.monotonic() + 10)["error"]

        log = write_log(
            [now_line(10 + i, path="/new", ref="https://news.example/x") for i in range(2)], "2.log"
        )
        proc = run_rings("ingest", "--state-dir", str(state.root), "--no-finalize", "-q", str(log))
        assert proc.returncode == 0, proc.stderr
        committed = time.monotonic()  # the other process has committed and exited
        update = recv_until(ws, "update", committed + 2.0)
        assert time.monotonic() - committed < 2.0
        assert update["stats"]["totals"]["page_views"] == 5
        assert "hours" not in update["stats"] and "top_referrers" not in update["stats"]
        assert "tenant" not in update["stats"]  # only what changed
        events = [recv_until(ws, "event", committed + 5)["event"] for _ in range(2)]
        for event in events:
            assert set(event) == {"time", "tenant", "path", "source"}  # nothing about the visitor
            assert event["path"] == "/new" and event["source"] == "news.example"
        full = recv_until(alias, "update", committed + 5)["stats"]
        assert full["hours"] and "news.example" in {r["source"] for r in full["top_referrers"]}


def test_serve_beside_ingest_follow_without_lock_errors(tmp_path: Path, serve) -> None:
    state = StateDir(tmp_path / "state")
    log = tmp_path / "access.log"
    log.write_text(now_line(0) + "\n")
    follow = subprocess.Popen(
        [*FOLLOW, "--state-dir", str(state.root), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (state.root / "catalog.sqlite").exists():
            assert time.monotonic() < deadline and follow.poll() is None
            time.sleep(0.05)
        server = serve(state)
        while server.request("/api/tenants")[2] != b'{"tenants":["alice.example"]}':
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with server.ws("/api/alice.example/live") as ws:
            seen = json.loads(ws.recv(timeout=30))["stats"]["totals"]["page_views"]
            for i in range(1, 6):
                with open(log, "a") as f:
                    f.write(now_line(i) + "\n")
                while seen < i + 1:  # each line arrives as an update, while flushes land
                    seen = recv_until(ws, "update", time.monotonic() + 30)["stats"]["totals"]["page_views"]
                    assert server.json("/api/alice.example/today")["totals"]["page_views"] >= seen
        while server.json("/api/alice.example/today")["live_tenant_days"] != 0:
            assert time.monotonic() < deadline, "a flush never landed"
            time.sleep(0.05)
    finally:
        follow.send_signal(signal.SIGINT)
        _, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, err.decode()
    assert b"Error" not in err and b"locked" not in err


def test_nothing_ingested_yet_and_a_busy_port(tmp_path: Path, serve) -> None:
    state = StateDir(tmp_path / "not-yet")
    server = serve(state)
    assert server.json("/api/tenants") == {"tenants": []}
    today = server.json("/api/_all/today")
    assert today["totals"]["requests"] == 0 and today["as_of"] is None
    unknown = server.json("/api/alice.example/today", 404)
    assert unknown["error"] == "no data for tenant 'alice.example'; no data yet"
    assert not state.root.exists()  # read-only: serving creates nothing
    proc = run_rings("serve", "--state-dir", str(state.root), "--port", str(server.port))
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith(f"Error: cannot listen on 127.0.0.1:{server.port}: ")


def test_websocket_errors_are_messages(filled: StateDir, serve_once) -> None:
    server = serve_once(filled)
    for path, code, says in [
        ("/api/nobody.example/live", 4404, "no data for tenant 'nobody.example'"),
        ("/api/alice.example/live?start=2025-02-30", 4400, "start: '2025-02-30' is not a date"),
        ("/analytics/live", 4400, "?tenant= is required"),
    ]:
        with server.ws(path) as ws:
            assert says in json.loads(ws.recv(timeout=30))["error"]
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=30)
            assert ws.close_code == code
    with server.ws("/api/_all/live?start=2025-12-01&end=2025-12-03") as ws:
        init = json.loads(ws.recv(timeout=30))
        assert without_state_times(init["stats"]) == report_json(
            filled, "--start", "2025-12-01", "--end", "2025-12-03"
        )
        for junk in (b"\xff\x00", "not json", '{"type": "subscribe", "metrics": "totals"}', "[1, 2]"):
            ws.send(junk)
            assert json.loads(ws.recv(timeout=30))["type"] == "error"


def test_today_is_the_tenants_own_day(tmp_path: Path, serve, write_log) -> None:
    """A site in UTC+14 (Kiritimati) or UTC-11 (Niue): `today` is its local calendar day, which is
    never the same as UTC's for both, and the report names the zone."""
    state = StateDir(tmp_path / "state")
    state.root.mkdir(parents=True)
    (state.root / "rings.toml").write_text(
        '[timezones]\n"east.example" = "Pacific/Kiritimati"\n"west.example" = "Pacific/Niue"\n'
    )
    lines = [now_line(i, vhost="east.example") for i in range(2)] + [now_line(9, vhost="west.example")]
    ingest(state, write_log(lines))
    server = serve(state)
    now = dt.datetime.now(dt.UTC)
    for tenant, hours, views in (("east.example", 14, 2), ("west.example", -11, 1)):
        local = (now + dt.timedelta(hours=hours)).date().isoformat()
        got = server.json(f"/api/{tenant}/today")
        if got["start"] != local:  # the clock passed a midnight between the two reads: once more
            local = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).date().isoformat()
            got = server.json(f"/api/{tenant}/today")
        assert (got["start"], got["end"], got["timezone"]) == (
            local,
            local,
            "Pacific/" + ("Kiritimati" if hours == 14 else "Niue"),
        )
        assert got["totals"]["page_views"] == views
