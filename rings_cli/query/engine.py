"""DuckDB's engine without the package's Python relation layer, a third of `rings report`'s
start-up on a local warehouse (the package is imported only to scan a Python frame: readpath)."""

try:
    from _duckdb import *  # noqa: F403
except ImportError:  # pragma: no cover - DuckDB before 2.0 keeps its engine inside the package
    from duckdb import *  # noqa: F403
