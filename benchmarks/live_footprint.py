#!/usr/bin/env python3
"""What `rings live FILE` costs while a log grows: CPU seconds and memory, sampled from /proc.

Starts `rings live --state-dir <fresh> FILE` in a pseudo-terminal (a detached tmux session of
`--width` x `--height`), lets it settle, then appends `--rate` lines a second of today (combined
format, a few sites' worth of paths, referrers, browsers and addresses) for `--seconds`, then stops
writing and measures two idle phases of `--idle` seconds each: the first (the header's "updated N s
ago" still ticks every second, and a flush of the last lines may fall in it) and the next one.
It reads the process's /proc/PID/stat (user + system CPU ticks) and /proc/PID/status (VmRSS,
VmHWM), and once a second while the log grows the dashboard's requests total from the screen
(tmux capture-pane): how many lines behind the log it is, as seconds at the rate (its lag). Prints
each phase: CPU seconds, CPU as a share of one core, the lag, RSS at the end and its peak.

    python benchmarks/live_footprint.py [--rate 20] [--seconds 30] [--idle 30] [--json]

The figures are the process's own CPU time, so a loaded machine stretches the wall time of its
work but not (much) its CPU seconds; the load average at the start and the end is printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
START_LINES = 200
PAGES = ["/", "/blog/", "/about", "/contact", *(f"/blog/post-{i}" for i in range(40)), "/feed"]
ASSETS = ["/static/app.css", "/static/app.js", "/img/logo.png", "/favicon.ico"]
REFERRERS = ["-", "-", "-", "https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x"]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]


def log_line(rng: random.Random) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    path = rng.choice(PAGES) if rng.random() < 0.6 else rng.choice(ASSETS)
    status = 200 if rng.random() < 0.93 else rng.choice([304, 404, 500])
    ip = f"198.51.{rng.randrange(100)}.{rng.randrange(1, 255)}"
    return (
        f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {rng.randrange(200, 40000)} '
        f'"{rng.choice(REFERRERS)}" "{rng.choice(AGENTS)}"\n'
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    found = {}
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = text.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def shown_requests(session: str) -> int | None:
    """The requests total the dashboard shows now (its totals row), from tmux's copy of the screen."""
    screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True)
    rows = screen.stdout.splitlines()
    for i, row in enumerate(rows[:-1]):
        if row.startswith("page views") and " requests " in row:  # "page views  visitors ... requests"
            at = row.index(" requests ") + 1  # the columns are left-aligned: the value starts there
            value = rows[i + 1][at:].split()[:1]
            try:
                return int(value[0].replace(",", ""))
            except (IndexError, ValueError):
                return None
    return None


def phase(
    name: str,
    pid: int,
    seconds: float,
    writer: tuple[Path, float] | None,
    rng: random.Random,
    session: str,
    before: int,
) -> dict:
    """Sample the process for `seconds`, appending lines at a rate if `writer` is given. `before`:
    the lines the log had; the dashboard's lag is how many lines behind its requests total is."""
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    peak_rss, written = 0.0, 0
    next_line, next_look = wall0, wall0 + 1
    lags: list[int] = []
    with open(writer[0], "a") if writer else open(os.devnull, "w") as out:
        while (now := time.monotonic()) - wall0 < seconds:
            if writer:
                while next_line <= now:
                    out.write(log_line(rng))
                    written += 1
                    next_line += 1 / writer[1]
                out.flush()
                if now >= next_look:
                    next_look += 1
                    shown = shown_requests(session)
                    if shown is not None:
                        lags.append(before + written - shown)
            rss, _ = memory_mib(pid)
            peak_rss = max(peak_rss, rss)
            time.sleep(min(0.05, max(0.0, next_line - time.monotonic())) if writer else 0.5)
    cpu, wall = cpu_seconds(pid) - cpu0, time.monotonic() - wall0
    rss, hwm = memory_mib(pid)
    rate = writer[1] if writer else 0
    return {
        "phase": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 2),
        "cpu_pct": round(100 * cpu / wall, 1),
        "lines": written,
        "lag_mean_s": round(sum(lags) / len(lags) / rate, 1) if lags and rate else None,
        "lag_max_s": round(max(lags) / rate, 1) if lags and rate else None,
        "rss_mib": round(rss, 1),
        "peak_rss_mib": round(max(peak_rss, rss), 1),
        "hwm_mib": round(hwm, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=20, help="lines a second while growing")
    ap.add_argument("--seconds", type=float, default=30, help="how long the log grows")
    ap.add_argument("--idle", type=float, default=30, help="seconds measured with no new line")
    ap.add_argument("--settle", type=float, default=8, help="seconds after start before measuring")
    ap.add_argument("--width", type=int, default=120)
    ap.add_argument("--height", type=int, default=40)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--flush-interval", default=None, help="passed to rings live (default: its own)")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="set for rings live")
    args = ap.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is needed (a pseudo-terminal for rings live)", file=sys.stderr)
        return 2
    rng = random.Random(28)
    session = f"rings-live-bench-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="rings-live-") as tmp:
        log = Path(tmp) / "access.log"
        log.write_text("".join(log_line(rng) for _ in range(START_LINES)))  # a log that has a little
        state = Path(tmp) / "state"
        command = [sys.executable, "-m", "rings_cli", "live", "--state-dir", str(state), str(log)]
        if args.flush_interval is not None:
            command += ["--flush-interval", args.flush_interval]
        env = " ".join(shlex.quote(pair) for pair in args.env)
        shell = "cd {} && exec {} {}".format(ROOT, f"env {env}" if env else "", " ".join(command))
        env_load = load()
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                str(args.width),
                "-y",
                str(args.height),
                shell,
            ],
            check=True,
        )
        try:
            pid = int(
                subprocess.run(
                    ["tmux", "display-message", "-p", "-t", session, "#{pane_pid}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            start = phase("start-up", pid, args.settle, None, rng, session, START_LINES)
            growing = phase(
                f"{args.rate:g} lines/s", pid, args.seconds, (log, args.rate), rng, session, START_LINES
            )
            idle = phase("idle, first", pid, args.idle, None, rng, session, 0)
            later = phase("idle, later", pid, args.idle, None, rng, session, 0)
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
        finally:
            subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=False)
            time.sleep(2)
            subprocess.run(["tmux", "kill-session", "-t", session], check=False, capture_output=True)
    result = {
        "command": " ".join(["rings", *command[3:5], "STATE", "access.log", *command[7:]]),
        "load_before": env_load,
        "load_after": load(),
        "phases": [start, growing, idle, later],
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"load average before {result['load_before']}, after {result['load_after']}")
        print("| phase | wall s | CPU s | CPU % | lines | lag s, mean / max | RSS MiB | peak RSS MiB |")
        print("|---|--:|--:|--:|--:|--:|--:|--:|")
        for p in result["phases"]:
            lag = f"{p['lag_mean_s']} / {p['lag_max_s']}" if p["lag_max_s"] is not None else ""
            print(
                f"| {p['phase']} | {p['wall_s']} | {p['cpu_s']} | {p['cpu_pct']} | {p['lines']} "
                f"| {lag} | {p['rss_mib']} | {p['hwm_mib']} |"
            )
        print("\nlast screen:\n" + "\n".join(screen.splitlines()[:6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
