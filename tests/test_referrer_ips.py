"""No IP in referrers: a referrer host or a utm_source/ref value that is an address is stored as
`(ip address)`, and no byte of the address reaches the state dir."""

from __future__ import annotations

import ipaddress
import json

from rings_cli.core.state import StateDir
from tests.conftest import line, run_rings

SITE = "alice.example"
# The addresses of referrers; visitors' own addresses are other ones.
REF_V4, REF_V6, UTM_V4, OWN_V4 = "203.0.113.9", "2001:db8::1", "198.51.100.7", "192.0.2.80"


def lines() -> list[str]:
    when = "01/Dec/2025:10:{:02d}:00 +0000"
    return [
        line(ip="10.9.0.1", when=when.format(0), referrer=f"http://{REF_V4}/x", vhost=SITE),
        line(ip="10.9.0.2", when=when.format(1), referrer=f"http://[{REF_V6}]:8080/", vhost=SITE),
        line(ip="10.9.0.3", when=when.format(2), request=f"GET /?utm_source={UTM_V4} HTTP/1.1", vhost=SITE),
        line(ip="10.9.0.4", when=when.format(3), referrer="https://news.example/item", vhost=SITE),
        # Internal navigation (the site's own host, with www. and a port) is never a source.
        line(ip="10.9.0.5", when=when.format(4), referrer=f"https://www.{SITE}:443/prev", vhost=SITE),
        # A site visited by address: its own address in the referrer is internal navigation too.
        line(ip="10.9.0.6", when=when.format(5), referrer=f"http://{OWN_V4}/", vhost=OWN_V4),
        # The same visitor again, from the IPv4 referrer: one session, still one visit.
        line(
            ip="10.9.0.1",
            when=when.format(6),
            request="GET /about HTTP/1.1",
            referrer=f"http://{REF_V4}/y",
            vhost=SITE,
        ),
    ]


def report(state: StateDir, tenant: str) -> dict:
    result = run_rings(
        "report", "--state-dir", str(state.root), "--tenant", tenant, "--format", "json",
        "--start", "2025-12-01", "--end", "2025-12-01",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_ip_referrers_are_stored_as_ip_address(state: StateDir, write_log) -> None:
    ingest = run_rings("ingest", "--state-dir", str(state.root), "--json", str(write_log(lines())))
    assert ingest.returncode == 0, ingest.stderr
    sources = {r["source"]: r["visits"] for r in report(state, SITE)["top_referrers"]}
    assert sources == {"(ip address)": 3, "news.example": 1, "direct": 1}
    # The site hit by address (its tenant is the address: not a referrer, so not this rule).
    assert {r["source"]: r["visits"] for r in report(state, OWN_V4)["top_referrers"]} == {"direct": 1}
    # No byte of any referrer's address anywhere: as text (ASCII, UTF-16) or packed.
    forms = []
    for ip in (REF_V4, REF_V6, UTM_V4):
        forms += [ip.encode(), ip.encode("utf-16-le"), ipaddress.ip_address(ip).packed]
    forms += [b"[2001:db8::1]", b"2001:0db8:0000"]
    files = [p for p in state.root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files)
    for path in files:
        data = path.read_bytes()
        for form in forms:
            assert form not in data, f"{form!r} found in {path}"


def test_ip_shaped_campaign_values_and_numeric_hosts(state: StateDir, write_log) -> None:
    when = "01/Dec/2025:11:{:02d}:00 +0000"
    log = write_log(
        [
            line(ip="10.9.1.1", when=when.format(0), referrer="http://3405803785/", vhost=SITE),
            line(
                ip="10.9.1.2",
                when=when.format(1),
                request="GET /?utm_source=news&utm_medium=2001%3Adb8%3A%3A7&utm_campaign=10:00:00 HTTP/1.1",
                vhost=SITE,
            ),
            line(ip="10.9.1.3", when=when.format(2), request="GET /?ref=[2001:db8::8] HTTP/1.1", vhost=SITE),
        ]
    )
    assert run_rings("ingest", "--state-dir", str(state.root), str(log)).returncode == 0
    data = report(state, SITE)
    assert {r["source"]: r["visits"] for r in data["top_referrers"]} == {"(ip address)": 2, "news": 1}
    for path in (p for p in state.root.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        for secret in (b"3405803785", b"2001%3Adb8", b"2001:db8::8"):
            assert secret not in blob, f"{secret!r} found in {path}"
