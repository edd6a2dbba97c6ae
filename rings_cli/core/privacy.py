"""Privacy: secret tenant-day salts, the state dir's secret, and the keyed visitor hash.

visitor hash = HMAC-SHA256(tenant-day salt, tenant \\n ip \\n user agent), first 60 bits as an integer.
The salt is 32 random bytes per tenant-day (`salts/<tenant>/<date>.key`, 0600 in 0700 folders),
deleted when that tenant-day is finalized; after that no hash of it can be recomputed or
brute-forced back to an IP. Finalizing one site's day leaves another's open.
HMAC runs over the distinct (day, tenant, ip, ua) rows of a batch, one OpenSSL call per row from C
(`map`, no Python code per visitor), so raw IPs and user agents only ever live in memory. It used to
run in an in-memory DuckDB: that connection alone kept about 45 MiB resident through every ingest.

The state dir's secret (`secret.key`, 32 random bytes, 0600) keys the fingerprints of input files
(see tail.py): their first lines hold client addresses, and an unkeyed hash of a line whose other
parts are known gives its address back by brute force.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import os
import secrets
from pathlib import Path
from typing import Protocol

import polars as pl

from rings_cli.core.errors import DamagedStateError, RingsError
from rings_cli.core.state import StateDir

SALT_BYTES = 32
SECRET_FILE = "secret.key"  # in the state dir


class Salts(Protocol):
    """Where the salt of a tenant-day comes from (`hash_visitors` asks for one per tenant-day)."""

    def get(self, tenant: str, date: str) -> bytes: ...


class MemorySalts:
    """Salts that live only in memory: for tenant-days written straight to the warehouse as
    finalized (days/direct.py), so no salt file exists to destroy afterwards."""

    def __init__(self) -> None:
        self._salts: dict[tuple[str, str], bytes] = {}

    def get(self, tenant: str, date: str) -> bytes:
        return self._salts.setdefault((tenant, date), secrets.token_bytes(SALT_BYTES))

    def forget(self, tenant: str, date: str) -> None:
        """The tenant-day's final rows are written: its hashes can never be recomputed."""
        self._salts.pop((tenant, date), None)

    def has(self, tenant: str, date: str) -> bool:
        return (tenant, date) in self._salts

    def pop(self, tenant: str, date: str) -> bytes:
        """The tenant-day's salt, let go here (it goes on in a file: SaltStore.adopt)."""
        return self._salts.pop((tenant, date))


class SaltStore:
    """Get-or-create the secret salt of a tenant-day; destroy it when the tenant-day is final."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self._cache: dict[tuple[str, str], bytes] = {}

    def get(self, tenant: str, date: str) -> bytes:
        key = (tenant, date)
        if key not in self._cache:
            path = self.state.salt_path(tenant, date)
            _private_dir(path.parent)
            self._cache[key] = load_or_create_key(path)
        return self._cache[key]

    def adopt(self, tenant: str, date: str, salt: bytes) -> None:
        """Keep a salt made in memory (MemorySalts) as this tenant-day's, in its file: the hashes
        made with it go on into a DO file (a day held in memory, spilled)."""
        path = self.state.salt_path(tenant, date)
        _private_dir(path.parent)
        if _link_new(path, salt) is None and _read_salt(path) != salt:
            raise RingsError(f"salt file {path} appeared while its tenant-day was held in memory")
        self._cache[(tenant, date)] = salt

    def exists(self, tenant: str, date: str) -> bool:
        return self.state.salt_path(tenant, date).exists()

    def problem(self, tenant: str, date: str, hashed: bool) -> DamagedStateError | None:
        """Why the salt of an open tenant-day cannot be used, when it cannot: damaged, or missing
        while its DO file holds visitor hashes made with it (`hashed`); a new salt would then
        count every visitor seen before as new. None when it is fine (or may be made)."""
        if (tenant, date) in self._cache:
            return None
        path = self.state.salt_path(tenant, date)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return DamagedStateError(path, f"{SALT_MISSING}; its lines are set aside") if hashed else None
        if size != SALT_BYTES:
            return DamagedStateError(path, f"{damaged_salt(size)}; its lines are set aside")
        return None

    def destroy(self, tenant: str, date: str) -> None:
        """Overwrite, then unlink: the salt is the only key to that tenant-day's hashes."""
        self._cache.pop((tenant, date), None)
        path = self.state.salt_path(tenant, date)
        destroy_key(path)
        with contextlib.suppress(OSError):
            path.parent.rmdir()  # the tenant's last open day: no empty folder naming it stays


def destroy_key(path: Path) -> None:
    """Overwrite a key file with zeros, sync, then unlink it (a salt of either layout)."""
    if path.exists():
        with open(path, "r+b") as f:
            f.write(b"\0" * max(SALT_BYTES, os.fstat(f.fileno()).st_size))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()


def copy_key(source: Path, target: Path) -> None:
    """Copy a salt to a new place, atomically; a target that exists already is kept (a copy made
    by an interrupted run, byte for byte the same)."""
    _private_dir(target.parent)
    if not target.exists():
        _link_new(target, _read_salt(source))


