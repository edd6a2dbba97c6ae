"""The state dir: where every persistent byte lives, and the names of the files inside it.

Layout (see README):
    do/<tenant>/<YYYY-MM-DD>.sqlite   one DO file per tenant-day
    do/<tenant>/<YYYY-MM>.pack.sqlite finalized tenant-days of a tenant and month (pack.py)
    salts/<tenant>/<YYYY-MM-DD>.key   the secret salt of each tenant-day (0600, directories 0700)
    catalog.sqlite                    which tenant-days exist, are dirty, are finalized
    warehouse.duckdb                  history, for reports
    ingest.lock                       held by the one running ingest
    tokens.json, tokens.key           `rings serve`'s site tokens, as keyed digests (0600)
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rings_cli.core.errors import RingsError, StateLockedError, UsageError

TENANT_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
# The one entry that may be a symbolic link: the operator's own config (config.CONFIG_NAME), which
# Rings only reads. Anything else linked could take a write or a delete out of the state dir.
_LINK_ALLOWED = ("rings.toml",)
# Writers hold BACKUP_LOCK shared; `rings backup` holds it exclusive while it copies, and holds
# BACKUP_WANTED exclusive from before it asks, which tells an ingest to let go (yield_to_backup).
BACKUP_LOCK = "backup.lock"
BACKUP_WANTED = "backup.wanted"
_TENANT_RE = re.compile(TENANT_PATTERN)
PRIVATE = ("tokens.json", "tokens-used.json")  # owner-only even in a group-readable state dir
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def process_umask() -> int:
    """The umask, read without changing it (threads may be creating files meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o077


def default_state_dir() -> Path:
    """`$RINGS_STATE_DIR`, else `$XDG_DATA_HOME/rings`, else `~/.local/share/rings` (contract)."""
    if env := os.environ.get("RINGS_STATE_DIR"):
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "rings"


def check_tenant(name: str) -> str:
    """Return `name` if it is a valid tenant name, else raise: names become directory names."""
    if not _TENANT_RE.match(name):
        raise UsageError(f"invalid tenant name {name!r}: must match [a-z0-9][a-z0-9._-]{{0,62}}")
    return name


@dataclass(frozen=True)
class WarehouseSetting:
    """Where the history is (rings.toml `[warehouse]`): the local DuckDB file of the state dir, or a
    shared PostgreSQL database (`dsn`, libpq's connection string)."""

    kind: str = "duckdb"
    dsn: str = ""
    shard: str = ""  # this host's shard ("2/4"), to name it in the shared warehouse


class StateDir:
    """Paths inside one state dir; creating it on first use with owner-only permissions.

    Everything in a state dir is private: counts per page and per hour of a site, and (until a day
    is finalized) keyed visitor hashes. So the tree is 0700/0600. With `group_readable` (rings.toml
    `group_readable = true`, for a reporting group that runs `rings report`) it is 0750/0640, and
    never wider; salts, the secret key and `--rejects` files stay owner-only in both cases.
    """

    def __init__(self, root: Path | str | None = None, group_readable: bool = False) -> None:
        self.root = Path(root) if root is not None else default_state_dir()
        self.group_readable = group_readable
        self._backup_fds: tuple[int, int] | None = None  # held by a writer: lock, wanted
        # The warehouse this state dir flushes to and reads (None: rings.toml's `[warehouse]`, read
        # when first needed; a command given `--config PATH` sets it from that file).
        self.warehouse: WarehouseSetting | None = None

    @property
    def dir_mode(self) -> int:
        return 0o750 if self.group_readable else 0o700

    @property
    def file_mode(self) -> int:
        return 0o640 if self.group_readable else 0o600

    def check_dir(self) -> None:
        """A path that exists but is not a directory is a usage error, not `[Errno 17]`."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"state dir {self.root} is not a directory")

    def require(self) -> StateDir:
        """For commands that read: a state dir that does not exist holds no data to report."""
        self.check_dir()
        if not self.root.exists():
            raise RingsError(
                f"no state dir at {self.root}: nothing has been ingested there "
                "(run `rings ingest`, or pass --state-dir / set RINGS_STATE_DIR)"
            )
        return self

    def ensure(self) -> StateDir:
        """Create the dir tree with owner-only modes, and tighten those an older version left.

        The process umask is set too, so files SQLite and DuckDB create on their own (WAL,
        shared memory, temporary files) get the same modes as ours.
        """
        self.check_dir()
        os.umask(0o777 & ~self.dir_mode)
        self.root.mkdir(mode=self.dir_mode, parents=True, exist_ok=True)
        (self.root / "do").mkdir(mode=self.dir_mode, exist_ok=True)
        self.salts_dir.mkdir(mode=0o700, exist_ok=True)
        if not self.salts_dir.is_symlink():  # a link is refused by the lock (refuse_links), not followed
            os.chmod(self.salts_dir, 0o700)
        if stat.S_IMODE(self.root.stat().st_mode) != self.dir_mode:
            self._set_modes()  # new, made by an earlier version, or group_readable switched
        return self

    def _set_modes(self) -> None:
        """Give the whole tree this state dir's modes; salts and secrets stay owner-only."""
        os.chmod(self.root, self.dir_mode)
        for path in self.root.rglob("*"):
            if path.is_symlink() or path.is_relative_to(self.salts_dir):
                continue
            if path.is_dir():
                os.chmod(path, self.dir_mode)
            elif path.suffix in (".key", ".lock") or path.name in ("ingest.lock", BACKUP_WANTED, *PRIVATE):
                os.chmod(path, 0o600)
            else:
                os.chmod(path, self.file_mode)

    @property
    def salts_dir(self) -> Path:
        return self.root / "salts"

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    def do_path(self, tenant: str, date: str) -> Path:
        """The DO file of one tenant-day; both parts are validated so no path is built from raw input."""
        check_tenant(tenant)
        if not _DATE_RE.match(date):
            raise ValueError(f"bad date {date!r}")
        return self.root / "do" / tenant / f"{date}.sqlite"

    def salt_path(self, tenant: str, date: str) -> Path:
        """The salt of one tenant-day; both parts are validated so no path is built from raw input."""
        check_tenant(tenant)
        if not _DATE_RE.match(date):
            raise ValueError(f"bad date {date!r}")
        return self.salts_dir / tenant / f"{date}.key"

    def legacy_salt_path(self, date: str) -> Path:
        """Where releases before per-tenant-day salts kept a whole date's salt (see lifecycle.py)."""
        if not _DATE_RE.match(date):
            raise ValueError(f"bad date {date!r}")
        return self.salts_dir / f"{date}.key"

    def links(self) -> list[Path]:
        """Symbolic links inside the state dir (not its root, which may be one), never followed:
        an erase through a linked `do/<tenant>` would delete the files of the link's target."""
        found: list[Path] = []
        folders = [self.root]
        while folders:
            try:
                entries = list(os.scandir(folders.pop()))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.is_symlink():
                    if not (entry.name in _LINK_ALLOWED and Path(entry.path).parent == self.root):
                        found.append(Path(entry.path))
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
        return sorted(found)

    def refuse_links(self) -> None:
        """Stop, in one line, before anything could follow a link out of the state dir."""
        found = self.links()
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            raise RingsError(link_problem(found[0]) + more)

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the single-writer lock for the duration of an ingest; a second ingest fails fast.
        Every command that writes takes it, so none starts while the state dir holds a link."""
        self.ensure()
        fd = os.open(self.root / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateLockedError(
                    f"another `rings ingest` is running on {self.root} (ingest.lock is held)"
                ) from None
            self.refuse_links()
            with self._writing():
                yield
        finally:
            os.close(fd)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A writer holds backup.lock shared: it waits while a backup copies, and a backup waits
        for it to yield between two steps (`yield_to_backup`) or to end."""
        lock = os.open(self.root / BACKUP_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        wanted = os.open(self.root / BACKUP_WANTED, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_SH)
            self._backup_fds = (lock, wanted)
            yield
        finally:
            self._backup_fds = None
            os.close(wanted)
            os.close(lock)

    def yield_to_backup(self) -> None:
        """Between two steps of a writer (each leaves the state dir whole): if a backup is waiting,
        let it copy, and go on when it is done. One non-blocking lock call when none is."""
        if self._backup_fds is None:
            return
        lock, wanted = self._backup_fds
        try:
            fcntl.flock(wanted, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(wanted, fcntl.LOCK_SH)  # returns when the backup is done (or died)
            fcntl.flock(wanted, fcntl.LOCK_UN)
            fcntl.flock(lock, fcntl.LOCK_SH)
        else:
            fcntl.flock(wanted, fcntl.LOCK_UN)

    @contextmanager
    def backup_lock(self) -> Iterator[None]:
        """For `rings backup`: no writer changes anything while it is held (see `_writing`)."""
        wanted = os.open(self.root / BACKUP_WANTED, os.O_RDWR | os.O_CREAT, 0o600)
        lock = os.open(self.root / BACKUP_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(wanted, fcntl.LOCK_EX)  # one backup at a time; writers see it waiting
            fcntl.flock(lock, fcntl.LOCK_EX)  # each writer lets go at its next step
            yield
        finally:
            os.close(lock)
            os.close(wanted)


def link_problem(path: Path) -> str:
    """What a symbolic link in the state dir is, in one line."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    return (
        f"{path} is a symbolic link (to {target}): Rings never follows a link in its state dir; "
        "move what it points to into the state dir, or remove the link"
    )
