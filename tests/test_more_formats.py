"""Issue 17: the formats GoAccess and Matomo's log importer read (HAProxy, S3, GCS, Squid, quoted
and local-time W3C, JSON with other key names, hosting variants), `no request` lines, tenants of
storage logs, `--log-timezone`, and detection as a contest that no new format may win unfairly.

Lines are written from the vendors' documentation (addresses from the documentation ranges).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rings_cli.core.errors import UsageError
from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.source.formatcheck import detect
from rings_cli.source.formats import FORMATS, get_format
from rings_cli.source.inputs import open_source
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines
from rings_cli.source.tail import HEAD_BYTES
from tests.conftest import REAL_DATA, report_json, run_cli

UTC = dt.UTC
COLS = ["ts", "vhost", "ip", "method", "target", "status", "bytes", "referrer", "ua"]


def parse(lines: list[str], spec: str, tz: str = "UTC") -> tuple[list[dict[str, Any]], dict[str, int]]:
    rejects = Rejects()
    frame = parse_lines(pl.Series(lines, dtype=pl.String), get_format(spec), rejects, tz)
    return frame.select(COLS).to_dicts(), rejects.counts


def detected(lines: list[str]) -> str | None:
    found = detect(pl.Series(lines, dtype=pl.String))
    return found.name if found is not None else None


def ingest_json(tmp_path: Path, lines: list[str], *args: str) -> dict[str, Any]:
    log = tmp_path / "in.log"
    log.write_text("\n".join(lines) + "\n")
    result = run_cli("ingest", "--state-dir", str(tmp_path / "s"), "--json", "--no-finalize", *args, str(log))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- HAProxy -------------------------------------------------------------------------------------

HAPROXY_PLAIN = (
    "Dec  1 10:05:27 lb1 haproxy[6801]: 198.51.100.4:55008 [01/Dec/2025:10:05:27.584] www~ "
    'web/app1 0/0/0/72/72 200 7456 - - ---- 5/4/0/1/0 0/0 "POST /user/ HTTP/1.1"'
)
HAPROXY_CAPTURED = (
    "Dec  1 10:14:14 localhost haproxy[14389]: 203.0.113.2:33317 [01/Dec/2025:10:14:14.655] http-in "
    "static/srv1 10/0/30/69/109 304 0 - - ---- 1/1/1/1/0 0/0 {www.example.com|Mozilla/5.0 (X11; Linux "
    'x86_64) Firefox/145.0} {} "GET /index.html?lang=en HTTP/1.1"'
)
# Headers captured in another order (User-Agent, Referer, Host), and no syslog prefix (log stdout).
HAPROXY_REORDERED = (
    "203.0.113.3:40112 [01/Dec/2025:10:20:00.001] fe be/s2 0/0/1/3/4 404 312 - - --NI 2/2/0/0/0 0/0 "
    '{curl/8.5.0|https://duckduckgo.com/|blog.example.org:8443} "HEAD /missing HTTP/1.1"'
)
HAPROXY_TCP = (
    "Dec  1 10:12:56 localhost haproxy[14387]: 203.0.113.4:33313 [01/Dec/2025:10:12:51.443] fnt "
    "bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0"
)


def test_haproxy_http_log_with_and_without_captured_headers() -> None:
    rows, rejects = parse([HAPROXY_PLAIN, HAPROXY_CAPTURED, HAPROXY_REORDERED, HAPROXY_TCP], "haproxy")
    assert rejects == {"no request": 1}  # the TCP-mode line: counted apart, not unparseable
    assert [(r["ip"], r["method"], r["target"], r["status"], r["bytes"]) for r in rows] == [
        ("198.51.100.4", "POST", "/user/", 200, 7456),
        ("203.0.113.2", "GET", "/index.html?lang=en", 304, 0),
        ("203.0.113.3", "HEAD", "/missing", 404, 312),
    ]
    assert [(r["vhost"], r["ua"], r["referrer"]) for r in rows] == [
        (None, "", None),
        ("www.example.com", "Mozilla/5.0 (X11; Linux x86_64) Firefox/145.0", None),
        ("blog.example.org:8443", "curl/8.5.0", "https://duckduckgo.com/"),
    ]
    # The accept date has no offset: UTC by default, milliseconds kept.
    assert rows[0]["ts"] == dt.datetime(2025, 12, 1, 10, 5, 27, 584000, tzinfo=UTC)
    assert detected([HAPROXY_PLAIN, HAPROXY_CAPTURED, HAPROXY_TCP]) == "haproxy"


def test_haproxy_accept_date_is_read_in_the_log_timezone() -> None:
    rows, _ = parse([HAPROXY_PLAIN], "haproxy", tz="Europe/Paris")  # UTC+1 in December
    assert rows[0]["ts"] == dt.datetime(2025, 12, 1, 9, 5, 27, 584000, tzinfo=UTC)


# --- Amazon S3 -----------------------------------------------------------------------------------

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
S3_NEW = (
    f"{OWNER} amzn-s3-demo-bucket1 [01/Dec/2025:10:00:38 +0000] 192.0.2.3 {OWNER} 3E57427F3EXAMPLE "
    'REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" '
    '"S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= '
    "SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com "
    "TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes us-east-1"
)
S3_WEBSITE = (
    f"{OWNER} www.example.com [01/Dec/2025:10:01:00 +0100] 198.51.100.7 - A1206F460EXAMPLE "
    'WEBSITE.GET.OBJECT posts/hello.html "GET /posts/hello.html HTTP/1.1" 200 - 2662 2662 20 19 '
    '"https://duckduckgo.com/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" - '
    "Ke1bUcazaN1jWuUlPJaxF64cQVpUEhoZKEG/hmy/gijN/I1DeWqDfFvnpybfEseEME/u7ME1234= - - - "
    "blog.example.com - - -"
)
# The older layout: nothing after the user agent.
S3_OLD = (
    f"{OWNER} amzn-s3-demo-bucket2 [01/Dec/2025:10:02:00 +0000] 192.0.2.9 - 7B4A0FABBEXAMPLE "
    'REST.GET.OBJECT img/a.png "GET /img/a.png HTTP/1.1" 304 - - 1024 9 - "-" "curl/8.5.0"'
)
# A lifecycle action: S3 itself, no HTTP request, no status.
S3_LIFECYCLE = (
    f"{OWNER} amzn-s3-demo-bucket2 [01/Dec/2025:10:03:00 +0000] - AmazonS3 9C2B1C9AEXAMPLE "
    'S3.EXPIRE.OBJECT old/a.png "-" - - - 1024 - - "-" "-" -'
)


def test_s3_server_access_log_with_old_and_new_field_sets() -> None:
    rows, rejects = parse([S3_NEW, S3_WEBSITE, S3_OLD, S3_LIFECYCLE], "s3")
    assert rejects == {"no request": 1}
    assert [(r["ip"], r["method"], r["target"], r["status"], r["bytes"], r["ua"]) for r in rows] == [
        ("192.0.2.3", "GET", "/amzn-s3-demo-bucket1?versioning", 200, 113, "S3Console/0.4"),
        ("198.51.100.7", "GET", "/posts/hello.html", 200, 2662, "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
        ("192.0.2.9", "GET", "/img/a.png", 304, 0, "curl/8.5.0"),
    ]
    # Host header when it is the site's own name, else the bucket (an S3 endpoint is no site).
    assert [r["vhost"] for r in rows] == ["amzn-s3-demo-bucket1", "blog.example.com", "amzn-s3-demo-bucket2"]
    assert rows[1]["ts"] == dt.datetime(2025, 12, 1, 9, 1, tzinfo=UTC)
    assert detected([S3_NEW, S3_WEBSITE, S3_OLD, S3_LIFECYCLE]) == "s3"


def test_s3_tenants_come_from_host_else_bucket(tmp_path: Path) -> None:
    summary = ingest_json(tmp_path, [S3_NEW, S3_WEBSITE, S3_OLD, S3_LIFECYCLE])
    assert summary["formats"] == {str(tmp_path / "in.log"): "s3"}
    assert summary["tenants"] == ["amzn-s3-demo-bucket1", "amzn-s3-demo-bucket2", "blog.example.com"]
    assert summary["rejected_by_reason"] == {"no request": 1}


# --- Google Cloud Storage ------------------------------------------------------------------------

GCS_HEADER = (
    '"time_micros","c_ip","c_ip_type","c_ip_region","cs_method","cs_uri","sc_status","cs_bytes",'
    '"sc_bytes","time_taken_micros","cs_host","cs_referer","cs_user_agent","s_request_id",'
    '"cs_operation","cs_bucket","cs_object"'
)
GCS_API = (
    '"1764583200286133","192.0.2.4","1","","GET","/storage/v1/b/example-bucket/o/report.pdf?alt=media",'
    '"200","0","4096","29000","storage.googleapis.com","","gcloud/548.0.0 command/gcloud.storage.cp,'
    ' ""quoted""","AAANB2pEXAMPLE","GET_Object","example-bucket","report.pdf"'
)
GCS_SITE = (
    '"1764583260000000","198.51.100.8","1","","GET","/posts/hello.html","200","0","2662","12000",'
    '"www.example.org","https://duckduckgo.com/","Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0)",'
    '"AAANB2pEXAMPL2","GET_Object","www.example.org","posts/hello.html"'
)


