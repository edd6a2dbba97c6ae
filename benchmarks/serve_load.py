#!/usr/bin/env python3
"""`rings serve` under load, on loopback only: 100 open WebSockets and rounds of 200 concurrent
`/api` requests while `rings ingest --follow` writes 50 page views a second into the same state dir.

The stated load (issue 31): a 1-year x 100-site warehouse (`--state-from`, a state dir copied
first, or `--log`, ingested once into a temp dir; without either, the bundled three-tenant sample,
a smoke test only). `rings ingest --follow --flush-interval 5` takes a log that a writer appends
25 page views of today to every 0.5 s, spread over every tenant (so DO files commit and flushes
land throughout); `rings serve --port 0`; the WebSockets (one a tenant, every 25th on `_all`; each
must get `init`); then `--rounds` rounds of `--requests` requests at once, each a tenant's (or
`_all`'s) report of a range: mostly a distinct START..END, the rest the dashboard's presets (its
default, today, last 7 and 30 days, all); then `--same-rounds` rounds of `--requests` identical
requests (one question a round). Prints latency percentiles of both, the WebSocket updates, and
how long after each commit to a tenant's DO file (seen by polling its stamp every 20 ms) its
socket got an update holding it (its page views); exits 1 on any error (a non-200, a failed socket,
a lock error from the ingest). Bounded: every wait has a deadline.

    python benchmarks/serve_load.py --state-from STATE [--rounds 3] [--same-rounds 3]
        [--requests 200] [--sockets 100]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import faulthandler
import json
import random
import re
import resource
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
RINGS = [sys.executable, "-m", "rings_cli"]
POLL = 0.02  # how often the DO files' stamps are looked at (a commit is dated to the look before)


def page_view(i: int, tenants: list[str]) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    host = tenants[i % len(tenants)]
    request = f"GET /load/{i % 40} HTTP/1.1"
    return f'{host} 10.8.{i // 250 % 250}.{i % 250 + 1} - - [{stamp}] "{request}" 200 512 "-" "Mozilla/5.0"\n'


def rings(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*RINGS, *args], **kw)  # type: ignore[call-overload]


def distinct_paths(
    rng: random.Random, n: int, tenants: list[str], first: dt.date, last: dt.date
) -> list[str]:
    """What many dashboards ask at once: a tenant's (1 in 101: all tenants') report, mostly of a
    range of its own (START..END, 1 to 31 days of the year of data), else a preset."""
    out = []
    span = max(1, (last - first).days)
    for _ in range(n):
        tenant = rng.choice([*tenants, "_all"])
        kind = rng.random()
        if kind < 0.6:
            start = first + dt.timedelta(days=rng.randrange(span))
            end = min(last, start + dt.timedelta(days=rng.randrange(31)))
            out.append(f"/api/{tenant}/range?start={start}&end={end}")
        else:
            preset = rng.choice(["", "last=7d", "last=30d", "start=today&end=today", "all=1"])
            out.append(f"/api/{tenant}/range?{preset}" if preset else f"/api/{tenant}/range")
    return out


async def get(port: int, path: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    if status == 200:
        json.loads(data.split(b"\r\n\r\n", 1)[1])  # a whole JSON body
    return status, time.perf_counter() - t0


class Commits:
    """Every commit to a watched tenant's DO file of today: when (the look before the one that
    saw it) and how many page views it then held."""

    def __init__(self, state: Path, tenants: list[str]) -> None:
        self.state, self.tenants = state, tenants
        self.seen: dict[str, list[tuple[float, int]]] = {t: [] for t in tenants}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        stamps: dict[str, object] = {}
        before = time.time()
        while not self.stop.is_set():
            day = dt.datetime.now(dt.UTC).date().isoformat()
            now = time.time()
            for tenant in self.tenants:
                path = self.state / "do" / tenant / f"{day}.sqlite"
                try:
                    wal = path.with_name(path.name + "-wal").stat()
                    main = path.stat()
                except OSError:
                    continue
                stamp = (main.st_mtime_ns, wal.st_mtime_ns, wal.st_size)
                if stamps.get(tenant) == stamp:
                    continue
                stamps[tenant] = stamp
                try:
                    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as con:
                        views = con.execute("SELECT count(*) FROM views WHERE event IS NULL").fetchone()[0]
                except sqlite3.Error:
                    continue
                marks = self.seen[tenant]
                if not marks or views > marks[-1][1]:
                    marks.append((before, views))
            before = now
            self.stop.wait(POLL)


async def watch(
    port: int, tenant: str, opened: asyncio.Event, stop: asyncio.Event, got: list[tuple[float, int]]
) -> None:
    """One dashboard: `init`, then every update's arrival and the page views it says."""
    async with connect(f"ws://127.0.0.1:{port}/api/{tenant}/live", open_timeout=120, max_size=None) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 120))
        assert first["type"] == "init", first
        opened.set()
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            if msg["type"] == "update":
                views = msg["stats"].get("totals", {}).get("page_views")
                got.append((time.time(), -1 if views is None else views))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(1000 * ordered[int(q * (len(ordered) - 1))], 1) if ordered else float("nan")


