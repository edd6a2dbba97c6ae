"""Tail: read one file in blocks of whole lines from where the last run stopped.

A file is known by its content, as Vector's file source does: by its head, the first whole lines
from its first data line (format headers such as W3C's `#Fields` are skipped, since many files
share them), up to HEAD_LINES lines or HEAD_LIMIT bytes. So two servers' logs that merely begin
with the same health check are told apart, and a rotated copy (`access.log.1`, or a gzipped
`access.log.2.gz`) is recognised as the file already read, and continues from its checkpoint
instead of being counted again. Offsets and line numbers are of the decompressed text.

An open plain file is also checked against its own first bytes, through its head, as it was
identified (the `witness`, kept in memory only): a file truncated and written again before the next
look (copytruncate and a busy server) begins with other bytes, so it is a new source, even when it
has grown back past where it was read. A short head that grows is looked up again (`check`): a file
taken for another one it began like becomes a source of its own once its lines differ.

Only keyed hashes of the head are kept (HMAC with the state dir's secret, see privacy.py): the
head holds client addresses. A checkpoint records how many head bytes it was taken on, so a file
read while it was shorter is found again by the hash of that prefix (checked against what was
read), and then known by its longer head. Each file gets a source id when first seen; DO files
know it by that id (`absorbed`), so it never changes.

State dirs of releases that knew a file by the unkeyed SHA-256 of its first data line are
migrated on first use: each old hash is replaced by a keyed hash of it (`legacy_source`), which a
file's first line still finds.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from rings_cli.core.privacy import keyed_hash
from rings_cli.source.inputs import open_source, read_head, undecided

HEAD_BYTES = 64 * 1024  # the first data line must fit here to identify a file
HEAD_LINES = 8  # a file's head: its first 8 data lines, ...
HEAD_LIMIT = 4096  # ... or fewer, to stay within 4 KiB (but at least the first line)
_SKIP_CHUNK = 4 * 1024 * 1024
_UNKEYED = re.compile(r"^[0-9a-f]{64}$")  # a fingerprint as releases before keyed heads stored it


@dataclass(frozen=True)
class Head:
    """What a file's head says about it: keyed hashes only, never its bytes.

    `prefixes` are (bytes covered, keyed hash) of each whole-line prefix of the head, shortest
    first. `complete` once the head has HEAD_LINES lines or reached HEAD_LIMIT: it no longer grows
    with the file. `legacy` finds a checkpoint migrated from an unkeyed first-line fingerprint.
    """

    prefixes: tuple[tuple[int, str], ...]
    complete: bool
    legacy: str

    @property
    def length(self) -> int:
        return self.prefixes[-1][0]

    @property
    def digest(self) -> str:
        return self.prefixes[-1][1]


def head_span(data: bytes) -> tuple[int, list[int], bool] | None:
    """Where the head of a file that begins with `data` lies: the start of its first data line, the
    end of each of its lines, and whether it is complete; None while it has no whole data line."""
    start = _first_data_line(data)
    if start is None:
        return None
    ends: list[int] = []
    pos = start
    while len(ends) < HEAD_LINES and (newline := data.find(b"\n", pos)) >= 0:
        if ends and newline + 1 - start > HEAD_LIMIT:
            break
        ends.append(newline + 1)
        pos = newline + 1
    return start, ends, len(ends) == HEAD_LINES or len(data) - start > HEAD_LIMIT


def through_head(data: bytes) -> bytes:
    """A file's first bytes up to the end of its head (headers included); b"" without a data line."""
    span = head_span(data)
    return data[: span[1][-1]] if span is not None else b""


def head_of(data: bytes, key: bytes) -> Head | None:
    """The head of a file that begins with `data`; None while it has no whole data line."""
    span = head_span(data)
    if span is None:
        return None
    start, ends, complete = span
    prefixes = tuple((end - start, keyed_hash(key, b"head\0" + data[start:end])) for end in ends)
    first = data[start : ends[0] - 1].rstrip(b"\r")
    return Head(prefixes, complete, _legacy_id(key, hashlib.sha256(first).hexdigest()))


def legacy_source(key: bytes, unkeyed: str) -> str | None:
    """The source id that replaces an old unkeyed fingerprint; None for anything else."""
    if not _UNKEYED.match(unkeyed):
        return None
    return _legacy_id(key, unkeyed)


def _legacy_id(key: bytes, unkeyed: str) -> str:
    """The source id of an unkeyed fingerprint (64 hex digits, a SHA-256 of the first line)."""
    return "l:" + keyed_hash(key, b"legacy\0" + unkeyed.encode())


