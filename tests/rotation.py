"""Rotation schedules for follow mode (issue 25): seeded, random sequences of what a web server and
logrotate do to a log, run against Rings' follower in this process, with exact per-day counts at
the end. Used by tests/test_rotation.py (CI) and benchmarks/rotation_soak.py (a thousand and more).

A schedule draws logrotate's options (create, copy or copytruncate; compress, delaycompress,
dateext, olddir; how many rotated files are kept), whether a file or a glob is followed, how many
lines each write adds (cut at random bytes, so the follower meets half-written lines) and when the
follower looks. Two drivers:

- `stepped`: the follower polls when the schedule says, between any two actions (in the middle of a
  copy or of a gzip, between a rename and the server's reopening, between a copy and its truncate).
  Nothing depends on timing, so a seed replays exactly.
- `threaded`: `Ingest.follow` runs in a thread, as in production; the schedule pauses for random
  fractions of the poll interval (the append timings), so actions land at any moment of a poll.

Every line is unique and dated. Lines written between a copytruncate's copy and its truncate go to a
day of their own (WINDOW): logrotate itself loses those the follower did not see, so that day may come
out short, never long. Every other day must come out exact, in the DO files while following and in
the warehouse after the last flush; and a batch `rings ingest` of every file left afterwards must add
nothing. A failing schedule is named by its seed: `RINGS_ROTATION_SEED=<seed>` replays it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import random
import sqlite3
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from rings_cli.warehouse.local import Warehouse
from tests.conftest import line

REPLAY = "RINGS_ROTATION_SEED"  # run only this schedule (tests/test_rotation.py, rotation_soak.py)
MODES = ("create", "copy", "copytruncate")
FIRST_DAY = dt.date(2025, 12, 1)
WINDOW = dt.date(2025, 11, 30)  # lines written between a copytruncate's copy and its truncate
POLL = 0.01  # the threaded follower's poll interval
STEP = 0.1  # how far the stepped follower's clock moves at each poll (a 1 s flush: every 10 polls)
NOW = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)  # every day of a schedule has ended by then
FINALIZE_GRACE = dt.timedelta(hours=1)
DEADLINE = float(os.environ.get("RINGS_ROTATION_DEADLINE", "120"))  # s to catch up: slow, not red


@dataclass(frozen=True)
class Plan:
    """What one schedule does, drawn from its seed: logrotate's options and the follower's."""

    seed: int
    driver: str  # stepped | threaded
    mode: str  # create | copy | copytruncate
    compress: bool
    delaycompress: bool
    dateext: bool
    olddir: bool
    glob: bool  # follow 'access.log*' (else the file access.log)
    keep: int  # logrotate's `rotate N`
    rotations: int
    flush_interval: float
    finalize: bool  # the days have ended: finalized as the follower flushes, their lines then late

    @classmethod
    def draw(cls, seed: int) -> Plan:
        rnd = random.Random(f"plan {seed}")
        compress = rnd.random() < 0.5
        plan = cls(
            seed=seed,
            driver=rnd.choice(["stepped", "threaded"]),
            mode=rnd.choice(MODES),
            compress=compress,
            delaycompress=compress and rnd.random() < 0.5,
            dateext=rnd.random() < 0.35,
            olddir=rnd.random() < 0.3,
            glob=rnd.random() < 0.5,
            keep=rnd.randint(1, 4),
            rotations=rnd.randint(2, 5),
            flush_interval=rnd.choice([1.0, 60.0]),
            finalize=rnd.random() < 0.25,
        )
        # Finalization runs with the flushes: one a second (stepped: every 10 polls).
        return replace(plan, flush_interval=1.0) if plan.finalize else plan

    def __str__(self) -> str:
        options = [self.mode, f"rotate {self.keep}"]
        options += [
            name for name in ("compress", "delaycompress", "dateext", "olddir") if getattr(self, name)
        ]
        flush = f"flush every {self.flush_interval} s" + (", finalizing" if self.finalize else "")
        followed = "'access.log*'" if self.glob else "access.log"
        return (
            f"seed {self.seed}: {self.driver} follower of {followed}{' and old/' if self.olddir else ''}, "
            f"{self.rotations} rotations ({', '.join(options)}), {flush}"
        )


@dataclass
class Outcome:
    plan: Plan
    written: Counter[str]
    counted: dict[str, int] = field(default_factory=dict)
    again: int = 0  # requests a batch ingest of every file left added afterwards
    problems: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self) -> str:
        days = sorted(set(self.written) | set(self.counted))
        table = ", ".join(f"{d}: {self.counted.get(d, 0)}/{self.written.get(d, 0)}" for d in days)
        tail = " | ".join(self.actions[-40:])
        return (
            f"{self.plan}\n  problems: {'; '.join(self.problems)}\n  counted/written per day: {table}\n"
            f"  last actions: {tail}\n  replay: {REPLAY}={self.plan.seed} "
            "python -m pytest -q -p no:cacheprovider tests/test_rotation.py"
        )


class FakeClock:
    """The stepped follower's clock: it moves only when the schedule polls."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Schedule:
    """One seeded schedule: the server's writes, logrotate's rotations, the follower's polls."""

    def __init__(self, seed: int, root: Path) -> None:
        self.plan = plan = Plan.draw(seed)
        self.rnd = random.Random(f"actions {seed}")
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        self.rotated = self.logs / "old" if plan.olddir else self.logs
        self.rotated.mkdir(exist_ok=True)
        self.live = self.logs / "access.log"
        self.state = StateDir(root / "state")
        self.written: Counter[str] = Counter()
        self.window = 0  # lines written in copytruncate windows
        self.seq = 0
        self.day = 0
        self.stamp = 0  # dateext: one date per rotation
        self.previous: Path | None = None  # the last rotation's file (delaycompress compresses it next)
        self.actions: list[str] = []
        self.server = open(self.live, "ab", buffering=0)  # noqa: SIM115 - the web server's log, O_APPEND
        self.clock = FakeClock() if plan.driver == "stepped" else None
        # The format named (detection is tested elsewhere, and costs a quarter of a second a file).
        self.ingest = Ingest(
            self.state,
            fmt="combined",
            grace=FINALIZE_GRACE if plan.finalize else None,
            now=NOW,
            clock=self.clock or time.monotonic,
        )
        self._step: Callable[[], bool] | None = None
        self._thread: threading.Thread | None = None
        self._error: str | None = None

    # --- the follower ---------------------------------------------------------------------------

    def patterns(self) -> list[str]:
        followed = str(self.logs / "access.log*") if self.plan.glob else str(self.live)
        # With olddir the rotated files are elsewhere: copytruncate's copy (and a file rotated before
        # the follower saw it) can only be read where a pattern names it (docs/follow.md).
        return [followed, *([str(self.rotated / "access.log*")] if self.plan.olddir else [])]

    def poll(self) -> None:
        assert self._step is not None and self.clock is not None
        self.clock.now += STEP
        self._step()

    def _follow(self) -> None:
        try:
            self.ingest.follow(self.patterns(), self.plan.flush_interval, poll=POLL)
        except BaseException:  # the follower must never stop: reported as a problem
            self._error = traceback.format_exc(limit=6)

    def pause(self) -> None:
        """Between two actions: the follower may look (stepped) or time may pass (threaded)."""
        r = self.rnd.random()
        if self.plan.driver == "stepped":
            for _ in range(0 if r < 0.45 else 1 if r < 0.85 else 2):
                self.poll()
        elif r < 0.45:
            return
        elif r < 0.93:
            time.sleep(self.rnd.uniform(0, 3 * POLL))
        else:
            self.wait(self.caught_up)

    def wait(self, check: Callable[[], bool]) -> bool:
        """Let the follower run until `check` holds (stepped: poll; threaded: poll the condition)."""
        if self.plan.driver == "stepped":
            for _ in range(300):
                if check():
                    return True
                self.poll()
            return check()
        deadline = time.monotonic() + DEADLINE
        while not check():
            if self._error is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    # --- what the follower has counted ----------------------------------------------------------

    def merged(self) -> dict[str, int]:
        """Requests per day in the DO files and packs (finalized days) so far."""
        out: Counter[str] = Counter()
        for path in sorted((self.state.root / "do").glob("*/*.sqlite")):
            packed = path.name.endswith(".pack.sqlite")
            try:
                con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                try:
                    if packed:
                        out.update(dict(con.execute("SELECT date, sum(requests) FROM hourly GROUP BY date")))
                    else:
                        out[path.stem] += con.execute(
                            "SELECT coalesce(sum(requests), 0) FROM hourly"
                        ).fetchone()[0]
                finally:
                    con.close()
            except sqlite3.Error:
                pass  # being made, or moved into a pack: not counted yet
        return dict(out)

    def caught_up(self) -> bool:
        merged = self.merged()
        return all(merged.get(d, 0) >= n for d, n in self.written.items() if d != str(WINDOW))

    def counted(self) -> dict[str, int]:
        """Requests per day in the warehouse, after the follower's last flush."""
        with Warehouse(self.state.warehouse_path).reader() as con:
            rows = con.execute("SELECT CAST(date AS VARCHAR), sum(requests) FROM daily GROUP BY 1").fetchall()
        return {d: int(n) for d, n in rows}

    # --- the web server -------------------------------------------------------------------------

    def lines(self, n: int, day: dt.date) -> bytes:
        date = day
        out = []
        for _ in range(n):
            self.seq += 1
            s = self.seq
            when = dt.datetime.combine(date, dt.time()) + dt.timedelta(seconds=s)
            out.append(
                line(
                    ip=f"10.{s >> 16 & 255}.{s >> 8 & 255}.{s & 255}",
                    when=when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    request=f"GET /r{self.plan.seed}/{s} HTTP/1.1",
                )
            )
        return "".join(x + "\n" for x in out).encode()

    def pieces(self, data: bytes) -> Iterator[bytes]:
        """`data` cut at 0 to 3 random bytes (a write, a copy or a gzip in several goes)."""
        cuts = sorted(
            self.rnd.sample(range(1, len(data)), min(len(data) - 1, self.rnd.choice([0, 0, 1, 2, 3])))
        )
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            yield data[start:end]

    def write(self, n: int, day: dt.date | None = None) -> None:
        if n == 0:
            return
        self.actions.append(f"write {n}" + (" (window)" if day == WINDOW else ""))
        date = day or FIRST_DAY + dt.timedelta(days=self.day)
        for piece in self.pieces(self.lines(n, date)):
            self.server.write(piece)
            self.pause()
        self.written[str(date)] += n  # now whole: the follower can read them all

    # --- logrotate ------------------------------------------------------------------------------

    def rotate(self) -> None:
        plan = self.plan
        target = self._make_room()
        self.actions.append(f"rotate to {target.relative_to(self.logs)}")
        if plan.mode == "create":
            os.rename(self.live, target)
            self.pause()
            open(self.live, "ab").close()  # logrotate's `create`
            self.pause()
            for _ in range(self.rnd.choice([0, 0, 1, 2])):  # the server writes on until it reopens
                self.write(self.rnd.randint(1, 4))
            self.server.close()
            self.server = open(self.live, "ab", buffering=0)  # noqa: SIM115 - postrotate: reopened
            self.actions.append("reopen")
        else:
            self._copy(self.live, target)
            if plan.mode == "copytruncate":
                if self.rnd.random() < 0.35:
                    self.write(self.rnd.randint(1, 3), WINDOW)
                os.truncate(self.live, 0)
                self.actions.append("truncate")
        self.pause()
        if plan.compress:
            if not plan.delaycompress:
                self._compress(target)
            elif self.previous is not None:
                self._compress(self.previous)
        self.previous = target if plan.dateext else self.rotated / "access.log.2"
        self._expire_dated()

    def _make_room(self) -> Path:
        """The name this rotation's file gets; numbered ones shift up first (the oldest goes)."""
        if self.plan.dateext:
            self.stamp += 1
            return self.rotated / f"access.log-{dt.date(2026, 1, 1) + dt.timedelta(days=self.stamp):%Y%m%d}"
        for i in range(self.plan.keep, 0, -1):
            for suffix in ("", ".gz"):
                old = self.rotated / f"access.log.{i}{suffix}"
                if old.exists():
                    if i == self.plan.keep:
                        self.expire(old)
                    else:
                        os.rename(old, self.rotated / f"access.log.{i + 1}{suffix}")
                    self.pause()
        return self.rotated / "access.log.1"

    def _expire_dated(self) -> None:
        if not self.plan.dateext:
            return
        dated = sorted(p for p in self.rotated.glob("access.log-*"))
        stamps = sorted({p.name[len("access.log-") :][:8] for p in dated})
        for stamp in stamps[: -self.plan.keep]:
            for p in dated:
                if p.name.startswith(f"access.log-{stamp}"):
                    self.expire(p)

    def expire(self, path: Path) -> None:
        """logrotate deletes the oldest rotated file (`rotate N`). Only once the follower has read
        every line: a file rotated N times and deleted between two of its looks was never seen."""
        self.wait(self.caught_up)
        path.unlink()
        self.actions.append(f"delete {path.name}")
        self.pause()

    def _copy(self, source: Path, dest: Path) -> None:
        data = source.read_bytes()
        self.actions.append(f"copy {len(data)} bytes")
        with open(dest, "wb", buffering=0) as out:
            self.pause()  # created, still empty
            for piece in self.pieces(data) if data else ():
                out.write(piece)
                self.pause()

    def _compress(self, plain: Path) -> None:
        if not plain.exists():
            return
        data = gzip.compress(plain.read_bytes())
        self.actions.append(f"gzip {plain.name}")
        with open(plain.with_name(plain.name + ".gz"), "wb", buffering=0) as out:
            self.pause()  # created, still empty
            for piece in self.pieces(data):
                out.write(piece)
                self.pause()
        plain.unlink()
        self.pause()

    # --- the whole schedule ---------------------------------------------------------------------

    def run(self) -> Outcome:
        outcome = Outcome(self.plan, self.written, actions=self.actions)
        with ExitStack() as stack:
            stack.callback(self.server.close)
            if self.plan.driver == "stepped":
                self._step = stack.enter_context(
                    self.ingest.following(self.patterns(), self.plan.flush_interval)
                )
            else:
                self._thread = threading.Thread(target=self._follow, daemon=True)
                self._thread.start()
                stack.callback(self._stop)
            # Under --follow: the schedule begins once the follower looks (what a follower finds there
            # when it starts is another matter: docs/follow.md).
            self.wait(lambda: self.ingest.summary.polls >= 1)
            if self.rnd.random() < 0.5:
                self.write(self.rnd.randint(1, 20))
            self.pause()
            for _ in range(self.plan.rotations):
                for _ in range(self.rnd.randint(1, 3)):
                    if self.rnd.random() < 0.3:
                        self.day += 1
                    self.write(self.rnd.choice([0, 1, 2, 3, 7, 12, 40, 90]))
                self.rotate()
            self.write(self.rnd.randint(1, 10))
            if not self.wait(self.caught_up):
                outcome.problems.append("the follower did not read every line")
            if self._error is None:  # a few more looks: a copy read again would count twice now
                polls = self.ingest.summary.polls
                self.wait(lambda: self.ingest.summary.polls >= polls + 3)
        if self._error is not None:
            outcome.problems.append(f"the follower stopped: {self._error}")
            return outcome
        self._check(outcome)
        return outcome

    def _stop(self) -> None:
        self.ingest.stop()
        assert self._thread is not None
        self._thread.join(timeout=DEADLINE)
        if self._thread.is_alive():
            self._error = "it did not stop when asked"

    def _check(self, outcome: Outcome) -> None:
        outcome.counted = counted = self.counted()
        for day, n in sorted(self.written.items()):
            got = counted.get(day, 0)
            if day == str(WINDOW):
                if got > n:
                    outcome.problems.append(f"{day} (copytruncate windows): {got} counted, {n} written")
            elif got != n:
                outcome.problems.append(f"{day}: {got} counted, {n} written")
        for day in sorted(set(counted) - set(self.written)):
            outcome.problems.append(f"{day}: {counted[day]} counted, none written")
        files = sorted(str(p) for p in self.logs.rglob("access.log*") if p.is_file())
        if files:
            again = Ingest(self.state, fmt="combined", grace=None, now=NOW).run(files)
            outcome.again = again.requests
            if again.requests:
                outcome.problems.append(f"a batch ingest of the files left afterwards added {again.requests}")


def run_schedule(seed: int, root: Path) -> Outcome:
    return Schedule(seed, root).run()


def seeds(default: int, first: int = 1) -> list[int]:
    """The schedules to run: the one RINGS_ROTATION_SEED names, else `default` of them from `first`."""
    replay = os.environ.get(REPLAY)
    if replay:
        return [int(replay)]
    return list(range(first, first + default))
