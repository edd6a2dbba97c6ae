"""What an ingest run did: the summary the CLI prints (a line, or `--json`), and its progress.

Filled in by the run (ingest/run.py) from what each stage returns: the parse's line and reject
counts, each merge's `Merged`, each flush's `FlushResult`, finalization's closed tenant-days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rings_cli.core.text import plural
from rings_cli.ingest.merge import Merged
from rings_cli.warehouse.flush import FlushResult

OWN_MIN = 20  # referrals from the log's own paths before a host is taken for the site itself
OWN_SHARE = 0.5  # ... and the share of its referrals they must be


@dataclass
class Progress:
    """Where a run is: raw bytes read of all inputs (total when known), lines so far, and what it
    is doing (`reading`, then `writing N days`, `finalizing`, `flushing` at its end)."""

    bytes_done: int
    bytes_total: int | None
    lines: int
    phase: str = "reading"


@dataclass
class IngestSummary:
    """What an ingest did, as the summary line and `--json` print it."""

    lines_read: int = 0
    parsed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    other_shard: int = 0  # lines of tenants another ingest host owns (rings.toml `shard`)
    requests: int = 0
    page_views: int = 0
    bot_requests: int = 0
    tenants: set[str] = field(default_factory=set)
    days: set[str] = field(default_factory=set)
    formats: dict[str, str] = field(default_factory=dict)
    flushed_rows: int = 0
    finalized: list[str] = field(default_factory=list)  # tenant-days, `tenant/date`
    late_lines: int = 0  # lines of finalized tenant-days: counted, their visitors not
    late_tenant_days: set[str] = field(default_factory=set)
    expired: list[str] = field(default_factory=list)  # tenant/date deleted by retention (keep_days)
    damaged_state: list[str] = field(default_factory=list)  # one line per state file that could not be used
    flush_retries: int = 0  # follow-mode flushes put off to the next tick (warehouse busy)
    polls: int = 0  # follow mode: times every file was looked at (not in the printed summary)
    flushes: list[FlushResult] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): nothing read
    damaged: list[tuple[str, str, int]] = field(default_factory=list)  # (file, problem, whole lines before)
    already_read: list[tuple[str, int]] = field(default_factory=list)  # (file, line): nothing new after it
    unparsed: list[tuple[str, str, int]] = field(default_factory=list)  # (file, format, lines): none parsed
    own_hosts: dict[str, list[int]] = field(default_factory=dict)  # host -> [referrals, own] (own_host)
    interrupted: bool = False  # a batch run stopped before its end (Ctrl-C): run it again
    dropped: int = 0  # requests of days held in memory when it stopped: read again next run

    def to_dict(self) -> dict[str, object]:
        return {
            "lines_read": self.lines_read,
            "parsed": self.parsed,
            "rejected": sum(self.rejected.values()),
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "other_shard": self.other_shard,
            "requests": self.requests,
            "page_views": self.page_views,
            "bot_requests": self.bot_requests,
            "tenants": sorted(self.tenants),
            "days": sorted(self.days),
            "formats": self.formats,
            "flushed_rows": self.flushed_rows,
            "finalized": self.finalized,
            "expired": self.expired,
            "late_lines": self.late_lines,
            "late_tenant_days": sorted(self.late_tenant_days),
            "damaged_state": self.damaged_state,
            "flush_retries": self.flush_retries,
            "seconds": round(self.seconds, 3),
            "skipped": [{"file": f, "reason": why} for f, why in self.skipped],
            "damaged": [{"file": f, "problem": why, "after_line": n} for f, why, n in self.damaged],
            "already_read": [{"file": f, "line": n} for f, n in self.already_read],
            "unparsed": [{"file": f, "format": fmt, "lines": n} for f, fmt, n in self.unparsed],
            "warnings": self.warnings(),
            "own_host": self.own_host(),
            "interrupted": self.interrupted,
            "committed": self.committed(),
        }

    def committed(self) -> int:
        """Lines whose effects are stored (a stopped run's held days' are not: read again)."""
        return self.lines_read - self.dropped

    def count_own_hosts(self, rows: Iterable[tuple[str, int, int]]) -> None:
        """Referring hosts of lines without a host: (host, referrals, from the log's own paths)."""
        for host, referrals, own in rows:
            seen = self.own_hosts.setdefault(host, [0, 0])
            seen[0] += referrals
            seen[1] += own

    def own_host(self) -> str | None:
        """The host that looks like the site of a log whose lines name none: it refers most, and
        mostly from paths the log itself serves (OWN_SHARE), at least OWN_MIN times."""
        if self.tenants != {"default"}:
            return None
        found = [
            (own, host)
            for host, (total, own) in self.own_hosts.items()
            if own >= OWN_MIN and own > OWN_SHARE * total
        ]
        return max(found)[1] if found else None

    def absorb(self, merged: Merged) -> None:
        """One merge's lines and tenant-days (its lost lines are rejects: the run counts them)."""
        self.parsed -= merged.lost
        self.requests += merged.requests
        self.page_views += merged.page_views
        self.bot_requests += merged.bot_requests
        self.late_lines += merged.late_lines
        self.tenants.update(t for t, _ in merged.tenant_days)
        self.days.update(d for _, d in merged.tenant_days)
        self.late_tenant_days |= merged.late_tenant_days
        self.note_damage(merged.damaged)

    def note_damage(self, problems: list[str]) -> None:
        """Name each damaged state file once (flush, finalization and merges skip them)."""
        for problem in problems:
            if problem not in self.damaged_state:
                self.damaged_state.append(problem)

    def warnings(self) -> list[str]:
        """One line per input not read to its end: skipped, a damaged archive read up to the damage,
        or a file none of whose lines the format parsed (not checkpointed: see _ingest_block)."""
        skipped = [f"skipped: {f}: {why}" for f, why in self.skipped]
        damaged = [
            f"warning: {f}: {why} after line {n:,}; the lines before it were read"
            for f, why, n in self.damaged
        ]
        unparsed = [
            f"warning: {f}: none of its {plural(n, 'line')} parsed as {fmt}; it is not checkpointed, "
            "so a run with the right --format reads it whole"
            for f, fmt, n in self.unparsed
        ]
        hint = []
        if (own := self.own_host()) is not None:
            hint.append(
                f"note: {own} looks like this site (its lines name no host, so they went to `default`): "
                f"--tenant {own}, or [files] in rings.toml"
            )
        return (
            skipped
            + damaged
            + unparsed
            + [f"damaged state: {problem}" for problem in self.damaged_state]
            + hint
        )
