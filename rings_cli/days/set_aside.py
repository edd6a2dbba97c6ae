"""Copies a repair set aside (`<name>.damaged-<UTC>`, ops/check.py): erase and retention cover them.

`rings check --repair` never deletes a damaged file: it moves it aside for the user. Such a copy
still holds whatever it held, so an erase (or retention) must remove the tenant-days it deletes from
the copies too:

- a DO file's or a pack's copy lies in its tenant's folder and goes with its days (erase.plan);
- a copy of the catalog (SQLite) loses the rows of those tenant-days (secure_delete, VACUUM, WAL
  truncated), and a whole tenant's name in its file checkpoints; one that cannot be read is deleted
  if its bytes name the tenant (SQLite stores text as it is);
- a copy of the warehouse (DuckDB) is rewritten without those rows; one that cannot be read is
  deleted whole, since DuckDB compresses text and no byte scan can prove the tenant absent.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from rings_cli.core.lazy import lazy_module
from rings_cli.store import sqlite as storage

if TYPE_CHECKING:
    import duckdb
else:
    duckdb = lazy_module("duckdb")

SET_ASIDE = re.compile(r"^(catalog\.sqlite|warehouse\.duckdb)\.damaged-\d{8}T\d{6}Z$")
SIDES = ("-wal", "-shm", "-journal", ".wal")
ROWS, WHOLE = "rows", "whole"  # what an erase does to a copy: delete rows, or the file
Selection = dict[str, str | None]  # tenant -> before (None: all its days)


def copies(root: Path) -> list[Path]:
    """The catalog's and the warehouse's copies a repair set aside, at the top of the state dir."""
    return sorted(p for p in root.iterdir() if SET_ASIDE.match(p.name) and p.is_file())


def plan(root: Path, chosen: Selection) -> dict[Path, str]:
    """Which copies hold (or, unreadable, may hold) a selected tenant-day, and what goes: ROWS or
    the WHOLE file."""
    out: dict[Path, str] = {}
    for path in copies(root):
        try:
            held = _days_in_catalog(path) if path.name.startswith("catalog") else _days_in_warehouse(path)
        except (sqlite3.Error, duckdb.Error, OSError):
            if path.name.startswith("warehouse") or _names_any(path, chosen):
                out[path] = WHOLE
            continue
        if any(t in chosen and _selected(d, chosen[t]) for t, d in held):
            out[path] = ROWS
        elif path.name.startswith("catalog") and _names_any(
            path, [t for t, b in chosen.items() if b is None]
        ):
            out[path] = ROWS  # a file checkpoint's name or path names a tenant erased whole
    return out


def apply(todo: dict[Path, str], chosen: Selection, erased_name: str) -> None:
    """Delete the rows (or, when that fails, the file) the plan says."""
    for path, what in todo.items():
        if what == ROWS:
            try:
                if path.name.startswith("catalog"):
                    _erase_catalog_copy(path, chosen, erased_name)
                else:
                    _rewrite_warehouse_copy(path, chosen)
                continue
            except (sqlite3.Error, duckdb.Error):
                pass  # it read at planning time, not now: it goes whole
        for side in (path, *(path.with_name(path.name + s) for s in SIDES)):
            side.unlink(missing_ok=True)
    if todo:
        storage.fsync_dir(next(iter(todo)).parent)


def _whole(chosen: Selection) -> list[str]:
    return [tenant for tenant, before in chosen.items() if before is None]


def _selected(date: str, before: str | None) -> bool:
    return before is None or date < before


def _names_any(path: Path, tenants: Iterable[str]) -> bool:
    names = [t.encode() for t in tenants]
    for each in (path, *(path.with_name(path.name + s) for s in SIDES)):
        if each.exists() and any(n in each.read_bytes() for n in names):
            return True
    return False


def _days_in_catalog(path: Path) -> set[tuple[str, str]]:
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as con:
        out: set[tuple[str, str]] = set()
        for table in _tables(con):
            columns = _columns(con, table)
            if {"tenant", "date"} <= columns:
                out |= {(str(t), str(d)) for t, d in con.execute(f'SELECT tenant, date FROM "{table}"')}
        return out


def _days_in_warehouse(path: Path) -> set[tuple[str, str]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        out: set[tuple[str, str]] = set()
        for table in _duck_tables(con, None):
            out |= {
                (str(t), str(d))
                for t, d in con.execute(
                    f'SELECT DISTINCT tenant, CAST(date AS VARCHAR) FROM "{table}"'
                ).fetchall()
            }
        return out
    finally:
        con.close()


def _erase_catalog_copy(path: Path, chosen: Selection, erased_name: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA secure_delete = ON")
        con.execute("BEGIN IMMEDIATE")
        for table in _tables(con):
            columns = _columns(con, table)
            if "tenant" in columns:
                for tenant, before in chosen.items():
                    if before is not None and "date" in columns:
                        con.execute(f'DELETE FROM "{table}" WHERE tenant = ? AND date < ?', (tenant, before))
                    elif before is None:
                        con.execute(f'DELETE FROM "{table}" WHERE tenant = ?', (tenant,))
            if table == "checkpoints":
                paths = "path" in columns
                for tenant in (t for t, b in chosen.items() if b is None):
                    where = "instr(name, ?1) > 0" + (" OR instr(coalesce(path, ''), ?1) > 0" if paths else "")
                    blank = ", path = NULL" if paths else ""
                    con.execute(
                        f"UPDATE checkpoints SET name = ?2{blank} WHERE {where}", (tenant, erased_name)
                    )
            if table in ("counters", "source_commits") and "source" in columns:  # /metrics' sources
                for tenant in (t for t, b in chosen.items() if b is None):
                    con.execute(f'DELETE FROM "{table}" WHERE instr(source, ?) > 0', (tenant,))
        con.execute("COMMIT")
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _rewrite_warehouse_copy(path: Path, chosen: Selection) -> None:
    """A new file with every table of the copy, less the selected tenant-days, renamed over it."""
    tmp = path.with_name(path.name + ".erasing")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    gone = " OR ".join(  # tenant names match [a-z0-9._-] and dates are ISO: safe to inline
        f"(tenant = '{t}'" + (f" AND date < DATE '{b}')" if b is not None else ")") for t, b in chosen.items()
    )
    con = duckdb.connect(str(tmp))
    try:
        quoted = str(path).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS old (READ_ONLY)")
        keyed = set(_duck_tables(con, "old"))
        for (table,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'old' AND schema_name = 'main'"
        ).fetchall():
            keep = f" WHERE NOT ({gone})" if table in keyed else ""
            con.execute(f'CREATE TABLE main."{table}" AS SELECT * FROM old."{table}"{keep}')
        con.execute("DETACH old")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    storage.replace_with(tmp, path)


def _tables(con: sqlite3.Connection) -> list[str]:
    rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return [r[0] for r in rows.fetchall()]


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f'PRAGMA table_info("{table}")')}


def _duck_tables(con: duckdb.DuckDBPyConnection, catalog: str | None) -> Iterator[str]:
    """Tables of the (attached `catalog`'s) main schema with a tenant and a date column."""
    rows = con.execute(
        "SELECT table_name, list(column_name) FROM duckdb_columns() WHERE schema_name = 'main'"
        " AND database_name = coalesce($catalog, current_database()) GROUP BY table_name",
        {"catalog": catalog},
    ).fetchall()
    for table, columns in rows:
        if {"tenant", "date"} <= set(columns):
            yield str(table)
