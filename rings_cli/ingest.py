"""Ingest: drive the pipeline source → parse → tenants → classify → aggregate → DO files → flush.

This module is the library entry point for `rings ingest`; it knows nothing of terminals. Progress
goes to an optional callback, the result is an `IngestSummary`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import polars as pl

from rings_cli.aggregate import aggregate
from rings_cli.catalog import Catalog
from rings_cli.classify import classify
from rings_cli.config import CLIENT_IP_SOURCES, Config, load_config
from rings_cli.dofile import DoFile
from rings_cli.errors import UsageError
from rings_cli.events import assign_events
from rings_cli.finalize import DEFAULT_GRACE, finalize_due
from rings_cli.flush import flush_dirty
from rings_cli.formats import LogFormat, detect, get_format
from rings_cli.parse import Rejects, lines_from_bytes, parse_lines
from rings_cli.privacy import SaltStore
from rings_cli.proxies import client_from_xff
from rings_cli.sessions import metric_deltas
from rings_cli.sources import CHUNK_BYTES, Source, check_source, iter_chunks, open_source
from rings_cli.state import StateDir, check_tenant
from rings_cli.tenants import assign_tenants

MAX_OPEN_DO_FILES = 128
LATE = "late"  # a line for a day that is already finalized


@dataclass
class Progress:
    """Where a run is: raw bytes read of all inputs (total when known) and lines so far."""

    bytes_done: int
    bytes_total: int | None
    lines: int


@dataclass
class IngestSummary:
    """What an ingest did, as the summary line and `--json` print it."""

    lines_read: int = 0
    parsed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    page_views: int = 0
    bot_requests: int = 0
    tenants: set[str] = field(default_factory=set)
    days: set[str] = field(default_factory=set)
    formats: dict[str, str] = field(default_factory=dict)
    flushed_rows: int = 0
    finalized: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "lines_read": self.lines_read,
            "parsed": self.parsed,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "requests": self.requests,
            "page_views": self.page_views,
            "bot_requests": self.bot_requests,
            "tenants": sorted(self.tenants),
            "days": sorted(self.days),
            "formats": self.formats,
            "flushed_rows": self.flushed_rows,
            "finalized": self.finalized,
            "seconds": round(self.seconds, 3),
        }


class Ingest:
    """One ingest run over a state dir."""

    def __init__(
        self,
        state: StateDir,
        fmt: str = "auto",
        tenant: str | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] | dt.datetime | None = None,
        grace: dt.timedelta | None = DEFAULT_GRACE,
        config: Config | None = None,
        client_ip: str | None = None,
        keep_rejects: int = 0,
    ) -> None:
        self.state = state
        # Everything the user configured is validated here, before any data moves.
        self.forced_format: LogFormat | None = None if fmt == "auto" else get_format(fmt)
        self.tenant = check_tenant(tenant) if tenant is not None else None
        self.config = config if config is not None else load_config(None, state)
        if client_ip is not None:
            if client_ip not in CLIENT_IP_SOURCES:
                raise UsageError(f"--client-ip must be one of {', '.join(CLIENT_IP_SOURCES)}")
            self.config = replace(self.config, client_ip=client_ip)
        self.on_progress = on_progress
        self.chunk_bytes = chunk_bytes
        self.clock = clock
        self.summary = IngestSummary()
        self._closed: set[str] | None = None  # finalized dates, read once per run
        self._rejects = Rejects(keep=keep_rejects)
        self.rejects = self._rejects  # counts by reason, and the first `keep_rejects` lines (--rejects)
        self._do_files: OrderedDict[tuple[str, str], DoFile] = OrderedDict()
        # Finalization: days that ended `grace` before `now` are closed after the run (None: never).
        self.grace = grace
        self.now: Callable[[], dt.datetime] = (
            now if callable(now) else (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        )

    def run(self, paths: list[str]) -> IngestSummary:
        """Read every path (`-` = stdin) to the end, then flush. Holds the ingest lock throughout."""
        started = self.clock()
        paths = paths or ["-"]
        sizes = [check_source(p) for p in paths]  # fail on a missing file before reading any
        total = None if None in sizes else sum(s or 0 for s in sizes)
        with self.state.ingest_lock():
            self.salts = SaltStore(self.state)
            self.catalog = Catalog(self.state.catalog_path)
            try:
                done = 0
                for path in paths:
                    source = open_source(path)
                    try:
                        self._read_source(source, done, total)
                        done += source.size or 0
                    finally:
                        source.close()
                self.summary.flushed_rows = flush_dirty(self.state, self.catalog, self._do_files).rows
                if self.grace is not None:
                    self.summary.finalized = finalize_due(
                        self.state, self.catalog, self.now(), self.grace, self._do_files
                    )
            finally:
                self._close_do_files()
                self.catalog.close()
        self.summary.rejected = self._rejects.counts
        self.summary.seconds = self.clock() - started
        return self.summary

    def _read_source(self, source: Source, done: int, total: int | None) -> None:
        fmt = self.forced_format.fresh() if self.forced_format is not None else None  # per-file state
        self._rejects.source = source.name
        for block in iter_chunks(source, self.chunk_bytes):
            lines = lines_from_bytes(block)
            if fmt is None:
                fmt = detect(lines)
                if fmt is None:
                    raise UsageError(
                        f"{source.name}: cannot recognise the log format; "
                        "name it with --format (see README, Formats; `rings formats` lists them)"
                    )
            self.summary.formats.setdefault(source.name, fmt.spec)
            self.ingest_lines(lines, fmt)
            if self.on_progress:
                self.on_progress(Progress(done + source.position(), total, self.summary.lines_read))

    def ingest_lines(self, lines: pl.Series, fmt: LogFormat) -> None:
        """Run one batch through every stage and merge it into the DO files."""
        self._merge(self._prepare(lines, fmt))

    def _prepare(self, lines: pl.Series, fmt: LogFormat) -> pl.DataFrame:
        """Lines → parsed, tenanted, classified requests (one row per accepted line)."""
        self.summary.lines_read += lines.len()
        before = self._rejects.total
        frame = parse_lines(lines, fmt, self._rejects)
        if self.config.client_ip == "x-forwarded-for":
            frame = client_from_xff(frame, self.config.trusted_proxies)
        frame = assign_tenants(frame, self.tenant, self._rejects, self.config, lines)
        frame = assign_events(classify(frame), self.config)
        self.summary.parsed += lines.len() - (self._rejects.total - before)
        return frame.drop("row", "xff", strict=False)

    def _merge(self, frame: pl.DataFrame) -> None:
        """Classified requests → per tenant-day deltas → DO files (dirty-marked first)."""
        summary = self.summary
        if self._closed is None:
            self._closed = self.catalog.finalized_dates()
        if self._closed:
            late = pl.col("ts").dt.date().cast(pl.String).is_in(sorted(self._closed))
            n_late = int(frame.select(late.sum()).item())
            if n_late:
                self._rejects.add(LATE, n_late)
                summary.parsed -= n_late
                frame = frame.filter(~late)
        batches = aggregate(frame, self.salts)
        self.catalog.mark_dirty([(b.tenant, b.date) for b in batches])
        do_files = [self._do_file(b.tenant, b.date) for b in batches]
        # Visitor metrics for the whole batch at once: stored views of the visitors it touches, + new.
        before, new = [], []
        for batch, do in zip(batches, do_files, strict=True):
            day = [pl.lit(batch.tenant).alias("tenant"), pl.lit(batch.date).alias("date")]
            new.append(batch.views.select(*day, pl.all()))
            before.append(do.views_of(batch.views.get_column("visitor")).select(*day, pl.all()))
        deltas = metric_deltas(pl.concat(before), pl.concat(new)) if batches else {}
        for batch, do in zip(batches, do_files, strict=True):
            mine = (pl.col("tenant") == batch.tenant) & (pl.col("date") == batch.date)
            do.merge(batch, {name: d.filter(mine).drop("tenant", "date") for name, d in deltas.items()})
            summary.tenants.add(batch.tenant)
            summary.days.add(batch.date)
        self._evict_do_files()
        summary.requests += frame.height
        summary.page_views += int(frame.get_column("is_page_view").sum())
        summary.bot_requests += int(frame.get_column("is_bot").sum())

    def _do_file(self, tenant: str, date: str) -> DoFile:
        key = (tenant, date)
        do = self._do_files.get(key)
        if do is None:
            do = DoFile(self.state.do_path(tenant, date), tenant, date)
            self._do_files[key] = do
        else:
            self._do_files.move_to_end(key)
        return do

    def _evict_do_files(self) -> None:
        """Keep at most MAX_OPEN_DO_FILES open, closing the least recently used (between batches)."""
        while len(self._do_files) > MAX_OPEN_DO_FILES:
            self._do_files.popitem(last=False)[1].close()

    def _close_do_files(self) -> None:
        for do in self._do_files.values():
            do.close()
        self._do_files.clear()
