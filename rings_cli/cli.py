"""The `rings` command: a thin Typer layer over the library.

Each command parses options, calls one library function, renders the result. Library errors
(`RingsError`) become one line on stderr and the contract's exit code; `--debug` shows tracebacks.
"""

import contextlib
import datetime as dt
import functools
import json
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from rings_cli import __version__
from rings_cli.core.defaults import CHUNK_BYTES, DEFAULT_FLUSH_INTERVAL, DEFAULT_LIMIT
from rings_cli.core.errors import DamagedStateError, DiskFullError, RingsError, UsageError, is_disk_full
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.core.text import plural, safe_text
from rings_cli.query.export import CSV_SECTIONS, report_csv, report_json

# No `from __future__ import annotations` in this module: Typer reads every command's annotations
# on every run, and as strings each costs a compile and an eval (13 ms in all). Names imported
# only for type checking are quoted.
if TYPE_CHECKING:
    from rich.console import Console

    from rings_cli.days.erase import ErasePlan
    from rings_cli.ingest.run import Progress as IngestProgress
    from rings_cli.warehouse.flush import FlushResult

# The library, imported when a command first uses it (Polars and DuckDB are slow to import):
# `rings --help` loads none of it (tests/test_cli.py checks).
run_audit = lazy("rings_cli.ops.audit", "audit")
check_state = lazy("rings_cli.ops.check", "check_state")
load_config = lazy("rings_cli.core.config", "load_config")
normalize_host = lazy("rings_cli.core.config", "normalize_host")
View = lazy("rings_cli.ui.dashboard", "View")
dashboard = lazy("rings_cli.ui.dashboard", "dashboard")
run_dashboard = lazy("rings_cli.ui.dashboard", "run")
erase_tenant = lazy("rings_cli.days.erase", "erase_tenant")
parse_before = lazy("rings_cli.days.erase", "parse_before")
run_gc = lazy("rings_cli.days.erase", "gc")
finalize_days = lazy("rings_cli.days.finalize", "finalize_days")
parse_duration = lazy("rings_cli.days.finalize", "parse_duration")
FORMATS = lazy("rings_cli.source.formats", "FORMATS")
report_html = lazy("rings_cli.ui.html", "report_html")
Ingest = lazy("rings_cli.ingest.run", "Ingest")
ChangeWatch = lazy("rings_cli.query.live", "ChangeWatch")
LiveIngest = lazy("rings_cli.query.live", "LiveIngest")
fetch = lazy("rings_cli.query.live", "fetch")
open_rejects = lazy("rings_cli.source.parse", "open_rejects")
expand_paths = lazy("rings_cli.source.inputs", "expand_paths")  # compression modules: ingest only
build_report = lazy("rings_cli.query.report", "build_report")
warm_up_reader = lazy("rings_cli.query.readpath", "warm_up")
parse_date = lazy("rings_cli.query.report", "parse_date")
# Rich too, for what is drawn on a terminal: `rings report -f json` (or csv) never imports it.
if not TYPE_CHECKING:
    Console = lazy("rich.console", "Console")
report_renderable = lazy("rings_cli.ui.render", "report_renderable")
summary_text = lazy("rings_cli.ui.render", "summary_text")

_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _say_error(message: str) -> None:
    Console(stderr=True).print(
        f"Error: {safe_text(message)}", style="red", markup=False, highlight=False, soft_wrap=True
    )


def _plain_flags(group: Any) -> None:
    """A flag takes no value: show `--json`, not `--json <bool>`, in every command's help."""
    commands = [group, *group.commands.values()]
    names = SimpleNamespace(help_option_names=["-h", "--help"])  # all get_help_option reads of a context
    helps = [command.get_help_option(names) for command in commands]  # made once, then cached
    for param in [p for command in commands for p in command.params] + [h for h in helps if h is not None]:
        if getattr(param, "is_bool_flag", False) and param.metavar is None:
            param.metavar = ""


def _bare_compare(args: list[str]) -> list[str]:
    """`rings report --compare` alone compares with the previous period: Typer has no option with
    an optional value, so a bare `--compare` (last, or followed by another option) gets `previous`."""
    out = list(args)
    if "report" not in out:
        return out
    for i in range(len(out) - 1, -1, -1):
        if out[i] == "--compare" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "previous")
    return out