async def burst(port: int, batch: list[str], latencies: list[float], errors: list[str]) -> None:
    results = await asyncio.wait_for(
        asyncio.gather(*(get(port, p) for p in batch), return_exceptions=True), 120
    )
    for path, r in zip(batch, results, strict=True):
        if isinstance(r, BaseException):
            errors.append(f"{path}: {r!r}")
        elif r[0] != 200:
            errors.append(f"{path}: HTTP {r[0]}")
        else:
            latencies.append(r[1])


async def load(port: int, args: argparse.Namespace, tenants: list[str], commits: Commits) -> dict[str, Any]:
    rng = random.Random(14)
    stop = asyncio.Event()
    watched = [tenants[i % len(tenants)] if i % 25 != 24 else "_all" for i in range(args.sockets)]
    got: list[list[tuple[float, int]]] = [[] for _ in watched]
    events = [asyncio.Event() for _ in watched]
    t0 = time.perf_counter()
    watchers = [
        asyncio.create_task(watch(port, tenant, events[i], stop, got[i])) for i, tenant in enumerate(watched)
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 240)
    ws_open = time.perf_counter() - t0
    status, body = await asyncio.wait_for(fetch_json(port, "/api/_all/range?all=1"), 120)
    if status != 200:
        raise SystemExit(f"/api/_all/range?all=1: HTTP {status}: {body}")
    first, last = dt.date.fromisoformat(body["start"]), dt.date.fromisoformat(body["end"])
    commits.thread.start()
    measured_from = time.time()
    latencies: list[float] = []
    same: list[float] = []
    errors: list[str] = [] if status == 200 else [f"/api/_all/range?all=1: HTTP {status}"]
    for _ in range(args.rounds):
        await burst(port, distinct_paths(rng, args.requests, tenants, first, last), latencies, errors)
    for _ in range(args.same_rounds):
        path = distinct_paths(rng, 1, tenants, first, last)[0]
        await burst(port, [path] * args.requests, same, errors)
    await asyncio.sleep(3)  # let the sockets see the last commits
    measured_to = time.time() - 2  # commits after this may not have been sent yet
    stop.set()
    await asyncio.wait_for(asyncio.gather(*watchers), 60)
    commits.stop.set()
    delays, unmatched = [], 0
    for tenant, updates in zip(watched, got, strict=True):
        if tenant == "_all":
            continue
        for when, views in commits.seen[tenant]:
            if not measured_from <= when <= measured_to:
                continue
            after = [t for t, v in updates if v >= views and t >= when]
            if after:
                delays.append(min(after) - when)
            else:
                unmatched += 1
    return {
        "requests": len(latencies) + len(same) + len(errors),
        "errors": errors,
        "distinct": spread(latencies),
        "identical": spread(same),
        "websockets": len(got),
        "ws_all_open_s": round(ws_open, 2),
        "updates_per_socket_min": min(len(g) for g in got),
        "updates_per_socket_max": max(len(g) for g in got),
        "commit_to_update": {"commits": len(delays) + unmatched, "unmatched": unmatched, **spread(delays)},
    }


