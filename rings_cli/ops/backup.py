"""`rings backup DEST` and `rings restore SRC`: a consistent copy of a state dir, and putting it back.

The warehouse is becoming the only copy of history (days that went straight to it have no DO
file), so it needs a copy that can be made while an ingest runs, even `--follow`:

- Every command that writes a state dir holds `backup.lock` shared (StateDir.ingest_lock), and an
  ingest lets go of it between two steps (a batch merged and checkpointed, a flush, a
  finalization pass) when a backup is waiting (StateDir.yield_to_backup). The backup takes it
  exclusive, so what it copies is the state dir at one moment between two steps: DO files, packs,
  catalog and warehouse agree, and every checkpoint names lines that the copy holds. The ingest
  waits meanwhile (follow mode catches up after); readers are never stopped.
- SQLite files (catalog, DO files, packs) are copied with SQLite's backup API: each copy is one
  consistent database, with what its WAL held, and needs no -wal file. The warehouse is copied
  byte for byte under its flush gate. Salts and the secret keep their modes (0600, in 0700
  folders); everything is owner-only (or group-readable, as the state dir is).
- What is not Rings' own state is not copied: locks, side files, files a stopped process left,
  stray files (they are counted). Files a repair set aside (`.damaged-*`) are, byte for byte.

`BACKUP.json` at the top of the copy says what it is; `rings restore` requires it, and puts the
files back into a state dir that is empty or absent (or, told to, replaces what one holds, under
its ingest lock). A restored state dir continues where the copy was made: a file read before is
read on from its checkpoint, so reading the same logs again adds only what came after.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from rings_cli import __version__
from rings_cli.core.config import CONFIG_NAME
from rings_cli.core.errors import RingsError, UsageError
from rings_cli.core.privacy import SECRET_FILE, destroy_key
from rings_cli.core.state import TENANT_PATTERN, StateDir
from rings_cli.store import sqlite as storage
from rings_cli.warehouse.local import IN_PROCESS, READ_RETRY_SECONDS, gate

MANIFEST = "BACKUP.json"
_DATE = r"\d{4}-\d{2}-\d{2}"
_DAMAGED = re.compile(r"\.damaged-\d{8}T\d{6}Z(\.wal|-wal|-shm|-journal)?$")
_DO_FILE = re.compile(rf"^{_DATE}\.sqlite$|^\d{{4}}-\d{{2}}\.pack\.sqlite$")
_SALT = re.compile(rf"^{_DATE}\.key$")
_TENANT = re.compile(TENANT_PATTERN)


@dataclass
class Copied:
    """What a backup or a restore copied."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # not Rings' state: left out, named


def backup(state: StateDir, dest: Path, wait: float = READ_RETRY_SECONDS) -> Copied:
    """Copy the state dir to `dest` (absent, or an empty folder) at one moment (see the module)."""
    state.require()
    dest = dest.absolute()
    if dest == state.root.absolute() or dest.is_relative_to(state.root.absolute()):
        raise UsageError(f"{dest}: a backup cannot go inside the state dir it copies")
    _empty_target(dest, "backup")
    state.refuse_links()
    done = Copied()
    mode = _modes(state)
    with state.backup_lock():  # writers pause between two steps
        dest.mkdir(mode=mode.dir, parents=True, exist_ok=True)
        os.chmod(dest, mode.dir)
        for path, kind in _entries(state, done):
            target = dest / path.relative_to(state.root)
            _folders(dest, target.parent, mode.dir, kind == "key")
            if kind == "sqlite":
                _sqlite_copy(path, target, mode.file)
            elif kind == "warehouse":
                with IN_PROCESS, gate(path, wait):  # no flush (of `rings live PATH`, say) meanwhile
                    _byte_copy(path, target, mode.file)
                    wal = path.with_name(path.name + ".wal")
                    if wal.exists():
                        _byte_copy(wal, target.with_name(wal.name), mode.file)
            else:
                _byte_copy(path, target, 0o600 if kind == "key" else mode.file)
            done.files += 1
            done.bytes += target.stat().st_size
    manifest = {
        "rings": __version__,
        "made": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "state_dir": str(state.root.absolute()),
        "files": done.files,
        "bytes": done.bytes,
    }
    _write_new(dest / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode(), mode.file)
    storage.fsync_dir(dest)
    return done


def restore(source: Path, state: StateDir, replace: bool = False) -> Copied:
    """Put a backup back into the state dir: one that is empty or absent, or, with `replace`,
    one whose contents go first (under its ingest lock, so no command is using it)."""
    source = source.absolute()
    if not (source / MANIFEST).is_file():
        raise UsageError(f"{source}: not a Rings backup (no {MANIFEST}; make one with `rings backup`)")
    if state.root.absolute().is_relative_to(source):
        raise UsageError(f"{state.root}: the state dir cannot be inside the backup it is restored from")
    _refuse_links(source)
    state.check_dir()
    if not replace:
        _empty_target(state.root, "restore", "; pass --replace to replace what it holds")
    done = Copied()
    mode = _modes(state)
    state.ensure()
    with state.ingest_lock():
        if replace:
            _clear(state)
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_dir() or relative == Path(MANIFEST):
                continue
            target = state.root / relative
            key = relative.parts[0] == "salts" or relative == Path(SECRET_FILE)
            _folders(state.root, target.parent, mode.dir, key)
            _byte_copy(path, target, 0o600 if key else mode.file)
            done.files += 1
            done.bytes += target.stat().st_size
        storage.fsync_dir(state.root)
    return done


