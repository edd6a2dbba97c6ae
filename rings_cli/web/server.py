"""`rings serve`: the report as a JSON API, live over WebSocket, and a web dashboard (Starlette).

A thin layer: every number comes from `build_report` (the JSON of `rings report --format json`)
through `serve_live.Reports`; this module adds routing, errors as JSON, and the browser-facing
safety rules: loopback unless a token is set, the token in constant time (Bearer header or an
HttpOnly SameSite=Strict cookie from /login), site tokens (`rings token add`: access.py) that see
only their tenants, share links (/share/TOKEN: a cookie, then a clean URL), wrong tokens limited
per client (limits.py), the Host
header checked against the bound name (DNS rebinding), the Origin of WebSocket upgrades checked,
requests that take too long to arrive closed (limits.py), and nothing that can change state.

A tenant's dashboard is `/site/{tenant}` for every tenant name, and `/{tenant}` too unless the name
is one of the server's own first path segments (RESERVED): no dashboard path collides with a route.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from rings_cli.core import bounds
from rings_cli.core.errors import DamagedStateError, RingsError, UsageError
from rings_cli.core.state import TENANT_PATTERN, StateDir
from rings_cli.query.export import CSV_SECTIONS, report_csv
from rings_cli.query.live import current_visitors
from rings_cli.query.report import DEFAULT_LIMIT, RangeAsk, closest, parse_compare
from rings_cli.store.catalog import read_committed
from rings_cli.web.access import ADMIN, Access, SiteTokens, access_of
from rings_cli.web.hub import ASKED, METRICS, POLL_SECONDS, Hub, Key, Reports, Socket, known_tenants, today
from rings_cli.web.limits import DeadlineProtocol, FailedTokens
from rings_cli.web.metrics import CONTENT_TYPE, Measured, Metrics

WEB = Path(__file__).resolve().parent / "static"
ALL = "_all"  # every tenant: no tenant name starts with "_"
COOKIE = "rings_session"
MAX_LIMIT = 1000  # rows in a top list: a server's answers stay small (`rings report` allows more)
_TENANT_RE = re.compile(TENANT_PATTERN)
# First path segments that are the server's, never a dashboard at `/{tenant}` (those tenants'
# dashboards are at `/site/{tenant}`, as every tenant's is).
RESERVED = frozenset({"api", "analytics", "login", "static", "share", "metrics", "healthz"})
SITE = "/site/"  # every tenant's dashboard: /site/{tenant}
NEEDS_TOKEN = "this server needs its token: Authorization: Bearer TOKEN, or open /login?token=TOKEN"
ACCESS = "rings.access"  # the scope key where Guard puts who the request is (an Access)

_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """`localhost` and 127.0.0.0/8, ::1; any other name may reach beyond this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("0.0.0.0", "::", "")


