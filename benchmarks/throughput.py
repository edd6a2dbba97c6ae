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
            else:  # the kernel's rusage of exactly this child: same figures, no GNU time needed
                t0 = time.perf_counter()
                proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                code = proc.returncode = os.waitstatus_to_exitcode(status)
                cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        return Run(wall, cpu, rss, code, out.read_text(errors="replace"), err.read_text(errors="replace"))


def bench_rings(rings: Path, inp: Input, repeat: int) -> Result:
    """`rings ingest` into a fresh state dir per run; counts from its `--json` summary."""
    res = Result("Rings", [])
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


def goaccess_cmd(goaccess: str, log: Path, report: Path, *extra: str) -> list[str]:
    """Parse the whole file with the predefined COMBINED format, write JSON, never touch a TTY."""
    return [
        goaccess, str(log), "--log-format=COMBINED", "--no-global-config",
        "--no-progress", "--no-parsing-spinner", "-o", str(report), *extra,
    ]  # fmt: skip


def bench_goaccess(goaccess: str, inp: Input, repeat: int) -> Result:
    """GoAccess to a JSON report in a fresh temp dir per run; counts from its `general` section."""
    res = Result("GoAccess", [])
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
    if not path.exists() or path.stat().st_mtime < GENERATOR.stat().st_mtime:
        sys.path.insert(0, str(GENERATOR.parent))
        from generate import generate  # sample_data/ is not a package

        print(
            f"generating {lines:,} lines -> {path.relative_to(REPO)} (cached for later runs) ...", flush=True
        )
        t0 = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            f.writelines(line + "\n" for line in generate(lines, **GEN_ARGS))  # type: ignore[arg-type]
        tmp.replace(path)
        print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    args = ", ".join(f"{k}={v!r}" for k, v in GEN_ARGS.items())
    return Input("synthetic", path, count_lines(path), f"sample_data/generate.py: generate({lines}, {args})")


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


def _venv_versions(rings: Path) -> str:
    """Python and package versions of the interpreter that runs `rings`."""
    python = rings.parent / "python"
    code = (
        "import importlib.metadata as m, platform\n"
        "v = [f'python {platform.python_version()}']\n"
        "for p in ('rings', 'polars', 'duckdb', 'pyarrow'):\n"
        "    try: v.append(f'{p} {m.version(p)}')\n"
        "    except m.PackageNotFoundError: v.append(f'{p} ?')\n"
        "print(', '.join(v))"
    )
    if not python.exists():
        return "unknown (no python next to rings)"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return done.stdout.strip() or done.stderr.strip()


