"""The catalog: which tenant-days exist and which have changes the warehouse has not seen.

A tenant-day is marked dirty *before* its DO file is merged, and cleared only after the warehouse
holds that DO file's version. A crash between the two leaves it dirty, so the next flush repairs it.
"""

from __future__ import annotations

from pathlib import Path

from rings_cli import storage
from rings_cli.errors import DamagedStateError


class Catalog:
    """A small SQLite table of tenant-days."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = storage.connect(path, path.parent)
        try:
            self._open()
        except BaseException:
            self.con.close()
            raise

    def _open(self) -> None:
        """WAL, then the tables; a database that has tables but not ours is not a catalog."""
        self.con.execute("PRAGMA journal_mode = WAL")
        tables = storage.table_names(self.con)
        if tables and "days" not in tables:
            raise DamagedStateError(self.path, "not a Rings catalog (no `days` table)")
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS days (
                 tenant TEXT NOT NULL,
                 date TEXT NOT NULL,
                 dirty INTEGER NOT NULL DEFAULT 1,
                 flushed_version INTEGER NOT NULL DEFAULT -1,
                 PRIMARY KEY (tenant, date))"""
        )
        # A finalized date is closed for every tenant: its salt is gone, its lines are late.
        self.con.execute("CREATE TABLE IF NOT EXISTS finalized (date TEXT PRIMARY KEY, at TEXT NOT NULL)")
        # Read positions of files, by content fingerprint (see tail.py); never raw log bytes.
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS checkpoints (
                 fingerprint TEXT PRIMARY KEY,
                 offset INTEGER NOT NULL,
                 line INTEGER NOT NULL,
                 name TEXT NOT NULL,
                 updated TEXT NOT NULL)"""
        )

    def mark_dirty(self, keys: list[tuple[str, str]]) -> None:
        with self.con:
            self.con.execute("BEGIN")
            self.con.executemany(
                """INSERT INTO days (tenant, date, dirty) VALUES (?, ?, 1)
                   ON CONFLICT (tenant, date) DO UPDATE SET dirty = 1""",
                keys,
            )

    def mark_all_dirty(self) -> None:
        self.con.execute("UPDATE days SET dirty = 1")

    def dirty(self) -> list[tuple[str, str]]:
        return self.con.execute(
            "SELECT tenant, date FROM days WHERE dirty = 1 ORDER BY tenant, date"
        ).fetchall()

    def mark_flushed(self, versions: list[tuple[str, str, int]]) -> None:
        with self.con:
            self.con.execute("BEGIN")
            self.con.executemany(
                "UPDATE days SET dirty = 0, flushed_version = ? WHERE tenant = ? AND date = ?",
                [(v, t, d) for t, d, v in versions],
            )

    def flushed_version(self, tenant: str, date: str) -> int | None:
        """The DO file version the warehouse last got (-1: never flushed), None when not listed."""
        row = self.con.execute(
            "SELECT flushed_version FROM days WHERE tenant = ? AND date = ?", (tenant, date)
        ).fetchone()
        return int(row[0]) if row else None

    def may_create(self, tenant: str, date: str) -> bool:
        """Whether a missing DO file may be created. Once a tenant-day was flushed its file must
        exist: re-creating it empty would silently replace the warehouse's copy with less."""
        version = self.flushed_version(tenant, date)
        return version is None or version < 0

    def days(self) -> list[tuple[str, str, int]]:
        """Every listed tenant-day with its flushed version."""
        return self.con.execute(
            "SELECT tenant, date, flushed_version FROM days ORDER BY tenant, date"
        ).fetchall()

    def forget(self, tenant: str, date: str) -> None:
        """Drop a tenant-day from the catalog (`rings check --repair`, when nothing of it is left)."""
        self.con.execute("DELETE FROM days WHERE tenant = ? AND date = ?", (tenant, date))

    def open_dates(self) -> list[str]:
        """Dates that have data and are not finalized yet, oldest first."""
        return [
            r[0]
            for r in self.con.execute(
                "SELECT DISTINCT date FROM days WHERE date NOT IN (SELECT date FROM finalized) ORDER BY date"
            )
        ]

    def tenants_on(self, date: str) -> list[str]:
        return [
            r[0] for r in self.con.execute("SELECT tenant FROM days WHERE date = ? ORDER BY tenant", (date,))
        ]

    def finalized_dates(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT date FROM finalized")}

    def mark_finalized(self, date: str, at: str) -> None:
        self.con.execute("INSERT OR IGNORE INTO finalized (date, at) VALUES (?, ?)", (date, at))

    def checkpoint(self, fingerprint: str) -> tuple[int, int] | None:
        """(offset, line) of a source, or None when it was never read."""
        row = self.con.execute(
            "SELECT offset, line FROM checkpoints WHERE fingerprint = ?", (fingerprint,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def save_checkpoint(self, fingerprint: str, offset: int, line: int, name: str, at: str) -> None:
        """Record a position; never moves one backwards (a rotated copy may lag its original)."""
        self.con.execute(
            """INSERT INTO checkpoints (fingerprint, offset, line, name, updated) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (fingerprint) DO UPDATE SET
                 offset = max(offset, excluded.offset), line = max(line, excluded.line),
                 name = excluded.name, updated = excluded.updated""",
            (fingerprint, offset, line, name, at),
        )

    def close(self) -> None:
        self.con.close()