class Policy:
    """Who may ask: the names the server answers to, and the token (if any)."""

    def __init__(
        self,
        host: str,
        token: str | None,
        allow_hosts: list[str] | None = None,
        sites: SiteTokens | None = None,
    ) -> None:
        if token is not None and not token:
            raise UsageError("--token is empty")
        self.sites = sites
        if token is None and not is_loopback(host) and not (sites is not None and sites.exist()):
            raise UsageError(
                f"--host {host} is reachable from other machines: set a token (--token or RINGS_TOKEN) "
                "that every request must carry"
            )
        self.host = host.strip("[]").lower()
        self.token = token
        names = {self.host, *(h.lower() for h in allow_hosts or [])}
        if is_loopback(host):
            names |= {"localhost", "127.0.0.1", "::1"}
        self.names = names
        # The cookie holds a keyed digest of the token, not the token itself.
        self.session = (
            hmac.new(token.encode(), b"rings-session", hashlib.sha256).hexdigest() if token else None
        )

    def closed(self) -> bool:
        """Every request needs a token: once any exists (the admin's, or a site token list, even
        emptied), loopback included; and always beyond loopback (a token list deleted while serving
        there shuts everyone out rather than opening the server)."""
        return (
            self.token is not None
            or (self.sites is not None and self.sites.exist())
            or not is_loopback(self.host)
        )

    def host_ok(self, header: str | None) -> bool:
        """DNS rebinding: a page from evil.example resolved to us still says Host: evil.example."""
        if not header:
            return False
        name = _host_name(header)
        if name in self.names:
            return True
        if _is_wildcard(self.host):  # bound to every address: any address literal is one of ours
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False

    def origin_ok(self, origin: str | None, host: str) -> bool:
        """A WebSocket from a browser must come from a page of ours (same host:port)."""
        if origin is None:
            return True  # not a browser (browsers always send Origin on a WebSocket)
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()

    def cookie_ok(self, cookies: dict[str, str]) -> bool:
        """The session cookie /login set (a keyed digest of the token)."""
        given = cookies.get(COOKIE, "")
        return bool(self.session) and hmac.compare_digest(given.encode(), (self.session or "").encode())

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def access_by_cookie(self, cookies: dict[str, str]) -> Access | None:
        if self.cookie_ok(cookies):
            return ADMIN
        found = self.sites.by_cookie(cookies.get(COOKIE, "")) if self.sites is not None else None
        return access_of(found) if found is not None else None

    def access_by_token(self, given: str) -> Access | None:
        """The admin's token, or a live site token; None for anything else."""
        if self.token_ok(given):
            return ADMIN
        found = self.sites.by_token(given) if self.sites is not None else None
        return access_of(found) if found is not None else None


