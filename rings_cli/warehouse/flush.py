"""Flush: copy every dirty tenant-day's current totals from its DO file into the warehouse.

Idempotent by construction: the warehouse rows of a tenant-day are replaced by a snapshot, never
added to, so flushing twice (or again after a crash) cannot count anything twice. A damaged DO file
is skipped (it stays dirty and is reported), so one bad file never stops the others; a file older
than the warehouse's copy (re-created, or restored from an old backup) is damage too, never flushed
over the newer copy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rings_cli.core.errors import DamagedStateError
from rings_cli.core.state import StateDir
from rings_cli.store import pack
from rings_cli.store.catalog import Catalog
from rings_cli.store.docache import open_do_file
from rings_cli.store.dofile import DoFile, Snapshot, snapshot_frames
from rings_cli.warehouse.base import READ_RETRY_SECONDS
from rings_cli.warehouse.choose import open_warehouse

if TYPE_CHECKING:
    import polars as pl

# Tenant-days whose rows a flush holds in memory at once, and commits together (a finalization of
# 7,000 tenant-days at 1,000 tenants held them all: in Python, and in DuckDB's one transaction).
FLUSH_CHUNK = 64


@dataclass
class FlushResult:
    """What one flush did: tenant-days copied and warehouse rows written."""

    tenant_days: int = 0
    rows: int = 0
    statements: int = 0
    damaged: list[DamagedStateError] = field(default_factory=list)  # skipped, still dirty


# One chunk's rows as they are read: per warehouse table, (tenant, date, column names, rows) of
# each tenant-day.
Gathered = dict[str, list[tuple[str, str, list[str], list[tuple[Any, ...]]]]]


def flush_dirty(
    state: StateDir,
    catalog: Catalog,
    open_do: dict[tuple[str, str], DoFile] | None = None,
    wait: float = READ_RETRY_SECONDS,
    taken: dict[tuple[str, str], Snapshot] | None = None,
    first: Iterable[tuple[tuple[str, str], Snapshot]] | None = None,
    on_commit: Callable[[list[tuple[str, str]]], None] | None = None,
) -> FlushResult:
    """Flush all dirty tenant-days; `open_do` lets an ingest reuse its open DO files, and `taken`
    holds (version, snapshot rows) of files its caller just read, not to reopen; its entries are
    consumed (popped) as they are sent.

    `first` yields (tenant-day, (version, snapshot rows)) of DO files its caller changes as the
    flush goes (finalization: each file opened once, read while open): they are flushed first,
    dirty or not, each chunk of them marked dirty before it is sent. After each chunk commits, its
    tenant-days are marked flushed and `on_commit` gets them (finalization closes them there).

    Waits up to `wait` seconds for readers to let go of the warehouse, then raises
    StateLockedError; nothing is lost then (the tenant-days stay dirty, readers read their DO files).
    """
    warehouse = open_warehouse(state)
    if not warehouse.is_current(wait):
        catalog.mark_all_dirty()  # a new or re-laid-out warehouse is rebuilt from the DO files
    dirty = catalog.dirty()
    if not dirty and first is None:
        return FlushResult()
    # Packed tenant-days (pack.py) are read in their pack, not unpacked (a warehouse rebuild).
    unread = [k for k in dirty if not (taken and k in taken) and k not in (open_do or {})]
    plan = _Flush(state, catalog, open_do or {}, {**pack.packed_snapshots(state, unread), **(taken or {})})
    chunks = plan.chunks(dirty, first or (), on_commit)
    head = next(chunks, None)  # read before the warehouse is opened: nothing healthy, no write
    rows = statements = 0
    if head is not None:
        rows, statements = warehouse.flush(
            itertools.chain([head], chunks), wait=wait, on_commit=plan.committed
        )
    return FlushResult(tenant_days=len(plan.versions), rows=rows, statements=statements, damaged=plan.damaged)


class _Flush:
    """One flush's reading side: the tenant-days in chunks of FLUSH_CHUNK, and which chunk each
    went in, so that a chunk's commit marks exactly its tenant-days flushed."""

    def __init__(
        self,
        state: StateDir,
        catalog: Catalog,
        open_do: dict[tuple[str, str], DoFile],
        taken: dict[tuple[str, str], Snapshot],
    ) -> None:
        self.state = state
        self.catalog = catalog
        self.open_do = open_do
        self.taken = taken
        self.versions: list[tuple[str, str, int]] = []  # every tenant-day read, in order
        self.damaged: list[DamagedStateError] = []  # skipped: they stay dirty
        self._ends: list[int] = []  # per chunk handed out, where it ends in `versions`
        self._done = 0  # chunks committed
        self._given: set[tuple[str, str]] = set()  # tenant-days the caller's `first` gave
        self._on_commit: Callable[[list[tuple[str, str]]], None] | None = None

    def chunks(
        self,
        dirty: list[tuple[str, str]],
        first: Iterable[tuple[tuple[str, str], Snapshot]],
        on_commit: Callable[[list[tuple[str, str]]], None] | None,
    ) -> Iterator[dict[str, list[pl.DataFrame]]]:
        """The caller's tenant-days, then the other dirty ones, FLUSH_CHUNK at a time: one frame
        per table for a whole chunk (not one per DO file), so memory stays bounded however many
        tenant-days are dirty."""
        self._on_commit = on_commit
        gathered: Gathered = {}
        count = 0
        for key, given in self._in_order(dirty, first):
            if count >= FLUSH_CHUNK:
                yield self._frames(gathered)
                gathered, count = {}, 0
            read = self._read(key, given)
            if read is None:
                continue
            version, snapshot = read
            for table, (names, rows) in snapshot.items():
                gathered.setdefault(table, []).append((*key, names, rows))
            self.versions.append((*key, version))
            count += 1
        if count:
            yield self._frames(gathered)

    def _in_order(
        self, dirty: list[tuple[str, str]], first: Iterable[tuple[tuple[str, str], Snapshot]]
    ) -> Iterator[tuple[tuple[str, str], Snapshot | None]]:
        """The caller's tenant-days with their snapshots, then the other dirty ones (None: read here)."""
        for key, read in first:
            self._given.add(key)
            yield key, read
        for key in dirty:
            if key not in self._given:
                yield key, None

    def _read(self, key: tuple[str, str], given: Snapshot | None) -> Snapshot | None:
        """A tenant-day's version and rows: as given, taken (consumed), or from its DO file; None
        when the DO file is damaged (noted) or older than what the warehouse holds (damage too)."""
        if given is None and key in self.taken:
            given = self.taken.pop(key)  # its rows go as they are sent
        flushed = self.catalog.flushed_version(*key)
        if given is not None and (flushed is None or given[0] >= flushed):
            return given
        do = self.open_do.get(key)
        owned = do is None
        try:
            if do is None:
                do = open_do_file(self.state, self.catalog, *key)
            version = do.version()
            if flushed is not None and version < flushed:
                raise DamagedStateError(
                    do.path, f"DO file is older than the warehouse's copy (version {version} < {flushed})"
                )
            return version, do.snapshot_rows()
        except DamagedStateError as e:
            self.damaged.append(e)
            return None
        finally:
            if owned and do is not None:
                do.close()

    def _frames(self, gathered: Gathered) -> dict[str, list[pl.DataFrame]]:
        """One chunk's frames; the caller's tenant-days in it are marked dirty first (the flush
        may die before it commits: they are flushed again next time)."""
        start = self._ends[-1] if self._ends else 0
        self._ends.append(len(self.versions))
        changed = [(t, d) for t, d, _ in self.versions[start:] if (t, d) in self._given]
        if changed:
            self.catalog.mark_dirty(changed)
        return {table: [frame] for table, frame in snapshot_frames(gathered).items()}

    def committed(self) -> None:
        """A chunk committed in the warehouse: its tenant-days are flushed (a crash before this
        leaves them dirty, flushed again next time: idempotent)."""
        start = self._ends[self._done - 1] if self._done else 0
        part = self.versions[start : self._ends[self._done]]
        self._done += 1
        self.catalog.mark_flushed(part)
        if self._on_commit is not None:
            self._on_commit([(t, d) for t, d, _ in part])
