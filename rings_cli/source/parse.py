"""Parse: a batch of raw lines to typed columns, with every failure counted by reason.

A format extracts raw string fields (one Polars regex or JSON decode per batch, see
`formats/base.py`); this module types them the same way for every format. Nothing loops per line
in Python. A line is never lost silently: it is a row of the result or a count under a reason.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import polars as pl

from rings_cli.core.errors import UsageError
from rings_cli.source.formats.base import NO_REQUEST, UNPARSEABLE, UTC, LogFormat, to_utc

# Reasons a line is rejected; the ingest summary counts each. Formats add their own
# ("comment" for W3C directives and CSV headers, "unknown event" for NDJSON events of an unknown
# type); `no request` is a load balancer's or storage service's line that was no HTTP request.
EMPTY = "empty"
BAD_TIMESTAMP = "bad timestamp"
BAD_TENANT = "bad tenant"
TOO_LONG = "too long"
BAD_SIZE = "bad size"
BAD_STATUS = "bad status"
FUTURE = "future"
TOO_OLD = "too old"
__all__ = [
    "BAD_SIZE",
    "BAD_STATUS",
    "BAD_TENANT",
    "BAD_TIMESTAMP",
    "EMPTY",
    "FUTURE",
    "NO_REQUEST",
    "NO_STATUS",
    "TOO_LONG",
    "TOO_OLD",
    "UNPARSEABLE",
    "Rejects",
    "parse_lines",
    "reject_implausible_times",
]

# The status of a request that has none (`-` or empty): stored as 0, shown as `-`.
NO_STATUS = 0
_NO_STATUS = "_no_status"  # the line's status field is `-`, empty or absent (between _typed and the end)
# Longer lines are not access-log lines (Apache's request line limit is 8 KiB); reading them
# would only cost memory.
MAX_LINE_BYTES = 64 * 1024
SAMPLE_LINE_BYTES = 64 * 1024
# A response larger than 1 TiB is a broken or forged field, not a download. The bound also keeps
# every sum exact: a tenant-hour overflows 64 bits only past 8 million such responses.
MAX_RESPONSE_BYTES = 1 << 40
# A line may be stamped up to a day ahead of the clock (skewed servers, time zones written wrong);
# later than that it is rejected as `future`, so a forged year 2999 never becomes a day.
FUTURE_SLACK = dt.timedelta(days=1)

PARSED_SCHEMA = {
    "ts": pl.Datetime("us", "UTC"),
    "vhost": pl.String,
    "ip": pl.String,
    "method": pl.String,
    "target": pl.String,
    "status": pl.Int32,
    "bytes": pl.Int64,
    "referrer": pl.String,
    "ua": pl.String,
    "xff": pl.String,
    "event": pl.String,
    "post_id": pl.String,
    "duration": pl.Float64,  # seconds the server took, where the log says (null: it does not)
}
MAX_DURATION = 86_400.0  # a request that took longer than a day is a broken field, not a time


@dataclass
class Rejects:
    """Counts of rejected lines by reason, summed over batches, and the first `keep` of them."""

    counts: dict[str, int] = field(default_factory=dict)
    keep: int = 0
    samples: list[tuple[str, str, str]] = field(default_factory=list)  # (source, reason, line)
    source: str = ""
    other_shard: int = 0  # good lines of tenants another ingest host owns (not rejects: skipped)

    def add(self, reason: str, n: int) -> None:
        if n:
            self.counts[reason] = self.counts.get(reason, 0) + n

    def add_rows(self, reasons: pl.Series, lines: pl.Series) -> None:
        """Count `reasons` (one per rejected line) and keep samples of `lines` if asked to."""
        for reason, n in reasons.value_counts().iter_rows():
            self.add(reason, n)
        room = self.keep - len(self.samples)
        if room > 0:
            cut = lines.head(room).fill_null("").str.slice(0, SAMPLE_LINE_BYTES)
            self.samples.extend(
                (self.source, r, line) for r, line in zip(reasons.head(room), cut, strict=True)
            )

    def absorb(self, other: Rejects) -> None:
        """Add a block's own counts and samples (a block parsed ahead keeps its own: see Ingest),
        so that totals and kept lines come out as if the blocks had been parsed in turn here."""
        for reason, n in other.counts.items():
            self.add(reason, n)
        self.other_shard += other.other_shard
        room = self.keep - len(self.samples)
        if room > 0:
            self.samples.extend(other.samples[:room])

    def write(self, out: TextIO) -> None:
        """`--rejects FILE`: one `source<TAB>reason<TAB>raw line` per kept line (see open_rejects)."""
        for source, reason, line in self.samples:
            out.write(f"{source}\t{reason}\t{line}\n")
        out.flush()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def open_rejects(path: Path) -> TextIO:
    """Create the `--rejects` file before any input is read: fresh (a new inode, so no wider mode
    of an old file survives), owner-only (it holds raw lines: IPs, user agents), never through a
    symbolic link (which could point anywhere). An existing regular file is replaced."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"--rejects {path}: {e.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise UsageError(f"--rejects {path}: is a symbolic link; name a plain file")
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"--rejects {path}: not a regular file")
        os.unlink(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise UsageError(f"--rejects {path}: cannot create it: {e.strerror}") from None
    return os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n")


def lines_from_bytes(block: bytes) -> pl.Series:
    """Split a block into lines (CR/LF aware); undecodable bytes become U+FFFD instead of failing.

    The CSV reader is the fastest line splitter Polars has; it is given a separator (0x1F) that
    is blanked out of the block first, so every line is exactly one field.
    """
    if b"\x1f" in block:
        block = block.replace(b"\x1f", b" ")
    frame = pl.read_csv(
        block,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        encoding="utf8-lossy",
    )
    return frame.get_column("line")


def parse_lines(lines: pl.Series, fmt: LogFormat, rejects: Rejects, tz: str = UTC) -> pl.DataFrame:
    """Extract the format's fields from every line, type them; drop and count what cannot be used.

    The result has `PARSED_SCHEMA`'s columns plus `row`, the line's index in `lines` (for samples
    of rejected lines, and for line numbers: see Ingest). `tz` is the zone of times written
    without an offset (`--log-timezone`).
    """
    frame = pl.DataFrame({"line": lines.rename("line")})
    too_long = frame.get_column("line").str.len_bytes() > MAX_LINE_BYTES
    work = frame.with_columns(pl.when(~too_long).then("line").alias("line")) if too_long.any() else frame
    fields = fmt.extract(work, tz).with_row_index("row")  # the line's index in `lines`, kept to the end
    failed = fields.get_column("reject").is_not_null()
    if failed.any():
        line = pl.col("line")
        rejected = (  # the failed lines, with why
            frame.with_columns(reason=fields.get_column("reject"), too_long=too_long)
            .filter(failed)
            .with_columns(
                reason=pl.when("too_long")
                .then(pl.lit(TOO_LONG))
                .when(line.is_null() | (line.str.strip_chars().str.len_bytes() == 0))
                .then(pl.lit(EMPTY))
                .otherwise("reason")
            )
        )
        rejects.add_rows(rejected.get_column("reason"), rejected.get_column("line"))
        fields = fields.filter(~failed)
    parsed = _typed(fields, fmt, tz)
    # A line whose time or status does not read is rejected too. No status and a request of dashes
    # (`"-"`, `"- - - "`) was no HTTP request at all; a 408 with request `-` has a status, so it
    # stays a request. A request with no status (`-` or empty: the connection closed before a
    # response, as an edge proxy logs it) is a request of status NO_STATUS, shown as `-`; a status
    # that is there but not a number is unparseable.
    none = ["-", ""]
    dashes = pl.col("method").fill_null("-").is_in(none) & pl.col("target").fill_null("-").is_in(none)
    reason = (
        pl.when(pl.col("ts").is_null())
        .then(pl.lit(BAD_TIMESTAMP))
        .when(pl.col(BAD_STATUS_COLUMN))
        .then(pl.lit(BAD_STATUS))
        .when(pl.col("status").is_null() & dashes)
        .then(pl.lit(NO_REQUEST))
        .when(pl.col("status").is_null() & ~pl.col(_NO_STATUS))
        .then(pl.lit(UNPARSEABLE))
        .when(pl.col("bytes").is_null())
        .then(pl.lit(BAD_SIZE))
    )
    reasons = parsed.select(reason.alias("reason")).get_column("reason")
    bad = reasons.is_not_null()
    if bad.any():
        sampled = (
            lines.gather(parsed.get_column("row").filter(bad))
            if "row" in parsed.columns
            else pl.Series([], dtype=pl.String)
        )
        rejects.add_rows(reasons.filter(bad), sampled)
        parsed = parsed.filter(~bad)
    if parsed.get_column(_NO_STATUS).any():
        parsed = parsed.with_columns(pl.col("status").fill_null(NO_STATUS))
    return parsed.drop(BAD_STATUS_COLUMN, _NO_STATUS)


def _typed(fields: pl.DataFrame, fmt: LogFormat, tz: str = UTC) -> pl.DataFrame:
    """Raw string fields → `PARSED_SCHEMA` (request split, query joined, absolute URLs split)."""
    names = set(fields.columns)

    def col(name: str, default: str | None = None) -> pl.Expr:
        return pl.col(name) if name in names else pl.lit(default, pl.String)

    method, target = col("method"), col("target")
    if "request" in names:
        request = pl.col("request").str.splitn(" ", 3)
        method = pl.coalesce(method, request.struct.field("field_0"))
        target = pl.coalesce(target, request.struct.field("field_1"))
    if "path" in names:
        query = col("query", "").fill_null("").str.strip_prefix("?")
        query = pl.when((query == "") | (query == "-")).then(pl.lit("")).otherwise("?" + query)
        target = pl.coalesce(target, pl.col("path") + query)
    ip = col("ip", "")
    if fmt.ip_with_port:
        ip = ip.str.replace(r"^\[(.*)\]:\d+$", "${1}").str.replace(r"^(\d+\.\d+\.\d+\.\d+):\d+$", "${1}")
    ts = pl.col("ts") if "ts" in names else to_utc(pl.col("time"), fmt.time_kind, tz)
    exprs = {
        "ts": ts,
        "vhost": col("vhost"),
        "ip": ip.fill_null(""),
        "method": method,
        "target": target,
        "status": _status(col("status")),
        _NO_STATUS: col("status").str.strip_chars().fill_null("-").is_in(["-", ""]),
        "bytes": _size(col("bytes")),
        "referrer": col("referrer"),
        "ua": col("ua", "").fill_null(""),
        "xff": col("xff"),
        "event": col("event"),
        "post_id": col("post_id"),
        "duration": _duration(names),
    }
    if "row" in names:
        exprs["row"] = pl.col("row")
    exprs[BAD_STATUS_COLUMN] = _bad_status(col("status"))
    parsed = fields.lazy().select(**exprs).cast(PARSED_SCHEMA | {_NO_STATUS: pl.Boolean}).collect()  # type: ignore[arg-type]
    absolute = parsed.get_column("target").str.starts_with("http")
    if absolute.any():
        parsed = _split_absolute(parsed)
    return parsed


_DURATION_UNITS = {"duration_s": 1.0, "duration_ms": 1e-3, "duration_us": 1e-6, "duration_ns": 1e-9}
_NUMBER = r"^\s*\+?(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"


def _duration(names: set[str]) -> pl.Expr:
    """The time taken in seconds, from whichever field the format gave: the first number of it
    (nginx lists each upstream's), the three processing times of a load balancer summed (any
    -1: it was not answered, no time); negative, absurd or absent: null (never a reject)."""
    parts = [
        pl.col(name).str.extract(_NUMBER, 1).cast(pl.Float64, strict=False) * unit
        for name, unit in _DURATION_UNITS.items()
        if name in names
    ]
    if "duration_sum_s" in names:
        times = pl.col("duration_sum_s").str.split(" ").list.eval(pl.element().cast(pl.Float64, strict=False))
        ok = times.list.len() == 3
        ok = ok & (times.list.min() >= 0) & times.list.eval(pl.element().is_not_null()).list.all()
        parts.append(pl.when(ok).then(times.list.sum()))
    if not parts:
        return pl.lit(None, pl.Float64)
    value = pl.coalesce(parts) if len(parts) > 1 else parts[0]
    return pl.when(value.is_between(0, MAX_DURATION)).then(value)


# Set on a row whose status is written but is no status: parse_lines rejects it as `bad status`.
BAD_STATUS_COLUMN = "_bad_status"


def _status(raw: pl.Expr) -> pl.Expr:
    """An HTTP status: a whole number of one to three ASCII digits (0 to 999); `-`, empty or absent
    is none (null: `unparseable`, or `no request`); anything else (`-200`, `200.5`, `2000`) is
    null too, and `_bad_status` says why."""
    text = raw.str.strip_chars()
    return pl.when(text.str.contains(r"^[0-9]{1,3}$")).then(text.cast(pl.Int32, strict=False))


def _bad_status(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars()
    written = text.is_not_null() & (text != "") & (text != "-")
    return written & ~text.str.contains(r"^[0-9]{1,3}$")


def _size(raw: pl.Expr) -> pl.Expr:
    """A response size: `-`, empty or absent is 0; a whole number up to MAX_RESPONSE_BYTES is
    itself; anything else (negative, fractional, absurd, garbage) is null, rejected as `bad size`."""
    text = raw.str.strip_chars()
    number = text.cast(pl.Float64, strict=False)
    plausible = (number >= 0) & (number <= MAX_RESPONSE_BYTES) & (number == number.floor())
    return (
        pl.when(text.is_null() | (text == "-") | (text == ""))
        .then(pl.lit(0, pl.Int64))
        .when(plausible)
        .then(number.cast(pl.Int64))
        .otherwise(pl.lit(None, pl.Int64))
    )


def reject_implausible_times(
    frame: pl.DataFrame, lines: pl.Series, rejects: Rejects, oldest: dt.date, now: dt.datetime
) -> pl.DataFrame:
    """Drop (and count) rows stamped before `oldest` (`too old`) or over a day after `now`
    (`future`): a forged or broken clock must not create days, salts and report ranges."""
    floor = dt.datetime.combine(oldest, dt.time(), dt.UTC)
    ceiling = now.astimezone(dt.UTC) + FUTURE_SLACK
    ts = pl.col("ts")
    reason = pl.when(ts < floor).then(pl.lit(TOO_OLD)).when(ts > ceiling).then(pl.lit(FUTURE))
    reasons = frame.select(reason.alias("reason")).get_column("reason")
    bad = reasons.is_not_null()
    if not bad.any():
        return frame
    rows = frame.get_column("row").filter(bad) if "row" in frame.columns else None
    sampled = lines.gather(rows) if rows is not None else pl.Series([], dtype=pl.String)
    rejects.add_rows(reasons.filter(bad), sampled)
    return frame.filter(~bad)


def _split_absolute(frame: pl.DataFrame) -> pl.DataFrame:
    """`GET https://example.com:443/a HTTP/1.1` (proxies, load balancers): host → vhost, path → target."""
    url = r"^[Hh][Tt][Tt][Pp][Ss]?://([^/?#]*)(.*)$"
    host = pl.col("target").str.extract(url, 1)
    rest = pl.col("target").str.extract(url, 2)
    return frame.with_columns(
        vhost=pl.coalesce("vhost", pl.when(host != "").then(host)),
        target=pl.when(host.is_null())
        .then("target")
        .when(rest.str.starts_with("/"))
        .then(rest)
        .otherwise("/" + rest),
    )
