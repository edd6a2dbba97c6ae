#!/usr/bin/env python3
"""Rings' benchmark harness: ingest next to GoAccess and plain DuckDB SQL, report latency, start-up, lag.

One invocation, the same generated files for every tool (cached under benchmarks/out/, never
committed). Per input, each under GNU time (``/usr/bin/time -v``), stdin from /dev/null:

- Rings: ``rings ingest --state-dir <fresh> -q --json FILE`` (batch ingest, flush, finalization);
  on the 20-tenant file once more with ``breakdowns = false`` in the state dir's rings.toml, which
  shows what browsers, OS, devices and countries cost;
- GoAccess: ``goaccess FILE --log-format=VCOMBINED --no-global-config -o report.json``;
- DuckDB: one SQL query computing daily page views and unique visitors per site straight from the
  raw file (``read_csv`` of whole lines + ``regexp_extract``): the "just SQL" baseline.

Inputs (full sizes; ``--quick`` divides the line counts by 10, ``--tiny`` is a smoke test):
1M vhost-combined lines over 7 days at 1, 20 and 1,000 tenants (the same lines, only the virtual
host rewritten), the 1,000-tenant lines all in one day, 10M lines at 20 tenants (ten copies of the
1M file, each a week later), a long archive (100k lines of one site over 4,500 days, like a 10-year
log) and the same shape made of real lines (the combined logs of ../shared/data/real, re-dated over
4,661 days; skipped when they are not beside the checkout).

Then: ``rings report`` latency (median of N subprocess runs) on a warehouse of 1 year x 100 tenants
(built once by Rings' own ingest with finalization, cached), ``rings --help`` (median of 10) and
follow-mode lag (a line appended to a followed log until ``rings report`` shows it). Prints the
machine, its load average at start and end (loudly when busy) and Markdown tables for README.
It asserts nothing about speed.

    python benchmarks/bench.py [--quick | --tiny] [--inputs 1t,20t,many,10m,archive]
                               [--skip ingest,goaccess,duckdb,report,help,lag] [--repeat N] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "out"
GENERATOR = REPO / "sample_data" / "generate.py"
GNU_TIME = Path("/usr/bin/time")
TIMER = f"GNU time ({GNU_TIME} -v)" if GNU_TIME.exists() else "os.wait4 rusage (no /usr/bin/time)"
START = "2025-12-01"  # first day of the generated week; every derived day is in the past
ARCHIVE_START = "2008-01-01"


@dataclass(frozen=True)
class Profile:
    """Sizes of one run: inputs, the report warehouse, and how many times the small timings repeat."""

    lines: int  # the main file (1M in full)
    many: int  # tenants of the "many sites" input
    copies: int  # the large input: this many weekly copies of the 20-tenant file
    archive: tuple[int, int]  # lines, days of one site
    warehouse: tuple[int, int]  # tenants, weeks
    report_runs: int
    help_runs: int
    lag_rounds: int
    measured: tuple[str, ...] = ("1t", "20t", "many", "1day", "10m", "archive", "real")


PROFILES = {
    "full": Profile(1_000_000, 1000, 10, (100_000, 4_500), (100, 52), 10, 10, 10),
    "quick": Profile(100_000, 1000, 10, (10_000, 450), (100, 4), 5, 10, 5),
    # A smoke test: every code path, a few thousand lines, a subset of the inputs measured.
    "tiny": Profile(1_000, 30, 2, (300, 20), (3, 1), 1, 1, 1, ("20t",)),
}


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured process: wall and CPU seconds, peak RSS, exit code and what it printed."""

    wall: float
    cpu: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str


@dataclass
class Result:
    """All runs of one tool on one input; counts it reported; Rings' state dir size."""

    tool: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    counts: dict[str, object] = field(default_factory=dict)
    state_bytes: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.code == 0 for r in self.runs)

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mib for r in self.runs)


def _elapsed(text: str) -> float:
    """Seconds from GNU time's `h:mm:ss` or `m:ss.ss`."""
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def _time_field(report: str, name: str) -> str:
    m = re.search(rf"^\s*{re.escape(name)}[^:]*(?:\([^)]*\))?: (.+)$", report, re.M)
    if not m:
        raise RuntimeError(f"GNU time printed no {name!r}:\n{report}")
    return m.group(1)


def measure(cmd: list[str], cwd: Path) -> Run:
    """Run `cmd` to completion (stdin /dev/null, output captured), under GNU time when present."""
    with tempfile.TemporaryDirectory(prefix="rings-bench-") as tmp:
        out, err, report = (Path(tmp) / n for n in ("stdout", "stderr", "time"))
        with out.open("wb") as fo, err.open("wb") as fe:
            if GNU_TIME.exists():
                full = [str(GNU_TIME), "-v", "-o", str(report), *cmd]
                code = subprocess.run(
                    full, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe
                ).returncode
                text = report.read_text()
                wall = _elapsed(_time_field(text, "Elapsed (wall clock) time"))
                cpu = float(_time_field(text, "User time")) + float(_time_field(text, "System time"))
                rss = int(_time_field(text, "Maximum resident set size")) / 1024
            else:  # the kernel's rusage of exactly this child (its peak RSS may include ours at fork)
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                code = proc.returncode = os.waitstatus_to_exitcode(status)
                cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        texts = out.read_text(errors="replace"), err.read_text(errors="replace")
        return Run(wall, cpu, rss, code, *texts)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of one subprocess run, output captured."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - t0, done


