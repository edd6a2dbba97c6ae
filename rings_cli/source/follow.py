"""Follow: keep reading files and globs as they grow, through every rotation logrotate does.

Every poll re-expands the patterns (files created later are picked up), then reads what each file
has added. A file is an open descriptor (an inode); what it *is* is its content (tail.py). Rotation
is told apart by both:

- rename (logrotate's `create`, with `dateext` or `olddir` too): the path names a new inode. The old
  file is still read through its descriptor, while the server may still write to it: until it has
  been idle for HOLD seconds, or is deleted. The new file is read from its start.
- copytruncate: the file is shorter than what was read, or no longer begins with the bytes it was
  identified by (truncated, and written again before this look). Checked before and after every
  read, so no byte of the new content is taken for the old file's. It is a new source from byte 0;
  the copy, where the follower sees it, has the old head, hence the old id, and continues from the
  old checkpoint: the lines not read before the truncate are read from the copy.
- copy, compress, delaycompress: a copy or an archive of a file has its head, hence its id, and
  continues from its checkpoint. An archive is known by its head only once that head is complete or
  the archive whole; one still being written is waited for (set aside until its size changes).

What the follower sees: a glob, what it matches; a file given by name, also its rotated names beside
it (`access.log.1`, `access.log-20250101.gz`): those that appear while following are read like any
file; those there when following began only continue a file already known (archives among them are
left alone: reading them is a glob's job). Files rotated into another directory (olddir) are read
where a pattern names them.

Nothing that happens to a file ends the follower: a file gone between the glob and its opening is
looked for again next time; an archive still being written, a rotated name that is no known file,
a file whose format cannot be recognised (`set_aside`) are left until they change.

Small files: two files that begin with the same lines cannot be told apart until they differ. A file
whose head may still grow never takes the id of another open file whose head may still grow, unless
it appeared after that file (or that id) and all its whole lines begin that file too (a copy of it:
it then stays within that file, or becomes a new source from its first line). So two logs that open
with the same health check at the same moment stay apart, and a copy of a small file is that file.
"""

from __future__ import annotations

import glob
import itertools
import os
import stat
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rings_cli.core.errors import UsageError
from rings_cli.source.tail import Block, FileTail, Identified

# Blocks read from one file in one poll: a file written faster than it is read still lets the
# poll end, so the other files are read and the flush and finalization that follow a poll happen.
READS_PER_POLL = 4
HOLD = 30.0  # seconds a renamed-away file is still read after its last line (until the server reopens)

Key = tuple[int, int]  # (device, inode)
# lookup(head, name, exclude, avoid, create): a file's identity (see Ingest._identify)
Lookup = Callable[[bytes, str, Collection[str], Collection[str], bool], Identified | None]


@dataclass
class _Watch:
    """What the follower knows of an open file besides its content."""

    first_seen: int  # the poll it was first there in (maybe empty)
    create: bool  # False: it may only continue a known file (a rotated name there at the start)
    seen_at: float  # when it last gave lines (or was opened)
    order: int | None = None  # when it was identified: of two open files with one id, the first holds it
    aside: bool = False  # to be set aside once its block is done (see set_aside)


