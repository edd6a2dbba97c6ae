"""Which format a file is in: detection (`--format auto`), and a forced `--format` checked against a
file's first lines before any of it is read.

Detection runs the real parser on the first non-empty lines, so "matches" means "gives usable
requests"; of equally good formats the first in FORMATS (the richer one) wins.

`-f common` on a combined log would reject every line; with the file checkpointed, a rerun with the
right format would then read nothing. So the forced format and every format that `--format auto`
knows parse the same first lines (the detection sample); when the forced one reads almost none of
them while another reads most, the run is refused, naming the better format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from rings_cli.core.errors import UsageError
from rings_cli.source.formats import FORMATS, LogFormat
from rings_cli.source.inputs import check_source, is_stream, open_source
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines
from rings_cli.source.tail import HEAD_BYTES, has_data

DETECT_SAMPLE = 200  # lines detection parses with every format
FORCED_MIN_SHARE = 0.10  # the forced format reads fewer than this share of the sample: suspicious ...
BETTER_MIN_SHARE = 0.50  # ... and another format reads at least this share: refused


def whole_lines(head: bytes, complete: bool) -> pl.Series:
    """The lines of a file's first bytes; a line cut by the end of a `head` that is not the whole
    file is left out, so that it counts for no format."""
    if not complete:
        head = head[: head.rfind(b"\n") + 1]
    return lines_from_bytes(head) if head else pl.Series("line", [], pl.String)


def sample_of(lines: pl.Series) -> pl.Series:
    """The first non-empty lines (at most DETECT_SAMPLE), as `--format auto` samples them."""
    present = lines.drop_nulls()
    return present.filter(present.str.strip_chars().str.len_bytes() > 0).head(DETECT_SAMPLE)


def _best(sample: pl.Series, but: str | None = None) -> tuple[LogFormat | None, int]:
    """The detectable format (not `but`) that parses most of `sample`, and how many lines it read."""
    best, best_read = None, 0
    for fmt in FORMATS.values():
        if not fmt.detectable or fmt.spec == but:
            continue
        hits = parse_lines(sample, fmt.fresh(), Rejects()).height
        if hits > best_read:
            best, best_read = fmt, hits
        if best_read == sample.len():
            break  # every line read: no later format can do better (ties go to the first)
    return best, best_read


def detect(lines: pl.Series) -> LogFormat | None:
    """The predefined format that parses most of the first non-empty lines (ties: the richer one)."""
    sample = sample_of(lines)
    if sample.is_empty():
        return None
    best, _ = _best(sample)
    return best.fresh() if best is not None else None


def check_forced_format(name: str, sample: pl.Series, forced: LogFormat) -> None:
    """Raise a UsageError when `forced` reads almost none of `sample` and another format most of it."""
    total = sample.len()
    if total == 0:
        return
    read = parse_lines(sample, forced.fresh(), Rejects()).height
    if read >= FORCED_MIN_SHARE * total:
        return
    best, best_read = _best(sample, but=forced.spec)
    if best is None or best_read < BETTER_MIN_SHARE * total:
        return
    raise UsageError(
        f"{name}: --format {forced.spec} read {read:,} of its first {total:,} lines, "
        f"{best.spec} reads {best_read:,}: use --format {best.spec}"
    )


@dataclass(frozen=True)
class Input:
    """One path of a run, checked before any line of the run is read. `head` is the file's first
    bytes as the check read them: the read starts from it (identity, format) instead of reading it
    again. A stream (stdin, a FIFO) is read once, so it has no head: its format is detected as its
    first block comes."""

    path: str
    name: str
    size: int | None  # None for a stream
    head: bytes = b""
    skip: str | None = None  # why it is not read (no data line yet)
    first: dt.datetime | None = None  # the earliest time of its first lines (a run reads in that order)
    fmt: LogFormat | None = None  # as the check found it

    @property
    def stream(self) -> bool:
        return self.size is None


def check_inputs(paths: list[str], forced: LogFormat | None, log_timezone: str = "UTC") -> list[Input]:
    """Every path checked before any is read, so that a run is never half done: a missing file,
    a file whose format cannot be recognised, or one a forced `--format` reads almost none of
    while another format reads it fails the run here, naming it. A file with no data line yet is
    kept with a reason to skip it (a damaged archive is read, to report its damage)."""
    sizes = [check_source(p) for p in paths]  # every missing file before opening any
    out = []
    for path, size in zip(paths, sizes, strict=True):
        if size is None or is_stream(path):
            out.append(Input(path, "<stdin>" if path == "-" else path, None))
            continue
        source = open_source(path)
        try:
            head = source.read(HEAD_BYTES)
        finally:
            source.close()
        if not has_data(head):
            skip = "no data lines yet" if source.damage is None else None
            out.append(Input(path, source.name, size, head, skip))
            continue
        if forced is not None:  # a wrong one would reject every line: refuse it
            check_head(source.name, head, forced)
        fmt = forced.fresh() if forced is not None else detect(lines_from_bytes(head))
        if fmt is None:
            raise unknown_format(source.name)
        out.append(Input(path, source.name, size, head, None, _first_time(head, fmt, log_timezone), fmt))
    return out


def in_time_order(inputs: list[Input]) -> list[Input]:
    """Files in the order of their first times (a glob of rotated logs is not always in time
    order), those without one where they were; streams last, in their order: a run reads its
    inputs as one history, oldest first."""
    files = [i for i in inputs if not i.stream]
    timed = iter(sorted((i for i in files if i.first is not None), key=lambda i: i.first or dt.datetime.min))
    ordered = [next(timed) if i.first is not None else i for i in files]
    return ordered + [i for i in inputs if i.stream]


def _first_time(head: bytes, fmt: LogFormat, log_timezone: str) -> dt.datetime | None:
    """The earliest time among a file's first whole lines (None when none parses)."""
    sample = sample_of(whole_lines(head, complete=len(head) < HEAD_BYTES))
    times = parse_lines(sample, fmt, Rejects(), log_timezone).get_column("ts")
    first = times.min() if times.len() else None
    return first if isinstance(first, dt.datetime) else None


def check_head(name: str, head: bytes, forced: LogFormat) -> None:
    """Refuse a forced `--format` that reads almost none of a file's first lines."""
    if has_data(head):
        sample = sample_of(whole_lines(head, complete=len(head) < HEAD_BYTES))
        check_forced_format(name, sample, forced)


class UnknownFormatError(UsageError):
    """No format Rings knows reads a file's first lines (`why` says it without the file's name)."""

    why = "cannot recognise the log format"


def unknown_format(name: str) -> UnknownFormatError:
    return UnknownFormatError(
        f"{name}: {UnknownFormatError.why}; "
        "name it with --format (see README, Formats; `rings formats` lists them)"
    )
