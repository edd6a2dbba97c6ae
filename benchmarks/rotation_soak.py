#!/usr/bin/env python3
"""Rotation soak: the property of tests/test_rotation.py on a thousand schedules and more.

Each schedule is a seeded, random sequence of what a web server and logrotate do to a log (create,
copy or copytruncate; compress, delaycompress, dateext, olddir; a file or a glob followed; writes
cut at random bytes), run against `rings ingest --follow`'s code in this process, stepped poll by
poll or in a thread (tests/rotation.py says how). Every day must come out exact (the lines written
between a copytruncate's copy and its truncate may come out short, never long), and a batch ingest of
every file left afterwards must add nothing. A failing schedule is printed with its seed; replay it
with `RINGS_ROTATION_SEED=<seed>` on tests/test_rotation.py, or `--seed <seed>` here.

    python benchmarks/rotation_soak.py [--schedules 1000] [--first 1] [--jobs 2] [--seed N]

Prints one line per failure as it happens, then a table of what ran and the result; exit 1 when any
schedule failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one(seed: int) -> tuple[int, bool, str, float, dict[str, object]]:
    """Run one schedule in a fresh directory: (seed, ok, report, seconds, plan)."""
    from tests.rotation import run_schedule

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"rings-rotation-{seed}-") as root:
        outcome = run_schedule(seed, Path(root))
    plan = outcome.plan
    return seed, outcome.ok, outcome.report(), time.monotonic() - started, vars(plan)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=1000, help="how many schedules (default 1000)")
    parser.add_argument("--first", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="schedules run at once (default 1)")
    parser.add_argument("--seed", type=int, help="run this one schedule only")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else list(range(args.first, args.first + args.schedules))

    started = time.monotonic()
    failed: list[int] = []
    ran: Counter[str] = Counter()
    seconds: list[float] = []
    context = multiprocessing.get_context("spawn")  # a fresh interpreter per worker: no shared state
    with context.Pool(max(1, args.jobs), maxtasksperchild=50) as pool:
        for done, (seed, ok, report, took, plan) in enumerate(pool.imap_unordered(one, seeds), 1):
            seconds.append(took)
            ran[f"driver {plan['driver']}"] += 1
            ran[f"mode {plan['mode']}"] += 1
            ran["followed: a glob" if plan["glob"] else "followed: a file"] += 1
            for option in ("compress", "delaycompress", "dateext", "olddir"):
                ran[option] += bool(plan[option])
            ran["rotations"] += int(str(plan["rotations"]))
            if not ok:
                failed.append(seed)
                print(f"FAILED {report}", flush=True)
            if done % 50 == 0:
                print(
                    f"{done}/{len(seeds)} schedules, {len(failed)} failed, "
                    f"{time.monotonic() - started:.0f} s",
                    flush=True,
                )

    total = time.monotonic() - started
    print()
    print(f"| rotation soak: seeds {seeds[0]}..{seeds[-1]} | |")
    print("|---|--:|")
    print(f"| schedules | {len(seeds):,} |")
    for name, count in sorted(ran.items()):
        print(f"| {name} | {count:,} |")
    which = f" (seeds {', '.join(map(str, sorted(failed)))})" if failed else ""
    print(f"| failed | {len(failed)}{which} |")
    print(f"| seconds (wall, {args.jobs} at once) | {total:,.0f} |")
    print(
        f"| seconds per schedule (median, longest) | {sorted(seconds)[len(seconds) // 2]:.1f}, "
        f"{max(seconds):.1f} |"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
