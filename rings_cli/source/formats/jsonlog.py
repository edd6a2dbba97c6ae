"""JSON-per-line formats: Caddy, Traefik JSON, nginx JSON (`escape=json`) and analytics events.

A batch is decoded by Polars in one call against an explicit struct type (numbers are read as
strings, so `"status": 200` and `"status": "200"` both work). A line that is not valid JSON, or
whose shape does not fit, makes the decoder fail for the whole call; the batch is then halved
until the bad lines are isolated, so garbage costs O(bad lines x log n) decodes, never a loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from rings_cli.core.defaults import EVENT_TYPES
from rings_cli.source.formats.base import (
    AUTO_MS,
    AUTO_S,
    CLF,
    EPOCH_S,
    ISO,
    UNPARSEABLE,
    UTC,
    LogFormat,
    to_utc,
)

S = pl.String
UNKNOWN_EVENT = "unknown event"
VIEW_EVENTS = ("page_view", "post_view")


def _struct(**fields: pl.DataType | type[pl.DataType]) -> pl.Struct:
    return pl.Struct(fields)


def decode(lines: pl.Series, dtype: pl.Struct) -> pl.DataFrame:
    """Decode every line against `dtype`; lines that are not such JSON objects become all-null rows."""
    looks = lines.str.contains(r"^\s*\{.*\}\s*$").fill_null(False)
    candidates = _without_lone_surrogates(pl.select(pl.when(looks).then(lines)).to_series())
    out = _decode_isolating(candidates, dtype)
    return out.struct.unnest().with_columns(_ok=looks & out.is_not_null())


# A JSON escape of a UTF-16 surrogate: half of a pair (an emoji written `\ud83d\ude00`), or alone.
_SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _without_lone_surrogates(lines: pl.Series) -> pl.Series:
    """Lines whose JSON escapes a surrogate without its pair (`"ua": "\\udfff"`: any client can
    send that) get U+FFFD in its place, as undecodable bytes do, so the line still counts: the
    decoder refuses a lone low surrogate (the whole line, unparseable) and reads a lone high one
    as NUL. Only lines with a surrogate escape are looked at, one at a time (few: most loggers
    write UTF-8 as it is); pairs stay the characters they encode."""
    marked = lines.str.contains(_SURROGATE_ESCAPE).fill_null(False)
    if not marked.any():
        return lines
    rows = marked.arg_true()
    fixed = [_replace_lone_surrogates(text) for text in lines.gather(rows).to_list()]
    return lines.scatter(rows, pl.Series(fixed, dtype=pl.String))


def _replace_lone_surrogates(text: str) -> str:
    """One JSON line with its lone surrogates as U+FFFD (Python's decoder joins the pairs and keeps
    a lone one as it is); a line that is no JSON at all stays as it was, for the decoder to refuse."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return json.dumps(_replaced(value), ensure_ascii=False)


def _replaced(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_replaced(k): _replaced(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v) for v in value]
    return value


def _decode_isolating(lines: pl.Series, dtype: pl.Struct) -> pl.Series:
    try:
        return lines.str.json_decode(dtype)
    except (pl.exceptions.ComputeError, pl.exceptions.PolarsError):
        if lines.len() <= 1:
            return pl.Series([None] * lines.len(), dtype=dtype)
        half = lines.len() // 2
        return pl.concat([_decode_isolating(lines[:half], dtype), _decode_isolating(lines[half:], dtype)])


@dataclass(frozen=True)
class JsonFormat(LogFormat):
    """A JSON format: its struct type, the expressions giving our fields, the fields it needs."""

    dtype: pl.Struct = field(default_factory=lambda: pl.Struct({}))
    columns: Callable[[str], dict[str, pl.Expr]] = lambda tz: {}
    required: tuple[str, ...] = ()  # output fields that must be present; "a|b" = either

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        raw = decode(lines.get_column("line"), self.dtype)
        exprs = self.columns(tz)
        frame = raw.with_columns(**exprs)
        needed = [
            pl.any_horizontal([pl.col(c).is_not_null() for c in r.split("|") if c in exprs])
            for r in self.required
        ]
        ok = pl.all_horizontal([pl.col("_ok"), *needed])
        out = frame.select(*exprs, reject=pl.when(~ok).then(pl.lit(UNPARSEABLE, S)))
        if "event" in exprs:
            unknown = pl.col("reject").is_null() & ~pl.col("event").is_in(EVENT_TYPES)
            out = out.with_columns(reject=pl.when(unknown).then(pl.lit(UNKNOWN_EVENT)).otherwise("reject"))
        return out


