"""The `rings` command: a thin Typer layer over the library.

Each command parses options, calls one library function, renders the result. Library errors
(`RingsError`) become one line on stderr and the contract's exit code; `--debug` shows tracebacks.
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from rings_cli import __version__
from rings_cli.config import load_config
from rings_cli.errors import RingsError
from rings_cli.finalize import finalize_days, parse_duration
from rings_cli.flush import FlushResult
from rings_cli.formats import FORMATS
from rings_cli.ingest import DEFAULT_FLUSH_INTERVAL, Ingest
from rings_cli.ingest import Progress as IngestProgress
from rings_cli.render import CSV_SECTIONS, report_csv, report_json, report_renderable, summary_text
from rings_cli.report import DEFAULT_LIMIT, build_report
from rings_cli.sources import CHUNK_BYTES, expand_paths
from rings_cli.state import StateDir, check_tenant

app = typer.Typer(
    help="Rings: privacy-first web analytics from server access logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="State dir. Default: $RINGS_STATE_DIR, else $XDG_DATA_HOME/rings (~/.local/share/rings).",
        show_default=False,
    ),
]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="Tenant name.", show_default=False)]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
GraceOption = Annotated[
    str,
    typer.Option(help="Finalize UTC days that ended this long ago: seconds, or 90m, 1h, 2d."),
]

F = TypeVar("F", bound=Callable[..., Any])


def _cli_errors(func: F) -> F:
    """Turn library errors into `Error: ...` on stderr and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RingsError as e:
            if kwargs.get("debug"):
                raise
            Console(stderr=True).print(
                f"Error: {e}", style="red", markup=False, highlight=False, soft_wrap=True
            )
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("Interrupted", markup=False)
            raise typer.Exit(130) from None
        except OSError as e:
            if kwargs.get("debug"):
                raise
            Console(stderr=True).print(
                f"Error: {e}", style="red", markup=False, highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rings {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Rings: privacy-first web analytics from server access logs."""


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
            help="auto, a name from `rings formats`, 'nginx:<log_format>' or 'apache:<LogFormat>'.",
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
    rejects_limit: Annotated[int, typer.Option("--rejects-limit", help="At most this many lines.")] = 1000,
    tenant: TenantOption = None,
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
    grace: GraceOption = "1h",
    no_finalize: Annotated[
        bool,
        typer.Option("--no-finalize", help="Keep past days open (to import one day in several runs)."),
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow", "-F", help="Keep tailing the files and globs (rotation-safe) until stopped."
        ),
    ] = False,
    flush_interval: Annotated[
        float, typer.Option("--flush-interval", help="With --follow: seconds between warehouse flushes.")
    ] = DEFAULT_FLUSH_INTERVAL,
    batch_bytes: Annotated[
        int,
        typer.Option("--batch-bytes", help="Bytes read per batch: more is faster, less uses less memory."),
    ] = CHUNK_BYTES,
    debug: DebugOption = False,
) -> None:
    """Read access logs into the state dir, flush them to the warehouse, finalize ended days."""
    if flush_interval <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--flush-interval")
    if batch_bytes < 4096:
        raise typer.BadParameter("must be at least 4096", param_hint="--batch-bytes")
    if follow and (not paths or "-" in paths):
        raise typer.BadParameter("--follow tails files; pipe stdin without --follow", param_hint="PATHS")
    if tenant is not None:
        check_tenant(tenant)
    state = StateDir(state_dir)
    settings = load_config(config, state)
    patterns = list(paths or [])
    paths = [] if follow else expand_paths(patterns)
    stderr = Console(stderr=True)
    show_progress = not quiet and stderr.is_terminal and not follow
    with _progress_bar(stderr, show_progress) as on_progress:
        run = Ingest(
            state,
            fmt=fmt,
            tenant=tenant,
            config=settings,
            client_ip=client_ip,
            keep_rejects=rejects_limit if rejects is not None else 0,
            on_progress=on_progress,
            grace=None if no_finalize else parse_duration(grace, "--grace"),
            chunk_bytes=batch_bytes,
        )

        def log_flush(result: FlushResult) -> None:
            if not quiet:
                stderr.print(
                    f"flush: {result.tenant_days} tenant-days, {result.rows} rows, "
                    f"{result.statements} statements",
                    markup=False,
                    highlight=False,
                )

        try:
            with _stop_on_signals(run.stop):
                summary = (
                    run.follow(patterns, flush_interval, on_flush=log_flush) if follow else run.run(paths)
                )
        finally:
            if rejects is not None:
                run.rejects.write(rejects)
    data = summary.to_dict()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif not quiet:
        typer.echo(summary_text(data))
    if as_json or quiet:  # the text summary carries them otherwise
        for warning in summary.warnings():
            stderr.print(warning, markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM ask the ingest to stop cleanly (commit, flush, exit 0), not to die."""
    handler = lambda *_: stop()  # noqa: E731
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _progress_bar:  # noqa: N801 - used as a context manager, reads like a function
    """A Rich bar (bytes, lines/s, ETA) on a terminal; a no-op callback elsewhere."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("[bold]ingest"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]:,} lines"),
            TextColumn("{task.fields[rate]:,.0f} lines/s"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("ingest", total=None, lines=0, rate=0.0)

    def __enter__(self) -> Callable[[IngestProgress], None] | None:
        if not self.enabled:
            return None
        self.progress.start()
        return self.update

    def update(self, p: IngestProgress) -> None:
        elapsed = self.progress.tasks[0].elapsed or 0.0
        self.progress.update(
            self.task,
            completed=p.bytes_done,
            total=p.bytes_total,
            lines=p.lines,
            rate=p.lines / elapsed if elapsed else 0.0,
        )

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            self.progress.stop()


@app.command()
@_cli_errors
def report(
    tenant: TenantOption = None,
    start: Annotated[str | None, typer.Option(help="First UTC day, YYYY-MM-DD.", show_default=False)] = None,
    end: Annotated[str | None, typer.Option(help="Last UTC day, inclusive.", show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")] = "table",
    limit: Annotated[int, typer.Option(help="Rows in top lists.")] = DEFAULT_LIMIT,
    section: Annotated[
        str, typer.Option(help=f"With --format csv, which section: {', '.join(CSV_SECTIONS)}.")
    ] = "days",
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Report a date range (default: the last 7 days that have data)."""
    if fmt not in ("table", "json", "csv"):
        raise typer.BadParameter(f"{fmt!r} is not one of table, json, csv", param_hint="--format")
    if section not in CSV_SECTIONS:
        raise typer.BadParameter(
            f"{section!r} is not one of {', '.join(CSV_SECTIONS)}", param_hint="--section"
        )
    if tenant is not None:
        check_tenant(tenant)
    data = build_report(StateDir(state_dir), tenant=tenant, start=start, end=end, limit=limit)
    if fmt == "json":
        typer.echo(report_json(data))
    elif fmt == "csv":
        sys.stdout.write(report_csv(data, section))
    else:
        Console().print(report_renderable(data))


@app.command()
@_cli_errors
def finalize(
    grace: GraceOption = "1h",
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the finalized dates as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """Finalize every day that ended more than --grace ago: summary kept, visitor hashes and salt deleted."""
    dates = finalize_days(StateDir(state_dir), parse_duration(grace, "--grace"))
    if as_json:
        typer.echo(json.dumps({"finalized": dates}))
    else:
        typer.echo(f"Finalized {len(dates)} days" + (f": {', '.join(dates)}" if dates else ""))


@app.command("formats")
def formats_command() -> None:
    """List the log formats `--format` accepts, with an example line each."""
    for fmt in FORMATS.values():
        typer.echo(f"{fmt.name:<14}{fmt.description}")
        typer.echo(f"{'':<14}{fmt.example}\n")
    typer.echo(
        "nginx:<log_format>   your nginx log_format, e.g. 'nginx:$remote_addr - $remote_user "
        '[$time_local] "$request" $status $body_bytes_sent\''
    )
    typer.echo("apache:<LogFormat>   your Apache LogFormat, e.g. 'apache:%h %l %u %t \"%r\" %>s %b'")


def main() -> None:
    """Console-script entry point."""
    app()
