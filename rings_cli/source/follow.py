"""Follow: keep reading files and globs as they grow, through rotation and truncation.

Every poll re-expands the patterns (files created later are picked up), then reads what each file
has added. The three things log rotation does are told apart by inode and content:
- rename and create: the path now names a new inode. The old file is drained to its end first,
  then closed, then the new file is read from its start.
- copytruncate: the file is shorter than what was read. It is a new source from byte 0 (its first
  line, and so its fingerprint, are new); the copy, if a pattern matches it, has the old
  fingerprint and continues from the old checkpoint, so lines written just before the copy count.
- a renamed file seen under its new name (`access.log.1`) is the same inode: nothing changes.
Two new files that begin with the same lines (two servers' logs, both opening with one health
check) cannot be told apart until they differ: while one of them is open with a head that may
still grow, the other is given an id of its own, so that their lines never mix.
An archive that ends early (still being compressed, or damaged) is read up to the damage, then
closed; it is opened again, and continues from its checkpoint, only once its size changes.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

from rings_cli.source.tail import Block, FileTail, Identified


class Follower:
    """The set of files that match some patterns, each tailed from its checkpoint."""

    def __init__(
        self, patterns: list[str], lookup: Callable[[bytes, str, Collection[str]], Identified | None]
    ) -> None:
        self.patterns = patterns
        self.lookup = lookup
        self.tails: dict[tuple[int, int], FileTail] = {}
        self.damaged: dict[tuple[int, int], int] = {}  # archive that ended early -> its size then

    def paths(self) -> list[str]:
        """The files the patterns match now."""
        return self._paths()

    def _paths(self) -> list[str]:
        found: list[str] = []
        for pattern in self.patterns:
            if glob.has_magic(pattern) and not Path(pattern).exists():
                found.extend(sorted(glob.glob(pattern)))
            else:
                found.append(pattern)
        return [p for p in dict.fromkeys(found) if Path(p).is_file()]

    def _discover(self) -> None:
        """Open files that appeared (new names, or a new inode behind a known name)."""
        for path in self._paths():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in self.tails:
                self.tails[key].path = path
                continue
            if self.damaged.get(key) == st.st_size:
                continue
            try:
                self.tails[key] = FileTail(path, self._lookup)
            except OSError:
                continue  # gone between stat and open: the next poll sees the truth

    def _lookup(self, head: bytes, name: str) -> Identified | None:
        """Identify a file, never as one that is open now with a head that may still grow."""
        short = {t.fingerprint for t in self.tails.values() if t.fingerprint and not t.head_complete}
        return self.lookup(head, name, short)

    def _detached(self, tail: FileTail) -> bool:
        """True when no pattern's path names this tail's inode any more (renamed away, deleted)."""
        try:
            st = os.stat(tail.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != tail.inode

    def poll(self, max_bytes: int) -> Iterator[tuple[FileTail, Block]]:
        """Whatever whole lines each file has added since the last poll, rotated files first: a
        file is read to the end it had when read, never after lines written while its blocks are
        being committed (a log that grows as fast as it is committed would keep one poll going,
        a tiny commit after another); a rotated file is drained to its end."""
        self._discover()
        for key, tail in sorted(self.tails.items(), key=lambda kv: not self._detached(kv[1])):
            if tail.truncated():
                tail.restart()
            if not tail.identify():
                continue
            detached = self._detached(tail)
            while (block := tail.read(max_bytes, final=False)) is not None:
                yield tail, block
                if tail.at_end and not detached:
                    break  # what it held when read; lines written since are the next poll's
            if tail.damage is not None:
                self.damaged[key] = os.fstat(tail.source.raw.fileno()).st_size
            if detached or tail.damage is not None:  # drained to its end (or to its damage)
                tail.close()
                del self.tails[key]

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()
        self.tails.clear()