def machine(rings: Path, goaccess: str | None) -> list[str]:
    """Lines describing the host and tool versions."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ga = "not installed"
    if goaccess:
        done = subprocess.run(
            [goaccess, "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        ga = next((ln.strip() for ln in done.stdout.splitlines() if ln.strip()), "?")
    return [
        f"CPU: {model.group(1) if model else platform.processor() or '?'}, nproc {nproc}",
        f"memory: {int(mem.group(1)) / 1024**2:.1f} GiB" if mem else "memory: ?",
        f"OS: {platform.platform()}",
        f"rings venv: {_venv_versions(rings)}",
        f"GoAccess: {ga}",
        f"timer: {'GNU time -v (' + str(GNU_TIME) + ')' if GNU_TIME.exists() else 'os.wait4 rusage'}",
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
            cells = [f"{res.wall:.2f}", f"{rate:,.0f}", f"{res.cpu:.2f}", f"{res.rss:,.0f}"]
            out.append(_fmt_row([inp.label, f"{inp.lines:,}", res.tool, *cells]))
        if goaccess and rings.ok and goaccess.ok and goaccess.wall and goaccess.rss:
            ratios = [rings.wall / goaccess.wall, goaccess.wall / rings.wall, rings.cpu / goaccess.cpu]
            cells = [f"{x:.2f}x" for x in ratios] + [f"{rings.rss / goaccess.rss:.1f}x"]
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
    valid, requests = g.get("valid_requests"), r.get("requests")
    if not isinstance(valid, int) or not isinstance(requests, int):
        return [*lines, "  note: a count is missing, cannot compare"]
    diff = valid - requests
    if diff == 0:
        lines.append("  note: both tools count the same number of valid requests.")
    else:
        more, fewer = ("GoAccess", "Rings") if diff > 0 else ("Rings", "GoAccess")
        lines.append(
            f"  note: {more} accepts {abs(diff):,} line(s) that {fewer} rejects "
            f"({abs(diff) / max(inp.lines, 1):.4%} of the file)."
        )
    total = g.get("total_requests")
    if isinstance(total, int) and total != inp.lines:
        lines.append(
            f"  note: GoAccess's total_requests ({total:,}) is not the file's line count "
            f"({inp.lines:,}): it does not count {inp.lines - total:,} line(s) at all (e.g. empty ones)."
        )
    return lines


def explain_goaccess_rejects(goaccess: str, inp: Input) -> list[str]:
    """Untimed extra GoAccess run with --invalid-requests, so its rejected lines can be inspected."""
    target = OUT / f"goaccess-invalid-{inp.label}.log"
    with tempfile.TemporaryDirectory(prefix="rings-bench-goaccess-") as tmp:
        cmd = goaccess_cmd(goaccess, inp.path, Path(tmp) / "report.json", f"--invalid-requests={target}")
        subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    if not target.exists():
        return []
    shown = target.relative_to(REPO)
    return [f"  GoAccess's rejected lines (untimed rerun with --invalid-requests): {shown}"]


# --- main --------------------------------------------------------------------------------------


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

    rows: list[tuple[Input, Result, Result | None]] = []
    for inp in inputs:
        size = inp.path.stat().st_size / 1024**2
        print(f"\n== {inp.label}: {inp.path.relative_to(REPO)} ({inp.lines:,} lines, {size:,.1f} MiB)")
        print(f"   {inp.note}")
        results = [bench_rings(rings, inp, a.repeat)]
        if goaccess:
            results.append(bench_goaccess(goaccess, inp, a.repeat))
        for res in results:
            for k, run in enumerate(res.runs, 1):
                rate = inp.lines / run.wall if run.wall else float("inf")
                print(
                    f"   {res.tool:<8} run {k}: {run.wall:7.2f} s wall, {run.cpu:7.2f} s CPU, "
                    f"{rate:12,.0f} lines/s, {run.rss_mib:8,.1f} MiB peak RSS, exit {run.code}"
                )
                if run.code:
                    print("   " + (run.stderr.strip() or run.stdout.strip())[-2000:].replace("\n", "\n   "))
        ga = results[1] if len(results) > 1 else None
        rows.append((inp, results[0], ga))

    print("\n== request counts")
    for inp, rings_res, ga in rows:
        if ga is None or not (rings_res.ok and ga.ok):
            print(f"counts, {inp.label} input: {'GoAccess skipped' if ga is None else 'a run failed'}")
            continue
        print("\n".join(compare_counts(inp, rings_res, ga)))
        differ = ga.counts.get("valid_requests") != rings_res.counts.get("requests")
        if goaccess and inp.label == "real" and differ:
            print("\n".join(explain_goaccess_rejects(goaccess, inp)))

    print("\n== commands (each run under `/usr/bin/time -v`, stdin </dev/null; temp dirs are fresh per run)")
    for _, rings_res, ga in rows:
        for res in (rings_res, ga):
            if res is not None:
                print(f"$ {_cmd_text(res.command)}")

    print("\n== machine")
    print("\n".join(machine(rings, goaccess)))

    print(f"\n== README table (median of {a.repeat} run(s); lines/s = lines in the file / wall seconds)\n")
    print("\n".join(markdown_table(rows)))
    return 0 if all(r.ok and (g is None or g.ok) for _, r, g in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
