"""Erase and retention: delete tenant-days so that no byte of them stays under the state dir.

`rings erase --tenant T [--before DATE]` and retention (`keep_days`, `rings gc`, and after each
ingest) share one machinery: a plan (which tenant-days, files, warehouse rows, checkpoints), then
the steps in an order that a crash part-way is completed by running the same command again:

1. the warehouse is rewritten without those rows (DuckDB's DELETE leaves the old blocks in the file,
   so a new file is built from the rows to keep, synced, and renamed over the old one);
2. the catalog loses their rows (and a tenant erased whole leaves no name in the file checkpoints),
   with `secure_delete` and a VACUUM, so no freed page still holds them;
3. their DO files (with -wal/-shm) and salts are unlinked last: a rerun still finds them on disk;
   days in a monthly pack (pack.py) are deleted from it (secure_delete, VACUUM, WAL truncate), and
   a pack left with no day is unlinked.

Other tenants' rows are never touched, even where they mention T (a referrer from T's site is the
other tenant's data). File checkpoints stay (a file already read is not imported again).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from rings_cli.core import bounds
from rings_cli.core.config import CONFIG_NAME, Config
from rings_cli.core.errors import RingsError, StateLockedError
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.days import set_aside
from rings_cli.enrich.tenants import owns
from rings_cli.enrich.zones import local_today
from rings_cli.store import sqlite as storage
from rings_cli.store.catalog import Catalog
from rings_cli.store.dofile import DoFile
from rings_cli.store.pack import PACK_FILE, drop_days, pack_days
from rings_cli.warehouse.base import READ_RETRY_SECONDS
from rings_cli.warehouse.choose import open_warehouse
from rings_cli.warehouse.local import REWRITE_SUFFIX, TABLES

ERASED_NAME = "(erased)"  # what a file checkpoint's name becomes when it named an erased tenant
_DATE_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.")
_PACK_ASIDE = re.compile(r"^(\d{4}-\d{2})\.pack\.sqlite\.damaged-")  # a pack a repair set aside
_SIDE = ("-wal", "-shm", "-journal")


@dataclass
class ErasePlan:
    """What an erase (or a retention pass) deletes."""

    days: list[tuple[str, str]] = field(default_factory=list)  # (tenant, date), sorted
    files: list[Path] = field(default_factory=list)  # DO files (and their -wal/-shm) and salts
    warehouse_rows: dict[str, int] = field(default_factory=dict)  # table -> rows
    catalog_rows: int = 0
    checkpoints: int = 0  # file checkpoints whose name is blanked (they stay)
    whole: list[str] = field(default_factory=list)  # tenants with no day left afterwards
    config_lines: list[tuple[int, str]] = field(default_factory=list)  # rings.toml lines naming T
    packed: dict[Path, list[str]] = field(default_factory=dict)  # packs that keep other days: dates to drop
    # Copies of the catalog and the warehouse a repair set aside (set_aside.py): rows or whole
    set_aside: dict[Path, str] = field(default_factory=dict)
    selection: dict[str, str | None] = field(default_factory=dict)  # tenant -> before (None: all)

    @property
    def empty(self) -> bool:
        return not (
            self.days
            or self.files
            or self.packed
            or any(self.warehouse_rows.values())
            or self.checkpoints
            or self.set_aside
        )

    def to_dict(self, root: Path) -> dict[str, object]:
        return {
            "tenant_days": [f"{t}/{d}" for t, d in self.days],
            "files": [str(p.relative_to(root)) for p in self.files],
            "packs": {str(p.relative_to(root)): dates for p, dates in self.packed.items()},
            "warehouse_rows": self.warehouse_rows,
            "catalog_rows": self.catalog_rows,
            "checkpoints_renamed": self.checkpoints,
            "set_aside": {str(p.relative_to(root)): what for p, what in self.set_aside.items()},
            "config_lines": [{"line": n, "text": text} for n, text in self.config_lines],
        }


def parse_before(text: str | None) -> str | None:
    """`--before DATE`: a calendar date, YYYY-MM-DD."""
    return None if text is None else bounds.date(text, "--before").isoformat()


# A selection: (tenant, before) — every day of `tenant` strictly before `before` (None: all of them).
Selection = tuple[str, str | None]


def _selected(date: str, before: str | None) -> bool:
    return before is None or date < before


def _tenants(state: StateDir, catalog: Catalog, warehouse_tenants: set[str]) -> set[str]:
    """Every tenant the state dir knows of: catalog, DO dirs, salt dirs, warehouse."""
    names = {t for t, _, _ in catalog.days()} | warehouse_tenants
    for parent in (state.root / "do", state.salts_dir):
        if parent.is_dir():
            names |= {p.name for p in parent.iterdir() if p.is_dir()}
    return names


def plan(
    state: StateDir,
    catalog: Catalog,
    selections: Callable[[Iterable[str]], list[Selection]],
    wait: float = READ_RETRY_SECONDS,
) -> ErasePlan:
    """What erasing the selected tenant-days deletes. `selections` gets every tenant known and
    says which of their days go (the tenant itself for `erase`, each tenant's cutoff for retention)."""
    stored = open_warehouse(state).stored_rows(wait)
    chosen = dict(selections(_tenants(state, catalog, set(stored.get_column("tenant").to_list()))))
    result = ErasePlan()
    listed = catalog.days()
    days: set[tuple[str, str]] = set()
    known: set[tuple[str, str]] = {(t, d) for t, d, _ in listed}  # every tenant-day, kept or not
    for tenant, date, _ in listed:
        if tenant in chosen and _selected(date, chosen[tenant]):
            days.add((tenant, date))
            result.catalog_rows += 1
    for tenant, before in chosen.items():
        for parent in (state.root / "do" / tenant, state.salts_dir / tenant):
            if not parent.is_dir():
                continue
            for path in sorted(parent.iterdir()):
                if PACK_FILE.match(path.name) is not None:
                    _plan_pack(path, before, result, days, known)
                    continue
                if any(path.name.endswith(s) and PACK_FILE.match(path.name[: -len(s)]) for s in _SIDE):
                    continue  # a pack's -wal/-shm: planned with it
                match = _DATE_FILE.match(path.name.lstrip("."))
                if match is None:
                    aside = _PACK_ASIDE.match(path.name)  # a pack a repair set aside: its month
                    if before is None or (aside is not None and f"{aside[1]}-01" < before):
                        result.files.append(path)  # an unknown file in an erased tenant's dir goes too
                    continue
                known.add((tenant, match[1]))
                if _selected(match[1], before):
                    result.files.append(path)
                    days.add((tenant, match[1]))
    if stored.height:
        cutoffs = pl.DataFrame(list(chosen.items()), schema=["tenant", "before"], orient="row")
        known |= set(stored.select("tenant", "date").iter_rows())
        picked = stored.join(cutoffs, on="tenant").filter(
            pl.col("before").is_null() | (pl.col("date") < pl.col("before"))
        )
        days |= set(picked.select("tenant", "date").unique().iter_rows())
        sums = picked.group_by("table").agg(pl.col("rows").sum())
        result.warehouse_rows = {t: 0 for t in TABLES} | dict(sums.iter_rows())
    result.days = sorted(days)
    result.selection = chosen
    result.set_aside = set_aside.plan(state.root, chosen)
    left = {t for t, d in known if (t, d) not in days}
    result.whole = sorted(t for t in chosen if t not in left)
    if result.whole:
        result.checkpoints = _named_checkpoints(catalog, result.whole, count_only=True)
    return result


def _plan_pack(
    path: Path, before: str | None, result: ErasePlan, days: set[tuple[str, str]], known: set[tuple[str, str]]
) -> None:
    """A pack's selected days go: the whole file (and its -wal/-shm) when none is kept."""
    tenant = path.parent.name
    try:
        dates = sorted(pack_days(path))
    except RingsError:
        dates = []  # unreadable: it goes with its tenant only (`rings check` names it)
    known.update((tenant, d) for d in dates)
    gone = [d for d in dates if _selected(d, before)]
    days.update((tenant, d) for d in gone)
    if before is None or (dates and len(gone) == len(dates)):
        result.files += [p for p in (path, *(path.with_name(path.name + s) for s in _SIDE)) if p.exists()]
    elif gone:
        result.packed[path] = gone


def _named_checkpoints(catalog: Catalog, tenants: list[str], count_only: bool) -> int:
    """File checkpoints whose name or path (a log file's) contains one of these tenant names."""
    columns = {r[1] for r in catalog.con.execute("PRAGMA table_info(checkpoints)")}
    paths = "path" in columns  # a catalog of an earlier release has no `path` until opened
    where = " OR ".join(
        "instr(name, ?) > 0" + (" OR instr(coalesce(path, ''), ?) > 0" if paths else "") for _ in tenants
    )
    values = [t for t in tenants for _ in range(2 if paths else 1)]
    if count_only:
        row = catalog.con.execute(f"SELECT count(*) FROM checkpoints WHERE {where}", values).fetchone()
        return int(row[0]) if row else 0
    blank = ", path = NULL" if paths else ""
    changed = catalog.con.execute(
        f"UPDATE checkpoints SET name = ?{blank} WHERE {where}", [ERASED_NAME, *values]
    ).rowcount
    _named_counters(catalog, tenants)
    return changed


def _named_counters(catalog: Catalog, tenants: list[str]) -> None:
    """/metrics' cumulative counters of sources (log files) whose name contains one of these
    tenants: their numbers kept under ERASED_NAME (the totals must not drop), their names gone."""
    names = {r[0] for r in catalog.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    where = " OR ".join("instr(source, ?) > 0" for _ in tenants)
    if "counters" in names:
        catalog.con.execute(
            f"""INSERT INTO counters (source, name, value)
                SELECT ?, name, sum(value) FROM counters WHERE ({where}) GROUP BY name
                ON CONFLICT (source, name) DO UPDATE SET value = value + excluded.value""",
            [ERASED_NAME, *tenants],
        )
        catalog.con.execute(f"DELETE FROM counters WHERE {where}", tenants)
    if "source_commits" in names:
        catalog.con.execute(f"DELETE FROM source_commits WHERE {where}", tenants)


def config_lines(state: StateDir, tenant: str) -> list[tuple[int, str]]:
    """rings.toml lines that still name the tenant (printed for the user, never edited)."""
    path = state.root / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if tenant in line]


def apply(
    state: StateDir,
    catalog: Catalog,
    todo: ErasePlan,
    open_do: dict[tuple[str, str], DoFile] | None = None,
    wait: float = READ_RETRY_SECONDS,
) -> None:
    """Delete what the plan lists: warehouse, then catalog, then files (see the module doc)."""
    if todo.empty:
        return
    for key in todo.days:  # an ingest's open DO files of these days are closed first
        do = (open_do or {}).pop(key, None)
        if do is not None:
            do.close()
    warehouse = open_warehouse(state)
    if warehouse.kind == "postgres":  # deleted, then every table it touched rewritten
        if any(todo.warehouse_rows.values()):
            warehouse.erase(todo.days, wait)
    else:
        cut_short = state.warehouse_path.with_name(state.warehouse_path.name + REWRITE_SUFFIX).exists()
        # An older layout is not read (no rows counted) but may hold the days: it is rewritten empty,
        # and the next flush rebuilds it from the DO files, as for any older layout.
        stale = warehouse.exists() and not warehouse.is_current(wait)
        if any(todo.warehouse_rows.values()) or cut_short or stale:
            warehouse.erase(todo.days, wait)
    _erase_catalog(catalog, todo, wait)
    set_aside.apply(todo.set_aside, todo.selection, ERASED_NAME)
    for path, dates in todo.packed.items():
        drop_days(path, dates)
    for path in todo.files:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.suffix == ".key" and path.exists():
            _shred(path)
        else:
            path.unlink(missing_ok=True)
    for tenant in todo.whole:
        for parent in (state.root / "do" / tenant, state.salts_dir / tenant):
            if parent.is_dir():
                shutil.rmtree(parent)
    storage.fsync_dir(state.root / "do")


def _erase_catalog(catalog: Catalog, todo: ErasePlan, wait: float) -> None:
    """Delete the tenant-days' rows from every catalog table that has a tenant column (`days`, and
    per tenant-day finalization where the layout has it), blank checkpoint names, then VACUUM."""
    con = catalog.con
    tables = [
        name
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if not name.startswith("sqlite_")
    ]
    con.execute("PRAGMA secure_delete = ON")
    with con:
        con.execute("BEGIN IMMEDIATE")
        for table in tables:
            columns = {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}
            if "tenant" not in columns:
                continue
            if table == "checkpoints":  # a file's tenant ([files]) goes; its position stays
                con.executemany(
                    "UPDATE checkpoints SET tenant = NULL WHERE tenant = ?", [(t,) for t in todo.whole]
                )
                continue
            if "date" in columns:
                con.executemany(
                    f'DELETE FROM "{table}" WHERE tenant = ? AND date = ?', [tuple(k) for k in todo.days]
                )
            if todo.whole:
                con.executemany(f'DELETE FROM "{table}" WHERE tenant = ?', [(t,) for t in todo.whole])
        if todo.whole:
            _named_checkpoints(catalog, todo.whole, count_only=False)
    con.execute("VACUUM")
    deadline = time.monotonic() + wait
    while True:  # a reader holding an old snapshot keeps the WAL: wait for it to let go
        busy = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy or busy[0] == 0:
            return
        if time.monotonic() >= deadline:
            raise StateLockedError(f"{catalog.path}: a reader kept its WAL for {wait:.0f}s; run again")
        time.sleep(0.05)


def _shred(path: Path) -> None:
    """A salt is overwritten before it is unlinked, as finalization does (privacy.SaltStore)."""
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def erase_tenant(
    state: StateDir,
    tenant: str,
    before: str | None = None,
    dry_run: bool = False,
    confirm: Callable[[ErasePlan], bool] | None = None,
    wait: float = READ_RETRY_SECONDS,
) -> tuple[ErasePlan, bool]:
    """`rings erase`: under the ingest lock, plan, ask `confirm(plan)` (unless None), apply.
    Returns the plan and whether it was applied."""
    check_tenant(tenant)
    state.require()
    with state.ingest_lock(), closing(Catalog(state.catalog_path)) as catalog:
        todo = plan(state, catalog, lambda _: [(tenant, before)], wait)
        todo.config_lines = config_lines(state, tenant)
        if dry_run or todo.empty or (confirm is not None and not confirm(todo)):
            return todo, False
        apply(state, catalog, todo, wait=wait)
        return todo, True


def retention_cutoffs(config: Config, tenants: Iterable[str], now: dt.datetime) -> list[Selection]:
    """Each tenant with a `keep_days`: its days before its own today - N go (its time zone's today)."""
    cutoffs: list[tuple[str, str | None]] = []
    for tenant in sorted(tenants):
        keep = config.keep_days_for(tenant)
        if keep is not None:
            today = local_today(config, tenant, now)
            cutoffs.append((tenant, (today - dt.timedelta(days=keep)).isoformat()))
    return cutoffs


def collect_garbage(
    state: StateDir,
    catalog: Catalog,
    config: Config,
    now: dt.datetime,
    dry_run: bool = False,
    open_do: dict[tuple[str, str], DoFile] | None = None,
    wait: float = READ_RETRY_SECONDS,
) -> ErasePlan:
    """Retention: delete every tenant-day older than its `keep_days` (caller holds the ingest lock)."""
    if config.keep_days is None and not config.keep_days_by_tenant:
        return ErasePlan()
    # A shard host applies retention to its own tenants (the others' owners do theirs).
    todo = plan(
        state,
        catalog,
        lambda tenants: retention_cutoffs(config, [t for t in tenants if owns(config.shard, t)], now),
        wait,
    )
    if not dry_run:
        apply(state, catalog, todo, open_do, wait)
    return todo


def gc(state: StateDir, config: Config, now: dt.datetime | None = None, dry_run: bool = False) -> ErasePlan:
    """`rings gc`: retention under the ingest lock."""
    state.require()
    if not state.catalog_path.exists():
        return ErasePlan()
    with state.ingest_lock(), closing(Catalog(state.catalog_path)) as catalog:
        return collect_garbage(state, catalog, config, now or dt.datetime.now(dt.UTC), dry_run)
