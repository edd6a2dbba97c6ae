"""The count-and-store stage: each tenant-day of a batch goes where it lives.

- a DO file (ingest/merge.py), for a day still open, a day the catalog lists (open or finalized:
  its late lines), and every day in follow mode or with `--no-finalize`;
- memory, then the warehouse (days/direct.py), for a day that has already ended when a batch run
  first meets it and that nothing stores yet: no durable scratch, no salt file;
- the warehouse's own rows, for a later line of a day written there that way (late: counts only).

Which one is decided once per tenant-day and session (a day held in memory and then written
becomes late), from the catalog and, for a day the catalog does not list, the warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl

from rings_cli.core.config import Config
from rings_cli.core.errors import RingsError
from rings_cli.days.direct import DirectDays
from rings_cli.enrich.zones import with_local_day
from rings_cli.ingest.ahead import BATCH_WORK
from rings_cli.ingest.merge import Merged, Merger
from rings_cli.store.catalog import Catalog
from rings_cli.store.pack import pack_days, pack_path

DO, DIRECT, LATE = "do", "direct", "late"
HELD_BYTES = 64 * 1024 * 1024  # days held in memory past this much: some go on in DO files
SPILL_SHARE = 0.5  # of the held days, the ones that end first
Day = tuple[str, str]


class Store:
    """Routes one session's batches to DO files or to the warehouse (see the module)."""

    def __init__(
        self,
        merger: Merger,
        direct: DirectDays,
        catalog: Catalog,
        config: Config,
        now: Callable[[], dt.datetime],
        new_direct: bool,
    ) -> None:
        self.merger = merger
        self.direct = direct
        self.catalog = catalog
        self.config = config
        self.now = now
        self.new_direct = new_direct  # a batch run that finalizes: ended days may go straight
        self._kinds: dict[Day, str] = {}
        self._packed: dict[Path, set[str]] = {}  # the days each pack holds, as read
        self._files: dict[str, set[str]] = {}  # per tenant, the names in its DO folder, as listed

    def add(self, frame: pl.DataFrame, source: str | None) -> Merged:
        """One batch of enriched requests stored; what it stored and lost."""
        if "day" not in frame.columns:  # Prepare adds it (the read-ahead worker)
            frame = with_local_day(frame, self.config)
        keys = sorted(set(frame.select("tenant", "day").unique().iter_rows()))
        kinds = self._kind_of(keys)
        if all(kinds[k] == DO for k in keys):
            return self.merger.merge(frame, source)
        if all(kinds[k] == DIRECT for k in keys):  # a history import: no split, no copy
            merged = Merged()
            with BATCH_WORK:  # the read-ahead worker does not parse meanwhile (ahead.py: memory)
                self.direct.add(frame, source)
            _count(merged, frame, late=False)
            self._spill(merged)
            return merged
        table = pl.DataFrame(
            [(t, d, kinds[(t, d)]) for t, d in keys],
            schema={"tenant": pl.String, "day": pl.String, "_kind": pl.String},
            orient="row",
        )
        frame = frame.join(table, on=["tenant", "day"])
        parts = {
            kind: part.drop("_kind") for (kind,), part in frame.partition_by("_kind", as_dict=True).items()
        }
        merged = self.merger.merge(parts[DO], source) if DO in parts else Merged()
        if DIRECT in parts:
            with BATCH_WORK:  # the read-ahead worker does not parse meanwhile (ahead.py: memory)
                self.direct.add(parts[DIRECT], source)
            _count(merged, parts[DIRECT], late=False)
            self._spill(merged)
        if LATE in parts:
            kept = self.direct.add_late(parts[LATE], source)
            _count(merged, kept, late=True)
        return merged

    def _spill(self, merged: Merged) -> None:
        """Past HELD_BYTES of days held in memory, the ones that end first go on in DO files:
        memory stays bounded however long days wait for the other inputs (two servers' logs read
        one after the other) and however big a day is."""
        while self.direct.held_bytes() > HELD_BYTES:
            spilled = self.direct.release(SPILL_SHARE)
            if spilled is None:
                return
            with BATCH_WORK:
                adopted = self.merger.adopt(spilled)
            merged.damaged += adopted.damaged
            merged.do_files += adopted.do_files
            self._kinds.update(dict.fromkeys(spilled.keys, DO))

    def _kind_of(self, keys: list[Day]) -> dict[Day, str]:
        """Where each tenant-day lives; asked of the catalog and the warehouse once a session."""
        for key in keys:
            if self._kinds.get(key) == DIRECT and not self.direct.holds(key):
                self._kinds[key] = LATE  # written to the warehouse since
        unknown = [k for k in keys if k not in self._kinds]
        if unknown:
            # A DO file's day: listed, or (the catalog lost) its DO file or its month's pack there.
            listed = self.catalog.listed(unknown)
            rest = [k for k in unknown if k not in listed and not self._has_files(*k)]
            stored = self.direct.stored(rest) if rest else set()
            fresh = [k for k in rest if k not in stored]
            ended = set(self.direct.ended(fresh, self.now())) if self.new_direct else set()
            for key in unknown:
                self._kinds[key] = LATE if key in stored else DIRECT if key in ended else DO
        return {k: self._kinds[k] for k in keys}

    def _has_files(self, tenant: str, date: str) -> bool:
        """Whether the tenant-day has a DO file, or a pack holds it (a tenant's folder listed once,
        each pack read once)."""
        state = self.merger.do_files.state
        if tenant not in self._files:
            folder = state.root / "do" / tenant
            self._files[tenant] = {e.name for e in os.scandir(folder)} if folder.is_dir() else set()
        if f"{date}.sqlite" in self._files[tenant]:
            return True
        if f"{date[:7]}.pack.sqlite" not in self._files[tenant]:
            return False
        path = pack_path(state, tenant, date[:7])
        if path not in self._packed:
            try:
                self._packed[path] = set(pack_days(path)) if path.exists() else set()
            except RingsError:
                return True  # a damaged pack: the DO-file path names it (rings check)
        return date in self._packed[path]


def _count(merged: Merged, frame: pl.DataFrame, late: bool) -> None:
    """What a part stored outside DO files adds to the batch's `Merged`."""
    merged.requests += frame.height
    merged.page_views += int(frame.get_column("is_page_view").sum())
    merged.bot_requests += int(frame.get_column("is_bot").sum())
    days = set(frame.select("tenant", "day").unique().iter_rows())
    merged.tenant_days |= days
    if late:
        merged.late_lines += frame.height
        merged.late_tenant_days |= {f"{t}/{d}" for t, d in days}