class _OneLineErrors(typer.core.TyperGroup):
    """Option and command errors as one `Error: ...` line and exit 2, never a boxed panel."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        _plain_flags(self)
        if args:
            args = (_bare_compare(list(args[0] if args[0] is not None else sys.argv[1:])), *args[1:])
        else:
            given = kwargs.get("args")
            kwargs["args"] = _bare_compare(list(given if given is not None else sys.argv[1:]))
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as e:
            message = " ".join(e.format_message().split())
            ctx = getattr(e, "ctx", None)
            if message:  # empty when the help was shown instead (`rings` with no command)
                _say_error(message + (f" (see '{ctx.command_path} --help')" if ctx is not None else ""))
            rv = e.exit_code
        except typer.Abort:
            _say_error("aborted")
            rv = 1
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return rv


app = typer.Typer(
    cls=_OneLineErrors,
    help="Rings: privacy-first web analytics from server access logs.\n\n"
    "Start with `rings ingest access.log`, then `rings report` (or `rings live`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="State dir. Default: $RINGS_STATE_DIR, else $XDG_DATA_HOME/rings (~/.local/share/rings).",
        show_default=False,
    ),
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant", metavar="NAME", help="Tenant (site) name, e.g. example.com.", show_default=False
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
GraceOption = Annotated[
    str,
    typer.Option(help="Finalize tenant-days that ended this long ago: seconds, or 90m, 1h, 2d."),
]

F = TypeVar("F", bound=Callable[..., Any])


def _cli_errors(func: F) -> F:
    """Turn library errors into `Error: ...` on stderr and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return _disk_full_as_error(func, args, kwargs)
        except RingsError as e:
            if kwargs.get("debug"):
                raise
            _say_error(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("Interrupted", markup=False)
            raise typer.Exit(130) from None
        except OSError as e:
            if kwargs.get("debug"):
                raise
            where = f": {e.filename}" if e.filename else ""
            _say_error(f"{e.strerror or e}{where}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _disk_full_as_error(func: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
    """A full disk anywhere (SQLite, DuckDB, the OS) is one line naming the state dir: nothing is
    lost, since every write is a transaction, so the same command rerun with space is exact."""
    try:
        return func(*args, **kwargs)
    except DiskFullError:
        raise
    except Exception as e:
        if not is_disk_full(e):
            raise
        raise DiskFullError(StateDir(kwargs.get("state_dir")).root) from e


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
        int, typer.Option("--rejects-limit", min=0, help="At most this many lines.")
    ] = 1000,
    tenant: TenantOption = None,
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
        float, typer.Option("--flush-interval", help="With --follow: seconds between warehouse flushes.")
    ] = DEFAULT_FLUSH_INTERVAL,
    batch_bytes: Annotated[
        int,
        typer.Option("--batch-bytes", help="Bytes read per batch: more is faster, less uses less memory."),
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
    if flush_interval <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--flush-interval")
    if batch_bytes < 4096:
        raise typer.BadParameter("must be at least 4096", param_hint="--batch-bytes")
    if follow and (not paths or "-" in paths):
        raise typer.BadParameter("--follow tails files; pipe stdin without --follow", param_hint="PATHS")
    if tenant is not None:
        tenant = check_tenant(normalize_host(tenant))  # `www.Example.com` is example.com, as in report
    state = StateDir(state_dir)
    state.check_dir()
    settings = load_config(config, state)
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

        try:
            with _stop_on_signals(run.stop):
                summary = (
                    run.follow(patterns, flush_interval, on_flush=log_flush) if follow else run.run(paths)
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

    def __init__(self, console: "Console", enabled: bool) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

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
        )

    def __exit__(self, *_: object) -> None:
        if self.enabled:
            self.progress.stop()


@app.command()
@_cli_errors
def report(
    tenant: TenantOption = None,
    start: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="First day (the tenant's own), YYYY-MM-DD.", show_default=False),
    ] = None,
    end: Annotated[
        str | None, typer.Option(metavar="DATE", help="Last day, inclusive.", show_default=False)
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="table, json, csv or html.")
    ] = "table",
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Rows in top lists.")] = DEFAULT_LIMIT,
    compare: Annotated[
        str | None,
        typer.Option(
            "--compare",
            metavar="[START:END]",
            help="Show the change against the previous period of the same length, or against "
            "START:END (YYYY-MM-DD:YYYY-MM-DD).",
            show_default=False,
        ),
    ] = None,
    section: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help=f"With --format csv, which section: {', '.join(CSV_SECTIONS)} (default days).",
            show_default=False,
        ),
    ] = None,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Report a date range (default: the last 7 days that have data): charts, top lists, status codes."""
    if fmt not in REPORT_FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(REPORT_FORMATS)}", param_hint="--format")
    if section is not None and fmt != "csv":
        raise typer.BadParameter("only goes with --format csv", param_hint="--section")
    section = section or "days"
    if section not in CSV_SECTIONS:
        raise typer.BadParameter(
            f"{section!r} is not one of {', '.join(CSV_SECTIONS)}", param_hint="--section"
        )
    if tenant is not None:
        tenant = check_tenant(normalize_host(tenant))  # `www.Alice.example` is alice.example, as in ingest
    data = build_report(
        StateDir(state_dir), tenant=tenant, start=start, end=end, limit=limit, compare=compare
    )
    if not data["totals"]["requests"] and "data_from" in data:
        Console(stderr=True).print(
            f"Note: no data from {data['start']} to {data['end']}; "
            f"data from {data['data_from']} to {data['data_to']}",
            markup=False,
            highlight=False,
        )
    for problem in data.get("damaged", []):
        Console(stderr=True).print(f"Warning: {safe_text(problem)}", markup=False, highlight=False)
    for change in data.get("timezone_changes", []):  # per-site time zones: days on both sides differ
        Console(stderr=True).print(f"Note: {safe_text(change)}", markup=False, highlight=False)
    if fmt == "json":
        typer.echo(report_json(data))
    elif fmt == "csv":
        if section == "hours" and "hours_omitted" in data:
            Console(stderr=True).print(f"Note: {data['hours_omitted']}", markup=False, highlight=False)
        sys.stdout.write(report_csv(data, section))
    elif fmt == "html":
        sys.stdout.write(report_html(data))
    else:
        console = Console()
        console.print(report_renderable(data, console.width))


REPORT_FORMATS = ("table", "json", "csv", "html")


@app.command()
@_cli_errors
def finalize(
    grace: GraceOption = "1h",
    state_dir: StateDirOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the finalized tenant-days (tenant/date) as JSON.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """Finalize every tenant-day that ended more than --grace ago: summary kept, hashes and salt deleted."""
    state = StateDir(state_dir)
    state.check_dir()
    damaged: list[DamagedStateError] = []
    dates = finalize_days(state, parse_duration(grace, "--grace"), damaged=damaged)
    if as_json:
        typer.echo(json.dumps({"finalized": dates}))
    else:
        typer.echo(
            f"Finalized {plural(len(dates), 'tenant-day')}" + (f": {', '.join(dates)}" if dates else "")
        )
    if damaged:  # the others are done; the damaged tenant-days stay for `rings check`
        more = f" (and {len(damaged) - 1} more damaged files)" if len(damaged) > 1 else ""
        raise DamagedStateError(damaged[0].path, damaged[0].problem + more)


def _plan_text(todo: "ErasePlan", root: Path, verb: str) -> str:
    """What an erase or a retention pass deletes (or deleted), for the terminal."""
    from rings_cli.days.erase import ERASED_NAME  # imported with the command that erases

    if todo.empty:
        return "Nothing to delete."
    rows = sum(todo.warehouse_rows.values())
    per_table = ", ".join(f"{t} {n:,}" for t, n in todo.warehouse_rows.items() if n)
    days = ", ".join(f"{t}/{d}" for t, d in todo.days)
    lines = [
        f"{verb} {plural(len(todo.days), 'tenant-day')}: {days}" if todo.days else f"{verb} 0 tenant-days",
        f"  files: {len(todo.files)}" + "".join(f"\n    {p.relative_to(root)}" for p in todo.files),
        *(f"  from pack {p.relative_to(root)}: {len(d)} days" for p, d in todo.packed.items()),
        f"  warehouse rows: {rows:,}" + (f" ({per_table})" if per_table else ""),
        f"  catalog rows: {todo.catalog_rows}",
        f"  file checkpoints: all kept; {todo.checkpoints} naming the tenant become {ERASED_NAME!r}",
    ]
    return "\n".join(safe_text(line) for line in "\n".join(lines).splitlines())


@app.command()
@_cli_errors
def erase(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant to erase.", show_default=False)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be deleted.")] = False,
    before: Annotated[
        str | None,
        typer.Option(help="Erase only the tenant's days before this date (YYYY-MM-DD).", show_default=False),
    ] = None,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete a tenant's data (or its days before --before) so that no byte of it stays in the state dir."""
    check_tenant(tenant)
    cutoff = parse_before(before)
    if not (yes or dry_run or sys.stdin.isatty()):
        raise UsageError(
            "rings erase asks for confirmation: run it on a terminal, or pass --yes (--dry-run shows)"
        )
    state = StateDir(state_dir)
    state.check_dir()
    state.group_readable = load_config(None, state).group_readable  # keep the tree's modes as they are
    root = state.root

    def confirm(todo: "ErasePlan") -> bool:
        typer.echo(_plan_text(todo, root, "Will delete"))
        if yes:
            return True
        return typer.confirm("Erase this for good?", default=False)

    todo, done = erase_tenant(state, tenant, cutoff, dry_run=dry_run, confirm=confirm)
    if dry_run or todo.empty:
        typer.echo(_plan_text(todo, root, "Would delete"))
    elif done:
        typer.echo(f"Erased {plural(len(todo.days), 'tenant-day')} of {tenant}.")
    else:
        typer.echo("Nothing erased.")
    for number, text in todo.config_lines:
        typer.echo(safe_text(f"rings.toml line {number} still names {tenant}: {text}"))