def test_gcs_usage_log_csv_with_header() -> None:
    rows, rejects = parse([GCS_HEADER, GCS_API, GCS_SITE], "gcs")
    assert rejects == {"comment": 1}  # the header row
    assert [(r["ts"], r["ip"], r["target"], r["status"], r["bytes"]) for r in rows] == [
        (
            dt.datetime(2025, 12, 1, 10, 0, 0, 286133, tzinfo=UTC),
            "192.0.2.4",
            "/storage/v1/b/example-bucket/o/report.pdf?alt=media",
            200,
            4096,
        ),
        (dt.datetime(2025, 12, 1, 10, 1, tzinfo=UTC), "198.51.100.8", "/posts/hello.html", 200, 2662),
    ]
    assert rows[0]["ua"] == 'gcloud/548.0.0 command/gcloud.storage.cp, "quoted"'  # comma and `""` inside
    assert [(r["vhost"], r["referrer"]) for r in rows] == [
        ("example-bucket", None),
        ("www.example.org", "https://duckduckgo.com/"),
    ]
    assert detected([GCS_HEADER, GCS_API, GCS_SITE]) == "gcs"


def test_gcs_columns_follow_the_header() -> None:
    header = '"time_micros","c_ip","cs_method","cs_uri","sc_status","sc_bytes","cs_bucket","new_column"'
    line = '"1764583200000000","192.0.2.5","GET","/a","200","5","example-bucket","x"'
    rows, rejects = parse([header, line], "gcs")
    assert rejects == {"comment": 1}
    assert [(r["ip"], r["target"], r["vhost"], r["bytes"]) for r in rows] == [
        ("192.0.2.5", "/a", "example-bucket", 5)
    ]


