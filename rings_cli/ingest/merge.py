"""The merge plan: one batch of classified requests into the DO files of its tenant-days.

Per group of tenant-days (their DO files stay open meanwhile): drop lines a DO file has already
absorbed, mark lines of finalized tenant-days late, aggregate, compute the visitor-metric deltas
from the stored page views of the visitors the batch touches, and merge each tenant-day in one
transaction. A damaged DO file costs only its own lines (counted as rejected). It knows nothing
of files or terminals; what a merge did comes back as a `Merged`, which the run adds to its summary.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from rings_cli.core import tables
from rings_cli.core.config import Config
from rings_cli.core.errors import DamagedStateError
from rings_cli.core.goals import fingerprint
from rings_cli.count.aggregate import BatchTables, aggregate
from rings_cli.count.goals import recount
from rings_cli.count.sessions import VIEW_SCHEMA, metric_deltas
from rings_cli.count.times import TIME_PATHS
from rings_cli.days.direct import Spilled
from rings_cli.enrich.breakdowns import OTHER, ROW_LIMIT, bound_keys
from rings_cli.enrich.zones import with_local_day
from rings_cli.ingest.ahead import BATCH_WORK
from rings_cli.store.docache import MAX_OPEN_DO_FILES, DoFileCache
from rings_cli.store.dofile import DayRows, Look
from rings_cli.store.lifecycle import label
from rings_cli.store.pack import pack_path

if TYPE_CHECKING:
    from rings_cli.core.privacy import SaltStore
    from rings_cli.store.catalog import Catalog

DAMAGED = "damaged state"  # a line for a tenant-day whose DO file cannot be used (see rings check)
MERGE_GROUP = MAX_OPEN_DO_FILES  # tenant-days whose DO files stay open from stored views to merge
DAY = ["tenant", "date"]
SEEN_LIMIT = 100_000  # DO file states remembered between batches (a few hundred bytes each)
NEW_FILE = Look(
    -1, finalized=False, has_views=False, rows_at_most=dict.fromkeys(("pages", "not_found", "path_times"), 0)
)
# Tables with at most so many distinct paths a tenant-day (the rest under OTHER), and their keys.
BOUNDED = {"pages": ROW_LIMIT, "not_found": ROW_LIMIT, "path_times": TIME_PATHS}


@dataclass
class Merged:
    """What one merge did: its lines by kind, the tenant-days it merged into, and what it lost."""

    requests: int = 0
    page_views: int = 0
    bot_requests: int = 0
    late_lines: int = 0  # lines of finalized tenant-days: counted, their visitors not
    lost: int = 0  # lines of tenant-days whose DO file is damaged (rejected as DAMAGED)
    tenant_days: set[tuple[str, str]] = field(default_factory=set)
    late_tenant_days: set[str] = field(default_factory=set)  # `tenant/date`
    damaged: list[str] = field(default_factory=list)  # one line per DO file found damaged
    do_files: int = 0  # DO files merged into (to be synced before the batch's checkpoint)

    @property
    def complete(self) -> bool:
        """No line lost to a damaged DO file (the source's checkpoint may advance)."""
        return self.lost == 0


class Merger:
    """Merges batches into DO files for one ingest session (catalog, salts and cache open)."""

    def __init__(
        self,
        catalog: Catalog,
        salts: SaltStore,
        do_files: DoFileCache,
        config: Config | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config  # whose hosts are whose: referrals between them are internal
        self.salts = salts
        self._do_files = do_files
        self._result = Merged()  # of the merge under way
        self._closed: set[tuple[str, str]] | None = None  # finalized tenant-days, read after each finalize
        self._damaged_days: set[tuple[str, str]] = set()
        self._forward = False  # the direction of the last pass over DO files (see _in_turn)
        # (tenant, date, source) -> the DO file's state after this session's last merge into it.
        self._seen: dict[tuple[str, str, str | None], Look] = {}

    def _aggregate(
        self, frame: pl.DataFrame, source: str | None
    ) -> tuple[BatchTables, pl.DataFrame, dict[tuple[str, str], _Look], dict[tuple[str, str], int]]:
        """A batch's Polars part of `merge`: its tenant-days listed and looked at, its absorbed
        lines dropped, its deltas aggregated and bounded."""
        if self._closed is None:
            self._closed = self.catalog.finalized_days()
        if "day" not in frame.columns:  # the tenant's local date and hour: its day (zones.py)
            frame = with_local_day(frame, self.config or Config())
        keys = frame.select("tenant", "day").unique().sort("tenant", "day").rows()
        # Listed (and dirty) before `_look` opens, and maybe creates, their DO files.
        self.catalog.mark_dirty(keys)
        looks = self._look(keys, source)
        frame = self._unabsorbed(frame, looks)
        per_day = frame.group_by("tenant", "day").agg(last=pl.col("line_no").max())
        last_lines = {(t, d): n for t, d, n in per_day.iter_rows()}
        usable = frame
        if self._damaged_days:  # their lines are lost (counted below): nobody of them is hashed
            damaged = pl.DataFrame(sorted(self._damaged_days), schema=["tenant", "day"], orient="row")
            usable = frame.join(damaged, on=["tenant", "day"], how="anti")
        batch = aggregate(usable.drop("day"), self.salts, self.config)
        del usable
        self._bound(batch, looks)  # paths past the day's row limit count as "(other)", views too
        return batch, frame, looks, last_lines

    def adopt(self, spilled: Spilled) -> Merged:
        """Days held in memory (days/direct.py), given DO files instead: their counts, page views
        and the record of their lines in one transaction each, their salts kept in files (the
        hashes go on). From then on they are days of DO files like any other."""
        result = self._result = Merged()
        keys = spilled.keys
        self.catalog.mark_dirty(keys)
        for (tenant, date), salt in spilled.salts.items():
            self.salts.adopt(tenant, date, salt)
        batch = BatchTables(counts=spilled.counts, views=spilled.views)
        looks = {key: _Look(NEW_FILE, late=False) for key in keys}
        self._bound(batch, looks)
        before = pl.DataFrame(schema={"tenant": pl.String, "date": pl.String, **VIEW_SCHEMA})
        rows = _day_rows(batch, metric_deltas(before, batch.views, self.config) if batch.views.height else {})
        for key, day_rows in rows.items():
            day_rows.goals = self._goals_of(key[0])
        marks: dict[tuple[str, str], list[tuple[str, int]]] = {}
        if spilled.lines is not None:
            for tenant, date, source, line in (
                spilled.lines.group_by("tenant", "date", "source").agg(pl.col("line").max()).iter_rows()
            ):
                marks.setdefault((tenant, date), []).append((source, int(line)))
        for key in self._in_turn([k for k in keys if k in rows]):
            try:
                self._do_files.open(*key).merge(rows[key], marks.get(key, []))
                result.do_files += 1
            except DamagedStateError as e:
                self._damaged(*key, e)
        return result

    def forget_finalized(self) -> None:
        """Finalization (or retention) changed tenant-days: read the catalog's list again before
        the next merge, and look at each DO file again."""
        self._closed = None
        self._seen.clear()

    def merge(self, frame: pl.DataFrame, source: str | None = None) -> Merged:
        """Classified requests → per tenant-day deltas → DO files (listed and dirty-marked first).

        Aggregation is done once for the whole batch, however many tenant-days it touches; per
        tenant-day there is SQLite only, each table turned into Python rows once per group of
        MERGE_GROUP tenant-days. A DO file is looked at (absorbed line, finalized flag, whether
        it holds page views) only when this session has not merged into it yet and it exists;
        then, per group, the stored page views of the visitors the batch touches (only from a
        file that holds some) and one transaction of ready rows, the group's files staying open
        from one to the other (so each is opened once per batch).

        With a `source` fingerprint, lines a DO file has already absorbed (re-read after a crash)
        are skipped for that file, and each merge records the last line it absorbed. Lines of a
        finalized tenant-day are late: they add the counts that need no visitor, never a salt or
        a hash. When a tenant-day's DO file is damaged its lines are lost (`Merged.lost`, for the
        caller to count as rejected, DAMAGED), the others merged.
        """
        result = self._result = Merged()
        with BATCH_WORK:  # the read-ahead worker does not parse meanwhile (ahead.py)
            batch, frame, looks, last_lines = self._aggregate(frame, source)
        keys = sorted(k for k in last_lines if k in looks and k not in self._damaged_days)
        # Tenant-days in groups whose DO files all stay open from their stored views to their merge
        # (one opening each); the aggregation above was done once for the whole batch.
        for start in range(0, len(keys), MERGE_GROUP):
            group = keys[start : start + MERGE_GROUP]
            part = batch if len(group) == len(keys) else _part(batch, group)
            self._merge_group(part, group, looks, source, last_lines)
        lost = [k for k in last_lines if k in self._damaged_days]
        if lost:
            lost_keys = pl.DataFrame(lost, schema=["tenant", "day"], orient="row")
            result.lost = frame.join(lost_keys, on=["tenant", "day"]).height
            frame = frame.join(lost_keys, on=["tenant", "day"], how="anti")
        result.requests = frame.height
        result.page_views = int(frame.get_column("is_page_view").sum())
        result.bot_requests = int(frame.get_column("is_bot").sum())
        result.late_lines = int(frame.get_column("late").sum())
        return result

    def _merge_group(
        self,
        batch: BatchTables,
        keys: list[tuple[str, str]],
        looks: dict[tuple[str, str], _Look],
        source: str | None,
        last_lines: dict[tuple[str, str], int],
    ) -> None:
        """Visitor metrics of some tenant-days at once (stored views of the visitors the batch
        touches, + new), then one transaction of ready rows per DO file."""
        self._recount_goals(keys, looks)
        before = self._stored_views(batch.views, looks)
        deltas = metric_deltas(before, batch.views, self.config) if batch.views.height else {}
        rows = _day_rows(batch, deltas)
        for key, day_rows in rows.items():
            day_rows.goals = self._goals_of(key[0])
        result = self._result
        for key in self._in_turn([k for k in keys if k in rows and k not in self._damaged_days]):
            absorbed = [(source, last_lines[key])] if source is not None else []
            look = looks[key]
            try:
                do = self._do_files.open(*key)
                do.merge(rows[key], absorbed, late=look.late, finalized=look.stored.finalized)
            except DamagedStateError as e:
                self._damaged(*key, e)
                continue
            self._remember(key, source, look.stored, rows[key], last_lines[key])
            result.do_files += 1
            result.tenant_days.add(key)
            if look.late:
                result.late_tenant_days.add(label(*key))

    def _goals_of(self, tenant: str) -> str:
        config = self.config or Config()
        return fingerprint(config.goals, config.funnels, tenant)

    def _recount_goals(self, keys: list[tuple[str, str]], looks: dict[tuple[str, str], _Look]) -> None:
        """Open tenant-days whose goal rows were counted under other goals and funnels (rings.toml
        changed since) have them counted again from all their stored rows, before this batch's
        deltas: a goal added later counts from the day's start (finalized days: not at all)."""
        config = self.config or Config()
        for key in keys:
            look = looks.get(key)
            if look is None or look.late or look.stored is NEW_FILE or key in self._damaged_days:
                continue
            want = self._goals_of(key[0])
            if look.stored.goals == want:
                continue
            try:
                do = self._do_files.open(*key)
                do.replace_goals(recount(do.all_views(), config, *key), want)
            except DamagedStateError as e:
                self._damaged(*key, e)
                continue
            look.stored.goals = want

    def _look(self, keys: list[tuple[str, str]], source: str | None) -> dict[tuple[str, str], _Look]:
        """First pass: each tenant-day's DO file opened (maybe created) and looked at once."""
        closed = self._closed or set()
        looks = {}
        for key in self._in_turn(keys):
            if key in self._damaged_days:
                continue  # its lines are counted as `damaged state` below, never hashed
            look = self._seen.get((*key, source))
            if look is None and key not in self._do_files and self._new(*key):
                look = NEW_FILE  # made by the merge pass: opened once, not three times
            if look is None:
                try:
                    look = self._do_files.open(*key).look(source)
                except DamagedStateError as e:
                    self._damaged(*key, e)
                    continue
            late = key in closed or look.finalized
            if not late and look is not NEW_FILE and (lost := self.salts.problem(*key, look.has_views)):
                self._damaged(*key, lost)  # a new salt would count its visitors twice
                continue
            looks[key] = _Look(look, late=late)
        return looks

    @property
    def do_files(self) -> DoFileCache:
        return self._do_files

    def _new(self, tenant: str, date: str) -> bool:
        """No DO file yet, no pack of its month, and the catalog lets one be made: nothing to look
        at. A day its month's pack may hold is opened the long way (unpacked, then looked at), so
        its absorbed marks and finalized flag count even when the catalog has lost it."""
        state = self._do_files.state
        if state.do_path(tenant, date).exists() or pack_path(state, tenant, date[:7]).exists():
            return False
        return self.catalog.may_create(tenant, date)

    def _remember(
        self, key: tuple[str, str], source: str | None, look: Look, rows: DayRows, last: int
    ) -> None:
        """What `look` would find after this merge, so the next batch need not open the file to
        know it (valid while this session is the only writer: forgotten at finalization)."""
        if len(self._seen) >= SEEN_LIMIT:
            self._seen.clear()
        at_most = {t: n + len(rows.upserts.get(t, ("", []))[1]) for t, n in look.rows_at_most.items()}
        self._seen[(*key, source)] = Look(
            absorbed=max(look.absorbed, last) if source is not None else look.absorbed,
            finalized=look.finalized,
            has_views=look.has_views or bool(rows.views),
            rows_at_most=at_most,
            goals=rows.goals if rows.goals is not None else look.goals,
        )

    def _in_turn(self, keys: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """`keys` in the opposite order of the last pass over DO files, so the files it left open
        (the cache keeps the last MAX_OPEN_DO_FILES) are used before any is closed."""
        if not keys:
            return keys
        self._forward = not self._forward
        return keys if self._forward else keys[::-1]

    def _unabsorbed(self, frame: pl.DataFrame, looks: dict[tuple[str, str], _Look]) -> pl.DataFrame:
        """Mark each row `late` (its tenant-day is finalized: in the catalog, or its DO file says
        so) and drop rows whose DO file already holds their line."""
        marks = [(t, d, look.stored.absorbed, look.late) for (t, d), look in looks.items()]
        if all(absorbed < 0 and not late for _, _, absorbed, late in marks):
            return frame.with_columns(late=pl.lit(False))  # nothing to drop: no copy of the batch
        # Damaged tenant-days keep their rows (absorbed -1) so `merge` counts them as rejected.
        table = pl.DataFrame(
            marks,
            schema={"tenant": pl.String, "day": pl.String, "absorbed": pl.Int64, "late": pl.Boolean},
            orient="row",
        )
        frame = frame.join(table, on=["tenant", "day"], how="left").with_columns(
            pl.col("absorbed").fill_null(-1), pl.col("late").fill_null(False)
        )
        return frame.filter(pl.col("line_no") > pl.col("absorbed")).drop("absorbed")

    def _bound(self, batch: BatchTables, looks: dict[tuple[str, str], _Look]) -> None:
        """Fold paths past a tenant-day's ROW_LIMIT (pages, not_found) into OTHER, page views too
        (so uniques, entries and exits agree with views). Only a tenant-day whose stored rows plus
        the batch's may pass the limit asks its DO file which paths it has (rare)."""
        for table, limit in BOUNDED.items():
            counts = batch.counts.get(table)
            if counts is None or counts.is_empty():
                continue
            incoming = counts.group_by(DAY).agg(n=pl.col("path").n_unique()).rows()
            near = [
                (t, d)
                for t, d, n in incoming
                if (t, d) in looks and looks[(t, d)].stored.rows_at_most.get(table, 0) + n > limit
            ]
            kept = []
            for tenant, date in near:
                day_rows = counts.filter((pl.col("tenant") == tenant) & (pl.col("date") == date))
                paths = day_rows.get_column("path").unique()
                try:
                    stored, known = self._do_files.open(tenant, date).known_paths(table, paths.to_list())
                except DamagedStateError as e:
                    self._damaged(tenant, date, e)
                    continue
                if stored + paths.len() <= limit:
                    continue
                kept_paths = bound_keys(paths, pl.Series(known, dtype=pl.String), stored, limit)
                kept.append(
                    pl.DataFrame({"path": kept_paths}).with_columns(tenant=pl.lit(tenant), date=pl.lit(date))
                )
            if not kept:
                continue
            keep = pl.concat(kept).select(*DAY, "path", _keep=pl.lit(True))
            over = keep.select(DAY).unique().with_columns(_over=pl.lit(True))
            keys = [*DAY, *tables.BY_NAME[table].key_names]
            batch.counts[table] = _regroup(_fold(counts, over, keep), keys)
            if table == "pages":
                batch.views = _fold(batch.views, over, keep)

    def _stored_views(self, views: pl.DataFrame, looks: dict[tuple[str, str], _Look]) -> pl.DataFrame:
        """Second pass: the stored page views of the visitors the batch touches, from the DO files
        that hold any (a new or finalized file is not asked), as one frame."""
        wanted = views.select(*DAY, "visitor").unique().sort(DAY)
        rows: list[tuple[object, ...]] = []
        spans = _spans(wanted)
        asked = [k for k in spans if k in looks and looks[k].stored.has_views and k not in self._damaged_days]
        for key in self._in_turn(asked):
            start, end = spans[key]
            visitors = wanted.get_column("visitor").slice(start, end - start).to_list()
            try:
                rows += self._do_files.open(*key).stored_views(visitors)
            except DamagedStateError as e:
                self._damaged(*key, e)
        schema = {"tenant": pl.String, "date": pl.String, **VIEW_SCHEMA}
        return pl.DataFrame(rows, schema=schema, orient="row")

    def _damaged(self, tenant: str, date: str, error: DamagedStateError) -> None:
        """A tenant-day whose DO file cannot be used: close it, remember it, name it once."""
        do = self._do_files.pop((tenant, date), None)
        if do is not None:
            with contextlib.suppress(Exception):
                do.close()
        if (tenant, date) not in self._damaged_days:
            self._damaged_days.add((tenant, date))
            self._result.damaged.append(str(error))


@dataclass
class _Look:
    """A tenant-day's DO file as `_look` found it, and whether its lines are late."""

    stored: Look
    late: bool


def _spans(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(tenant, date) -> (first row, end) of a frame sorted by tenant and date."""
    out = {}
    end = 0
    for tenant, date, n in frame.group_by(DAY, maintain_order=True).len().iter_rows():
        out[(tenant, date)] = (end, end + n)
        end += n
    return out


def _by_day(
    frame: pl.DataFrame, columns: list[str]
) -> tuple[list[tuple[Any, ...]], dict[tuple[str, str], tuple[int, int]]]:
    """A whole-batch table as Python rows of `columns` made ONCE, and where each tenant-day's are."""
    if frame.is_empty():
        return [], {}
    frame = frame.sort(DAY)
    return frame.select(columns).rows(), _spans(frame)


def _day_rows(batch: BatchTables, deltas: dict[str, pl.DataFrame]) -> dict[tuple[str, str], DayRows]:
    """Every tenant-day's ready rows: per table one frame (counts and visitor deltas joined on
    the key, so one upsert each), turned into rows once and sliced per tenant-day."""
    out: dict[tuple[str, str], DayRows] = {}

    def day(key: tuple[str, str]) -> DayRows:
        rows = out.get(key)
        if rows is None:
            rows = out[key] = DayRows(upserts={})
        return rows

    for table in tables.TABLES:
        parts = [f for f in (batch.counts.get(table.name), deltas.get(table.name)) if f is not None]
        parts = [f for f in parts if f.height]
        if not parts:
            continue
        if table is tables.DAY:  # the one-row `day`: its visitor deltas, one UPDATE
            columns = table.of_kind("visitor")
            rows, spans = _by_day(parts[0], columns)
            for key, (start, _) in spans.items():
                day(key).day = rows[start]
            continue
        frame = parts[0]
        for other in parts[1:]:
            on = [*DAY, *table.key_names]
            frame = frame.join(other, on=on, how="full", coalesce=True, nulls_equal=True)
        values = [c for c in frame.columns if c not in DAY and c not in table.key_names]
        frame = frame.with_columns(pl.col(values).fill_null(0))
        columns = [*table.key_names, *values]
        sql = tables.upsert_sql(table, columns)
        rows, spans = _by_day(frame, columns)
        for key, (start, end) in spans.items():
            day(key).upserts[table.name] = (sql, rows[start:end])
    rows, spans = _by_day(batch.views, list(VIEW_SCHEMA))
    for key, (start, end) in spans.items():
        day(key).views = rows[start:end]
    return out


def _part(batch: BatchTables, keys: list[tuple[str, str]]) -> BatchTables:
    """The rows of `keys` (tenant, date) in every table of `batch`."""
    wanted = pl.DataFrame(keys, schema={"tenant": pl.String, "date": pl.String}, orient="row")
    return BatchTables(
        counts={name: frame.join(wanted, on=DAY, how="semi") for name, frame in batch.counts.items()},
        views=batch.views.join(wanted, on=DAY, how="semi"),
    )


def _fold(frame: pl.DataFrame, over: pl.DataFrame, keep: pl.DataFrame) -> pl.DataFrame:
    """`frame` with each `path` of an `over` tenant-day that is not in `keep` replaced by OTHER."""
    marked = frame.join(over, on=DAY, how="left").join(keep, on=[*DAY, "path"], how="left")
    folded = pl.col("_over").fill_null(False) & pl.col("_keep").is_null()
    return marked.with_columns(path=pl.when(folded).then(pl.lit(OTHER)).otherwise(pl.col("path"))).drop(
        "_over", "_keep"
    )


def _regroup(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Sum the rows that folding made share a key."""
    return frame.group_by(keys, maintain_order=True).agg(pl.exclude(keys).sum())