def _first_data_line(head: bytes) -> int | None:
    """Where the first complete line that is neither blank nor a `#` header starts."""
    pos = 0
    while (newline := head.find(b"\n", pos)) >= 0:
        line = head[pos:newline].rstrip(b"\r")
        if line.strip() and not line.startswith(b"#"):
            return pos
        pos = newline + 1
    return None


def has_data(head: bytes) -> bool:
    """True when some line of `head`, whole or not, is neither blank nor a `#` header."""
    return any(line.strip() and not line.startswith(b"#") for line in head.split(b"\n"))


@dataclass(frozen=True)
class Checkpoint:
    """How far a source is read: bytes and lines, both just past the last whole line committed."""

    offset: int = 0
    line: int = 0


class Identified(NamedTuple):
    """What a file's head says it is: its source id, where to continue, whether the head is
    complete, and whether the id is new (never seen before this look)."""

    source: str
    checkpoint: Checkpoint
    complete: bool
    new: bool = False


@dataclass
class Block:
    """Whole lines read from a source; `first_line` numbers the first of them (0-based)."""

    data: bytes
    first_line: int
    end: Checkpoint  # where the next block starts: save it once the block's effects are committed
    lines: int  # lines in data (the final unterminated one included)
    start: Checkpoint = Checkpoint()  # where it starts


