"""The commands that look after a state dir: finalize, erase, gc, check, audit, backup, restore;
and `formats`."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rings_cli.cli.app import DebugOption, GraceOption, StateDirOption, _cli_errors, app, load_config
from rings_cli.core.errors import DamagedStateError, UsageError
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir, check_tenant
from rings_cli.core.text import plural, safe_text

if TYPE_CHECKING:
    from rings_cli.days.erase import ErasePlan

# The library, imported when a command first uses it (Polars and DuckDB are slow to import):
# `rings --help` loads none of it (tests/test_cli.py checks).
run_audit = lazy("rings_cli.ops.audit", "audit")
check_state = lazy("rings_cli.ops.check", "check_state")
erase_tenant = lazy("rings_cli.days.erase", "erase_tenant")
parse_before = lazy("rings_cli.days.erase", "parse_before")
run_gc = lazy("rings_cli.days.erase", "gc")
finalize_days = lazy("rings_cli.days.finalize", "finalize_days")
parse_duration = lazy("rings_cli.days.finalize", "parse_duration")
FORMATS = lazy("rings_cli.source.formats", "FORMATS")
copy_state = lazy("rings_cli.ops.backup", "backup")
restore_state = lazy("rings_cli.ops.backup", "restore")


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
        *(
            f"  set aside by a repair: {p.relative_to(root)}: "
            + ("its rows of these days" if what == "rows" else "cannot be read, so the whole file")
            for p, what in todo.set_aside.items()
        ),
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
    for todo in result.todo:
        typer.echo(f"to do: {todo}")
    for p in result.problems:
        typer.echo(f"{p.path}: {p.problem}; repair: {p.repair}")
    n = len(result.problems)
    typer.echo("OK" if result.ok else f"{n} problem{'s' if n != 1 else ''}")
    if not result.ok:
        raise typer.Exit(1)


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


@app.command()
@_cli_errors
def backup(
    dest: Annotated[Path, typer.Argument(help="An empty or new folder for the copy.", show_default=False)],
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Copy the state dir to DEST as it is at one moment, even while an ingest runs (it waits meanwhile)."""
    state = StateDir(state_dir)
    copied = copy_state(state, dest)
    typer.echo(
        safe_text(f"Copied {plural(copied.files, 'file')} ({copied.bytes:,} bytes) of {state.root} to {dest}")
    )
    for path in copied.skipped:
        typer.echo(safe_text(f"not copied (not Rings' state): {path}"))


@app.command()
@_cli_errors
def restore(
    source: Annotated[Path, typer.Argument(help="A folder made by `rings backup`.", show_default=False)],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace what the state dir holds (it is deleted first).")
    ] = False,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Put a backup back as the state dir: an empty or new one, unless --replace."""
    state = StateDir(state_dir)
    copied = restore_state(source, state, replace=replace)
    typer.echo(safe_text(f"Restored {plural(copied.files, 'file')} ({copied.bytes:,} bytes) to {state.root}"))


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
