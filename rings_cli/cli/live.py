"""`rings live`: the terminal dashboard of a day, tailing logs itself when given some."""

import contextlib
import datetime as dt
from typing import Annotated

import typer

from rings_cli.cli.app import (
    Console,
    DebugOption,
    StateDirOption,
    TenantOption,
    _cli_errors,
    app,
    load_config,
    normalize_host,
    seconds,
)
from rings_cli.core.bounds import ensure_open_files
from rings_cli.core.defaults import (
    DEFAULT_FLUSH_INTERVAL,
    MAX_FLUSH_INTERVAL,
    MAX_REDRAW,
    MIN_FLUSH_INTERVAL,
    MIN_REDRAW,
)
from rings_cli.core.errors import UsageError
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir, check_tenant

View = lazy("rings_cli.ui.dashboard", "View")
dashboard = lazy("rings_cli.ui.dashboard", "dashboard")
run_dashboard = lazy("rings_cli.ui.dashboard", "run")
ChangeWatch = lazy("rings_cli.query.live", "ChangeWatch")
KeptDatabase = lazy("rings_cli.query.readpath", "KeptDatabase")
LiveIngest = lazy("rings_cli.query.live", "LiveIngest")
fetch = lazy("rings_cli.query.live", "fetch")
parse_date = lazy("rings_cli.query.report", "parse_date")
check_known_tenant = lazy("rings_cli.query.report", "check_known_tenant")


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
    interval: Annotated[
        float,
        typer.Option(parser=seconds(MIN_REDRAW, MAX_REDRAW), metavar="S", help="Seconds between redraws."),
    ] = 0.5,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit (no terminal needed).")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="With PATHS: their format, as for ingest.")
    ] = "auto",
    flush_interval: Annotated[
        float,
        typer.Option(
            "--flush-interval",
            parser=seconds(MIN_FLUSH_INTERVAL, MAX_FLUSH_INTERVAL),
            metavar="S",
            help="With PATHS: seconds between warehouse flushes.",
        ),
    ] = DEFAULT_FLUSH_INTERVAL,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Live terminal dashboard of a day (default today), for one tenant or all."""
    if paths:
        ensure_open_files()  # it ingests: a limit too low for that is one line before anything is read
    state = StateDir(state_dir)
    state.check_dir()
    if tenant is not None:
        tenant = check_tenant(normalize_host(tenant))  # `www.Shop.example` is shop.example, as in report
    day = parse_date(date, "--date")
    console = Console()
    if not once and not console.is_terminal:
        raise UsageError("rings live draws on a terminal; use --once to print one frame")
    feeder = LiveIngest(state, fmt, paths or [], flush_interval) if paths else None
    if tenant is not None and feeder is None:  # a typo is exit 2 with suggestions, not a silent wait
        check_known_tenant(state, tenant)
    view = View(tenant=tenant, pinned=tenant is not None)
    from rings_cli.enrich.zones import local_today  # only `rings live` needs the zones (Polars)

    config = load_config(None, state)
    watch = ChangeWatch(state)

    def shown_day() -> dt.date:
        if day is not None:
            return day
        today = local_today(config, view.tenant)  # the tenant's own today (per-site time zones)
        return feeder.newest_day(today) if feeder is not None else today

    unchecked = [tenant] if tenant is not None and feeder is not None else []

    def check_tenant_once_read() -> bool:
        """With PATHS, the tenant may be one the files bring: checked once they are read."""
        if unchecked and feeder is not None and feeder.caught_up.is_set():
            check_known_tenant(state, unchecked.pop())
        return False

    try:
        if once:
            if feeder is not None:
                feeder.read_once()
                check_tenant_once_read()
            frame = fetch(state, shown_day(), view.tenant)
            note = feeder.note() if feeder is not None else None
            console.print(dashboard(frame, console.width, None, view, note=note))
            return
        if feeder is not None:
            feeder.start()
        kept = KeptDatabase()  # one in-memory database for every re-read
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a dashboard is closed: exit 0
            run_dashboard(
                console,
                load=lambda v: fetch(state, shown_day(), v.tenant, kept=kept),
                changed=lambda v: check_tenant_once_read() or watch.changed(shown_day(), v.tenant),
                view=view,
                interval=interval,
                note=feeder.note if feeder is not None else (lambda: None),
            )
    finally:
        if feeder is not None:
            feeder.stop()
