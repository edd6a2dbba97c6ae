"""Ended tenant-days straight to the warehouse: aggregated in memory over a run, written once.

A tenant-day that has already ended (its end plus the grace period is past) when a batch run first
meets it, with no DO file and no row in the warehouse, needs no durable scratch: every line of it
the run will see is in the run's inputs. Its counts and hashed page views are held in memory, under
a salt that is never written (nothing is left to destroy), until every input has been read past its
end (the run's watermark, ingest/run.py). Then its final rows (count/final.py) go to the warehouse
as a finalized day, in one transaction with the record of the lines they came from (`absorbed`: per
source, the last line), and the day is forgotten.

A later line of such a day is late, as for a finalized DO file: its counts (never a visitor) are
added to the warehouse's rows, with its lines recorded in the same transaction; a line the
warehouse already holds (a file read again) is dropped first, so nothing is counted twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl

from rings_cli.core import tables
from rings_cli.core.config import Config
from rings_cli.core.privacy import MemorySalts
from rings_cli.count.aggregate import aggregate
from rings_cli.count.final import BOUNDED, KEY, complete, daily_of, final_tables, summed
from rings_cli.count.sessions import VIEW_SCHEMA
from rings_cli.enrich.breakdowns import ROW_LIMIT, bound_keys, fold_keys
from rings_cli.enrich.zones import day_end
from rings_cli.store.catalog import STDIN_SOURCE, Catalog
from rings_cli.warehouse.base import Warehouse

_NO_VIEWS = pl.DataFrame(schema={"tenant": pl.String, "date": pl.String, **VIEW_SCHEMA})
_NO_LINES = pl.DataFrame(
    schema={"tenant": pl.String, "date": pl.String, "source": pl.String, "first": pl.Int64, "line": pl.Int64}
)
LINES = "(lines)"  # beside the tables of a ready day: its lines per source (checkpoints)
# Final rows wait in memory until they are this big, or the run ends: a run writes few times (each
# write opens the warehouse; DuckDB loaded mid-run would sit on top of the batches' memory).
READY_BYTES = 16 * 1024 * 1024
READY_SECONDS = 10.0  # ... or until the first of them has waited this long
# Tenant-days whose final rows are made at once: about this many requests (their page views'
# sessions are the working set), however many days that is (an archive's days are small).
TAKE_REQUESTS = 256 * 1024
COMPACT_AFTER = 16  # batches of counts held before they are added up (memory)
Day = tuple[str, str]


@dataclass
class Spilled:
    """Held days let go to go on in DO files: what memory held of them."""

    keys: list[Day]
    counts: dict[str, pl.DataFrame]  # per table, summed (date as text)
    views: pl.DataFrame  # hashed page views
    lines: pl.DataFrame | None  # tenant, date, source, first, line
    salts: dict[Day, bytes]


class DirectDays:
    """The ended tenant-days of one run that go straight to the warehouse (see the module)."""

    def __init__(
        self, warehouse: Warehouse, catalog: Catalog, config: Config, grace: dt.timedelta, wait: float
    ) -> None:
        self.warehouse = warehouse
        self.catalog = catalog  # notes which files fed these days (the warehouse is their only copy)
        self.config = config
        self.grace = grace
        self.wait = wait  # for readers to let go of the warehouse
        self.salts = MemorySalts()
        self.written: set[Day] = set()  # by this run, as finalized days
        self.days_written = 0
        self._held: dict[Day, dt.datetime] = {}  # day -> when its inputs have passed it (UTC)
        self._counts: dict[str, list[pl.DataFrame]] = {}
        self._views: list[pl.DataFrame] = []
        self._lines: list[pl.DataFrame] = []  # tenant, date, source, first, last
        self._marks: dict[tuple[str, str, str], int] = {}  # the warehouse's `absorbed`, as known
        self._late: list[tuple[pl.DataFrame, str | None]] = []  # late lines to add, with their source
        self._stored: set[Day] | None = None  # the warehouse's tenant-days when the run began
        self._held_lines: dict[Day, int] = {}  # requests held per day (what a stop drops)
        # Days whose final rows are made, not written yet: (frames by table, and LINES), keys.
        self._ready: list[tuple[dict[str, pl.DataFrame], list[Day]]] = []
        self._ready_since = 0.0  # when the first of them was made (time.monotonic)
        self._streamed = False  # some held lines came from standard input

    # --- which days ---------------------------------------------------------------------------------

    def holds(self, key: Day) -> bool:
        return key in self._held

    def ended(self, keys: list[Day], now: dt.datetime) -> list[Day]:
        """The tenant-days among `keys` whose end plus the grace period is past `now`."""
        return [key for key in keys if day_end(self.config, *key) + self.grace <= now]

    def stored(self, keys: list[Day]) -> set[Day]:
        """The tenant-days among `keys` the warehouse holds (their lines are late from now on);
        the warehouse's marks of their lines are remembered. The warehouse's tenant-days are read
        once a run, then known: this run writes the only new ones."""
        if self._stored is None:
            self._stored = self.warehouse.days(self.wait)
        found = [key for key in keys if key in self._stored or key in self.written]
        if found:
            _, marks = self.warehouse.held(found, self.wait)
            self._marks.update(marks)
        return set(found)

    # --- new days -----------------------------------------------------------------------------------

    def add(self, frame: pl.DataFrame, source: str | None) -> None:
        """Requests of held or new days (local `date`, `hour`, `day` and `line_no` columns): their
        counts and hashed page views are held until the days are complete."""
        if frame.is_empty():
            return
        for tenant, date, n in frame.group_by("tenant", "day").len().iter_rows():
            if (tenant, date) not in self._held:
                self._held[(tenant, date)] = day_end(self.config, tenant, date) + self.grace
            self._held_lines[(tenant, date)] = self._held_lines.get((tenant, date), 0) + n
        if source is not None:
            self._lines.append(_owned(_lines(frame, source)))
            if len(self._lines) > COMPACT_AFTER:
                self._lines[:] = [_compact_lines(self._lines)]
        else:
            self._streamed = True  # nothing could read these lines again: say so if they are lost
        batch = aggregate(frame.drop("day"), self.salts, self.config)
        for name, counts in batch.counts.items():
            parts = self._counts.setdefault(name, [])
            parts.append(_owned(counts))
            if len(parts) > COMPACT_AFTER:
                parts[:] = [summed(parts, _keys(name))]
        self._views.append(_owned(batch.views))

    def first_line(self, source: str) -> int | None:
        """The first line of `source` in a day not written yet (held, or ready): the source's
        checkpoint must not pass it."""
        # Series kernels, not a query: asked after each batch, per file being read, and a query
        # waits for a turn on Polars' threads, busy with the next batch's parse.
        firsts = [
            f.get_column("first").filter(f.get_column("source") == source).min()
            for f in (*self._lines, *(frames[LINES] for frames, _ in self._ready))
        ]
        return min((int(n) for n in firsts if isinstance(n, int)), default=None)

    def complete(self, watermark: dt.datetime | None) -> int:
        """Make the final rows of every held day that every input has been read past
        (`watermark`, UTC; None: all inputs are read to their end), and write them once they
        are READY_BYTES, or at `watermark` None. Returns how many days were written."""
        done = sorted(k for k, end in self._held.items() if watermark is None or end <= watermark)
        written = 0
        for frames, group in self._take(done):  # bounded working sets, however many days
            if not self._ready:
                self._ready_since = time.monotonic()
            self._ready.append((frames, group))
            if sum(f.estimated_size() for frames, _ in self._ready for f in frames.values()) >= READY_BYTES:
                written += self.write()
        # Written at the end, or once READY_SECONDS old: a long import's checkpoints move on.
        waited = self._ready and time.monotonic() - self._ready_since >= READY_SECONDS
        return written + (self.write() if watermark is None or waited else 0)

    def held_days(self) -> int:
        """Days held in memory or ready, not written yet."""
        return len(self._held) + sum(len(keys) for _, keys in self._ready)

    def held_requests(self) -> int:
        """Requests of days held or ready, not written yet: a run stopped now drops them (their
        lines are read again next time: the checkpoints stayed before them)."""
        return sum(self._held_lines.values())

    def held_bytes(self) -> int:
        """About how much memory the held days take (their counts, page views and lines)."""
        frames = [*(p for parts in self._counts.values() for p in parts), *self._views, *self._lines]
        return int(sum(f.estimated_size() for f in frames))

    def release(self, share: float) -> Spilled | None:
        """Let go of the held days that end first, about `share` of them, with everything held of
        them (counts, page views, their lines per source, their salts): they go on in DO files
        (ingest/store.py), like a day a run meets while it is open."""
        if not self._held:
            return None
        keys = sorted(self._held, key=lambda k: (self._held[k], k))
        keys = keys[: max(1, int(len(keys) * share))]
        wanted = pl.DataFrame(keys, schema={"tenant": pl.String, "date": pl.String}, orient="row")
        counts = {}
        for name, parts in self._counts.items():
            taken, parts[:] = _split(parts, wanted)
            if taken is not None:
                counts[name] = summed([taken], _keys(name))
        views, self._views = _split(self._views, wanted)
        lines, self._lines = _split(self._lines, wanted)
        salts = {key: self.salts.pop(*key) for key in keys if self.salts.has(*key)}
        for key in keys:
            del self._held[key]
            self._held_lines.pop(key, None)
        return Spilled(keys, counts, views if views is not None else _NO_VIEWS, lines, salts)

    def write(self) -> int:
        """The ready days into the warehouse, one transaction per group of days as they were made
        (no copy of their rows), the files they came from noted first in the catalog (the
        warehouse is their only copy). Returns how many days."""
        if not self._ready:
            return 0
        done = [key for _, keys in self._ready for key in keys]
        sources = {s for frames, _ in self._ready for s in frames[LINES].get_column("source").unique()}
        self.catalog.note_direct([*sorted(sources), *([STDIN_SOURCE] if self._streamed else [])])
        chunks = ({name: [f] for name, f in frames.items() if name != LINES} for frames, _ in self._ready)
        self.warehouse.flush(chunks, wait=self.wait, new=True)  # none stored: see Store
        self._ready = []
        for key in done:
            self._held_lines.pop(key, None)
        self.written.update(done)
        self.days_written += len(done)
        return len(done)

    def _take(self, done: list[Day]) -> Iterator[tuple[dict[str, pl.DataFrame], list[Day]]]:
        """The final rows of `done` (and the record of their lines), in groups of about
        TAKE_REQUESTS requests; their counts, page views and salts are let go. Every held frame
        is split once, whatever the number of days; each group is then taken from what was."""
        if not done:
            return
        # Every held day (the end of a run): the held frames are taken whole, with no join.
        every = len(done) == len(self._held)
        wanted = (
            None
            if every
            else pl.DataFrame(done, schema={"tenant": pl.String, "date": pl.String}, orient="row")
        )
        counts: dict[str, pl.DataFrame] = {}
        for name, parts in self._counts.items():
            taken, parts[:] = _split(parts, wanted)
            if taken is not None:
                counts[name] = summed([taken], _keys(name))
        views, self._views = _split(self._views, wanted)
        lines, self._lines = _split(self._lines, wanted)
        groups = _groups(done, self._held_lines)
        for key in done:
            del self._held[key]
            self.salts.forget(*key)
        if len(groups) == 1:
            yield self._final(counts, views, lines), done
            return
        for group in groups:  # one group's rows at a time beside what is taken (memory)
            keys = pl.DataFrame(group, schema={"tenant": pl.String, "date": pl.String}, orient="row")
            part = {name: frame.join(keys, on=KEY, how="semi") for name, frame in counts.items()}
            yield self._final(part, _of(views, keys), _of(lines, keys)), group

    def _final(
        self, counts: dict[str, pl.DataFrame], views: pl.DataFrame | None, lines: pl.DataFrame | None
    ) -> dict[str, pl.DataFrame]:
        """Final rows of some taken days (and the record of their lines); their marks noted."""
        frames = final_tables(counts, views if views is not None else _NO_VIEWS, self.config)
        absorbed = _absorbed([lines] if lines is not None else [])
        frames[tables.ABSORBED] = _dated(absorbed)
        frames[LINES] = lines if lines is not None else _NO_LINES
        self._marks.update(((t, d, s), n) for t, d, s, n in absorbed.iter_rows())
        return frames

    # --- late lines ---------------------------------------------------------------------------------

    def add_late(self, frame: pl.DataFrame, source: str | None) -> pl.DataFrame:
        """Lines of days the warehouse holds: those it holds already (a file read again) are
        dropped; the rest are queued to be added (counts only). Returns what is kept."""
        if source is not None and self._marks:
            marks = pl.DataFrame(
                [(t, d, n) for (t, d, s), n in self._marks.items() if s == source],
                schema={"tenant": pl.String, "day": pl.String, "_mark": pl.Int64},
                orient="row",
            )
            if marks.height:
                frame = (
                    frame.join(marks, on=["tenant", "day"], how="left")
                    .filter(pl.col("_mark").is_null() | (pl.col("line_no") > pl.col("_mark")))
                    .drop("_mark")
                )
        if frame.height:
            self._late.append((frame, source))
        return frame

    def write_late(self) -> None:
        """Add the queued late lines to the warehouse's rows of their days, in one transaction with
        their lines' record: counts only (late lines have no visitor), the daily summary anew.
        Days ready to be written are written first: their late lines add to what they hold."""
        if not self._late:
            return
        self.write()
        lines = [_lines(f, s) for f, s in self._late if s is not None]
        streamed = [STDIN_SOURCE] if any(s is None for _, s in self._late) else []
        frame = pl.concat([f for f, _ in self._late], how="diagonal_relaxed")
        self._late = []
        keys = sorted(set(frame.select("tenant", "day").unique().iter_rows()))
        late = aggregate(frame.drop("day").with_columns(late=pl.lit(True)), None, self.config)
        old = self.warehouse.rows_of(keys, self.wait)
        out: dict[str, pl.DataFrame] = {}
        for table in tables.TABLES:
            if table is tables.DAY:
                continue
            stored = old.get(table.warehouse_name)
            delta = late.counts.get(table.name)
            if delta is not None and stored is not None and table.name in BOUNDED:
                delta = _bound(delta, stored)
            parts = [p for p in (stored, delta) if p is not None and p.height]
            if parts:
                out[table.warehouse_name] = complete(summed(parts, _keys(table.name)), table)
        daily = old.get(tables.DAY.warehouse_name)
        visitors = daily.select(*KEY, *tables.DAY.of_kind("visitor")) if daily is not None else None
        out[tables.DAY.warehouse_name] = daily_of(out, visitors)
        absorbed = _absorbed([*lines, *([old[tables.ABSORBED]] if tables.ABSORBED in old else [])])
        out[tables.ABSORBED] = absorbed
        self.catalog.note_direct([*absorbed.get_column("source").unique().to_list(), *streamed])
        self._marks.update(((t, d, s), n) for t, d, s, n in absorbed.iter_rows())
        self.warehouse.flush([{name: [_dated(f)] for name, f in out.items()}], wait=self.wait)


def _split(
    frames: list[pl.DataFrame], wanted: pl.DataFrame | None
) -> tuple[pl.DataFrame | None, list[pl.DataFrame]]:
    """The rows of the `wanted` tenant-days (None: all), and the rest (in one frame): each frame
    split once."""
    if not frames:
        return None, []
    whole = pl.concat(frames, how="diagonal_relaxed")
    if wanted is None:
        return whole, []
    kept = whole.join(wanted, on=KEY, how="anti")
    return whole.join(wanted, on=KEY, how="semi"), [kept] if kept.height else []


def _groups(done: list[Day], requests: dict[Day, int]) -> list[list[Day]]:
    """`done` in runs of about TAKE_REQUESTS requests (a day bigger than that alone)."""
    groups: list[list[Day]] = [[]]
    size = 0
    for key in done:
        if groups[-1] and size >= TAKE_REQUESTS:
            groups.append([])
            size = 0
        groups[-1].append(key)
        size += requests.get(key, 0)
    return groups


def _of(frame: pl.DataFrame | None, keys: pl.DataFrame) -> pl.DataFrame | None:
    """The rows of `frame` of the tenant-days `keys`."""
    return None if frame is None else frame.join(keys, on=KEY, how="semi")


def _owned(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its text in buffers of its own. A string column filtered or grouped out of a
    batch may keep pointing into the batch's buffers (Polars' string views), so a few kilobytes
    held from each batch would keep every batch's text alive: copied, they keep only themselves."""
    return frame.with_columns(pl.col(pl.String) + pl.lit(""))


