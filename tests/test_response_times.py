"""Response times (issue 30): percentiles against the exact ones of known samples, ranges merged
as the histogram of the union, the slowest pages, the path bound, and every format that logs a time."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rings_cli.count.times import ALPHA, TIME_PATHS, bucket_of, quantile, value_of
from rings_cli.source.formats import get_format
from rings_cli.source.parse import Rejects, parse_lines
from tests.conftest import report_json, run_cli

NGINX = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_time'
)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def timed(ip: str, day: int, second: int, path: str, seconds: float) -> str:
    when = dt.datetime(2025, 12, day, 10, tzinfo=dt.UTC) + dt.timedelta(seconds=second)
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" 200 100 "-" "{UA}" {seconds:.3f}'


def ingest(tmp_path: Path, lines: list[str], *args: str, name: str = "access.log") -> Path:
    state = tmp_path / "state"
    log = tmp_path / name
    log.write_text("".join(x + "\n" for x in lines))
    result = run_cli("ingest", "--state-dir", str(state), "--format", NGINX, "-q", *args, str(log))
    assert result.exit_code == 0, result.output
    return state


def exact(samples: list[float], q: float) -> float:
    """The nearest-rank percentile: the ceil(q·n)-th smallest."""
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q * len(ordered) - 1e-9)) - 1]


def within(got: float, want: float) -> bool:
    return abs(got - want) <= ALPHA * want + 1e-6


def samples(seed: int, n: int) -> list[float]:
    rng = random.Random(seed)
    # Mostly fast, a slow tail, some exactly 0 (a cached answer): milliseconds, as nginx writes them.
    return [round(rng.choice([0.0, rng.expovariate(25), rng.lognormvariate(0, 1)]), 3) for _ in range(n)]


def test_percentiles_are_within_two_percent_of_the_exact_ones(tmp_path: Path) -> None:
    times = samples(1, 3000)
    lines = [timed(f"10.0.{i % 200}.{i % 250}", 1, i % 3600, "/", t) for i, t in enumerate(times)]
    state = ingest(tmp_path, lines)
    report = report_json(_state(state), "--all")
    got = report["response_times"]
    assert got["count"] == len(times)
    assert got["mean"] == pytest.approx(sum(times) / len(times), abs=1e-6)  # exact (µs sums)
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert within(got[key], exact(times, q)), (key, got[key], exact(times, q))
    assert within(got["max"], max(times))


def test_a_range_is_the_histogram_of_the_union_of_its_days(tmp_path: Path) -> None:
    first, second = samples(2, 800), samples(3, 1200)
    lines = [timed(f"10.1.0.{i % 250}", 1, i, "/", t) for i, t in enumerate(first)]
    lines += [timed(f"10.2.0.{i % 250}", 2, i, "/", t) for i, t in enumerate(second)]
    state = _state(ingest(tmp_path, lines))
    union = pl.DataFrame({"t": first + second}).select(b=bucket_of(pl.col("t"))).group_by("b").len().sort("b")
    buckets = [(int(b), int(n)) for b, n in union.iter_rows()]
    both = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")["response_times"]
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert both[key] == pytest.approx(quantile(buckets, q), abs=1e-6)
    assert both["max"] == pytest.approx(value_of(buckets[-1][0]), abs=1e-6)
    days = [
        report_json(state, "--start", d, "--end", d)["response_times"] for d in ("2025-12-01", "2025-12-02")
    ]
    assert [d["count"] for d in days] == [800, 1200]
    assert both["count"] == 2000
    assert both["mean"] == pytest.approx(sum(first + second) / 2000, abs=1e-6)


def test_slowest_pages_and_time_served_by_hour(tmp_path: Path) -> None:
    lines = [timed("10.0.0.1", 1, i, "/fast", 0.010) for i in range(10)]
    lines += [timed("10.0.0.2", 1, 100 + i, "/slow?id=1", 2.0 + i / 100) for i in range(6)]
    lines += [timed("10.0.0.3", 1, 3700 + i, "/rare", 9.0) for i in range(4)]  # under 5 requests
    state = _state(ingest(tmp_path, lines))
    report = report_json(state, "--all")
    slow = report["response_times"]["slowest_pages"]
    assert [p["path"] for p in slow] == ["/slow", "/fast"]  # paths without their query; /rare has 4
    assert slow[0]["count"] == 6
    assert within(slow[0]["p50"], 2.02) and within(slow[0]["p95"], 2.05) and within(slow[0]["max"], 2.05)
    assert within(slow[1]["p95"], 0.010)
    hours = {h["hour"]: h["count"] for h in report["response_times"]["hours"]}
    assert hours == {10: 16, 11: 4}
    csv = run_cli(
        "report", "--state-dir", str(state.root), "--all", "-f", "csv", "--section", "slowest_pages"
    )
    assert csv.stdout.splitlines()[0] == "path,count,mean,p50,p95,max"
    table = run_cli("report", "--state-dir", str(state.root), "--all")
    assert "Slowest pages" in table.stdout and "/slow" in table.stdout and "Time served" in table.stdout


def test_a_day_keeps_its_busiest_paths_and_the_rest_as_other(tmp_path: Path) -> None:
    lines = []
    for i in range(TIME_PATHS + 100):
        hits = 2 if i < TIME_PATHS else 1  # the first TIME_PATHS paths are the busiest
        lines += [timed("10.0.0.1", 1, i * 2 + k, f"/p{i}", 0.5) for k in range(hits)]
    state = _state(ingest(tmp_path, lines))
    import duckdb

    con = duckdb.connect(str(state.root / "warehouse.duckdb"), read_only=True)
    paths = dict(con.execute("SELECT path, sum(requests) FROM path_times GROUP BY path").fetchall())
    con.close()
    assert len(paths) == TIME_PATHS + 1
    assert paths["(other)"] == 100
    assert all(paths[f"/p{i}"] == 2 for i in range(TIME_PATHS))


def test_runs_of_an_open_day_add_up_to_one_run(tmp_path: Path) -> None:
    """Kept open in its DO file (inside the grace period), batch after batch, the day has the
    same histograms as when it is written in one go."""
    from rings_cli.core.state import StateDir
    from rings_cli.ingest.run import Ingest

    times = samples(4, 300)
    lines = [timed(f"10.3.0.{i % 250}", 1, i, f"/x{i % 7}", t) for i, t in enumerate(times)]
    after = dt.datetime(2025, 12, 2, 0, 30, tzinfo=dt.UTC)
    many = StateDir(tmp_path / "many")
    for k in range(0, 300, 50):
        log = tmp_path / f"part{k}.log"
        log.write_text("".join(x + "\n" for x in lines[k : k + 50]))
        Ingest(many, fmt=NGINX, now=after).run([str(log)])
    one = _state(ingest(tmp_path, lines))  # the day is over: straight to the warehouse
    assert report_json(many, "--all")["response_times"] == report_json(one, "--all")["response_times"]


def test_no_times_in_the_log_means_no_key(tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_text(f'10.0.0.1 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 100 "-" "{UA}"\n')
    state = tmp_path / "state"
    assert run_cli("ingest", "--state-dir", str(state), "-q", str(log)).exit_code == 0
    assert "response_times" not in report_json(_state(state), "--all")


@pytest.mark.parametrize(
    ("spec", "line", "seconds"),
    [
        (NGINX, f'1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "{UA}" 0.250', 0.25),
        (
            'nginx:$remote_addr [$time_local] "$request" $status $body_bytes_sent $upstream_response_time',
            '1.2.3.4 [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 0.010, 0.030',
            0.010,
        ),
        (
            'apache:%h %l %u %t "%r" %>s %b %D',
            '1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 1500',
            0.0015,
        ),
        (
            'apache:%h %l %u %t "%r" %>s %b %T',
            '1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 3',
            3.0,
        ),
        ("alb", None, 0.001),
        ("elb", None, 0.001178),
        ("haproxy", None, 0.072),
        ("w3c", None, 0.012),  # IIS: time-taken in ms
        ("cloudfront", None, 0.001),  # CloudFront: in seconds
        ("traefik", None, 0.003),
        (
            "caddy",
            '{"ts":1764583200.25,"request":{"remote_ip":"1.2.3.4","method":"GET","host":"a.example","uri":"/",'
            '"headers":{}},"status":200,"size":1,"duration":0.0421}',
            0.0421,
        ),
        (
            "nginx-json",
            '{"time_iso8601":"2025-12-01T10:00:00+00:00","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1",'
            '"status":"200","body_bytes_sent":"1","request_time":"0.321"}',
            0.321,
        ),
    ],
)
def test_every_format_that_logs_a_time_gives_it(spec: str, line: str | None, seconds: float) -> None:
    fmt = get_format(spec).fresh()
    parsed = parse_lines(pl.Series([line or fmt.example]), fmt, Rejects())
    assert parsed.height == 1
    assert parsed.get_column("duration")[0] == pytest.approx(seconds)


def test_a_time_that_is_no_time_is_none_and_the_line_still_counts() -> None:
    fmt = get_format(NGINX)
    lines = [
        f'1.2.3.4 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "{UA}" {value}'
        for value in ("-", "99999999", "0.000")
    ]
    parsed = parse_lines(pl.Series(lines), fmt, Rejects())
    assert parsed.get_column("duration").to_list() == [None, None, 0.0]


def _state(path: Path) -> Any:
    from rings_cli.core.state import StateDir

    return StateDir(path)
