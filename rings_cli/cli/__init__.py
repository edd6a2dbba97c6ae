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

warm_up_reader = lazy("rings_cli.query.readpath", "warm_up")


def main() -> None:
    """Console-script entry point."""
    _load_when_used("rich.markdown", "Markdown")
    _load_when_used("rich.traceback", "Traceback")
    if sys.argv[1:2] == ["report"] and not {"-h", "--help"} & set(sys.argv):
        warm_up_reader()  # DuckDB makes the report's database while Typer parses (30 ms)
    app()
