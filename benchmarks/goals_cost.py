"""What goals, a funnel and response times cost an ingest (issue 30: at most 10% more CPU).

The same lines (a `make bench` input, the 20-site file by default) ingested four ways into fresh
state dirs: as they are (`combined`, nothing configured); with three goals and a funnel in
rings.toml; with a request time appended to every line, read by a custom nginx format that names
`$request_time`; and with both. CPU is user + system seconds of the whole `rings ingest` (GNU time,
as bench.py measures), the median of `--repeat` runs; the table goes to stdout.

    python benchmarks/goals_cost.py --log /work/benchout/vcombined-1000000-20t.log --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import measure

CONFIG = """
[goals]
about = "/about"
blog = "/blog/**"
post = "/posts/*/"

[funnels]
reader = ["/", "/blog/**", "goal:about"]
"""
TIMED = (
    'nginx:$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)


def with_times(src: Path, dst: Path) -> None:
    """Every line of `src` with a request time after it (deterministic, 1 ms to ~3 s)."""
    seed = 12345
    with src.open("rb") as f, dst.open("wb") as out:
        for line in f:
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            seconds = (seed % 1000) / 1000 * (3 if seed % 20 == 0 else 0.2) + 0.001
            out.write(line.rstrip(b"\n") + f" {seconds:.3f}\n".encode())


def run(rings: Path, log: Path, fmt: str, config: str | None, repeat: int) -> tuple[float, float, float]:
    """(CPU s, wall s, peak RSS MiB): medians of CPU and wall, the highest peak."""
    cpu, wall, rss = [], [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-goals-cost-") as tmp:
            state = Path(tmp) / "state"
            state.mkdir(mode=0o700)
            if config:
                (state / "rings.toml").write_text(config)
            cmd = [str(rings), "ingest", "--state-dir", str(state), "-q", "--format", fmt, str(log)]
            done = measure(cmd, Path(tmp))
            if done.code:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
            cpu.append(done.cpu)
            wall.append(done.wall)
            rss.append(done.rss_mib)
    return statistics.median(cpu), statistics.median(wall), max(rss)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path, required=True, help="a vcombined log (make bench's 20-site file)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rings", type=Path, default=Path(sys.executable).with_name("rings"))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rings-goals-cost-log-") as tmp:
        timed_log = Path(tmp) / "timed.log"
        with_times(args.log, timed_log)
        variants = [
            ("as it is (vcombined, nothing configured)", args.log, "vcombined", None),
            ("3 goals + 1 funnel", args.log, "vcombined", CONFIG),
            ("request times ($request_time)", timed_log, TIMED, None),
            ("3 goals + 1 funnel + request times", timed_log, TIMED, CONFIG),
        ]
        rows = [(label, *run(args.rings, log, fmt, cfg, args.repeat)) for label, log, fmt, cfg in variants]
    base = rows[0][1]
    print(f"`python benchmarks/goals_cost.py --log {args.log} --repeat {args.repeat}`\n")
    print("| ingest of the same lines | CPU s | vs. as it is | wall s | peak RSS MiB |")
    print("|---|--:|--:|--:|--:|")
    for label, cpu, wall, rss in rows:
        print(f"| {label} | {cpu:.1f} | {cpu / base - 1:+.1%} | {wall:.1f} | {rss:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
