"""The benchmark harness still runs end to end (`bench.py --tiny`), so `make bench` cannot rot.

It asserts that every part ran and printed its figures, never how fast anything was.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"


def test_bench_tiny_runs_every_part_and_prints_the_tables(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--tiny", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    table = [ln for ln in out.splitlines() if ln.startswith("| 1k lines, 20 tenants, 7 days")]
    tools = {ln.split(" | ")[1] for ln in table}
    want = {"Rings", "Rings, breakdowns off", "DuckDB SQL"} | (
        {"GoAccess"} if shutil.which("goaccess") else set()
    )
    assert tools == want, out[-3000:]
    assert "Breakdowns, 1k lines, 20 tenants, 7 days (vhost combined): they cost " in out, out[-3000:]
    assert not any("failed" in ln for ln in table), out[-3000:]
    for figure in (
        "| building the report warehouse (3 tenants x 7 days",
        "| `rings report (all tenants, last 7 days, table)` |",
        "| `rings --help` |",
        "| follow: line appended → visible to `rings report` (median) |",
        "| follow: line appended → in a report built in-process (median) |",
        "CPU: ",
        "load average at start: ",
        "load average at end: ",
    ):
        assert figure in out, f"{figure!r} missing:\n{out[-3000:]}"
    # The generated inputs are cached where --out says, the 10M-style copy included.
    cached = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"vcombined-1000-1t.log", "vcombined-1000-20t.log", "vcombined-2000-20t.log"} <= cached
