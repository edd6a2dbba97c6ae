#!/usr/bin/env python3
"""Speed and peak memory of `rings ingest` next to GoAccess, on the same inputs, in one run.

Inputs: a synthetic combined-format log of ``--lines`` lines (cached under benchmarks/out/) and
every real combined-format log under ../shared/data/real/, decompressed into one file. Each tool
runs under GNU time (``/usr/bin/time -v``) with stdin from /dev/null; Rings gets a fresh state
dir per run. Prints figures, the exact commands, the machine and a Markdown table for README.
It asserts nothing about speed.

    python benchmarks/throughput.py [--lines 1000000] [--repeat 1] [--skip-goaccess]
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "benchmarks" / "out"
REAL_DIR = REPO.parent / "shared" / "data" / "real"
GENERATOR = REPO / "sample_data" / "generate.py"
GNU_TIME = Path("/usr/bin/time")
TIMER = f"GNU time ({GNU_TIME} -v)" if GNU_TIME.exists() else "os.wait4 rusage (no /usr/bin/time)"
GEN_ARGS = {"seed": 7, "start": "2025-12-01", "days": 7, "fmt": "combined", "garbage": 0.001}

# Apache/nginx combined: ip ident user [time] "request" status bytes "referrer" "agent" [extra].
COMBINED = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} (?:\d+|-) "[^"]*" "[^"]*"')


@dataclass
class Run:
    """One measured process: wall and CPU seconds, peak RSS, exit code and what it printed."""

    wall: float
    cpu: float
    rss_mib: float
    code: int
    stdout: str
    stderr: str
    rss_floor: float = 0.0  # os.wait4 only: a forked child starts with its parent's peak RSS


@dataclass
class Result:
    """All runs of one tool on one input, the command of the first run and counts it reported."""

    tool: str
    command: list[str]
    runs: list[Run] = field(default_factory=list)
    counts: dict[str, object] = field(default_factory=dict)

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

    @property
    def rss_at_floor(self) -> bool:
        """The peak RSS is only the forking parent's (os.wait4 fallback): the true peak is lower."""
        return all(r.rss_floor and r.rss_mib <= r.rss_floor + 1 for r in self.runs)

    def rss_text(self, digits: int = 0) -> str:
        return f"<={self.rss:,.{digits}f}" if self.rss_at_floor else f"{self.rss:,.{digits}f}"


@dataclass
class Input:
    """A log file both tools read, its line count and a label for the table."""

    label: str
    path: Path
    lines: int
    note: str = ""


# --- measuring ---------------------------------------------------------------------------------


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
        floor = 0.0
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
            else:  # the kernel's rusage of exactly this child; its peak RSS is at least ours
                floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                code = proc.returncode = os.waitstatus_to_exitcode(status)
                cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        texts = out.read_text(errors="replace"), err.read_text(errors="replace")
        return Run(wall, cpu, rss, code, *texts, rss_floor=floor)


def bench_rings(rings: Path, label: str, inp: Input, repeat: int) -> Result:
    """`rings ingest` into a fresh state dir per run; counts from its `--json` summary."""
    res = Result(label, [])
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-bench-state-") as state:
            cmd = [str(rings), "ingest", "--state-dir", state, "-q", "--json", str(inp.path)]
            res.command = res.command or cmd
            run = measure(cmd, REPO)
            res.runs.append(run)
            if run.code:
                break
            res.counts = json.loads(run.stdout)
    return res


def goaccess_cmd(goaccess: str, log: Path, report: Path) -> list[str]:
    """Parse the whole file with the predefined COMBINED format, write JSON, never touch a TTY."""
    return [
        goaccess, str(log), "--log-format=COMBINED", "--no-global-config",
        "--no-progress", "--no-parsing-spinner", "-o", str(report),
    ]  # fmt: skip


def json_field(text: str, key: str) -> object:
    """`key` of a JSON object printed on stdout, or None."""
    try:
        return json.loads(text).get(key)
    except (ValueError, AttributeError):
        return None


def bench_goaccess(goaccess: str, label: str, inp: Input, repeat: int) -> Result:
    """GoAccess to a JSON report in a fresh temp dir per run; counts from its `general` section."""
    res = Result(label, [])
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rings-bench-goaccess-") as tmp:
            report = Path(tmp) / "report.json"
            cmd = goaccess_cmd(goaccess, inp.path, report)
            res.command = res.command or cmd
            run = measure(cmd, REPO)
            res.runs.append(run)
            if run.code or not report.exists():
                run.code = run.code or 1
                break
            res.counts = json.loads(report.read_text(errors="replace"))["general"]
    return res


