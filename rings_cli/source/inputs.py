"""Sources: turn paths (plain, gzip, bzip2, xz) or stdin into chunks of whole lines.

Chunks are large (megabytes) so that every later stage works on whole batches; a chunk always
ends at a newline, the tail of a partial line is carried into the next chunk.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rings_cli.core import defaults
from rings_cli.core.errors import UsageError

CHUNK_BYTES = defaults.CHUNK_BYTES  # a batch (defaults.py: the CLI names it without this module)

_MAGIC = {
    b"\x1f\x8b": ("gzip", gzip.open),
    b"BZh": ("bzip2", bz2.open),
    b"\xfd7zXZ\x00": ("xz", lzma.open),
}
# What a decompressor raises on a damaged archive: cut short (EOFError) or corrupt.
_DAMAGE = (EOFError, OSError, zlib.error, lzma.LZMAError)


@dataclass
class Source:
    """One input: a file or stdin. `position()` is how far the raw (maybe compressed) file is read.

    A damaged archive ends where its damage starts: `read` returns what came before it, then b"",
    and `damage` says why (the caller reports it; nothing before the damage is lost).
    """

    name: str
    raw: BinaryIO
    stream: BinaryIO
    size: int | None
    compression: str | None = None
    damage: str | None = None
    interactive: bool = False  # stdin is a terminal: one Ctrl-D ends it

    def read(self, max_bytes: int) -> bytes:
        """Up to max_bytes of (decompressed) data; b"" at the end, or once the archive is damaged."""
        if self.compression is None:
            if self.interactive:  # one read at most: `read` would swallow the Ctrl-D and wait for another
                return self.raw.read1(max_bytes)  # type: ignore[attr-defined]
            return self.raw.read(max_bytes)
        if self.damage is not None:
            return b""
        parts: list[bytes] = []
        got = 0
        while got < max_bytes:
            try:
                # read1 returns what one step decompresses, so an error loses nothing read before it.
                part = self.stream.read1(max_bytes - got)  # type: ignore[attr-defined]
            except _DAMAGE as e:
                if isinstance(e, OSError) and e.errno is not None:
                    raise  # a real I/O error, not bad data
                self.damage = _damage(self.compression, e)
                break
            if not part:
                break
            parts.append(part)
            got += len(part)
        return b"".join(parts)

    def rewind(self) -> None:
        """Back to the first byte (a file's own), with a fresh decompressor for an archive."""
        self.raw.seek(0)
        self.damage = None
        if self.compression is not None:
            self.stream, _ = _decompressing(self.raw, peek=False)

    def position(self) -> int:
        try:
            return self.raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self.stream is not self.raw:
            self.stream.close()
        if self.raw is not sys.stdin.buffer:
            self.raw.close()


def expand_paths(paths: list[str]) -> list[str]:
    """Expand globs the shell did not (`'access.log.*'`), then order rotated sets oldest first.

    `access.log.3.gz, access.log.2.gz, access.log.1, access.log` (numbered: higher is older),
    `access.log-20250101.gz` before `access.log-20250102.gz` (dated), the live file last. A glob
    that matches nothing is a usage error, like a missing file.
    """
    out: list[str] = []
    for path in paths:
        if path != "-" and not Path(path).exists() and glob.has_magic(path):
            matches = [m for m in glob.glob(path) if Path(m).is_file()]
            if not matches:
                raise UsageError(f"no file matches {path}")
            out.extend(matches)
        else:
            out.append(path)
    files = sorted(dict.fromkeys(p for p in out if p != "-"), key=rotation_key)
    return files + (["-"] if "-" in out else [])


_COMPRESSED = re.compile(r"\.(?:gz|bz2|xz)$")
_NUMBERED = re.compile(r"^(.*)\.(\d{1,4})$")
_DATED = re.compile(r"^(.*?)[.-](\d{8}|\d{4}-\d{2}-\d{2})$")


def rotation_key(path: str) -> tuple[str, int, str]:
    """Sort key: (set, position); older rotations first, the live file (no suffix) last."""
    name = _COMPRESSED.sub("", path)
    if m := _NUMBERED.match(name):
        return (m.group(1), 0, f"{9999 - int(m.group(2)):04d}")
    if m := _DATED.match(name):
        return (m.group(1), 0, "~" + m.group(2))
    return (name, 1, "")


def is_stream(path: str) -> bool:
    """stdin, a FIFO or another non-regular file: read once, front to back, like stdin."""
    if path == "-":
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def check_source(path: str) -> int | None:
    """Fail early on a path that cannot be read; return its size (None for stdin and FIFOs)."""
    if path == "-":
        return None
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file: {path}")
    if p.is_dir():
        raise UsageError(f"is a directory, not a log file: {path}")
    if not os.access(p, os.R_OK):
        raise UsageError(f"cannot read {path}: permission denied")
    return None if is_stream(path) else p.stat().st_size


def open_source(path: str) -> Source:
    """Open `path` (`-` = stdin), recognising compression by its first bytes, not its name."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        stream, compression = _decompressing(raw, peek=True)
        return Source("<stdin>", raw, stream, None, compression, interactive=raw.isatty())
    check_source(path)
    p = Path(path)
    try:
        raw = open(p, "rb")  # noqa: SIM115 - closed by Source.close
    except OSError as e:
        raise UsageError(f"cannot open {path}: {e.strerror}") from e
    stream, compression = _decompressing(raw, peek=not raw.seekable())  # a FIFO cannot seek back
    size = os.fstat(raw.fileno()).st_size if raw.seekable() else None
    return Source(str(p), raw, stream, size, compression)


def undecided(first: bytes) -> bool:
    """True while a file's first bytes may still turn into a compression magic: an archive that
    gzip (say) has just created is empty, or holds part of its magic. Read now, it would be taken
    for plain text; wait for its first bytes."""
    return not any(first.startswith(m) for m in _MAGIC) and any(m.startswith(first) for m in _MAGIC)


class _Positional(io.RawIOBase):
    """An open file read by offset (pread): its own position, and the file's, stay where they are."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = os.pread(self.fd, len(buffer), self.offset)
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)


