"""`rings live FILE` on a log that keeps growing (issue 28, item 10): a poll takes what a file held
when it was read, never the lines written while its blocks were being committed, and a paced
follow rests between polls by the CPU the process spends, so a growing log costs a bounded share of
a core (benchmarks/live_footprint.py measures it). Fake clocks: no sleeping, no timing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import MAX_PACED_CYCLE, Ingest
from tests.conftest import line

NOW = dt.datetime(2025, 12, 1, 12, 0, tzinfo=dt.UTC)


def append(path: Path, first: int, n: int) -> None:
    with open(path, "a") as f:
        f.write("".join(line(ip=f"192.0.2.{1 + (first + i) % 250}") + "\n" for i in range(n)))


def test_a_poll_ends_at_the_end_the_file_had(tmp_path: Path, state: StateDir) -> None:
    """Lines the server writes while a block is committed are the next poll's: a log growing as
    fast as it is committed would otherwise keep one poll going, a tiny commit after another."""
    log = tmp_path / "access.log"
    append(log, 0, 10)
    ingest = Ingest(state, fmt="combined", now=NOW)
    commit = ingest._commit
    grown: list[int] = []

    def committing(tail: Any, parsed: Any) -> None:
        commit(tail, parsed)
        if not grown:  # the server writes 5 lines meanwhile
            append(log, 10, 5)
            grown.append(5)

    ingest._commit = committing  # type: ignore[method-assign]
    with ingest.following([str(log)], flush_interval=3600) as step:
        assert step()
        assert ingest.summary.requests == 10  # what the file held when it was read
        assert step()
        assert ingest.summary.requests == 15
        assert not step()


def test_a_paced_follow_rests_by_the_cpu_it_spends(tmp_path: Path, state: StateDir) -> None:
    """With `pace` (a share of a core), a poll that read lines is followed by a rest that makes the
    cycle last `poll` seconds at least and the process's CPU over it at most `pace` of it: the CPU a
    cycle took (the dashboard's re-read of its batch included, while this thread rests) sets the
    next one's length, up to MAX_PACED_CYCLE."""
    log = tmp_path / "access.log"
    append(log, 0, 10)
    clock = {"t": 0.0, "cpu": 0.0}
    ingest = Ingest(state, fmt="combined", now=NOW, clock=lambda: clock["t"])
    ingest.cpu_clock = lambda: clock["cpu"]
    # What the rest of the process spends while the follower rests, cycle after cycle.
    spent = iter([0.1, 0.5, 0.5, 5.0, 0.0])
    rests: list[float] = []

    def rest(seconds: float) -> None:
        rests.append(round(seconds, 6))
        clock["t"] += seconds
        cost = next(spent, None)
        if cost is None:
            ingest.stop()
            return
        clock["cpu"] += cost
        append(log, 10 * len(rests), 10)  # the log keeps growing

    ingest._sleep = rest  # type: ignore[method-assign]
    ingest.follow([str(log)], flush_interval=3600, poll=2.0, pace=0.1)
    # The first cycle: no CPU spent yet, the poll period. Then 0.1 s -> 2 s still; 0.5 s -> 5 s;
    # 5 s -> capped; nothing -> the poll period again.
    assert rests[:5] == [2.0, 2.0, 5.0, 5.0, MAX_PACED_CYCLE]
    assert ingest.summary.requests == 10 * len(rests)
