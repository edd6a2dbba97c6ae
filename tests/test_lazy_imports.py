"""`rings --help` imports none of the heavy libraries (Polars, DuckDB, PyArrow): they are loaded by
the commands that use them (rings_cli/core/lazy.py). Checked through sys.modules, not a timer."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from rings_cli.core.state import StateDir
from rings_cli.ingest.run import Ingest
from tests.conftest import line

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


HELP_THEN_RICH = """
import contextlib, io, json, sys
sys.argv = ["rings", "--help"]
from rings_cli.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main()
skipped = sorted(m for m in ("markdown_it", "pygments", "rich.progress") if m in sys.modules)
import rich.markdown, rich.traceback
from rich.console import Console
from rich.markdown import Markdown
from rich.traceback import Traceback
try:
    1 / 0
except ZeroDivisionError as e:
    tb = Traceback.from_exception(type(e), e, e.__traceback__)
shown = io.StringIO()
Console(file=shown, width=40).print(rich.markdown.Markdown("*hi*"), Markdown("**there**"), tb)
text = shown.getvalue()
print(json.dumps([skipped, "Commands" in out.getvalue(), "hi" in text, "ZeroDivisionError" in text]))
"""


def test_help_skips_markdown_pygments_and_progress_yet_they_work_when_used() -> None:
    """`rings --help` stands in for rich.markdown and rich.traceback (cli._load_when_used): Typer
    imports them for Markdown help and pretty tracebacks, which Rings uses neither of."""
    out = subprocess.run([sys.executable, "-c", HELP_THEN_RICH], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[], True, True, True]


REPORT = """
import contextlib, io, json, sys
sys.argv = ["rings", "report", "--state-dir", sys.argv[1], "--start", "2025-12-01", "--end", "2025-12-01",
            "--format", "json"]
from rings_cli.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main()
print(json.dumps([json.loads(out.getvalue())["totals"]["page_views"],
                  sorted(m for m in ("polars", "pyarrow", "duckdb", "rich.console") if m in sys.modules)]))
"""


def test_json_report_of_flushed_days_imports_no_polars_pyarrow_duckdb_package_or_rich(
    state: StateDir, write_log
) -> None:
    """DuckDB's engine (`_duckdb`) answers the queries; its Python package (relation layer,
    package metadata) is a third of the report's start-up and only needed to scan Python frames.
    JSON is written without Rich (rings_cli/query/export.py)."""
    Ingest(state, grace=None).run([str(write_log([line(), line(ip="2.2.2.2")]))])  # flushed at the end
    out = subprocess.run(
        [sys.executable, "-c", REPORT, str(state.root)], capture_output=True, text=True, check=True
    )
    engine_alone = importlib.util.find_spec("_duckdb") is not None  # DuckDB 2.0 and later
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, [] if engine_alone else ["duckdb"]]


REPORT_ALONE = REPORT.replace('("polars", "pyarrow", "duckdb", "rich.console")', "SKIPPED")
SKIPPED = ("rings_cli.source.inputs", "rings_cli.ui.charts", "tomllib", "gzip")


def test_json_report_imports_no_ingest_sources_charts_or_toml_reader(state: StateDir, write_log) -> None:
    """`rings report` imports only what it uses: the sources (and gzip) are for ingest,
    charts.py for a comparison or a table, tomllib for a state dir with a rings.toml (issue 13)."""
    Ingest(state, grace=None).run([str(write_log([line(), line(ip="2.2.2.2")]))])
    script = REPORT_ALONE.replace("SKIPPED", repr(SKIPPED))
    out = subprocess.run(
        [sys.executable, "-c", script, str(state.root)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, []]


INGEST = """
import json, sys
from rings_cli.ingest.run import Ingest
from rings_cli.core.state import StateDir
summary = Ingest(StateDir(sys.argv[1])).run([sys.argv[2]])
print(json.dumps([summary.page_views, summary.finalized, "pyarrow" in sys.modules]))
"""


def test_ingest_with_flush_and_finalization_imports_no_pyarrow(state: StateDir, write_log) -> None:
    """PyArrow costs about 50 MiB of peak memory: the visitor hash and the flush hand frames to
    DuckDB over the Arrow C stream interface instead (rings_cli/warehouse/arrow.py)."""
    log = write_log([line(), line(ip="2.2.2.2"), line(when="01/Dec/2025:10:00:00 +0000", status=404)])
    out = subprocess.run(
        [sys.executable, "-c", INGEST, str(state.root), str(log)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, ["default/2025-12-01"], False]


PG_REPORT = """
import contextlib, io, json, sys
sys.argv = ["rings", "report", "--state-dir", sys.argv[1], "--start", "2025-12-01", "--end", "2025-12-01",
            "--format", "json"]
from rings_cli.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main()
from rings_cli.query import pgconn as warm
heavy = ("polars", "pyarrow", "duckdb", "_duckdb", "rich.console", "ua_parser", "device_detector",
         "crawleruseragents", "starlette", "uvicorn", "rings_cli.source.inputs")
loaded = sorted(m for m in heavy if m in sys.modules)
print(json.dumps([json.loads(out.getvalue())["totals"]["page_views"], loaded, warm._MADE.get("cons"),
                  "error" in warm._MADE]))
"""


def test_report_of_a_shared_warehouse_imports_no_duckdb_polars_or_enrichment_and_uses_its_warm_connections(
    state: StateDir, write_log, pg_dsn: str
) -> None:
    """`rings report` on the PostgreSQL warehouse (issue 27): psycopg answers it, so neither DuckDB's
    engine nor Polars, the enrichment lists or the web server load; the two connections made while
    Typer parses (query/warm.py) are the ones the report's two query threads use."""
    from tests.conftest import use_postgres

    use_postgres(state, pg_dsn)
    Ingest(state, grace=None).run([str(write_log([line(), line(ip="2.2.2.2")]))])
    out = subprocess.run(
        [sys.executable, "-c", PG_REPORT, str(state.root)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [2, [], [], False]
