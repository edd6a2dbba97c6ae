"""The DO files an ingest holds open: least recently used closed first, a bounded number.

A plain ordered dict of (tenant, date) -> DoFile to flush, finalize and retention (they may pop
from it), with `open` to get one (opening, or creating it while the catalog allows) and
`close_all`. Moved out of ingest.py so that it can be read and tested alone.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from rings_cli.dofile import DoFile, open_do_file

if TYPE_CHECKING:
    from rings_cli.catalog import Catalog
    from rings_cli.state import StateDir


MOST_OPEN = 64


def _max_open() -> int:
    """DO files held open at once: 3 descriptors each (database, WAL, shared memory), within the
    process's soft limit however many tenant-days a batch touches, and 64 at most: each open
    SQLite connection keeps about 0.27 MiB (schema, prepared statements, page cache), and 256
    open held 70 MiB of an ingest's peak. A batch touches a few dozen tenant-days at 20 sites;
    at thousands, every one is reopened per batch whether 64 or 256 stay open."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return 64
    if soft == resource.RLIM_INFINITY:
        return MOST_OPEN
    return max(16, min(MOST_OPEN, (soft - 64) // 3))


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
