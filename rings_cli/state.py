"""The state dir: where every persistent byte lives, and the names of the files inside it.

Layout (see README):
    do/<tenant>/<YYYY-MM-DD>.sqlite   one DO file per tenant-day
    salts/<YYYY-MM-DD>.key            the secret day salts (0600, directory 0700)
    catalog.sqlite                    which tenant-days exist and which are dirty
    warehouse.duckdb                  history, for reports
    ingest.lock                       held by the one running ingest
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rings_cli.errors import StateLockedError, UsageError

TENANT_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_TENANT_RE = re.compile(TENANT_PATTERN)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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


class StateDir:
    """Paths inside one state dir; creating it on first use with owner-only permissions."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_state_dir()

    def ensure(self) -> StateDir:
        """Create the dir tree; the salts dir is 0700 because a salt un-anonymises its day."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "do").mkdir(exist_ok=True)
        self.salts_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.salts_dir, 0o700)
        return self

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

    def salt_path(self, date: str) -> Path:
        if not _DATE_RE.match(date):
            raise ValueError(f"bad date {date!r}")
        return self.salts_dir / f"{date}.key"

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the single-writer lock for the duration of an ingest; a second ingest fails fast."""
        self.ensure()
        fd = os.open(self.root / "ingest.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateLockedError(
                    f"another `rings ingest` is running on {self.root} (ingest.lock is held)"
                ) from None
            yield
        finally:
            os.close(fd)
