"""Flush: copy every dirty tenant-day's current totals from its DO file into the warehouse.

Idempotent by construction: the warehouse rows of a tenant-day are replaced by a snapshot, so the
seed's double counting on re-flush cannot happen here. A damaged DO file is skipped (it stays dirty
and is reported), so one bad file never stops the others; a file older than the warehouse's copy
(re-created, or restored from an old backup) is damage too, never flushed over the newer copy.
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
from rings_cli.warehouse.local import READ_RETRY_SECONDS, Warehouse

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
    warehouse = Warehouse(state.warehouse_path)
    if not warehouse.is_current(wait):
        catalog.mark_all_dirty()  # a new or re-laid-out warehouse is rebuilt from the DO files
    dirty = catalog.dirty()
    if not dirty and first is None:
        return FlushResult()
    # Packed tenant-days (pack.py) are read in their pack, not unpacked (a warehouse rebuild).
    unread = [k for k in dirty if not (taken and k in taken) and k not in (open_do or {})]
    taken = {**pack.packed_snapshots(state, unread), **(taken or {})}
    versions: list[tuple[str, str, int]] = []
    damaged: list[DamagedStateError] = []
    sent: list[int] = []  # per chunk yielded, its end in `versions`
    seen: set[tuple[str, str]] = set()  # tenant-days `first` gave

    def early() -> Iterator[tuple[tuple[str, str], Snapshot | None]]:
        """The caller's tenant-days, then the other dirty ones (None: to be read here)."""
        for key, read in first or ():
            seen.add(key)
            yield key, read
        for key in dirty:
            if key not in seen:
                yield key, None

    def chunks() -> Iterator[dict[str, list[pl.DataFrame]]]:
        """The snapshots of FLUSH_CHUNK tenant-days at a time: one frame per table for them all
        (not one per DO file), so memory stays bounded however many tenant-days are dirty."""
        gathered: dict[str, list[tuple[str, str, list[str], list[tuple[Any, ...]]]]] = {}
        count = 0
        for (tenant, date), read in early():
            if count >= FLUSH_CHUNK:
                yield send(gathered)
                gathered, count = {}, 0
            if read is not None or (taken and (tenant, date) in taken):
                # consumed: its rows go as they are sent
                version, snapshot = read if read is not None else taken.pop((tenant, date))  # type: ignore[union-attr]
                if (flushed := catalog.flushed_version(tenant, date)) is None or version >= flushed:
                    for table, (names, rows) in snapshot.items():
                        gathered.setdefault(table, []).append((tenant, date, names, rows))
                    versions.append((tenant, date, version))
                    count += 1
                    continue
            do = (open_do or {}).get((tenant, date))
            owned = do is None
            try:
                if do is None:
                    do = open_do_file(state, catalog, tenant, date)
                version = do.version()
                flushed = catalog.flushed_version(tenant, date)
                if flushed is not None and version < flushed:
                    raise DamagedStateError(
                        do.path, f"DO file is older than the warehouse's copy (version {version} < {flushed})"
                    )
                for table, (names, rows) in do.snapshot_rows().items():
                    gathered.setdefault(table, []).append((tenant, date, names, rows))
                versions.append((tenant, date, version))
                count += 1
            except DamagedStateError as e:
                damaged.append(e)
            finally:
                if owned and do is not None:
                    do.close()
        if count:
            yield send(gathered)

    def send(
        gathered: dict[str, list[tuple[str, str, list[str], list[tuple[Any, ...]]]]],
    ) -> dict[str, list[pl.DataFrame]]:
        """One chunk's frames; the caller's changed tenant-days in it are marked dirty first."""
        start = sent[-1] if sent else 0
        sent.append(len(versions))
        changed = [(t, d) for t, d, _ in versions[start:] if (t, d) in seen]
        if changed:
            catalog.mark_dirty(changed)
        return {table: [frame] for table, frame in snapshot_frames(gathered).items()}

    done = 0  # chunks committed

    def committed() -> None:
        """A chunk committed in the warehouse: its tenant-days are flushed (a crash before this
        leaves them dirty, flushed again next time: idempotent)."""
        nonlocal done
        start = sent[done - 1] if done else 0
        part = versions[start : sent[done]]
        done += 1
        catalog.mark_flushed(part)
        if on_commit is not None:
            on_commit([(t, d) for t, d, _ in part])

    rows = statements = 0
    parts = chunks()
    head = next(parts, None)  # read before the warehouse is opened: nothing healthy, no write
    if head is not None:
        rows, statements = warehouse.flush(itertools.chain([head], parts), wait=wait, on_commit=committed)
    return FlushResult(tenant_days=len(versions), rows=rows, statements=statements, damaged=damaged)
