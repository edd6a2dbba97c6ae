"""What one client may cost `rings serve`: wrong tokens, and the time to send a request.

`FailedTokens` is a token bucket per client address for wrong tokens (a `Bearer` header, or
`/login?token=`): a few mistakes are free, then one guess a second; past that a token is not even
compared (429, `Retry-After`), and a try while refused counts too, so a client that keeps guessing
gets no guess compared at all until it has waited (at most FREE_FAILURES + 1 seconds). A wrong
session cookie does not count (it holds a 256-bit digest: there is nothing to guess), so a browser
with a stale cookie never locks itself out of `/login`. Behind a reverse proxy every client has the
proxy's address and shares one bucket.

`DeadlineProtocol` is uvicorn's h11 protocol with the two timeouts uvicorn lacks: a request's
headers must arrive within HEADER_SECONDS of the connection (or of the first byte after the last
response), and its body within BODY_SECONDS of its headers, or the connection is closed. Without
them a client sending a byte now and then held a connection for as long as it liked (slowloris);
uvicorn's keep-alive timeout only runs between requests and restarts with every byte.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10.0
BODY_SECONDS = 10.0

FREE_FAILURES = 10  # wrong tokens a client may send at once (typos, a stale script)
FAILURES_PER_SECOND = 1.0  # then one more a second
MAX_CLIENTS = 10_000  # addresses remembered; the fullest buckets (nothing to hold) are forgotten first


class FailedTokens:
    """A token bucket of failed token attempts per client address."""

    def __init__(
        self,
        burst: int = FREE_FAILURES,
        rate: float = FAILURES_PER_SECOND,
        clock: Any = time.monotonic,
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address: (left, when)

    def _left(self, client: str) -> float:
        left, when = self._buckets.get(client, (float(self.burst), self.clock()))
        return min(float(self.burst), left + (self.clock() - when) * self.rate)

    def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try a token again; None when it may now."""
        left = self._left(client)
        return None if left >= 1 else max(1, math.ceil((1 - left) / self.rate))

    def failed(self, client: str) -> None:
        """Count one wrong token from `client` (or one try while refused): down to -burst, so a
        client that stops may try again within (burst + 1) / rate seconds."""
        self._buckets[client] = (max(-float(self.burst), self._left(client) - 1), self.clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)  # the least recent: the one nearest to full again


class DeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a body deadline (see the module)."""

    header_seconds = HEADER_SECONDS
    body_seconds = BODY_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: Any = None  # h11's state of the client the deadline is for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_seconds, h11.IDLE)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Move the deadline along with the request: headers, then body, then none."""
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # closed, or a WebSocket
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            if self._waiting_for is not h11.SEND_BODY:
                self._arm(self.body_seconds, h11.SEND_BODY)  # from the end of its headers
        elif state is h11.IDLE:
            # Bytes of a request not yet whole: its headers' deadline runs from the first of them
            # (idle between requests, uvicorn's keep-alive timeout closes the connection).
            if self.conn.trailing_data[0] and self._waiting_for is not h11.IDLE:
                self._arm(self.header_seconds, h11.IDLE)
        else:
            self._disarm()  # a request received whole: the answer takes what it takes

    def _arm(self, seconds: float, waiting_for: Any) -> None:
        self._disarm()
        self._waiting_for = waiting_for
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
