"""Issue 31, per-site tokens and share links: `rings token add|list|revoke`, and what a real
`rings serve` shows to each token (only its tenants, over HTTP and WebSocket), until it is revoked."""

from __future__ import annotations

import datetime as dt
import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rings_cli.core.state import StateDir
from rings_cli.store.tokens import SiteToken
from tests.browser import CHROMIUM, Page
from tests.conftest import SAMPLE_LOG, report_json, run_rings
from tests.test_serve import ingest

ADMIN = "admin-token-for-tests"


def token(state: StateDir, *args: str) -> str:
    proc = run_rings("token", "add", "--state-dir", str(state.root), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode()


def revoke(state: StateDir, label: str) -> None:
    proc = run_rings("token", "revoke", label, "--state-dir", str(state.root))
    assert proc.returncode == 0, proc.stderr


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def sample(tmp_path: Path) -> StateDir:
    state = StateDir(tmp_path / "state")
    ingest(state, SAMPLE_LOG)  # alice.example, bob.example, carol.example
    return state


def test_token_is_printed_once_and_stored_only_as_a_digest(sample: StateDir) -> None:
    out = token(sample, "--tenant", "alice.example", "--tenant", "bob.example", "--label", "client-a")
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rk_") and len(lines[0]) > 40
    shared = token(sample, "--tenant", "carol.example", "--label", "carol", "--share").splitlines()
    assert shared[1] == f"/share/{shared[0]}"
    for secret in (lines[0], shared[0]):
        for path in sample.root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    for name in ("tokens.json", "tokens.key"):
        assert stat.S_IMODE((sample.root / name).stat().st_mode) == 0o600
    listed = run_rings("token", "list", "--json", "--state-dir", str(sample.root))
    rows = json.loads(listed.stdout)
    assert [(r["label"], r["tenants"], r["expires"], r["last_used"]) for r in rows] == [
        ("client-a", ["alice.example", "bob.example"], None, None),
        ("carol", ["carol.example"], None, None),
    ]
    assert lines[0].encode() not in listed.stdout
    for args, says in [
        (["--tenant", "Alice", "--label", "x"], "invalid tenant name 'Alice'"),
        (["--tenant", "a.example", "--label", "a b"], "--label 'a b'"),
        (["--tenant", "a.example", "--label", "\x1b[2J"], "--label '\\x1b[2J'"),
        (["--tenant", "a.example", "--label", "x", "--expires", "2001-01-01"], "is in the past"),
        (["--tenant", "a.example", "--label", "x", "--expires", "soon"], "'soon' is not a date"),
        (["--tenant", "a.example", "--label", "carol"], "a token labelled 'carol' exists"),
    ]:
        proc = run_rings("token", "add", "--state-dir", str(sample.root), *args)
        assert proc.returncode == 2 and proc.stdout == b""
        err = proc.stderr.decode()
        assert err.startswith("Error: ") and says in err and err.count("\n") == 1, err
    gone = run_rings("token", "revoke", "nobody", "--state-dir", str(sample.root))
    assert gone.returncode == 2 and "no token labelled 'nobody'" in gone.stderr.decode()


def test_expiry_is_the_last_day() -> None:
    entry = SiteToken("x", ("a",), "2026-01-01T00:00:00+00:00", "2026-03-01", "0" * 64)
    assert not entry.expired(dt.datetime(2026, 3, 1, 23, 59, tzinfo=dt.UTC))
    assert entry.expired(dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC))


def test_a_site_token_sees_only_its_sites(sample: StateDir, serve) -> None:
    mine = token(sample, "--tenant", "alice.example", "--tenant", "bob.example", "--label", "ab").strip()
    server = serve(sample, env={"RINGS_TOKEN": ADMIN})
    me = bearer(mine)
    assert server.json("/api/tenants", 200, me) == {"tenants": ["alice.example", "bob.example"]}
    assert server.json("/api/tenants", 200, bearer(ADMIN))["tenants"][-1] == "carol.example"
    alice = server.json("/api/alice.example/range", 200, me)
    assert alice["totals"] == report_json(sample, "--tenant", "alice.example")["totals"]
    # Another tenant that exists answers as one that does not: same status, same words, no hints.
    other = server.json("/api/carol.example/range", 404, me)["error"]
    absent = server.json("/api/nobody.example/range", 404, me)["error"]
    assert other == "no data for tenant 'carol.example'"
    assert absent == "no data for tenant 'nobody.example'"
    assert "carol" not in server.json("/api/caro.example/today", 404, me)["error"]
    assert "carol" not in server.json("/analytics/today", 400, me)["error"]
    assert server.json("/analytics/range?tenant=carol.example", 404, me)["error"] == other
    # `_all` is the sum of its own sites only.
    whole = server.json("/api/_all/range?all=1", 200, me)
    expected = [report_json(sample, "--tenant", t, "--all") for t in ("alice.example", "bob.example")]
    assert whole["totals"]["requests"] == sum(r["totals"]["requests"] for r in expected)
    assert whole["totals"]["page_views"] == sum(r["totals"]["page_views"] for r in expected)
    assert {r["tenant"] for r in whole["tenants"]} == {"alice.example", "bob.example"}
    assert "carol.example" not in json.dumps(whole)
    csv = server.request("/api/_all/range?all=1&format=csv&section=days", me)
    assert csv[0] == 200
    # No token, or a wrong one, even on loopback: the server has tokens, so it is closed.
    assert server.json("/api/tenants", 401)["error"].startswith("this server needs its token")
    assert server.json("/api/tenants", 401, bearer("rk_" + "x" * 43))["error"].startswith("this server")
    # WebSockets: its own sites only.
    with server.ws("/api/_all/live?all=1", additional_headers=me) as ws:
        init = json.loads(ws.recv(timeout=30))
        assert init["stats"]["totals"]["requests"] == whole["totals"]["requests"]
        assert {r["tenant"] for r in init["stats"]["tenants"]} == {"alice.example", "bob.example"}
    with server.ws("/api/carol.example/live", additional_headers=me) as ws:
        assert json.loads(ws.recv(timeout=30))["error"] == other
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
        assert ws.close_code == 4404


