"""The life of a tenant-day: open (salt, visitor hashes) until it ends, then finalized.

A tenant-day is one tenant's day: its own salt (`salts/<tenant>/<date>.key`), its own DO file, its
own finalization. Finalizing `alice/2025-12-01` leaves `bob/2025-12-01` open, and a tenant seen for
the first time on a past date gets a fresh tenant-day. `day_end` is the one place that says when a
tenant-day ends: the end of the tenant's local day (rings.toml `timezone`, `[timezones]`), so each
tenant is finalized at its own midnight plus the grace period; nothing else has to know the zone.

`migrate` brings a state dir of an earlier release (one salt per date, `salts/<date>.key`, and a
`finalized(date)` table) to this layout without losing a count: see its docstring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from rings_cli.core.config import Config
from rings_cli.core.privacy import copy_key, destroy_key
from rings_cli.core.state import StateDir
from rings_cli.enrich import zones
from rings_cli.store.catalog import Catalog
from rings_cli.store.dofile import rekey_absorbed


def day_end(tenant: str, date: str, config: Config | None = None) -> dt.datetime:
    """When the tenant-day `tenant`/`date` ends (aware, UTC): the next midnight in the tenant's
    zone (zones.py; UTC without a config), 23 or 25 hours after it began on a DST day."""
    return zones.day_end(config or Config(), tenant, date)


def due_days(
    catalog: Catalog, now: dt.datetime, grace: dt.timedelta, config: Config | None = None
) -> list[tuple[str, str]]:
    """Open tenant-days that ended at least `grace` before `now`, by date then tenant."""
    due = [(t, d) for t, d in catalog.open_days() if day_end(t, d, config) + grace <= now]
    return sorted(due, key=lambda key: (key[1], key[0]))


def label(tenant: str, date: str) -> str:
    """How a tenant-day is named in summaries and JSON: `alice/2025-12-01`."""
    return f"{tenant}/{date}"


def migrate(state: StateDir, catalog: Catalog) -> None:
    """Move a state dir of an earlier release to per-tenant-day salts and finalization.

    1. every global salt of a date is copied to `salts/<tenant>/<date>.key` for each tenant whose
       day of that date is open (so the hashes its DO file holds still match new lines);
    2. the catalog marks every tenant-day of a finalized date finalized, and drops the old table;
    3. the global salts are destroyed (overwritten, unlinked).
    Each step is idempotent and the next one starts only when the previous is complete, so a run
    killed anywhere is finished by the next one. Call it holding the ingest lock.
    """
    if not state.salts_dir.is_dir():
        old_salts = []
    else:
        old_salts = sorted(p for p in state.salts_dir.glob("*.key") if p.is_file() and _is_date(p.stem))
    if not old_salts and not catalog.has_legacy_finalized():
        return
    closed = catalog.finalized_days()
    for path in old_salts:
        for tenant in catalog.tenants_on(path.stem):
            if (tenant, path.stem) not in closed:
                copy_key(path, state.salt_path(tenant, path.stem))
    catalog.migrate_finalized()
    for path in old_salts:
        destroy_key(path)


def migrate_checkpoints(state: StateDir, catalog: Catalog, rekey: Callable[[str], str | None]) -> None:
    """Replace every unkeyed file id (a release before keyed heads, see tail.py) by `rekey(it)`: in
    the DO files' `absorbed` marks first, then in the catalog's checkpoints, last. Each step is a
    transaction that only touches old ids, so a crash part-way is finished by the next run (the
    catalog stays legacy until the end). Call it holding the ingest lock."""
    if not catalog.legacy_checkpoints():
        return
    for path in sorted(state.root.glob("do/*/*.sqlite")):
        rekey_absorbed(path, rekey)
    catalog.migrate_checkpoints(rekey)


def _is_date(text: str) -> bool:
    try:
        return dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False