class Follower:
    """The set of files that match some patterns, each tailed from its checkpoint."""

    def __init__(
        self,
        patterns: list[str],
        lookup: Lookup,
        confirm: Callable[[FileTail], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        hold: float = HOLD,
    ) -> None:
        """`confirm(tail)`: whether a file whose short head has grown is still its source (and
        learn the longer head); by default it is."""
        self.patterns = patterns
        self.lookup = lookup
        self.confirm = confirm or (lambda tail: True)
        self.clock = clock
        self.hold = hold
        self.tails: dict[Key, FileTail] = {}
        self.polls = 0
        self.behind = False  # the last poll left a file with more to read
        self._watch: dict[Key, _Watch] = {}
        self._aside: dict[Key, tuple[int, int]] = {}  # left until it changes: (size, mtime) then
        self._since: dict[Key, int] = {}  # the poll each file was first there in (empty ones too)
        self._known_at: dict[str, int] = {}  # source id -> the poll it became known in (-1: before)
        self._starting: set[Key] | None = None  # rotated names beside a named file at the first poll
        self._order = itertools.count()

    def paths(self) -> list[str]:
        """The files the patterns match now (rotated names beside a named file aside)."""
        return [p for p, full in self._candidates().items() if full and Path(p).is_file()]

    def set_aside(self, tail: FileTail) -> None:
        """Leave this file until it changes (its format is not recognised, say); takes effect after
        the block in hand."""
        watch = self._watch.get(tail.inode)
        if watch is not None:
            watch.aside = True

    def poll(self, max_bytes: int) -> Iterator[tuple[FileTail, Block]]:
        """Whatever whole lines each file has added since the last poll, rotated files first: a
        file is read to the end it had when read, never after lines written while its blocks are
        being committed (a log that grows as fast as it is committed would keep one poll going, a
        tiny commit after another); a rotated file is drained to its end. `behind` says afterwards
        whether some file was left with more to read (READS_PER_POLL)."""
        self._discover()
        self.behind = False
        now = self.clock()
        for key, tail in sorted(self.tails.items(), key=lambda kv: not self._detached(kv[1])):
            if self.tails.get(key) is not tail:
                continue  # closed or set aside meanwhile
            watch = self._watch[key]
            detached = self._detached(tail)
            drained = True  # read to its end in this poll
            if self._ready(key, tail):
                reads = 0
                while (block := tail.read(max_bytes, final=False)) is not None:
                    if not self._still(tail):  # changed under the read: these bytes are not its source's
                        self._restart(tail)
                        break
                    watch.seen_at = now
                    yield tail, block
                    if watch.aside:
                        break
                    if tail.at_end and not detached:
                        break  # what it held when read; lines written since are the next poll's
                    reads += 1
                    if reads >= READS_PER_POLL:  # a file written without pause: on at the next poll
                        drained = False
                        self.behind = True
                        break
                if watch.aside or tail.damage is not None:  # to its damage: again once it changes
                    self._set_aside(key, tail)
                    continue
            elif key not in self.tails:
                continue
            if detached and drained and (now - watch.seen_at >= self.hold or _unlinked(tail)):
                self._close(key)
        self.polls += 1

    def close(self) -> None:
        for tail in self.tails.values():
            tail.close()
        self.tails.clear()
        self._watch.clear()

    # --- which files ------------------------------------------------------------------------------

    def _candidates(self) -> dict[str, bool]:
        """Path -> read like any file (True), or a rotated name beside a file given by name."""
        found: dict[str, bool] = {}
        for pattern in self.patterns:
            if glob.has_magic(pattern) and not Path(pattern).exists():
                found.update((p, True) for p in sorted(glob.glob(pattern)))
            else:
                found[pattern] = True
                for path in sorted(glob.glob(glob.escape(pattern) + "[-._]*")):
                    found.setdefault(path, False)
        return found

    def _discover(self) -> None:
        """Open files that appeared (new names, or a new inode behind a known name)."""
        starting = self._starting is None
        if self._starting is None:
            self._starting = set()
        present: set[Key] = set()
        for path, full in self._candidates().items():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = (st.st_dev, st.st_ino)
            present.add(key)
            self._since.setdefault(key, self.polls)
            if key in self.tails:
                self.tails[key].path = path
                continue
            mark = (st.st_size, st.st_mtime_ns)
            if self._aside.get(key) == mark:
                continue
            if key in self._aside:  # it changed: written to, so read like any file
                del self._aside[key]
                self._starting.discard(key)
            if starting and not full:
                self._starting.add(key)
            if st.st_size == 0:
                continue  # nothing yet, and its first bytes will tell plain text from an archive
            try:
                tail = FileTail(path, _unset)
            except (OSError, UsageError):
                continue  # gone, or not readable, since the glob: the next poll sees the truth
            create = full or key not in self._starting
            if tail.inode != key or tail.undecided or (tail.compressed and not create):
                if tail.inode == key and not tail.undecided:
                    self._aside[key] = mark  # an archive there at the start: a glob's to read
                tail.close()
                continue
            tail.lookup = partial(self._lookup, tail)
            self.tails[key] = tail
            self._watch[key] = _Watch(first_seen=self._since[key], create=create, seen_at=self.clock())
        for known in (self._aside, self._since):
            for key in [k for k in known if k not in present and k not in self.tails]:
                del known[key]  # gone: an inode number may come back as another file
        self._starting &= present

    # --- what each file is --------------------------------------------------------------------------

    def _ready(self, key: Key, tail: FileTail) -> bool:
        """The file identified (again, if it is not its source any more) and at its checkpoint."""
        if tail.fingerprint is not None and not self._still(tail):
            self._restart(tail)
        if tail.fingerprint is not None:
            return True
        watch = self._watch[key]
        if not tail.settled():  # an archive still being written: its head is not known yet
            self._set_aside(key, tail)
            return False
        if not tail.identify():
            if tail.compressed or not watch.create:  # no data line, or no known file: until it changes
                self._set_aside(key, tail)
            return False
        watch.order = next(self._order)
        return True

    def _still(self, tail: FileTail) -> bool:
        """Whether an identified file still is its source; asked before and after every read."""
        state = tail.check()
        if state == "replaced" or (state == "grown" and not self.confirm(tail)):
            return False
        if not tail.head_complete:  # it may be a copy of an open file taken for it: within one of them
            rank = self._rank(tail)
            earlier = [o for o in self._open_with(tail.fingerprint, tail) if self._rank(o) < rank]
            if earlier and not any(tail.within(o) for o in earlier):
                return False  # not a copy of the file it was taken for: a file of its own
        return True

    def _lookup(self, tail: FileTail, head: bytes, name: str) -> Identified | None:
        """Identify a file, never as another open file whose head may still grow, unless it is a
        copy of that one (see the module's docstring)."""
        watch = self._watch[tail.inode]
        exclude: set[str] = set()
        avoid: set[str] = set()
        short = {
            o.fingerprint
            for o in self.tails.values()
            if o is not tail and o.fingerprint and not o.head_complete
        }
        for source in short:
            assert source is not None
            holders = self._open_with(source, tail)
            if not any(not o.head_complete for o in holders):
                continue  # truncated meanwhile
            before = min(
                [self._known_at.get(source, -1), *(self._watch[o.inode].first_seen for o in holders)]
            )
            copy = before < watch.first_seen and any(tail.within(o) for o in holders)
            (avoid if copy else exclude).add(source)
        found = self.lookup(head, name, exclude, avoid, watch.create)
        if found is not None:
            self._known_at.setdefault(found.source, self.polls if found.new else -1)
        return found

    def _open_with(self, source: str | None, tail: FileTail) -> list[FileTail]:
        """The other open files identified as `source` (those truncated meanwhile lose their id)."""
        out = []
        for other in list(self.tails.values()):
            if other is tail or other.fingerprint is None or other.fingerprint != source:
                continue
            if other.check() == "replaced":
                self._restart(other)
                continue
            out.append(other)
        return out

    def _rank(self, tail: FileTail) -> int:
        watch = self._watch.get(tail.inode)
        return watch.order if watch is not None and watch.order is not None else 1 << 62

    # --- bookkeeping ------------------------------------------------------------------------------

    def _restart(self, tail: FileTail) -> None:
        tail.restart()
        watch = self._watch.get(tail.inode)
        if watch is not None:
            watch.order = None

    def _set_aside(self, key: Key, tail: FileTail) -> None:
        st = os.fstat(tail.source.raw.fileno())
        self._aside[key] = (st.st_size, st.st_mtime_ns)
        self._close(key)

    def _close(self, key: Key) -> None:
        self.tails.pop(key).close()
        del self._watch[key]

    def _detached(self, tail: FileTail) -> bool:
        """True when no pattern's path names this tail's inode any more (renamed away, deleted)."""
        try:
            st = os.stat(tail.path)
        except OSError:
            return True
        return (st.st_dev, st.st_ino) != tail.inode


def _unlinked(tail: FileTail) -> bool:
    return os.fstat(tail.source.raw.fileno()).st_nlink == 0


def _unset(head: bytes, name: str) -> Identified | None:
    raise AssertionError("a follower's file is identified through Follower._lookup")
