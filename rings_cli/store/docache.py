"""Opening DO files: one (`open_do_file`: created while the warehouse has no copy, unpacked from
its month's pack when packed), and the ones an ingest holds open (`DoFileCache`: least recently used
closed first, a bounded number).

The cache is a plain ordered dict of (tenant, date) -> DoFile that flush, finalization and
retention may pop from, with `open` to get one and `close_all`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from rings_cli.store.dofile import DoFile
from rings_cli.store.pack import unpack

if TYPE_CHECKING:
    from rings_cli.core.state import StateDir
    from rings_cli.store.catalog import Catalog


MOST_OPEN = 64
RESERVED_FILES = 32  # a run's descriptors besides DO files (18 measured when the first one opens)


def open_do_file(state: StateDir, catalog: Catalog, tenant: str, date: str) -> DoFile:
    """Open a tenant-day's DO file, creating it only while the warehouse has no copy of it.

    Once flushed, a missing file is damage (DamagedStateError), never silently re-created: an
    empty file would lose its counts and the next flush would overwrite the warehouse with less.
    A packed tenant-day gets its finalized DO file back from its pack first (pack.unpack).
    """
    path = state.do_path(tenant, date)
    if not path.exists():
        unpack(state, tenant, date)
    return DoFile(path, tenant, date, create=catalog.may_create(tenant, date))


def _max_open() -> int:
    """DO files held open at once: 3 descriptors each (database, WAL, shared memory), within what
    the process's soft limit leaves beside the rest of a run (RESERVED_FILES) however many
    tenant-days a batch touches, and 64 at most: each open SQLite connection keeps about 0.27 MiB
    (schema, prepared statements, page cache), and 256 open held 70 MiB of an ingest's peak. A
    batch touches a few dozen tenant-days at 20 sites; at thousands, every one is reopened per batch
    whether 64 or 256 stay open. (`rings ingest` needs a limit of 64 at least: bounds.py.)"""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return MOST_OPEN
    if soft == resource.RLIM_INFINITY:
        return MOST_OPEN
    return max(1, min(MOST_OPEN, (soft - RESERVED_FILES) // 3))


MAX_OPEN_DO_FILES = _max_open()


class DoFileCache(OrderedDict[tuple[str, str], DoFile]):
    """Open DO files of one state dir, at most MAX_OPEN_DO_FILES."""

    def __init__(self, state: StateDir) -> None:
        super().__init__()
        self.state = state
        self.catalog: Catalog | None = None  # set when the ingest session opens the catalog

    def open(self, tenant: str, date: str) -> DoFile:
        """The open DO file of a tenant-day; opening one closes the least recently used beyond
        MAX_OPEN_DO_FILES, so descriptors stay bounded (each WAL database holds three)."""
        key = (tenant, date)
        do = self.get(key)
        if do is not None:
            self.move_to_end(key)
            return do
        while len(self) >= MAX_OPEN_DO_FILES:
            self.popitem(last=False)[1].close()
        if self.catalog is None:
            raise RuntimeError("DO files are opened within an ingest session (catalog open)")
        do = open_do_file(self.state, self.catalog, tenant, date)
        self[key] = do
        return do

    def close_all(self) -> None:
        for do in self.values():
            do.close()
        self.clear()
