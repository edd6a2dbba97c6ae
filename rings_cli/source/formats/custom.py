"""Custom formats in the syntax users already have: nginx `log_format` and Apache `LogFormat`.

`--format 'nginx:$remote_addr - $remote_user [$time_local] "$request" $status ...'` or
`--format 'apache:%h %l %u %t "%r" %>s %b'` compiles to one anchored regex (with a fast and an
escape-aware spelling, like the predefined formats), so a custom format parses as fast as
`combined`. Variables Rings does not use match as skipped fields. A value that is neither quoted
nor typed reads up to the literal character that follows it in the format.

The whole config line may be pasted: `log_format main '...' '...';` and `LogFormat "..." name`
are unwrapped (nginx's quoted pieces joined, Apache's `\\"` unescaped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rings_cli.core.errors import UsageError
from rings_cli.source.formats.base import CLF, EPOCH_MS, EPOCH_S, ISO, SIZE, RegexFormat

_CLF_TIME = r"\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"
_ISO_TIME = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
_STATUS = r"\d{3}"
_BYTES = SIZE


@dataclass(frozen=True)
class _Var:
    """One variable of the format: the field it fills (if any), its priority and grammar."""

    field: str | None
    rank: int = 0  # lower wins when several variables fill one field ($host before $server_name)
    body: str | None = None  # a typed grammar; None = read up to the next literal
    prefix: str = ""
    suffix: str = ""
    time_kind: str | None = None


_NGINX: dict[str, _Var] = {
    "remote_addr": _Var("ip"),
    "realip_remote_addr": _Var("ip", 1),
    "time_local": _Var("time", body=_CLF_TIME, time_kind=CLF),
    "time_iso8601": _Var("time", body=_ISO_TIME, time_kind=ISO),
    "msec": _Var("time", body=r"\d+(?:\.\d+)?", time_kind=EPOCH_S),
    "request": _Var("request"),
    "request_method": _Var("method"),
    "request_uri": _Var("target"),
    "uri": _Var("path"),
    "document_uri": _Var("path", 1),
    "is_args": _Var(None, body=r"\??"),
    "args": _Var("query"),
    "query_string": _Var("query", 1),
    "status": _Var("status", body=_STATUS),
    "body_bytes_sent": _Var("bytes", body=_BYTES),
    "bytes_sent": _Var("bytes", 1, body=_BYTES),
    "http_referer": _Var("referrer"),
    "http_user_agent": _Var("ua"),
    "host": _Var("vhost"),
    "http_host": _Var("vhost", 1),
    "server_name": _Var("vhost", 2),
    "http_x_forwarded_for": _Var("xff"),
    "request_time": _Var("duration_s", body=r"-|\d+(?:\.\d+)?"),
    # Several upstreams: "0.010, 0.020" (or `:` between redirects); `-` when none answered.
    "upstream_response_time": _Var("duration_s", 1, body=r"-|\d+(?:\.\d+)?(?:(?:, | : )\d+(?:\.\d+)?)*"),
}

_APACHE_HEADERS = {
    "referer": _Var("referrer"),
    "user-agent": _Var("ua"),
    "host": _Var("vhost"),
    "x-forwarded-for": _Var("xff"),
}

_APACHE: dict[str, _Var] = {
    "h": _Var("ip"),
    "a": _Var("ip", 1),
    "t": _Var("time", body=r"[^\]]+", prefix=r"\[", suffix=r"\]", time_kind=CLF),
    "r": _Var("request"),
    "m": _Var("method"),
    "U": _Var("path"),
    "q": _Var("query"),
    "s": _Var("status", 1, body=_STATUS),
    ">s": _Var("status", body=_STATUS),
    "<s": _Var("status", 2, body=_STATUS),
    "b": _Var("bytes", body=_BYTES),
    "B": _Var("bytes", body=_BYTES),
    "O": _Var("bytes", 1, body=_BYTES),
    "v": _Var("vhost", 2),
    "V": _Var("vhost", 1),
    "D": _Var("duration_us", body=r"\d+"),
    "T": _Var("duration_s", 1, body=r"\d+"),
}
# %{UNIT}T: the time taken in that unit.
_APACHE_TAKEN = {
    "s": _Var("duration_s", 1, body=r"\d+"),
    "ms": _Var("duration_ms", body=r"\d+"),
    "us": _Var("duration_us", body=r"\d+"),
}

_APACHE_TIMES = {
    "sec": _Var("time", body=r"\d+", time_kind=EPOCH_S),
    "msec": _Var("time", body=r"\d+", time_kind=EPOCH_MS),
}

_NGINX_TOKEN = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_APACHE_TOKEN = re.compile(r"%(?:[<>]|!?\d+(?:,\d+)*)*(?:\{([^}]*)\})?(\^[A-Za-z]{2}|[A-Za-z%])")
_REQUIRED = "a time, a status and a request (or method and URI)"


def nginx_format(spec: str) -> RegexFormat:
    """Compile an nginx `log_format` string."""
    text = _unwrap_nginx(spec)
    tokens: list[str | _Var] = []
    pos = 0
    for m in _NGINX_TOKEN.finditer(text):
        tokens.append(text[pos : m.start()])
        name = m.group(1) or m.group(2)
        tokens.append(_NGINX.get(name, _Var(None)))
        pos = m.end()
    tokens.append(text[pos:])
    return _compile("nginx:" + spec, tokens, escapes=True)  # nginx writes \x22; copies may use \"


def apache_format(spec: str) -> RegexFormat:
    """Compile an Apache `LogFormat` string (mod_log_config directives)."""
    text = _unwrap_apache(spec)
    tokens: list[str | _Var] = []
    pos = 0
    for m in _APACHE_TOKEN.finditer(text):
        tokens.append(text[pos : m.start()])
        arg, code = m.group(1), m.group(2)
        pos = m.end()
        if code == "%":
            tokens.append("%")
            continue
        modifier = m.group(0)[1:].split("{")[0]
        if code == "s" and modifier.endswith((">", "<")):
            code = modifier[-1] + code
        if code == "i" and arg is not None:
            tokens.append(_APACHE_HEADERS.get(arg.lower(), _Var(None)))
        elif code == "t" and arg is not None:
            if arg in _APACHE_TIMES:
                tokens.append(_APACHE_TIMES[arg])
            elif arg.strip("%") in ("", "d/%b/%Y:%H:%M:%S %z") or arg in ("begin:", "end:"):
                tokens.append(_APACHE["t"])
            else:
                raise UsageError(
                    f"apache format: %{{{arg}}}t is not supported; use %t, %{{sec}}t or %{{msec}}t"
                )
        elif code == "T" and arg is not None:
            if arg not in _APACHE_TAKEN:
                raise UsageError(f"apache format: %{{{arg}}}T is not supported; use %T, %{{ms}}T or %{{us}}T")
            tokens.append(_APACHE_TAKEN[arg])
        elif code == "a" and arg not in (None, "c"):
            tokens.append(_Var(None))
        else:
            tokens.append(_APACHE.get(code, _Var(None)))
    tokens.append(text[pos:])
    return _compile("apache:" + spec, tokens, escapes=True)


def _unwrap_nginx(spec: str) -> str:
    text = spec.strip()
    if text.startswith("log_format") or (text.startswith("'") and text.rstrip(";").endswith("'")):
        pieces = re.findall(r"'((?:[^'\\]|\\.)*)'", text)
        if pieces:
            return "".join(pieces)
    return text


def _unwrap_apache(spec: str) -> str:
    text = spec.strip()
    m = re.match(r'^(?:LogFormat|CustomLog\s+\S+)\s+"((?:[^"\\]|\\.)*)"', text)
    if m:
        text = m.group(1)
    elif len(text) > 1 and text[0] == text[-1] == '"' and '\\"' in text:
        text = text[1:-1]
    return text.replace('\\"', '"')


def _compile(flag: str, tokens: list[str | _Var], escapes: bool) -> RegexFormat:
    tokens = [t for t in tokens if t != ""]
    if not any(isinstance(t, _Var) for t in tokens):
        raise UsageError(f"{flag.split(':')[0]} format has no variables: {flag!r}")
    winners: dict[str, tuple[int, int]] = {}
    for i, t in enumerate(tokens):
        if isinstance(t, _Var) and t.field and (t.field not in winners or t.rank < winners[t.field][0]):
            winners[t.field] = (t.rank, i)
    chosen = {i: f for f, (_, i) in winners.items()}
    if (
        "time" not in chosen.values()
        or "status" not in chosen.values()
        or not ({"request", "target", "path"} & set(chosen.values()))
    ):
        raise UsageError(f"custom format needs {_REQUIRED}: {flag!r}")
    time_kind = next(t.time_kind for i, t in enumerate(tokens) if chosen.get(i) == "time")  # type: ignore[union-attr]
    fast, full = [], []
    for i, t in enumerate(tokens):
        if isinstance(t, str):
            literal = re.escape(t)
            fast.append(literal)
            full.append(literal)
            continue
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        quoted_field = isinstance(before, str) and before.endswith('"') and isinstance(after, str)
        quoted_field = quoted_field and str(after).startswith('"')
        stop = str(after)[:1] if isinstance(after, str) else ""
        if t.body is not None:
            fast_body = full_body = t.body
        elif t.field == "path" and isinstance(after, _Var):
            fast_body = full_body = r'[^?\s"]*'  # `%U%q`, `$uri$is_args$args`: the path ends at `?`
        elif not stop:
            fast_body = full_body = r".*?" if i + 2 < len(tokens) else r".*"
        else:
            fast_body = "[^" + re.escape(stop) + "]*"
            full_body = r'(?:[^"\\]|\\.)*' if quoted_field and escapes else fast_body
        name = chosen.get(i)
        open_ = f"(?P<{name}>" if name else "(?:"
        fast.append(f"{t.prefix}{open_}{fast_body}){t.suffix}")
        full.append(f"{t.prefix}{open_}{full_body}){t.suffix}")
    return RegexFormat(
        name=flag,
        flag=flag,
        description="custom format",
        time_kind=time_kind or CLF,
        detectable=False,
        pattern="^" + "".join(full) + r"\s*$",
        fast_pattern="^" + "".join(fast) + r"\s*$",
    )
