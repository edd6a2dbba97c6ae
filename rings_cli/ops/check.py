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
import time
from dataclasses import dataclass, field
from pathlib import Path

from rings_cli.core.config import CONFIG_NAME
from rings_cli.core.errors import DamagedStateError, DiskFullError, RingsError, out_of_space
from rings_cli.core.privacy import (
    SALT_BYTES,
    SALT_MISSING,
    SECRET_FILE,
    SECRET_LOST,
    damaged_salt,
    destroy_key,
    new_secret,
    read_secret,
    secret_check,
)
from rings_cli.core.state import TENANT_PATTERN, StateDir, link_problem
from rings_cli.core.tables import ABSORBED
from rings_cli.ops.recover import Restored, find_files_again, roll_back
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
    "backup.lock",  # writers and `rings backup` (state.backup_lock)
    "backup.wanted",
    CONFIG_NAME,
}
_DAMAGED = ".damaged-"  # files moved aside by a repair: kept for the user, not a problem
# Temporary names of files being made whole before they are linked into place: a DO file or an
# unpacked day (sqlite.create_atomically), a salt or the secret (privacy._link_new).
_CREATING = re.compile(r"^\..+\.creating(-wal|-shm)?$")
_KEY_TMP = re.compile(r"^\..+\.key\.\d+\.[0-9a-f]{8}$")
_ERASING = ("warehouse.duckdb.erasing", "warehouse.duckdb.erasing.wal")  # erase.REWRITE_SUFFIX
_REBUILD = (
    "`rings check --repair` rebuilds it from the DO files and packs, and rolls back the checkpoints "
    "of the files whose days went straight to it, to be read again"
)
_CLOSE = (
    "`rings check --repair` closes the tenant-day early (finalized: its counts stay; its later lines "
    "count as late, without their visitors)"
)
_UNLINK = "move what it points to into the state dir, or remove it (`--repair` refuses while it is there)"


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
    todo: list[str] = field(default_factory=list)  # what the user must do after a repair

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
    do_hashed: set[tuple[str, str]] = field(default_factory=set)  # open DO files holding visitor hashes
    packed: dict[tuple[str, str], Path] = field(default_factory=dict)  # tenant-days in a usable pack
    damaged_packs: list[Path] = field(default_factory=list)

    warehouse_damaged: bool = False
    warehouse_missing: bool = False
    stale_salts: list[Path] = field(default_factory=list)
    lost_salts: set[tuple[str, str]] = field(default_factory=set)  # open, hashed, salt missing/damaged
    damaged_salts: list[Path] = field(default_factory=list)  # of tenant-days that hold no hash yet
    loose_modes: list[Path] = field(default_factory=list)
    leftovers: list[Path] = field(default_factory=list)  # half-made files of a process that stopped
    secret_recorded: str | None = None  # the catalog's check of the state secret
    knows_files: bool = False  # the catalog has checkpoints keyed by a state secret
    secret_lost: bool = False  # missing, damaged, or not the one of the checkpoints
    direct: bool = False  # some days went straight to the warehouse (only it holds their lines)


def check_state(state: StateDir, repair: bool = False, now: dt.datetime | None = None) -> CheckResult:
    """Inspect the state dir; with `repair`, fix what can be fixed and inspect again."""
    result = CheckResult(state.root)
    if not state.root.is_dir():
        problem = "is not a directory" if state.root.exists() else "does not exist"
        result.problems.append(Problem(state.root, f"state dir {problem}", "check --state-dir"))
        return result
    if out_of_space(state.root):  # what fails then is no damage: nothing is judged, nothing moved
        raise DiskFullError(state.root)
    facts = _inspect(state, result.problems)
    if repair and result.problems:
        with state.ingest_lock():
            _repair(state, facts, result, now or dt.datetime.now(dt.UTC))
        result.problems = []
        _inspect(state, result.problems)
    return result