@app.command()
@_cli_errors
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be deleted.")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Config file. Default: rings.toml in the state dir.", show_default=False
        ),
    ] = None,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Delete the tenant-days older than rings.toml's keep_days (ingest does it too, after each run)."""
    state = StateDir(state_dir)
    state.check_dir()
    settings = load_config(config, state)
    state.group_readable = settings.group_readable
    todo = run_gc(state, settings, dry_run=dry_run)
    typer.echo(_plan_text(todo, state.root, "Would delete" if dry_run else "Deleted"))


@app.command()
@_cli_errors
def check(
    repair: Annotated[
        bool, typer.Option("--repair", help="Fix what can be fixed (damaged files are moved aside).")
    ] = False,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Verify the state dir (integrity, catalog against files, modes); say how to repair it."""
    result = check_state(StateDir(state_dir), repair=repair)
    for action in result.repaired:
        typer.echo(f"repaired: {action}")
    for lost in result.lost:
        typer.echo(f"lost: {lost}: no DO file and no warehouse copy")
    for p in result.problems:
        typer.echo(f"{p.path}: {p.problem}; repair: {p.repair}")
    n = len(result.problems)
    typer.echo("OK" if result.ok else f"{n} problem{'s' if n != 1 else ''}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@_cli_errors
def live(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Logs to tail and show at once (like `goaccess access.log`); without, show what "
            "other ingests write.",
            show_default=False,
        ),
    ] = None,
    tenant: TenantOption = None,
    date: Annotated[
        str | None,
        typer.Option(help="Day to show, YYYY-MM-DD (default: the tenant's today).", show_default=False),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between redraws.", min=0.05)] = 0.5,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (no terminal needed).")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="With PATHS: their format, as for ingest.")
    ] = "auto",
    flush_interval: Annotated[
        float, typer.Option("--flush-interval", help="With PATHS: seconds between warehouse flushes.")
    ] = DEFAULT_FLUSH_INTERVAL,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Live terminal dashboard of a day (default today), for one tenant or all."""
    state = StateDir(state_dir)
    state.check_dir()
    if tenant is not None:
        check_tenant(tenant)
    day = parse_date(date, "--date")
    console = Console()
    if not once and not console.is_terminal:
        raise UsageError("rings live draws on a terminal; use --once to print one frame")
    feeder = LiveIngest(state, fmt, paths or [], flush_interval) if paths else None
    view = View(tenant=tenant, pinned=tenant is not None)
    from rings_cli.enrich.zones import local_today  # only `rings live` needs the zones (Polars)

    config = load_config(None, state)
    watch = ChangeWatch(state)

    def shown_day() -> dt.date:
        if day is not None:
            return day
        today = local_today(config, view.tenant)  # the tenant's own today (per-site time zones)
        return feeder.newest_day(today) if feeder is not None else today

    try:
        if once:
            if feeder is not None:
                feeder.read_once()
            frame = fetch(state, shown_day(), view.tenant)
            note = feeder.note() if feeder is not None else None
            console.print(dashboard(frame, console.width, None, view, note=note))
            return
        if feeder is not None:
            feeder.start()
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a dashboard is closed: exit 0
            run_dashboard(
                console,
                load=lambda v: fetch(state, shown_day(), v.tenant),
                changed=lambda v: watch.changed(shown_day(), v.tenant),
                view=view,
                interval=interval,
                note=feeder.note if feeder is not None else (lambda: None),
            )
    finally:
        if feeder is not None:
            feeder.stop()


@app.command()
@_cli_errors
def audit(
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """Check the privacy promises on the state dir's tables and bytes; exit 1 with what failed."""
    result = run_audit(StateDir(state_dir))
    typer.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.text())
    if not result.ok:
        raise typer.Exit(1)


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
    typer.echo("json:<field>=<key>   your JSON keys, e.g. 'json:ip=client,time=ts,path=uri,status=code'")


@app.command()
@_cli_errors
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="RINGS_TOKEN",
            help="Every request must carry it (Bearer header, or a cookie from /login?token=).",
            show_default=False,
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another name the server answers to (e.g. the public name behind a proxy).",
            show_default=False,
        ),
    ] = None,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Web dashboard and JSON API (/api/..., WebSocket live); read-only, loopback by default."""
    from rings_cli.web.server import Policy, bind, url_of
    from rings_cli.web.server import serve as run_server

    state = StateDir(state_dir)
    state.check_dir()
    policy = Policy(host, token, allow_host)
    sock = bind(host, port)
    note = " (send the token: open /login?token=... once per browser)" if token else ""
    typer.echo(f"Rings dashboard at {url_of(sock, host)}{note}; Ctrl-C to stop", err=False)
    sys.stdout.flush()

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # uvicorn has shut down cleanly and passes the signal on

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM is how a server stops: exit 0
        run_server(state, policy, sock)


def _load_when_used(module: str, name: str) -> None:
    """Stand in for `module` until `module.name` is really used (called or looked into).

    Typer's help imports `rich.markdown` (markdown-it) for help written in Markdown, which Rings'
    help is not, and `rich.traceback` (Pygments) for pretty tracebacks, which Rings turns off:
    together 90 ms, a third of `rings --help`."""
    if module in sys.modules:
        return
    import importlib
    import types

    stub = types.ModuleType(module)

    def real() -> Any:
        if sys.modules.get(module) is stub:
            del sys.modules[module]
        return getattr(importlib.import_module(module), name)

    class Forward(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

        def __getattr__(cls, attr: str) -> Any:
            return getattr(real(), attr)

    def rest(attr: str) -> Any:
        if attr.startswith("__"):  # what the import system asks a module (`__path__`, ...)
            raise AttributeError(attr)
        real()
        return getattr(sys.modules[module], attr)

    setattr(stub, name, Forward(name, (), {}))
    stub.__getattr__ = rest  # type: ignore[method-assign]
    sys.modules[module] = stub
    parent, _, child = module.rpartition(".")
    setattr(importlib.import_module(parent), child, stub)  # `import rich.markdown` binds it too


def main() -> None:
    """Console-script entry point."""
    _load_when_used("rich.markdown", "Markdown")
    _load_when_used("rich.traceback", "Traceback")
    if sys.argv[1:2] == ["report"] and not {"-h", "--help"} & set(sys.argv):
        warm_up_reader()  # DuckDB makes the report's database while Typer parses (30 ms)
    app()
