"""What `rings check --repair` can recover of the files read before, and what it cannot.

- **A lost state secret.** File checkpoints know a file by keyed hashes of its head (tail.py);
  without the secret that keyed them, no file read before is recognised, and reading it again
  would count it twice. A new secret is made, and each checkpoint is given the hash of its file's
  head under it when the file is found again where the checkpoint last saw it: the same path, or
  its folder under the same device and inode (a rotation renames), with a line ending exactly
  where the checkpoint's head ended and, plain, at least as many bytes as it read. A checkpoint
  saved by an earlier release has no inode: its path, head and size must do. The files not found
  are named: reading them again would count them twice.
- **An older state than the checkpoints claim** (a DO file or pack restored from the warehouse's
  last flush, a warehouse rebuilt without the days that went straight to it): the checkpoints of
  the files whose lines it may lack are rolled back to where what was restored is complete, or to
  the start; every store of lines (DO files, packs, the warehouse's `absorbed`) drops the lines it
  holds already, so reading the files again counts each line once. The files are named.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rings_cli.core.errors import RingsError
from rings_cli.source.inputs import open_source
from rings_cli.source.tail import HEAD_BYTES, head_of
from rings_cli.store.catalog import STDIN_SOURCE, Catalog, KnownFile

SHOWN = 10  # files named in one line; the rest are counted


@dataclass
class Recovered:
    """What a repair did to the file checkpoints, in lines for the user."""

    done: list[str] = field(default_factory=list)  # "repaired: ..."
    todo: list[str] = field(default_factory=list)  # what the user must do now


def find_files_again(catalog: Catalog, key: bytes) -> Recovered:
    """Give every checkpoint whose file is found again (see the module) its head's hash under the
    new secret `key`; name the files found and those that are not."""
    out = Recovered()
    found: list[str] = []
    missing: list[KnownFile] = []
    folders: dict[Path, list[os.DirEntry[str]]] = {}
    for known in catalog.known_files():
        head_hash = _found_again(known, key, folders)
        if head_hash is None:
            missing.append(known)
            continue
        catalog.rekey(known.source, head_hash)
        found.append(known.name)
    out.done.append(
        f"made a new state secret; recognised {len(found)} of {len(found) + len(missing)} files read "
        "before again by their checkpoints" + (f": {_few(found)}" if found else "")
    )
    if missing:
        out.todo.append(
            f"not recognised: {_few([f'{k.name} (read to line {k.line:,})' for k in missing])}: "
            "the secret that knew them is gone; do not read them again (they would count twice)"
        )
    return out


def _found_again(known: KnownFile, key: bytes, folders: dict[Path, list[os.DirEntry[str]]]) -> str | None:
    """The keyed hash of the file's head under `key`, when the file is found and is the one."""
    if known.head_len <= 0 and known.ino is None:
        return None  # known by its first line only, from an earlier release: nothing to check it by
    for path in _candidates(known, folders):
        try:
            st = path.stat()
            if known.ino is not None and (st.st_dev, st.st_ino) != (known.dev, known.ino):
                continue
            source = open_source(str(path))
            try:
                if source.compression is None and st.st_size < known.offset:
                    continue  # shorter than what was read of it: another file
                head = head_of(source.read(HEAD_BYTES), key)
            finally:
                source.close()
        except (OSError, RingsError):
            continue
        if head is None:
            continue
        if known.head_len <= 0:
            return head.legacy
        for length, digest in head.prefixes:
            if length == known.head_len:
                return digest
    return None


def _candidates(known: KnownFile, folders: dict[Path, list[os.DirEntry[str]]]) -> Iterable[Path]:
    """Where the file may be: its last path and name, then (by inode) any file of that folder."""
    paths = [Path(p) for p in dict.fromkeys([known.path, known.name]) if p]
    yield from paths
    if known.ino is None:
        return
    for folder in dict.fromkeys(p.parent for p in paths):
        if folder not in folders:
            try:
                folders[folder] = list(os.scandir(folder))
            except OSError:
                folders[folder] = []
        for entry in folders[folder]:
            try:
                if entry.inode() == known.ino and entry.is_file():
                    yield Path(entry.path)
            except OSError:
                continue


def _few(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN:,} more" if len(names) > SHOWN else "")


Day = tuple[str, str]


@dataclass
class Restored:
    """A tenant-day a repair restored from a warehouse copy: the flush epoch of that copy (None:
    flushed by an earlier release, which kept no record of the lines) and the lines it holds,
    per source, the last one."""

    epoch: int | None
    marks: dict[str, int]


def roll_back(
    catalog: Catalog, restored: dict[Day, Restored], lost: list[Day], direct: list[tuple[str, str]]
) -> Recovered:
    """Roll back the checkpoints of the files whose lines what was restored may lack (see the
    module): for a restored tenant-day, every file saved since its copy's flush, to just past the
    last line the copy holds of it; for a tenant-day lost whole, every file, to its start; for the
    days written straight to a lost warehouse (`direct`: source id and name), their files, to their
    start. Each file is named with the line it will be read from."""
    out = Recovered()
    files = {known.source: known for known in catalog.known_files()}
    start: dict[str, int] = {}  # source -> the line to read it again from
    why: dict[str, set[str]] = {}

    def back(source: str, line: int, reason: str) -> None:
        known = files.get(source)
        if known is not None and known.line > line:
            start[source] = min(start.get(source, line), line)
            why.setdefault(source, set()).add(reason)

    for (tenant, date), copy in sorted(restored.items()):
        if copy.epoch is None:
            continue
        for known in files.values():
            if known.epoch is not None and known.epoch >= copy.epoch:  # saved since that flush
                back(known.source, copy.marks.get(known.source, -1) + 1, f"{tenant}/{date}")
    for tenant, date in lost:
        for source in files:
            back(source, 0, f"{tenant}/{date}")
    streamed = False
    for source, _ in direct:
        streamed |= source == STDIN_SOURCE
        back(source, 0, "days written straight to the warehouse")
    if streamed:
        out.todo.append(
            "lost: days written straight to the warehouse from standard input: no checkpoint knows "
            "those lines, so they cannot be read again exactly"
        )
    unmarked = sorted(f"{t}/{d}" for (t, d), copy in restored.items() if copy.epoch is None)
    if unmarked and start:
        out.todo.append(
            f"lost: lines merged into {', '.join(unmarked)} after their last flush, if any: that flush, by "
            "an earlier release, kept no record of the lines it holds, so no file can be read again "
            "exactly; checkpoints are left as they are"
        )
        return out
    if unmarked:
        out.todo.append(
            f"lines merged into {', '.join(unmarked)} after their last flush (by an earlier release), "
            "if any, are lost"
        )
    for source, line in sorted(start.items(), key=lambda item: files[item[0]].name):
        catalog.roll_back(source, line)
        known = files[source]
        where = "its start" if line == 0 else f"line {line:,}"
        out.todo.append(
            f"read again: {known.name} (from {where}; its checkpoint is rolled back): lines of "
            f"{', '.join(sorted(why[source]))} that were read from it are not all held any more; the "
            "next `rings ingest` of it counts each of them once (lines held elsewhere are skipped)"
        )
    return out
