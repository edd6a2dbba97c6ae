#!/usr/bin/env python3
"""How long after a line is appended to a followed log does `rings report` show it?

Starts `rings ingest --follow --flush-interval 3600` (so nothing reaches the warehouse while we
measure), then ``--rounds`` times: appends one page-view line stamped now, and runs
`rings report --format json` as a subprocess in a loop until the request count includes it. The
lag is from the append to the end of the first report that shows the line, so it includes one
report's own run time (Python start-up and imports: most of it). Prints every lag and a summary.
It asserts nothing.

    python benchmarks/report_lag.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def page_view(i: int) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    ua = "Mozilla/5.0 Firefox/120.0"
    return f'10.8.0.{i % 250 + 1} - - [{stamp}] "GET /lag/{i} HTTP/1.1" 200 512 "-" "{ua}"\n'


def requests(state: Path) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "rings_cli", "report", "--state-dir", str(state), "-f", "json"],
        capture_output=True,
        check=False,
    )
    if out.returncode != 0:
        return -1
    return int(json.loads(out.stdout)["totals"]["requests"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state, log = Path(tmp) / "state", Path(tmp) / "access.log"
        log.write_text(page_view(0))
        follow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rings_cli",
                "ingest",
                "--follow",
                "--quiet",
                "--flush-interval",
                "3600",
                "--state-dir",
                str(state),
                str(log),
            ]
        )
        try:
            while requests(state) < 1:
                time.sleep(0.05)
            report_alone = []
            for _ in range(3):
                t = time.monotonic()
                requests(state)
                report_alone.append(time.monotonic() - t)
            lags = []
            for i in range(1, args.rounds + 1):
                with open(log, "a") as f:
                    f.write(page_view(i))
                started = time.monotonic()
                while requests(state) < i + 1:
                    pass
                lags.append(time.monotonic() - started)
                print(f"round {i}: visible after {lags[-1]:.2f} s")
        finally:
            follow.send_signal(signal.SIGINT)
            follow.wait(timeout=60)
    print(f"one `rings report` alone: {statistics.median(report_alone):.2f} s (median of 3)")
    print(
        f"line appended -> visible in `rings report`: median {statistics.median(lags):.2f} s, "
        f"max {max(lags):.2f} s over {len(lags)} rounds (flush interval 3600 s)"
    )


if __name__ == "__main__":
    main()