def _keys(table: str) -> list[str]:
    return [*KEY, *tables.BY_NAME[table].key_names]


def _lines(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Per tenant-day (its local `day`), the first and last line of `source` in `frame`."""
    return frame.group_by("tenant", pl.col("day").alias("date")).agg(
        source=pl.lit(source), first=pl.col("line_no").min(), line=pl.col("line_no").max()
    )


def _compact_lines(lines: list[pl.DataFrame]) -> pl.DataFrame:
    """Many batches' lines per tenant-day and source in one frame: the first and the last."""
    return (
        pl.concat(lines, how="vertical_relaxed")
        .group_by("tenant", "date", "source")
        .agg(pl.col("first").min(), pl.col("line").max())
    )


def _absorbed(lines: list[pl.DataFrame]) -> pl.DataFrame:
    """The warehouse's `absorbed` rows: per tenant-day and source, the last line."""
    schema = {"tenant": pl.String, "date": pl.String, "source": pl.String, "line": pl.Int64}
    parts = [f.select(list(schema)).cast(schema) for f in lines]  # type: ignore[arg-type]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).group_by("tenant", "date", "source").agg(pl.col("line").max())


def _dated(frame: pl.DataFrame) -> pl.DataFrame:
    """`date` as the warehouse has it (a date, not a string)."""
    return frame.with_columns(pl.col("date").cast(pl.String).str.to_date())


def _bound(delta: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """Late paths that would take a day past ROW_LIMIT count under OTHER (as in a DO file)."""
    out = []
    for (tenant, date), part in delta.group_by(KEY):
        have = stored.filter((pl.col("tenant") == tenant) & (pl.col("date") == date)).get_column("path")
        keep = bound_keys(part.get_column("path"), have, have.len(), ROW_LIMIT)
        out.append(fold_keys(part, "path", keep))
    return pl.concat(out) if out else delta
