"""`rings ingest`: read access logs into the state dir, with a progress bar on a terminal."""

import contextlib
import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rings_cli.cli.app import (
    Console,
    DebugOption,
    GraceOption,
    StateDirOption,
    TenantOption,
    _cli_errors,
    app,
    load_config,
    normalize_host,
    seconds,
    whole_number,
)
from rings_cli.core.bounds import ensure_open_files
from rings_cli.core.defaults import (
    CHUNK_BYTES,
    DEFAULT_FLUSH_INTERVAL,
    MAX_BATCH_BYTES,
    MAX_FLUSH_INTERVAL,
    MAX_REJECTS,
    MIN_BATCH_BYTES,
    MIN_FLUSH_INTERVAL,
)
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir, check_tenant

if TYPE_CHECKING:
    from rings_cli.ingest.summary import Progress as IngestProgress
    from rings_cli.warehouse.flush import FlushResult

Ingest = lazy("rings_cli.ingest.run", "Ingest")
open_rejects = lazy("rings_cli.source.parse", "open_rejects")
expand_paths = lazy("rings_cli.source.inputs", "expand_paths")  # compression modules: ingest only
parse_duration = lazy("rings_cli.days.finalize", "parse_duration")
parse_shard = lazy("rings_cli.core.config", "parse_shard")
summary_text = lazy("rings_cli.ui.render", "summary_text")