def spread(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": pct(values, 0.5),
        "p99_ms": pct(values, 0.99),
        "max_ms": pct(values, 1.0),
    }


async def fetch_json(port: int, path: str) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, json.loads(data.split(b"\r\n\r\n", 1)[1])


def tenants_of(state: Path) -> list[str]:
    """The tenants with data (before any other process opens the state dir)."""
    import duckdb

    with duckdb.connect(str(state / "warehouse.duckdb"), read_only=True) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT tenant FROM daily ORDER BY tenant").fetchall()]


def main() -> None:
    faulthandler.dump_traceback_later(900, exit=True)  # bounded, whatever happens
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--state-from", type=Path, help="a state dir to copy (the 1-year x 100-site warehouse)"
    )
    parser.add_argument("--log", type=Path, help="a log to ingest once into a temp state dir instead")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--same-rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state, log = Path(tmp) / "state", Path(tmp) / "access.log"
        if args.state_from is not None:
            shutil.copytree(args.state_from, state)
        else:
            source = args.log or ROOT / "sample_data" / "access.log"
            subprocess.run([*RINGS, "ingest", "-q", "--state-dir", str(state), str(source)], check=True)
        tenants = tenants_of(state)
        log.write_text("".join(page_view(i, tenants) for i in range(len(tenants))))
        follow = rings(
            "ingest", "--follow", "--flush-interval", "5", "--state-dir", str(state), str(log),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        writing = threading.Event()

        def writer() -> None:  # 25 page views every 0.5 s while the load runs (4M a day)
            i = len(tenants)
            while not writing.is_set():
                with open(log, "a") as f:
                    f.write("".join(page_view(i + k, tenants) for k in range(25)))
                i += 25
                writing.wait(0.5)

        serve_log = open(Path(tmp) / "serve.err", "w+b")  # noqa: SIM115 (a file: a pipe nobody reads fills)
        server = rings(
            "serve", "--state-dir", str(state), "--port", "0", stdout=subprocess.PIPE, stderr=serve_log
        )
        thread = threading.Thread(target=writer, daemon=True)
        commits = Commits(state, tenants)
        try:
            if not select.select([server.stdout], [], [], 60)[0]:
                sys.exit("rings serve did not start")
            port = int(re.search(rb":(\d+)/", server.stdout.readline()).group(1))  # type: ignore[union-attr]
            thread.start()
            result = asyncio.run(load(port, args, tenants, commits))
        finally:
            commits.stop.set()
            writing.set()
            thread.join(timeout=10)
            server.send_signal(signal.SIGINT)
            follow.send_signal(signal.SIGINT)
            server.wait(timeout=60)
            serve_log.seek(0)
            serve_err = serve_log.read()
            serve_log.close()
            _, follow_err = follow.communicate(timeout=120)
    problems = list(result["errors"])
    if follow.returncode != 0 or b"locked" in follow_err or b"Error" in follow_err:
        problems.append(f"ingest --follow: exit {follow.returncode}: {follow_err.decode()[-500:]}")
    if server.returncode != 0 or b"Traceback" in serve_err:
        problems.append(f"serve: exit {server.returncode}: {serve_err.decode()[-500:]}")
    result["errors"] = len(problems)
    result["tenants"] = len(tenants)
    # CPU seconds of this process (the load: sockets, requests, the commit poller) and of its
    # children (the server and the follow ingest): on a shared 2-core machine, who had the cores.
    result["cpu_s"] = {
        "load_generator": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 1),
        "server_and_ingest": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime, 1),
    }
    print(json.dumps(result, indent=1))
    for p in problems[:20]:
        print("ERROR", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
