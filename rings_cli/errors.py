"""One error family for the whole library; the CLI turns it into a line on stderr and an exit code."""

from __future__ import annotations


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
