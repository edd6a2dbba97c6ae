"""The merge plan: one batch of classified requests into the DO files of its tenant-days.

Per group of tenant-days (their DO files stay open meanwhile): drop lines a DO file has already
absorbed, mark lines of finalized tenant-days late, aggregate, compute the visitor-metric deltas
from the stored page views of the visitors the batch touches, and merge each tenant-day in one
transaction. A damaged DO file costs only its own lines (counted as rejected). Moved out of
ingest.py so that it can be read and tested alone; it knows nothing of files or terminals.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import polars as pl

from rings_cli.aggregate import aggregate
from rings_cli.config import Config
from rings_cli.docache import MAX_OPEN_DO_FILES, DoFileCache
from rings_cli.errors import DamagedStateError
from rings_cli.lifecycle import label
from rings_cli.sessions import metric_deltas
from rings_cli.zones import with_local_time

if TYPE_CHECKING:
    from rings_cli.catalog import Catalog
    from rings_cli.ingest import IngestSummary
    from rings_cli.parse import Rejects
    from rings_cli.privacy import SaltStore

DAMAGED = "damaged state"  # a line for a tenant-day whose DO file cannot be used (see rings check)
MERGE_GROUP = MAX_OPEN_DO_FILES  # tenant-days merged together: all their DO files stay open meanwhile


class Merger:
    """Merges batches into DO files for one ingest session (catalog, salts and cache open)."""

    def __init__(
        self,
        catalog: Catalog,
        salts: SaltStore,
        do_files: DoFileCache,
        summary: IngestSummary,
        rejects: Rejects,
        config: Config | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config  # whose hosts are whose: referrals between them are internal
        self.salts = salts
        self.summary = summary
        self._do_files = do_files
        self._rejects = rejects
        self._closed: set[tuple[str, str]] | None = None  # finalized tenant-days, read after each finalize
        self._damaged_days: set[tuple[str, str]] = set()

    def forget_finalized(self) -> None:
        """Finalization closed tenant-days: read the catalog's list again before the next merge."""
        self._closed = None

    def merge(self, frame: pl.DataFrame, source: str | None = None) -> bool:
        """`_merge_group` for each group of at most MERGE_GROUP tenant-days of the batch, so that
        each group's DO files stay open from its first look to its merge (no open/close churn)."""
        if self._closed is None:
            self._closed = self.catalog.finalized_days()
        # The tenant's local date and hour (zones.py): a tenant-day is the tenant's day.
        frame = with_local_time(frame, self.config or Config()).with_columns(
            day=pl.col("date").cast(pl.String)
        )
        keys = frame.select("tenant", "day").unique().sort("tenant", "day").rows()
        # Listed (and dirty) before `_unabsorbed` opens, and maybe creates, their DO files.
        self.catalog.mark_dirty(keys)
        if len(keys) <= MERGE_GROUP:
            return self._merge_group(frame, source)
        # Each group's rows by a filter: one group's copy at a time, not the whole batch split up
        # front (at 1,000 tenants that copy was a second batch in memory). Rows keep their order.
        frame = frame.with_columns(_key=pl.col("tenant") + "/" + pl.col("day"))
        complete = True
        for start in range(0, len(keys), MERGE_GROUP):
            names = pl.Series([f"{t}/{d}" for t, d in keys[start : start + MERGE_GROUP]])
            group = frame.filter(pl.col("_key").is_in(names.implode())).drop("_key")
            complete = self._merge_group(group, source) and complete
            del group
        return complete

    def _merge_group(self, frame: pl.DataFrame, source: str | None = None) -> bool:
        """Classified requests → per tenant-day deltas → DO files (listed and dirty-marked first).

        With a `source` fingerprint, lines a DO file has already absorbed (re-read after a crash)
        are skipped for that file, and each merge records the last line it absorbed. Lines of a
        finalized tenant-day are late: they add the counts that need no visitor (see `merge`),
        never a salt or a hash. DO files are opened one at a time under MAX_OPEN_DO_FILES, however
        many tenant-days a batch touches. Returns False when a tenant-day's DO file was damaged:
        its lines are counted as rejected (`damaged state`), the others merged.
        """
        summary = self.summary
        frame = self._unabsorbed(frame, source)
        per_day = frame.group_by("tenant", "day").agg(last=pl.col("line_no").max())
        last_lines = {(t, d): n for t, d, n in per_day.iter_rows()}
        usable = frame
        if self._damaged_days:  # their lines are lost (counted below): nobody of them is hashed
            damaged = pl.DataFrame(sorted(self._damaged_days), schema=["tenant", "day"], orient="row")
            usable = frame.join(damaged, on=["tenant", "day"], how="anti")
        if usable.get_column("late").any():
            on_time = usable.filter(~pl.col("late")).drop("day", "late")
            late_part = usable.filter(pl.col("late")).drop("day", "late")
        else:  # the usual case: no filtered copy of the whole batch
            on_time = usable.drop("day", "late")
            late_part = on_time.clear()
        batches = aggregate(on_time, self.salts, self.config)
        del on_time
        late_batches = aggregate(late_part, None, self.config) if late_part.height else []
        # Visitor metrics for the whole batch at once: stored views of the visitors it touches, + new.
        before, new, healthy = [], [], []
        for batch in batches:
            if (batch.tenant, batch.date) in self._damaged_days:
                continue
            day = [pl.lit(batch.tenant).alias("tenant"), pl.lit(batch.date).alias("date")]
            try:
                do = self._do_files.open(batch.tenant, batch.date)
                do.bound(batch)  # paths past the day's row limit count as "(other)", views too
                stored = do.views_of(batch.views.get_column("visitor"))
            except DamagedStateError as e:
                self._damaged(batch.tenant, batch.date, e)
                continue
            healthy.append(batch)
            new.append(batch.views.select(*day, pl.all()))
            before.append(stored.select(*day, pl.all()))
        deltas = metric_deltas(pl.concat(before), pl.concat(new)) if healthy else {}
        parts = {
            name: delta.partition_by("tenant", "date", as_dict=True, include_key=False)
            for name, delta in deltas.items()
        }
        late = {(b.tenant, b.date) for b in late_batches}
        for batch in healthy + [b for b in late_batches if (b.tenant, b.date) not in self._damaged_days]:
            key = (batch.tenant, batch.date)
            absorbed = (source, last_lines[key]) if source is not None else None
            mine = {name: part[key] for name, part in parts.items() if key in part}
            try:
                do = self._do_files.open(*key)
                if key in late:
                    do.bound(batch)
                do.merge(batch, mine, absorbed, late=key in late)
            except DamagedStateError as e:
                self._damaged(*key, e)
                continue
            summary.tenants.add(batch.tenant)
            summary.days.add(batch.date)
            if key in late:
                summary.late_tenant_days.add(label(*key))
        lost = [k for k in last_lines if k in self._damaged_days]
        if lost:
            lost_keys = pl.DataFrame(lost, schema=["tenant", "day"], orient="row")
            n_lost = frame.join(lost_keys, on=["tenant", "day"]).height
            self._rejects.add(DAMAGED, n_lost)
            summary.parsed -= n_lost
            frame = frame.join(lost_keys, on=["tenant", "day"], how="anti")
        summary.requests += frame.height
        summary.page_views += int(frame.get_column("is_page_view").sum())
        summary.bot_requests += int(frame.get_column("is_bot").sum())
        summary.late_lines += int(frame.get_column("late").sum())
        return not lost

    def _damaged(self, tenant: str, date: str, error: DamagedStateError) -> None:
        """A tenant-day whose DO file cannot be used: close it, remember it, name it once."""
        do = self._do_files.pop((tenant, date), None)
        if do is not None:
            with contextlib.suppress(Exception):
                do.close()
        if (tenant, date) not in self._damaged_days:
            self._damaged_days.add((tenant, date))
            self.summary.damaged_state.append(str(error))

    def _unabsorbed(self, frame: pl.DataFrame, source: str | None) -> pl.DataFrame:
        """Mark each row `late` (its tenant-day is finalized: in the catalog, or its DO file says
        so) and, with a `source`, drop rows whose DO file already holds their line."""
        closed = self._closed or set()
        marks = []
        for tenant, day in frame.select("tenant", "day").unique().iter_rows():
            if (tenant, day) in self._damaged_days:
                continue  # its lines are counted as `damaged state` by _merge, never hashed
            try:
                do = self._do_files.open(tenant, day)
                absorbed = do.absorbed(source) if source is not None else -1
                marks.append((tenant, day, absorbed, (tenant, day) in closed or do.finalized))
            except DamagedStateError as e:
                self._damaged(tenant, day, e)
        if all(absorbed < 0 and not late for _, _, absorbed, late in marks):
            return frame.with_columns(late=pl.lit(False))  # nothing to drop: no copy of the batch
        # Damaged tenant-days keep their rows (absorbed -1) so _merge counts them as rejected.
        table = pl.DataFrame(
            marks,
            schema={"tenant": pl.String, "day": pl.String, "absorbed": pl.Int64, "late": pl.Boolean},
            orient="row",
        )
        frame = frame.join(table, on=["tenant", "day"], how="left").with_columns(
            pl.col("absorbed").fill_null(-1), pl.col("late").fill_null(False)
        )
        return frame.filter(pl.col("line_no") > pl.col("absorbed")).drop("absorbed")
