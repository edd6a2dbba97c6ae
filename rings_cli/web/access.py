"""Who a request is, for `rings serve`: the admin (its `--token`), a site token, or nobody.

Site tokens are read from the state dir's `tokens.json` (store/tokens.py), again whenever the file
changes: a `stat` per request, so a token revoked or expired fails on the next request. A given
token is looked up by its keyed digest (HMAC under the state dir's token key), never compared in
the clear; a browser's cookie holds a value derived from that digest, never the token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from rings_cli.core.errors import RingsError
from rings_cli.core.state import StateDir
from rings_cli.store.tokens import SiteToken, TokenFile, digest, looks_like_token, session_value

USED_EVERY = 30.0  # seconds between two writes of tokens-used.json (a token's `last used`)


@dataclass(frozen=True)
class Access:
    """What a request may see: every tenant (`tenants` None), or a site token's."""

    tenants: frozenset[str] | None = None
    label: str | None = None
    digest: str | None = None
    share: bool = False

    def sees(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    @property
    def admin(self) -> bool:
        return self.tenants is None


ADMIN = Access()


class SiteTokens:
    """The state dir's site tokens as the server knows them now (see the module)."""

    def __init__(self, state: StateDir) -> None:
        self.file = TokenFile(state)
        self._stamp: tuple[int, int, int] | None = None
        self._key: bytes | None = None
        self._by_digest: dict[str, SiteToken] = {}
        self._by_cookie: dict[str, SiteToken] = {}  # keyed: hmac(key, cookie value) -> token
        self._used: dict[str, str] = {}
        self._used_dirty = False
        self._used_written = 0.0
        self._failed: str | None = None

    def exist(self) -> bool:
        """Whether the state dir has a token list (even an empty one): then every request needs a token."""
        return self.file.exists()

    def _fresh(self) -> None:
        """Read the list again when it changed since the last look (by inode, size, time)."""
        try:
            st = os.stat(self.file.path)
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            tokens = self.file.read()
            self._key = self.file.key() if tokens else None
            self._failed = None
        except RingsError as e:  # damaged: no site token works until it is repaired
            tokens, self._key, self._failed = [], None, str(e)
        if self._key is None:
            self._by_digest, self._by_cookie = {}, {}
            return
        key = self._key
        self._by_digest = {t.digest: t for t in tokens}
        self._by_cookie = {self._keyed(session_value(key, t.digest)): t for t in tokens}

    def _keyed(self, value: str) -> str:
        assert self._key is not None
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()

    def problem(self) -> str | None:
        """Why no site token works now (a damaged token list), None when fine."""
        self._fresh()
        return self._failed

    def by_token(self, given: str) -> SiteToken | None:
        """The live (unrevoked, unexpired) token `given` is, None when it is none."""
        self._fresh()
        if self._key is None or not looks_like_token(given):
            return None
        return self._live(self._by_digest.get(digest(self._key, given)))

    def by_cookie(self, value: str) -> SiteToken | None:
        self._fresh()
        if self._key is None or not value.startswith("s.") or len(value) > 100:
            return None
        return self._live(self._by_cookie.get(self._keyed(value)))

    def _live(self, found: SiteToken | None) -> SiteToken | None:
        if found is None or found.expired():
            return None
        self._used[found.digest] = dt.datetime.now(dt.UTC).isoformat(timespec="minutes")
        self._used_dirty = True
        return found

    def cookie_for(self, token: SiteToken) -> str:
        assert self._key is not None
        return session_value(self._key, token.digest)

    def still(self, access: Access) -> bool:
        """Whether `access` holds now: the admin always; a site token while listed and unexpired."""
        if access.digest is None:
            return True
        self._fresh()
        found = self._by_digest.get(access.digest)
        return found is not None and not found.expired()

    def save_used(self, now: float | None = None) -> None:
        """Write when each token was last used, at most every USED_EVERY seconds (and only into a
        state dir that exists: serving creates nothing). A failure is no reason to stop serving."""
        now = time.monotonic() if now is None else now
        if not self._used_dirty or now - self._used_written < USED_EVERY:
            return
        self._used_written = now
        self._used_dirty = False
        if not self.file.state.root.is_dir():
            return
        try:
            merged = {**self.file.used(), **self._used}
            self.file.write_used({d: t for d, t in merged.items() if d in self._by_digest})
        except OSError:
            pass


def access_of(token: SiteToken) -> Access:
    return Access(frozenset(token.tenants), token.label, token.digest, token.share)
