"""The DO-file cache alone (rings_cli/store/docache.py): bounded, least recently used closed first."""

from __future__ import annotations

import datetime as dt

from rings_cli.core.state import StateDir
from rings_cli.store.catalog import Catalog
from rings_cli.store.docache import MAX_OPEN_DO_FILES, DoFileCache


def test_at_most_max_open_do_files_and_the_least_recently_used_goes_first(state: StateDir) -> None:
    state.root.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(state.catalog_path)
    cache = DoFileCache(state)
    cache.catalog = catalog
    try:
        first = cache.open("alice", "2025-01-01")
        start = dt.date(2025, 2, 1)
        days = [str(start + dt.timedelta(days=i)) for i in range(MAX_OPEN_DO_FILES + 25)]
        for i, day in enumerate(days):
            cache.open("bob", day)
            if i % 10 == 0:
                assert cache.open("alice", "2025-01-01") is first  # used again: kept open
        assert len(cache) == MAX_OPEN_DO_FILES
        assert ("alice", "2025-01-01") in cache
        assert ("bob", days[0]) not in cache  # the least recently used was closed
        assert len(list(state.root.glob("do/*/*.sqlite"))) == len(days) + 1
    finally:
        cache.close_all()
        catalog.close()
    assert len(cache) == 0
