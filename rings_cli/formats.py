"""Log formats: one anchored regex each, with named groups the parser understands.

Group names: vhost (`host` or `host:port`), ip, time (`dd/Mon/yyyy:HH:MM:SS +zzzz`), request
(`METHOD TARGET PROTOCOL`), status, bytes, referrer, ua. Formats with a user agent accept extra
fields after it (nginx's trailing `"-"`, a request time...).

Each format has two spellings of one grammar: `fast_pattern` reads quoted fields as `[^"]*`, which
the regex engine runs about twice as fast; `pattern` also allows backslash escapes (`\\"`), as
Apache and nginx write them. The parser tries the fast one on the whole batch and the full one
only on the few lines the fast one missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from rings_cli.errors import UsageError

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

_ESCAPED = r'"(?P<{name}>(?:[^"\\]|\\.)*)"'
_PLAIN = r'"(?P<{name}>[^"]*)"'
_VHOST = r"(?P<vhost>[^\s:]+(?::\d+)?) "
_EXTRA = r"(?:\s.*)?$"


def _grammar(vhost: bool, agent: bool, quoted: str) -> str:
    head = (
        r"(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "
        + quoted.format(name="request")
        + r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
    )
    agent_fields = " " + quoted.format(name="referrer") + " " + quoted.format(name="ua") + _EXTRA
    tail = agent_fields if agent else r"\s*$"
    return "^" + (_VHOST if vhost else "") + head + tail


@dataclass(frozen=True)
class LogFormat:
    """A named, predefined format and an example line for `--help` and docs."""

    name: str
    pattern: str
    fast_pattern: str
    example: str

    @property
    def fields(self) -> list[str]:
        return list(re.compile(self.pattern).groupindex)


def _format(name: str, vhost: bool, agent: bool, example: str) -> LogFormat:
    return LogFormat(name, _grammar(vhost, agent, _ESCAPED), _grammar(vhost, agent, _PLAIN), example)


_EXAMPLE = '203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512'
_AGENT_EXAMPLE = ' "https://duckduckgo.com/" "Mozilla/5.0"'

# Ordered richest first: detection keeps the first of equally good candidates.
FORMATS: dict[str, LogFormat] = {
    f.name: f
    for f in [
        _format("vcombined", True, True, "example.com:443 " + _EXAMPLE + _AGENT_EXAMPLE),
        _format("combined", False, True, _EXAMPLE + _AGENT_EXAMPLE),
        _format("vcommon", True, False, "example.com:443 " + _EXAMPLE),
        _format("common", False, False, _EXAMPLE),
    ]
}

DETECT_SAMPLE = 200


def get_format(name: str) -> LogFormat:
    """Look up `--format NAME`; an unknown name is a usage error listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(["auto", *FORMATS])
        raise UsageError(f"unknown format {name!r} (known: {known})") from None


def detect(lines: pl.Series) -> LogFormat | None:
    """Pick the format matching most of the first non-empty lines; ties go to the richer format."""
    present = lines.drop_nulls()
    sample = present.filter(present.str.len_bytes() > 0).head(DETECT_SAMPLE)
    if sample.is_empty():
        return None
    best: LogFormat | None = None
    best_hits = 0
    for fmt in FORMATS.values():
        hits = int(sample.str.contains(fmt.pattern).sum())
        if hits > best_hits:
            best, best_hits = fmt, hits
    return best
