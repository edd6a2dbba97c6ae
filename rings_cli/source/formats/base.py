"""What every format gives the parser: one row of raw string fields per input line.

A format's `extract` turns a frame with a `line` column into a frame of the same height whose
columns are a subset of `FIELDS` (all strings), plus `reject`: null for a line the format read,
else the reason it did not. `parse.py` then types the fields the same way for every format, so a
new format is only a grammar, never a new pipeline.

Field meanings: `time` (as the format writes it, read according to `time_kind`), `vhost` (host or
host:port), `ip`, `xff` (X-Forwarded-For list), `request` (`METHOD TARGET PROTOCOL`) or `method` +
`target`, `status`, `bytes`, `referrer`, `ua`, the time taken (`duration_*`), and for app events
`event`, `post_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from rings_cli.core.errors import UsageError

FIELDS = (
    "time",
    "vhost",
    "ip",
    "xff",
    "request",
    "method",
    "target",
    "status",
    "bytes",
    "referrer",
    "ua",
    "event",
    "post_id",
    # The time the server took (parse.py reads whichever a format gives, as seconds): nginx's
    # $request_time, Apache's %T (s), %D (µs), W3C time-taken (IIS: ms), HAProxy's Tt (ms),
    # Caddy's duration (s), Traefik's Duration (ns), a load balancer's three processing times (s,
    # summed: `duration_sum_s` holds them space-separated).
    "duration_s",
    "duration_ms",
    "duration_us",
    "duration_ns",
    "duration_sum_s",
)

# How `time` is written: Apache/nginx `[10/Oct/2000:13:55:36 -0700]` (without brackets), ISO 8601
# (any offset, `Z`, or none = the log's time zone, UTC unless `--log-timezone`), epoch seconds,
# milliseconds or microseconds (fractions allowed), or either epoch or ISO per value (JSON logs:
# Caddy writes seconds, analytics events `Date.now()` ms). `CLF_LOCAL` is HAProxy's
# `25/Sep/2018:06:05:27.584`: no offset, so in the log's time zone. `ANY` (hand-made JSON logs)
# takes epoch seconds or milliseconds (by size), ISO or CLF, per value.
CLF = "clf"
CLF_LOCAL = "clf_local"
ISO = "iso"
EPOCH_S = "epoch_s"
EPOCH_MS = "epoch_ms"
EPOCH_US = "epoch_us"
AUTO_S = "auto_s"
AUTO_MS = "auto_ms"
ANY = "any"
CLF_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
UTC = "UTC"

# A response size as the grammars read it: `-`, or a number with a sign or a fraction, so that the
# parser can call a negative or fractional size (`-1`, `1.5`) a `bad size`, not a line that does
# not fit (parse.py's `_size` decides what a size may be).
SIZE = r"-|[-+]?(?:\d+(?:\.\d*)?|\.\d+)"

UNPARSEABLE = "unparseable"
# A load balancer's or storage service's line for something that was not an HTTP request (an ELB
# TCP listener's `"- - - "`, an S3 lifecycle action): no method, no status. Not a broken line.
NO_REQUEST = "no request"


def check_timezone(name: str) -> str:
    """`--log-timezone`: an IANA name the time parser knows, checked before any data moves."""
    try:
        pl.Series([None], dtype=pl.Datetime("us")).dt.replace_time_zone(name)
    except pl.exceptions.PolarsError:
        raise UsageError(
            f"--log-timezone {name!r} is not a time zone name (IANA, like UTC or Europe/Paris)"
        ) from None
    return name


@dataclass(frozen=True)
class LogFormat:
    """A named format: how to read it, an example line, and a one-line description."""

    name: str
    description: str = ""
    example: str = ""
    time_kind: str = CLF
    detectable: bool = True  # custom formats take part in `--format auto` only when named
    flag: str = ""  # what to pass to --format (the name, unless a custom spec)
    ip_with_port: bool = False  # the client field is `address:port` (load balancers)

    @property
    def spec(self) -> str:
        return self.flag or self.name

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        """Raw string fields of every line (same height as `lines`), with a `reject` column.

        `tz` is the zone of times written without an offset (formats that type their own `ts`)."""
        raise NotImplementedError

    def fresh(self) -> LogFormat:
        """A copy with no per-file state (W3C's `#Fields:` header); stateless formats are their own."""
        return self


@dataclass(frozen=True)
class RegexFormat(LogFormat):
    """A line grammar as one anchored regex with named groups named like `FIELDS`.

    `fast_pattern` reads quoted fields as `[^"]*`, which the regex engine runs about twice as
    fast; `pattern` also allows backslash escapes (`\\"`), as Apache writes them. The fast one
    runs on the whole batch, the full one only on the lines the fast one missed.
    """

    pattern: str = ""
    fast_pattern: str = ""
    constants: dict[str, str] = field(default_factory=dict)  # fields every line of the format has

    @property
    def fields(self) -> list[str]:
        return [*re.compile(self.pattern).groupindex, *self.constants]

    def extract(self, lines: pl.DataFrame, tz: str = UTC) -> pl.DataFrame:
        first = re.compile(self.pattern).groupindex
        probe = next(iter(first))
        fields = _extract(lines, self.fast_pattern or self.pattern)
        missed = fields.get_column(probe).is_null()
        if self.fast_pattern and self.fast_pattern != self.pattern and missed.any():
            # Escaped quotes, or not a log line at all: the full grammar decides, on these rows only.
            rows = missed.arg_true()
            retried = _extract(lines[rows], self.pattern)
            fields = pl.DataFrame([s.scatter(rows, retried.get_column(s.name)) for s in fields.get_columns()])
        extra = [pl.lit(v, pl.String).alias(k) for k, v in self.constants.items()]
        return fields.with_columns(
            *extra, reject=pl.when(pl.col(probe).is_null()).then(pl.lit(UNPARSEABLE, pl.String))
        )


def _extract(lines: pl.DataFrame, pattern: str) -> pl.DataFrame:
    return lines.select(pl.col("line").str.extract_groups(pattern).alias("g")).unnest("g")


def quoted(name: str | None, escaped: bool) -> str:
    """A double-quoted field: `[^"]*`, or escape-aware `(?:[^"\\\\]|\\\\.)*`."""
    body = r'(?:[^"\\]|\\.)*' if escaped else r'[^"]*'
    return f'"(?P<{name}>{body})"' if name else f'"{body}"'


def to_utc(expr: pl.Expr, kind: str, tz: str = UTC) -> pl.Expr:
    """A time field as Datetime(us, UTC); anything unreadable becomes null (a `bad timestamp`).

    `tz` is the zone of values written without an offset (`--log-timezone`; epochs are UTC)."""
    if kind == CLF:
        return expr.str.to_datetime(CLF_TIME_FORMAT, strict=False, time_unit="us")
    if kind == CLF_LOCAL:
        return _local(expr.str.to_datetime("%d/%b/%Y:%H:%M:%S%.f", strict=False, time_unit="us"), tz)
    if kind == ISO:
        return _iso(expr, tz)
    if kind in (EPOCH_S, EPOCH_MS, EPOCH_US):
        return _epoch(expr, {EPOCH_S: 1_000_000, EPOCH_MS: 1_000, EPOCH_US: 1}[kind])
    digits = expr.str.contains(r"^\s*\d+(?:\.\d+)?\s*$")
    if kind == ANY:
        # 13 digits and more are milliseconds (seconds would be past the year 5000).
        scale = pl.when(expr.str.contains(r"^\s*\d{13}")).then(1_000).otherwise(1_000_000)
        return (
            pl.when(digits)
            .then(_epoch(expr, scale))
            .otherwise(pl.coalesce(_iso(expr, tz), to_utc(expr.str.strip_chars(), CLF)))
        )
    scale_ = 1_000 if kind == AUTO_MS else 1_000_000
    return pl.when(digits).then(_epoch(expr, scale_)).otherwise(_iso(expr, tz))


def _local(naive: pl.Expr, tz: str) -> pl.Expr:
    """A wall-clock time in `tz` as UTC (the earlier of a repeated hour; a skipped hour is null)."""
    zoned = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return zoned.dt.convert_time_zone(UTC)


def _iso(expr: pl.Expr, tz: str = UTC) -> pl.Expr:
    text = (
        expr.str.strip_chars()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"[Zz]$", "+00:00")
    )
    text = text.str.replace(",", ".", literal=True)
    has_offset = text.str.contains(r"T.*[+-]\d{2}:?\d{2}$")
    if tz == UTC:
        zoned = pl.when(has_offset).then(text).otherwise(text + "+00:00")
        return zoned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")
    aware = (
        pl.when(has_offset).then(text).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")
    )
    naive = (
        pl.when(~has_offset).then(text).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    )
    return pl.coalesce(aware, _local(naive, tz))


def _epoch(expr: pl.Expr, us_per_unit: int | pl.Expr) -> pl.Expr:
    micros = (expr.cast(pl.Float64, strict=False) * us_per_unit).round(0)
    # Beyond year 9999 or before 1970 is not a log line's time.
    micros = pl.when(micros.is_between(0, 253_402_300_799 * 1_000_000)).then(micros)
    return pl.from_epoch(micros.cast(pl.Int64, strict=False), time_unit="us").dt.replace_time_zone("UTC")
