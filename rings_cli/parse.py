"""Parse: a batch of raw lines to typed columns, with every failure counted by reason.

The whole batch goes through Polars regex extraction; nothing loops per line in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from rings_cli.formats import TIME_FORMAT, LogFormat

# Reasons a line is rejected; the ingest summary counts each.
EMPTY = "empty"
UNPARSEABLE = "unparseable"
BAD_TIMESTAMP = "bad timestamp"
BAD_TENANT = "bad tenant"

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
}


@dataclass
class Rejects:
    """Counts of rejected lines by reason, summed over batches."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, n: int) -> None:
        if n:
            self.counts[reason] = self.counts.get(reason, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())


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


def _extract(lines: pl.DataFrame, pattern: str) -> pl.DataFrame:
    return lines.select(pl.col("line").str.extract_groups(pattern).alias("g")).unnest("g")


def parse_lines(lines: pl.Series, fmt: LogFormat, rejects: Rejects) -> pl.DataFrame:
    """Extract the format's fields from every line; drop and count what cannot be used."""
    frame = pl.DataFrame({"line": lines})
    fields = _extract(frame, fmt.fast_pattern)
    missed = fields.get_column("ip").is_null()
    if missed.any():
        # Escaped quotes, or not a log line at all: the full grammar decides, on these rows only.
        rest = frame.with_row_index("row").filter(missed)
        retried = _extract(rest, fmt.pattern).with_columns(rest.get_column("row"))
        matched = retried.get_column("ip").is_not_null()
        empty = rest.get_column("line").fill_null("").str.strip_chars().str.len_bytes() == 0
        rejects.add(EMPTY, int(empty.sum()))
        rejects.add(UNPARSEABLE, int((~matched & ~empty).sum()))
        kept = fields.with_row_index("row").filter(~missed)  # "row" restores line order below
        fields = pl.concat([kept, retried.filter(matched)], how="diagonal").sort("row").drop("row")

    names = set(fields.columns)
    request = pl.col("request").str.splitn(" ", 3)
    parsed = fields.lazy().select(
        ts=pl.col("time").str.to_datetime(TIME_FORMAT, strict=False, time_unit="us"),
        vhost=pl.col("vhost") if "vhost" in names else pl.lit(None, pl.String),
        ip=pl.col("ip"),
        method=request.struct.field("field_0"),
        target=request.struct.field("field_1"),
        status=pl.col("status").cast(pl.Int32),
        bytes=pl.col("bytes").cast(pl.Int64, strict=False).fill_null(0),
        referrer=pl.col("referrer") if "referrer" in names else pl.lit(None, pl.String),
        ua=pl.col("ua") if "ua" in names else pl.lit("", pl.String),
    )
    parsed = parsed.cast(PARSED_SCHEMA).collect()  # type: ignore[arg-type]
    bad_ts = parsed.get_column("ts").is_null()
    if bad_ts.any():
        rejects.add(BAD_TIMESTAMP, int(bad_ts.sum()))
        parsed = parsed.filter(~bad_ts)
    return parsed