class FileTail:
    """One open file: identified by content, read from its checkpoint, aware of truncation."""

    def __init__(
        self, path: str, lookup: Callable[[bytes, str], Identified | None], head: bytes | None = None
    ) -> None:
        """`head`: the file's first bytes when the caller has just read them (ingest's input
        check), so that they are not read again."""
        self.path = path
        self.lookup = lookup
        self.source = open_source(path)
        self.compressed = self.source.compression is not None
        st = os.fstat(self.source.raw.fileno())
        self.inode = (st.st_dev, st.st_ino)
        # Plain so far, but its first bytes may yet become an archive's magic: not to be read now.
        self.undecided = not self.compressed and undecided(os.pread(self.source.raw.fileno(), 6, 0))
        self.fingerprint: str | None = None  # the source id, once identified
        self.head_complete = False  # False while the head may still grow with the file
        self.witness = b""  # a plain file's first bytes through its head, as identified
        self._size = st.st_size  # the largest size seen: a plain file that shrinks was truncated
        self.position = Checkpoint()
        self._carry = b""
        self.at_end = False  # the last read reached what the file held then (a short read)
        self._damaged_after: int | None = None  # lines before the damage, when skipping found it
        self._head = head  # read once, until the file may have grown past it
        self._whole = False  # the head read is the whole file (an archive that ends in it)

    @property
    def name(self) -> str:
        return self.source.name

    def identify(self) -> bool:
        """Fingerprint the file and move to its checkpoint; False while it has no whole data line."""
        if self.fingerprint is not None:
            return True
        head = self.head()
        found = self.lookup(head, self.name)
        if found is None:
            self._head = None  # no whole data line yet: look again next time
            return False
        self.fingerprint, checkpoint, self.head_complete = found.source, found.checkpoint, found.complete
        self.witness = b"" if self.compressed else through_head(head)
        self._seek(checkpoint)
        return True

    def head(self, fresh: bool = False) -> bytes:
        """The file's first bytes (decompressed), for its fingerprint and format detection; read
        once, or again when `fresh` (the file grew while its head was short of HEAD_BYTES)."""
        if self._head is None or fresh:
            self._head, self._whole = read_head(self.source.raw.fileno(), self.source.compression, HEAD_BYTES)
        return self._head

    def settled(self) -> bool:
        """An archive can be known by its head once the head is complete or the archive whole: a
        few lines out of an archive still being written would be taken for a new, short file."""
        if not self.compressed:
            return True
        span = head_span(self.head(fresh=True))
        return self._whole or (span is not None and span[2])

    def check(self) -> Literal["same", "grown", "replaced"]:
        """What became of an identified plain file since the last look: "replaced" when it is
        shorter than what was read, or begins with other bytes (truncated, and maybe written again
        before this look, as copytruncate and a busy server do); "grown" when its head, still short,
        has more lines (is it still the same file?); else "same". Archives are not rewritten."""
        if self.compressed or self.fingerprint is None:
            return "same"
        fd = self.source.raw.fileno()
        size = os.fstat(fd).st_size
        if size < self._size:  # (not "shorter than its checkpoint": a copy still being made is)
            return "replaced"
        self._size = size
        if self.head_complete:
            return "same" if os.pread(fd, len(self.witness), 0) == self.witness else "replaced"
        head = self.head(fresh=True)
        if not head.startswith(self.witness):
            return "replaced"
        span = head_span(head)
        grown = span is not None and (span[1][-1] > len(self.witness) or span[2])
        return "grown" if grown else "same"

    def learn(self, complete: bool) -> None:
        """The grown head is still this file's: know it by all of it from now on."""
        self.witness = through_head(self.head())
        self.head_complete = complete

    def within(self, other: FileTail) -> bool:
        """True when this file's whole lines so far begin `other` too: a copy of it (logrotate's
        copy), or a file that only begins like it (its next lines will tell)."""
        mine = self.head(fresh=True)
        mine = mine[: mine.rfind(b"\n") + 1]
        return bool(mine) and other.head(fresh=True).startswith(mine)

    @property
    def damage(self) -> tuple[str, int] | None:
        """Why a damaged archive ends early, and how many whole lines come before the damage."""
        if self.source.damage is None:
            return None
        lines = self._damaged_after if self._damaged_after is not None else self.position.line
        return self.source.damage, lines

    def _seek(self, checkpoint: Checkpoint) -> None:
        if checkpoint.offset < 0:  # rolled back to a line by `rings check --repair`: count lines
            self._skip_lines(checkpoint.line)
            return
        if self.compressed:
            remaining, lines = checkpoint.offset, 0
            while remaining > 0:
                skipped = self.source.read(min(remaining, _SKIP_CHUNK))
                if not skipped:
                    break  # shorter than its checkpoint: nothing new in it
                remaining -= len(skipped)
                lines += skipped.count(b"\n")
            if self.source.damage is not None:
                self._damaged_after = lines  # every line before the damage was read before
        else:
            self.source.raw.seek(checkpoint.offset)
        self.position = checkpoint
        self._carry = b""

    def _skip_lines(self, lines: int) -> None:
        """Start after the first `lines` lines (after all whole lines, when it has fewer)."""
        consumed = end = count = 0  # bytes read, just past the last newline counted, lines
        rest = b""  # what follows that newline in the bytes read
        while count < lines:
            chunk = self.source.read(_SKIP_CHUNK)
            if not chunk:
                break
            need = lines - count
            newlines = chunk.count(b"\n")
            if newlines < need:
                count += newlines
                if newlines:
                    cut = chunk.rindex(b"\n")
                    end, rest = consumed + cut + 1, chunk[cut + 1 :]
                else:
                    rest += chunk
            else:
                cut = -1
                for _ in range(need):
                    cut = chunk.index(b"\n", cut + 1)
                count, end, rest = lines, consumed + cut + 1, chunk[cut + 1 :]
            consumed += len(chunk)
        if not self.compressed:  # plain: read on from just past the last line skipped
            self.source.raw.seek(end)
            rest = b""
        if self.source.damage is not None:
            self._damaged_after = count
        self.position = Checkpoint(end, count)
        self._carry = rest

    def restart(self) -> None:
        """The file is not what was identified any more (truncated, rewritten): a new source, to be
        identified again from byte 0."""
        self.fingerprint = None
        self.head_complete = False
        self.witness = b""
        self._head = None
        self._damaged_after = None
        self._size = os.fstat(self.source.raw.fileno()).st_size
        self.source.rewind()
        self.position = Checkpoint()
        self._carry = b""

    def read(self, max_bytes: int, final: bool) -> Block | None:
        """The next whole lines, about max_bytes; with `final`, at EOF, a last unterminated line too.

        A block's `end` never covers an unterminated line, so a line still being written is read
        again, whole, next time; the final unterminated line of a finished file gets the number
        the next line would have, so re-reading it later is recognised (see DoFile.absorbed).
        In a damaged archive the line the damage cuts is not a line: it is never returned.
        """
        buffer = self._carry
        while True:
            data = self.source.read(max_bytes)
            buffer += data
            cut = buffer.rfind(b"\n") + 1
            if cut or not data:
                break
        self.at_end = len(data) < max_bytes
        if cut:
            whole, self._carry = buffer[:cut], buffer[cut:]
            start = self.position
            n = whole.count(b"\n")
            self.position = Checkpoint(start.offset + cut, start.line + n)
            return Block(whole, start.line, self.position, n, start)
        self._carry = buffer
        if final and buffer and self.source.damage is None:
            self._carry = b""
            return Block(buffer, self.position.line, self.position, 1, self.position)
        return None

    def close(self) -> None:
        self.source.close()