# --- Squid ---------------------------------------------------------------------------------------

SQUID = [
    "1764583200.586    921 192.0.2.68 TCP_MISS/200 507 POST http://rcv.example.com/some/path - "
    "HIER_DIRECT/203.0.113.5 application/xml",
    "1764583201.002      0 192.0.2.69 TCP_DENIED/403 3944 GET http://blocked.example.net/ - "
    "HIER_NONE/- text/html",
    "1764583202.250  60012 192.0.2.70 TCP_TUNNEL/200 5120 CONNECT www.example.org:443 - "
    "HIER_DIRECT/198.51.100.9 -",
]


def test_squid_native_log() -> None:
    rows, rejects = parse(SQUID, "squid")
    assert rejects == {}
    assert [(r["ip"], r["method"], r["vhost"], r["target"], r["status"], r["bytes"]) for r in rows] == [
        ("192.0.2.68", "POST", "rcv.example.com", "/some/path", 200, 507),
        ("192.0.2.69", "GET", "blocked.example.net", "/", 403, 3944),
        ("192.0.2.70", "CONNECT", None, "www.example.org:443", 200, 5120),
    ]
    assert rows[0]["ts"] == dt.datetime(2025, 12, 1, 10, 0, 0, 586000, tzinfo=UTC)
    assert detected(SQUID) == "squid"


