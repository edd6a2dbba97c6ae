"""One error family for the whole library; the CLI turns it into a line on stderr and an exit code."""

from __future__ import annotations

import errno
import os
import sqlite3


class RingsError(Exception):
    """A failure the user can act on; `exit_code` follows the contract (1 runtime, 2 usage)."""

    exit_code = 1


class UsageError(RingsError):
    """Bad arguments, a missing file or an unknown format: the user must change the command."""

    exit_code = 2


class StateLockedError(RingsError):
    """Another process holds a lock this one needs (another ingest, or the warehouse mid-flush)."""


class DamagedStateError(RingsError):
    """A file of the state dir cannot be used (malformed, missing while the catalog lists it, wrong
    schema). `path` names it, so the CLI can say which one and `rings check` how to repair it."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem} (run `rings check` for how to repair it)")
        self.path = path
        self.problem = problem


class DiskFullError(RingsError):
    """The state dir's disk is full. Every write is a transaction and a checkpoint is saved only
    after its data, so nothing is lost: the same command, rerun with space, gives exact numbers."""

    def __init__(self, state_dir: object) -> None:
        super().__init__(
            f"disk full writing to {state_dir}; nothing is lost: free space and run the same command again"
        )
        self.state_dir = state_dir


class OutOfFilesError(RingsError):
    """The process reached its limit of open files (`ulimit -n`): nothing is lost (every write is
    a transaction), and the same command with a higher limit goes on where this one stopped."""

    def __init__(self, need: int | None = None) -> None:
        limit = open_files_limit()
        shown = "the open-file limit was reached"
        if limit:
            shown = f"the open-file limit (ulimit -n) is {limit:,}"
        raise_it = "raise it (e.g. ulimit -n 1024)"
        if need is not None:  # found before the run: nothing was done
            message = f"{shown}, too low: this command needs at least {need}; {raise_it}"
        else:
            message = f"too many open files: {shown}; {raise_it} and run the same command again"
        super().__init__(message)


def open_files_limit() -> int | None:
    """The process's soft limit on open files, None when it has none."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def is_out_of_files(error: BaseException) -> bool:
    """EMFILE/ENFILE from the OS or in DuckDB's words; SQLite only says it cannot open a file, so
    for SQLite this is asked while the error's descriptors are still held (`out_of_descriptors`)."""
    if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
        return True
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorname", "") == "SQLITE_CANTOPEN" and out_of_descriptors()
    return "too many open files" in str(error).lower()


def out_of_descriptors() -> bool:
    """Whether this process is at its open-file limit now: opening /dev/null fails."""
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
    except OSError as e:
        return e.errno in (errno.EMFILE, errno.ENFILE)
    os.close(fd)
    return False


def is_disk_full(error: BaseException) -> bool:
    """SQLite's SQLITE_FULL, DuckDB's and the OS's "no space left" (ENOSPC, or a quota)."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorname", "") == "SQLITE_FULL":
        return True
    text = str(error).lower()
    return "database or disk is full" in text or "no space left on device" in text


LOW_SPACE = 1 << 20  # bytes: less than this free, an I/O error is taken for a full disk


def out_of_space(path: object) -> bool:
    """Whether the filesystem holding `path` has (almost) no room left for this user: no block,
    or no inode, where the filesystem counts them. SQLite reports a full disk it meets while
    making its shared-memory or WAL file as a plain I/O error; asked this, it is not damage."""
    try:
        st = os.statvfs(str(path))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < LOW_SPACE or (st.f_files > 0 and st.f_favail == 0)