@app.command()
@_cli_errors
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Access logs (plain, .gz, .bz2, .xz) or quoted globs ('access.log.*'); "
            "`-` or none reads stdin.",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="auto, a name from `rings formats`, 'nginx:<log_format>', 'apache:<LogFormat>' "
            "or 'json:<field>=<key>,...'.",
        ),
    ] = "auto",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file. Default: rings.toml in the state dir.", show_default=False
        ),
    ] = None,
    client_ip: Annotated[
        str | None,
        typer.Option(
            "--client-ip",
            help="Where the client address is: remote (default) or x-forwarded-for.",
            show_default=False,
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write rejected lines (raw, with IPs) and their reasons to this file.",
            show_default=False,
        ),
    ] = None,
    rejects_limit: Annotated[
        int,
        typer.Option(
            "--rejects-limit",
            parser=whole_number(0, MAX_REJECTS),
            metavar="N",
            help="At most this many lines.",
        ),
    ] = 1000,
    tenant: TenantOption = None,
    tenant_from_path: Annotated[
        str | None,
        typer.Option(
            "--tenant-from-path",
            metavar="REGEX",
            help="Name each file's site from its path: a regex with a group (?P<tenant>...), "
            "e.g. '/(?P<tenant>[^/]+)\\.access\\.log'.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help='Take only the tenants of shard K of N ("2/4"); others count as other shard.',
            show_default=False,
        ),
    ] = None,
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
    grace: GraceOption = "1h",
    no_finalize: Annotated[
        bool,
        typer.Option("--no-finalize", help="Keep past tenant-days open (to import one day in several runs)."),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-F", help="Keep tailing the files and globs (rotation-safe) until stopped."
        ),
    ] = False,
    flush_interval: Annotated[
        float,
        typer.Option(
            "--flush-interval",
            parser=seconds(MIN_FLUSH_INTERVAL, MAX_FLUSH_INTERVAL),
            metavar="S",
            help="With --follow: seconds between warehouse flushes.",
        ),
    ] = DEFAULT_FLUSH_INTERVAL,
    batch_bytes: Annotated[
        int,
        typer.Option(
            "--batch-bytes",
            parser=whole_number(MIN_BATCH_BYTES, MAX_BATCH_BYTES),
            metavar="N",
            help="Bytes read per batch: more is faster, less uses less memory.",
        ),
    ] = CHUNK_BYTES,
    log_timezone: Annotated[
        str,
        typer.Option(
            "--log-timezone",
            help="Time zone (IANA name) of log times written without an offset "
            "(IIS date-local/time-local, HAProxy).",
        ),
    ] = "UTC",
    debug: DebugOption = False,
) -> None:
    """Read access logs into the state dir, flush them to the warehouse, finalize ended days."""
    if follow and (not paths or "-" in paths):
        raise typer.BadParameter("--follow tails files; pipe stdin without --follow", param_hint="PATHS")
    if tenant is not None:
        tenant = check_tenant(normalize_host(tenant))  # `www.Example.com` is example.com, as in report
    ensure_open_files()  # a limit too low for the run is one line before anything is read
    state = StateDir(state_dir)
    state.check_dir()
    settings = load_config(config, state)
    if shard is not None:  # over rings.toml's `shard`; it names this host in a shared warehouse too
        owned = parse_shard(shard, "--shard")
        settings = replace(settings, shard=owned, warehouse=replace(settings.warehouse, shard=str(owned)))
    patterns = list(paths or [])
    paths = [] if follow else expand_paths(patterns)
    rejects_file = open_rejects(rejects) if rejects is not None else None  # checked before any input
    stderr = Console(stderr=True)
    if not quiet and (not paths or "-" in paths) and not follow and sys.stdin.isatty():
        # Not silence on a terminal: say what it waits for (never when stdin is a pipe or a file).
        stderr.print(
            "Reading log lines from stdin; Ctrl-D ends. To read a file, name it: rings ingest access.log",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    show_progress = not quiet and stderr.is_terminal and not follow
    with _progress_bar(stderr, show_progress) as on_progress:
        run = Ingest(
            state,
            fmt=fmt,
            tenant=tenant,
            tenant_from_path=tenant_from_path,
            config=settings,
            client_ip=client_ip,
            keep_rejects=rejects_limit if rejects is not None else 0,
            on_progress=on_progress,
            grace=None if no_finalize else parse_duration(grace, "--grace"),
            chunk_bytes=batch_bytes,
            log_timezone=log_timezone,
        )

        def log_flush(result: "FlushResult") -> None:
            if not quiet:
                stderr.print(
                    f"flush: {result.tenant_days} tenant-days, {result.rows} rows, "
                    f"{result.statements} statements",
                    markup=False,
                    highlight=False,
                )

        def log_skip(note: str) -> None:
            stderr.print(note, markup=False, highlight=False, soft_wrap=True)

        try:
            with _stop_on_signals(run.stop):
                summary = (
                    run.follow(patterns, flush_interval, on_flush=log_flush, on_skip=log_skip)
                    if follow
                    else run.run(paths)
                )
        finally:
            if rejects_file is not None:
                run.rejects.write(rejects_file)
                rejects_file.close()
    data = summary.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif not quiet:
        typer.echo(summary_text(data))
    if as_json or quiet:  # the text summary carries them otherwise
        for warning in summary.warnings():
            stderr.print(warning, markup=False, highlight=False, soft_wrap=True)
    if summary.interrupted:  # the contract's exit code of a batch ingest stopped by Ctrl-C
        stderr.print(
            f"Interrupted: {summary.committed():,} lines committed; run again to continue",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(130)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM ask the ingest to stop cleanly after the batch in hand (a batch run
    exits 130, follow mode flushes and exits 0); a second one stops at once (the batch's
    transactions roll back: its lines are read again next run)."""
    asked: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _progress_bar:  # noqa: N801 - used as a context manager, reads like a function
    """A Rich bar (bytes, lines/s, ETA) on a terminal; a no-op callback elsewhere."""

    def __init__(self, console: "Console", enabled: bool) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]ingest"),
            TextColumn("{task.fields[phase]}", markup=False),  # reading; then writing, finalizing
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]:,} lines"),
            TextColumn("{task.fields[rate]:,.0f} lines/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("ingest", total=None, lines=0, rate=0.0, phase="starting")

    def __enter__(self) -> "Callable[[IngestProgress], None] | None":
        if not self.enabled:
            return None
        self.progress.start()
        return self.update

    def update(self, p: "IngestProgress") -> None:
        elapsed = self.progress.tasks[0].elapsed or 0.0
        self.progress.update(
            self.task,
            completed=p.bytes_done,
            total=p.bytes_total,
            lines=p.lines,
            rate=p.lines / elapsed if elapsed else 0.0,
            phase=p.phase,
        )

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            self.progress.stop()