def _caddy(tz: str) -> dict[str, pl.Expr]:
    req = pl.col("request")
    headers = req.struct.field("headers")
    return {
        "ts": to_utc(pl.col("ts"), AUTO_S, tz),
        "ip": pl.coalesce(req.struct.field("client_ip"), req.struct.field("remote_ip")),
        "vhost": req.struct.field("host"),
        "method": req.struct.field("method"),
        "target": req.struct.field("uri"),
        "status": pl.col("status"),
        "bytes": pl.col("size"),
        "referrer": headers.struct.field("Referer").list.first(),
        "ua": headers.struct.field("User-Agent").list.first(),
        "xff": headers.struct.field("X-Forwarded-For").list.first(),
        "duration_s": pl.col("duration"),
    }


_CADDY_HEADERS = _struct(**{h: pl.List(S) for h in ("Referer", "User-Agent", "X-Forwarded-For")})
CADDY = JsonFormat(
    name="caddy",
    description="Caddy JSON access log",
    example='{"level":"info","ts":1764583200.25,"logger":"http.log.access","msg":"handled request",'
    '"request":{"remote_ip":"203.0.113.9","client_ip":"203.0.113.9","proto":"HTTP/2.0","method":"GET",'
    '"host":"example.com","uri":"/","headers":{"User-Agent":["Mozilla/5.0"],'
    '"Referer":["https://duckduckgo.com/"]}},"status":200,"size":512}',
    time_kind=AUTO_S,
    dtype=_struct(
        ts=S,
        status=S,
        size=S,
        duration=S,
        request=_struct(remote_ip=S, client_ip=S, method=S, host=S, uri=S, headers=_CADDY_HEADERS),
    ),
    columns=_caddy,
    required=("method", "target", "status"),
)


def _traefik(tz: str) -> dict[str, pl.Expr]:
    return {
        "ts": to_utc(pl.coalesce("StartUTC", "time"), ISO, tz),
        "ip": pl.coalesce("ClientHost", pl.col("ClientAddr").str.replace(r":\d+$", "")),
        "vhost": pl.col("RequestHost"),
        "method": pl.col("RequestMethod"),
        "target": pl.col("RequestPath"),
        "status": pl.coalesce("DownstreamStatus", "OriginStatus"),
        "bytes": pl.col("DownstreamContentSize"),
        "referrer": pl.col("request_Referer"),
        "ua": pl.col("request_User-Agent"),
        "xff": pl.col("request_X-Forwarded-For"),
        "duration_ns": pl.col("Duration"),
    }


_TRAEFIK_KEYS = [
    "StartUTC",
    "time",
    "ClientHost",
    "ClientAddr",
    "RequestHost",
    "RequestMethod",
    "RequestPath",
    "DownstreamStatus",
    "OriginStatus",
    "DownstreamContentSize",
    "request_Referer",
    "request_User-Agent",
    "request_X-Forwarded-For",
    "Duration",
]
TRAEFIK_JSON = JsonFormat(
    name="traefik-json",
    description="Traefik access log, JSON (headers when `fields.headers` keeps them)",
    example='{"ClientHost":"203.0.113.9","DownstreamContentSize":512,"DownstreamStatus":200,'
    '"RequestHost":"example.com","RequestMethod":"GET","RequestPath":"/","RequestProtocol":"HTTP/1.1",'
    '"StartUTC":"2025-12-01T10:00:00.25Z","request_User-Agent":"Mozilla/5.0",'
    '"request_Referer":"https://duckduckgo.com/"}',
    time_kind=ISO,
    dtype=_struct(**dict.fromkeys(_TRAEFIK_KEYS, S)),
    columns=_traefik,
    required=("method", "target", "status"),
)


