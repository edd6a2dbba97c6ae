"""The `rings` command: a thin Typer layer over the library, one module per command group.

Each command parses options, calls one library function, renders the result (app.py: the shared
options and the error handling). `rings_cli.cli:main` is the console script.
"""

import sys

# isort: off
from rings_cli.cli import ingest, report, live, serve, token, admin, warehouse  # noqa: F401 - each registers its commands, in `--help` order

# isort: on
from rings_cli.cli.app import _load_when_used, app
from rings_cli.core.lazy import lazy

__all__ = ["app", "main"]

warm_up_reader = lazy("rings_cli.query.warm", "warm_up")


def main() -> None:
    """Console-script entry point."""
    _load_when_used("rich.markdown", "Markdown")
    _load_when_used("rich.traceback", "Traceback")
    if sys.argv[1:2] == ["report"] and not {"-h", "--help"} & set(sys.argv):
        # The read's database (DuckDB) or connections (PostgreSQL) are made while Typer parses.
        warm_up_reader(_state_dir_arg(sys.argv[2:]))
    app()


def _state_dir_arg(args: list[str]) -> str | None:
    """`--state-dir`'s value as Typer will read it, else None (the default state dir). Only for
    the warm-up: a wrong guess makes a connection the report does not use."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--state-dir" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--state-dir="):
            return arg.split("=", 1)[1]
    return None
