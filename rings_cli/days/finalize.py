"""Finalize: close the tenant-days that ended more than the grace period ago.

Each such tenant-day's DO file gets its daily summary (top pages and referrers) and loses its
visitor hashes (secure_delete, free pages cut off, then a WAL truncate), the warehouse gets the final
totals, and the tenant-day's salt is destroyed: from then on no hash of it can be linked to anyone,
and a line for it is merged as late (counts without visitors). When a tenant-day ends is
`lifecycle.day_end`'s answer. A tenant-day is finalized only once its WAL truncate succeeded; if a
reader held the WAL, it stays open for the next run. Finalized tenant-days that the warehouse holds
clean then move into their month's pack (pack.py). Idempotent: a crash half-way is finished by the
next run. A damaged DO file is skipped and reported; its tenant-day is still closed and its salt
destroyed on time (the privacy promise does not wait for a repair).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from rings_cli.core.config import Config, load_config
from rings_cli.core.errors import DamagedStateError, UsageError
from rings_cli.core.goals import fingerprint
from rings_cli.core.privacy import SaltStore
from rings_cli.core.state import StateDir
from rings_cli.count.goals import recount
from rings_cli.store import pack as packs
from rings_cli.store.catalog import Catalog
from rings_cli.store.docache import open_do_file
from rings_cli.store.dofile import DoFile, Snapshot
from rings_cli.store.lifecycle import due_days, label, migrate
from rings_cli.store.pack import pack_finalized
from rings_cli.warehouse.flush import FlushResult, flush_dirty
from rings_cli.warehouse.local import READ_RETRY_SECONDS

DEFAULT_GRACE = dt.timedelta(hours=1)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# The longest grace period: a day's end plus the grace must stay a date (100 years already
# finalizes nothing: `--no-finalize` says so more plainly).
MAX_GRACE = dt.timedelta(days=36500)


def parse_duration(text: str, option: str) -> dt.timedelta:
    """`3600`, `90m`, `1h`, `2d` → timedelta, in ASCII digits, at most MAX_GRACE."""
    match = re.fullmatch(r"\s*([0-9]{1,20}(?:\.[0-9]{1,20})?)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"{option}: {text[:24]!r} is not a duration (e.g. 3600, 90m, 1h, 2d)")
    seconds = float(match[1]) * _UNITS[match[2] or "s"]
    if seconds > MAX_GRACE.total_seconds():
        raise UsageError(f"{option}: {text[:24]!r} is longer than {MAX_GRACE.days}d (100 years)")
    return dt.timedelta(seconds=seconds)


def finalize_due(
    state: StateDir,
    catalog: Catalog,
    now: dt.datetime,
    grace: dt.timedelta = DEFAULT_GRACE,
    open_do: dict[tuple[str, str], DoFile] | None = None,
    wait: float = READ_RETRY_SECONDS,
    damaged: list[DamagedStateError] | None = None,
    flushed: list[FlushResult] | None = None,
    config: Config | None = None,
    pack: bool = True,
) -> list[str]:
    """Finalize every due tenant-day (`config`: the zones that end them); returns them as
    `tenant/date`. Salts are destroyed only after the warehouse holds the final totals (a busy
    warehouse raises StateLockedError; run again). Tenant-days whose DO file is damaged are skipped
    and appended to `damaged` (when given); those whose WAL could not be emptied stay open for the
    next run. Then (`pack`) every finalized tenant-day the warehouse holds clean moves into its
    month's pack (pack.py). Each flush's result is appended to `flushed` (when given)."""
    run = _Finalization(state, catalog, now, open_do or {}, pack, config)
    due = due_days(catalog, now, grace, config)
    result = run.flush_late(wait) if not due else run.close_due(due, wait)
    if flushed is not None and result is not None:
        flushed.append(result)
    if damaged is not None:
        damaged += run.damaged
    if pack:
        pack_finalized(state, catalog, open_do)  # what an earlier run left finalized and unpacked
    return [label(t, d) for t, d in due if (t, d) in run.closed]


class _Finalization:
    """One pass: the due DO files finalized and flushed in one warehouse session, then, chunk by
    chunk as the warehouse commits them, their salts destroyed, closed in the catalog and packed."""

    def __init__(
        self,
        state: StateDir,
        catalog: Catalog,
        now: dt.datetime,
        open_do: dict[tuple[str, str], DoFile],
        pack: bool,
        config: Config | None = None,
    ) -> None:
        self.state = state
        self.config = config  # its goals: counted again before finalizing if they changed
        self.catalog = catalog
        self.open_do = open_do
        self.pack = pack
        self.stamp = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        self.salts = SaltStore(state)
        self.closed: set[tuple[str, str]] = set()  # finalized in the catalog
        self.damaged: list[DamagedStateError] = []
        self._closing: set[tuple[str, str]] = set()  # finalized, WAL emptied: to close once flushed
        self._lost: list[tuple[str, str]] = []  # damaged: closed all the same once the flush is done
        self._copies: dict[tuple[str, str], packs.DayCopy] = {}  # what their packs take, read while open

    def flush_late(self, wait: float) -> FlushResult | None:
        """No day is due: only late lines of finalized tenant-days to flush (then packed again)."""
        closed_days = self.catalog.finalized_days()
        if not any(key in closed_days for key in self.catalog.dirty()):
            return None
        result = flush_dirty(self.state, self.catalog, self.open_do, wait=wait)
        self.damaged += result.damaged
        return result

    def close_due(self, due: list[tuple[str, str]], wait: float) -> FlushResult:
        """Finalize, flush (every dirty tenant-day too, due or not: one warehouse session), close."""
        result = flush_dirty(
            self.state,
            self.catalog,
            self.open_do,
            wait=wait,
            first=self._finalized(due),
            on_commit=self._committed,
        )
        seen = {e.path for e in self.damaged}
        self.damaged += [e for e in result.damaged if e.path not in seen]
        # Damaged DO files are closed on time all the same (the privacy promise does not wait for a repair).
        self._close(sorted(self._closing) + self._lost, last=True)
        return result

    def _finalized(self, due: list[tuple[str, str]]) -> Iterator[tuple[tuple[str, str], Snapshot]]:
        """Each due DO file opened once: finalized, then read for the flush and for its pack. By
        tenant then date, so that a chunk of the flush holds whole months of a tenant (one pack
        transaction each)."""
        for tenant, date in sorted(due):
            do = self.open_do.pop((tenant, date), None)
            try:
                if do is None:
                    do = open_do_file(self.state, self.catalog, tenant, date)
                if self.config is not None:
                    _goals_current(do, self.config)
                truncated = do.finalize()
                version = do.version()
                read = (version, do.snapshot_rows())
                if truncated:
                    self._closing.add((tenant, date))
                    copy = packs.read_day(do.con, tenant, date, version) if self.pack else None
                    if copy is not None:
                        self._copies[(tenant, date)] = copy
            except DamagedStateError as e:
                self.damaged.append(e)
                self._lost.append((tenant, date))
                continue
            finally:
                if do is not None:
                    do.close()
            yield (tenant, date), read

    def _committed(self, keys: list[tuple[str, str]]) -> None:
        """A flush chunk committed: its finalized tenant-days can be closed."""
        self._close([key for key in keys if key in self._closing])
        self._closing.difference_update(keys)

    def _close(self, keys: list[tuple[str, str]], last: bool = False) -> None:
        """Tenant-days whose final totals the warehouse holds: salt destroyed, then finalized in
        the catalog (one commit; a crash before it leaves them open, and the next run closes them
        again), then into their month's pack. The last month of these keys may go on in the next
        chunk: it waits for it (unless `last`), so that it is packed in one transaction."""
        for key in keys:
            self.salts.destroy(*key)
        with self.catalog.con:
            self.catalog.con.execute("BEGIN")
            for tenant, date in keys:
                self.catalog.mark_finalized(tenant, date, self.stamp)
        self.closed.update(keys)
        done = [key for key in self._copies if key in self.closed]  # the flush may have read one more
        if self.pack and done:
            held = None if last else max((t, d[:7]) for t, d in done)
            ready = [(t, d) for t, d in done if (t, d[:7]) != held]
            packs.pack_copies(self.state, {key: self._copies.pop(key) for key in ready})


def finalize_days(
    state: StateDir,
    grace: dt.timedelta = DEFAULT_GRACE,
    now: dt.datetime | None = None,
    damaged: list[DamagedStateError] | None = None,
) -> list[str]:
    """`rings finalize`: take the ingest lock (no merge may run meanwhile) and finalize due
    tenant-days (a state dir of an earlier release is migrated first, see lifecycle.py)."""
    if not state.catalog_path.exists():
        return []
    with state.ingest_lock():
        catalog = Catalog(state.catalog_path)
        try:
            migrate(state, catalog)
            config = load_config(None, state)  # the tenants' time zones: each day ends at its midnight
            return finalize_due(
                state, catalog, now or dt.datetime.now(dt.UTC), grace, damaged=damaged, config=config
            )
        finally:
            catalog.close()


def _goals_current(do: DoFile, config: Config) -> None:
    """Count an open day's goals again from its stored rows if rings.toml's goals changed since
    they were counted (the last chance: finalizing deletes those rows)."""
    if do.finalized:
        return
    want = fingerprint(config.goals, config.funnels, do.tenant)
    if do.goals_fingerprint() != want:
        do.replace_goals(recount(do.all_views(), config, do.tenant, do.date), want)
