"""Every format: the same traffic gives the same numbers; detection; custom nginx/apache formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.source.formatcheck import detect
from rings_cli.source.formats import FORMATS, get_format
from rings_cli.source.parse import Rejects, parse_lines
from tests.conftest import REAL_DATA, ROOT, report_json, run_cli
from tests.reference import is_bot, is_page
from tests.renderers import RENDERERS, event_line, records

sys.path.insert(0, str(ROOT / "sample_data"))
from generate import generate


@pytest.fixture(scope="module")
def traffic() -> list[Any]:
    return records(list(generate(lines=3_000, seed=21, days=2, fmt="vcombined", garbage=0)))


def _totals(tmp_path: Path, name: str, fmt: str, lines: list[str]) -> dict[str, Any]:
    log = tmp_path / f"{name}.log"
    log.write_text("\n".join(lines) + "\n")
    state = StateDir(tmp_path / name)
    summary = Ingest(state, fmt=fmt, tenant="site", grace=None).run([str(log)])
    totals = report_json(state, "--start", "2025-12-01", "--end", "2025-12-02")["totals"]
    return {"summary": summary, **totals}


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_same_traffic_in_each_format_gives_the_same_numbers(
    tmp_path: Path, traffic: list[Any], fmt: str
) -> None:
    header, render, carried = RENDERERS[fmt]
    baseline = _totals(tmp_path, "base", "vcombined", [render_vc(r) for r in traffic])
    assert baseline["requests"] == len(traffic) and baseline["page_views"] > 500
    got = _totals(tmp_path, "x", fmt, header + [render(r) for r in traffic])
    assert got["summary"].rejected == ({"comment": len(header)} if header else {})
    for key in carried:
        assert got[key] == baseline[key], key


def render_vc(r: Any) -> str:
    return RENDERERS["vcombined"][1](r)


def test_auto_detection_picks_each_predefined_format(tmp_path: Path, traffic: list[Any]) -> None:
    for name, (header, render, _) in RENDERERS.items():
        if name not in FORMATS:
            continue
        found = detect(pl.Series(header + [render(r) for r in traffic[:50]]))
        assert found is not None and found.name == name


def test_events_give_the_same_page_views_and_uniques(tmp_path: Path, traffic: list[Any]) -> None:
    baseline = _totals(tmp_path, "base", "vcombined", [render_vc(r) for r in traffic])
    views = [
        r
        for r in traffic
        if not is_bot(r.ua)
        and r.method == "GET"
        and (200 <= r.status < 300 or r.status == 304)
        and is_page(r.path_query[0])
    ]
    lines = [event_line(r) for r in views] + [event_line(views[0], "reaction", postId="hello-world")]
    got = _totals(tmp_path, "events", "auto", lines)
    assert got["page_views"] == baseline["page_views"]
    assert got["unique_visitors"] == baseline["unique_visitors"]
    assert got["requests"] == len(views) + 1  # events are requests too
    assert got["summary"].formats == {str(tmp_path / "events.log"): "events"}


def test_formats_command_lists_every_format() -> None:
    result = run_cli("formats")
    assert result.exit_code == 0
    for name, fmt in FORMATS.items():
        assert name in result.stdout and fmt.example.splitlines()[0][:40] in result.stdout
    assert "nginx:" in result.stdout and "apache:" in result.stdout


def parse(lines: list[str], spec: str) -> tuple[pl.DataFrame, Rejects]:
    rejects = Rejects()
    return parse_lines(pl.Series(lines, dtype=pl.String), get_format(spec), rejects), rejects


def test_nginx_config_line_can_be_pasted_whole() -> None:
    spec = (
        "nginx:log_format main '$remote_addr - $remote_user [$time_local] \"$request\" '\n"
        '    \'$status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"\';'
    )
    frame, rejects = parse(
        [
            '10.0.0.2 - - [01/Dec/2025:10:00:00 +0100] "GET /a?b=1 HTTP/1.1" 200 9 "-" "UA x" '
            '"198.51.100.7, 10.0.0.9"'
        ],
        spec,
    )
    assert rejects.total == 0
    row = frame.row(0, named=True)
    assert (row["ip"], row["target"], row["bytes"], row["ua"], row["xff"]) == (
        "10.0.0.2",
        "/a?b=1",
        9,
        "UA x",
        "198.51.100.7, 10.0.0.9",
    )
    assert row["ts"].hour == 9


def test_apache_logformat_directive_and_escaped_quotes() -> None:
    spec = (
        'apache:LogFormat "%v %h %l %u %t \\"%r\\" %>s %b '
        '\\"%{Referer}i\\" \\"%{User-Agent}i\\"" vhost_combined'
    )
    frame, rejects = parse(
        [
            'blog.example 203.0.113.5 - - [01/Dec/2025:10:00:00 +0000] "GET /q?x=\\"y\\" HTTP/1.1" 404 - '
            '"-" "A \\"B\\""'
        ],
        spec,
    )
    assert rejects.total == 0
    row = frame.row(0, named=True)
    assert (row["vhost"], row["status"], row["bytes"], row["ua"]) == ("blog.example", 404, 0, 'A \\"B\\"')


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nginx:$remote_addr $status", "custom format needs a time, a status and a request"),
        ("apache:plain text", "apache format has no variables"),
        ("apache:%h %{%Y}t %r %>s", "%{%Y}t is not supported"),
    ],
)
def test_bad_custom_formats_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        get_format(spec)
    result = run_cli("ingest", "--format", spec, "/dev/null")
    assert result.exit_code == 2 and message in result.stderr


def test_w3c_fields_header_can_change_mid_file() -> None:
    fmt = get_format("w3c")
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status",
        "2025-12-01 10:00:00 203.0.113.1 GET /a 200",
        "#Fields: date time cs-method cs-uri-stem cs-uri-query sc-status c-ip sc-bytes cs-host",
        "2025-12-01 11:00:00 GET /b x=1 304 203.0.113.2 77 Example.org",
    ]
    rejects = Rejects()
    frame = parse_lines(pl.Series(lines[:2]), fmt, rejects)
    frame = pl.concat([frame, parse_lines(pl.Series(lines[2:]), fmt, rejects)])  # state spans batches
    assert frame.select("ip", "target", "status", "bytes", "vhost").rows() == [
        ("203.0.113.1", "/a", 200, 0, None),
        ("203.0.113.2", "/b?x=1", 304, 77, "Example.org"),
    ]
    assert rejects.counts == {"comment": 2}


def test_load_balancer_url_gives_host_and_path() -> None:
    frame, _ = parse([RENDERERS["alb"][1](_rec())], "alb")
    assert frame.select("vhost", "target", "ip").row(0) == ("example.com:443", "/p?q=1", "203.0.113.9")


def _rec() -> Any:
    import datetime as dt

    from tests.renderers import Rec

    when = dt.datetime(2025, 12, 1, 10, tzinfo=dt.UTC)
    return Rec(
        "example.com:443",
        "203.0.113.9",
        when,
        "01/Dec/2025:10:00:00 +0000",
        "GET",
        "/p?q=1",
        "HTTP/1.1",
        200,
        "5",
        "-",
        "UA",
    )


CSV_LOGFORMAT = (
    'apache:%v,%p,%h,%l,%u,%t,%I,%O,%S,%B,%{ms}T,%D,%^FB,%>s,"%H","%m","%U","%q",'
    '"%{Referer}i","%{User-Agent}i","%{VARNAME}C",%L'
)


@pytest.mark.skipif(not (REAL_DATA / "farm-apache-csv").is_dir(), reason="no ../shared/data/real")
def test_real_csv_log_through_an_apache_logformat(tmp_path: Path) -> None:
    pattern = str(REAL_DATA / "farm-apache-csv" / "*.gz")
    result = run_cli(
        "ingest", "--state-dir", str(tmp_path / "s"), "--json", "--no-finalize", "-f", CSV_LOGFORMAT, pattern
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["lines_read"] == summary["parsed"] == summary["requests"] == 19_282
    assert summary["rejected"] == 0
    assert summary["tenants"] == ["farmfreshsoftware.com", "farmwork.app"]
