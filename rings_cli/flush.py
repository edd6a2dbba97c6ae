"""Flush: copy every dirty tenant-day's current totals from its DO file into the warehouse.

Idempotent by construction: the warehouse rows of a tenant-day are replaced by a snapshot, so the
seed's double counting on re-flush cannot happen here.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from rings_cli.catalog import Catalog
from rings_cli.dofile import DoFile
from rings_cli.state import StateDir
from rings_cli.warehouse import READ_RETRY_SECONDS, Warehouse


@dataclass
class FlushResult:
    """What one flush did: tenant-days copied and warehouse rows written."""

    tenant_days: int = 0
    rows: int = 0
    statements: int = 0


def flush_dirty(
    state: StateDir,
    catalog: Catalog,
    open_do: dict[tuple[str, str], DoFile] | None = None,
    wait: float = READ_RETRY_SECONDS,
) -> FlushResult:
    """Flush all dirty tenant-days; `open_do` lets an ingest reuse its open DO files.

    Waits up to `wait` seconds for readers to let go of the warehouse, then raises
    StateLockedError; nothing is lost then (the tenant-days stay dirty, readers read their DO files).
    """
    warehouse = Warehouse(state.warehouse_path)
    if not warehouse.is_current(wait):
        catalog.mark_all_dirty()  # a new or re-laid-out warehouse is rebuilt from the DO files
    dirty = catalog.dirty()
    if not dirty:
        return FlushResult()
    snapshots: dict[str, list[pl.DataFrame]] = {}
    versions: list[tuple[str, str, int]] = []
    for tenant, date in dirty:
        do = (open_do or {}).get((tenant, date))
        owned = do is None
        if do is None:
            do = DoFile(state.do_path(tenant, date), tenant, date)
        try:
            for table, frame in do.snapshot().items():
                snapshots.setdefault(table, []).append(frame)
            versions.append((tenant, date, do.version()))
        finally:
            if owned:
                do.close()
    rows, statements = warehouse.flush(snapshots, wait=wait)
    catalog.mark_flushed(versions)
    return FlushResult(tenant_days=len(dirty), rows=rows, statements=statements)