def _nginx(tz: str) -> dict[str, pl.Expr]:
    query = pl.coalesce("args", "query_string")
    uri_query = pl.when(query.is_not_null() & (query != "")).then(pl.col("uri") + "?" + query)
    return {
        "ts": pl.coalesce(
            to_utc(pl.col("time_iso8601"), ISO, tz),
            to_utc(pl.col("msec"), EPOCH_S),
            to_utc(pl.col("time_local"), CLF),
        ),
        "ip": pl.col("remote_addr"),
        "vhost": pl.coalesce("host", "http_host", "server_name"),
        "request": pl.col("request"),
        "method": pl.col("request_method"),
        "target": pl.coalesce("request_uri", uri_query, "uri"),
        "status": pl.col("status"),
        "bytes": pl.coalesce("body_bytes_sent", "bytes_sent"),
        "referrer": pl.col("http_referer"),
        "ua": pl.col("http_user_agent"),
        "xff": pl.col("http_x_forwarded_for"),
        "duration_s": pl.coalesce("request_time", "upstream_response_time"),
    }


_NGINX_KEYS = [
    "time_iso8601",
    "msec",
    "time_local",
    "remote_addr",
    "host",
    "http_host",
    "server_name",
    "request",
    "request_method",
    "request_uri",
    "uri",
    "args",
    "query_string",
    "status",
    "body_bytes_sent",
    "bytes_sent",
    "http_referer",
    "http_user_agent",
    "http_x_forwarded_for",
    "request_time",
    "upstream_response_time",
]
NGINX_JSON = JsonFormat(
    name="nginx-json",
    description="nginx `log_format ... escape=json` with keys named like the variables",
    example='{"time_iso8601":"2025-12-01T10:00:00+00:00","remote_addr":"203.0.113.9","host":"example.com",'
    '"request":"GET / HTTP/1.1","status":"200","body_bytes_sent":"512",'
    '"http_referer":"https://duckduckgo.com/","http_user_agent":"Mozilla/5.0"}',
    time_kind=ISO,
    dtype=_struct(**dict.fromkeys(_NGINX_KEYS, S)),
    columns=_nginx,
    required=("status", "request|target"),
)


def _events(tz: str) -> dict[str, pl.Expr]:
    event = pl.col("type")
    hashed = pl.col("visitorHash").is_not_null()
    return {
        "ts": to_utc(pl.col("timestamp"), AUTO_MS, tz),
        "event": event,
        # A visitorHash stands in for ip+ua: it is keyed-hashed again with the day salt.
        "ip": pl.coalesce("visitorHash", "ip", pl.lit("")),
        "ua": pl.when(hashed).then(pl.lit("")).otherwise(pl.coalesce("ua", "userAgent", pl.lit(""))),
        "vhost": pl.coalesce("host", "tenantId", "tenant"),
        "method": pl.when(event.is_in(VIEW_EVENTS)).then(pl.lit("GET")).otherwise(pl.lit("POST")),
        "target": pl.col("path"),
        "status": pl.lit("200"),
        "bytes": pl.lit("0"),
        "referrer": pl.col("referrer"),
        "post_id": pl.col("postId"),
    }


_EVENT_KEYS = [
    "type",
    "timestamp",
    "visitorHash",
    "ip",
    "ua",
    "userAgent",
    "host",
    "tenantId",
    "tenant",
    "path",
    "postId",
    "referrer",
]
EVENTS = JsonFormat(
    name="events",
    description="analytics events (page views, post views), one JSON object a line (NDJSON)",
    example='{"type":"page_view","timestamp":1764583200000,"visitorHash":"9f2c1e7a","path":"/posts/hello",'
    '"postId":"hello","referrer":"https://duckduckgo.com/"}',
    time_kind=AUTO_MS,
    dtype=_struct(**dict.fromkeys(_EVENT_KEYS, S)),
    columns=_events,
    required=("event",),
)

JSON_FORMATS = [CADDY, TRAEFIK_JSON, NGINX_JSON, EVENTS]
