"""`rings report`: a date range as a table, JSON, CSV or HTML."""

import sys
from typing import Annotated

import typer

from rings_cli.cli.app import (
    Console,
    DebugOption,
    StateDirOption,
    TenantOption,
    _cli_errors,
    app,
    normalize_host,
    whole_number,
)
from rings_cli.core.defaults import DEFAULT_LIMIT, MAX_LIMIT
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.core.text import safe_text
from rings_cli.query.export import CSV_SECTIONS, report_csv, report_json

build_report = lazy("rings_cli.query.report", "build_report")
report_html = lazy("rings_cli.ui.html", "report_html")
report_renderable = lazy("rings_cli.ui.render", "report_renderable")


@app.command()
@_cli_errors
def report(
    tenant: TenantOption = None,
    start: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="First day (the tenant's own): YYYY-MM-DD, YYYY-MM, YYYY, today or yesterday (a month's "
            "or year's first day). Alone: up to the newest data.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Last day, inclusive; the same words (a month's or year's last day).",
            show_default=False,
        ),
    ] = None,
    last: Annotated[
        str | None,
        typer.Option(
            "--last",
            metavar="N",
            help="The last 7d, 4w, 12m or 1y: up to --end, or to the newest data when today has none.",
            show_default=False,
        ),
    ] = None,
    all_data: Annotated[bool, typer.Option("--all", help="Every day that has data.")] = False,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="table, json, csv or html.")
    ] = "table",
    limit: Annotated[
        int,
        typer.Option(
            parser=whole_number(1, MAX_LIMIT), metavar="N", help=f"Rows in top lists (1 to {MAX_LIMIT:,})."
        ),
    ] = DEFAULT_LIMIT,
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
    """Report a date range (default: the last 7 days with data; --all, --last 4w, --start 2016-03)."""
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
        StateDir(state_dir),
        tenant=tenant,
        start=start,
        end=end,
        limit=limit,
        compare=compare,
        last=last,
        all_data=all_data,
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
