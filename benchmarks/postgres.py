"""The shared PostgreSQL warehouse against the local DuckDB file (issue 27), on the same inputs.

    python benchmarks/postgres.py --ingest-log FILE --year-log FILE [--repeat N] [--runs N]

Starts its own PostgreSQL (tests/pgserver.py: initdb + pg_ctl in a temp dir, Unix socket only,
`fsync = on`, everything else PostgreSQL's defaults), then:

- ingest: `rings ingest --state-dir <fresh> -q --json FILE` with the local warehouse and with
  `[warehouse] kind = "postgres"`, alternately, `--repeat` times each (wall seconds, median);
- reports on a year of 100 sites (FILE: the 1M-line file spread over 52 weeks, as `make bench`
  makes it), ingested once into each warehouse: `rings report -f json` over the whole year for one
  tenant and for all tenants, subprocess wall time, median of `--runs` (one warm-up first);
  and `build_report` in this process for one tenant (the read path without Python's start-up).

Prints the machine's load average at the start and the end, and a table ready to paste into
docs/performance.md. Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rings_cli.core.state import StateDir  # noqa: E402
from rings_cli.core.tables import WAREHOUSE_TABLES  # noqa: E402
from tests.pgserver import Server  # noqa: E402


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rings(*args: str) -> float:
    return rings_cpu(*args)[0]


def rings_cpu(*args: str) -> tuple[float, float]:
    """One `rings` run: wall seconds, and its own CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rings_cli", *args], capture_output=True, stdin=subprocess.DEVNULL
    )
    took = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        raise SystemExit(f"rings {' '.join(args)} failed: {result.stderr.decode()[-2000:]}")
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def state_dir(parent: Path, name: str, dsn: str | None) -> StateDir:
    state = StateDir(parent / name)
    state.root.mkdir(parents=True)
    if dsn is not None:
        (state.root / "rings.toml").write_text(f'[warehouse]\nkind = "postgres"\ndsn = "{dsn}"\n')
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-log", type=Path, required=True)
    parser.add_argument("--year-log", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tenant", default="site50.example")
    args = parser.parse_args()
    print(f"load average at the start: {load()} ({os.cpu_count()} cores)", flush=True)
    server = Server(fsync=True)
    rows: list[tuple[str, str]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rings-pg-bench-") as tmp:
            work = Path(tmp)
            times: dict[str, list[float]] = {"duckdb": [], "postgres": []}
            for n in range(args.repeat):
                for kind in ("duckdb", "postgres"):
                    dsn = server.database() if kind == "postgres" else None
                    state = state_dir(work, f"ingest-{kind}-{n}", dsn)
                    took = rings(
                        "ingest", "--state-dir", str(state.root), "-q", "--json", str(args.ingest_log)
                    )
                    times[kind].append(took)
                    print(
                        f"ingest {args.ingest_log.name} into {kind}: {took:.2f} s (load {load()})", flush=True
                    )
            local, shared = statistics.median(times["duckdb"]), statistics.median(times["postgres"])
            rows.append(
                (
                    f"ingest {args.ingest_log.name}, local DuckDB file (median of {args.repeat})",
                    f"{local:.2f} s",
                )
            )
            rows.append((f"the same, PostgreSQL warehouse (median of {args.repeat})", f"{shared:.2f} s"))
            rows.append(("PostgreSQL ÷ local", f"{shared / local:.2f}x"))
            if args.year_log is not None:
                rows += year(server, work, args)
    finally:
        server.stop()
    print(f"load average at the end: {load()}")
    print("\n| measure | figure |\n|---|--:|")
    for name, figure in rows:
        print(f"| {name} | {figure} |")


def year(server: Server, work: Path, args: argparse.Namespace) -> list[tuple[str, str]]:
    """The year of 100 sites into each warehouse, then reports over it, the two kinds in turn."""
    from rings_cli.query.report import build_report

    out = []
    states = {}
    for kind in ("duckdb", "postgres"):
        dsn = server.database() if kind == "postgres" else None
        state = state_dir(work, f"year-{kind}", dsn)
        took = rings("ingest", "--state-dir", str(state.root), "-q", "--json", str(args.year_log))
        print(f"year of 100 sites into {kind}: {took:.1f} s (load {load()})", flush=True)
        out.append((f"ingest of the year (100 sites, 52 weeks), {kind}", f"{took:.1f} s"))
        states[kind] = state
        if dsn is not None:
            import psycopg

            with psycopg.connect(dsn) as con:
                counts = " UNION ALL ".join(f"SELECT count(*) AS n FROM rings.{t}" for t in WAREHOUSE_TABLES)
                row = con.execute(f"SELECT sum(n) FROM ({counts}) AS t").fetchone()  # type: ignore[arg-type]
            out.append(("rows in the PostgreSQL warehouse (every table)", f"{int(row[0]):,}" if row else "?"))
    whole = ["--start", "2000-01-01", "--end", "2100-01-01", "-f", "json"]
    for label, extra in ((f"one tenant ({args.tenant})", ["--tenant", args.tenant]), ("all tenants", [])):
        runs: dict[str, list[tuple[float, float]]] = {kind: [] for kind in states}
        for state in states.values():
            rings("report", "--state-dir", str(state.root), *whole, *extra)  # warm-up
        for _ in range(args.runs):
            for kind, state in states.items():
                runs[kind].append(rings_cpu("report", "--state-dir", str(state.root), *whole, *extra))
        for kind in states:
            wall = statistics.median(r[0] for r in runs[kind]) * 1000
            cpu = statistics.median(r[1] for r in runs[kind]) * 1000
            print(f"report over the year, {label}, {kind}: {wall:.0f} ms, CPU {cpu:.0f} ms (load {load()})")
            name = f"`rings report -f json`, the year, {label}, {kind}: wall (own CPU), median of {args.runs}"
            out.append((name, f"{wall:.0f} ms ({cpu:.0f} ms)"))
    for kind, state in states.items():
        build_report(StateDir(state.root), args.tenant, "2000-01-01", "2100-01-01")
        inproc = []
        for _ in range(args.runs):
            start = time.monotonic()
            build_report(StateDir(state.root), args.tenant, "2000-01-01", "2100-01-01")
            inproc.append(time.monotonic() - start)
        name = f"`build_report` in-process, one tenant's year, {kind} (median of {args.runs})"
        out.append((name, f"{statistics.median(inproc) * 1000:.0f} ms"))
    return out


if __name__ == "__main__":
    main()
