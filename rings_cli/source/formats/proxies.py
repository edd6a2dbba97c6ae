"""Proxies GoAccess reads: HAProxy's HTTP log (`option httplog`) and Squid's native access log.

HAProxy logs through syslog, so a line may start with any prefix (`Sep 25 06:05:27 host
haproxy[6801]: `), then `client:port [accept date] frontend backend/server timers status bytes ...
"request"`. The accept date has no offset: it is read in `--log-timezone` (default UTC). Captured
request headers (`{example.com|Mozilla/5.0 ...}`, in the order of the `capture request header`
lines) give the host, user agent and referrer by their shape, whatever the order. A TCP-mode line
(`option tcplog`: no status, no request) counts as `no request`.

Squid's native format is `time.ms elapsed client code/status bytes method URL ident hierarchy type`
(epoch seconds, fields padded with runs of spaces); the URL is absolute, so it gives the host.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.source.formats.base import CLF_LOCAL, EPOCH_S, NO_REQUEST, SIZE, UTC, RegexFormat, quoted

_PREFIX = r"^(?:.*?\s)?"  # syslog's date, host and `haproxy[pid]: `, or nothing
_CLIENT = (
    r"(?P<ip>[0-9A-Fa-f.:]+):\d+ \[(?P<time>\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\.\d+)?)\] \S+ \S+ "
)
_CONNS = r"\d+/\d+/\d+/\d+/\+?\d+ \d+/\d+"


def _haproxy(escaped: bool) -> str:
    http = (
        r"(?:[+-]?\d+/){3,4}(?P<duration_ms>[+-]?\d+) "  # Tq/Tw/Tc/Tr/Tt: Tt, the whole time
        + rf"(?P<status>\d{{3}}) \+?(?P<bytes>{SIZE}) \S+ \S+ \S{{4}} "
        + _CONNS
        + r"(?: \{(?P<captured>[^}]*)\})?(?: \{[^}]*\})? "
        + quoted("request", escaped)
    )
    tcp = r"(?P<tcp>(?:[+-]?\d+/){2}[+-]?\d+ \+?\d+ \S{2} " + _CONNS + ")"
    return _PREFIX + _CLIENT + "(?:" + http + "|" + tcp + r")\s*$"


_HOST = r"^[A-Za-z0-9][A-Za-z0-9.-]*(?::\d+)?$"


def _captured(test: pl.Expr) -> pl.Expr:
    """The first captured request header value that passes `test` (on `pl.element()`)."""
    values = pl.col("captured").str.split("|")
    return values.list.eval(pl.element().filter(test)).list.first()


@dataclass(frozen=True)
class HaproxyFormat(RegexFormat):
    """HAProxy's HTTP log; the captured headers are told apart by their shape."""

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        out = super().extract(lines, tz)
        e = pl.element()
        host = e.str.contains(_HOST) & e.str.contains(r"[A-Za-z]")
        referrer = e.str.contains(r"^[Hh][Tt][Tt][Pp][Ss]?://")
        ua = e.str.contains(r"[A-Za-z]") & ~host & ~referrer & ~e.str.contains(r"^[0-9A-Fa-f.:, ]+$")
        return out.with_columns(
            vhost=_captured(host),
            referrer=_captured(referrer),
            ua=_captured(ua),
            # A TCP-mode line was no HTTP request: counted apart, not as a broken line.
            reject=pl.when(pl.col("tcp").is_not_null()).then(pl.lit(NO_REQUEST)).otherwise("reject"),
        ).drop("captured", "tcp")


HAPROXY = HaproxyFormat(
    name="haproxy",
    description="HAProxy HTTP log (`option httplog`, syslog prefix, captured headers)",
    example="Dec  1 10:00:00 lb haproxy[6801]: 203.0.113.9:55008 [01/Dec/2025:10:00:00.584] www~ "
    "web/app1 0/0/0/72/72 200 512 - - ---- 5/4/0/1/0 0/0 {example.com|Mozilla/5.0} "
    '"GET / HTTP/1.1"',
    time_kind=CLF_LOCAL,
    pattern=_haproxy(True),
    fast_pattern=_haproxy(False),
)

_SQUID = (
    r"^\s*(?P<time>\d+(?:\.\d+)?) +-?\d+ +(?P<ip>\S+) +[A-Za-z_]+(?::\S+)?/(?P<status>\d{3}) +"
    rf"(?P<bytes>{SIZE}) +(?P<method>[A-Za-z_-]+) +(?P<target>\S+) +\S+ +\S+/\S+ +\S+(?:\s.*)?$"
)
SQUID = RegexFormat(
    name="squid",
    description="Squid native access log",
    example="1764583200.584    921 203.0.113.9 TCP_MISS/200 512 GET http://example.com/ - "
    "HIER_DIRECT/198.51.100.4 text/html",
    time_kind=EPOCH_S,
    pattern=_SQUID,
)
PROXY_FORMATS = [HAPROXY, SQUID]
