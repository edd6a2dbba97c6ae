"""A report's connections, made while Typer parses and the report's modules load (cli.main).

A local warehouse's read gets DuckDB's in-memory database (readpath.warm_up); a shared one's gets
its two PostgreSQL connections (pgview: one per query thread), made in a thread that mostly waits
for the server to start their backends: about 30 ms of a one-tenant report's start-up.
"""

from __future__ import annotations

from rings_cli.core.state import StateDir
from rings_cli.warehouse.choose import setting_of


def warm_up(root: str | None) -> None:
    """Start making what a read of the state dir at `root` (None: the default) will need."""
    try:
        setting = setting_of(StateDir(root))
    except Exception:  # the command reads rings.toml again and says what is wrong
        return
    if setting.kind != "postgres":
        from rings_cli.query.readpath import warm_up as local

        local()
        return
    from rings_cli.query.pgconn import start

    start(setting.dsn)
