#!/usr/bin/env python3
"""Rings beside GoAccess on the real logs: page views and unique visitors, and what Rings left out.

For every folder of ../shared/data/real (or --data DIR), Rings ingests its files into a fresh state
dir and reports the whole range; GoAccess (1.7, `--ignore-crawlers`) reads the same lines. GoAccess
has no page views: its nearest number is the hits of its Requested Files panel (every request that
is not a static file, whatever its status, method or agent once its crawler list is applied), and
its unique visitors are (address, day, agent) triples with any request. Rings' page views are the
contract's (no bot, GET, 2xx/304, a page, not on exclude_paths) and its unique visitors those with
a page view, per tenant-day. The table is written as Markdown (docs/accuracy.md shows its output).

    python benchmarks/accuracy.py [--data DIR] [--goaccess PATH] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "real"

# folder -> (Rings --format, GoAccess --log-format with its date and time formats)
_CSV = (
    'apache:%v,%p,%h,%l,%u,%t,%I,%O,%S,%B,%{ms}T,%D,%{x}i,%>s,"%H","%m","%U","%q","%{Referer}i",'
    '"%{User-Agent}i","%{y}i",%{z}i'
)
FORMATS: dict[str, tuple[str, list[str]]] = {
    "elastic-apache-2015": ("auto", ["--log-format=COMBINED"]),
    "wordpress-2025": ("auto", ["--log-format=COMBINED"]),
    "farm-nginx": ("auto", ["--log-format=COMBINED"]),
    "farm-apache-vhost": ("auto", ["--log-format=VCOMBINED"]),
    "farm-apache-common": ("auto", ["--log-format=COMMON"]),
    "farm-apache-csv": (
        _CSV,
        [
            '--log-format=%v,%^,%h,%^,%^,[%d:%t %^],%^,%^,%^,%b,%^,%^,%^,%s,"%H","%m","%U","%q","%R","%u",%^',
            "--date-format=%d/%b/%Y",
            "--time-format=%T",
        ],
    ),
}


EVERY_DAY = ("--limit", "1000", "--start", "1990-01-01", "--end", "2099-12-31")
REASONS = ("crawler", "library", "referrer spam", "outdated browser")


def rings(files: list[Path], fmt: str) -> dict[str, Any]:
    """Ingest `files` into a fresh state dir; the report of every day, and the ingest summary."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryDirectory(prefix="rings-accuracy-") as tmp:
        state = ["--state-dir", str(Path(tmp) / "state")]
        cmd = [sys.executable, "-m", "rings_cli", "ingest", *state, "--json", "--format", fmt]
        done = subprocess.run([*cmd, *map(str, files)], capture_output=True, text=True, env=env, check=True)
        summary = json.loads(done.stdout)
        report = subprocess.run(
            [sys.executable, "-m", "rings_cli", "report", *state, "--format", "json", *EVERY_DAY],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return {"summary": summary, "report": json.loads(report.stdout)}


def goaccess(binary: str, files: list[Path], args: list[str], ignore: bool = True) -> dict[str, Any]:
    """GoAccess's JSON report of the same lines (decompressed into one stream), crawlers ignored
    (unless not `ignore`)."""
    with tempfile.TemporaryDirectory(prefix="rings-accuracy-goaccess-") as tmp:
        out = Path(tmp) / "report.json"
        cat = subprocess.Popen(["zcat", *map(str, files)], stdout=subprocess.PIPE)
        cmd = [binary, "-", *args, "--no-global-config", "--no-progress", "-o", str(out)]
        cmd += ["--ignore-crawlers"] if ignore else []
        subprocess.run(cmd, stdin=cat.stdout, capture_output=True, check=True)
        cat.wait()
        return json.loads(out.read_bytes().decode("utf-8", errors="replace"))  # raw bytes of the log


def waterfall(files: list[Path], fmt: str) -> dict[str, int]:
    """Where Rings' requests went, each to the first of: bot (by reason), not GET, status not 2xx
    or 304, an excluded path (login, admin, scanners), an asset or feed, a page view; with Rings'
    own parse and classification, in this process."""
    import gzip

    import polars as pl

    from rings_cli.core.config import Config
    from rings_cli.enrich.classify import _FEED, _HAS_EXTENSION, _PAGE_EXTENSION, classify, exclude_regex
    from rings_cli.source.formatcheck import detect
    from rings_cli.source.formats import get_format
    from rings_cli.source.parse import Rejects, parse_lines

    config = Config()
    out: dict[str, int] = {}
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
            lines = pl.Series("line", f.read().splitlines(), dtype=pl.String)
        log_format = detect(lines.head(1000)) if fmt == "auto" else get_format(fmt)
        assert log_format is not None, path
        frame = classify(parse_lines(lines, log_format.fresh(), Rejects()), config.exclude_paths, config)
        p = pl.col("path").fill_null("")
        status = pl.col("status")
        step = (
            pl.when(pl.col("is_bot"))
            .then(pl.lit("bot: ") + pl.col("bot_reason"))
            .when(pl.col("method") != "GET")
            .then(pl.lit("not GET"))
            .when(~(status.is_between(200, 299) | (status == 304)))
            .then(pl.lit("status not 2xx/304"))
            .when(p.str.contains(exclude_regex(config.exclude_paths) or "$^"))
            .then(pl.lit("excluded path"))
            .when((p.str.contains(_HAS_EXTENSION) & ~p.str.contains(_PAGE_EXTENSION)) | p.str.contains(_FEED))
            .then(pl.lit("asset or feed"))
            .otherwise(pl.lit("page view"))
        )
        for name, n in frame.select(step.alias("step")).get_column("step").value_counts().iter_rows():
            out[name] = out.get(name, 0) + n
    return out


def pct(rings_value: int, goaccess_value: int) -> str:
    if not goaccess_value:
        return "n/a"
    return f"{(rings_value - goaccess_value) / goaccess_value:+.0%}"


def measure(data: Path, binary: str) -> list[dict[str, Any]]:
    rows = []
    for folder, (fmt, ga_args) in FORMATS.items():
        files = sorted((data / folder).glob("*.gz"))
        if not files:
            continue
        ours = rings(files, fmt)
        theirs = goaccess(binary, files, ga_args)
        crawlers = goaccess(binary, files, [a for a in ga_args if a != "--ignore-crawlers"], ignore=False)
        report, general = ours["report"], theirs["general"]
        rows.append(
            {
                "log": folder,
                "lines": ours["summary"]["lines_read"],
                "rings_requests": report["totals"]["requests"],
                "rings_page_views": report["totals"]["page_views"],
                "rings_visitors": report["totals"]["unique_visitors"],
                "rings_bots": report["totals"]["bot_requests"],
                "bots": report["bots"],
                "goaccess_valid": general["valid_requests"],
                "goaccess_page_views": theirs["requests"]["metadata"]["hits"]["total"]["value"],
                "goaccess_visitors": general["unique_visitors"],
                "goaccess_static": theirs["static_requests"]["metadata"]["hits"]["total"]["value"],
                "goaccess_not_found": theirs["not_found"]["metadata"]["hits"]["total"]["value"],
                "goaccess_crawlers": crawlers["general"]["valid_requests"] - general["valid_requests"],
                "waterfall": waterfall(files, fmt),
                "library_browsers": [
                    f"{b['browser']} {b['version']}".strip()
                    for b in report["browsers"]
                    if b["browser"] in ("Java", "Python Requests", "curl", "Wget", "Go-http-client", "okhttp")
                ],
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| log | lines | page views: Rings | GoAccess | diff | unique visitors: Rings | GoAccess | diff "
        "| Rings bot requests (crawler / library / referrer spam / outdated browser) |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|---|"
    )
    out = [head]
    for r in rows:
        b = r["bots"]
        reasons = " / ".join(f"{b.get(k, 0):,}" for k in REASONS)
        out.append(
            f"| {r['log']} | {r['lines']:,} | {r['rings_page_views']:,} | {r['goaccess_page_views']:,} "
            f"| {pct(r['rings_page_views'], r['goaccess_page_views'])} | {r['rings_visitors']:,} "
            f"| {r['goaccess_visitors']:,} | {pct(r['rings_visitors'], r['goaccess_visitors'])} "
            f"| {r['rings_bots']:,} ({reasons}) |"
        )
    out += [
        "",
        "Where Rings' requests went (the first that applies) | GoAccess: crawler requests it ignored, "
        "static files, 404s",
        "",
    ]
    for r in rows:
        steps = ", ".join(f"{k} {v:,}" for k, v in sorted(r["waterfall"].items(), key=lambda kv: -kv[1]))
        out.append(
            f"- {r['log']}: {steps} | GoAccess: crawlers {r['goaccess_crawlers']:,}, static "
            f"{r['goaccess_static']:,}, not found {r['goaccess_not_found']:,}"
        )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--goaccess", default=shutil.which("goaccess") or "goaccess")
    parser.add_argument("--json", type=Path, help="also write every number measured to this file")
    args = parser.parse_args()
    rows = measure(args.data, args.goaccess)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    for r in rows:
        if r["library_browsers"]:
            print(f"{r['log']}: library agents among the browsers: {r['library_browsers']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