# --- what is copied ---------------------------------------------------------------------------


def _entries(state: StateDir, done: Copied) -> Iterator[tuple[Path, str]]:
    """(path, how to copy it) of each file of the state: sqlite, warehouse, key or plain."""
    root = state.root
    for path in sorted(root.iterdir()):
        name = path.name
        if name in ("do", "salts") and path.is_dir():
            continue
        if name == "catalog.sqlite":
            yield path, "sqlite"
        elif name == "warehouse.duckdb":
            yield path, "warehouse"
        elif name == SECRET_FILE:
            yield path, "key"
        elif name == CONFIG_NAME or (_DAMAGED.search(name) and path.is_file()):
            yield path, "plain"
        elif not _ours_not_state(name):
            done.skipped.append(str(path))
    for tenant in sorted(p for p in (root / "do").glob("*") if p.is_dir()):
        for path in sorted(tenant.iterdir()):
            if not _TENANT.match(tenant.name):
                done.skipped.append(str(path))
            elif _DO_FILE.match(path.name):
                yield path, "sqlite"
            elif _DAMAGED.search(path.name):
                yield path, "plain"
            elif not _ours_not_state(path.name):
                done.skipped.append(str(path))
    for path in sorted(state.salts_dir.rglob("*")) if state.salts_dir.is_dir() else []:
        if path.is_file() and _SALT.match(path.name):
            yield path, "key"
        elif path.is_file():
            done.skipped.append(str(path))


def _ours_not_state(name: str) -> bool:
    """Rings' own files that are not state: locks, the gate, SQLite side files, leftovers of a
    stopped process (check --repair removes those)."""
    return (
        name.endswith((".lock", ".gate", "-wal", "-shm", "-journal", ".creating", ".erasing", ".erasing.wal"))
        or name in ("backup.wanted", "warehouse.duckdb.wal")
        or name.startswith(".")
    )


# --- copying ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Modes:
    dir: int
    file: int


def _modes(state: StateDir) -> _Modes:
    """The state dir's modes (0700/0600; 0750/0640 with group_readable), from the config."""
    from rings_cli.core.config import load_config

    group = load_config(None, state).group_readable if state.root.exists() else False
    return _Modes(0o750, 0o640) if group else _Modes(0o700, 0o600)


def _folders(root: Path, folder: Path, mode: int, private: bool) -> None:
    """Make the folders from `root` down to `folder`; salts' are 0700 whatever the setting."""
    missing = []
    while folder != root and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(mode=0o700 if private else mode)
        os.chmod(each, 0o700 if private else mode)


def _sqlite_copy(path: Path, target: Path, mode: int) -> None:
    """One consistent copy of a SQLite database (what its WAL holds included), by SQLite's backup
    API, made under a temporary name and renamed into place."""
    tmp = target.with_name(target.name + ".copying")
    _write_new(tmp, b"", mode)
    try:
        source = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        with closing(source), closing(sqlite3.connect(tmp)) as copy:
            source.backup(copy)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except sqlite3.Error as e:
        raise storage.failure_or_damage(e, path, path.parent, "cannot be copied") from e
    finally:
        tmp.unlink(missing_ok=True)
        for side in ("-wal", "-shm", "-journal"):
            Path(f"{tmp}{side}").unlink(missing_ok=True)


def _byte_copy(path: Path, target: Path, mode: int) -> None:
    with open(path, "rb") as source:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb", closefd=False) as out:
                shutil.copyfileobj(source, out, 1 << 20)
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _empty_target(path: Path, what: str, hint: str = "") -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise UsageError(f"{path}: not a folder for a {what}")
    if path.is_dir() and any(path.iterdir()):
        raise UsageError(f"{path}: not empty; a {what} goes into an empty or new folder{hint}")


def _refuse_links(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_symlink():
            raise RingsError(f"{path}: a symbolic link in the backup; it is not followed")


def _clear(state: StateDir) -> None:
    """Remove what the state dir holds, its locks excepted (held now); keys are overwritten first."""
    keys = [state.root / SECRET_FILE, *(state.salts_dir.rglob("*.key") if state.salts_dir.is_dir() else [])]
    for key in keys:
        if key.is_file():
            destroy_key(key)
    for path in sorted(state.root.iterdir()):
        if path.name in ("ingest.lock", "backup.lock", "backup.wanted"):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    state.ensure()
