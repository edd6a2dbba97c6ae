"""`rings warehouse init|migrate` (the shared PostgreSQL warehouse) and `rings export --parquet`."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rings_cli.cli.app import DebugOption, StateDirOption, _cli_errors, app
from rings_cli.core.errors import UsageError
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir

open_warehouse = lazy("rings_cli.warehouse.choose", "open_warehouse")
migrate_history = lazy("rings_cli.warehouse.migrate", "migrate")
LocalWarehouse = lazy("rings_cli.warehouse.local", "LocalWarehouse")

warehouse_app = typer.Typer(help="The shared PostgreSQL warehouse: create its tables, move history into it.")
app.add_typer(warehouse_app, name="warehouse")


def _shared(state: StateDir) -> Any:
    warehouse = open_warehouse(state)
    if warehouse.kind != "postgres":
        raise UsageError(
            f'{state.root}/rings.toml has no [warehouse] kind = "postgres" with a dsn: '
            "the local warehouse needs no init (see docs/warehouse.md)"
        )
    return warehouse


@warehouse_app.command("init")
@_cli_errors
def init(state_dir: StateDirOption = None, debug: DebugOption = False) -> None:
    """Create Rings' schema, tables and indexes in the PostgreSQL database of rings.toml (idempotent)."""
    warehouse = _shared(StateDir(state_dir))
    warehouse.init()
    typer.echo(f"{warehouse.describe()}: schema rings ready")


@warehouse_app.command("migrate")
@_cli_errors
def migrate(state_dir: StateDirOption = None, debug: DebugOption = False) -> None:
    """Copy this state dir's local warehouse (warehouse.duckdb) into the PostgreSQL warehouse."""
    state = StateDir(state_dir)
    state.require()
    target = _shared(state)
    with state.ingest_lock():  # no flush of this state dir meanwhile
        counts = migrate_history(LocalWarehouse(state.warehouse_path), target)
    rows = ", ".join(f"{t} {n:,}" for t, n in counts.items() if n)
    typer.echo(
        f"migrated {sum(counts.values()):,} rows to {target.describe()}" + (f" ({rows})" if rows else "")
    )


@app.command("export")
@_cli_errors
def export(
    parquet: Annotated[
        Path, typer.Option("--parquet", help="Folder to write one Parquet file per table into.")
    ],
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows per table as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """Every warehouse table as Parquet, for lakehouse readers (Spark, Trino, DuckLake, Iceberg)."""
    state = StateDir(state_dir)
    state.require()
    if parquet.exists() and not parquet.is_dir():
        raise UsageError(f"--parquet: {parquet} is not a folder")
    parquet.mkdir(parents=True, exist_ok=True)
    counts = open_warehouse(state).export_parquet(parquet)
    if as_json:
        typer.echo(json.dumps(counts))
    else:
        typer.echo(f"wrote {len(counts)} tables ({sum(counts.values()):,} rows) to {parquet}")
