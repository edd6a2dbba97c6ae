"""Flush: copy every dirty tenant-day's current totals from its DO file into the warehouse.

Idempotent by construction: the warehouse rows of a tenant-day are replaced by a snapshot, so the
seed's double counting on re-flush cannot happen here. A damaged DO file is skipped (it stays dirty
and is reported), so one bad file never stops the others; a file older than the warehouse's copy
(re-created, or restored from an old backup) is damage too, never flushed over the newer copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rings_cli import pack
from rings_cli.catalog import Catalog
from rings_cli.dofile import DoFile, open_do_file, snapshot_frames
from rings_cli.errors import DamagedStateError
from rings_cli.state import StateDir
from rings_cli.warehouse import READ_RETRY_SECONDS, Warehouse

# A DO file's version and snapshot rows (DoFile.snapshot_rows), read by a caller that had it open.
Taken = tuple[int, dict[str, tuple[list[str], list[tuple[Any, ...]]]]]


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
    taken: dict[tuple[str, str], Taken] | None = None,
) -> FlushResult:
    """Flush all dirty tenant-days; `open_do` lets an ingest reuse its open DO files, and `taken`
    holds (version, snapshot rows) of files its caller just read (finalization), not to reopen.

    Waits up to `wait` seconds for readers to let go of the warehouse, then raises
    StateLockedError; nothing is lost then (the tenant-days stay dirty, readers read their DO files).
    """
    warehouse = Warehouse(state.warehouse_path)
    if not warehouse.is_current(wait):
        catalog.mark_all_dirty()  # a new or re-laid-out warehouse is rebuilt from the DO files
    dirty = catalog.dirty()
    if not dirty:
        return FlushResult()
    # Packed tenant-days (pack.py) are read in their pack, not unpacked (a warehouse rebuild).
    unread = [k for k in dirty if not (taken and k in taken) and k not in (open_do or {})]
    taken = {**pack.packed_snapshots(state, unread), **(taken or {})}
    gathered: dict[str, list[tuple[str, str, list[str], list[tuple[Any, ...]]]]] = {}
    versions: list[tuple[str, str, int]] = []
    damaged: list[DamagedStateError] = []
    for tenant, date in dirty:
        if taken and (tenant, date) in taken:
            version, snapshot = taken[(tenant, date)]
            if (flushed := catalog.flushed_version(tenant, date)) is None or version >= flushed:
                for table, (names, rows) in snapshot.items():
                    gathered.setdefault(table, []).append((tenant, date, names, rows))
                versions.append((tenant, date, version))
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
        except DamagedStateError as e:
            damaged.append(e)
        finally:
            if owned and do is not None:
                do.close()
    rows = statements = 0
    if versions:
        # One frame per table for every tenant-day (not one per DO file), in one transaction.
        snapshots = {table: [frame] for table, frame in snapshot_frames(gathered).items()}
        rows, statements = warehouse.flush(snapshots, wait=wait)
        catalog.mark_flushed(versions)
    return FlushResult(tenant_days=len(versions), rows=rows, statements=statements, damaged=damaged)
