#!/usr/bin/env python3
"""`rings serve` under load, on loopback only: 100 open WebSockets and rounds of 200 concurrent
`/api` requests while `rings ingest --follow` writes into the same state dir.

Ingests the bundled sample (three tenants), starts `rings ingest --follow --flush-interval 5` on a
log that a writer appends 25 page views of today to every 0.5 s (so DO files commit and flushes
land throughout),
starts `rings serve --port 0`, opens the WebSockets (each must get `init`), then sends `--rounds`
rounds of 200 requests at once, a mix of today / range / tenants / `_all` with different ranges
(so many are real reads, not answers kept from the previous commit). Prints latency percentiles,
how many updates the sockets got, and exits 1 on any error (a non-200, a failed socket, a lock
error from the ingest). Bounded: every wait has a deadline; the whole run takes well under a
minute on 2 cores.

    python benchmarks/serve_load.py [--rounds 5] [--requests 200] [--sockets 100]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import faulthandler
import json
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
RINGS = [sys.executable, "-m", "rings_cli"]
TENANTS = ["alice.example", "bob.example", "carol.example"]


def page_view(i: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    host = TENANTS[i % 3]
    request = f"GET /load/{i % 40} HTTP/1.1"
    return f'{host} 10.8.{i // 250 % 250}.{i % 250 + 1} - - [{stamp}] "{request}" 200 512 "-" "Mozilla/5.0"\n'


def rings(*args: str, **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "rings_cli", *args], **kw)  # type: ignore[call-overload]


def paths(rng: random.Random, n: int) -> list[str]:
    """What dashboards ask: each view's tenants, default range, today, and a preset range."""
    out = []
    for _ in range(n):
        tenant = rng.choice([*TENANTS, "_all"])
        start = rng.choice(["2025-11-27", "2025-12-01", "2025-12-02"])
        out.append(
            rng.choice(
                [
                    "/api/tenants",
                    f"/api/{tenant}/range",
                    f"/api/{tenant}/today",
                    f"/api/{tenant}/range?start={start}&end=2025-12-03",
                    f"/analytics/today?tenant={tenant}",
                ]
            )
        )
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


async def watch(
    port: int, tenant: str, opened: asyncio.Event, stop: asyncio.Event, counts: list[int]
) -> None:
    async with connect(f"ws://127.0.0.1:{port}/api/{tenant}/live", open_timeout=60) as ws:
        first = json.loads(await asyncio.wait_for(ws.recv(), 60))
        assert first["type"] == "init", first
        opened.set()
        n = 0
        while not stop.is_set():
            try:
                msg = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except TimeoutError:
                continue
            n += msg["type"] == "update"
        counts.append(n)


async def load(port: int, rounds: int, requests: int, sockets: int) -> dict[str, object]:
    rng = random.Random(14)
    stop = asyncio.Event()
    counts: list[int] = []
    events = [asyncio.Event() for _ in range(sockets)]
    t0 = time.perf_counter()
    watchers = [
        asyncio.create_task(watch(port, [*TENANTS, "_all"][i % 4], events[i], stop, counts))
        for i in range(sockets)
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), 120)
    ws_open = time.perf_counter() - t0
    latencies: list[float] = []
    errors: list[str] = []
    for _ in range(rounds):
        batch = paths(rng, requests)
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
    await asyncio.sleep(2)  # let the sockets see the last commits
    stop.set()
    await asyncio.wait_for(asyncio.gather(*watchers), 60)
    lat = sorted(latencies)
    return {
        "requests": len(lat) + len(errors),
        "errors": errors,
        "p50_ms": round(1000 * statistics.median(lat), 1),
        "p99_ms": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1),
        "max_ms": round(1000 * lat[-1], 1),
        "websockets": len(counts),
        "ws_all_open_s": round(ws_open, 2),
        "updates_per_socket_min": min(counts),
        "updates_per_socket_max": max(counts),
    }


def main() -> None:
    faulthandler.dump_traceback_later(240, exit=True)  # bounded, whatever happens
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sockets", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state, log = Path(tmp) / "state", Path(tmp) / "access.log"
        subprocess.run(
            [*RINGS, "ingest", "-q", "--state-dir", str(state), str(ROOT / "sample_data" / "access.log")],
            check=True,
        )
        log.write_text("".join(page_view(i) for i in range(30)))
        follow = rings(
            "ingest", "--follow", "--flush-interval", "5", "--state-dir", str(state), str(log),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        writing = threading.Event()

        def writer() -> None:  # 25 page views every 0.5 s while the load runs (4M a day)
            i = 30
            while not writing.is_set():
                with open(log, "a") as f:
                    f.write("".join(page_view(i + k) for k in range(25)))
                i += 25
                writing.wait(0.5)

        serve_log = open(Path(tmp) / "serve.err", "w+b")  # noqa: SIM115 (a file: a pipe nobody reads fills)
        server = rings(
            "serve", "--state-dir", str(state), "--port", "0", stdout=subprocess.PIPE, stderr=serve_log
        )
        thread = threading.Thread(target=writer, daemon=True)
        try:
            if not select.select([server.stdout], [], [], 60)[0]:
                sys.exit("rings serve did not start")
            port = int(re.search(rb":(\d+)/", server.stdout.readline()).group(1))  # type: ignore[union-attr]
            thread.start()
            result = asyncio.run(load(port, args.rounds, args.requests, args.sockets))
        finally:
            writing.set()
            thread.join(timeout=10)
            server.send_signal(signal.SIGINT)
            follow.send_signal(signal.SIGINT)
            server.wait(timeout=60)
            serve_log.seek(0)
            serve_err = serve_log.read()
            serve_log.close()
            _, follow_err = follow.communicate(timeout=120)
    problems = list(result["errors"])  # type: ignore[arg-type]
    if follow.returncode != 0 or b"locked" in follow_err or b"Error" in follow_err:
        problems.append(f"ingest --follow: exit {follow.returncode}: {follow_err.decode()[-500:]}")
    if server.returncode != 0 or b"Traceback" in serve_err:
        problems.append(f"serve: exit {server.returncode}: {serve_err.decode()[-500:]}")
    result["errors"] = len(problems)
    print(json.dumps(result, indent=1))
    for p in problems[:20]:
        print("ERROR", p, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