# --- W3C: quoted values, padded directives, local times, fractions -------------------------------

IIS_ADVANCED = [
    "#Software: IIS Advanced Logging Module",
    "#Version: 1.0",
    "#Start-Date: 2025-12-01 10:00:00.000",
    "#Fields:   date-local time-local s-computername cs-uri-stem cs-uri-query c-ip cs-host "
    "cs(User-Agent) cs(Referer) sc-status sc-bytes time-taken",
    '"2025-12-01" "11:00:00.125" "WEB01" "/default.aspx" "id=7" "192.0.2.10" "www.example.com" '
    '"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)" "-" "200" '
    '"5120" "15"',
    '"2025-12-01" "11:00:01.5" "WEB01" "/img/a+b.png" "-" "192.0.2.11" "www.example.com" '
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X)" "https://www.example.com/default.aspx" '
    '"304" "0" "3"',
]


def test_iis_advanced_logging_quoted_values_and_local_times() -> None:
    rows, rejects = parse(IIS_ADVANCED, "w3c", tz="Europe/Berlin")  # UTC+1 in December
    assert rejects == {"comment": 4}
    assert [(r["ip"], r["target"], r["status"], r["bytes"], r["vhost"]) for r in rows] == [
        ("192.0.2.10", "/default.aspx?id=7", 200, 5120, "www.example.com"),
        ("192.0.2.11", "/img/a+b.png", 304, 0, "www.example.com"),
    ]
    assert [r["ts"] for r in rows] == [
        dt.datetime(2025, 12, 1, 10, 0, 0, 125000, tzinfo=UTC),
        dt.datetime(2025, 12, 1, 10, 0, 1, 500000, tzinfo=UTC),
    ]
    assert rows[0]["ua"] == "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    assert detected(IIS_ADVANCED) == "w3c"
    utc_rows, _ = parse(IIS_ADVANCED, "w3c")  # default: local columns are UTC
    assert utc_rows[0]["ts"] == dt.datetime(2025, 12, 1, 11, 0, 0, 125000, tzinfo=UTC)


def test_w3c_utc_columns_ignore_the_log_timezone_and_keep_fractions() -> None:
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status cs(User-Agent)",
        "2025-12-01 10:00:00.250 192.0.2.12 GET /a 200 Mozilla/5.0+(X11;+Linux)",
    ]
    rows, _ = parse(lines, "w3c", tz="America/New_York")
    assert rows[0]["ts"] == dt.datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert rows[0]["ua"] == "Mozilla/5.0 (X11; Linux)"  # unquoted IIS: `+` is a space


def test_incapsula_w3c_every_value_quoted() -> None:
    lines = [
        "#Fields: date time cs-vrid c-ip cs-method cs-uri cs-version sc-status sc-bytes cs(User-Agent) "
        "cs(Referer)",
        '"2025-12-01" "10:00:00" "12345" "192.0.2.20" "GET" "www.example.com/blog/post?id=3" "HTTP/1.1" '
        '"200" "2048" "Mozilla/5.0 (X11; Linux x86_64)" "https://duckduckgo.com/"',
    ]
    rows, rejects = parse(lines, "w3c")
    assert rejects == {"comment": 1}
    assert [(r["vhost"], r["target"], r["status"], r["bytes"], r["ua"], r["referrer"]) for r in rows] == [
        (
            "www.example.com",
            "/blog/post?id=3",
            200,
            2048,
            "Mozilla/5.0 (X11; Linux x86_64)",
            "https://duckduckgo.com/",
        )
    ]
    assert detected(lines) == "w3c"


# --- JSON with other key names ---------------------------------------------------------------------

# Matomo's recommended nginx log_format: ip, host, path, status, referrer, user_agent, length,
# generation_time_milli, date.
MATOMO_JSON = (
    '{"ip": "192.0.2.30","host": "www.example.com","path": "/posts/hello?utm_source=x","status": "200",'
    '"referrer": "https://duckduckgo.com/","user_agent": "Mozilla/5.0 (X11; Linux x86_64)","length": 2662,'
    '"generation_time_milli": 0.004,"date": "2025-12-01T11:00:00+01:00"}'
)
ALIAS_JSON = (
    '{"@timestamp":"2025-12-01T10:00:01.5Z","client_ip":"192.0.2.31","method":"POST",'
    '"url":"https://Shop.Example.com/cart","status_code":303,"bytes":0,"userAgent":"curl/8.5.0",'
    '"referer":"-"}'
)
EPOCH_MS_JSON = '{"ts":1764583202000,"remote_addr":"192.0.2.32","request":"GET /c HTTP/1.1","status":404}'


