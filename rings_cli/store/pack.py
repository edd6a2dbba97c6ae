"""Packs: the finalized tenant-days of one tenant and month in one SQLite file.

A finalized DO file is about 20 KB however few lines its day had (a page or two for each of ~20
tables and indexes), so a long archive of small days left a state dir several times its log. Once a
tenant-day is finalized and the warehouse holds its final totals (clean in the catalog), its rows
move into `do/<tenant>/<YYYY-MM>.pack.sqlite`: every aggregate table of tables.py with `date` in
front of its key, the day row, the `absorbed` marks per date and each day's DO file version. The
days of one pack move in one transaction, and only then are their DO files unlinked; a crash in
between leaves a day in both, and the DO file wins everywhere (it is packed again next time).

Readers never read a pack: they read clean tenant-days from the warehouse. A late line for a packed
day (`docache.open_do_file`) first `unpack`s it: its finalized DO file is written back whole (counts,
day row, absorbed marks, version), then its rows leave the pack, and the existing late-line path
runs unchanged; the next finalization pass packs it again. `rings check --repair` rebuilds the
warehouse from DO files and packs (`packed_snapshots`), and erase and retention delete days from a
pack (`drop_days`) with secure_delete, a VACUUM and a WAL truncate, so no byte of them stays.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rings_cli.core import tables
from rings_cli.core.errors import DamagedStateError
from rings_cli.core.state import StateDir, check_tenant, process_umask
from rings_cli.store import sqlite as storage
from rings_cli.store.dofile import PAGE_SIZE, DoFile, Snapshot, create_file
from rings_cli.store.dofile import SCHEMA_VERSION as DO_SCHEMA_VERSION

if TYPE_CHECKING:
    from rings_cli.store.catalog import Catalog

SCHEMA_VERSION = 1
PACK_FILE = re.compile(r"^(\d{4}-\d{2})\.pack\.sqlite$")
_SIDE = ("-wal", "-shm", "-journal")
_TYPES = {tables.INT: "INTEGER", tables.REAL: "REAL", tables.TEXT: "TEXT", tables.JSON: "TEXT"}


def _ddl(table: tables.Table) -> str:
    """A DO file's table with `date` in front of its key (the day row: keyed by date alone)."""
    cols = ["date TEXT NOT NULL"]
    for c in table.keys:
        default = f" DEFAULT {c.default}" if c.default else ""
        cols.append(f"{c.name} {_TYPES[c.type]} NOT NULL{default}")
    for c in table.columns:
        cols.append(f"{c.name} {_TYPES[c.type]}" + (" NOT NULL DEFAULT 0" if c.additive else ""))
    key = ", ".join(["date", *table.key_names])
    return f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)}, PRIMARY KEY ({key})) WITHOUT ROWID"


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS days (date TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS absorbed (date TEXT NOT NULL, source TEXT NOT NULL,
       line INTEGER NOT NULL, PRIMARY KEY (date, source)) WITHOUT ROWID""",
    *(_ddl(t) for t in tables.TABLES),
]
_DAY_TABLES = ("days", "absorbed", *(t.name for t in tables.TABLES))  # every table with a date


def pack_path(state: StateDir, tenant: str, month: str) -> Path:
    """`do/<tenant>/<YYYY-MM>.pack.sqlite`; both parts validated (no path from raw input)."""
    check_tenant(tenant)
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise ValueError(f"bad month {month!r}")
    return state.root / "do" / tenant / f"{month}.pack.sqlite"


def _connect(path: Path, tenant: str, month: str, create: bool) -> sqlite3.Connection:
    """Open (with `create`, make) a pack: 1 KiB pages, incremental auto-vacuum, WAL,
    secure_delete, with a DO file's mode (owner-only; 0640 with `group_readable`)."""
    new = not path.exists()
    if new and not create:
        raise DamagedStateError(path, "pack missing")
    if new:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o666 & ~process_umask())  # the state dir's mode, as for a DO file
            view = memoryview(_new_pack(tenant, month))  # every table: no DDL per pack
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    con = storage.connect(path, path.parent.parent.parent, create)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")  # durable before the DO files are unlinked
        con.execute("PRAGMA secure_delete = ON")
        names = storage.table_names(con)
        if names and "meta" not in names:
            raise DamagedStateError(path, "not a Rings pack (no `meta` table)")
        if not names and not new:
            raise DamagedStateError(path, "pack is empty (truncated?)")
        if not names >= set(_DAY_TABLES) | {"meta"}:
            con.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                con.execute(statement)
            con.executemany(
                "INSERT OR IGNORE INTO meta VALUES (?, ?)",
                [("tenant", tenant), ("month", month), ("schema_version", str(SCHEMA_VERSION))],
            )
            con.execute("COMMIT")
        found = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if (found.get("tenant"), found.get("month")) != (tenant, month):
            raise DamagedStateError(path, "pack of another tenant or month than its name says")
    except sqlite3.DatabaseError as e:
        con.close()
        raise storage.failure_or_damage(e, path, path.parent.parent.parent, "not a usable pack") from e
    except BaseException:
        con.close()
        raise
    return con