# --- inputs ------------------------------------------------------------------------------------


def count_lines(path: Path) -> int:
    """Newline count, plus one for a last line without a newline (what `wc -l` would miss)."""
    n, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def generated_input(lines: int) -> Input:
    """The synthetic combined log of `lines` lines, generated once and cached by size."""
    path = OUT / f"generated-combined-{lines}.log"
    flags = [f"--{'format' if k == 'fmt' else k}={v}" for k, v in GEN_ARGS.items()]
    cmd = [sys.executable, str(GENERATOR), f"--lines={lines}", *flags, f"--out={path.with_suffix('.tmp')}"]
    if not path.exists() or path.stat().st_mtime < GENERATOR.stat().st_mtime:
        # A child process, so this one stays small (the generator holds every record in memory).
        print(
            f"generating {lines:,} lines -> {path.relative_to(REPO)} (cached for later runs) ...", flush=True
        )
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
        path.with_suffix(".tmp").replace(path)
        print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    shown = _cmd_text(["python", *cmd[1:-1], f"--out={path.relative_to(REPO)}"])
    return Input("synthetic", path, count_lines(path), shown)


def _read(path: Path) -> bytes:
    """A whole log, decompressed by its suffix (.gz, .bz2, .xz) or read as is."""
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rb") as f:
        return f.read()


def _is_combined(path: Path, sample: int = 20) -> bool:
    """Most of the first non-empty lines parse as combined (not vhost, common or CSV)."""
    head = [ln for ln in _read(path).splitlines()[: sample * 2] if ln.strip()][:sample]
    hits = sum(bool(COMBINED.match(ln.decode("utf-8", "replace"))) for ln in head)
    return bool(head) and hits >= 0.9 * len(head)


def _real_logs() -> Iterator[Path]:
    for path in sorted(REAL_DIR.rglob("*")):
        if path.is_file() and not path.name.endswith(".md") and _is_combined(path):
            yield path


def real_input() -> Input | None:
    """All real combined logs, decompressed and concatenated in path order (rebuilt each run)."""
    if not REAL_DIR.is_dir():
        print(f"real logs: {REAL_DIR} not found, skipping the real-data row")
        return None
    path = OUT / "real-combined.log"
    per_dir: dict[str, int] = {}
    with path.open("wb") as out:
        for src in _real_logs():
            data = _read(src)
            if data and not data.endswith(b"\n"):
                data += b"\n"
            out.write(data)
            key = str(src.parent.relative_to(REAL_DIR))
            per_dir[key] = per_dir.get(key, 0) + data.count(b"\n")
    if not per_dir:
        print(f"real logs: no combined-format logs under {REAL_DIR}, skipping the real-data row")
        return None
    parts = ", ".join(f"{d}/ {n:,}" for d, n in per_dir.items())
    return Input("real", path, count_lines(path), f"{REAL_DIR.relative_to(REPO.parent)}: {parts}")


# --- reporting ---------------------------------------------------------------------------------


def _cmd_text(cmd: list[str]) -> str:
    """A command as a shell line, with repo paths made relative so it reads well in README."""
    shown = [str(Path(a).relative_to(REPO)) if a.startswith(f"{REPO}/") else a for a in cmd]
    return shlex.join(shown)


def venv_versions(rings: Path) -> dict[str, str]:
    """Python and package versions of the interpreter that runs `rings`."""
    python = rings.parent / "python"
    code = (
        "import importlib.metadata as m, json, platform\n"
        "v = {'python': platform.python_version()}\n"
        "for p in ('rings', 'polars', 'duckdb', 'pyarrow'):\n"
        "    try: v[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: v[p] = '?'\n"
        "print(json.dumps(v))"
    )
    if not python.exists():
        return {"python": "?", "rings": "?"}
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return json.loads(done.stdout) if done.returncode == 0 else {"python": "?", "rings": "?"}


