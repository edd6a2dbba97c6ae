"""`rings --help` imports none of the heavy libraries (Polars, DuckDB, PyArrow): they are loaded by
the commands that use them (rings_cli/lazy.py). Checked through sys.modules, not a timer."""

from __future__ import annotations

import json
import subprocess
import sys

WRAPPER = """
import contextlib, io, json, sys
sys.argv = ["rings", "--help"]
from rings_cli.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main()
print(json.dumps(sorted(m for m in ("polars", "duckdb", "pyarrow") if m in sys.modules)))
"""


def test_help_imports_no_polars_duckdb_or_pyarrow() -> None:
    out = subprocess.run([sys.executable, "-c", WRAPPER], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