def test_site_tokens_alone_close_a_loopback_server(sample: StateDir, serve) -> None:
    server = serve(sample)
    assert server.json("/api/tenants", 200)["tenants"][0] == "alice.example"  # no token at all: open
    mine = token(sample, "--tenant", "bob.example", "--label", "bob").strip()
    assert server.json("/api/tenants", 401)["error"].startswith("this server needs its token")
    assert server.json("/api/tenants", 200, bearer(mine)) == {"tenants": ["bob.example"]}
    revoke(sample, "bob")  # an empty list still closes it: nobody gets in
    assert server.json("/api/tenants", 401)["error"].startswith("this server needs its token")
    beyond = serve(sample, "--host", "0.0.0.0")  # a token list (even empty) allows a wider bind
    assert beyond.json("/api/tenants", 401)["error"].startswith("this server needs its token")


def test_revoking_takes_effect_on_the_next_request_and_closes_its_websocket(sample: StateDir, serve) -> None:
    mine = token(sample, "--tenant", "alice.example", "--label", "alice").strip()
    keep = token(sample, "--tenant", "bob.example", "--label", "bob").strip()
    server = serve(sample)
    assert server.json("/api/alice.example/today", 200, bearer(mine))["tenant"] == "alice.example"
    with (
        server.ws("/api/alice.example/live", additional_headers=bearer(mine)) as ws,
        server.ws("/api/bob.example/live", additional_headers=bearer(keep)) as other,
    ):
        assert json.loads(ws.recv(timeout=30))["type"] == "init"
        assert json.loads(other.recv(timeout=30))["type"] == "init"
        revoke(sample, "alice")
        revoked = time.monotonic()
        assert server.json("/api/alice.example/today", 401, bearer(mine))  # the very next request
        message = json.loads(ws.recv(timeout=max(0.01, revoked + 1.5 - time.monotonic())))
        assert message == {"type": "error", "error": "this token was revoked or has expired"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=max(0.01, revoked + 1.5 - time.monotonic()))
        assert ws.close_code == 4401
        assert time.monotonic() - revoked < 1.5  # its close frame came within a tick or so
        other.ping().wait(timeout=10)  # the other token's socket stays open
    assert server.json("/api/bob.example/today", 200, bearer(keep))["tenant"] == "bob.example"
    with pytest.raises(InvalidStatus):
        server.ws("/api/alice.example/live", additional_headers=bearer(mine))


def test_a_share_link_sets_a_cookie_and_a_clean_url_until_revoked(sample: StateDir, serve) -> None:
    link = token(sample, "--tenant", "carol.example", "--label", "carol", "--share").splitlines()[1]
    server = serve(sample, env={"RINGS_TOKEN": ADMIN})
    status, head, _ = server.request(link)
    assert status == 303 and head["location"] == "/site/carol.example"
    assert head["referrer-policy"] == "no-referrer"
    cookie = head["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    value = cookie.split(";")[0]
    assert link.removeprefix("/share/") not in value
    page = server.request("/site/carol.example", {"Cookie": value})
    assert page[0] == 200 and page[1]["referrer-policy"] == "no-referrer"
    assert server.json("/api/tenants", 200, {"Cookie": value}) == {"tenants": ["carol.example"]}
    assert server.json("/api/alice.example/today", 404, {"Cookie": value})
    assert server.request("/share/rk_" + "y" * 43)[0] == 401
    for path in ("/loginx", "/login/x", "/share/", "/share/a/b", "/sharex"):  # no way around the token
        assert server.request(path)[0] == 401, path
    revoke(sample, "carol")
    assert server.request(link)[0] == 401
    assert server.request("/site/carol.example", {"Cookie": value})[0] == 401
    err = server.stop()
    assert link.removeprefix("/share/") not in err  # never logged


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")
def test_a_share_link_opens_the_dashboard_in_a_browser(sample: StateDir, serve, tmp_path: Path) -> None:
    link = token(sample, "--tenant", "bob.example", "--label", "bob", "--share").splitlines()[1]
    server = serve(sample, env={"RINGS_TOKEN": ADMIN})
    expected = report_json(sample, "--tenant", "bob.example")["totals"]["page_views"]
    page = Page(tmp_path)
    try:
        page.open(f"http://127.0.0.1:{server.port}{link}")
        assert page.evaluate("location.pathname") == "/site/bob.example"
        shown: Any = f"document.querySelector('[data-metric=page_views]').textContent === '{expected:,}'"
        page.wait(shown)
        picker = f"http://127.0.0.1:{server.port}/"
        page.open(picker, ready="document.querySelectorAll('#tenant-select option').length > 0")
        options = page.evaluate(
            "[...document.querySelectorAll('#tenant-select option')].map(o => o.value).filter(v => v)"
        )
        assert options == ["_all", "bob.example"]
        revoke(sample, "bob")
        page.send("Page.navigate", session=True, url=f"http://127.0.0.1:{server.port}/site/bob.example")
        page.wait("document.body && document.body.innerText.includes('this server needs its token')")
    finally:
        page.close()
