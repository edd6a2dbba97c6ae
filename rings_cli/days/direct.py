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
from collections.abc import Iterator

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
from rings_cli.warehouse.local import Warehouse

_NO_VIEWS = pl.DataFrame(schema={"tenant": pl.String, "date": pl.String, **VIEW_SCHEMA})
DAYS_PER_WRITE = 512  # tenant-days whose final rows are made and committed together
COMPACT_AFTER = 16  # batches of counts held before they are added up (memory)
Day = tuple[str, str]


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
        self._streamed = False  # some held lines came from standard input

    # --- which days ---------------------------------------------------------------------------------

    def holds(self, key: Day) -> bool:
        return key in self._held

    def ended(self, keys: list[Day], now: dt.datetime) -> list[Day]:
        """The tenant-days among `keys` whose end plus the grace period is past `now`."""
        return [key for key in keys if day_end(self.config, *key) + self.grace <= now]

    def stored(self, keys: list[Day]) -> set[Day]:
        """The tenant-days among `keys` the warehouse holds (their lines are late from now on);
        the warehouse's marks of their lines are remembered."""
        present, marks = self.warehouse.held(keys, self.wait)
        self._marks.update(marks)
        return present

    # --- new days -----------------------------------------------------------------------------------

    def add(self, frame: pl.DataFrame, source: str | None) -> None:
        """Requests of held or new days (local `date`, `hour`, `day` and `line_no` columns): their
        counts and hashed page views are held until the days are complete."""
        if frame.is_empty():
            return
        for tenant, date in frame.select("tenant", "day").unique().iter_rows():
            if (tenant, date) not in self._held:
                self._held[(tenant, date)] = day_end(self.config, tenant, date) + self.grace
        if source is not None:
            self._lines.append(_lines(frame, source))
        else:
            self._streamed = True  # nothing could read these lines again: say so if they are lost
        batch = aggregate(frame.drop("day"), self.salts, self.config)
        for name, counts in batch.counts.items():
            parts = self._counts.setdefault(name, [])
            parts.append(counts)
            if len(parts) > COMPACT_AFTER:
                parts[:] = [summed(parts, _keys(name))]
        self._views.append(batch.views)

    def first_line(self, source: str) -> int | None:
        """The first line of `source` in a day still held: the source's checkpoint must not pass it."""
        firsts = [f.filter(pl.col("source") == source).get_column("first").min() for f in self._lines]
        found = [int(n) for n in firsts if isinstance(n, int)]
        return min(found) if found else None

    def complete(self, watermark: dt.datetime | None) -> int:
        """Write every held day that every input has been read past (`watermark`, UTC; None: all
        inputs are read to their end). Returns how many were written."""
        done = sorted(k for k, end in self._held.items() if watermark is None or end <= watermark)
        if not done:
            return 0
        frames = self._take(done)
        sources = frames[tables.ABSORBED].get_column("source").unique().to_list()
        self.catalog.note_direct([*sources, *([STDIN_SOURCE] if self._streamed else [])])
        self.warehouse.flush(_in_chunks(frames, done), wait=self.wait, new=True)  # none stored: see Store
        self.written.update(done)
        self.days_written += len(done)
        return len(done)

    def _take(self, done: list[Day]) -> dict[str, pl.DataFrame]:
        """The final rows of `done` (and the record of their lines), which are let go: their
        counts, page views and salts. Every held frame is split once, whatever the number of days."""
        wanted = pl.DataFrame(done, schema={"tenant": pl.String, "date": pl.String}, orient="row")

        def split(frames: list[pl.DataFrame]) -> tuple[pl.DataFrame | None, list[pl.DataFrame]]:
            if not frames:
                return None, []
            whole = pl.concat(frames, how="diagonal_relaxed")
            taken = whole.join(wanted, on=KEY, how="semi")
            kept = whole.join(wanted, on=KEY, how="anti")
            return taken, [kept] if kept.height else []

        counts: dict[str, pl.DataFrame] = {}
        for name, parts in self._counts.items():
            taken, parts[:] = split(parts)
            if taken is not None:
                counts[name] = summed([taken], _keys(name))
        views, self._views = split(self._views)
        lines, self._lines = split(self._lines)
        frames = final_tables(counts, views if views is not None else _NO_VIEWS)
        absorbed = _absorbed([lines] if lines is not None else [])
        frames[tables.ABSORBED] = _dated(absorbed)
        self._marks.update(((t, d, s), n) for t, d, s, n in absorbed.iter_rows())
        for key in done:
            del self._held[key]
            self.salts.forget(*key)
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
        their lines' record: counts only (late lines have no visitor), the daily summary anew."""
        if not self._late:
            return
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


def _in_chunks(frames: dict[str, pl.DataFrame], done: list[Day]) -> Iterator[dict[str, list[pl.DataFrame]]]:
    """The rows of `done`, DAYS_PER_WRITE tenant-days a warehouse transaction (DuckDB holds a
    transaction's rows in memory until it commits)."""
    chunk = pl.DataFrame(
        [(t, d, i // DAYS_PER_WRITE) for i, (t, d) in enumerate(done)],
        schema={"tenant": pl.String, "date": pl.String, "_chunk": pl.Int64},
        orient="row",
    ).with_columns(pl.col("date").str.to_date())
    parts: dict[int, dict[str, list[pl.DataFrame]]] = {}
    for name, frame in frames.items():
        for (index,), part in frame.join(chunk, on=KEY).partition_by("_chunk", as_dict=True).items():
            parts.setdefault(int(index), {})[name] = [part.drop("_chunk")]
    for index in sorted(parts):
        yield parts[index]


def _keys(table: str) -> list[str]:
    return [*KEY, *tables.BY_NAME[table].key_names]


def _lines(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Per tenant-day (its local `day`), the first and last line of `source` in `frame`."""
    return frame.group_by("tenant", pl.col("day").alias("date")).agg(
        source=pl.lit(source), first=pl.col("line_no").min(), line=pl.col("line_no").max()
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
