"""Log formats: one anchored regex each, with named groups the parser understands.

Group names: vhost (`host` or `host:port`), ip, time (`dd/Mon/yyyy:HH:MM:SS +zzzz`), request
(`METHOD TARGET PROTOCOL`), status, bytes, referrer, ua. Quoted fields allow backslash escapes, as
Apache and nginx write them. Formats with a user agent accept extra fields after it (nginx's
trailing `"-"`, a request time...).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.errors import UsageError

_Q = r'"(?P<{name}>(?:[^"\\]|\\.)*)"'
_CLF = (
    r"(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "
    + _Q.format(name="request")
    + r" (?P<status>\d{3}) (?P<bytes>\d+|-)"
)
_AGENT = " " + _Q.format(name="referrer") + " " + _Q.format(name="ua")
_VHOST = r"(?P<vhost>[^\s:]+(?::\d+)?) "

TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


@dataclass(frozen=True)
class LogFormat:
    """A named, predefined format and an example line for `--help` and docs."""

    name: str
    pattern: str
    example: str

    @property
    def fields(self) -> list[str]:
        import re

        return list(re.compile(self.pattern).groupindex)


FORMATS: dict[str, LogFormat] = {
    f.name: f
    for f in [
        LogFormat(
            "vcombined",
            "^" + _VHOST + _CLF + _AGENT + r"(?:\s.*)?$",
            "example.com:443 203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "
            '"GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
        ),
        LogFormat(
            "combined",
            "^" + _CLF + _AGENT + r"(?:\s.*)?$",
            '203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
        ),
        LogFormat(
            "vcommon",
            "^" + _VHOST + _CLF + r"\s*$",
            'example.com:443 203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512',
        ),
        LogFormat(
            "common",
            "^" + _CLF + r"\s*$",
            '203.0.113.9 - - [01/Dec/2025:10:00:00 +0000] "GET / HTTP/1.1" 200 512',
        ),
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
    sample = lines.drop_nulls().filter(lines.drop_nulls().str.len_bytes() > 0).head(DETECT_SAMPLE)
    if sample.is_empty():
        return None
    best: LogFormat | None = None
    best_hits = 0
    for fmt in FORMATS.values():  # ordered richest first, so a strict `>` keeps the richer on ties
        hits = int(sample.str.contains(fmt.pattern).sum())
        if hits > best_hits:
            best, best_hits = fmt, hits
    return best