def _inspect(state: StateDir, problems: list[Problem]) -> _Facts:
    facts = _Facts()
    for link in state.links():  # never followed: what lies behind one is not looked at
        what = link_problem(link).removeprefix(f"{link} is ").split("; ")[0]
        problems.append(Problem(link, what, _UNLINK))
    _inspect_root(state, facts, problems)
    _inspect_do_files(state, facts, problems)
    _inspect_catalog(state, facts, problems)
    _inspect_listing(state, facts, problems)
    _inspect_warehouse(state, facts, problems)
    _inspect_secret(state, facts, problems)
    _inspect_salts(state, facts, problems)
    _inspect_modes(state, facts, problems)
    return facts


def _inspect_root(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """Top-level entries: ours (and their SQLite side files, and files a repair moved aside), or stray."""
    for path in sorted(state.root.iterdir()):
        if path.is_symlink():
            continue  # reported (see _inspect)
        if path.name in ("do", "salts") and path.is_dir():
            continue
        name = path.name
        if name in _TOP_FILES or _DAMAGED in name:
            continue
        if any(name == f"catalog.sqlite{s}" for s in _SQLITE_SIDE):
            continue
        if name in _ERASING:
            problems.append(
                Problem(
                    path,
                    "left by a `rings erase` (or retention) that was stopped: the tenant-days it "
                    "was deleting are still there",
                    "run the same `rings erase` (or `rings gc`) again: it finishes the erase",
                )
            )
            continue
        if _leftover(path, facts, problems):
            continue
        problems.append(_stray(path))


def _inspect_catalog(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    path = state.catalog_path
    if path.is_symlink():
        return
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
            facts.secret_recorded = catalog.secret_check()
            facts.knows_files = catalog.knows_files()
            facts.direct = bool(catalog.direct_sources())
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
    if not do_root.is_dir() or do_root.is_symlink():
        return
    for tenant_dir in sorted(do_root.iterdir()):
        if tenant_dir.is_symlink():
            continue
        if not tenant_dir.is_dir() or not re.match(TENANT_PATTERN, tenant_dir.name):
            problems.append(_stray(tenant_dir))
            continue
        for path in sorted(tenant_dir.iterdir()):
            if path.is_symlink():
                continue
            if (packed := PACK_FILE.match(path.name)) is not None:
                _inspect_pack(path, tenant_dir.name, packed[1], facts, problems)
                continue
            match = _DO_FILE.match(path.name)
            if match is None:
                if _leftover(path, facts, problems):
                    continue
                if not _companion(path, _DO_FILE) and not _companion(path, PACK_FILE):
                    problems.append(_stray(path))
                continue
            key = (tenant_dir.name, match[1])
            try:
                finalized, hashed = _check_do_file(path, *key)
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
            elif hashed:
                facts.do_hashed.add(key)


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


def _check_do_file(path: Path, tenant: str, date: str) -> tuple[bool, bool]:
    """Open without creating anything; returns whether the tenant-day is finalized, and whether
    it holds visitor hashes (made with its salt)."""
    do = DoFile(path, tenant, date, create=False)
    try:
        _quick_check(do.con, path)
        found = (do._meta("tenant"), do._meta("date"))
        if found != (tenant, date):
            raise DamagedStateError(path, f"holds {found[0]} {found[1]}, not the tenant-day of its name")
        do.snapshot()  # every table the flush reads is there
        return do.finalized, bool(do.stored_views_count())
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
    if warehouse.path.is_symlink():
        return
    if not warehouse.exists():
        if facts.direct or any(version >= 0 for _, _, version in facts.listed):
            facts.warehouse_missing = True
            problems.append(Problem(warehouse.path, "warehouse missing", _REBUILD))
        return
    try:
        warehouse.verify()
    except DamagedStateError as e:
        facts.warehouse_damaged = True
        problems.append(
            Problem(
                warehouse.path,
                e.problem.removesuffix(f"; {REBUILD}"),
                _REBUILD.replace("rebuilds it", "moves it aside and rebuilds it", 1),
            )
        )


def _inspect_secret(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """The state secret keys the file checkpoints: missing, damaged or another one, no file read
    before is recognised, and ingest refuses to run (catalog.identity_secret)."""
    path = state.root / SECRET_FILE
    if path.is_symlink():
        return
    try:
        key = read_secret(state)
    except DamagedStateError as e:
        problem = e.problem
    else:
        if key is None and facts.knows_files:
            problem = f"state secret missing: {SECRET_LOST}"
        elif key is not None and facts.secret_recorded not in (None, secret_check(key)):
            problem = f"state secret is not the one the file checkpoints were made with: {SECRET_LOST}"
        else:
            return
    facts.secret_lost = True
    problems.append(
        Problem(
            path,
            f"{problem}; `rings ingest` refuses to run",
            "`rings check --repair` makes a new one and recognises again the files it finds where "
            "their checkpoints last saw them (it names the others: do not read them again)",
        )
    )


def _inspect_salts(state: StateDir, facts: _Facts, problems: list[Problem]) -> None:
    """`salts/<tenant>/<date>.key`, and an earlier release's `salts/<date>.key` (the next ingest
    moves it): a salt whose tenant-day (or, the old kind, every tenant-day of its date) is
    finalized should be gone; anything else there is stray."""
    if not state.salts_dir.is_dir() or state.salts_dir.is_symlink():
        return
    usable = state.catalog_path.exists() and not facts.catalog_damaged
    closed = facts.finalized if usable else facts.do_finalized | set(facts.packed)
    days = (
        {(t, d) for t, d, _ in facts.listed}
        if usable
        else set(facts.do_files) | set(facts.do_damaged) | set(facts.packed)
    )
    for path in sorted(state.salts_dir.iterdir()):
        if path.is_symlink():
            continue
        if path.is_dir() and re.match(TENANT_PATTERN, path.name):
            for salt in sorted(path.iterdir()):
                if salt.is_symlink():
                    continue
                match = _SALT_FILE.match(salt.name)
                if match is None and _leftover(salt, facts, problems):
                    continue
                if match is None:
                    problems.append(_stray(salt))
                else:
                    day = (path.name, match[1])
                    _inspect_salt(salt, day in closed, facts, problems, day)
            continue
        match = _SALT_FILE.match(path.name)
        if match is None and _leftover(path, facts, problems):
            continue
        if match is None or not path.is_file():
            problems.append(_stray(path))
            continue
        tenants = {t for t, d in days if d == match[1]}
        _inspect_salt(path, bool(tenants) and all((t, match[1]) in closed for t in tenants), facts, problems)
    for tenant, date in sorted(facts.do_hashed - closed):
        path = state.salt_path(tenant, date)
        if not path.exists() and not state.legacy_salt_path(date).exists():
            facts.lost_salts.add((tenant, date))
            problems.append(Problem(path, f"{SALT_MISSING}; `rings ingest` sets its lines aside", _CLOSE))


def _inspect_salt(
    path: Path, stale: bool, facts: _Facts, problems: list[Problem], day: tuple[str, str] | None = None
) -> None:
    if stale:
        facts.stale_salts.append(path)
        problems.append(
            Problem(
                path, "salt of a finalized tenant-day still present", "`rings check --repair` destroys it"
            )
        )
    elif (size := path.stat().st_size) != SALT_BYTES:
        if day is not None and day in facts.do_hashed:
            facts.lost_salts.add(day)
            problems.append(
                Problem(path, f"{damaged_salt(size)}; `rings ingest` sets its lines aside", _CLOSE)
            )
            return
        facts.damaged_salts.append(path)
        problems.append(
            Problem(
                path,
                damaged_salt(size),
                "`rings check --repair` destroys it (no visitor hash was made with it; a new one is made)",
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


def _leftover(path: Path, facts: _Facts, problems: list[Problem]) -> bool:
    """A file a process was making when it stopped (never linked into place, so nothing uses it):
    reported, and removed by the repair."""
    if _CREATING.match(path.name):
        what = "a DO file (or an unpacked day) cut short while it was made: it holds nothing in use"
    elif _KEY_TMP.match(path.name):
        what = "a key (a salt or the secret) cut short while it was made: nothing uses it"
    else:
        return False
    facts.leftovers.append(path)
    problems.append(Problem(path, what, "`rings check --repair` removes it"))
    return True


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
    if out_of_space(state.root):  # filled up since the inspection: rename nothing
        raise DiskFullError(state.root)
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
    for path in facts.leftovers:
        if _KEY_TMP.match(path.name):
            destroy_key(path)
        else:
            path.unlink(missing_ok=True)
        done.append(f"removed {path} (cut short while it was made)")
    if facts.secret_lost and (state.root / SECRET_FILE).exists():
        done.append(f"moved {_move_aside(state.root / SECRET_FILE, stamp).name} aside")
    catalog = Catalog(state.catalog_path)
    try:
        if facts.secret_lost:
            key = new_secret(state)
            catalog.set_secret_check(secret_check(key))
            found = find_files_again(catalog, key)
            done += found.done
            result.todo += found.todo
        restored = _repair_listing(state, facts, catalog, old_warehouse, result)
        lost = [(t, d) for t, d in (day.split(" ") for day in result.lost)]
        direct = catalog.direct_sources() if facts.warehouse_damaged or facts.warehouse_missing else []
        rolled = roll_back(catalog, restored, lost, direct)
        done += rolled.done
        result.todo += rolled.todo
        _close_early(state, facts, catalog, result)
        for path in facts.damaged_salts:
            destroy_key(path)
            done.append(f"destroyed the damaged salt {_salt_day(state, path)} (no visitor hash used it)")
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
) -> dict[tuple[str, str], Restored]:
    """Catalog and DO files agree again: unlisted files added, lost files restored or forgotten.
    Returns the tenant-days restored from a warehouse copy, with what that copy holds."""
    listed = {(t, d): v for t, d, v in catalog.days()}
    epochs = catalog.flushed_epochs()
    restored: dict[tuple[str, str], Restored] = {}
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
        marks = _restore(path, tenant, date, version, warehouses) if version >= 0 else None
        if marks is not None:
            restored[(tenant, date)] = Restored(epochs.get((tenant, date)), marks)
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
    return restored


def _close_early(state: StateDir, facts: _Facts, catalog: Catalog, result: CheckResult) -> None:
    """Open tenant-days whose salt is lost: finalized now (summary kept, hashes deleted), so no new
    salt ever counts their visitors twice; their later lines are late (counts, no visitors)."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for tenant, date in sorted(facts.lost_salts):
        if (tenant, date) not in facts.do_files:
            continue
        do = DoFile(facts.do_files[(tenant, date)], tenant, date, create=False)
        try:
            while not do.finalize():
                time.sleep(0.05)  # a reader kept the WAL: its hashes may be there until it lets go
        finally:
            do.close()
        destroy_key(state.salt_path(tenant, date))
        catalog.mark_dirty([(tenant, date)])
        catalog.mark_finalized(tenant, date, stamp)
        result.repaired.append(
            f"closed {tenant}/{date} early: its salt was lost, so its later visitors cannot be told "
            "from those it holds; its later lines count as late (requests and page views, no visitors)"
        )


def _restore(
    path: Path, tenant: str, date: str, version: int, warehouses: list[AnyWarehouse]
) -> dict[str, int] | None:
    """Write a finalized DO file from the first warehouse that still has the tenant-day; returns
    the lines that copy holds (source -> last line), None when no warehouse has it."""
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
        marks = tables.get(ABSORBED)
        return (
            {} if marks is None else {str(s): int(n) for s, n in marks.select("source", "line").iter_rows()}
        )
    return None


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
