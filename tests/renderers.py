"""Render the same requests in every format Rings reads (test helper; plain Python on purpose).

Records come from `sample_data/generate.py`'s vcombined output, read back with a plain regex, so
every format carries exactly the same traffic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

_VCOMBINED = re.compile(
    r'^(?P<host>\S+) (?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referrer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)"'
)


@dataclass(frozen=True)
class Rec:
    host: str  # name:port
    ip: str
    when: dt.datetime  # aware
    clf_time: str
    method: str
    target: str  # unescaped
    protocol: str
    status: int
    size: str  # "-" or digits
    referrer: str
    ua: str

    @property
    def utc(self) -> dt.datetime:
        return self.when.astimezone(dt.UTC)

    @property
    def hostname(self) -> str:
        return self.host.split(":")[0]

    @property
    def nbytes(self) -> int:
        return 0 if self.size == "-" else int(self.size)

    @property
    def path_query(self) -> tuple[str, str]:
        path, _, query = self.target.partition("?")
        return path, query


def records(lines: list[str]) -> list[Rec]:
    out = []
    for line in lines:
        m = _VCOMBINED.match(line)
        if not m or m["request"].count(" ") != 2:
            continue
        method, target, protocol = m["request"].replace('\\"', '"').split(" ")
        when = dt.datetime.strptime(m["time"], "%d/%b/%Y:%H:%M:%S %z")
        out.append(
            Rec(
                m["host"],
                m["ip"],
                when,
                m["time"],
                method,
                target,
                protocol,
                int(m["status"]),
                m["size"],
                m["referrer"],
                m["ua"],
            )
        )
    return out


def _q(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _clf(r: Rec) -> str:
    return f'{r.ip} - - [{r.clf_time}] "{r.method} {_q(r.target)} {r.protocol}" {r.status} {r.size}'


def _agent(r: Rec) -> str:
    return f' "{_q(r.referrer)}" "{_q(r.ua)}"'


def _iso(r: Rec) -> str:
    return r.when.isoformat()


def _caddy(r: Rec) -> str:
    headers = {"User-Agent": [r.ua]} | ({"Referer": [r.referrer]} if r.referrer != "-" else {})
    request = {
        "remote_ip": r.ip,
        "client_ip": r.ip,
        "proto": r.protocol,
        "method": r.method,
        "host": r.host,
        "uri": r.target,
        "headers": headers,
    }
    return json.dumps(
        {
            "level": "info",
            "ts": r.utc.timestamp(),
            "logger": "http.log.access",
            "request": request,
            "status": r.status,
            "size": r.nbytes,
        }
    )


def _traefik_json(r: Rec) -> str:
    return json.dumps(
        {
            "ClientHost": r.ip,
            "ClientAddr": f"{r.ip}:5555",
            "DownstreamContentSize": r.nbytes,
            "DownstreamStatus": r.status,
            "RequestHost": r.hostname,
            "RequestMethod": r.method,
            "RequestPath": r.target,
            "RequestProtocol": r.protocol,
            "StartUTC": _iso(r),
            "request_User-Agent": r.ua,
            "request_Referer": r.referrer,
        }
    )


def _nginx_json(r: Rec) -> str:
    return json.dumps(
        {
            "time_iso8601": _iso(r),
            "remote_addr": r.ip,
            "host": r.hostname,
            "request": f"{r.method} {r.target} {r.protocol}",
            "status": str(r.status),
            "body_bytes_sent": str(r.nbytes),
            "http_referer": r.referrer,
            "http_user_agent": r.ua,
        }
    )


def _w3c(r: Rec) -> str:
    path, query = r.path_query
    u = r.utc
    return " ".join(
        [
            u.strftime("%Y-%m-%d"),
            u.strftime("%H:%M:%S"),
            "10.0.0.1",
            r.method,
            path,
            query or "-",
            "443",
            "-",
            r.ip,
            r.ua.replace(" ", "+"),
            r.referrer,
            str(r.status),
            "0",
            "0",
            "15",
            str(r.nbytes),
            r.hostname,
        ]
    )


W3C_HEADER = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) "
    "cs(Referer) sc-status sc-substatus sc-win32-status time-taken sc-bytes cs-host",
]


def _cloudfront(r: Rec) -> str:
    path, query = r.path_query
    u = r.utc
    ua = urllib.parse.quote(r.ua, safe="/;:,()+.=-_")
    fields = [
        u.strftime("%Y-%m-%d"),
        u.strftime("%H:%M:%S"),
        "FRA56-C1",
        str(r.nbytes),
        r.ip,
        r.method,
        "d111111abcdef8.cloudfront.net",
        path,
        str(r.status),
        r.referrer,
        ua,
        query or "-",
        "-",
        "Hit",
        "id==",
        r.hostname,
        "https",
        "100",
        "0.01",
        "-",
        "TLSv1.3",
        "TLS_AES",
        "Hit",
        r.protocol,
        "-",
        "-",
        "5555",
        "0.01",
        "Hit",
        "text/html",
        str(r.nbytes),
        "-",
        "-",
    ]
    return "\t".join(fields)


CLOUDFRONT_HEADER = [
    "#Version: 1.0",
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start "
    "sc-range-end",
]


def _lb(r: Rec, alb: bool) -> str:
    t = r.utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    url = f"https://{r.hostname}:443{r.target}"
    head = f"https {t} app/lb/1" if alb else f"{t} lb"
    ip = f"[{r.ip}]:5555" if ":" in r.ip else f"{r.ip}:5555"
    return (
        f"{head} {ip} 10.0.0.1:80 0.000 0.001 0.000 {r.status} {r.status} 10 {r.nbytes} "
        f'"{r.method} {_q(url)} {r.protocol}" "{_q(r.ua)}" - -'
    )


NGINX_SPEC = (
    'nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $host $request_time'
)
APACHE_SPEC = 'apache:%{Host}i %h %l %u %t "%m %U%q %H" %>s %B "%{Referer}i" "%{User-Agent}i" %D'

# format flag → (header lines, renderer, the totals the format carries)
ALL = ("requests", "bytes", "page_views", "unique_visitors")
RENDERERS: dict[str, tuple[list[str], Callable[[Rec], str], tuple[str, ...]]] = {
    "vcombined": ([], lambda r: f"{r.host} {_clf(r)}{_agent(r)}", ALL),
    "combined": ([], lambda r: _clf(r) + _agent(r), ALL),
    "traefik": ([], lambda r: _clf(r) + _agent(r) + ' 7 "blog@docker" "http://10.0.0.5:80" 3ms', ALL),
    "vcommon": ([], lambda r: f"{r.host} {_clf(r)}", ("requests", "bytes")),
    "common": ([], _clf, ("requests", "bytes")),
    "caddy": ([], _caddy, ALL),
    "traefik-json": ([], _traefik_json, ALL),
    "nginx-json": ([], _nginx_json, ALL),
    "w3c": (W3C_HEADER, _w3c, ALL),
    "cloudfront": (CLOUDFRONT_HEADER, _cloudfront, ALL),
    "alb": ([], lambda r: _lb(r, True), ALL),
    "elb": ([], lambda r: _lb(r, False), ALL),
    NGINX_SPEC: ([], lambda r: _clf(r) + _agent(r) + f" {r.hostname} 0.012", ALL),
    APACHE_SPEC: (
        [],
        lambda r: (
            f"{r.hostname} {_clf(r).replace(' - - ', ' - - ', 1)}".replace(
                f'"{r.method} {_q(r.target)} {r.protocol}" {r.status} {r.size}',
                f'"{r.method} {_q(r.target)} {r.protocol}" {r.status} {r.nbytes}',
            )
            + _agent(r)
            + " 1234"
        ),
        ALL,
    ),
}


def visitor_hash(r: Rec) -> str:
    return hashlib.sha256(f"{r.ip}|{r.ua}".encode()).hexdigest()[:16]


def event_line(r: Rec, kind: str = "page_view", **extra: str) -> str:
    body = {
        "type": kind,
        "timestamp": int(r.utc.timestamp() * 1000),
        "visitorHash": visitor_hash(r),
        "path": r.path_query[0],
        "referrer": r.referrer,
        "host": r.hostname,
    } | extra
    return json.dumps(body)