def read_head(fd: int, compression: str | None, limit: int) -> tuple[bytes, bool]:
    """The first `limit` bytes of an open file, decompressed; and whether they are all of it (an
    archive that ends cleanly within them). Read through the descriptor, never the path: by now the
    path may name another file (rotation), or none."""
    if compression is None:
        data = os.pread(fd, limit, 0)
        return data, len(data) < limit
    raw = io.BufferedReader(_Positional(fd))
    stream: gzip.GzipFile | bz2.BZ2File | lzma.LZMAFile
    if compression == "gzip":
        stream = gzip.GzipFile(fileobj=raw, mode="rb")
    elif compression == "bzip2":
        stream = bz2.BZ2File(raw)
    else:
        stream = lzma.LZMAFile(raw)  # noqa: SIM115 - over a descriptor the tail owns: nothing to close
    parts: list[bytes] = []
    got = 0
    whole = False
    try:
        while got < limit:
            part = stream.read1(limit - got)
            if not part:
                whole = True
                break
            parts.append(part)
            got += len(part)
    except _DAMAGE as e:  # still being written, or damaged: what came before it
        if isinstance(e, OSError) and e.errno is not None:
            raise
    return b"".join(parts), whole


def _decompressing(raw: BinaryIO, peek: bool) -> tuple[BinaryIO, str | None]:
    if peek:
        head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    else:
        head = raw.read(6)
        raw.seek(0)
    for magic, (kind, opener) in _MAGIC.items():
        if head.startswith(magic):
            return opener(raw, "rb"), kind  # type: ignore[operator]
    return raw, None


def _damage(kind: str, error: BaseException) -> str:
    if isinstance(error, EOFError):
        return f"truncated ({kind} stream ends early)"
    return f"damaged ({kind} data is corrupt: {error})"


def iter_chunks(source: Source, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield blocks of whole lines; the last block may lack a final newline.

    A damaged archive ends at its last whole line before the damage (see `Source.damage`): the
    line the damage cut is not a line.
    """
    carry = b""
    while True:
        block = source.read(chunk_bytes)
        if not block:
            if source.damage is not None:
                return
            break
        block = carry + block
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            continue
        carry = block[cut + 1 :]
        yield block[: cut + 1]
    if carry:
        yield carry
