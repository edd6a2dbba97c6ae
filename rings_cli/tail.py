"""Tail: read one file in blocks of whole lines from where the last run stopped.

A file is known by its content, as Vector's file source does: the SHA-256 of its first data line
(format headers such as W3C's `#Fields` are skipped, since many files share them; only the hash is
kept, the line itself would be a client IP on disk). So a rotated copy (`access.log.1`, or a
gzipped `access.log.2.gz`) is recognised as the file already read, and continues from its
checkpoint instead of being counted again. Offsets and line numbers are of the decompressed text.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from rings_cli.sources import open_source

HEAD_BYTES = 64 * 1024  # the first data line must fit here to identify a file
_SKIP_CHUNK = 4 * 1024 * 1024


def fingerprint_of(head: bytes) -> str | None:
    """SHA-256 of the first complete line that is neither blank nor a `#` header; None if none yet."""
    pos = 0
    while (newline := head.find(b"\n", pos)) >= 0:
        line = head[pos:newline].rstrip(b"\r")
        if line.strip() and not line.startswith(b"#"):
            return hashlib.sha256(line).hexdigest()
        pos = newline + 1
    return None


@dataclass(frozen=True)
class Checkpoint:
    """How far a source is read: bytes and lines, both just past the last whole line committed."""

    offset: int = 0
    line: int = 0


@dataclass
class Block:
    """Whole lines read from a source; `first_line` numbers the first of them (0-based)."""

    data: bytes
    first_line: int
    end: Checkpoint  # where the next block starts: save it once the block's effects are committed
    lines: int  # lines in data (the final unterminated one included)


class FileTail:
    """One open file: identified by content, read from its checkpoint, aware of truncation."""

    def __init__(self, path: str, lookup: Callable[[str], Checkpoint | None]) -> None:
        self.path = path
        self.lookup = lookup
        self.source = open_source(path)
        self.compressed = self.source.stream is not self.source.raw
        st = os.fstat(self.source.raw.fileno())
        self.inode = (st.st_dev, st.st_ino)
        self.fingerprint: str | None = None
        self.position = Checkpoint()
        self._carry = b""

    @property
    def name(self) -> str:
        return self.source.name

    def identify(self) -> bool:
        """Fingerprint the file and move to its checkpoint; False while it has no whole data line."""
        if self.fingerprint is not None:
            return True
        head = self.head()
        fingerprint = fingerprint_of(head)
        if fingerprint is None:
            return False
        self.fingerprint = fingerprint
        self._seek(self.lookup(fingerprint) or Checkpoint())
        return True

    def head(self) -> bytes:
        """The file's first bytes (decompressed), for its fingerprint and format detection."""
        if not self.compressed:
            return os.pread(self.source.raw.fileno(), HEAD_BYTES, 0)
        probe = open_source(self.path)
        try:
            return probe.stream.read(HEAD_BYTES)
        finally:
            probe.close()

    def _seek(self, checkpoint: Checkpoint) -> None:
        if self.compressed:
            remaining = checkpoint.offset
            while remaining > 0:
                skipped = self.source.stream.read(min(remaining, _SKIP_CHUNK))
                if not skipped:
                    break  # shorter than its checkpoint: nothing new in it
                remaining -= len(skipped)
        else:
            self.source.raw.seek(checkpoint.offset)
        self.position = checkpoint
        self._carry = b""

    def truncated(self) -> bool:
        """True when a plain file became shorter than what was read (copytruncate)."""
        if self.compressed:
            return False
        return os.fstat(self.source.raw.fileno()).st_size < self.position.offset + len(self._carry)

    def restart(self) -> None:
        """After truncation: the file is a new source, to be identified again from byte 0."""
        self.fingerprint = None
        self.source.raw.seek(0)
        self.position = Checkpoint()
        self._carry = b""

    def read(self, max_bytes: int, final: bool) -> Block | None:
        """The next whole lines, about max_bytes; with `final`, at EOF, a last unterminated line too.

        A block's `end` never covers an unterminated line, so a line still being written is read
        again, whole, next time; the final unterminated line of a finished file gets the number
        the next line would have, so re-reading it later is recognised (see DoFile.absorbed).
        """
        buffer = self._carry
        while True:
            data = self.source.stream.read(max_bytes)
            buffer += data
            cut = buffer.rfind(b"\n") + 1
            if cut or not data:
                break
        if cut:
            whole, self._carry = buffer[:cut], buffer[cut:]
            start = self.position
            n = whole.count(b"\n")
            self.position = Checkpoint(start.offset + cut, start.line + n)
            return Block(whole, start.line, self.position, n)
        self._carry = buffer
        if final and buffer:
            self._carry = b""
            return Block(buffer, self.position.line, self.position, 1)
        return None

    def close(self) -> None:
        self.source.close()
