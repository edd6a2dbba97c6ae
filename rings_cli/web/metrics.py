"""`GET /metrics` of `rings serve`, in Prometheus' text format (the maintained prometheus-client).

Ingest numbers are read at each scrape from what every ingest process committed to the catalog
(store/catalog.py: `counters`, `source_commits`, the last flush), not counted in this process: they
survive restarts of either, and sum every ingest (a batch run, `--follow`, one after another).
The server's own numbers (requests and latency by route, open WebSockets) live in this process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rings_cli.core.state import StateDir
from rings_cli.store.catalog import read_committed

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StateCollector(Collector):
    """The state dir's committed numbers, read when scraped."""

    def __init__(self, state: StateDir) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        readable = GaugeMetricFamily(
            "rings_state_readable", "1 when the catalog could be read for these metrics, else 0"
        )
        try:
            committed = read_committed(self.state.catalog_path)
        except Exception:  # damaged or locked: say so in a metric (and /healthz), never a 500
            readable.add_metric([], 0)
            yield readable
            return
        readable.add_metric([], 1)
        yield readable
        help_of = {
            "lines_read": "Lines read, as committed by every ingest process",
            "parsed": "Lines parsed into requests, as committed by every ingest process",
            "page_views": "Page views counted, as committed by every ingest process",
        }
        families = {
            name: CounterMetricFamily(f"rings_ingest_{name}", text, labels=["source"])
            for name, text in help_of.items()
        }
        rejected = CounterMetricFamily(
            "rings_ingest_rejected", "Lines rejected, by reason, as committed", labels=["source", "reason"]
        )
        for source, name, value in committed.counters:
            if name.startswith("rejected:"):
                rejected.add_metric([source, name.removeprefix("rejected:")], value)
            elif name in families:
                families[name].add_metric([source], value)
        yield from families.values()
        yield rejected
        age = GaugeMetricFamily(
            "rings_ingest_seconds_since_last_commit",
            "Seconds since the newest lines of a source were committed",
            labels=["source"],
        )
        now = time.time()
        for source, at in committed.last_commit.items():
            age.add_metric([source], max(0.0, now - at))
        yield age
        yield GaugeMetricFamily(
            "rings_open_tenant_days", "Tenant-days not finalized yet", value=committed.open_tenant_days
        )
        if committed.last_flush_at is not None and committed.last_flush_seconds is not None:
            yield GaugeMetricFamily(
                "rings_last_flush_timestamp_seconds",
                "When the last flush into the warehouse that wrote something ended (Unix time)",
                value=committed.last_flush_at,
            )
            yield GaugeMetricFamily(
                "rings_last_flush_duration_seconds",
                "How long that flush took",
                value=committed.last_flush_seconds,
            )
        size = 0
        for path in (self.state.warehouse_path, self.state.warehouse_path.with_name("warehouse.duckdb.wal")):
            with contextlib.suppress(FileNotFoundError):
                size += path.stat().st_size
        yield GaugeMetricFamily("rings_warehouse_bytes", "Size of the local warehouse files", value=size)


class Metrics:
    """One registry per server: the state dir's numbers and this process's own."""

    def __init__(self, state: StateDir, open_sockets: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StateCollector(state))
        self.requests = Counter(
            "rings_http_requests",
            "HTTP requests answered, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rings_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        sockets = Gauge("rings_open_websockets", "WebSockets open now", registry=self.registry)
        sockets.set_function(lambda: float(open_sockets()))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class Measured:
    """ASGI middleware: count and time every HTTP request by its route's template (never its
    path: tenant names and tokens stay out of label values, and their number stays small)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.monotonic()
        status: list[int] = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = _route_of(scope)
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(time.monotonic() - started)


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "none"
