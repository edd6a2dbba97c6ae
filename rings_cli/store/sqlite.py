"""SQLite at the storage boundary: errors become what the user can act on.

A file that is not (or no longer) a usable database of ours becomes `DamagedStateError` naming it;
a full disk becomes `DiskFullError` naming the state dir, the open-file limit `OutOfFilesError`.
Anything else (locked, cannot open, I/O error) is not damage to the file and passes unchanged.
DoFile and Catalog connect through here, so every statement, fetch and commit is covered without a
try in each method.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rings_cli.core.errors import (
    DamagedStateError,
    DiskFullError,
    OutOfFilesError,
    RingsError,
    is_disk_full,
    is_out_of_files,
    out_of_space,
)
from rings_cli.core.state import process_umask

_DAMAGE_CODES = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_SCHEMA_TEXT = ("no such table", "no such column", "has no column")


def sqlite_failure(error: sqlite3.Error, path: Path, state_dir: Path) -> RingsError | None:
    """The RingsError a SQLite error means for `path`, or None when it is not about the file.
    An I/O error, or a file that cannot be opened, on a filesystem with no room left is a full
    disk (SQLite says so when it cannot make a file's -shm or -wal), never damage."""
    if is_out_of_files(error):  # "unable to open database file" at the open-file limit
        return OutOfFilesError()
    name = getattr(error, "sqlite_errorname", "") or ""
    text = str(error)
    if is_disk_full(error) or (_io_trouble(name, text) and out_of_space(path.parent)):
        return DiskFullError(state_dir)
    if name.startswith(_DAMAGE_CODES) or (not name and type(error) is sqlite3.DatabaseError):
        return DamagedStateError(path, f"not a usable SQLite database ({text})")
    if any(s in text for s in _SCHEMA_TEXT):
        return DamagedStateError(path, f"does not have Rings' tables ({text})")
    return None


def _io_trouble(name: str, text: str) -> bool:
    return name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")) or text in (
        "disk I/O error",
        "unable to open database file",
    )


def failure_or_damage(error: sqlite3.Error, path: Path, state_dir: Path, what: str) -> RingsError:
    """For code that reads a file with a plain connection: a full disk as such, anything else
    as damage to the file (`what` says how: "not a usable pack")."""
    failure = sqlite_failure(error, path, state_dir)
    if isinstance(failure, DiskFullError):
        return failure
    return DamagedStateError(path, f"{what} ({error})")


@contextmanager
def translating(path: Path, state_dir: Path) -> Iterator[None]:
    """Run a block, turning SQLite errors about `path` into RingsErrors."""
    try:
        yield
    except sqlite3.Error as e:
        failure = sqlite_failure(e, path, state_dir)
        if failure is None:
            raise
        raise failure from e


class _Cursor(sqlite3.Cursor):
    """A cursor whose every step is translated: corruption often shows only while fetching.
    (try/except inline, not `translating`: a context manager per statement cost more CPU than
    many of the statements.)"""

    connection: _Connection

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as e:
            if (failure := self.connection.failure(e)) is None:
                raise
            raise failure from e

    def executemany(self, sql: str, seq: Any, /) -> _Cursor:
        try:
            return super().executemany(sql, seq)
        except sqlite3.Error as e:
            if (failure := self.connection.failure(e)) is None:
                raise
            raise failure from e

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as e:
            if (failure := self.connection.failure(e)) is None:
                raise
            raise failure from e

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as e:
            if (failure := self.connection.failure(e)) is None:
                raise
            raise failure from e

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as e:
            if (failure := self.connection.failure(e)) is None:
                raise
            raise failure from e


class _Connection(sqlite3.Connection):
    rings_path: Path
    rings_state_dir: Path

    def translating(self) -> Any:
        return translating(self.rings_path, self.rings_state_dir)

    def failure(self, error: sqlite3.Error) -> RingsError | None:
        """The RingsError a SQLite error on this connection means (None: raise it as it is)."""
        return sqlite_failure(error, self.rings_path, self.rings_state_dir)

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, seq: Any, /) -> _Cursor:
        return self.cursor(_Cursor).executemany(sql, seq)

    def __exit__(self, *exc: Any) -> Any:
        with self.translating():
            return super().__exit__(*exc)


def connect(path: Path, state_dir: Path, create: bool = True) -> sqlite3.Connection:
    """Open a SQLite file of the state dir; with `create=False` a missing file is never created."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode={'rwc' if create else 'rw'}"
    with translating(path, state_dir):
        con = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, factory=_Connection
        )
    con.rings_path = path
    con.rings_state_dir = state_dir
    return con


def wal_image(template: bytes, fill: Callable[[sqlite3.Connection], object]) -> bytes:
    """A new database file's bytes: `template` loaded in memory, changed by `fill`, serialized in
    WAL mode (header bytes 18 and 19 are 2, what `journal_mode = WAL` writes), so that it is
    written and synced once, with no connection to the file (DO files and packs)."""
    con = sqlite3.connect(":memory:", isolation_level=None)
    try:
        con.deserialize(template)
        fill(con)
        data = bytearray(con.serialize())
    finally:
        con.close()
    data[18:20] = b"\x02\x02"
    return bytes(data)


def create_atomically(path: Path, data: bytes, sync: bool = True) -> None:
    """Make a new file whole under a temporary name, synced, then link it into place.

    A reader globbing the folder (`rings report`, `rings live`, a test) then never sees a file
    without its tables. The file has the state dir's mode (0600, or 0640 when group-readable) from
    its first byte. If another creator links first, its file wins (os.link never replaces) and ours
    is dropped. Written, then synced once (`sync`); a DO file is not synced here: the ingest syncs
    the file system once per batch, before it checkpoints the batch's lines (`sync_filesystem`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".creating", dir=path.parent)
    tmp = Path(name)
    try:
        os.fchmod(fd, 0o666 & ~process_umask())
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # a racing creator won: the caller opens its file
        except OSError as e:  # a filesystem without hard links (FAT, some network mounts)
            if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP) or path.exists():
                raise
            os.rename(tmp, path)  # writers hold the ingest lock, so no creator races this one
    finally:
        if fd >= 0:
            os.close(fd)
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def table_names(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def sync_filesystem(path: Path) -> None:
    """Everything written to the file system of `path` (the state dir) on disk, in one call
    (Linux syncfs; elsewhere a global sync): what a batch wrote to its DO files, salts and folders
    is durable before the checkpoint that says its lines were read."""
    libc = _libc()
    if libc is not None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    os.sync()


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def fsync_dir(path: Path) -> None:
    """Sync a folder, so names just made, renamed or unlinked in it survive a power loss
    (best effort: a folder that cannot be opened is left alone)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
