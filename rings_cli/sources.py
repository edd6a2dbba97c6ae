"""Sources: turn paths (plain, gzip, bzip2, xz) or stdin into chunks of whole lines.

Chunks are large (megabytes) so that every later stage works on whole batches; a chunk always
ends at a newline, the tail of a partial line is carried into the next chunk.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from rings_cli.errors import RingsError, UsageError

CHUNK_BYTES = 32 * 1024 * 1024

_MAGIC = {
    b"\x1f\x8b": gzip.open,
    b"BZh": bz2.open,
    b"\xfd7zXZ\x00": lzma.open,
}


@dataclass
class Source:
    """One input: a file or stdin. `position()` is how far the raw (maybe compressed) file is read."""

    name: str
    raw: BinaryIO
    stream: BinaryIO
    size: int | None

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


def check_source(path: str) -> int | None:
    """Fail early on a path that cannot be read; return its size (None for stdin)."""
    if path == "-":
        return None
    p = Path(path)
    if not p.exists():
        raise UsageError(f"no such file: {path}")
    if p.is_dir():
        raise UsageError(f"is a directory, not a log file: {path}")
    if not os.access(p, os.R_OK):
        raise UsageError(f"cannot read {path}: permission denied")
    return p.stat().st_size


def open_source(path: str) -> Source:
    """Open `path` (`-` = stdin), recognising compression by its first bytes, not its name."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        return Source("<stdin>", raw, _decompressing(raw, peek=True), None)
    check_source(path)
    p = Path(path)
    try:
        raw = open(p, "rb")  # noqa: SIM115 - closed by Source.close
    except OSError as e:
        raise UsageError(f"cannot open {path}: {e.strerror}") from e
    return Source(str(p), raw, _decompressing(raw, peek=False), os.fstat(raw.fileno()).st_size)


def _decompressing(raw: BinaryIO, peek: bool) -> BinaryIO:
    if peek:
        head = raw.peek(6)[:6] if hasattr(raw, "peek") else b""
    else:
        head = raw.read(6)
        raw.seek(0)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return opener(raw, "rb")  # type: ignore[operator, no-any-return]
    return raw


def iter_chunks(source: Source, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Yield blocks of whole lines; the last block may lack a final newline."""
    carry = b""
    while True:
        try:
            block = source.stream.read(chunk_bytes)
        except (OSError, EOFError, lzma.LZMAError) as e:
            # A truncated or corrupt archive: keep what was read, report the rest as an error.
            if carry:
                yield carry
            raise RingsError(f"{source.name}: cannot decompress past this point ({e})") from e
        if not block:
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