def test_json_with_matomo_and_alias_keys() -> None:
    rows, rejects = parse([MATOMO_JSON, ALIAS_JSON, EPOCH_MS_JSON, '{"msg":"not a request"}'], "json")
    assert rejects == {"unparseable": 1}
    assert [(r["vhost"], r["ip"], r["method"], r["target"], r["status"], r["bytes"]) for r in rows] == [
        ("www.example.com", "192.0.2.30", "GET", "/posts/hello?utm_source=x", 200, 2662),
        ("Shop.Example.com", "192.0.2.31", "POST", "/cart", 303, 0),
        (None, "192.0.2.32", "GET", "/c", 404, 0),
    ]
    assert [r["ts"] for r in rows] == [
        dt.datetime(2025, 12, 1, 10, tzinfo=UTC),
        dt.datetime(2025, 12, 1, 10, 0, 1, 500000, tzinfo=UTC),
        dt.datetime(2025, 12, 1, 10, 0, 2, tzinfo=UTC),
    ]
    assert rows[0]["ua"] == "Mozilla/5.0 (X11; Linux x86_64)"
    assert rows[0]["referrer"] == "https://duckduckgo.com/"
    assert detected([MATOMO_JSON, ALIAS_JSON, EPOCH_MS_JSON]) == "json"


def test_json_spec_names_the_keys_including_nested_ones() -> None:
    spec = "json:ip=client,time=ts,method=req.verb,path=req.uri,status=code,ua=req.agent,host=site"
    line = (
        '{"client":"192.0.2.40","ts":"2025-12-01 11:00:00","site":"example.net","code":"200",'
        '"req":{"verb":"GET","uri":"/x?y=1","agent":"Mozilla/5.0"}}'
    )
    rows, rejects = parse([line], spec, tz="Europe/Paris")
    assert rejects == {}
    assert rows == [
        {
            "ts": dt.datetime(2025, 12, 1, 10, tzinfo=UTC),  # no offset: read in --log-timezone
            "vhost": "example.net",
            "ip": "192.0.2.40",
            "method": "GET",
            "target": "/x?y=1",
            "status": 200,
            "bytes": 0,
            "referrer": None,
            "ua": "Mozilla/5.0",
        }
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("json:ip=client,status=code,path=p", "json format needs time, status and request, path or uri"),
        ("json:ip=client,time=ts,status=code,path=p,colour=c", "unknown field 'colour'"),
        ("json:time=ts,status=code,path", "'path' is not field=key"),
        ("json:time=ts,time=t2,status=code,path=p", "'time' is named twice"),
    ],
)
def test_bad_json_specs_are_usage_errors(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        get_format(spec)
    result = run_cli("ingest", "--format", spec, "/dev/null")
    assert result.exit_code == 2 and message in result.stderr


# --- Hosting variants ------------------------------------------------------------------------------


def test_gandi_vhost_and_time_taken_and_runs_of_spaces() -> None:
    gandi = (
        'www.example.com 192.0.2.50 - - [01/Dec/2025:11:00:00 +0100] (0 s) "GET /a HTTP/1.1" 200 512 '
        '"https://duckduckgo.com/" "Mozilla/5.0 (X11; Linux x86_64)"'
    )
    padded = '192.0.2.51  -  -  [01/Dec/2025:10:00:00 +0000]  "GET /b HTTP/1.1"  404    0  "-"  "curl/8.5.0"'
    assert detected([gandi]) == "vcombined"
    assert detected([padded]) == "combined"
    rows, _ = parse([gandi], "vcombined")
    assert [(r["vhost"], r["ip"], r["target"], r["status"], r["ts"]) for r in rows] == [
        ("www.example.com", "192.0.2.50", "/a", 200, dt.datetime(2025, 12, 1, 10, tzinfo=UTC))
    ]
    rows, _ = parse([padded], "combined")
    assert [(r["ip"], r["target"], r["status"], r["bytes"], r["ua"]) for r in rows] == [
        ("192.0.2.51", "/b", 404, 0, "curl/8.5.0")
    ]


# --- Lines with no HTTP request --------------------------------------------------------------------


def test_elb_tcp_line_is_no_request_but_a_408_stays_a_request(tmp_path: Path) -> None:
    elb = [
        "2025-12-01T10:00:00.945958Z my-loadbalancer 192.0.2.60:2817 10.0.0.1:80 0.001065 0.000015 "
        '0.000023 - - 57 502 "- - - " "-" - -',
        "2025-12-01T10:00:01.000000Z my-loadbalancer 192.0.2.61:2818 10.0.0.1:80 0.000073 0.001048 "
        '0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/8.5.0" - -',
    ]
    summary = ingest_json(tmp_path, elb)
    assert summary["rejected_by_reason"] == {"no request": 1} and summary["requests"] == 1
    clf = ['192.0.2.62 - - [01/Dec/2025:10:00:00 +0000] "-" 408 0 "-" "-"']
    rows, rejects = parse(clf, "combined")
    assert rejects == {} and [(r["method"], r["status"]) for r in rows] == [("-", 408)]


# --- --log-timezone --------------------------------------------------------------------------------


def test_log_timezone_shifts_local_times_and_a_bad_name_is_exit_2(tmp_path: Path) -> None:
    summary = ingest_json(tmp_path, [HAPROXY_PLAIN], "--log-timezone", "Asia/Tokyo")  # UTC+9
    assert summary["requests"] == 1
    bad = run_cli(
        "ingest", "--state-dir", str(tmp_path / "s2"), "--log-timezone", "Mars/Olympus", "/dev/null"
    )
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "Error: --log-timezone 'Mars/Olympus' is not a time zone name (IANA, like UTC or Europe/Paris)"
    ]
    with pytest.raises(UsageError, match="not a time zone name"):
        Ingest(StateDir(tmp_path / "s3"), log_timezone="Nowhere/Town")


