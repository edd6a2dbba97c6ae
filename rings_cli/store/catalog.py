"""The catalog: which tenant-days exist and which have changes the warehouse has not seen.

A tenant-day is marked dirty *before* its DO file is merged, and cleared only after the warehouse
holds that DO file's version. A crash between the two leaves it dirty, so the next flush repairs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from rings_cli.core.errors import DamagedStateError
from rings_cli.core.privacy import SECRET_FILE, SECRET_LOST, new_secret, read_secret, secret_check
from rings_cli.core.state import StateDir
from rings_cli.store import sqlite as storage

# fingerprint: the source id DO files know (`absorbed`); head_len, head_hash: how many bytes of
# the file's head the id was last checked on, and their keyed hash (0: a migrated first-line id).
# dev, ino, path: the file last read under it (a lost secret key is recovered by them, see
# `rekey`); epoch: the flush epoch of its last save (see `mark_flushed`). The last four came later:
# NULL in rows saved before.
_CHECKPOINTS = """CREATE TABLE IF NOT EXISTS {name} (
     fingerprint TEXT PRIMARY KEY,
     head_len INTEGER NOT NULL,
     head_hash TEXT NOT NULL,
     offset INTEGER NOT NULL,
     line INTEGER NOT NULL,
     name TEXT NOT NULL,
     updated TEXT NOT NULL,
     tenant TEXT,
     dev INTEGER,
     ino INTEGER,
     path TEXT,
     epoch INTEGER)"""
_CHECKPOINTS_INDEX = "CREATE INDEX IF NOT EXISTS checkpoints_by_head ON checkpoints (head_hash)"
_NEWER_COLUMNS = {  # added to a catalog of an earlier release when it is opened
    "checkpoints": ("tenant TEXT", "dev INTEGER", "ino INTEGER", "path TEXT", "epoch INTEGER"),
    "days": ("flushed_epoch INTEGER",),
}
_EPOCH = "(SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'epoch')"
STDIN_SOURCE = "-"  # in direct_sources: some lines came from standard input (no checkpoint)
UNKNOWN_OFFSET = -1  # a checkpoint's offset after a rollback to a line: found by counting lines


@dataclass(frozen=True)
class KnownFile:
    """A file checkpoint, as `rings check --repair` needs it (see `Catalog.known_files`)."""

    source: str
    head_len: int
    head_hash: str
    offset: int
    line: int
    name: str
    dev: int | None
    ino: int | None
    path: str | None
    epoch: int | None


# Every whole-line prefix of a file's known head (its keyed hash): a short file that is the beginning
# of a known head (a copy of a small file whose original grew since) is found by it.
_PREFIXES = """CREATE TABLE IF NOT EXISTS head_prefixes (
     fingerprint TEXT NOT NULL,
     head_len INTEGER NOT NULL,
     head_hash TEXT NOT NULL,
     PRIMARY KEY (fingerprint, head_len))"""
_PREFIXES_INDEX = "CREATE INDEX IF NOT EXISTS head_prefixes_by_hash ON head_prefixes (head_hash)"
# What every ingest process committed, summed over all of them and kept across restarts (the
# numbers of their summaries: `rings serve`'s /metrics): per source (a file's name, `-` for stdin)
# and counter (lines_read, parsed, page_views, rejected:REASON); and when each source's lines
# were last committed.
_COUNTERS = """CREATE TABLE IF NOT EXISTS counters (
     source TEXT NOT NULL,
     name TEXT NOT NULL,
     value INTEGER NOT NULL,
     PRIMARY KEY (source, name))"""
_SOURCE_COMMITS = "CREATE TABLE IF NOT EXISTS source_commits (source TEXT PRIMARY KEY, at REAL NOT NULL)"
MAX_SOURCE_NAME = 200  # characters of a source's name kept in `counters` (a label of /metrics)


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
        # What every report asks first (readpath.dirty_tenant_days): the few dirty rows among
        # tens of thousands of tenant-days, found without a scan.
        self.con.execute("CREATE INDEX IF NOT EXISTS days_dirty ON days (tenant, date) WHERE dirty = 1")
        # A finalized tenant-day: its salt and visitor hashes are gone; its lines are late.
        self.con.execute(
            """CREATE TABLE IF NOT EXISTS finalized_days (
                 tenant TEXT NOT NULL,
                 date TEXT NOT NULL,
                 at TEXT NOT NULL,
                 PRIMARY KEY (tenant, date))"""
        )
        # Read positions of files, by source id and keyed head hash (see tail.py); never log bytes.
        self.con.execute("PRAGMA secure_delete = ON")  # a replaced hash leaves no copy in free pages
        self.con.execute(_CHECKPOINTS.format(name="checkpoints"))
        self.con.execute(_PREFIXES)
        self.con.execute(_PREFIXES_INDEX)
        # Files some of whose lines went straight to the warehouse (days/direct.py): the warehouse
        # is those lines' only copy, so a lost warehouse means reading these files again.
        self.con.execute("CREATE TABLE IF NOT EXISTS direct_sources (fingerprint TEXT PRIMARY KEY)")
        # secret_check: a keyed hash of a constant under the state secret (privacy.secret_check),
        # which tells the secret the checkpoints were made with from any other; epoch: flushes.
        self.con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.con.execute("INSERT OR IGNORE INTO meta VALUES ('epoch', '0')")
        self.con.execute(_COUNTERS)
        self.con.execute(_SOURCE_COMMITS)
        for table, columns in _NEWER_COLUMNS.items():
            if table == "checkpoints" and self.legacy_checkpoints():
                continue  # remade whole by migrate_checkpoints, with them
            have = {r[1] for r in self.con.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column.split()[0] not in have:
                    self.con.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        if not self.legacy_checkpoints():
            self.con.execute(_CHECKPOINTS_INDEX)

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
        """The warehouse holds these versions now. Each flush starts a new epoch: a checkpoint
        saved since (its `epoch` at least the day's `flushed_epoch`) may hold lines of the day
        that the warehouse's copy does not (see `rings check --repair`)."""
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'epoch'")
            self.con.executemany(
                f"""UPDATE days SET dirty = 0, flushed_version = ?, flushed_epoch = {_EPOCH}
                    WHERE tenant = ? AND date = ?""",
                [(v, t, d) for t, d, v in versions],
            )

    def flushed_epochs(self) -> dict[tuple[str, str], int | None]:
        """Each listed tenant-day's last flush epoch (None: never flushed by this release)."""
        rows = self.con.execute("SELECT tenant, date, flushed_epoch FROM days").fetchall()
        return {(t, d): e for t, d, e in rows}

    def flushed_version(self, tenant: str, date: str) -> int | None:
        """The DO file version the warehouse last got (-1: never flushed), None when not listed."""
        row = self.con.execute(
            "SELECT flushed_version FROM days WHERE tenant = ? AND date = ?", (tenant, date)
        ).fetchone()
        return int(row[0]) if row else None

    def may_create(self, tenant: str, date: str) -> bool:
        """Whether a missing DO file may be created. Once a tenant-day was flushed its file must
        exist: re-creating it empty would silently replace the warehouse's copy with less. (A
        packed tenant-day is not missing: `docache.open_do_file` unpacks it first, pack.py.)"""
        version = self.flushed_version(tenant, date)
        return version is None or version < 0

    def listed(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """The tenant-days among `keys` that the catalog lists (a DO file's, open or finalized)."""
        if not keys:
            return set()
        rows = self.con.execute(
            """SELECT d.tenant, d.date FROM days AS d
               JOIN json_each(?) AS k ON d.tenant = k.value ->> 0 AND d.date = k.value ->> 1""",
            (json.dumps(keys),),
        ).fetchall()
        return {(t, d) for t, d in rows}

    def days(self) -> list[tuple[str, str, int]]:
        """Every listed tenant-day with its flushed version."""
        return self.con.execute(
            "SELECT tenant, date, flushed_version FROM days ORDER BY tenant, date"
        ).fetchall()

    def forget(self, tenant: str, date: str) -> None:
        """Drop a tenant-day from the catalog (`rings check --repair`, when nothing of it is left)."""
        self.con.execute("DELETE FROM days WHERE tenant = ? AND date = ?", (tenant, date))

    def open_days(self) -> list[tuple[str, str]]:
        """Tenant-days that have data and are not finalized yet."""
        closed = self.finalized_days()
        return [(t, d) for t, d, _ in self.days() if (t, d) not in closed]

    def tenants_on(self, date: str) -> list[str]:
        return [
            r[0] for r in self.con.execute("SELECT tenant FROM days WHERE date = ? ORDER BY tenant", (date,))
        ]

    def finalized_days(self) -> set[tuple[str, str]]:
        """Finalized tenant-days; until `lifecycle.migrate` ran, also every listed tenant-day of a
        date an earlier release finalized for all tenants at once."""
        closed = {(t, d) for t, d in self.con.execute("SELECT tenant, date FROM finalized_days")}
        if self.has_legacy_finalized():
            closed |= {
                (t, d)
                for t, d in self.con.execute(
                    "SELECT tenant, date FROM days WHERE date IN (SELECT date FROM finalized)"
                )
            }
        return closed

    def mark_finalized(self, tenant: str, date: str, at: str) -> None:
        self.con.execute(
            "INSERT OR IGNORE INTO finalized_days (tenant, date, at) VALUES (?, ?, ?)", (tenant, date, at)
        )

    def has_legacy_finalized(self) -> bool:
        """True while the `finalized(date)` table of an earlier release is here (see lifecycle.py)."""
        return "finalized" in storage.table_names(self.con)

    def migrate_finalized(self) -> None:
        """One transaction: each tenant-day of a finalized date is finalized, the old table goes."""
        with self.con:
            self.con.execute("BEGIN IMMEDIATE")
            if not self.has_legacy_finalized():
                return
            self.con.execute(
                """INSERT OR IGNORE INTO finalized_days (tenant, date, at)
                   SELECT d.tenant, d.date, f.at FROM days AS d JOIN finalized AS f USING (date)"""
            )
            self.con.execute("DROP TABLE finalized")

    def legacy_checkpoints(self) -> bool:
        """True when checkpoints still hold unkeyed first-line hashes (a release before keyed heads)."""
        columns = {r[1] for r in self.con.execute("PRAGMA table_info(checkpoints)")}
        return "head_hash" not in columns

    def migrate_checkpoints(self, rekey: Callable[[str], str | None]) -> None:
        """Replace every unkeyed fingerprint of the checkpoints by `rekey(it)`, in one transaction
        (lifecycle.migrate_checkpoints does the DO files first); freed pages are zeroed and the
        file rewritten, so no old hash stays on disk."""
        with self.con:
            self.con.execute("BEGIN IMMEDIATE")
            if not self.legacy_checkpoints():
                return
            rows = self.con.execute(
                "SELECT fingerprint, offset, line, name, updated FROM checkpoints"
            ).fetchall()
            self.con.execute(_CHECKPOINTS.format(name="checkpoints_keyed"))
            for old, offset, line, name, updated in rows:
                new = rekey(old)
                if new is not None:  # head_len 0: known by its first line only, until seen again
                    self.con.execute(
                        """INSERT OR IGNORE INTO checkpoints_keyed
                           (fingerprint, head_len, head_hash, offset, line, name, updated)
                           VALUES (?, 0, ?, ?, ?, ?, ?)""",
                        (new, new, offset, line, name, updated),
                    )
            self.con.execute("DROP TABLE checkpoints")
            self.con.execute("ALTER TABLE checkpoints_keyed RENAME TO checkpoints")
            self.con.execute(_CHECKPOINTS_INDEX)
        self.con.execute("VACUUM")
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def resolve(
        self,
        prefixes: tuple[tuple[int, str], ...],
        legacy: str,
        new_id: str,
        name: str,
        at: str,
        exclude: Collection[str] = (),
        avoid: Collection[str] = (),
        complete: bool = True,
        create: bool = True,
    ) -> tuple[str, int, int, bool] | None:
        """(source id, offset, line, new) of the file whose head has these prefixes (see tail.Head).

        The checkpoint taken on the longest of them wins, and learns the whole head, so that a
        file which merely begins like it is told apart from then on. A head that may still grow
        (not `complete`) and is itself the beginning of a longer known head is that file (a copy
        of its first lines), unless its next lines tell otherwise (see `matches`). A file never seen
        before is recorded at once, before any of its lines is merged, so that after a crash the DO
        files' `absorbed` marks still name it. Its id is its head's keyed hash, so that when the
        catalog is lost and rebuilt (`rings check --repair`), a file whose head was whole when first
        read gets the same id again and each DO file still skips what it holds; `new_id` (random)
        only when that id is taken. Ids in `exclude` are known not to be it; those in `avoid` are
        taken only when nothing else fits. Without `create`, None for a file never seen.
        """
        head_len, head_hash = prefixes[-1]
        wanted = [h for _, h in prefixes] + [legacy]
        rows = self.con.execute(
            f"""SELECT fingerprint, head_len, head_hash, offset, line FROM checkpoints
                WHERE head_hash IN ({", ".join("?" for _ in wanted)})""",
            wanted,
        ).fetchall()
        known = set(prefixes)
        matches = [
            r
            for r in rows
            if ((r[1], r[2]) in known or (r[1] == 0 and r[2] == legacy)) and r[0] not in exclude
        ]
        if not matches and not complete:
            rows = self.con.execute(
                """SELECT c.fingerprint, c.head_len, c.head_hash, c.offset, c.line
                   FROM head_prefixes AS p JOIN checkpoints AS c USING (fingerprint)
                   WHERE p.head_hash = ? AND p.head_len = ? AND c.head_len > ?""",
                (head_hash, head_len, head_len),
            ).fetchall()
            matches = [r for r in rows if r[0] not in exclude]
        matches = [r for r in matches if r[0] not in avoid] or matches
        if not matches:
            if not create:
                return None
            source = "h:" + head_hash
            taken = self.con.execute("SELECT 1 FROM checkpoints WHERE fingerprint = ?", (source,)).fetchone()
            if taken or source in exclude or source in avoid:
                source = new_id
            with self.con:
                self.con.execute("BEGIN")
                self.con.execute(
                    f"""INSERT INTO checkpoints
                        (fingerprint, head_len, head_hash, offset, line, name, updated, epoch)
                        VALUES (?, ?, ?, 0, 0, ?, ?, {_EPOCH})""",
                    (source, head_len, head_hash, name, at),
                )
                self._learn_prefixes(source, prefixes)
            return source, 0, 0, True
        source, _, _, offset, line = max(matches, key=lambda r: (r[1], r[3]))
        self.grow_head(source, prefixes)  # longer, or (a copy of its beginning) its prefixes only
        return source, offset, line, False

    def matches(self, source: str, prefixes: tuple[tuple[int, str], ...], complete: bool) -> bool:
        """Whether a file known as `source`, whose head has grown to these prefixes, is still that
        file: its known head is one of them (the head is learnt, if longer), or, while the head
        may still grow, the head is the beginning of the known one. False: another file, that
        only began like it."""
        row = self.con.execute(
            "SELECT head_len, head_hash FROM checkpoints WHERE fingerprint = ?", (source,)
        ).fetchone()
        if row is None:
            return False
        if row[0] == 0 or tuple(row) in set(prefixes):  # 0: an id of an earlier release (first line)
            self.grow_head(source, prefixes)
            return True
        if complete:
            return False
        head_len, head_hash = prefixes[-1]
        return (
            self.con.execute(
                "SELECT 1 FROM head_prefixes WHERE fingerprint = ? AND head_len = ? AND head_hash = ?",
                (source, head_len, head_hash),
            ).fetchone()
            is not None
        )

    def grow_head(self, source: str, prefixes: tuple[tuple[int, str], ...]) -> None:
        """The file grew since its head was taken: know it by the longer head from now on (and by
        each of its prefixes)."""
        head_len, head_hash = prefixes[-1]
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute(
                "UPDATE checkpoints SET head_len = ?, head_hash = ? WHERE fingerprint = ? AND head_len < ?",
                (head_len, head_hash, source, head_len),
            )
            self._learn_prefixes(source, prefixes)

    def _learn_prefixes(self, source: str, prefixes: tuple[tuple[int, str], ...]) -> None:
        self.con.executemany(
            "INSERT OR IGNORE INTO head_prefixes (fingerprint, head_len, head_hash) VALUES (?, ?, ?)",
            [(source, n, h) for n, h in prefixes],
        )

    def note_direct(self, sources: Iterable[str]) -> None:
        """These files' lines are about to go straight to the warehouse (noted before it commits)."""
        self.con.executemany(
            "INSERT OR IGNORE INTO direct_sources (fingerprint) VALUES (?)", [(s,) for s in sources]
        )

    def direct_sources(self) -> list[tuple[str, str]]:
        """(source id, file name) of every file whose lines went straight to the warehouse."""
        return self.con.execute(
            """SELECT d.fingerprint, coalesce(c.name, '') FROM direct_sources AS d
               LEFT JOIN checkpoints AS c USING (fingerprint) ORDER BY 2"""
        ).fetchall()

    def file_tenant(self, source: str) -> str | None:
        """The tenant a file was first read with (`[files]`, `--tenant-from-path`): kept when
        rotation renames it."""
        row = self.con.execute("SELECT tenant FROM checkpoints WHERE fingerprint = ?", (source,)).fetchone()
        return row[0] if row else None

    def set_file_tenant(self, source: str, tenant: str) -> None:
        self.con.execute("UPDATE checkpoints SET tenant = ? WHERE fingerprint = ?", (tenant, source))

    def save_checkpoint(
        self,
        fingerprint: str,
        offset: int,
        line: int,
        name: str,
        at: str,
        where: tuple[int, int, str] | None = None,
    ) -> None:
        """Record a position of a resolved source; never moves one backwards (a rotated copy may
        lag its original). `where`: the device, inode and absolute path of the file read."""
        dev, ino, path = where if where is not None else (None, None, None)
        self.con.execute(
            f"""UPDATE checkpoints SET offset = max(offset, ?), line = max(line, ?), name = ?,
                   updated = ?, epoch = {_EPOCH},
                   dev = coalesce(?, dev), ino = coalesce(?, ino), path = coalesce(?, path)
               WHERE fingerprint = ?""",
            (offset, line, name, at, dev, ino, path, fingerprint),
        )

    def add_counts(self, source: str, counts: dict[str, int], at: float) -> None:
        """Add one committed block's numbers to the cumulative counters, in one transaction."""
        source = source[:MAX_SOURCE_NAME]
        with self.con:
            self.con.execute("BEGIN")
            self.con.executemany(
                """INSERT INTO counters VALUES (?, ?, ?)
                   ON CONFLICT (source, name) DO UPDATE SET value = value + excluded.value""",
                [(source, name, n) for name, n in counts.items() if n],
            )
            self.con.execute(
                """INSERT INTO source_commits VALUES (?, ?)
                   ON CONFLICT (source) DO UPDATE SET at = excluded.at""",
                (source, at),
            )

    def note_flush(self, at: float, seconds: float) -> None:
        """When the last flush that wrote something ended, and how long it took."""
        with self.con:
            self.con.execute("BEGIN")
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('last_flush_at', ?)", (repr(at),))
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('last_flush_seconds', ?)", (repr(seconds),))

    # --- what `rings check --repair` needs of the checkpoints --------------------------------------

    def known_files(self) -> list[KnownFile]:
        """Every keyed file checkpoint (none while they are an earlier release's, unkeyed)."""
        if self.legacy_checkpoints():
            return []
        rows = self.con.execute(
            """SELECT fingerprint, head_len, head_hash, offset, line, name, dev, ino, path, epoch
               FROM checkpoints ORDER BY name, fingerprint"""
        ).fetchall()
        return [KnownFile(*row) for row in rows]

    def rekey(self, source: str, head_hash: str) -> None:
        """A file found again under a new secret: its head's hash under that secret."""
        self.con.execute("UPDATE checkpoints SET head_hash = ? WHERE fingerprint = ?", (head_hash, source))

    def roll_back(self, source: str, line: int) -> None:
        """Read the file again from line `line` (0: its start): its offset is then unknown
        (UNKNOWN_OFFSET) and found by counting lines, unless it is the start."""
        offset = 0 if line == 0 else UNKNOWN_OFFSET
        self.con.execute(
            "UPDATE checkpoints SET offset = ?, line = ? WHERE fingerprint = ? AND line > ?",
            (offset, line, source, line),
        )

    def secret_check(self) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = 'secret_check'").fetchone()
        return str(row[0]) if row else None

    def set_secret_check(self, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('secret_check', ?)", (value,))

    def knows_files(self) -> bool:
        """Whether files were read under a state secret: a record of it, or keyed checkpoints."""
        if self.secret_check() is not None:
            return True
        if self.legacy_checkpoints():
            return False
        return self.con.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None

    def close(self) -> None:
        self.con.close()


def identity_secret(state: StateDir, catalog: Catalog) -> bytes:
    """The state secret that keys the file checkpoints; made when no file was ever read. Missing,
    damaged, or not the one the checkpoints were made with, it is damage (DamagedStateError): an
    ingest then stops before it reads anything, since every file read before would count twice.
    `rings check --repair` makes a new one and finds the files it can again (ops/check.py)."""
    path = state.root / SECRET_FILE
    key = read_secret(state)
    recorded = catalog.secret_check()
    if key is None:
        if catalog.knows_files():
            raise DamagedStateError(path, f"state secret missing: {SECRET_LOST}")
        key = new_secret(state)
    if recorded is None:  # a new state dir, or one of an earlier release: this secret is the one
        catalog.set_secret_check(secret_check(key))
    elif recorded != secret_check(key):
        raise DamagedStateError(
            path, f"state secret is not the one the file checkpoints were made with: {SECRET_LOST}"
        )
    return key


@dataclass
class Committed:
    """What the catalog says every ingest committed (for /metrics): see `_COUNTERS`."""

    counters: list[tuple[str, str, int]]  # (source, name, value)
    last_commit: dict[str, float]  # source -> when (Unix time)
    open_tenant_days: int = 0
    last_flush_at: float | None = None
    last_flush_seconds: float | None = None


def read_committed(path: Path) -> Committed:
    """The cumulative counters, read-only (nothing when there is no catalog, or one made before
    them); a catalog that cannot be read raises sqlite3.DatabaseError."""
    import sqlite3

    if not path.exists():
        return Committed([], {})
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=5.0)
    try:
        con.execute("PRAGMA query_only = ON")
        con.execute("BEGIN")
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "counters" not in have:
            return Committed([], {})
        counters = [(str(a), str(b), int(c)) for a, b, c in con.execute("SELECT * FROM counters")]
        last = {str(a): float(b) for a, b in con.execute("SELECT source, at FROM source_commits")}
        (open_days,) = con.execute(
            """SELECT count(*) FROM days AS d WHERE NOT EXISTS
                 (SELECT 1 FROM finalized_days AS f WHERE f.tenant = d.tenant AND f.date = d.date)"""
        ).fetchone()
        meta = dict(con.execute("SELECT key, value FROM meta WHERE key LIKE 'last_flush_%'").fetchall())
        con.execute("COMMIT")
    finally:
        con.close()
    at, took = meta.get("last_flush_at"), meta.get("last_flush_seconds")
    return Committed(
        counters,
        last,
        int(open_days),
        float(at) if at is not None else None,
        float(took) if took is not None else None,
    )