def dir_bytes(path: Path) -> int:
    """Disk use of a directory tree (allocated blocks, like `du`)."""
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*") if p.is_file() or p.is_dir())


# --- inputs ------------------------------------------------------------------------------------


@dataclass
class Input:
    """A log file every tool reads, its size and a label for the tables."""

    key: str
    label: str
    path: Path
    lines: int
    tenants: int
    days: int

    @property
    def mib(self) -> float:
        return self.path.stat().st_size / 1024**2


def _stale(path: Path, *deps: Path) -> bool:
    return not path.exists() or any(path.stat().st_mtime < d.stat().st_mtime for d in deps)


def _generate(path: Path, lines: int, days: int, hosts: list[str], start: str) -> None:
    """sample_data/generate.py in a child process (it holds every record in memory)."""
    if not _stale(path, GENERATOR):
        return
    print(
        f"generating {lines:,} lines over {days:,} days, {len(hosts):,} hosts -> {path.name} ...", flush=True
    )
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    cmd = [
        sys.executable, str(GENERATOR), f"--lines={lines}", "--seed=7", f"--start={start}", f"--days={days}",
        "--format=vcombined", "--garbage=0.001", f"--tenants={','.join(hosts)}", f"--out={tmp}",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    tmp.replace(path)
    print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)


HOST = r"^site(\d+)\.example"
STAMP_DAY = r"\[(\d{2}/[A-Za-z]{3}/\d{4}):"


def derive(
    src: Path,
    dst: Path,
    *,
    tenants: int | None = None,
    weeks: int = 1,
    copies: int = 1,
    one_day: bool = False,
) -> None:
    """Rewrite a generated file, vectorised with Polars, into `dst` (cached):

    `tenants` maps host ``siteN.example`` to ``site{N % tenants}.example`` (same lines, fewer sites);
    `one_day` moves every line to the first day (its time of day kept): every site's lines in one day;
    `weeks` spreads the rows over that many consecutive weeks ending with the original one (every
    `weeks`-th row to the same week, so each week has every day; weeks written in time order);
    `copies` writes the file that many times, copy k shifted k weeks later.
    """
    if not _stale(dst, src):
        return
    import polars as pl  # only when a file must be (re)built

    print(f"deriving {dst.name} from {src.name} ...", flush=True)
    t0 = time.perf_counter()
    text = src.read_text(encoding="utf-8", errors="replace")
    df = pl.Series("line", text.removesuffix("\n").split("\n")).to_frame()
    del text
    line = pl.col("line")
    if tenants is not None:
        n = line.str.extract(HOST, 1).cast(pl.Int64)
        host = pl.lit("site") + (n % tenants).cast(pl.String) + pl.lit(".example")
        df = df.with_columns(pl.when(n.is_not_null()).then(line.str.replace(HOST, host)).otherwise(line))
    day = line.str.extract(STAMP_DAY, 1).str.strptime(pl.Date, "%d/%b/%Y", strict=False)

    def shifted(days: pl.Expr) -> pl.Expr:
        new = pl.lit("[") + (day + pl.duration(days=days)).dt.strftime("%d/%b/%Y") + pl.lit(":")
        return pl.when(day.is_not_null()).then(line.str.replace(STAMP_DAY, new)).otherwise(line)

    if one_day:  # then in time order again: the days' lines interleave by their time of day
        first = day.min()
        stamp = line.str.extract(r"\[([^\]]+)\]", 1).str.to_datetime("%d/%b/%Y:%H:%M:%S %z", strict=False)
        df = df.with_columns(shifted((first - day).dt.total_days())).with_columns(_t=stamp)
        df = df.sort("_t", nulls_last=True, maintain_order=True).drop("_t")
    if weeks > 1:
        week = pl.int_range(pl.len(), dtype=pl.Int64) % weeks
        df = df.with_columns(shifted((week - (weeks - 1)) * 7), week.alias("week"))
        df = df.sort("week", maintain_order=True).drop("week")
    tmp = dst.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for k in range(copies):
            part = df.with_columns(shifted(pl.lit(7 * k))) if k else df
            f.write(part["line"].str.join("\n").item() + "\n")
    tmp.replace(dst)
    print(f"  derived in {time.perf_counter() - t0:.1f} s", flush=True)


REAL = REPO.parent / "shared" / "data" / "real"  # real public logs, when beside the checkout
REAL_LOGS = ("elastic-apache-2015/*.gz", "wordpress-2025/*.gz", "farm-nginx/*.gz")  # all combined
REAL_DAYS = {"full": 4661, "quick": 466, "tiny": 30}  # the 10-year log of issue 26: 4,661 days