def _new_pack(tenant: str, month: str) -> bytes:
    """The bytes of a new pack: 1 KiB pages, incremental auto-vacuum, every table and its meta
    rows, in WAL mode (header bytes 18 and 19)."""
    meta = [("tenant", tenant), ("month", month), ("schema_version", str(SCHEMA_VERSION))]
    return storage.wal_image(
        _template(), lambda con: con.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", meta)
    )


@functools.cache
def _template() -> bytes:
    """An empty pack's bytes (no meta rows), made once per process in a private temporary folder."""
    with tempfile.TemporaryDirectory(prefix="rings-pack-") as folder:
        made = Path(folder) / "template.sqlite"
        con = sqlite3.connect(made, isolation_level=None)
        try:
            con.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            con.execute("PRAGMA auto_vacuum = INCREMENTAL")
            con.execute("PRAGMA journal_mode = OFF")
            con.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                con.execute(statement)
            con.execute("COMMIT")
        finally:
            con.close()
        return made.read_bytes()


def _compact(con: sqlite3.Connection, full: bool = False) -> None:
    """No free page (secure_delete zeroed what was deleted), then an empty WAL."""
    if full:
        con.execute("VACUUM")
    else:
        con.executescript("PRAGMA incremental_vacuum;")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _unlink(path: Path) -> None:
    for suffix in ("", *_SIDE):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _columns(con: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA {schema}.table_info({table})")]


# --- packing ------------------------------------------------------------------------------------


def packable(state: StateDir, catalog: Catalog) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """(tenant, month) -> [(date, version)]: finalized, clean, flushed tenant-days that have a DO
    file (one directory listing per tenant, not a stat per day)."""
    closed = catalog.finalized_days()
    dirty = set(catalog.dirty())
    out: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    files: dict[str, set[str]] = {}
    for tenant, date, version in catalog.days():
        if version < 0 or (tenant, date) in dirty or (tenant, date) not in closed:
            continue
        if tenant not in files:
            folder = state.root / "do" / tenant
            files[tenant] = {e.name for e in os.scandir(folder)} if folder.is_dir() else set()
        if f"{date}.sqlite" in files[tenant]:
            out[(tenant, date[:7])].append((date, version))
    return out


def pack_finalized(
    state: StateDir, catalog: Catalog, open_do: dict[tuple[str, str], DoFile] | None = None
) -> int:
    """Move every packable tenant-day into its month's pack (one transaction per pack), then
    unlink their DO files; returns how many moved. A damaged DO file or pack is left as it is
    (`rings check` names it)."""
    moved = 0
    for (tenant, month), days in sorted(packable(state, catalog).items()):
        for date, _ in days:
            do = (open_do or {}).pop((tenant, date), None)
            if do is not None:
                do.close()
        try:
            moved += _pack_month(state, tenant, month, days)
        except DamagedStateError:
            continue
    return moved


def _pack_month(state: StateDir, tenant: str, month: str, days: list[tuple[str, int]]) -> int:
    copies = {}
    for date, version in days:
        copy = _read_file(state.do_path(tenant, date), tenant, date, version)
        if copy is not None:
            copies[date] = copy
    return _write_month(state, tenant, month, copies)


# A finalized DO file's rows as a pack takes them: (table, columns, rows) per table, `absorbed`
# (source, line) rows, and the version.
DayCopy = tuple[list[tuple[str, list[str], list[tuple[Any, ...]]]], list[tuple[Any, ...]], int]


def pack_copies(state: StateDir, copies: dict[tuple[str, str], DayCopy]) -> int:
    """Move tenant-days read by `read_day` (finalization, while their DO file was open) into their
    months' packs, then unlink their DO files; the caller has them finalized and clean in the
    catalog (what `packable` asks). Returns how many moved; a damaged pack is left as it is."""
    months: dict[tuple[str, str], dict[str, DayCopy]] = defaultdict(dict)
    for (tenant, date), copy in copies.items():
        months[(tenant, date[:7])][date] = copy
    moved = 0
    for (tenant, month), days in sorted(months.items()):
        try:
            moved += _write_month(state, tenant, month, days)
        except DamagedStateError:
            continue
    return moved


def _write_month(state: StateDir, tenant: str, month: str, days: dict[str, DayCopy]) -> int:
    """One transaction of the pack for these days, then their DO files unlinked, one folder sync."""
    if not days:
        return 0
    path = pack_path(state, tenant, month)
    con = _connect(path, tenant, month, create=True)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            for date, copy in days.items():
                _insert_day(con, date, copy)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        _compact(con)
    finally:
        con.close()
    for date in days:
        _unlink(state.do_path(tenant, date))
    storage.fsync_dir(path.parent)
    return len(days)


def _read_file(source: Path, tenant: str, date: str, version: int) -> DayCopy | None:
    try:
        do = sqlite3.connect(source, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        return read_day(do, tenant, date, version)
    finally:
        do.close()


def read_day(do: sqlite3.Connection, tenant: str, date: str, version: int) -> DayCopy | None:
    """A DO file's rows as its pack takes them; None (nothing to copy) when the file is not a
    finalized DO file of that tenant-day at `version` (the catalog's flushed one)."""
    try:
        do.execute("BEGIN")
        try:
            meta = dict(do.execute("SELECT key, value FROM meta").fetchall())
            if (meta.get("tenant"), meta.get("date"), meta.get("finalized")) != (tenant, date, "1"):
                return None
            if int(meta.get("version", -1)) != version:
                return None
            if do.execute("SELECT 1 FROM views LIMIT 1").fetchone():
                return None
            current = meta.get("schema_version") == str(DO_SCHEMA_VERSION)  # every table and column there
            present = None if current else storage.table_names(do)
            rows: list[tuple[str, list[str], list[tuple[Any, ...]]]] = []
            for table in tables.TABLES:
                names = table.names
                if present is not None:  # a file of an earlier release: only what it has
                    if table.name not in present:
                        continue  # from before the table: no rows of it
                    have = set(_columns(do, table.name))
                    names = [c for c in names if c in have]
                got = do.execute(f"SELECT {', '.join(names)} FROM {table.name}").fetchall()
                rows.append((table.name, names, got))
            absorbed = do.execute("SELECT source, line FROM absorbed").fetchall()
        finally:
            if do.in_transaction:
                do.execute("COMMIT")
    except sqlite3.Error:
        return None
    return rows, absorbed, version


def _insert_day(con: sqlite3.Connection, date: str, copy: DayCopy) -> None:
    """Replace the pack's rows of `date` by a DO file's."""
    rows, absorbed, version = copy
    if con.execute("SELECT 1 FROM days WHERE date = ?", (date,)).fetchone():
        _delete_day(con, date)  # packed before (a crash before its DO file was unlinked)
    for name, names, got in rows:
        if got:
            marks = ", ".join("?" for _ in range(len(names) + 1))
            con.executemany(
                f"INSERT INTO {name} (date, {', '.join(names)}) VALUES ({marks})",
                [(date, *r) for r in got],
            )
    con.executemany("INSERT INTO absorbed VALUES (?, ?, ?)", [(date, s, n) for s, n in absorbed])
    con.execute("INSERT INTO days VALUES (?, ?)", (date, version))


def _delete_day(con: sqlite3.Connection, date: str) -> None:
    for name in _DAY_TABLES:
        con.execute(f"DELETE FROM {name} WHERE date = ?", (date,))


# --- reading, unpacking, erasing --------------------------------------------------------------


def pack_days(path: Path) -> dict[str, int]:
    """date -> DO file version of every day a pack holds (read-only)."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT date, version FROM days").fetchall())
    except sqlite3.DatabaseError as e:
        raise storage.failure_or_damage(e, path, path.parent.parent.parent, "not a usable pack") from e
    finally:
        con.close()


def verify(path: Path, tenant: str, month: str) -> dict[str, int]:
    """`rings check`: integrity, our tables, the tenant and month of its name, every date in the
    month, and every snapshot reads; returns date -> version."""
    con = _connect(path, tenant, month, create=False)
    try:
        rows = con.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            raise DamagedStateError(path, f"integrity check failed ({rows[0][0]})")
        days = dict(con.execute("SELECT date, version FROM days").fetchall())
        stray = [d for d in days if not str(d).startswith(month + "-")]
        if stray:
            raise DamagedStateError(path, f"holds {stray[0]}, not a day of {month}")
        for date in days:
            _snapshot(con, date)
        return days
    except sqlite3.DatabaseError as e:
        raise storage.failure_or_damage(e, path, path.parent.parent.parent, "not a usable pack") from e
    finally:
        con.close()


def unpack(state: StateDir, tenant: str, date: str) -> bool:
    """Give a packed tenant-day its finalized DO file back (whole, or not at all), then drop it
    from the pack; False when no pack holds it."""
    path = pack_path(state, tenant, date[:7])
    if not path.exists():
        return False
    con = _connect(path, tenant, date[:7], create=False)
    try:
        row = con.execute("SELECT version FROM days WHERE date = ?", (date,)).fetchone()
        if row is None:
            return False
        rows = {
            t.name: con.execute(
                f"SELECT {', '.join(t.names)} FROM {t.name} WHERE date = ?", (date,)
            ).fetchall()
            for t in tables.TABLES
        }
        absorbed = con.execute("SELECT source, line FROM absorbed WHERE date = ?", (date,)).fetchall()

        def fill(do: sqlite3.Connection) -> None:
            for table in tables.TABLES:
                got = rows[table.name]
                if table is tables.DAY:
                    if got:
                        sets = ", ".join(f"{c} = ?" for c in table.names)
                        do.execute(f"UPDATE day SET {sets}", got[0])
                    continue
                if got:
                    names, marks = ", ".join(table.names), ", ".join("?" for _ in table.names)
                    do.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", got)
            do.executemany("INSERT INTO absorbed (source, line) VALUES (?, ?)", absorbed)
            do.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(row[0]),))
            do.execute("UPDATE meta SET value = '1' WHERE key = 'finalized'")

        target = state.do_path(tenant, date)
        with storage.translating(target, state.root):
            create_file(target, tenant, date, fill)
        storage.fsync_dir(target.parent)  # the DO file's name is on disk before the pack lets the day go
        con.execute("BEGIN IMMEDIATE")
        _delete_day(con, date)
        con.execute("COMMIT")
        empty = con.execute("SELECT 1 FROM days LIMIT 1").fetchone() is None
        _compact(con)
    finally:
        con.close()
    if empty:
        _unlink(path)
    return True


def drop_days(path: Path, dates: Iterable[str]) -> None:
    """Erase and retention: delete these days from a pack so that no byte of them stays
    (secure_delete, VACUUM, WAL truncate); a pack left empty is unlinked."""
    match = PACK_FILE.match(path.name)
    if match is None or not path.exists():
        return
    con = _connect(path, path.parent.name, match[1], create=False)
    try:
        con.execute("BEGIN IMMEDIATE")
        for date in dates:
            _delete_day(con, date)
        con.execute("COMMIT")
        empty = con.execute("SELECT 1 FROM days LIMIT 1").fetchone() is None
        _compact(con, full=True)
    finally:
        con.close()
    if empty:
        _unlink(path)


def _snapshot(con: sqlite3.Connection, date: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """What `dofile.snapshot_rows` gives for the DO file the day had (the flush's shape)."""
    out = {}
    for table in tables.TABLES:
        if table is tables.DAY:
            hourly = tables.BY_NAME["hourly"]
            sums = [f"sum(h.{c.name}) AS {c.name}" for c in hourly.columns if c.per_day]
            own = [f"d.{c.name}" for c in table.columns]
            sql = (
                f"SELECT {', '.join([*sums, *own, '1 AS finalized'])} FROM hourly AS h, day AS d "
                "WHERE h.date = ?1 AND d.date = ?1 HAVING count(*) > 0"
            )
        else:
            sql = f"SELECT {', '.join(table.names)} FROM {table.name} WHERE date = ?1"
        cur = con.execute(sql, (date,))
        out[table.warehouse_name] = ([d[0] for d in cur.description], cur.fetchall())
    marks = con.execute("SELECT source, line FROM absorbed WHERE date = ?", (date,)).fetchall()
    out[tables.ABSORBED] = (["source", "line"], marks)  # the lines it holds, as a DO file's flush
    return out


def packed_snapshots(state: StateDir, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Snapshot]:
    """(version, snapshot rows) of the tenant-days among `keys` that have no DO file but a pack:
    a flush (a rebuilt warehouse) reads them there, one open per pack, nothing unpacked."""
    months: dict[tuple[str, str], list[str]] = defaultdict(list)
    for tenant, date in keys:
        if not state.do_path(tenant, date).exists():
            months[(tenant, date[:7])].append(date)
    out: dict[tuple[str, str], Snapshot] = {}
    for (tenant, month), dates in months.items():
        path = pack_path(state, tenant, month)
        if not path.exists():
            continue
        try:
            con = _connect(path, tenant, month, create=False)
        except DamagedStateError:
            continue  # left to the DO-file path, which reports the missing day
        try:
            versions = dict(con.execute("SELECT date, version FROM days").fetchall())
            for date in dates:
                if date in versions:
                    out[(tenant, date)] = (int(versions[date]), _snapshot(con, date))
        finally:
            con.close()
    return out