def test_log_timezone_decides_the_day(tmp_path: Path) -> None:
    late = HAPROXY_PLAIN.replace("01/Dec/2025:10:05:27.584", "01/Dec/2025:01:30:00.000")
    log = tmp_path / "h.log"
    log.write_text(late + "\n")
    for tz, day in [("UTC", "2025-12-01"), ("Asia/Tokyo", "2025-11-30")]:
        state = StateDir(tmp_path / tz.replace("/", "-"))
        Ingest(state, tenant="site", grace=None, log_timezone=tz).run([str(log)])
        report = report_json(state, "--start", "2025-11-30", "--end", "2025-12-01")
        days = {d["date"]: d["requests"] for d in report["days"] if d["requests"]}
        assert days == {day: 1}, tz


# --- Detection is a contest ------------------------------------------------------------------------


def test_every_format_example_detects_as_itself() -> None:
    for name, fmt in FORMATS.items():
        assert detected([fmt.example]) == name


# The format `--format auto` picks for each real log (None: no predefined format reads it; the
# CSV LogFormat needs `-f apache:...`). A new format must never change these.
REAL_FORMATS = {
    "elastic-apache-2015": "combined",
    "wordpress-2025": "combined",
    "farm-nginx": "combined",
    "farm-apache-vhost": "vcombined",
    "farm-apache-common": "common",
    "farm-apache-csv": None,
}


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason="no ../shared/data/real")
def test_each_real_log_detects_as_before() -> None:
    seen = set()
    for path in sorted(REAL_DATA.glob("*/*")):
        if path.suffix != ".gz":
            continue
        source = open_source(str(path))
        try:
            head = source.read(HEAD_BYTES)  # what ingest detects on
        finally:
            source.close()
        found = detect(lines_from_bytes(head))
        assert (found.name if found else None) == REAL_FORMATS[path.parent.name], path.name
        seen.add(path.parent.name)
    assert seen == set(REAL_FORMATS)