def goaccess_version(goaccess: str) -> tuple[str, bool]:
    """GoAccess's version (`1.7`) and whether it has `--jobs` (multi-threaded parsing, 1.8+)."""
    run = [goaccess, "--version"], [goaccess, "--help"]
    version, helptext = (
        subprocess.run(c, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout for c in run
    )
    m = re.search(r"GoAccess - (\d+(?:\.\d+)+)", version)
    return (m.group(1) if m else "?"), "--jobs" in helptext


def machine(versions: dict[str, str], ga: tuple[str, bool] | None) -> list[str]:
    """Lines describing the host and tool versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"CPU: {model.group(1) if model else platform.processor() or '?'}, nproc {nproc}",
        f"memory: {int(mem.group(1)) / 1024**2:.1f} GiB" if mem else "memory: ?",
        f"OS: {platform.platform()}",
        "rings venv: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"GoAccess: {ga[0]}, {'has --jobs (default used)' if ga[1] else 'no --jobs: one parsing thread'}"
        if ga
        else "GoAccess: not run",
        f"timer: {TIMER}",
    ]


def _fmt_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_table(rows: list[tuple[Input, Result, Result | None]]) -> list[str]:
    """README table: one row per tool and input, plus a Rings/GoAccess ratio row."""
    head = ["input", "lines", "tool", "wall s", "lines/s", "CPU s", "peak RSS MiB"]
    out = [_fmt_row(head), "|---|--:|---|--:|--:|--:|--:|"]
    for inp, rings, goaccess in rows:
        for res in (rings, goaccess):
            if res is None:
                continue
            if not res.ok:
                out.append(_fmt_row([inp.label, f"{inp.lines:,}", res.tool, "failed", "", "", ""]))
                continue
            rate = inp.lines / res.wall if res.wall else float("inf")
            cells = [f"{res.wall:.2f}", f"{rate:,.0f}", f"{res.cpu:.2f}", res.rss_text()]
            out.append(_fmt_row([inp.label, f"{inp.lines:,}", res.tool, *cells]))
        if goaccess and rings.ok and goaccess.ok and goaccess.wall and goaccess.rss:
            ratios = [rings.wall / goaccess.wall, goaccess.wall / rings.wall, rings.cpu / goaccess.cpu]
            bound = ">=" if goaccess.rss_at_floor else ""
            cells = [f"{x:.2f}x" for x in ratios] + [f"{bound}{rings.rss / goaccess.rss:.1f}x"]
            out.append(_fmt_row([inp.label, "", "Rings ÷ GoAccess", *cells]))
    return out


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def compare_counts(inp: Input, rings: Result, goaccess: Result) -> list[str]:
    """Both tools' request counts side by side, and a note on any difference."""
    r, g = rings.counts, goaccess.counts
    reasons = ", ".join(f"{k} {_n(v)}" for k, v in dict(r.get("rejected_by_reason") or {}).items()) or "none"
    lines = [
        f"counts, {inp.label} input ({inp.lines:,} lines in the file):",
        f"  GoAccess: total_requests {_n(g.get('total_requests'))}, valid_requests "
        f"{_n(g.get('valid_requests'))}, failed_requests {_n(g.get('failed_requests'))}",
        f"  Rings:    lines_read {_n(r.get('lines_read'))}, requests {_n(r.get('requests'))}, "
        f"rejected {_n(r.get('rejected'))} ({reasons}), page_views {_n(r.get('page_views'))}",
    ]
    valid, requests, total = g.get("valid_requests"), r.get("requests"), g.get("total_requests")
    if not (isinstance(valid, int) and isinstance(requests, int) and isinstance(total, int)):
        return [*lines, "  note: a count is missing, cannot compare"]
    diff, uncounted = valid - requests, inp.lines - total
    if diff == 0 and uncounted == 0:
        return [*lines, "  note: both tools count the same valid requests and the same rejected lines."]
    q = line_quirks(inp.path)
    if diff == 0:
        lines.append(f"  note: both tools count the same {valid:,} valid requests.")
    else:
        more, fewer = ("GoAccess", "Rings") if diff > 0 else ("Rings", "GoAccess")
        why = ""
        if diff == q["open_agent"]:
            why = (
                f"; the file has exactly {q['open_agent']:,} combined line(s) whose user agent lacks its"
                " closing quote, which GoAccess accepts and Rings rejects as unparseable"
            )
        lines.append(f"  note: {more} accepts {abs(diff):,} line(s) that {fewer} rejects{why}.")
    if uncounted:
        skipped = q["empty"] + q["comment"]
        why = (
            f": the file's {q['empty']:,} empty and {q['comment']:,} '#'-initial line(s), which GoAccess"
            " skips as blank/comments and Rings counts among its rejected lines"
            if skipped == uncounted
            else f" (the file has {q['empty']:,} empty and {q['comment']:,} '#'-initial lines)"
        )
        lines.append(
            f"  note: GoAccess's total_requests is {uncounted:,} short of the file's line count{why}."
        )
    return lines


# A combined line whose last field (the user agent) runs to the end without its closing quote.
OPEN_AGENT = re.compile(rb'^\S+ \S+ \S+ \[[^\]]+\] "[^"]*" \d{3} (?:\d+|-) "[^"]*" "[^"]*$')


def line_quirks(path: Path) -> dict[str, int]:
    """Count lines the two tools are known to treat differently: empty, `#`-initial, unclosed agent."""
    q = {"empty": 0, "comment": 0, "open_agent": 0}
    with path.open("rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if not line:
                q["empty"] += 1
            elif line.startswith(b"#"):
                q["comment"] += 1
            elif not line.endswith(b'"') and OPEN_AGENT.match(line):
                q["open_agent"] += 1
    return q


# --- main --------------------------------------------------------------------------------------


def print_runs(res: Result, inp: Input) -> None:
    """One line per run; Rings' runs also show its own in-process timer from the --json summary."""
    for k, run in enumerate(res.runs, 1):
        rate = inp.lines / run.wall if run.wall else float("inf")
        at_most = (
            " (or less: the os.wait4 floor)" if run.rss_floor and run.rss_mib <= run.rss_floor + 1 else ""
        )
        print(
            f"   {res.tool:<14} run {k}: {run.wall:7.2f} s wall, {run.cpu:7.2f} s CPU, "
            f"{rate:10,.0f} lines/s, {run.rss_mib:7,.1f} MiB peak RSS{at_most}, exit {run.code}"
        )
        own = json_field(run.stdout, "seconds") if res.tool.startswith("Rings") else None
        if own is not None:
            print(f"   {'':<14}        (Rings' own `seconds`: {own}; the rest is start-up and imports)")
        if run.code:
            print("   " + (run.stderr.strip() or run.stdout.strip())[-2000:].replace("\n", "\n   "))


def main(argv: list[str] | None = None) -> int:
    """Measure, then print figures, commands, machine and the README table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=1_000_000, help="synthetic log size (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool and input; median wall is shown")
    p.add_argument("--skip-goaccess", action="store_true", help="measure Rings only")
    a = p.parse_args(argv)
    if a.lines < 1 or a.repeat < 1:
        p.error("--lines and --repeat must be positive")

    rings = REPO / ".venv" / "bin" / "rings"
    if not rings.exists():
        found = shutil.which("rings")
        if not found:
            print(f"rings: not found at {rings} nor on PATH (run `make .venv/.installed` in {REPO})")
            return 1
        rings = Path(found)
    goaccess = None if a.skip_goaccess else shutil.which("goaccess")
    if not a.skip_goaccess and not goaccess:
        print("goaccess: not installed (apt-get install goaccess)")
    if not GNU_TIME.exists():
        print(f"{GNU_TIME}: not installed (apt-get install time); measuring with os.wait4 instead")

    OUT.mkdir(parents=True, exist_ok=True)
    inputs = [generated_input(a.lines)]
    real = real_input()
    if real:
        inputs.append(real)

    versions = venv_versions(rings)
    ga_info = goaccess_version(goaccess) if goaccess else None
    rows: list[tuple[Input, Result, Result | None]] = []
    for inp in inputs:
        size = inp.path.stat().st_size / 1024**2
        print(f"\n== {inp.label}: {inp.path.relative_to(REPO)} ({inp.lines:,} lines, {size:,.1f} MiB)")
        print(f"   {inp.note}")
        rings_res = bench_rings(rings, f"Rings {versions.get('rings', '?')}", inp, a.repeat)
        print_runs(rings_res, inp)
        ga = None
        if goaccess and ga_info:
            ga = bench_goaccess(goaccess, f"GoAccess {ga_info[0]}", inp, a.repeat)
            print_runs(ga, inp)
        rows.append((inp, rings_res, ga))

    print("\n== request counts")
    for inp, rings_res, ga in rows:
        if ga is None or not (rings_res.ok and ga.ok):
            print(f"counts, {inp.label} input: {'GoAccess skipped' if ga is None else 'a run failed'}")
            continue
        print("\n".join(compare_counts(inp, rings_res, ga)))

    print(f"\n== commands (each run under {TIMER}, stdin </dev/null, cwd {REPO}; temp dirs fresh per run)")
    for _, rings_res, ga in rows:
        for res in (rings_res, ga):
            if res is not None:
                print(f"$ {_cmd_text(res.command)}")

    print("\n== machine")
    print("\n".join(machine(versions, ga_info)))

    print(f"\n== README table (median of {a.repeat} run(s); lines/s = lines in the file / wall seconds;")
    print("   peak RSS = max over runs; the ratio row divides each Rings figure by GoAccess's)\n")
    print("\n".join(markdown_table(rows)))
    return 0 if all(r.ok and (g is None or g.ok) for _, r, g in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
