"""Per-site access tokens of `rings serve`: who may see which tenants, kept as keyed digests only.

`rings token add` makes a random token, prints it once, and stores only HMAC-SHA256(key, token)
with the key in `tokens.key` (random, 0600): a copy of `tokens.json` (label, tenants, dates,
digest) gives nobody a token, and without the key a digest cannot even be checked against a
guess. `rings serve` reads the file again whenever it changes (a `stat` per request), so a revoked
or expired token fails on its very next request. The server records when each token was last
used in `tokens-used.json`, apart from the list it never writes.

Once `tokens.json` exists (even emptied by revoking every token) the server is closed: every
request needs a token, loopback included.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rings_cli.core import bounds
from rings_cli.core.errors import DamagedStateError, UsageError
from rings_cli.core.privacy import load_or_create_key, private_temp
from rings_cli.core.state import StateDir, check_tenant

TOKENS_FILE = "tokens.json"
KEY_FILE = "tokens.key"
USED_FILE = "tokens-used.json"
LOCK_FILE = "tokens.lock"
PREFIX = "rk_"  # a Rings token, recognisable in a leaked paste or a secret scanner's rules
LABEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_LABEL = re.compile(LABEL_PATTERN)
_TOKEN = re.compile(r"rk_[A-Za-z0-9_-]{43}")
MAX_TENANTS = 1000  # tenants of one token
MAX_TOKENS = 10_000


@dataclass(frozen=True)
class SiteToken:
    """One token as stored: never the token itself."""

    label: str
    tenants: tuple[str, ...]
    created: str  # ISO time, UTC, seconds
    expires: str | None  # last valid day (UTC), YYYY-MM-DD
    digest: str  # HMAC-SHA256(key, token), hex
    share: bool = False

    def expired(self, now: dt.datetime | None = None) -> bool:
        if self.expires is None:
            return False
        today = (now or dt.datetime.now(dt.UTC)).date()
        return today > dt.date.fromisoformat(self.expires)

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "tenants": list(self.tenants),
            "created": self.created,
            "expires": self.expires,
            "digest": self.digest,
            "share": self.share,
        }


def check_label(label: str) -> str:
    """Labels are shown in `rings token list` and named on the command line: short and plain."""
    if not _LABEL.fullmatch(label):
        raise UsageError(
            f"--label {label[:40]!r}: 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit"
        )
    return label


def looks_like_token(text: str) -> bool:
    """The shape of our tokens: anything else is refused before any digest is made."""
    return bool(_TOKEN.fullmatch(text))


def digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode("ascii"), hashlib.sha256).hexdigest()


def session_value(key: bytes, token_digest: str) -> str:
    """What a browser's cookie holds for a site token: derived from its digest, never the token."""
    return "s." + hmac.new(key, b"rings-session\0" + token_digest.encode(), hashlib.sha256).hexdigest()


class TokenFile:
    """`tokens.json` and its key in one state dir."""

    def __init__(self, state: StateDir) -> None:
        self.state = state
        self.path = state.root / TOKENS_FILE
        self.key_path = state.root / KEY_FILE
        self.used_path = state.root / USED_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def key(self) -> bytes | None:
        try:
            key = self.key_path.read_bytes()
        except FileNotFoundError:
            return None
        if len(key) != 32:
            raise DamagedStateError(self.key_path, f"damaged token key ({len(key)} bytes, not 32)")
        return key

    def read(self) -> list[SiteToken]:
        """The tokens, as stored; a file that is not ours is damage (never an open server)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            return [_parse(item) for item in data["tokens"]]
        except (ValueError, KeyError, TypeError, UsageError) as e:
            raise DamagedStateError(self.path, f"not a Rings token list ({type(e).__name__})") from None

    def used(self) -> dict[str, str]:
        """When each token (by digest) was last used, as the server recorded it."""
        try:
            data = json.loads(self.used_path.read_bytes())
        except (FileNotFoundError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v)[:40] for k, v in data.items()}

    def write_used(self, used: dict[str, str]) -> None:
        """The server's record of use (whatever fails, serving goes on: it is a courtesy)."""
        _write_private(self.used_path, json.dumps(used, sort_keys=True).encode())

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One `rings token` change at a time (read, change, write)."""
        self.state.ensure()
        fd = os.open(self.state.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def add(
        self,
        tenants: list[str],
        label: str,
        expires: str | None = None,
        share: bool = False,
        now: dt.datetime | None = None,
    ) -> tuple[str, SiteToken]:
        """A new token for `tenants`: (the token, to show once; what is stored)."""
        check_label(label)
        if not tenants:
            raise UsageError("--tenant is required: the sites this token may see")
        if len(tenants) > MAX_TENANTS:
            raise UsageError(f"at most {MAX_TENANTS} --tenant per token")
        for tenant in tenants:
            check_tenant(tenant)
        now = now or dt.datetime.now(dt.UTC)
        last_day = None
        if expires is not None:
            day = bounds.date(expires, "--expires")
            if day < now.date():
                raise UsageError(f"--expires {day} is in the past")
            last_day = day.isoformat()
        with self._locked():
            tokens = self.read()
            if any(t.label == label for t in tokens):
                raise UsageError(f"a token labelled {label!r} exists: revoke it first, or pick another label")
            if len(tokens) >= MAX_TOKENS:
                raise UsageError(f"at most {MAX_TOKENS:,} tokens in a state dir")
            key = load_or_create_key(self.key_path, check=False)
            token = PREFIX + secrets.token_urlsafe(32)
            entry = SiteToken(
                label=label,
                tenants=tuple(dict.fromkeys(tenants)),
                created=now.isoformat(timespec="seconds"),
                expires=last_day,
                digest=digest(key, token),
                share=share,
            )
            self._write([*tokens, entry])
        return token, entry

    def revoke(self, label: str) -> SiteToken:
        check_label(label)
        with self._locked():
            tokens = self.read()
            gone = [t for t in tokens if t.label == label]
            if not gone:
                raise UsageError(f"no token labelled {label!r} (`rings token list` shows them)")
            self._write([t for t in tokens if t.label != label])
        return gone[0]

    def _write(self, tokens: list[SiteToken]) -> None:
        data = {"version": 1, "tokens": [t.to_json() for t in tokens]}
        _write_private(self.path, (json.dumps(data, indent=1) + "\n").encode())


def _write_private(path: Path, data: bytes) -> None:
    """Replace `path` whole (0600): a reader sees the old list or the new, never half of one."""
    os.replace(private_temp(path, data), path)


def _parse(item: dict[str, object]) -> SiteToken:
    tenants = item["tenants"]
    expires = item.get("expires")
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise TypeError("tenants")
    if expires is not None:
        dt.date.fromisoformat(str(expires))
    entry = SiteToken(
        label=str(item["label"]),
        tenants=tuple(check_tenant(str(t)) for t in tenants),
        created=str(item["created"]),
        expires=None if expires is None else str(expires),
        digest=str(item["digest"]),
        share=bool(item.get("share", False)),
    )
    if len(entry.digest) != 64:
        raise ValueError("digest")
    return entry
