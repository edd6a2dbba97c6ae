"""The upkeep an ingest session schedules beside its batches: flushes, finalization, retention.

A batch run does it all once, after its last batch (`after_run`); follow mode every flush interval
(`tick`) and once when it stops (`flush`). What each step did goes into the run's summary; a
damaged state file is named there once and skipped, never the end of the run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from rings_cli.core.config import Config
from rings_cli.core.errors import DamagedStateError
from rings_cli.core.state import StateDir
from rings_cli.days.erase import collect_garbage
from rings_cli.days.finalize import finalize_due
from rings_cli.ingest.ahead import give_back_memory
from rings_cli.ingest.summary import IngestSummary
from rings_cli.store.catalog import Catalog
from rings_cli.store.docache import DoFileCache
from rings_cli.warehouse.flush import FlushResult, flush_dirty
from rings_cli.warehouse.local import READ_RETRY_SECONDS

RETENTION_SECONDS = 3600.0  # follow mode applies keep_days at most this often
TICK_WAIT = 2.0  # a follow-mode flush waits this long for readers, then tries next tick


class Upkeep:
    """Flush, finalize and expire for one session (its catalog and open DO files).

    `grace`: days that ended that long before `now` are finalized (None: never, `--no-finalize`).
    `forget` is called when tenant-days were closed or deleted, so that the merger looks again.
    """

    def __init__(
        self,
        state: StateDir,
        catalog: Catalog,
        do_files: DoFileCache,
        config: Config,
        grace: dt.timedelta | None,
        now: Callable[[], dt.datetime],
        summary: IngestSummary,
        forget: Callable[[], None],
    ) -> None:
        self.state = state
        self.catalog = catalog
        self.do_files = do_files
        self.config = config
        self.grace = grace
        self.now = now
        self.summary = summary
        self.forget = forget
        self._last_retention: float | None = None

    def flush(self, wait: float = READ_RETRY_SECONDS) -> FlushResult:
        """Every dirty tenant-day into the warehouse."""
        started = time.monotonic()
        result = flush_dirty(self.state, self.catalog, self.do_files, wait=wait)
        if result.tenant_days:  # for /metrics: the last flush that wrote something
            self.catalog.note_flush(time.time(), time.monotonic() - started)
        self._flushed([result])
        return result

    def after_run(self) -> None:
        """A batch run's end: finalize what ended (its flush takes every dirty tenant-day along:
        one warehouse session, not two), flush the rest, then retention."""
        if self.grace is None:
            self.flush()
            return
        # The batches' open DO files (their caches) and freed memory go back first: the end of a
        # run, DuckDB loaded, is its peak (docs/performance.md).
        self.do_files.close_all()
        give_back_memory()
        self.summary.finalized += self._finalize(READ_RETRY_SECONDS, record=True)
        self.flush()  # what finalization did not flush (everything, when no day was due)
        self.retention()

    def tick(self, clock: float) -> FlushResult:
        """Follow mode, every flush interval: flush, finalize, and hourly retention. A busy
        warehouse raises StateLockedError: the tenant-days stay dirty, the next tick retries."""
        result = self.flush(wait=TICK_WAIT)
        if self.grace is not None:
            self.summary.finalized += self._finalize(TICK_WAIT, record=False)
        if self._last_retention is None or clock - self._last_retention >= RETENTION_SECONDS:
            self.retention(wait=TICK_WAIT)
            self._last_retention = clock
        return result

    def retention(self, wait: float = READ_RETRY_SECONDS) -> None:
        """Delete tenant-days older than `keep_days` (rings.toml), leaving nothing of them."""
        done = collect_garbage(
            self.state, self.catalog, self.config, self.now(), open_do=self.do_files, wait=wait
        )
        self.summary.expired += [f"{t}/{d}" for t, d in done.days]
        self.forget()

    def _finalize(self, wait: float, record: bool) -> list[str]:
        """Finalize due tenant-days; `record` its flushes in the summary (a batch run's do)."""
        assert self.grace is not None
        damaged: list[DamagedStateError] = []
        flushed: list[FlushResult] = []
        started = time.monotonic()
        closed = finalize_due(
            self.state,
            self.catalog,
            self.now(),
            self.grace,
            self.do_files,
            wait=wait,
            damaged=damaged,
            flushed=flushed,
            config=self.config,
        )
        self.forget()
        if any(r.tenant_days for r in flushed):  # its flushes, finalization's time included
            self.catalog.note_flush(time.time(), time.monotonic() - started)
        self.summary.note_damage([str(e) for e in damaged])
        if record:
            self._flushed(flushed)
        return closed

    def _flushed(self, results: list[FlushResult]) -> None:
        for result in results:
            self.summary.note_damage([str(e) for e in result.damaged])
            self.summary.flushed_rows += result.rows
            self.summary.flushes.append(result)