def bearer(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer TOKEN` header, None without one."""
    auth = headers.get("authorization", "")
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def client_of(scope: Scope) -> str:
    """The client's address (behind a reverse proxy: the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _host_name(header: str) -> str:
    """`example.com:8080` -> example.com; `[::1]:8080` -> ::1."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware: Host, Origin and token, before any route (HTTP and WebSocket alike)."""

    def __init__(self, app: ASGIApp, policy: Policy, failures: FailedTokens) -> None:
        self.app = app
        self.policy = policy
        self.failures = failures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        ASKED.set(time.monotonic())
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        problem: tuple[int, str, int | None] | None = None
        if not self.policy.host_ok(host):
            problem = (400, "this server does not answer to that Host name", None)
        elif scope["type"] == "websocket" and not self.policy.origin_ok(headers.get("origin"), host):
            problem = (403, "WebSocket from another origin", None)
        elif not _checks_its_own_token(scope["path"]):
            problem = self._token_problem(scope, headers)
        if problem is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # before accept: an HTTP 403
            return
        status, message, wait = problem
        response = _json({"error": message}, status, retry_after=wait)
        await response(scope, receive, send)

    def _token_problem(self, scope: Scope, headers: Headers) -> tuple[int, str, int | None] | None:
        """None when the request may pass (who it is in scope[ACCESS]); a wrong Bearer token counts
        against its client, which past its allowance gets a 429 (Retry-After) without the token
        being compared at all."""
        policy = self.policy
        if not policy.closed():
            scope[ACCESS] = ADMIN
            return None
        access = policy.access_by_cookie(_cookies(headers))
        if access is not None:
            scope[ACCESS] = access
            return None
        given = bearer(headers)
        if given is None:
            return (401, NEEDS_TOKEN, None)
        client = client_of(scope)
        wait = self.failures.retry_after(client)
        if wait is not None:  # refused uncompared; and the try counts: keep guessing, stay refused
            self.failures.failed(client)
            return (429, too_many(wait), wait)
        access = policy.access_by_token(given)
        if access is not None:
            scope[ACCESS] = access
            return None
        self.failures.failed(client)
        return (401, NEEDS_TOKEN, None)


def _checks_its_own_token(path: str) -> bool:
    """`/login` and `/share/TOKEN` take a token in the URL and check it themselves (counting wrong
    ones); every other path, `/loginx` and `/share/` included, needs one before any route."""
    return path == "/login" or (path.startswith("/share/") and path.count("/") == 2 and len(path) > 7)


def too_many(wait: int) -> str:
    return f"too many wrong tokens from this address; try again in {wait} s"


def _cookies(headers: Headers) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        out.setdefault(name, value)
    return out


class UnknownTenantError(RingsError):
    """A tenant the state dir holds no data for (or one the request's token may not see): a 404."""


def access(request: Request | WebSocket) -> Access:
    """Who the request is (Guard decided); the open server's requests see everything."""
    found = request.scope.get(ACCESS)
    return found if isinstance(found, Access) else ADMIN


class Api:
    """The routes' work: query parameters in, report JSON out."""

    def __init__(self, state: StateDir, policy: Policy, failures: FailedTokens) -> None:
        self.state = state
        self.policy = policy
        self.failures = failures
        self.reports = Reports(state)
        self.hub = Hub(state, self.reports)
        self.sockets: dict[WebSocket, Access] = {}  # open WebSockets, closed when their token goes
        self.metrics = Metrics(state, lambda: len(self.sockets))

    async def prometheus(self, request: Request) -> Response:
        """`/metrics`: the admin's (or anyone's on an open loopback server), never a site token's."""
        if not access(request).admin:
            return _json({"error": "/metrics needs the admin token (--token or RINGS_TOKEN)"}, 403)
        body = await self.reports.quick(self.metrics.text)  # reads the catalog: off the event loop
        return Response(body, headers={**_HEADERS}, media_type=CONTENT_TYPE)

    async def healthz(self, request: Request) -> Response:
        """200 when the state dir, its catalog and the warehouse can be read; else 503 and why
        (the admin is told which file and what; a site token only which part)."""
        problem = await self.reports.run(self._health)
        if problem is None:
            return _json({"status": "ok"})
        part, detail = problem
        return _json({"status": "unavailable", "error": detail if access(request).admin else part}, 503)

    def _health(self) -> tuple[str, str] | None:
        root = self.state.root
        if not root.is_dir():
            return ("state dir unreadable", f"no state dir at {root}: nothing has been ingested there")
        try:
            read_committed(self.state.catalog_path)
        except Exception as e:
            return ("catalog unreadable", f"cannot read catalog {self.state.catalog_path}: {e}")
        try:
            known_tenants(self.state)
        except Exception as e:
            return ("warehouse unreadable", str(e).splitlines()[0][:300] if str(e) else type(e).__name__)
        return None

    async def known(self, who: Access) -> list[str]:
        """The tenants with data that `who` may see."""
        return [t for t in await self.reports.tenants() if who.sees(t)]

    async def tenant(self, name: str | None, who: Access = ADMIN) -> str | None:
        """`_all` is None (every tenant `who` may see); an unknown name is a 404 naming the closest
        known ones, except to a site token: to it, a tenant it may not see is one that does not
        exist, and its 404 names no other."""
        if name == ALL:
            return None
        known = await self.known(who)
        if name is None:
            if len(known) == 1:
                return known[0]
            raise UsageError(f"?tenant= is required: known tenants: {', '.join(known) or 'none yet'}")
        if _TENANT_RE.match(name) and name in known:
            return name
        if not who.admin:
            raise UnknownTenantError(f"no data for tenant {name[:80]!r}")
        close = closest(name, known)
        hint = f"; known tenants: {', '.join(close)}" if close else "; no data yet"
        raise UnknownTenantError(f"no data for tenant {name[:80]!r}{hint}")

    @staticmethod
    def only(who: Access) -> tuple[str, ...] | None:
        """The tenants a report may read for `who` (None: all)."""
        return None if who.tenants is None else tuple(sorted(who.tenants))

    @staticmethod
    def limit(request: Request | WebSocket) -> int:
        raw = request.query_params.get("limit")
        return DEFAULT_LIMIT if raw is None else bounds.whole_number(raw, "limit", 1, MAX_LIMIT)

    def ask(self, request: Request | WebSocket, tenant: str | None) -> Key:
        """The report a request asks for: `start`, `end` (range words: YYYY-MM-DD, YYYY-MM, YYYY,
        today, yesterday), `last` (7d, 4w, 12m), `all` (1), `compare` (previous or START:END),
        `limit`, checked as `rings report` checks its options."""
        q = request.query_params
        start, end, last = (q.get(name) or None for name in ("start", "end", "last"))
        flag = q.get("all") or "0"
        if flag not in ("0", "1", "true", "false"):
            raise UsageError(f"all: {flag[:20]!r} is not 1 or 0")
        all_data = flag in ("1", "true")
        compare = q.get("compare") or None
        day = today(self.state, tenant)
        RangeAsk(start, end, last, all_data, options="").check(day)
        parse_compare(compare, day, "compare")
        only = self.only(access(request)) if tenant is None else None
        return Key(tenant, start, end, self.limit(request), last, all_data, compare, only)

    async def tenants(self, request: Request) -> Response:
        return _json({"tenants": await self.known(access(request))})

    async def today(self, request: Request) -> Response:
        who = access(request)
        tenant = await self.tenant(self._tenant_name(request), who)
        day = today(self.state, tenant).isoformat()  # the tenant's today, in its time zone
        only = self.only(who) if tenant is None else None
        key = Key(tenant, day, day, self.limit(request), only=only)
        report = await self.reports.report(key)
        return _json({**report, "current_visitors": await self._current(tenant, only)})

    async def current(self, request: Request) -> Response:
        """`current_visitors` alone: what the dashboard polls (no report is read for it)."""
        who = access(request)
        tenant = await self.tenant(self._tenant_name(request), who)
        only = self.only(who) if tenant is None else None
        return _json({"current_visitors": await self._current(tenant, only)})

    async def _current(self, tenant: str | None, only: tuple[str, ...] | None) -> int:
        """Distinct visitors with a page view in the last 5 minutes (query/live.py), off the loop."""
        if not self.state.root.is_dir():
            return 0
        return await asyncio.to_thread(current_visitors, self.state, tenant, None, only)

    async def range(self, request: Request) -> Response:
        """The report; with `format=json` or `format=csv` (and `section`, as `rings report
        --section`) the same as a file to download."""
        tenant = await self.tenant(self._tenant_name(request), access(request))
        fmt = request.query_params.get("format")
        section = request.query_params.get("section")
        if fmt not in (None, "json", "csv"):
            raise UsageError(f"format: {fmt[:20]!r} is not json or csv")
        if section is not None and (fmt != "csv" or section not in CSV_SECTIONS):
            raise UsageError(f"section: with format=csv, one of {', '.join(CSV_SECTIONS)}")
        report = await self.reports.report(self.ask(request, tenant))
        if fmt is None:
            return _json(report)
        name = f"rings-{tenant or 'all'}-{report['start']}-{report['end']}"  # tenant: [a-z0-9._-]
        if fmt == "json":
            body, kind = json.dumps(report, indent=1, ensure_ascii=True) + "\n", "application/json"
        else:
            section = section or "days"
            body, kind, name = report_csv(report, section), "text/csv; charset=utf-8", f"{name}-{section}"
        disposition = f'attachment; filename="{name}.{fmt}"'
        return Response(body, headers={**_HEADERS, "Content-Disposition": disposition}, media_type=kind)

    @staticmethod
    def _tenant_name(request: Request | WebSocket) -> str | None:
        return request.path_params.get("tenant", request.query_params.get("tenant"))

    async def live(self, ws: WebSocket) -> None:
        await ws.accept()
        who = access(ws)
        self.sockets[ws] = who
        try:
            await self._live(ws, who)
        finally:
            self.sockets.pop(ws, None)

    async def _live(self, ws: WebSocket, who: Access) -> None:
        try:
            tenant = await self.tenant(self._tenant_name(ws), who)
            key = await self.hub.key_for(self.ask(ws, tenant))
        except RingsError as e:  # a bad date or tenant; or a damaged file (1011: try again later)
            code = 4404 if isinstance(e, UnknownTenantError) else 4400 if isinstance(e, UsageError) else 1011
            await ws.send_json({"type": "error", "error": str(e)})
            await ws.close(code)
            return
        sock = Socket(ws.send_text)
        try:
            await self.hub.join(key, sock)
            while (msg := await ws.receive())["type"] != "websocket.disconnect":
                text = msg.get("text") or (msg.get("bytes") or b"").decode("utf-8", "replace")
                await ws.send_text(self._command(sock, text))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the dashboard went away
        except RingsError as e:
            with contextlib.suppress(Exception):
                await ws.send_json({"type": "error", "error": str(e)})
                await ws.close(1011)
        finally:
            self.hub.leave(key, sock)

    @staticmethod
    def _command(sock: Socket, text: str) -> str:
        """subscribe/unsubscribe: which metrics (report sections, and `events`) this socket gets."""
        try:
            msg = json.loads(text)
            kind, metrics = msg["type"], msg["metrics"]
            if kind not in ("subscribe", "unsubscribe") or not isinstance(metrics, list):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return json.dumps(
                {"type": "error", "error": 'send {"type": "subscribe"|"unsubscribe", "metrics": [...]}'}
            )
        unknown = [str(m)[:40] for m in metrics if m not in METRICS]
        if unknown:
            return json.dumps(
                {"type": "error", "error": f"unknown metrics {unknown}; metrics: {', '.join(METRICS)}"}
            )
        if kind == "subscribe":
            sock.metrics |= set(metrics)
        else:
            sock.metrics -= set(metrics)
        return json.dumps({"type": "subscribed", "metrics": [m for m in METRICS if m in sock.metrics]})

    async def close_revoked(self) -> None:
        """Close each open WebSocket whose token was revoked or has expired (checked every tick)."""
        sites = self.policy.sites
        if sites is None:
            return
        for ws, who in list(self.sockets.items()):
            if not sites.still(who):
                self.sockets.pop(ws, None)
                with contextlib.suppress(Exception):
                    await ws.send_json({"type": "error", "error": "this token was revoked or has expired"})
                    await ws.close(4401)
        sites.save_used()

    async def login(self, request: Request) -> Response:
        if not self.policy.closed():
            return RedirectResponse("/", 303)
        return self._sign_in(request, request.query_params.get("token"), "/", "strict")

    async def share(self, request: Request) -> Response:
        """`/share/TOKEN`: a site token's read-only dashboard with no login (a cookie, then a
        redirect to its clean URL, so the token stays out of the address bar and history)."""
        return self._sign_in(request, request.path_params["token"], None, "lax")

    def _sign_in(self, request: Request, given: str | None, to: str | None, samesite: str) -> Response:
        """Check a token given in a URL; right: its cookie and a redirect (`to`, or the token's
        first site). A share link is opened from mail or chat, another site: its cookie is Lax so
        that the redirect's request carries it."""
        client = client_of(request.scope)
        wait = self.failures.retry_after(client)
        if wait is not None:  # past its allowance of wrong tokens: this one is not even compared
            self.failures.failed(client)
            return _json({"error": too_many(wait)}, 429, retry_after=wait)
        who = self.policy.access_by_token(given) if given is not None else None
        if who is None:
            if given is not None:
                self.failures.failed(client)
            return _json({"error": "wrong token"}, 401)
        if who.admin:
            value = self.policy.session or ""
        else:
            assert self.policy.sites is not None and who.digest is not None and who.tenants is not None
            found = self.policy.sites.by_token(given or "")
            assert found is not None
            value = self.policy.sites.cookie_for(found)
            if to is None:
                to = SITE + found.tenants[0] if len(found.tenants) == 1 else "/"
        response = RedirectResponse(to or "/", 303, headers=_HEADERS)
        response.set_cookie(
            COOKIE, value, httponly=True, samesite=samesite,  # type: ignore[arg-type]
            secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        )  # fmt: skip
        return response

    async def page(self, request: Request) -> Response:
        """`/` (tenant picker), `/site/{tenant}` and `/{tenant}` (its dashboard): one page; the
        script reads the path. `/{tenant}` is no dashboard for a RESERVED name."""
        name = request.path_params.get("tenant")
        reserved = name in RESERVED and not request.url.path.startswith(SITE)
        if name is not None and (reserved or (name != ALL and not _TENANT_RE.match(name))):
            return _json({"error": "not found"}, 404)
        return FileResponse(WEB / "index.html", headers=_HEADERS)


def _json(data: Any, status: int = 200, retry_after: int | None = None) -> Response:
    headers = _HEADERS if retry_after is None else {**_HEADERS, "Retry-After": str(retry_after)}
    return JSONResponse(data, status, headers=headers)


async def _usage(request: Request, exc: Exception) -> Response:
    return _json({"error": str(exc)}, 400)


async def _not_found(request: Request, exc: Exception) -> Response:
    return _json({"error": str(exc)}, 404)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _json({"error": exc.detail}, exc.status_code)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """A damaged file or a warehouse held too long: say so (503), never a 500 with a traceback."""
    return _json({"error": str(exc)}, 503)


def create_app(state: StateDir, policy: Policy) -> ASGIApp:
    failures = FailedTokens()
    api = Api(state, policy, failures)

    async def guard_sockets() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            with contextlib.suppress(Exception):  # a bad tick is no reason to stop watching
                await api.close_revoked()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watchers = [asyncio.create_task(api.hub.run()), asyncio.create_task(guard_sockets())]
        try:
            yield
        finally:
            for watcher in watchers:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            api.reports.close()

    routes = [
        Route("/api/tenants", api.tenants),
        Route("/api/{tenant}/today", api.today),
        Route("/api/{tenant}/range", api.range),
        Route("/api/{tenant}/current", api.current),
        WebSocketRoute("/api/{tenant}/live", api.live),
        Route("/analytics/today", api.today),
        Route("/analytics/range", api.range),
        WebSocketRoute("/analytics/live", api.live),
        Route("/login", api.login),
        Route("/share/{token}", api.share),
        Route("/metrics", api.prometheus),
        Route("/healthz", api.healthz),
        Mount("/static", StaticFiles(directory=WEB), name="static"),
        Route("/", api.page),
        Route(SITE + "{tenant}", api.page),
        Route("/{tenant}", api.page),
    ]
    handlers = {
        UsageError: _usage,
        UnknownTenantError: _not_found,
        HTTPException: _http,
        DamagedStateError: _unavailable,
        RingsError: _unavailable,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.router.redirect_slashes = False  # /api/ is a 404, not a redirect to a dashboard named "api"
    return Measured(Guard(app, policy, failures), api.metrics)


def bind(host: str, port: int) -> socket.socket:
    """Listen before saying where: the start line names a port that already accepts."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(512)
    except OSError as e:
        sock.close()
        raise RingsError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, host: str) -> str:
    port = sock.getsockname()[1]
    shown = socket.gethostname() if _is_wildcard(host) else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def serve(state: StateDir, policy: Policy, sock: socket.socket) -> None:
    """Run until SIGINT/SIGTERM (uvicorn shuts down cleanly on either)."""
    import uvicorn  # here, so other commands do not pay for importing it

    config = uvicorn.Config(
        create_app(state, policy),
        log_config=None,
        log_level="warning",
        access_log=False,
        ws="websockets-sansio",
        http=DeadlineProtocol,  # h11, with header and body deadlines (limits.py)
        lifespan="on",
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])
