"""Ingest: drive the pipeline source → parse → tenants → classify → aggregate → DO files → flush.

This module is the library entry point for `rings ingest`; it knows nothing of terminals. Progress
goes to an optional callback, the result is an `IngestSummary`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace

import polars as pl

from rings_cli.core import defaults
from rings_cli.core.config import CLIENT_IP_SOURCES, Config, load_config, normalize_host
from rings_cli.core.errors import DamagedStateError, StateLockedError, UsageError
from rings_cli.core.privacy import SaltStore, state_secret
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.core.text import plural
from rings_cli.days.erase import collect_garbage
from rings_cli.days.finalize import DEFAULT_GRACE, finalize_due
from rings_cli.enrich.classify import classify
from rings_cli.enrich.events import assign_events
from rings_cli.enrich.proxies import client_from_xff
from rings_cli.enrich.tenants import assign_tenants
from rings_cli.ingest.ahead import BATCH_WORK, ahead, give_back_memory
from rings_cli.ingest.merge import DAMAGED, MERGE_GROUP, Merger
from rings_cli.source.follow import Follower
from rings_cli.source.formatcheck import check_forced_format, detect, sample_of, whole_lines
from rings_cli.source.formats import LogFormat, check_timezone, get_format
from rings_cli.source.inputs import CHUNK_BYTES, check_source, is_stream, iter_chunks, open_source
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines, reject_implausible_times
from rings_cli.source.tail import (
    HEAD_BYTES,
    Block,
    Checkpoint,
    FileTail,
    Identified,
    has_data,
    head_of,
    legacy_source,
)
from rings_cli.store.catalog import Catalog
from rings_cli.store.docache import MAX_OPEN_DO_FILES, DoFileCache
from rings_cli.store.lifecycle import migrate, migrate_checkpoints
from rings_cli.warehouse.flush import FlushResult, flush_dirty
from rings_cli.warehouse.local import READ_RETRY_SECONDS

__all__ = ["DAMAGED", "MAX_OPEN_DO_FILES", "MERGE_GROUP", "Ingest", "IngestSummary", "Progress"]

DEFAULT_FLUSH_INTERVAL = defaults.DEFAULT_FLUSH_INTERVAL  # seconds between flushes in follow mode
POLL_SECONDS = 0.25  # how often follow mode looks for new lines when idle
RETENTION_SECONDS = 3600.0  # follow mode applies keep_days at most this often
TICK_FLUSH_WAIT = 2.0  # a follow-mode flush waits this long for readers, then tries next tick


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
    finalized: list[str] = field(default_factory=list)  # tenant-days, `tenant/date`
    late_lines: int = 0  # lines of finalized tenant-days: counted, their visitors not
    late_tenant_days: set[str] = field(default_factory=set)
    expired: list[str] = field(default_factory=list)  # tenant/date deleted by retention (keep_days)
    damaged_state: list[str] = field(default_factory=list)  # one line per state file that could not be used
    flush_retries: int = 0  # follow-mode flushes put off to the next tick (warehouse busy)
    flushes: list[FlushResult] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): nothing read
    damaged: list[tuple[str, str, int]] = field(default_factory=list)  # (file, problem, whole lines before)
    already_read: list[tuple[str, int]] = field(default_factory=list)  # (file, line): nothing new after it
    unparsed: list[tuple[str, str, int]] = field(default_factory=list)  # (file, format, lines): none parsed

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
            "expired": self.expired,
            "late_lines": self.late_lines,
            "late_tenant_days": sorted(self.late_tenant_days),
            "damaged_state": self.damaged_state,
            "seconds": round(self.seconds, 3),
            "skipped": [{"file": f, "reason": why} for f, why in self.skipped],
            "damaged": [{"file": f, "problem": why, "after_line": n} for f, why, n in self.damaged],
            "already_read": [{"file": f, "line": n} for f, n in self.already_read],
            "unparsed": [{"file": f, "format": fmt, "lines": n} for f, fmt, n in self.unparsed],
            "warnings": self.warnings(),
        }

    def warnings(self) -> list[str]:
        """One line per input not read to its end: skipped, a damaged archive read up to the damage,
        or a file none of whose lines the format parsed (not checkpointed: see _ingest_block)."""
        skipped = [f"skipped: {f}: {why}" for f, why in self.skipped]
        damaged = [
            f"warning: {f}: {why} after line {n:,}; the lines before it were read"
            for f, why, n in self.damaged
        ]
        unparsed = [
            f"warning: {f}: none of its {plural(n, 'line')} parsed as {fmt}; it is not checkpointed, "
            "so a run with the right --format reads it whole"
            for f, fmt, n in self.unparsed
        ]
        return skipped + damaged + unparsed + [f"damaged state: {problem}" for problem in self.damaged_state]


@dataclass
class Parsed:
    """One block's classified requests, and what its parse counted, until its merge takes them."""

    frame: pl.DataFrame
    lines: int  # lines read
    format_parsed: int  # lines the format parsed (before `too old`, `bad tenant`): see _commit_block
    rejects: Rejects  # this block's own, added to the run's when it is merged
    block: Block | None = None  # a file's block: where its checkpoint goes
    fmt: str = ""  # the format's spec
    position: int = 0  # raw bytes of all inputs read when it was read (progress)


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
        log_timezone: str = "UTC",
    ) -> None:
        self.state = state
        # Everything the user configured is validated here, before any data moves.
        self.log_timezone = check_timezone(log_timezone)  # of times written without an offset
        self.forced_format: LogFormat | None = None if fmt == "auto" else get_format(fmt)
        # Normalised as hosts are (`www.Example.com` is example.com): it names the site.
        self.tenant = check_tenant(normalize_host(tenant)) if tenant is not None else None
        self.config = config if config is not None else load_config(None, state)
        if client_ip is not None:
            if client_ip not in CLIENT_IP_SOURCES:
                raise UsageError(f"--client-ip must be one of {', '.join(CLIENT_IP_SOURCES)}")
            self.config = replace(self.config, client_ip=client_ip)
        state.group_readable = self.config.group_readable
        self.on_progress = on_progress
        self.chunk_bytes = chunk_bytes
        self.clock = clock
        self.summary = IngestSummary()
        self._stopping = False
        self._formats: dict[str, LogFormat] = {}  # per source, detected once (W3C keeps its header)
        self._rejects = Rejects(keep=keep_rejects)
        self.rejects = self._rejects  # counts by reason, and the first `keep_rejects` lines (--rejects)
        self._do_files = DoFileCache(state)  # the catalog is set when a session opens it
        self._merger: Merger | None = None  # per session (merge.py)
        self._late_damage: list[DamagedStateError] = []  # filled by finalize_due
        self._held: set[str] = set()  # sources whose checkpoint must not advance (damaged state)
        # Sources read from their first line whose lines so far all failed the format's parse:
        # never checkpointed, so a rerun with the right --format reads them whole.
        self._unparsed: dict[str, tuple[str, str]] = {}  # source id -> (file, format)
        # Finalization: days that ended `grace` before `now` are closed after the run (None: never).
        self.grace = grace
        self.now: Callable[[], dt.datetime] = (
            now if callable(now) else (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        )

    def stop(self) -> None:
        """Ask a running ingest to stop after the current batch (signal handlers call this)."""
        self._stopping = True

    def run(self, paths: list[str]) -> IngestSummary:
        """Read every path (`-` = stdin) to the end, then flush. Holds the ingest lock throughout.

        Files continue from their checkpoints, so a file read before adds only what it gained.
        stdin and FIFOs are read like stdin; files with no data line yet are skipped, with a note.
        """
        started = self.clock()
        paths = paths or ["-"]
        sizes = [check_source(p) for p in paths]  # fail on a missing file before reading any
        total = None if None in sizes else sum(s or 0 for s in sizes)
        skip = self._check_inputs(paths)  # and on a file of unknown format
        with self._session():
            done = 0
            for path in paths:
                if self._stopping:
                    break
                if is_stream(path):
                    self._read_stdin(done, total, path)
                    continue
                if path in skip:
                    continue
                tail = FileTail(path, self._checkpoint)
                try:
                    self._read_tail(tail, done, total, final=True)
                    done += tail.source.size or 0
                finally:
                    tail.close()
            grace = None if self._stopping else self.grace  # finalize only once all input is read
            if grace is not None:
                # The batches' open DO files (their caches) and freed memory go back first: the
                # end of a run, DuckDB loaded, is its peak (README: Performance).
                self._close_do_files()
                give_back_memory()
                # Its flush takes every dirty tenant-day along: one warehouse transaction, not two.
                flushed: list[FlushResult] = []
                self.summary.finalized = finalize_due(
                    self.state,
                    self.catalog,
                    self.now(),
                    grace,
                    self._do_files,
                    damaged=self._late_damage,
                    flushed=flushed,
                    config=self.config,
                )
                self._forget_finalized()
                self._note_damage(self._late_damage)
                self.summary.flushes += flushed
                self.summary.flushed_rows += sum(f.rows for f in flushed)
            self._flush()  # what finalization did not flush (everything, when no day was due)
            if grace is not None:
                self._retention()
        self.summary.seconds = self.clock() - started
        return self.summary

    def _retention(self, wait: float = READ_RETRY_SECONDS) -> None:
        """Delete tenant-days older than `keep_days` (rings.toml), leaving nothing of them."""
        done = collect_garbage(
            self.state, self.catalog, self.config, self.now(), open_do=self._do_files, wait=wait
        )
        self.summary.expired += [f"{t}/{d}" for t, d in done.days]
        self._forget_finalized()  # the merger looks at their DO files again

    def follow(
        self,
        patterns: list[str],
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        poll: float = POLL_SECONDS,
        on_flush: Callable[[FlushResult], None] | None = None,
    ) -> IngestSummary:
        """Tail files and globs until `stop()`: merge new lines as they come, flush every
        `flush_interval` seconds (only dirty tenant-days), finalize days as they end."""
        started = self.clock()
        follower = Follower(patterns, self._checkpoint)
        if self.forced_format is not None:  # the files there now: a wrong forced format is refused at once
            for path in follower.paths():
                source = open_source(path)
                try:
                    self._check_forced(source.name, source.read(HEAD_BYTES))
                finally:
                    source.close()
        with self._session():
            last_flush = self.clock()
            last_retention: float | None = None
            try:
                while not self._stopping:
                    got = False
                    for tail, block in follower.poll(self.chunk_bytes):
                        got = True
                        self._ingest_block(tail, block)
                        if self._stopping:
                            break
                    if self.clock() - last_flush >= flush_interval:
                        last_flush = self.clock()
                        try:
                            result = self._flush(wait=TICK_FLUSH_WAIT)
                            if self.grace is not None:
                                self.summary.finalized += finalize_due(
                                    self.state,
                                    self.catalog,
                                    self.now(),
                                    self.grace,
                                    self._do_files,
                                    wait=TICK_FLUSH_WAIT,
                                    damaged=self._late_damage,
                                    config=self.config,
                                )
                                self._forget_finalized()
                                self._note_damage(self._late_damage)
                            if last_retention is None or self.clock() - last_retention >= RETENTION_SECONDS:
                                self._retention(wait=TICK_FLUSH_WAIT)
                                last_retention = self.clock()
                        except StateLockedError:
                            # Readers held the warehouse: the tenant-days stay dirty (and readable
                            # from their DO files); the next tick flushes them.
                            self.summary.flush_retries += 1
                            continue
                        if on_flush and result.tenant_days:
                            on_flush(result)
                    if not got and not self._stopping:
                        self._sleep(poll)
            finally:
                follower.close()
                if on_flush:
                    result = self._flush()
                    if result.tenant_days:
                        on_flush(result)
                else:
                    self._flush()
        self.summary.seconds = self.clock() - started
        return self.summary

    def _sleep(self, seconds: float) -> None:
        """Sleep in small steps so that `stop()` takes effect quickly."""
        deadline = self.clock() + seconds
        while not self._stopping and self.clock() < deadline:
            time.sleep(min(0.05, seconds))

    @contextmanager
    def _session(self) -> Iterator[None]:
        """Lock, open salts and catalog; always close DO files and record rejects."""
        with self.state.ingest_lock():
            self.salts = SaltStore(self.state)
            self.secret = state_secret(self.state)
            self.catalog = Catalog(self.state.catalog_path)
            migrate(self.state, self.catalog)  # salts of an earlier release: per tenant-day now
            self._do_files.catalog = self.catalog
            self._merger = Merger(self.catalog, self.salts, self._do_files, self.config)
            migrate_checkpoints(self.state, self.catalog, lambda old: legacy_source(self.secret, old))
            try:
                yield
            finally:
                self._close_do_files()
                self.catalog.close()
                self.summary.rejected = self._rejects.counts

    def _note_damage(self, errors: list[DamagedStateError]) -> None:
        """Name each damaged file once in the summary (flush and finalize skip them)."""
        for error in errors:
            if str(error) not in self.summary.damaged_state:
                self.summary.damaged_state.append(str(error))
        errors.clear()

    def _flush(self, wait: float = READ_RETRY_SECONDS) -> FlushResult:
        result = flush_dirty(self.state, self.catalog, self._do_files, wait=wait)
        self._note_damage(list(result.damaged))
        self.summary.flushed_rows += result.rows
        self.summary.flushes.append(result)
        return result

    def _check_inputs(self, paths: list[str]) -> set[str]:
        """Before any line is read: note the files that have no data line yet (to skip), and fail
        on a file whose format cannot be recognised, or that a forced `--format` reads almost
        none of while another format reads it (see formatcheck.py), naming it, so that a run is
        never half done."""
        skip: set[str] = set()
        for path in paths:
            if is_stream(path):
                continue  # read once: its format is detected as it comes
            source = open_source(path)
            try:
                head = source.read(HEAD_BYTES)
            finally:
                source.close()
            if not has_data(head):
                if source.damage is None:  # a damaged archive is reported as such when read
                    skip.add(path)
                    self.summary.skipped.append((source.name, "no data lines yet"))
                continue
            if self.forced_format is not None:  # a wrong one would reject every line: refuse it
                self._check_forced(source.name, head)
            elif detect(lines_from_bytes(head)) is None:
                raise _unknown_format(source.name)
        return skip

    def _check_forced(self, name: str, head: bytes) -> None:
        """Refuse a forced `--format` that reads almost none of a file's first lines (formatcheck.py)."""
        if self.forced_format is not None and has_data(head):
            sample = sample_of(whole_lines(head, complete=len(head) < HEAD_BYTES))
            check_forced_format(name, sample, self.forced_format)

    def _checkpoint(self, head: bytes, name: str, exclude: Collection[str] = ()) -> Identified | None:
        """A file's source id and checkpoint, found by its head (see tail.py); None without one.
        Ids in `exclude` are not this file's (see follow.py)."""
        found = head_of(head, self.secret)
        if found is None:
            return None
        stamp = self.now().astimezone(dt.UTC).isoformat(timespec="seconds")
        source, offset, line = self.catalog.resolve(
            found.prefixes, found.legacy, secrets.token_hex(16), name, stamp, exclude
        )
        return source, Checkpoint(offset, line), found.complete

    def _format_for(self, tail: FileTail) -> LogFormat:
        """The file's format: forced or detected from its first lines, primed with its header."""
        fmt = self._formats.get(tail.fingerprint or tail.name)
        if fmt is not None:
            return fmt
        head = lines_from_bytes(tail.head())
        fmt = self.forced_format.fresh() if self.forced_format is not None else detect(head)
        if fmt is None:
            raise _unknown_format(tail.name)
        if tail.position.offset > 0:
            parse_lines(head, fmt, Rejects())  # resuming mid-file: let the format read its header
        self._formats[tail.fingerprint or tail.name] = fmt
        self.summary.formats.setdefault(tail.name, fmt.spec)
        return fmt

    def _read_tail(self, tail: FileTail, done: int, total: int | None, final: bool) -> None:
        """Read a file to its end: each block is parsed in a worker thread while the one before it
        merges here (`ahead`), and checkpointed here, in order, once its merge has committed."""
        tail.identify()
        start = tail.position.line  # the checkpoint it continues from
        blocks = 0

        def parsed() -> Iterator[Parsed]:  # runs in the worker thread: reads and parses, writes nothing
            while not self._stopping and (block := tail.read(self.chunk_bytes, final)) is not None:
                yield self._parse_block(tail, block, done + tail.source.position())

        with closing(ahead(parsed())) as items:
            for item in items:
                blocks += 1
                self._commit_block(tail, item)
                if self.on_progress:
                    self.on_progress(Progress(item.position, total, self.summary.lines_read))
                if self._stopping:
                    return
        if self._stopping:
            return
        if tail.damage is not None:
            self.summary.damaged.append((tail.name, *tail.damage))
        if blocks == 0 and start > 0:
            self.summary.already_read.append((tail.name, start))
        if tail.fingerprint in self._unparsed:
            self.summary.unparsed.append((*self._unparsed[tail.fingerprint], tail.position.line))

    def _ingest_block(self, tail: FileTail, block: Block) -> None:
        """One block of whole lines, parsed and merged in turn (follow mode)."""
        self._commit_block(tail, self._parse_block(tail, block, 0))

    def _parse_block(self, tail: FileTail, block: Block, position: int) -> Parsed:
        """A block's lines → classified requests; touches no state (it may run in the worker)."""
        fmt = self._format_for(tail)
        with BATCH_WORK:  # not while the caller aggregates the batch before (ahead.py)
            lines = lines_from_bytes(block.data)
            block.data = b""  # the lines hold the text now: no second copy of it during the merge
            parsed = self._parse(
                lines, fmt, Rejects(keep=self._rejects.keep, source=tail.name), block.first_line
            )
        return replace(parsed, block=block, fmt=fmt.spec, position=position)

    def _commit_block(self, tail: FileTail, item: Parsed) -> None:
        """One parsed block: merged per DO file with its line numbers, then checkpointed."""
        block = item.block
        assert block is not None, "a file's block"
        self._count(item)
        complete = self._merge(item.frame, tail.fingerprint)
        item.frame = item.frame.clear()  # let the batch go before the next one is taken
        if tail.fingerprint is not None:
            if item.format_parsed == 0 and block.first_line == 0:
                self._unparsed[tail.fingerprint] = (tail.name, item.fmt)
            elif item.format_parsed > 0:
                self._unparsed.pop(tail.fingerprint, None)
            if not complete:
                # A damaged tenant-day lost lines: keep this file's checkpoint where it is, so a run
                # after `rings check --repair` reads them again (other DO files skip what they hold).
                self._held.add(tail.fingerprint)
            if not tail.head_complete and not tail.compressed:  # it grew: know it by more of its head
                head = head_of(tail.head(), self.secret)
                if head is not None:
                    self.catalog.grow_head(tail.fingerprint, head.length, head.digest)
                    tail.head_complete = head.complete
            if tail.fingerprint in self._held or tail.fingerprint in self._unparsed:
                return
            stamp = self.now().astimezone(dt.UTC).isoformat(timespec="seconds")
            self.catalog.save_checkpoint(tail.fingerprint, block.end.offset, block.end.line, tail.name, stamp)

    def _read_stdin(self, done: int, total: int | None, path: str = "-") -> None:
        """stdin (or a FIFO) has no offsets and no identity: each run counts what it reads (see README).

        A forced format is checked on the first block, before any of it is merged. As with files,
        the next block is parsed in the worker thread while this one merges.
        """
        source = open_source(path)
        read = 0

        def parsed() -> Iterator[Parsed]:  # runs in the worker thread
            nonlocal read
            fmt = self.forced_format.fresh() if self.forced_format is not None else None
            for data in iter_chunks(source, self.chunk_bytes):
                if self._stopping:
                    return
                lines = lines_from_bytes(data)
                del data  # the lines hold the text now
                if read == 0 and self.forced_format is not None:  # checked on its first block
                    check_forced_format(source.name, sample_of(lines), self.forced_format)
                read += lines.len()
                if fmt is None:
                    fmt = detect(lines)
                    if fmt is None:
                        raise _unknown_format(source.name)
                self.summary.formats.setdefault(source.name, fmt.spec)
                with BATCH_WORK:  # not while the caller aggregates the batch before (ahead.py)
                    item = self._parse(lines, fmt, Rejects(keep=self._rejects.keep, source=source.name))
                del lines  # not held while suspended: the frame has what the merge needs
                yield item

        try:
            with closing(ahead(parsed())) as items:
                for item in items:
                    self._count(item)
                    self._merge(item.frame)
                    item.frame = item.frame.clear()
                    if self.on_progress:
                        self.on_progress(Progress(done, total, self.summary.lines_read))
                    if self._stopping:
                        break
            if source.damage is not None and not self._stopping:
                self.summary.damaged.append((source.name, source.damage, read))
        finally:
            source.close()

    def _prepare(self, lines: pl.Series, fmt: LogFormat, first_line: int = 0) -> pl.DataFrame:
        """`_parse`, counted in the run's summary at once (a batch parsed in turn, not ahead)."""
        item = self._parse(
            lines, fmt, Rejects(keep=self._rejects.keep, source=self._rejects.source), first_line
        )
        self._count(item)
        return item.frame

    def _parse(self, lines: pl.Series, fmt: LogFormat, rejects: Rejects, first_line: int = 0) -> Parsed:
        """Lines → parsed, tenanted, classified requests (one row per accepted line), with the
        block's own rejects; it changes nothing of the run, so the worker thread can call it.

        `line_no` is each row's line number in its source (`first_line` + index in the batch).
        """
        frame = parse_lines(lines, fmt, rejects, self.log_timezone)
        format_parsed = frame.height  # parsed, even if dropped below (too old, bad tenant)
        frame = reject_implausible_times(frame, lines, rejects, self.config.oldest_date, self.now())
        if self.config.client_ip == "x-forwarded-for":
            frame = client_from_xff(frame, self.config.trusted_proxies)
        frame = assign_tenants(frame, self.tenant, rejects, self.config, lines)
        frame = assign_events(classify(frame, self.config.exclude_paths), self.config)
        frame = frame.with_columns(line_no=pl.col("row").cast(pl.Int64) + first_line)
        return Parsed(frame.drop("row", "xff", strict=False), lines.len(), format_parsed, rejects)

    def _count(self, item: Parsed) -> None:
        """A block's lines and rejects into the run's summary, in block order (before its merge,
        which counts what it loses to damaged state against these)."""
        self.summary.lines_read += item.lines
        self.summary.parsed += item.lines - item.rejects.total
        self._rejects.absorb(item.rejects)

    def _merge(self, frame: pl.DataFrame, source: str | None = None) -> bool:
        """Merge one batch into its DO files (merge.py); False when a DO file was damaged."""
        assert self._merger is not None, "merge outside a session"
        merged = self._merger.merge(frame, source)
        summary = self.summary
        if merged.lost:
            self._rejects.add(DAMAGED, merged.lost)
            summary.parsed -= merged.lost
        summary.requests += merged.requests
        summary.page_views += merged.page_views
        summary.bot_requests += merged.bot_requests
        summary.late_lines += merged.late_lines
        summary.tenants.update(t for t, _ in merged.tenant_days)
        summary.days.update(d for _, d in merged.tenant_days)
        summary.late_tenant_days |= merged.late_tenant_days
        summary.damaged_state += merged.damaged
        return merged.complete

    def _forget_finalized(self) -> None:
        """Finalization closed tenant-days: the merger reads the catalog's list again."""
        if self._merger is not None:
            self._merger.forget_finalized()

    def _close_do_files(self) -> None:
        self._do_files.close_all()


def _unknown_format(name: str) -> UsageError:
    return UsageError(
        f"{name}: cannot recognise the log format; "
        "name it with --format (see README, Formats; `rings formats` lists them)"
    )
