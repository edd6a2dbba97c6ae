"""JSON access logs with other key names: common aliases (`json`), or keys named by a `json:` spec.

Matomo's recommended nginx `log_format` writes `ip`, `host`, `path`, `status`, `referrer`,
`user_agent`, `length`, `date`; hand-made JSON logs use many spellings of the same fields. The
`json` format reads the first present key of each field's aliases. Anything else is named on the
command line: `--format 'json:ip=client,time=ts,path=uri,status=code'` (a dotted key reads a nested
object: `path=request.uri`). Times may be epoch seconds or milliseconds, ISO 8601 or CLF, per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.core.errors import UsageError
from rings_cli.source.formats.base import ANY, UTC, to_utc
from rings_cli.source.formats.jsonlog import JsonFormat

S = pl.String

# Our field → the JSON keys that may hold it, first present wins. `path` may carry its query.
ALIASES: dict[str, tuple[str, ...]] = {
    "time": (
        "date",
        "time",
        "timestamp",
        "ts",
        "@timestamp",
        "datetime",
        "time_iso8601",
        "time_local",
        "msec",
    ),
    "ip": ("ip", "client_ip", "clientip", "remote_ip", "remote_addr", "client", "c_ip", "src_ip"),
    "vhost": ("host", "vhost", "http_host", "server_name", "domain"),
    "request": ("request",),
    "method": ("method", "request_method", "verb", "http_method"),
    "target": ("request_uri", "uri", "url"),
    "path": ("path", "request_path"),
    "query": ("query", "query_string", "args"),
    "status": ("status", "status_code", "statusCode", "http_status", "response_status"),
    "bytes": ("length", "bytes", "size", "bytes_sent", "body_bytes_sent", "response_size", "response_bytes"),
    "referrer": ("referrer", "referer", "http_referer", "http_referrer"),
    "ua": ("user_agent", "useragent", "userAgent", "agent", "http_user_agent", "ua"),
    "xff": ("x_forwarded_for", "http_x_forwarded_for", "xff", "forwarded_for"),
    # Matomo's nginx format writes $request_time (seconds) as `generation_time_milli`.
    "duration_s": ("request_time", "duration", "response_time", "generation_time_milli"),
    "duration_ms": ("duration_ms", "response_time_ms"),
}

# Names a `json:` spec may give (left of `=`), → our field.
SPEC_FIELDS = {
    "time": "time",
    "ip": "ip",
    "host": "vhost",
    "vhost": "vhost",
    "request": "request",
    "method": "method",
    "path": "path",
    "uri": "target",
    "url": "target",
    "query": "query",
    "status": "status",
    "bytes": "bytes",
    "referrer": "referrer",
    "referer": "referrer",
    "ua": "ua",
    "user_agent": "ua",
    "xff": "xff",
    "request_time": "duration_s",
    "duration": "duration_s",
    "duration_ms": "duration_ms",
}


def _dtype(keys: list[str]) -> pl.Struct:
    """A struct type holding every key (dotted keys as nested structs), leaves as strings."""
    tree: dict[str, object] = {}
    for key in keys:
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise UsageError(
                    f"json format: {key!r} reads inside {part!r}, which another field reads whole"
                )
            node = child
        if isinstance(node.get(leaf), dict):
            raise UsageError(f"json format: {key!r} is an object another field reads inside")
        node[leaf] = S

    def build(node: dict[str, object]) -> pl.Struct:
        return pl.Struct({k: build(v) if isinstance(v, dict) else S for k, v in node.items()})

    return build(tree)


def _key(key: str) -> pl.Expr:
    first, *rest = key.split(".")
    expr = pl.col(first)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


@dataclass(frozen=True)
class _Columns:
    """Our fields from JSON keys (a picklable callable for `JsonFormat.columns`)."""

    keys: tuple[tuple[str, tuple[str, ...]], ...]

    def __call__(self, tz: str = UTC) -> dict[str, pl.Expr]:
        out: dict[str, pl.Expr] = {}
        for name, keys in self.keys:
            value = pl.coalesce([_key(k) for k in keys]) if len(keys) > 1 else _key(keys[0])
            if name == "time":
                out["ts"] = to_utc(value, ANY, tz)
            else:
                out[name] = value
        # Matomo's log_format has no method: a line with neither a method nor a request line is a GET.
        method = out.get("method", pl.lit(None, S))
        request = out.get("request", pl.lit(None, S))
        out["method"] = pl.when(request.is_null()).then(method.fill_null("GET")).otherwise(method)
        return out


def _format(
    name: str, flag: str, description: str, example: str, fields: dict[str, tuple[str, ...]]
) -> JsonFormat:
    keys = [k for ks in fields.values() for k in ks]
    return JsonFormat(
        name=name,
        flag=flag,
        description=description,
        example=example,
        time_kind=ANY,
        detectable=not flag,
        dtype=_dtype(list(dict.fromkeys(keys))),
        columns=_Columns(tuple(fields.items())),
        required=("status", "request|target|path"),
    )


JSON_ALIASES = _format(
    "json",
    "",
    "JSON access log with common key names (Matomo's recommended nginx log_format, hand-made logs)",
    '{"ip": "203.0.113.9","host": "example.com","path": "/?q=1","status": "200",'
    '"referrer": "https://duckduckgo.com/","user_agent": "Mozilla/5.0","length": 512,'
    '"generation_time_milli": 0.003,"date": "2025-12-01T10:00:00+00:00"}',
    dict(ALIASES),
)

_REQUIRED = "time, status and request, path or uri"


def json_format(spec: str) -> JsonFormat:
    """`--format 'json:ip=client,time=ts,...'`: our field = the JSON key holding it."""
    fields: dict[str, tuple[str, ...]] = {}
    known = ", ".join(SPEC_FIELDS)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, key = (s.strip() for s in part.partition("="))
        if not eq or not key or not name:
            raise UsageError(f"json format: {part!r} is not field=key (fields: {known})")
        field = SPEC_FIELDS.get(name.lower())
        if field is None:
            raise UsageError(f"json format: unknown field {name!r} (fields: {known})")
        if field in fields:
            raise UsageError(f"json format: {name!r} is named twice")
        fields[field] = (key,)
    if "time" not in fields or "status" not in fields or not {"request", "target", "path"} & set(fields):
        raise UsageError(f"json format needs {_REQUIRED}: {'json:' + spec!r}")
    return _format("json:" + spec, "json:" + spec, "custom JSON format", "", fields)
