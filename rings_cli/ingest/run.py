"""An ingest run: the orchestration of the pipeline, from inputs to the warehouse.

    inputs checked once (source/formatcheck.check_inputs: every file's head read once)
    → per block: read (source/tail, source/follow) → parse and enrich (ingest/prepare.Prepare,
      in the read-ahead worker) → count and store (ingest/merge.Merger: one transaction per DO file)
    → checkpoint the block's source, once its merge has committed
    → upkeep (ingest/upkeep.Upkeep): flushes, finalization, retention

This module owns only the order of those steps: the session (lock, salts, catalog), where each
file's checkpoint goes, and the follow loop. It knows nothing of terminals: progress goes to an
optional callback, the result is an `IngestSummary`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import time
from collections.abc import Callable, Collection, Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace

from rings_cli.core import defaults
from rings_cli.core.config import CLIENT_IP_SOURCES, Config, load_config, normalize_host
from rings_cli.core.errors import StateLockedError, UsageError
from rings_cli.core.privacy import SaltStore
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.days.direct import DirectDays
from rings_cli.days.finalize import DEFAULT_GRACE
from rings_cli.ingest.ahead import BATCH_WORK, ahead, give_back_memory
from rings_cli.ingest.merge import DAMAGED, Merger
from rings_cli.ingest.prepare import Parsed, Prepare
from rings_cli.ingest.store import Store
from rings_cli.ingest.summary import IngestSummary, Progress
from rings_cli.ingest.upkeep import Upkeep
from rings_cli.source.follow import Follower
from rings_cli.source.formatcheck import (
    Input,
    UnknownFormatError,
    check_forced_format,
    check_head,
    check_inputs,
    detect,
    in_time_order,
    sample_of,
    unknown_format,
)
from rings_cli.source.formats import LogFormat, check_timezone, get_format
from rings_cli.source.inputs import CHUNK_BYTES, iter_chunks, open_source
from rings_cli.source.parse import Rejects, lines_from_bytes, parse_lines
from rings_cli.source.tail import HEAD_BYTES, Block, Checkpoint, FileTail, Identified, head_of, legacy_source
from rings_cli.store.catalog import Catalog, identity_secret
from rings_cli.store.docache import DoFileCache
from rings_cli.store.lifecycle import migrate, migrate_checkpoints
from rings_cli.store.sqlite import sync_filesystem
from rings_cli.warehouse.base import READ_RETRY_SECONDS
from rings_cli.warehouse.choose import open_warehouse
from rings_cli.warehouse.flush import FlushResult

__all__ = ["Ingest", "IngestSummary", "Progress"]

DEFAULT_FLUSH_INTERVAL = defaults.DEFAULT_FLUSH_INTERVAL  # seconds between flushes in follow mode
POLL_SECONDS = 0.25  # how often follow mode looks for new lines when idle
MAX_PACED_CYCLE = 30.0  # a paced follow (rings live FILE) takes new lines at least this often


@dataclass
class _Session:
    """What a run holds while it has the ingest lock."""

    secret: bytes  # the state dir's: keys file identities
    catalog: Catalog
    store: Store
    direct: DirectDays
    upkeep: Upkeep


class Ingest:
    """One ingest run over a state dir: `run(paths)` reads them to their end, `follow(patterns)`
    tails them until `stop()`."""

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
        direct: bool = True,
        tenant_from_path: str | None = None,
    ) -> None:
        """`direct`: in a batch run, days that have ended go straight to the warehouse
        (days/direct.py); False sends them through DO files, as follow mode does.
        `tenant_from_path`: a regex whose group `tenant`, found in a log file's path, names its
        site (after `--tenant`, before rings.toml `[files]`)."""
        self.state = state
        self.direct = direct
        # Everything the user configured is validated here, before any data moves.
        self.forced_format: LogFormat | None = None if fmt == "auto" else get_format(fmt)
        # Normalised as hosts are (`www.Example.com` is example.com): it names the site.
        tenant = check_tenant(normalize_host(tenant)) if tenant is not None else None
        self.config = config if config is not None else load_config(None, state)
        state.warehouse = self.config.warehouse  # flushes go where this config says
        if client_ip is not None:
            if client_ip not in CLIENT_IP_SOURCES:
                raise UsageError(f"--client-ip must be one of {', '.join(CLIENT_IP_SOURCES)}")
            self.config = replace(self.config, client_ip=client_ip)
        state.group_readable = self.config.group_readable
        self.now: Callable[[], dt.datetime] = (
            now if callable(now) else (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        )
        # The stages before the store; the zone is of log times written without an offset.
        self.prepare = Prepare(self.config, tenant, check_timezone(log_timezone), self.now)
        self.tenant_from_path = _path_pattern(tenant_from_path)
        self._file_tenants: dict[str, str | None] = {}  # source id -> its file's tenant
        self.on_progress = on_progress
        self.chunk_bytes = chunk_bytes
        self.clock = clock
        # Finalization: days that ended `grace` before `now` are closed after the run (None: never).
        self.grace = grace
        self.summary = IngestSummary()
        self.rejects = Rejects(keep=keep_rejects)  # by reason, and the first `keep_rejects` lines
        self._stopping = False
        self._behind = False  # follow mode: the last poll left a file with more to read
        self.cpu_clock: Callable[[], float] = time.process_time  # the process's CPU seconds (follow's pace)
        self._formats: dict[str, LogFormat] = {}  # per source, detected once (W3C keeps its header)
        self._unknown: dict[str, int] = {}  # per source no format read: the head's length then
        self._do_files = DoFileCache(state)  # the catalog is set when a session opens it
        self._session: _Session | None = None
        self._held: set[str] = set()  # sources whose checkpoint must not advance (damaged state)
        # Sources read from their first line whose lines so far all failed the format's parse:
        # never checkpointed, so a rerun with the right --format reads them whole.
        self._unparsed: dict[str, tuple[str, str]] = {}  # source id -> (file, format)
        # Per file (source id): its name and the blocks (start, end) read since its checkpoint, while
        # days held in memory keep the checkpoint back (see _checkpoint).
        self._pending: dict[str, tuple[str, list[tuple[Checkpoint, Checkpoint]]]] = {}
        self._unread: list[Input] = []  # the run's inputs not read yet (the watermark)
        self._written = 0  # days written straight to the warehouse, as last seen
        self._last = Progress(0, None, 0)  # the last progress reported
        self._where: dict[str, tuple[int, int, str]] = {}  # per source: device, inode, path read

    def stop(self) -> None:
        """Ask a running ingest to stop after the current batch (signal handlers call this)."""
        self._stopping = True

    def run(self, paths: list[str]) -> IngestSummary:
        """Read every path (`-` = stdin) to the end, then flush, finalize and expire. Holds the
        ingest lock throughout.

        Files continue from their checkpoints, so a file read before adds only what it gained.
        stdin and FIFOs are read like stdin; files with no data line yet are skipped, with a note.
        """
        started = self.clock()
        inputs = check_inputs(paths or ["-"], self.forced_format, self.prepare.log_timezone)
        self.summary.skipped += [(i.name, i.skip) for i in inputs if i.skip is not None]
        inputs = in_time_order([i for i in inputs if i.skip is None])
        for item in inputs:  # a path that names no valid tenant fails the run before it reads
            if not item.stream:
                self._tenant_by_path(item.path)
        total = None if any(i.stream for i in inputs) else sum(i.size or 0 for i in inputs)
        with self._open(batch=True) as session:
            done = 0  # raw bytes of the inputs read before this one (progress)
            self._progress(0, total)  # the total at once: never "0/?" while the first batch reads
            for index, item in enumerate(inputs):
                if self._stopping:
                    break
                self._unread = inputs[index + 1 :]
                if item.stream:
                    self._read_stream(item.path, done, total)
                else:
                    self._read_file(item, done, total)
                    done += item.size or 0
            if self._stopping:
                # Stopped (Ctrl-C): nothing more. Days held in memory are dropped (their files'
                # checkpoints stayed before them: read again next run); dirty DO files stay dirty
                # (readers read them; the next run flushes them).
                self.summary.interrupted = True
                self.summary.dropped = session.direct.held_requests()
            else:
                give_back_memory()  # the batches' freed memory, before the warehouse is loaded
                self._phase(f"writing {session.direct.held_days():,} days")
                session.direct.complete(None)
                self._direct_done()
                self._phase("finalizing and flushing")
                session.upkeep.after_run()
        self.summary.seconds = self.clock() - started
        return self.summary

    def follow(
        self,
        patterns: list[str],
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        poll: float = POLL_SECONDS,
        on_flush: Callable[[FlushResult], None] | None = None,
        on_skip: Callable[[str], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        pace: float | None = None,
    ) -> IngestSummary:
        """Tail files and globs until `stop()`: merge new lines as they come, flush every
        `flush_interval` seconds (only dirty tenant-days), finalize days as they end. `on_skip`
        hears of a file set aside (its summary warning, as it happens); `on_idle` is called
        whenever a poll finds nothing new (every file read to its end).

        `pace` (`rings live FILE`: a share of one core, 0.08 say): a poll that read everything there
        was is followed by a rest, so that a cycle (from one poll to the next) lasts at least `poll`
        seconds and the whole process spends at most `pace` of a core over it (its CPU time, the
        dashboard's re-read and redraw of the last commit included). Lines that keep trickling in
        are then taken as one batch a cycle: a commit, a re-read and a redraw cost about the same
        for 2 lines as for 80, so the batch grows instead of the cost. Without it, the next poll
        comes at once after a read."""
        started = self.clock()
        last_cpu = self.cpu_clock()
        with self.following(patterns, flush_interval, on_flush, on_skip) as step:
            while not self._stopping:
                # The CPU the last cycle took, the dashboard's re-read and redraw of its batch
                # included (they run while this thread rests): what this cycle will take, about.
                began, cpu = self.clock(), self.cpu_clock()
                cycle_cpu, last_cpu = cpu - last_cpu, cpu
                got = step()
                if not got and on_idle is not None:
                    on_idle()
                if self._stopping:
                    break
                if not got:
                    self._sleep(poll)
                elif pace is not None and not self._behind:
                    cycle = max(poll, min(cycle_cpu / pace, MAX_PACED_CYCLE))
                    self._sleep(cycle - (self.clock() - began))
        self.summary.seconds = self.clock() - started
        return self.summary

    @contextmanager
    def following(
        self,
        patterns: list[str],
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        on_flush: Callable[[FlushResult], None] | None = None,
        on_skip: Callable[[str], None] | None = None,
    ) -> Iterator[Callable[[], bool]]:
        """Follow mode one poll at a time (`follow` loops over it; tests step it): `step()` reads
        what every file added, commits it, flushes when due, and says whether it read anything.
        Leaving the block closes the files and flushes."""
        follower = Follower(patterns, self._identify, self._confirm, self.clock)
        if self.forced_format is not None:  # the files there now: a wrong forced format is refused at once
            for path in follower.paths():
                try:
                    source = open_source(path)
                except (OSError, UsageError):
                    continue  # gone since the glob
                try:
                    check_head(source.name, source.read(HEAD_BYTES), self.forced_format)
                finally:
                    source.close()
        with self._open(batch=False) as session:
            last_flush = self.clock()

            def step() -> bool:
                nonlocal last_flush
                self.state.yield_to_backup()  # every step of the last poll is done
                got = False
                for tail, block in follower.poll(self.chunk_bytes):
                    got = True
                    try:
                        parsed = self._prepare_block(tail, block, 0, None, self._file_tenant(tail))
                    except UnknownFormatError as e:  # not a log Rings knows: left until it changes
                        follower.set_aside(tail)
                        if (tail.name, e.why) not in self.summary.skipped:
                            self.summary.skipped.append((tail.name, e.why))
                            if on_skip:
                                on_skip(f"skipped: {tail.name}: {e.why} (read once it changes)")
                        continue
                    self._commit(tail, parsed)
                    if self._stopping:
                        break
                    self.state.yield_to_backup()
                self.summary.polls += 1
                self._behind = follower.behind
                if self.clock() - last_flush >= flush_interval:
                    last_flush = self.clock()
                    try:
                        result = session.upkeep.tick(self.clock())
                    except StateLockedError:
                        # Readers held the warehouse: the tenant-days stay dirty (and readable
                        # from their DO files); the next tick flushes them.
                        self.summary.flush_retries += 1
                        return True  # look again at once, as after a read
                    if on_flush and result.tenant_days:
                        on_flush(result)
                return got

            try:
                yield step
            finally:
                follower.close()
                result = session.upkeep.flush()
                if on_flush and result.tenant_days:
                    on_flush(result)

    # --- the session --------------------------------------------------------------------------

    @contextmanager
    def _open(self, batch: bool) -> Iterator[_Session]:
        """Lock, open salts and catalog, migrate an earlier release's layout; always close DO
        files and record rejects. In a `batch` run that finalizes, days that ended before it
        started go straight to the warehouse (days/direct.py); in follow mode, to DO files."""
        with self.state.ingest_lock():
            salts = SaltStore(self.state)
            catalog = Catalog(self.state.catalog_path)
            try:
                secret = identity_secret(self.state, catalog)  # refused before anything is read
                migrate(self.state, catalog)  # salts of an earlier release: per tenant-day now
                migrate_checkpoints(self.state, catalog, lambda old: legacy_source(secret, old))
                self._do_files.catalog = catalog
                merger = Merger(catalog, salts, self._do_files, self.config)
                upkeep = Upkeep(
                    self.state,
                    catalog,
                    self._do_files,
                    self.config,
                    self.grace,
                    self.now,
                    self.summary,
                    merger.forget_finalized,  # finalization or retention closed tenant-days
                )
                direct = DirectDays(
                    open_warehouse(self.state),
                    catalog,
                    self.config,
                    self.grace or DEFAULT_GRACE,
                    READ_RETRY_SECONDS,
                )
                new_direct = batch and self.direct and self.grace is not None
                store = Store(merger, direct, catalog, self.config, self.now, new_direct)
                self._session = _Session(secret, catalog, store, direct, upkeep)
                yield self._session
            finally:
                self._session = None
                self._do_files.close_all()
                catalog.close()
                self.summary.rejected = self.rejects.counts
                self.summary.other_shard = self.rejects.other_shard

    def _sleep(self, seconds: float) -> None:
        """Sleep in small steps so that `stop()` takes effect quickly."""
        deadline = self.clock() + seconds
        while not self._stopping and self.clock() < deadline:
            time.sleep(min(0.05, seconds))

    def _active(self) -> _Session:
        assert self._session is not None, "outside a session"
        return self._session

    # --- files: identity, format, read, commit --------------------------------------------------

    def _identify(
        self,
        head: bytes,
        name: str,
        exclude: Collection[str] = (),
        avoid: Collection[str] = (),
        create: bool = True,
    ) -> Identified | None:
        """A file's source id and checkpoint, found by its head (see tail.py); None without one
        (or, without `create`, when it is no file seen before). Ids in `exclude` are not this
        file's, those in `avoid` only if nothing else fits (see follow.py)."""
        session = self._active()
        found = head_of(head, session.secret)
        if found is None:
            return None
        got = session.catalog.resolve(
            found.prefixes,
            found.legacy,
            secrets.token_hex(16),
            name,
            self._stamp(),
            exclude,
            avoid,
            found.complete,
            create,
        )
        if got is None:
            return None
        source, offset, line, new = got
        return Identified(source, Checkpoint(offset, line), found.complete, new)

    def _confirm(self, tail: FileTail) -> bool:
        """Whether a file whose short head has grown is still the source it was taken for; if so,
        it is known by the longer head from now on (tail and catalog)."""
        found = head_of(tail.head(), self._active().secret)
        if found is None or tail.fingerprint is None:
            return False
        if not self._active().catalog.matches(tail.fingerprint, found.prefixes, found.complete):
            return False
        tail.learn(found.complete)
        return True

    def _format_for(self, tail: FileTail, known: LogFormat | None = None) -> LogFormat:
        """The file's format: forced, as the input check found it, or detected from its first
        lines; primed with its header."""
        fmt = self._formats.get(tail.fingerprint or tail.name)
        if fmt is not None:
            return fmt
        raw = tail.head()
        if self._unknown.get(tail.fingerprint or tail.name) == len(raw):
            raise unknown_format(tail.name)  # the same first lines as last time: no new detection
        head = lines_from_bytes(raw)
        fmt = self.forced_format.fresh() if self.forced_format is not None else known or detect(head)
        if fmt is None:
            self._unknown[tail.fingerprint or tail.name] = len(raw)
            raise unknown_format(tail.name)
        if tail.position.offset > 0:
            parse_lines(head, fmt, Rejects())  # resuming mid-file: let the format read its header
        self._formats[tail.fingerprint or tail.name] = fmt
        self.summary.formats.setdefault(tail.name, fmt.spec)
        return fmt

    def _read_file(self, item: Input, done: int, total: int | None) -> None:
        """Read a file to its end from its checkpoint: each block is parsed in a worker thread while
        the one before it merges here (`ahead`), and checkpointed here, in order, once committed."""
        tail = FileTail(item.path, self._identify, head=item.head)
        try:
            tail.identify()
            site = self._file_tenant(tail)
            start = tail.position.line  # the checkpoint it continues from
            blocks = 0

            def prepared() -> Generator[Parsed]:  # the worker thread: reads and parses, writes nothing
                while not self._stopping and (block := tail.read(self.chunk_bytes, final=True)) is not None:
                    yield self._prepare_block(tail, block, done + tail.source.position(), item.fmt, site)

            with closing(ahead(prepared())) as items:
                for parsed in items:
                    blocks += 1
                    self._commit(tail, parsed)
                    self._progress(parsed.position, total)
                    if self._stopping:
                        return
                    self._passed(parsed.earliest)
                    self.state.yield_to_backup()  # the block is stored and checkpointed
            if self._stopping:
                return
            if tail.damage is not None:
                self.summary.damaged.append((tail.name, *tail.damage))
            if blocks == 0 and start > 0:
                self.summary.already_read.append((tail.name, start))
            if tail.fingerprint in self._unparsed:
                self.summary.unparsed.append((*self._unparsed[tail.fingerprint], tail.position.line))
        finally:
            tail.close()

    def _prepare_block(
        self,
        tail: FileTail,
        block: Block,
        position: int,
        known: LogFormat | None = None,
        site: str | None = None,
    ) -> Parsed:
        """A block's lines → enriched requests; touches no state (it may run in the worker).
        `known`: the file's format as the input check found it; `site`: the file's tenant."""
        fmt = self._format_for(tail, known)
        with BATCH_WORK:  # not while the caller aggregates the batch before (ahead.py)
            lines = lines_from_bytes(block.data)
            block.data = b""  # the lines hold the text now: no second copy of it during the merge
            parsed = self.prepare(lines, fmt, self._block_rejects(tail.name), block.first_line, site)
        return replace(parsed, block=block, fmt=fmt.spec, position=position)

    def _commit(self, tail: FileTail, item: Parsed) -> None:
        """One file's block: merged per DO file with its line numbers, then checkpointed (unless a
        damaged DO file lost some of its lines, or none of the file has parsed yet)."""
        block = item.block
        assert block is not None, "a file's block"
        complete = self._store(item, tail.fingerprint, tail.name)
        source = tail.fingerprint
        if source is None:
            return
        if item.format_parsed == 0 and block.first_line == 0:
            self._unparsed[source] = (tail.name, item.fmt)
        elif item.format_parsed > 0:
            self._unparsed.pop(source, None)
        if not complete:
            # A damaged tenant-day lost lines: keep this file's checkpoint where it is, so a run
            # after `rings check --repair` reads them again (other DO files skip what they hold).
            self._held.add(source)
        if tail.check() == "grown":  # know it by more of its head (if the new lines are still its own)
            self._confirm(tail)
        self._pending.setdefault(source, (tail.name, []))[1].append((block.start, block.end))
        self._where[source] = (*tail.inode, os.path.abspath(tail.path))
        self._checkpoint(source)

    # --- streams ---------------------------------------------------------------------------------

    def _read_stream(self, path: str, done: int, total: int | None) -> None:
        """stdin (or a FIFO) has no offsets and no identity: each run counts what it reads.

        A forced format is checked on the first block, before any of it is merged. As with files,
        the next block is parsed in the worker thread while this one merges.
        """
        source = open_source(path)
        read = 0

        def prepared() -> Generator[Parsed]:  # the worker thread
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
                        raise unknown_format(source.name)
                self.summary.formats.setdefault(source.name, fmt.spec)
                with BATCH_WORK:  # not while the caller aggregates the batch before (ahead.py)
                    item = self.prepare(lines, fmt, self._block_rejects(source.name))
                del lines  # not held while suspended: the frame has what the merge needs
                yield item

        try:
            with closing(ahead(prepared())) as items:
                for item in items:
                    self._store(item, name=source.name)
                    self._progress(done, total)
                    if self._stopping:
                        break
                    self._passed(item.earliest)
                    self.state.yield_to_backup()
            if source.damage is not None and not self._stopping:
                self.summary.damaged.append((source.name, source.damage, read))
        finally:
            source.close()

    # --- the store stage and what it counted ----------------------------------------------------

    def _store(self, item: Parsed, source: str | None = None, name: str = "-") -> bool:
        """A block's requests into their DO files (count and store: merge.py), its lines and
        rejects into the summary and the catalog's cumulative counters (the same numbers, kept
        across runs for /metrics); False when a damaged DO file lost some of them."""
        self.summary.lines_read += item.lines
        self.summary.parsed += item.lines - item.rejects.total - item.rejects.other_shard
        if item.own_hosts is not None and item.own_hosts.height:
            self.summary.count_own_hosts(item.own_hosts.iter_rows())
        self.rejects.absorb(item.rejects)
        merged = self._active().store.add(item.frame, source)
        item.frame = item.frame.clear()  # let the batch go before the next one is taken
        if merged.do_files:  # durable before the checkpoint that says these lines were read
            sync_filesystem(self.state.root)
        if merged.lost:
            self.rejects.add(DAMAGED, merged.lost)
        self.summary.absorb(merged)
        rejected = dict(item.rejects.counts)
        if merged.lost:
            rejected[DAMAGED] = rejected.get(DAMAGED, 0) + merged.lost
        counts = {
            "lines_read": item.lines,
            "parsed": item.lines - item.rejects.total - item.rejects.other_shard - merged.lost,
            "page_views": merged.page_views,
            **{f"rejected:{reason}": n for reason, n in rejected.items()},
        }
        self._active().catalog.add_counts(name, counts, time.time())
        return merged.complete

    def _checkpoint(self, source: str) -> None:
        """Save how far a file is read: the end of its last committed block, unless a day still
        held in memory (days/direct.py) has lines of it; then the start of the earliest block that
        holds one, so that a run killed now reads them again. Never while a damaged DO file lost
        some of its lines, or while none of it has parsed."""
        if source in self._held or source in self._unparsed:
            return
        name, blocks = self._pending[source]
        first = self._active().direct.first_line(source)
        if first is None:
            end = blocks[-1][1]
            del self._pending[source]
        else:
            while len(blocks) > 1 and blocks[1][0].line <= first:
                blocks.pop(0)  # wholly before the first held line: passed for good
            end = blocks[0][0]
        where = self._where.get(source)
        self._active().catalog.save_checkpoint(source, end.offset, end.line, name, self._stamp(), where)

    def _passed(self, earliest: dt.datetime | None) -> None:
        """A block is stored: the days every input has now been read past are written (the
        watermark: the earliest time of the block just read and the first time of each input not
        read yet; an input without one, a stream, holds every day until it is read)."""
        session = self._active()
        session.direct.write_late()
        firsts = [i.first for i in self._unread]
        if earliest is not None and all(f is not None for f in firsts):
            session.direct.complete(min([earliest, *(f for f in firsts if f is not None)]))
        self._direct_done()

    def _direct_done(self) -> None:
        """Days written straight to the warehouse are finalized days of the run, and their lines
        no longer hold their files' checkpoints back."""
        direct = self._active().direct
        if direct.days_written == self._written:
            return
        self._written = direct.days_written
        done = sorted(direct.written, key=lambda key: (key[1], key[0]))  # as finalization names them
        self.summary.finalized = [f"{t}/{d}" for t, d in done]
        for source in list(self._pending):
            self._checkpoint(source)

    def _file_tenant(self, tail: FileTail) -> str | None:
        """The site of a whole file: the one it was first read with (kept when rotation renames
        it), else `--tenant-from-path`, else rings.toml `[files]`; None: each line's host decides.
        `--tenant` wins over all (Prepare)."""
        source = tail.fingerprint
        if self.prepare.tenant is not None or source is None:
            return None
        if source not in self._file_tenants:
            catalog = self._active().catalog
            tenant = catalog.file_tenant(source) or self._tenant_by_path(tail.path)
            if tenant is not None:
                catalog.set_file_tenant(source, tenant)
            self._file_tenants[source] = tenant
        return self._file_tenants[source]

    def _tenant_by_path(self, path: str) -> str | None:
        if self.tenant_from_path is not None and (found := self.tenant_from_path.search(path)):
            name = normalize_host(found["tenant"] or "")
            try:
                return check_tenant(name)
            except UsageError:
                raise UsageError(
                    f"--tenant-from-path: {path} gives {name!r}, not a valid tenant name "
                    "([a-z0-9][a-z0-9._-]{0,62})"
                ) from None
        return self.config.file_tenant(path)

    def _block_rejects(self, name: str) -> Rejects:
        """A block's own rejects (added to the run's when it is stored), keeping raw lines only
        while the run's `--rejects` file still wants some."""
        return Rejects(keep=self.rejects.keep, source=name)

    def _progress(self, position: int, total: int | None) -> None:
        self._last = Progress(position, total, self.summary.lines_read)
        if self.on_progress:
            self.on_progress(self._last)

    def _phase(self, phase: str) -> None:
        """The end of a run, named: what it does after its last batch."""
        if self.on_progress:
            self.on_progress(replace(self._last, lines=self.summary.lines_read, phase=phase))

    def _stamp(self) -> str:
        return self.now().astimezone(dt.UTC).isoformat(timespec="seconds")


def _path_pattern(pattern: str | None) -> re.Pattern[str] | None:
    """`--tenant-from-path`: a regex with a named group `tenant`, checked before any data moves."""
    if pattern is None:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise UsageError(f"--tenant-from-path: bad regex {pattern!r}: {e}") from None
    if "tenant" not in compiled.groupindex:
        raise UsageError("--tenant-from-path needs a named group (?P<tenant>...)")
    return compiled
