"""`rings check`: verify a state dir and, with `repair=True`, fix what can be fixed.

Checks: SQLite `quick_check` of the catalog, of every DO file and of every pack of finalized
tenant-days (pack.py; and that they hold our tables; a packed tenant-day is not missing);
the DuckDB warehouse opens, has our schema and every value reads; the catalog against the files (a
listed tenant-day whose DO file is missing, a DO file the catalog does not list, a salt of a
finalized tenant-day still present (`salts/<tenant>/<date>.key`, or an earlier release's
`salts/<date>.key` once every tenant-day of its date is finalized), stray files); nothing readable or
writable by other users.

Repairs: a damaged catalog, DO file, pack or warehouse is moved aside as `<name>.damaged-<UTC
time>`, never deleted. The catalog is rebuilt from the DO files and packs; the warehouse likewise
(every tenant-day is flushed again, packed ones read in their pack). A tenant-day whose DO file is
gone (and no pack holds it) gets a new, finalized DO file from the warehouse's last flush (counts
kept; its visitor hashes cannot come back, so it stays closed), or, when no warehouse holds it, is
forgotten and reported as lost. Salts of finalized tenant-days are
destroyed (either layout); modes are narrowed. Stray files are only reported: they may be someone's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from rings_cli.core.config import CONFIG_NAME
from rings_cli.core.errors import DamagedStateError, RingsError
from rings_cli.core.privacy import SALT_BYTES, destroy_key
from rings_cli.core.state import TENANT_PATTERN, StateDir
from rings_cli.store.catalog import Catalog
from rings_cli.store.dofile import DoFile
from rings_cli.store.pack import PACK_FILE, verify
from rings_cli.warehouse.base import Warehouse as AnyWarehouse
from rings_cli.warehouse.choose import open_warehouse
from rings_cli.warehouse.flush import flush_dirty
from rings_cli.warehouse.local import REBUILD, Warehouse
from rings_cli.warehouse.postgres import PostgresWarehouse

_DATE = r"\d{4}-\d{2}-\d{2}"
_DO_FILE = re.compile(rf"^({_DATE})\.sqlite$")
_SALT_FILE = re.compile(rf"^({_DATE})\.key$")
_SQLITE_SIDE = ("-wal", "-shm", "-journal")
_TOP_FILES = {
    "catalog.sqlite",
    "warehouse.duckdb",
    "warehouse.duckdb.wal",
    "warehouse.duckdb.gate",  # the flush-priority gate (warehouse.gate)
    "secret.key",  # keys file identities (tail.py)
    "ingest.lock",
    CONFIG_NAME,
}
_DAMAGED = ".damaged-"  # files moved aside by a repair: kept for the user, not a problem


@dataclass
class Problem:
    """One thing wrong with the state dir: the file, what is wrong, and how to repair it."""

    path: Path
    problem: str
    repair: str


@dataclass
class CheckResult:
    """Problems found (after repairs, those that remain), what a repair did, and what is lost."""

    state_dir: Path
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # "tenant date" that no file or warehouse holds

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Facts:
    """What an inspection learned, for the repair to act on."""

    catalog_damaged: bool = False
    listed: list[tuple[str, str, int]] = field(default_factory=list)  # tenant, date, flushed version
    finalized: set[tuple[str, str]] = field(default_factory=set)  # tenant-days the catalog closed
    do_files: dict[tuple[str, str], Path] = field(default_factory=dict)  # usable ones
    do_damaged: dict[tuple[str, str], Path] = field(default_factory=dict)
    do_finalized: set[tuple[str, str]] = field(default_factory=set)  # tenant-days with a finalized DO file
    packed: dict[tuple[str, str], Path] = field(default_factory=dict)  # tenant-days in a usable pack
    damaged_packs: list[Path] = field(default_factory=list)

    warehouse_damaged: bool = False
    warehouse_missing: bool = False
    stale_salts: list[Path] = field(default_factory=list)
    loose_modes: list[Path] = field(default_factory=list)


def check_state(state: StateDir, repair: bool = False, now: dt.datetime | None = None) -> CheckResult:
    """Inspect the state dir; with `repair`, fix what can be fixed and inspect again."""
    result = CheckResult(state.root)
    if not state.root.is_dir():
        problem = "is not a directory" if state.root.exists() else "does not exist"
        result.problems.append(Problem(state.root, f"state dir {problem}", "check --state-dir"))
        return result
    facts = _inspect(state, result.problems)
    if repair and result.problems:
        with state.ingest_lock():
            _repair(state, facts, result, now or dt.datetime.now(dt.UTC))
        result.problems = []
        _inspect(state, result.problems)
    return result


def _inspect(state: StateDir, problems: list[Problem]) -> _Facts:
    facts = _Facts()
    _inspect_root(state, problems)
    _inspect_do_files(state, facts, problems)
    _inspect_catalog(state, facts, problems)
    _inspect_listing(state, facts, problems)
    _inspect_warehouse(state, facts, problems)
    _inspect_salts(state, facts, problems)
    _inspect_modes(state, facts, problems)
    return facts


def _inspect_root(state: StateDir, problems: list[Problem]) -> None:
    """Top-level entries: ours (and their SQLite side files, and files a repair moved aside), or stray."""
    for path in sorted(state.root.iterdir()):
        if path.name in ("do", "salts") and path.is_dir():
            continue
        name = path.name
        if name in _TOP_FILES or _DAMAGED in name:
            continue
        if any(name == f"catalog.sqlite{s}" for s in _SQLITE_SIDE):
            continue
        problems.append(_stray(path))


def _inspect_catalog(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    path = state.catalog_path
    if not path.exists():
        if facts.do_files or facts.do_damaged or facts.packed:
            problems.append(
                Problem(
                    path, "catalog missing", "`rings check --repair` rebuilds it from the DO files and packs"
                )
            )
        return
    try:
        catalog = Catalog(path)
        try:
            _quick_check(catalog.con, path)
            facts.listed = catalog.days()
            facts.finalized = catalog.finalized_days()
        finally:
            catalog.close()
    except DamagedStateError as e:
        facts.catalog_damaged = True
        problems.append(
            Problem(
                path, e.problem, "`rings check --repair` moves it aside and rebuilds it from the DO files"
            )
        )


def _inspect_do_files(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """Every file under do/: DO files are opened and checked, anything else is stray."""
    do_root = state.root / "do"
    if not do_root.is_dir():
        return
    for tenant_dir in sorted(do_root.iterdir()):
        if not tenant_dir.is_dir() or not re.match(TENANT_PATTERN, tenant_dir.name):
            problems.append(_stray(tenant_dir))
            continue
        for path in sorted(tenant_dir.iterdir()):
            if (packed := PACK_FILE.match(path.name)) is not None:
                _inspect_pack(path, tenant_dir.name, packed[1], facts, problems)
                continue
            match = _DO_FILE.match(path.name)
            if match is None:
                if ".creating" in path.name:
                    problems.append(
                        Problem(
                            path,
                            "left by an ingest stopped while it created a DO file (holds no counts)",
                            "delete it",
                        )
                    )
                elif not _companion(path, _DO_FILE) and not _companion(path, PACK_FILE):
                    problems.append(_stray(path))
                continue
            key = (tenant_dir.name, match[1])
            try:
                finalized = _check_do_file(path, *key)
            except DamagedStateError as e:
                facts.do_damaged[key] = path
                problems.append(
                    Problem(
                        path,
                        e.problem,
                        "`rings check --repair` moves it aside, restores its last flush from the warehouse",
                    )
                )
                continue
            facts.do_files[key] = path
            if finalized:
                facts.do_finalized.add(key)


def _inspect_pack(path: Path, tenant: str, month: str, facts: _Facts, problems: list[Problem]) -> None:
    """A pack of finalized tenant-days (pack.py): verified, and each day it holds is not missing."""
    try:
        days = verify(path, tenant, month)
    except DamagedStateError as e:
        problems.append(
            Problem(
                path,
                e.problem,
                "`rings check --repair` moves it aside, restores its days' last flush from the warehouse",
            )
        )
        facts.damaged_packs.append(path)
        return
    for date in days:
        facts.packed.setdefault((tenant, date), path)


def _check_do_file(path: Path, tenant: str, date: str) -> bool:
    """Open without creating anything; returns whether the tenant-day is finalized."""
    do = DoFile(path, tenant, date, create=False)
    try:
        _quick_check(do.con, path)
        found = (do._meta("tenant"), do._meta("date"))
        if found != (tenant, date):
            raise DamagedStateError(path, f"holds {found[0]} {found[1]}, not the tenant-day of its name")
        do.snapshot()  # every table the flush reads is there
        return do.finalized
    finally:
        do.close()


def _inspect_listing(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """The catalog against the files, both ways."""
    listed = {(t, d) for t, d, _ in facts.listed}
    for tenant, date, version in facts.listed:
        if (tenant, date) in facts.do_files or (tenant, date) in facts.do_damaged:
            continue
        if (tenant, date) in facts.packed:
            if (tenant, date) not in facts.finalized:
                problems.append(
                    Problem(
                        facts.packed[(tenant, date)],
                        f"holds {tenant} {date}, which the catalog does not list as finalized",
                        "`rings check --repair` marks it finalized",
                    )
                )
            continue
        path = state.do_path(tenant, date)
        if version < 0:
            problems.append(
                Problem(
                    path,
                    "listed in the catalog but never written (an interrupted ingest)",
                    "`rings check --repair` forgets it",
                )
            )
        else:
            kind = "a finalized" if (tenant, date) in facts.finalized else "an open"
            problems.append(
                Problem(
                    path,
                    f"missing DO file of {kind} tenant-day (the catalog lists it)",
                    "`rings check --repair` restores its last flush from the warehouse "
                    "(closed as finalized), or forgets it when the warehouse has none",
                )
            )
    if not facts.catalog_damaged and state.catalog_path.exists():
        for key, path in facts.do_files.items():
            if key not in listed:
                problems.append(Problem(path, "DO file not in the catalog", "`rings check --repair` adds it"))
        for (tenant, date), path in facts.packed.items():
            if (tenant, date) not in listed and (tenant, date) not in facts.do_files:
                problem = f"holds {tenant} {date}, not in the catalog"
                problems.append(Problem(path, problem, "`rings check --repair` adds it"))


def _inspect_warehouse(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    shared = open_warehouse(state)
    if shared.kind == "postgres":  # nothing to move aside: each host flushes its tenant-days again
        try:
            shared.verify()
        except DamagedStateError as e:
            facts.warehouse_missing = True  # --repair: every tenant-day of this host flushed again
            repair = "`rings check --repair` drops whole copies; each host flushes its tenant-days again"
            problems.append(Problem(Path(shared.describe()), e.problem, repair))
        except RingsError as e:  # unreachable, no schema, no right: not for --repair to mend
            problems.append(Problem(Path(shared.describe()), str(e), "see docs/warehouse.md"))
        return
    warehouse = Warehouse(state.warehouse_path)
    if not warehouse.exists():
        if any(version >= 0 for _, _, version in facts.listed):
            facts.warehouse_missing = True
            problems.append(
                Problem(
                    warehouse.path,
                    "warehouse missing",
                    "`rings check --repair` rebuilds it from the DO files",
                )
            )
        return
    try:
        warehouse.verify()
    except DamagedStateError as e:
        facts.warehouse_damaged = True
        problems.append(
            Problem(
                warehouse.path,
                e.problem.removesuffix(f"; {REBUILD}"),
                "`rings check --repair` moves it aside and rebuilds it from the DO files",
            )
        )


def _inspect_salts(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """`salts/<tenant>/<date>.key`, and an earlier release's `salts/<date>.key` (the next ingest
    moves it): a salt whose tenant-day (or, the old kind, every tenant-day of its date) is
    finalized should be gone; anything else there is stray."""
    if not state.salts_dir.is_dir():
        return
    usable = state.catalog_path.exists() and not facts.catalog_damaged
    closed = facts.finalized if usable else facts.do_finalized | set(facts.packed)
    days = (
        {(t, d) for t, d, _ in facts.listed}
        if usable
        else set(facts.do_files) | set(facts.do_damaged) | set(facts.packed)
    )
    for path in sorted(state.salts_dir.iterdir()):
        if path.is_dir() and not path.is_symlink() and re.match(TENANT_PATTERN, path.name):
            for salt in sorted(path.iterdir()):
                match = _SALT_FILE.match(salt.name)
                if match is None:
                    problems.append(_stray(salt))
                else:
                    _inspect_salt(salt, (path.name, match[1]) in closed, facts, problems)
            continue
        match = _SALT_FILE.match(path.name)
        if match is None or not path.is_file():
            problems.append(_stray(path))
            continue
        tenants = {t for t, d in days if d == match[1]}
        _inspect_salt(path, bool(tenants) and all((t, match[1]) in closed for t in tenants), facts, problems)


def _inspect_salt(path: Path, stale: bool, facts: _Facts, problems: list[Problem]) -> None:
    if stale:
        facts.stale_salts.append(path)
        problems.append(
            Problem(
                path, "salt of a finalized tenant-day still present", "`rings check --repair` destroys it"
            )
        )
    elif path.stat().st_size != SALT_BYTES:
        problems.append(
            Problem(
                path,
                f"damaged salt ({path.stat().st_size} bytes, not {SALT_BYTES})",
                "remove it by hand: that tenant-day's later visitors get new hashes "
                "(uniques may count twice)",
            )
        )


def _inspect_modes(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """Nothing in the state dir may be readable or writable by other users (group is a setting)."""
    for path in [state.root, *sorted(state.root.rglob("*"))]:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:  # a -wal file that went away meanwhile
            continue
        if mode & 0o007 and not path.is_symlink():
            facts.loose_modes.append(path)
            problems.append(
                Problem(
                    path,
                    f"readable or writable by other users (mode {mode:04o})",
                    "`rings check --repair` narrows it",
                )
            )


def _stray(path: Path) -> Problem:
    return Problem(path, "stray file: not a Rings file", "move it out of the state dir if you need it")


def _companion(path: Path, main: re.Pattern[str]) -> bool:
    """A SQLite side file (-wal, -shm) of a matching file, or a file a repair moved aside."""
    if _DAMAGED in path.name:
        return True
    return any(path.name.endswith(s) and main.match(path.name[: -len(s)]) for s in _SQLITE_SIDE)


def _quick_check(con: object, path: Path) -> None:
    rows = con.execute("PRAGMA quick_check").fetchall()  # type: ignore[attr-defined]
    if rows != [("ok",)]:
        raise DamagedStateError(path, f"integrity check failed ({rows[0][0]})")


# --- repair ---------------------------------------------------------------------------------


def _repair(state: StateDir, facts: _Facts, result: CheckResult, now: dt.datetime) -> None:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    done = result.repaired
    if facts.catalog_damaged:
        done.append(
            f"moved {_move_aside(state.catalog_path, stamp).name} aside; its file checkpoints are "
            "gone: logs read again now count again in days not yet finalized"
        )
    old_warehouse = None
    if facts.warehouse_damaged:
        old_warehouse = Warehouse(_move_aside(state.warehouse_path, stamp))
        done.append(f"moved {old_warehouse.path.name} aside")
    for path in [*facts.do_damaged.values(), *facts.damaged_packs]:
        done.append(f"moved {_move_aside(path, stamp)} aside")
    catalog = Catalog(state.catalog_path)
    try:
        _repair_listing(state, facts, catalog, old_warehouse, result)
        for path in facts.stale_salts:
            destroy_key(path)
            if path.parent != state.salts_dir:
                with contextlib.suppress(OSError):
                    path.parent.rmdir()  # the tenant's last salt
            done.append(f"destroyed the salt of finalized tenant-day {_salt_day(state, path)}")
        shared = open_warehouse(state)
        if facts.warehouse_missing and isinstance(shared, PostgresWarehouse):
            done.append(f"dropped {shared.drop_copies()} rows that were in the shared warehouse twice")
        if facts.warehouse_damaged or facts.warehouse_missing:
            catalog.mark_all_dirty()
        flushed = flush_dirty(state, catalog)
        if flushed.tenant_days:
            done.append(f"flushed {flushed.tenant_days} tenant-days to {state.warehouse_path.name}")
    finally:
        catalog.close()
    loose: list[Path] = []
    _inspect_modes(state, _Facts(loose_modes=loose), [])  # again: the repair may have made files
    for path in loose:
        os.chmod(path, stat.S_IMODE(path.lstat().st_mode) & ~0o007)
    if loose:
        done.append(f"narrowed the mode of {len(loose)} files")


def _repair_listing(
    state: StateDir, facts: _Facts, catalog: Catalog, old_warehouse: Warehouse | None, result: CheckResult
) -> None:
    """Catalog and DO files agree again: unlisted files added, lost files restored or forgotten."""
    listed = {(t, d): v for t, d, v in catalog.days()}
    unlisted = [key for key in facts.do_files if key not in listed]
    if unlisted:
        catalog.mark_dirty(unlisted)
        result.repaired.append(f"added {len(unlisted)} DO files to the catalog")
    unpacked = sorted(k for k in facts.packed if k not in listed and k not in facts.do_files)
    if unpacked:
        catalog.mark_dirty(unpacked)  # the flush below reads them in their packs
        result.repaired.append(f"added {len(unpacked)} packed tenant-days to the catalog")
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    closed = catalog.finalized_days()
    if not facts.listed:  # a new catalog learns the finalized tenant-days from the files
        for tenant, date in sorted(facts.do_finalized - closed):
            catalog.mark_finalized(tenant, date, stamp)
    for tenant, date in sorted(set(facts.packed) - closed - set(facts.do_files)):  # packed: final
        catalog.mark_finalized(tenant, date, stamp)
    warehouses = [open_warehouse(state)] if not facts.warehouse_damaged else []
    warehouses += [old_warehouse] if old_warehouse is not None else []
    for (tenant, date), version in listed.items():
        if (tenant, date) in facts.do_files or (tenant, date) in facts.packed:
            continue
        path = state.do_path(tenant, date)
        if version >= 0 and _restore(path, tenant, date, version, warehouses):
            catalog.mark_dirty([(tenant, date)])
            result.repaired.append(
                f"restored {path} from the warehouse's last flush (finalized: its visitor hashes are gone)"
            )
            continue
        catalog.forget(tenant, date)
        if version >= 0:
            result.lost.append(f"{tenant} {date}")
            result.repaired.append(f"forgot {tenant} {date}: no DO file and no warehouse copy (lost)")
        else:
            result.repaired.append(f"forgot {tenant} {date} (listed, never written)")


def _restore(path: Path, tenant: str, date: str, version: int, warehouses: list[AnyWarehouse]) -> bool:
    """Write a finalized DO file from the first warehouse that still has the tenant-day."""
    for warehouse in warehouses:
        try:
            copy = warehouse.tenant_day(tenant, date)
        except RingsError:  # the damaged old warehouse may not give this part back
            continue
        if copy is None:
            continue
        daily, tables = copy
        do = DoFile(path, tenant, date)
        try:
            do.restore(tables, daily, version)
        finally:
            do.close()
        return True
    return False


def _salt_day(state: StateDir, path: Path) -> str:
    """`alice/2025-12-01` for salts/alice/2025-12-01.key, `2025-12-01` for an old salts/2025-12-01.key."""
    return str(path.relative_to(state.salts_dir).with_suffix(""))


def _move_aside(path: Path, stamp: str) -> Path:
    """Rename a damaged file (and its side files) to `<name>.damaged-<stamp>`; never delete it."""
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", *_SQLITE_SIDE, ".wal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target