def name_of(prof: Profile) -> str:
    return next(k for k, v in PROFILES.items() if v is prof)


def real_archive(dst: Path, lines: int, days: int) -> bool:
    """A long archive made of real lines (../shared/data/real, read here, never copied into the
    repository): the combined logs' lines, repeated to `lines`, re-dated in order over `days` days
    from ARCHIVE_START, each keeping its time of day: a real log's mix of agents, bots and paths,
    in the shape of a 10-year log (many days, few lines each). False when the logs are not there."""
    sources = sorted(p for pattern in REAL_LOGS for p in REAL.glob(pattern))
    if not sources:
        return False
    if not _stale(dst, *sources):
        return True
    import gzip

    import polars as pl

    print(f"deriving {dst.name} from {len(sources)} real logs ...", flush=True)
    text: list[str] = []
    for path in sources:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            text += [row for row in f.read().splitlines() if row.strip()]
    rows = (text * (lines // len(text) + 1))[:lines]
    df = pl.DataFrame({"line": rows})
    line = pl.col("line")
    index = pl.int_range(pl.len(), dtype=pl.Int64)
    new_day = pl.lit(dt.date.fromisoformat(ARCHIVE_START)) + pl.duration(days=index * days // lines)
    stamp = pl.lit("[") + new_day.dt.strftime("%d/%b/%Y") + pl.lit(":")
    df = df.with_columns(line.str.replace(STAMP_DAY, stamp))
    tmp = dst.with_suffix(".tmp")
    tmp.write_text(df["line"].str.join("\n").item() + "\n", encoding="utf-8")
    tmp.replace(dst)
    return True


def count_lines(path: Path) -> int:
    """Newline count, plus one for a last line without a newline."""
    n, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def _n(lines: int) -> str:
    """1000000 -> 1M, 100000 -> 100k."""
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if lines >= size and lines % (size // 10) == 0:
            return f"{lines / size:g}{unit}"
    return f"{lines:,}"


def build_inputs(prof: Profile, out: Path) -> tuple[dict[str, Input], Input]:
    """Every input of the profile (generated or derived once, then cached) and the warehouse's log."""
    n, many = prof.lines, prof.many
    base = out / f"base-{n}-{many}sites.log"
    _generate(base, n, 7, [f"site{i}.example" for i in range(many)], START)
    files = {
        "1t": (out / f"vcombined-{n}-1t.log", {"tenants": 1}, 1, 7),
        "20t": (out / f"vcombined-{n}-20t.log", {"tenants": 20}, 20, 7),
        "many": (base, None, many, 7),
    }
    for path, how, _, _ in files.values():
        if how is not None:
            derive(base, path, **how)
    big = out / f"vcombined-{n * prof.copies}-20t.log"
    derive(files["20t"][0], big, copies=prof.copies)
    files["10m"] = (big, None, 20, 7 * prof.copies)
    one_day = out / f"vcombined-{n}-{many}sites-1day.log"
    derive(base, one_day, one_day=True)
    files["1day"] = (one_day, None, many, 1)
    a_lines, a_days = prof.archive
    archive = out / f"archive-{a_lines}-{a_days}d.log"
    _generate(archive, a_lines, a_days, ["oldsite.example"], ARCHIVE_START)
    files["archive"] = (archive, None, 1, a_days)
    real = out / f"archive-real-{a_lines}-{REAL_DAYS[name_of(prof)]}d.log"
    if real_archive(real, a_lines, REAL_DAYS[name_of(prof)]):
        files["real"] = (real, None, 1, REAL_DAYS[name_of(prof)])
    inputs = {}
    for key, (path, _, tenants, days) in files.items():
        lines = count_lines(path)
        what = {"archive": "long archive", "real": "real lines, long archive"}.get(key, "vhost combined")
        label = f"{_n(lines)} lines, {tenants:,} tenant{'s' * (tenants > 1)}, {days:,} days ({what})"
        inputs[key] = Input(key, label, path, lines, tenants, days)
    w_tenants, weeks = prof.warehouse
    wlog = out / f"warehouse-{n}-{w_tenants}t-{weeks}w-v2.log"  # v2: every week has every day
    derive(base, wlog, tenants=w_tenants, weeks=weeks)
    wlabel = f"{w_tenants} tenants x {weeks * 7} days ({_n(n)} lines)"
    return inputs, Input("warehouse", wlabel, wlog, count_lines(wlog), w_tenants, weeks * 7)


# --- the three tools ---------------------------------------------------------------------------


# A second Rings run on the 20-tenant file, without browsers, OS, devices and countries: what
# those breakdowns cost (issue 15 wants it under 15% of throughput).
NO_BREAKDOWNS = ("Rings, breakdowns off", "breakdowns = false\n")


def bench_rings(rings: Path, inp: Input, repeat: int, variant: tuple[str, str] | None = None) -> Result:
    """`rings ingest` into a fresh state dir per run; counts from its `--json` summary. A
    `variant` (label, rings.toml text) runs with that config in the state dir."""
    res = Result(variant[0] if variant else "Rings", [])
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-bench-state-") as tmp:
            state = Path(tmp) / "state"
            if variant:
                state.mkdir(mode=0o700)
                (state / "rings.toml").write_text(variant[1])
            cmd = [str(rings), "ingest", "--state-dir", str(state), "-q", "--json", str(inp.path)]
            res.command = res.command or cmd
            run = measure(cmd, Path(tmp))
            res.runs.append(run)
            if run.code:
                break
            res.state_bytes = dir_bytes(state)
            summary = json.loads(run.stdout)
            res.counts = {k: summary.get(k) for k in ("lines_read", "requests", "rejected", "page_views")}
    return res


def goaccess_cmd(goaccess: str, log: Path, report: Path, fmt: str = "VCOMBINED") -> list[str]:
    """Parse the whole file as vhost combined (the real archive: combined), write JSON, no global
    config, never touch a TTY."""
    return [
        goaccess, str(log), f"--log-format={fmt}", "--no-global-config",
        "--no-progress", "--no-parsing-spinner", "-o", str(report),
    ]  # fmt: skip


def bench_goaccess(goaccess: str, inp: Input, repeat: int) -> Result:
    """GoAccess to a JSON report in a fresh temp dir per run; counts from its `general` section."""
    res = Result("GoAccess", [])
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-bench-goaccess-") as tmp:
            report = Path(tmp) / "report.json"
            cmd = goaccess_cmd(goaccess, inp.path, report, "COMBINED" if inp.key == "real" else "VCOMBINED")
            res.command = res.command or cmd
            run = measure(cmd, Path(tmp))
            res.runs.append(run)
            if run.code or not report.exists():
                run.code = run.code or 1
                break
            general = json.loads(report.read_text(errors="replace"))["general"]
            res.counts = {k: general.get(k) for k in ("total_requests", "valid_requests", "unique_visitors")}
    return res


# Daily page views and unique visitors per site, from the raw file, the contract's definitions
# approximated in SQL: a non-bot GET, 2xx or 304, whose path is a page (no extension, or .html, .php
# ...); a visitor is (IP, user agent) in a UTC day.
DUCKDB_SQL = r"""
WITH raw AS (
  SELECT regexp_extract(line,
    '^(\S+?)(?::\d+)? (\S+) \S+ \S+ \[([^\]]+)\] "(\S+) ([^" ?]*)[^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"',
    ['host', 'ip', 'ts', 'method', 'path', 'status', 'ua']) AS m
  FROM read_csv(?, columns = {'line': 'VARCHAR'}, delim = '\x01', quote = '', escape = '',
                header = false, auto_detect = false, strict_mode = false, null_padding = true,
                ignore_errors = true)
), views AS (
  SELECT lower(m.host) AS host, m.ip AS ip, m.ua AS ua,
         CAST(timezone('UTC', try_strptime(m.ts, '%d/%b/%Y:%H:%M:%S %z')) AS DATE) AS day
  FROM raw
  WHERE m.method = 'GET' AND (m.status LIKE '2%' OR m.status = '304')
    AND (NOT regexp_matches(m.path, '\.[A-Za-z0-9]+$')
         OR regexp_matches(m.path, '\.(html?|php|aspx?|jsp)$', 'i'))
    AND NOT regexp_matches(m.ua,
      '(?i)bot|crawl|spider|slurp|curl|wget|python-|go-http|java/|libwww|httpclient|monitor|scan')
)
SELECT host, day, count(*) AS page_views, count(DISTINCT (ip, ua)) AS unique_visitors
FROM views WHERE day IS NOT NULL GROUP BY host, day ORDER BY host, day
"""


def duckdb_query(log: str, out_csv: str) -> int:
    """The measured child of the DuckDB baseline: the query, its rows to CSV, totals as JSON."""
    import csv

    import duckdb

    rows = duckdb.connect().execute(DUCKDB_SQL, [log]).fetchall()
    with open(out_csv, "w", newline="") as f:
        csv.writer(f).writerows([("host", "day", "page_views", "unique_visitors"), *rows])
    totals = {
        "groups": len(rows),
        "page_views": sum(r[2] for r in rows),
        "unique_visitors": sum(r[3] for r in rows),
    }
    print(json.dumps(totals))
    return 0


def bench_duckdb(python: Path, inp: Input, repeat: int) -> Result:
    """The SQL baseline in a child process (DuckDB's default threads: every core)."""
    res = Result("DuckDB SQL", [])
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-bench-duckdb-") as tmp:
            cmd = [
                str(python),
                str(Path(__file__).resolve()),
                "--duckdb-query",
                str(inp.path),
                f"{tmp}/daily.csv",
            ]
            res.command = res.command or cmd
            run = measure(cmd, Path(tmp))
            res.runs.append(run)
            if run.code:
                break
            res.counts = json.loads(run.stdout)
    return res


# --- report latency, start-up, follow lag ------------------------------------------------------


def warehouse(rings: Path, wlog: Input, out: Path, rebuild: bool) -> tuple[Path, Result | None]:
    """A state dir holding `wlog` ingested and finalized by Rings, cached beside the log.

    Rebuilt when missing, older than its log, unfinished, or when `rings report` cannot read it
    (a schema the current code does not know). Returns the state dir and the build's measurement.
    """
    state = out / (wlog.path.stem + ".state")
    done = out / (wlog.path.stem + ".built.json")  # beside the state dir, not in it

    def usable() -> bool:
        if not done.exists() or _stale(done, wlog.path):
            return False
        return timed([str(rings), "report", "--state-dir", str(state), "-f", "json"])[1].returncode == 0

    if not rebuild and usable():
        print(f"warehouse: reusing {state} (built {json.loads(done.read_text())['built']})")
        return state, None
    shutil.rmtree(state, ignore_errors=True)
    done.unlink(missing_ok=True)
    print(f"warehouse: building {wlog.label} with `rings ingest` (cached for later runs) ...", flush=True)
    cmd = [str(rings), "ingest", "--state-dir", str(state), "-q", "--json", str(wlog.path)]
    res = Result("Rings", cmd, [measure(cmd, out)])
    if res.ok:
        done.write_text(
            json.dumps({"built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "log": wlog.path.name})
        )
        res.state_bytes = dir_bytes(state)
    return state, res


def _days(state: Path, rings: Path) -> tuple[str, str]:
    """First and last day with data in a state dir, from a whole-range JSON report."""
    _, done = timed([str(rings), "report", "--state-dir", str(state), "-f", "json", "--start", "1990-01-01",
                     "--end", "2100-01-01"])  # fmt: skip
    days = [d["date"] for d in json.loads(done.stdout)["days"]] if done.returncode == 0 else []
    return (min(days), max(days)) if days else ("1990-01-01", "2100-01-01")


@dataclass
class Latency:
    """Wall seconds of repeated subprocess runs of one command."""

    label: str
    command: list[str]
    walls: list[float] = field(default_factory=list)
    failed: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.walls) if self.walls else float("nan")


def latency(label: str, cmd: list[str], runs: int, env: dict[str, str] | None = None) -> Latency:
    """One warm-up run (not counted) unless `runs` is 1, then `runs` timed runs."""
    lat = Latency(label, cmd)
    for k in range(runs + (runs > 1)):
        wall, done = timed(cmd, env)
        if done.returncode:
            lat.failed = (done.stderr or done.stdout).decode(errors="replace").strip()[-500:]
            break
        if k or runs == 1:
            lat.walls.append(wall)
    print(f"   {label}: {_lat_text(lat)}", flush=True)
    return lat


def _lat_text(lat: Latency) -> str:
    if lat.failed:
        return f"FAILED: {lat.failed}"
    lo, hi = min(lat.walls) * 1000, max(lat.walls) * 1000
    return f"median {lat.median * 1000:,.0f} ms (min {lo:,.0f}, max {hi:,.0f}; n={len(lat.walls)})"


def report_latencies(rings: Path, state: Path, tenants: int, runs: int) -> list[Latency]:
    """`rings report` on the warehouse: the default view, a whole year of all, a year of one tenant."""
    first, last = _days(state, rings)
    base = [str(rings), "report", "--state-dir", str(state)]
    env = {**os.environ, "COLUMNS": "120"}
    return [
        latency("rings report (all tenants, last 7 days, table)", base, runs, env),
        latency(
            f"rings report -f json --start {first} --end {last} (all tenants)",
            [*base, "-f", "json", "--start", first, "--end", last],
            runs,
            env,
        ),
        latency(
            f"rings report -f json --start {first} --end {last} --tenant site{tenants // 2}.example",
            [*base, "-f", "json", "--start", first, "--end", last, "--tenant", f"site{tenants // 2}.example"],
            runs,
            env,
        ),
    ]


def _page_view(i: int) -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    request = f'"GET /lag/{i} HTTP/1.1" 200 512 "-" "Mozilla/5.0 Firefox/120.0"'
    return f"lag.example:443 10.8.0.{i % 250 + 1} - - [{stamp}] {request}\n"


def _requests(rings: Path, state: Path) -> int:
    cmd = [str(rings), "report", "--state-dir", str(state), "-f", "json"]
    done = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    return int(json.loads(done.stdout)["totals"]["requests"]) if done.returncode == 0 else -1


@dataclass
class Lag:
    """Seconds from a line appended to a followed log until a report shows it."""

    cli: list[float] = field(default_factory=list)
    data: list[float] = field(default_factory=list)
    failed: str = ""


def follow_lag(rings: Path, rounds: int, deadline_s: float = 60.0) -> Lag:
    """report_lag's method: `rings ingest --follow --flush-interval 3600` (nothing reaches the warehouse
    while we measure); append one page view stamped now, then poll until a report counts it: through
    `rings report` subprocesses (includes one report's start-up), then through `build_report` in this
    process every 20 ms (the data's own lag: follow's poll, parse, merge, commit). Each wait has a deadline.
    """
    lag = Lag()
    with tempfile.TemporaryDirectory(prefix="rings-bench-lag-") as tmp:
        state, log = Path(tmp) / "state", Path(tmp) / "access.log"
        log.write_text(_page_view(0))
        cmd = [str(rings), "ingest", "--follow", "--quiet", "--flush-interval", "3600"]
        cmd += ["--state-dir", str(state), str(log)]
        errors = Path(tmp) / "follow.stderr"
        with errors.open("wb") as fe:  # a file, not a pipe: a full pipe would stall follow mode
            follow = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fe)

        def wait(count: Callable[[], int], want: int) -> float | None:
            started = time.monotonic()
            while time.monotonic() - started < deadline_s and follow.poll() is None:
                if count() >= want:
                    return time.monotonic() - started
                time.sleep(0.02)
            return None

        try:
            if wait(lambda: _requests(rings, state), 1) is None:
                lag.failed = "follow mode never showed its first line"
                return lag
            for i in range(1, rounds + 1):
                with log.open("a") as f:
                    f.write(_page_view(i))
                if (s := wait(lambda: _requests(rings, state), i + 1)) is None:
                    lag.failed = f"round {i}: not visible to `rings report` within {deadline_s:.0f} s"
                    return lag
                lag.cli.append(s)
                print(f"   round {i}: visible to `rings report` after {s:.2f} s", flush=True)
            try:
                from rings_cli.core.state import StateDir
                from rings_cli.query.report import build_report
            except ImportError as exc:
                print(f"   in-process lag skipped (run bench.py with the venv's python): {exc}")
                return lag
            seen = rounds + 1
            for i in range(seen, seen + rounds):
                with log.open("a") as f:
                    f.write(_page_view(i))
                s = wait(lambda: build_report(StateDir(state))["totals"]["requests"], i + 1)
                if s is None:
                    lag.failed = f"round {i}: not in a report built in-process within {deadline_s:.0f} s"
                    return lag
                lag.data.append(s)
                print(f"   round {i}: in a report built in-process after {s:.2f} s", flush=True)
        finally:
            follow.send_signal(signal.SIGINT)
            try:
                follow.wait(timeout=60)
            except subprocess.TimeoutExpired:
                follow.kill()
                follow.wait()
            said = errors.read_text(errors="replace").strip()[-500:]
            if follow.returncode not in (0, -signal.SIGINT, 130) and not lag.failed:
                lag.failed = f"follow exited {follow.returncode}: {said}"
            elif lag.failed and said:
                lag.failed += f"; follow mode said: {said}"
    return lag


# --- the machine -------------------------------------------------------------------------------


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load_line(when: str) -> str:
    """The load average; a loud warning when the machine is busy (figures are then inflated)."""
    one, five, fifteen = os.getloadavg()
    line = f"load average at {when}: {one:.2f} {five:.2f} {fifteen:.2f} on {cores()} cores"
    if max(one, five) > 0.5 * cores():
        bar = "!" * 78
        why = "!!! timings are inflated and noisy: rerun on a quiet machine"
        line = f"{bar}\n!!! BUSY MACHINE: {line}\n{why}\n{bar}"
    return line


def venv_versions(python: Path) -> dict[str, str]:
    """Python and package versions of the interpreter that runs `rings`."""
    code = (
        "import importlib.metadata as m, json, platform\n"
        "v = {'python': platform.python_version()}\n"
        "for p in ('rings', 'polars', 'duckdb', 'pyarrow'):\n"
        "    try: v[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: v[p] = '?'\n"
        "print(json.dumps(v))"
    )
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return json.loads(done.stdout) if done.returncode == 0 else {"python": "?", "rings": "?"}


def goaccess_version(goaccess: str) -> str:
    out = subprocess.run(
        [goaccess, "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL
    ).stdout
    m = re.search(r"GoAccess - (\d+(?:\.\d+)+)", out)
    return m.group(1) if m else "?"


def machine(versions: dict[str, str], ga: str | None) -> list[str]:
    """Lines describing the host and tool versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    return [
        f"CPU: {model.group(1) if model else platform.processor() or '?'}, {cores()} cores",
        f"memory: {int(mem.group(1)) / 1024**2:.1f} GiB" if mem else "memory: ?",
        f"OS: {platform.platform()}",
        "rings venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"GoAccess: {ga}" if ga else "GoAccess: not run",
        f"timer: {TIMER}",
    ]


# --- reporting ---------------------------------------------------------------------------------


def _cmd_text(cmd: list[str]) -> str:
    """A command as a shell line, repo paths relative so it reads well in README."""
    shown = [str(Path(a).relative_to(REPO)) if a.startswith(f"{REPO}/") else a for a in cmd]
    return shlex.join(shown)


def print_runs(res: Result, inp: Input) -> None:
    for k, run in enumerate(res.runs, 1):
        rate = inp.lines / run.wall if run.wall else float("inf")
        print(
            f"   {res.tool:<10} run {k}: {run.wall:8.2f} s wall, {run.cpu:8.2f} s CPU, {rate:11,.0f} lines/s,"
            f" "
            f"{run.rss_mib:8,.1f} MiB peak RSS, exit {run.code}",
            flush=True,
        )
        if run.code:
            print("   " + (run.stderr.strip() or run.stdout.strip())[-2000:].replace("\n", "\n   "))
    if res.ok and res.state_bytes:
        size = inp.path.stat().st_size
        print(
            f"   {'':<10}        state dir {res.state_bytes / 1024**2:,.1f} MiB"
            f" = {res.state_bytes / size:.2f}x the log"
        )
    if res.ok and res.counts:
        print(f"   {'':<10}        counts: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                        for k, v in res.counts.items()))  # fmt: skip


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


DASH = "\u2013"  # what README's tables show for "nothing to compare"


def _times(goaccess: float, tool: float) -> str:
    """How many times faster than GoAccess (below 1: slower)."""
    if not tool:
        return DASH
    x = goaccess / tool
    return f"{x:.2f}\u00d7" if x >= 0.1 else f"{x:.3f}\u00d7"


def ingest_table(rows: list[tuple[Input, list[Result]]]) -> list[str]:
    """README table: one row per input and tool; speed against GoAccess on the same file."""
    head = [
        "input",
        "tool",
        "lines/s",
        "wall s",
        "CPU s",
        "peak RSS MiB",
        "\u00d7 GoAccess (wall, CPU)",
        "state ÷ log",
    ]
    out = [_row(head), "|---|---|--:|--:|--:|--:|--:|--:|"]
    for inp, results in rows:
        ga = next((r for r in results if r.tool == "GoAccess" and r.ok), None)
        for res in results:
            if not res.ok:
                out.append(_row([inp.label, res.tool, "failed", "", "", "", "", ""]))
                continue
            ratio = f"{_times(ga.wall, res.wall)}, {_times(ga.cpu, res.cpu)}" if ga else DASH
            state = f"{res.state_bytes / inp.path.stat().st_size:.2f}" if res.state_bytes else DASH
            cells = [f"{inp.lines / res.wall:,.0f}", f"{res.wall:.2f}", f"{res.cpu:.2f}", f"{res.rss:,.0f}"]
            out.append(_row([inp.label, res.tool, *cells, ratio, state]))
    return out


def breakdown_cost(rows: list[tuple[Input, list[Result]]]) -> list[str]:
    """How much throughput the breakdowns take: Rings against Rings with them off, same file."""
    out = []
    for inp, results in rows:
        on = next((r for r in results if r.tool == "Rings" and r.ok), None)
        off = next((r for r in results if r.tool == NO_BREAKDOWNS[0] and r.ok), None)
        if on and off:
            lost = 1 - off.wall / on.wall  # lines/s with them ÷ lines/s without, from 1
            out.append(
                f"Breakdowns, {inp.label}: they cost {lost:.0%} of throughput (wall), CPU "
                f"{on.cpu / off.cpu - 1:+.0%}; peak RSS {on.rss:,.0f} MiB (off: {off.rss:,.0f} MiB)\n"
            )
    return out


def other_table(build: tuple[Input, Result] | None, lats: list[Latency], lag: Lag | None) -> list[str]:
    out = [_row(["measure", "figure"]), "|---|--:|"]
    if build:
        inp, res = build
        fig = f"{res.wall:.1f} s, {res.rss:,.0f} MiB peak" if res.ok else "failed"
        out.append(_row([f"building the report warehouse ({inp.label}, rings ingest)", fig]))
    for lat in lats:
        out.append(
            _row([f"`{lat.label.strip()}`", "failed" if lat.failed else f"{lat.median * 1000:,.0f} ms"])
        )
    if lag:
        if lag.cli:
            out.append(
                _row(
                    [
                        "follow: line appended → visible to `rings report` (median)",
                        f"{statistics.median(lag.cli):.2f} s",
                    ]
                )
            )
        if lag.data:
            out.append(
                _row(
                    [
                        "follow: line appended → in a report built in-process (median)",
                        f"{statistics.median(lag.data):.2f} s",
                    ]
                )
            )
        if lag.failed:
            out.append(_row(["follow lag", f"failed: {lag.failed}"]))
    return out


# --- main --------------------------------------------------------------------------------------


SECTIONS = ("ingest", "goaccess", "duckdb", "report", "help", "lag")


def main(argv: list[str] | None = None) -> int:
    """Build the inputs, measure, print figures, commands, machine and the README tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="100k-line inputs (about a minute with fast code)")
    size.add_argument("--tiny", action="store_true", help="a few thousand lines: the smoke test")
    p.add_argument(
        "--inputs",
        help="comma-separated subset of 1t,20t,many,1day,10m,archive,real (default: the profile's)",
    )
    p.add_argument("--skip", default="", help=f"comma-separated parts to skip: {','.join(SECTIONS)}")
    p.add_argument("--repeat", type=int, default=1, help="ingest runs per tool and input (median shown)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where generated files are cached")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached report warehouse")
    p.add_argument("--duckdb-query", nargs=2, metavar=("LOG", "CSV"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.duckdb_query:
        return duckdb_query(*a.duckdb_query)
    name = "tiny" if a.tiny else "quick" if a.quick else "full"
    prof = PROFILES[name]
    skip = {s.strip() for s in a.skip.split(",") if s.strip()}
    if bad := skip - set(SECTIONS):
        p.error(f"--skip: unknown {', '.join(sorted(bad))}; choose from {', '.join(SECTIONS)}")
    measured = tuple(k.strip() for k in a.inputs.split(",")) if a.inputs else prof.measured
    if bad := set(measured) - {"1t", "20t", "many", "1day", "10m", "archive", "real"}:
        p.error(f"--inputs: unknown {', '.join(sorted(bad))}")
    if "ingest" in skip:
        measured = ()
    if a.repeat < 1:
        p.error("--repeat must be positive")

    rings = REPO / ".venv" / "bin" / "rings"
    if not rings.exists():
        found = shutil.which("rings")
        if not found:
            print(f"rings: not found at {rings} nor on PATH (run `make .venv/.installed` in {REPO})")
            return 1
        rings = Path(found)
    python = rings.parent / "python"
    python = python if python.exists() else Path(sys.executable)
    goaccess = None if "goaccess" in skip else shutil.which("goaccess")
    if "goaccess" not in skip and not goaccess:
        print("goaccess: not installed (apt-get install goaccess); skipping it")
    if not GNU_TIME.exists():
        print(f"{GNU_TIME}: not installed (apt-get install time); measuring with os.wait4 instead")
    versions = venv_versions(python)
    ga_version = goaccess_version(goaccess) if goaccess else None

    print(f"== Rings benchmarks, {name} sizes ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    print("\n".join(machine(versions, ga_version)))
    load_start = load_line("start")
    print(load_start, flush=True)

    a.out.mkdir(parents=True, exist_ok=True)
    inputs, wlog = build_inputs(prof, a.out.resolve())
    ok = True
    rows: list[tuple[Input, list[Result]]] = []
    for key in measured:
        if key not in inputs:
            print(f"\n== {key}: not built (../shared/data/real is not beside the checkout); skipped")
            continue
        inp = inputs[key]
        print(f"\n== {inp.label}: {inp.path.name} ({inp.lines:,} lines, {inp.mib:,.1f} MiB)", flush=True)
        results = [bench_rings(rings, inp, a.repeat)]
        print_runs(results[-1], inp)
        if key == "20t":
            results.append(bench_rings(rings, inp, a.repeat, NO_BREAKDOWNS))
            print_runs(results[-1], inp)
        if goaccess:
            results.append(bench_goaccess(goaccess, inp, a.repeat))
            print_runs(results[-1], inp)
        if "duckdb" not in skip:
            results.append(bench_duckdb(python, inp, a.repeat))
            print_runs(results[-1], inp)
        ok &= all(r.ok for r in results)
        rows.append((inp, results))

    build: tuple[Input, Result] | None = None
    lats: list[Latency] = []
    if "report" not in skip:
        print(
            f"\n== rings report latency: warehouse of {wlog.label}, median of {prof.report_runs} runs",
            flush=True,
        )
        state, built = warehouse(rings, wlog, a.out.resolve(), a.rebuild)
        if built:
            build = (wlog, built)
            print_runs(built, wlog)
        if built is None or built.ok:
            lats = report_latencies(rings, state, wlog.tenants, prof.report_runs)
        ok &= (built is None or built.ok) and not any(x.failed for x in lats)
    if "help" not in skip:
        print(f"\n== start-up, median of {prof.help_runs} runs", flush=True)
        lats.append(latency("rings --help", [str(rings), "--help"], prof.help_runs))
        ok &= not lats[-1].failed
    lag = None
    if "lag" not in skip:
        print(f"\n== follow-mode lag, {prof.lag_rounds} rounds each (--flush-interval 3600)", flush=True)
        lag = follow_lag(rings, prof.lag_rounds)
        if lag.failed:
            print(f"   FAILED: {lag.failed}")
        ok &= not lag.failed

    print(f"\n== commands (under {TIMER}, stdin </dev/null, fresh temp dirs)")
    for _, results in rows[:1]:
        for res in results:
            print(f"$ {_cmd_text(res.command)}")
    if rows and "duckdb" not in skip:
        print("DuckDB SQL (benchmarks/bench.py DUCKDB_SQL):" + DUCKDB_SQL.rstrip())

    print("\n== machine")
    print("\n".join(machine(versions, ga_version)))
    print(load_start)
    print(load_line("end"))
    print(f"\n== README tables ({name} sizes; lines/s = lines in the file ÷ wall s; x GoAccess = GoAccess's")
    print("   wall (CPU) ÷ this tool's wall (CPU) on the same file, above 1 faster than GoAccess;")
    print("   state ÷ log = Rings' state dir (du) ÷ the log's size)\n")
    if rows:
        print("\n".join(ingest_table(rows)))
        print()
        for line in breakdown_cost(rows):
            print(line)
    print("\n".join(other_table(build, lats, lag)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