def _private_dir(path: Path) -> None:
    """A folder under salts/: owner-only whatever the umask."""
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)


SECRET_LOST = "files read before can no longer be recognised (read again, they would count twice)"


def read_secret(state: StateDir) -> bytes | None:
    """The state dir's secret, which keys file fingerprints; None when there is none. One of the
    wrong length is damage: without it no file read before can be recognised."""
    path = state.root / SECRET_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(key) != SALT_BYTES:
        raise DamagedStateError(
            path, f"damaged state secret ({len(key)} bytes, not {SALT_BYTES}): {SECRET_LOST}"
        )
    return key


def new_secret(state: StateDir) -> bytes:
    """Make the state dir's secret (the one already there, if another process made it first)."""
    state.ensure()
    return load_or_create_key(state.root / SECRET_FILE)


def secret_check(key: bytes) -> str:
    """What the catalog keeps to know the secret again: a keyed hash of a constant, which tells
    this secret from any other and gives nothing of it away."""
    return keyed_hash(key, b"rings state secret\0")


def keyed_hash(key: bytes, data: bytes) -> str:
    """HMAC-SHA256, hex: what may be stored in place of a hash of log bytes."""
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def load_or_create_key(path: Path, check: bool = True) -> bytes:
    """Read a 32-byte key (a day salt, the state secret), or create it atomically: written to a
    temporary name, then linked into place, so a crash can never leave a short key and two
    processes agree on one."""
    read = _read_salt if check else Path.read_bytes
    if path.exists():
        return read(path)
    key = _link_new(path, secrets.token_bytes(SALT_BYTES))
    return key if key is not None else read(path)


def private_temp(path: Path, data: bytes) -> Path:
    """`data` written and synced to a new owner-only (0600) file beside `path`, under a temporary
    name: the caller links or renames it into place, so no reader ever sees half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


def _link_new(path: Path, key: bytes) -> bytes | None:
    """Write `key` to a temporary name, then link it to `path`; None when `path` exists already
    (another process won the race: its key is the one)."""
    tmp = private_temp(path, key)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return None
    finally:
        tmp.unlink()
    return key


SALT_MISSING = (
    "salt of an open tenant-day missing: the visitors its DO file holds cannot be told from new ones "
    "(uniques would count twice)"
)


def damaged_salt(size: int) -> str:
    return f"damaged salt ({size} bytes, not {SALT_BYTES}): its tenant-day's visitors cannot be hashed"


def _read_salt(path: Path) -> bytes:
    salt = path.read_bytes()
    if len(salt) != SALT_BYTES:
        raise DamagedStateError(path, damaged_salt(len(salt)))
    return salt


class _HmacDigest(Protocol):
    def __call__(self, key: bytes, msg: bytes, digest: str) -> bytes: ...


_hmac_digest: _HmacDigest  # either of two functions whose stubs type their key differently
try:  # OpenSSL's one-shot HMAC, called from C by map(): the same bytes as hmac.digest, faster
    from _hashlib import hmac_digest as _hmac_digest
except ImportError:  # a Python built without OpenSSL's HMAC
    _hmac_digest = hmac.digest


def hash_visitors(visitors: pl.DataFrame, salts: Salts) -> pl.DataFrame:
    """Replace `ip` and `ua` of each row with `visitor`, the keyed hash of its tenant-day.

    `visitors` must have columns date, tenant, ip, ua (one row per distinct visitor is the
    point: callers aggregate first, so each pair is hashed once). The visitor is the first 60 bits
    of HMAC-SHA256(salt, tenant \\n ip \\n ua), a missing user agent counting as empty.
    """
    if visitors.is_empty():
        return visitors.drop("ip", "ua").with_columns(visitor=pl.lit(0, pl.Int64)).clear()
    message = pl.concat_str(
        "tenant", pl.col("ip").fill_null(""), pl.col("ua").fill_null(""), separator="\n"
    ).cast(pl.Binary)
    # Each row's salt, looked up once per tenant-day, then one C call per row over the columns:
    # no Python per row, nor per tenant-day beyond the look-up (an archive has thousands).
    days = visitors.select("date", "tenant").unique()
    keys = [salts.get(str(t), str(d)) for d, t in days.iter_rows()]
    salted = days.with_columns(_salt=pl.Series(keys, dtype=pl.Binary))
    keyed = visitors.join(salted, on=["date", "tenant"], maintain_order="left")  # rows as given
    messages = keyed.select(message).to_series().to_list()
    digests = map(_hmac_digest, keyed.get_column("_salt").to_list(), messages, itertools.repeat("sha256"))
    return (
        keyed.with_columns(visitor=pl.Series(list(digests), dtype=pl.Binary))
        .with_columns(pl.col("visitor").bin.encode("hex").str.slice(0, 15).str.to_integer(base=16))
        .drop("_salt", "ip", "ua")
    )
