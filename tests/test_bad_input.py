"""Bad input never crashes and never hides a valid line; every reject has a reason; --rejects; globs."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rings_cli.core.config import Config
from rings_cli.core.state import StateDir
from rings_cli.enrich.classify import classify
from rings_cli.enrich.events import assign_events
from rings_cli.source.formats import FORMATS, get_format
from rings_cli.source.inputs import expand_paths
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines
from tests.conftest import line, report_json, run_cli

JSON_LINE = FORMATS["caddy"].example


def test_nasty_lines_are_counted_by_reason_and_valid_ones_kept(tmp_path: Path) -> None:
    good = [line(ip=f"10.0.0.{i}") for i in range(5)]
    nasty = [
        "",
        "   ",
        good[0][:30],  # truncated
        "x" * (1024 * 1024),  # a 1 MB line
        line(when="31/Feb/2025:10:00:00 +0000"),
    ]
    raw = "\n".join([good[0], *nasty[:2], good[1], nasty[2], good[2], nasty[3], good[3], nasty[4], good[4]])
    data = raw.encode() + b"\n\xff\xfe\x00garbage\n"
    frame, rejects = parse(data, "combined")
    assert sorted(frame.get_column("ip").to_list()) == [f"10.0.0.{i}" for i in range(5)]
    assert rejects.counts == {"empty": 2, "unparseable": 2, "too long": 1, "bad timestamp": 1}


def parse(data: bytes, spec: str) -> tuple[pl.DataFrame, Rejects]:
    rejects = Rejects(keep=100)
    return parse_lines(lines_from_bytes(data), get_format(spec), rejects), rejects


def test_rejects_file_has_source_reason_and_raw_line(tmp_path: Path, write_log) -> None:
    log = write_log([line(), "junk one", line(vhost="../../etc"), "junk two", "junk three"])
    out = tmp_path / "rejects.tsv"
    state = tmp_path / "state"
    result = run_cli(
        "ingest",
        "--state-dir",
        str(state),
        "--json",
        "-f",
        "vcombined",
        "--rejects",
        str(out),
        "--rejects-limit",
        "3",
        str(log),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rejected_by_reason"] == {"unparseable": 4, "bad tenant": 1}
    rows = [r.split("\t") for r in out.read_text().splitlines()]
    assert [r[1] for r in rows] == ["unparseable"] * 3 and rows[1][2] == "junk one"
    assert {r[0] for r in rows} == {str(log)}
    assert os.stat(out).st_mode & 0o077 == 0  # raw IPs: owner only


def test_bad_tenant_lines_reach_the_rejects_file(tmp_path: Path, write_log) -> None:
    log = write_log([line(vhost="ok.example"), line(vhost="Bad_Host!")])
    out = tmp_path / "rejects.tsv"
    result = run_cli("ingest", "--state-dir", str(tmp_path / "s"), "--json", "--rejects", str(out), str(log))
    assert json.loads(result.stdout)["rejected_by_reason"] == {"bad tenant": 1}
    reason, raw = out.read_text().rstrip("\n").split("\t")[1:]
    assert reason == "bad tenant" and raw.startswith("Bad_Host!")


@settings(max_examples=40, deadline=None)
@given(
    garbage=st.lists(st.binary(max_size=300), max_size=15),
    valid=st.integers(0, 10),
    spec=st.sampled_from(["caddy", "events", "w3c", "cloudfront", "alb", "nginx-json", "traefik"]),
)
def test_no_format_crashes_or_loses_lines_on_garbage(garbage: list[bytes], valid: int, spec: str) -> None:
    fmt = FORMATS[spec]
    good = [fmt.example.encode()] * valid
    junk = [g.replace(b"\n", b" ").replace(b"\r", b" ") for g in garbage]
    mixed = (
        [x for pair in zip(junk, good, strict=False) for x in pair] + junk[len(good) :] + good[len(junk) :]
    )
    if not mixed:
        return
    frame, rejects = parse(b"\n".join(mixed) + b"\n", spec)
    assert frame.height >= valid
    assert frame.height + rejects.total == len(mixed)


@settings(max_examples=40, deadline=None)
@given(
    fields=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=30), min_size=1, max_size=12
    ),
    json_values=st.dictionaries(
        st.sampled_from(["type", "timestamp", "status", "request", "ts", "path", "RequestMethod"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(allow_nan=False),
            st.text(max_size=20),
            st.lists(st.integers()),
        ),
    ),
)
def test_json_and_tab_shaped_garbage_never_crash(fields: list[str], json_values: dict[str, object]) -> None:
    lines = [json.dumps(json_values), "\t".join(fields), " ".join(fields), "{" + "".join(fields)]
    for spec in ("caddy", "events", "traefik-json", "nginx-json", "cloudfront", "w3c", "elb"):
        data = "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n"
        frame, rejects = parse(data, spec)
        assert frame.height + rejects.total == len(lines_from_bytes(data))


@settings(max_examples=30, deadline=None)
@given(
    path=st.from_regex(r"\A/[A-Za-z0-9/_.~%-]{0,40}\Z"),
    ua=st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='"\\'), max_size=40),
    status=st.integers(100, 599),
)
def test_custom_formats_round_trip(path: str, ua: str, status: int) -> None:
    text = f'203.0.113.9 [01/Dec/2025:10:00:00 +0000] "GET {path} HTTP/1.1" {status} 12 "{ua}" example.org'
    for spec in (
        'nginx:$remote_addr [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" $host',
        'apache:%h %t "%r" %>s %b "%{User-Agent}i" %v',
    ):
        frame, rejects = parse((text + "\n").encode(), spec)
        assert rejects.total == 0, spec
        assert frame.select("target", "status", "ua", "vhost").row(0) == (path, status, ua, "example.org")


def test_events_and_post_ids() -> None:
    lines = [
        '{"type":"page_view","timestamp":1764583200000,"visitorHash":"v1","path":"/posts/hello/"}',
        '{"type":"post_view","timestamp":"2025-12-01T10:00:01Z","visitorHash":"v1","path":"/x","postId":"p9"}',
        '{"type":"reaction","timestamp":1764583202000,"postId":"hello","data":{"reactionType":"heart"}}',
        '{"type":"teleport","timestamp":1764583203000}',
        '{"type":"comment","timestamp":"yesterday"}',
    ]
    frame, rejects = parse("\n".join(lines).encode(), "events")
    frame = assign_events(classify(frame), Config())
    assert frame.select("ip", "ua", "event", "post_id", "is_page_view").rows() == [
        ("v1", "", "page_view", "hello", True),
        ("v1", "", "post_view", "p9", True),
        ("", "", "reaction", "hello", False),
    ]
    assert rejects.counts == {"unknown event": 1, "bad timestamp": 1}


def test_default_rules_on_log_lines() -> None:
    lines = [
        line(request="POST /comment HTTP/1.1", status=302),
        line(request="POST /api/posts/hello/reactions HTTP/1.1", status=201),
        line(request="POST /login HTTP/1.1", status=401),
        line(request="GET /search?q=x HTTP/1.1"),
        line(request="GET /blog/hello-world HTTP/1.1"),
        line(request="GET /blog/ HTTP/1.1"),
    ]
    frame, _ = parse("\n".join(lines).encode(), "combined")
    frame = assign_events(classify(frame), Config())
    assert frame.select("event", "post_id").rows() == [
        ("comment", None),
        ("reaction", "hello"),
        (None, None),
        ("search", None),
        ("post_view", "hello-world"),
        (None, None),
    ]


def test_globs_and_rotated_sets_oldest_first(tmp_path: Path) -> None:
    for name, day in [
        ("access.log", "04"),
        ("access.log.1", "03"),
        ("access.log.2.gz", "02"),
        ("access.log.10.gz", "01"),
    ]:
        text = line(when=f"{day}/Dec/2025:10:00:00 +0000") + "\n"
        path = tmp_path / name
        if name.endswith(".gz"):
            with gzip.open(path, "wt") as f:
                f.write(text)
        else:
            path.write_text(text)
    pattern = str(tmp_path / "access.log*")
    assert [Path(p).name for p in expand_paths([pattern])] == [
        "access.log.10.gz",
        "access.log.2.gz",
        "access.log.1",
        "access.log",
    ]
    state = StateDir(tmp_path / "state")
    result = run_cli("ingest", "--state-dir", str(state.root), "--json", "--no-finalize", pattern)
    assert json.loads(result.stdout)["days"] == ["2025-12-01", "2025-12-02", "2025-12-03", "2025-12-04"]
    assert report_json(state, "--start", "2025-12-01", "--end", "2025-12-04")["totals"]["page_views"] == 4
    missing = run_cli("ingest", "--state-dir", str(state.root), str(tmp_path / "nothing*.log"))
    assert missing.exit_code == 2 and "no file matches" in missing.stderr


# --- issue 25, item 10: sizes, statuses and lone surrogates -----------------------------------


def test_negative_and_fractional_sizes_are_bad_sizes_in_every_grammar() -> None:
    """A size that is a number but no size is `bad size`, as docs/state-dir.md says, not a line
    that does not fit (`unparseable`): in CLF and in custom formats alike."""
    sizes = ["-1", "1.5", "+7", "512", "-", "1.0"]
    data = "".join(line(size=s) + "\n" for s in sizes).encode()
    for spec in ("combined", 'apache:%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'):
        frame, rejects = parse(data, spec)
        assert rejects.counts == {"bad size": 2}, spec  # -1 and 1.5
        assert sorted(frame.get_column("bytes").to_list()) == [0, 1, 7, 512], spec


def _json_line(**fields: object) -> str:
    base: dict[str, object] = {
        "ip": "203.0.113.9",
        "host": "example.com",
        "path": "/",
        "status": 200,
        "user_agent": "Mozilla/5.0",
        "date": "2025-12-01T10:00:00+00:00",
    }
    return json.dumps({**base, **fields})


def test_a_status_that_is_no_status_is_a_bad_status() -> None:
    statuses: list[object] = [-200, "-200", 2000, "200.5", "abc", 200, 200.0, "404", " 304 ", 0]
    data = "".join(_json_line(status=s) + "\n" for s in statuses).encode()
    frame, rejects = parse(data, "json")
    assert rejects.counts == {"bad status": 5}
    # (JSON's 200.0 is the number 200: the decoder gives it as "200")
    assert sorted(frame.get_column("status").to_list()) == [0, 200, 200, 304, 404]
    no_status = (_json_line(status="-") + "\n").encode()  # none written: a request of status -
    frame, rejects = parse(no_status, "json")
    assert rejects.counts == {} and frame.get_column("status").to_list() == [0]


def test_a_lone_surrogate_in_a_json_field_keeps_the_line() -> None:
    """`\\udfff` (a lone UTF-16 surrogate, escaped) is text any client can send: the line counts,
    the surrogate read as U+FFFD like undecodable bytes; pairs are the characters they encode, and
    an escaped backslash before `u` stays text."""
    raw = [
        _json_line(user_agent="Mozilla/5.0 X").replace(" X", " \\udfff"),
        _json_line(user_agent="Mozilla/5.0 X").replace(" X", " \\ud800"),
        _json_line(path="/X").replace("/X", "/\\ud83d\\ude00"),
        _json_line(user_agent="Mozilla/5.0 \\udfff"),  # json.dumps escapes the backslash
    ]
    frame, rejects = parse("".join(r + "\n" for r in raw).encode(), "json")
    assert rejects.counts == {}
    assert frame.get_column("ua").to_list() == [
        "Mozilla/5.0 \ufffd",
        "Mozilla/5.0 \ufffd",
        "Mozilla/5.0",
        "Mozilla/5.0 \\udfff",
    ]
    assert frame.get_column("target").to_list()[2] == "/\U0001f600"
    caddy = JSON_LINE.replace('"Mozilla/5.0"', '"Mozilla/5.0 \\udfff"')
    frame, rejects = parse((caddy + "\n").encode(), "caddy")
    assert rejects.counts == {} and frame.get_column("ua").to_list() == ["Mozilla/5.0 \ufffd"]
