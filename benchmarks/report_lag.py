#!/usr/bin/env python3
"""How long after a line is appended to a followed log does `rings report` show it?

Starts `rings ingest --follow --flush-interval 3600` (so nothing reaches the warehouse while we
measure), then ``--rounds`` times: appends one page-view line stamped now, and runs
`rings report --format json` as a subprocess in a loop until the request count includes it. The
lag is from the append to the end of the first report that shows the line, so it includes one
report's own run time (Python start-up and imports: most of it). Then the same with the report
built in this process (`build_report`, the library call behind `rings report`), polled every 20 ms:
that is the lag of the data itself (follow mode's poll, parse, merge, commit). Prints every lag and
a summary. It asserts nothing.

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

from rings_cli.report import build_report
from rings_cli.state import StateDir


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
                print(f"round {i}: visible to `rings report` after {lags[-1]:.2f} s")
            data_lags = []
            seen = args.rounds + 1
            for i in range(seen, seen + args.rounds):
                with open(log, "a") as f:
                    f.write(page_view(i))
                started = time.monotonic()
                while build_report(StateDir(state))["totals"]["requests"] < i + 1:
                    time.sleep(0.02)
                data_lags.append(time.monotonic() - started)
                print(f"round {i}: in a report built in-process after {data_lags[-1]:.2f} s")
        finally:
            follow.send_signal(signal.SIGINT)
            follow.wait(timeout=60)
    print(f"one `rings report` alone: {statistics.median(report_alone):.2f} s (median of 3)")
    print(
        f"line appended -> visible in `rings report`: median {statistics.median(lags):.2f} s, "
        f"max {max(lags):.2f} s over {len(lags)} rounds (flush interval 3600 s)"
    )
    print(
        f"line appended -> in a report built in-process: median {statistics.median(data_lags):.2f} s, "
        f"max {max(data_lags):.2f} s over {len(data_lags)} rounds"
    )


if __name__ == "__main__":
    main()
