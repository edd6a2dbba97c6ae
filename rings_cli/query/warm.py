"""A report's connections, made while Typer parses and the report's modules load (cli.main).

A local warehouse's read gets DuckDB's in-memory database (readpath.warm_up); a shared one's gets
its two PostgreSQL connections (pgview: one per query thread), made in a thread that mostly waits
for the server to start their backends: about 30 ms of a one-tenant report's start-up.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

from rings_cli.core.state import StateDir
from rings_cli.warehouse.choose import setting_of

if TYPE_CHECKING:
    import psycopg

CONNECTIONS = 2  # report.run_all's two query threads
_MADE: dict[str, Any] = {}  # "thread"; "dsn", "cons": the connections; "error": why there are none


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
    if "thread" in _MADE:
        return

    def make() -> None:
        from rings_cli.warehouse.postgres import connect

        cons: list[psycopg.Connection[Any]] = []
        try:
            for _ in range(CONNECTIONS):
                cons.append(connect(setting.dsn))
        except Exception as e:  # said by the read, on the main thread
            _MADE["error"] = e
        _MADE["dsn"], _MADE["cons"] = setting.dsn, cons

    thread = threading.Thread(target=make, name="rings-warm-up", daemon=True)
    thread.start()
    _MADE["thread"] = thread
    atexit.register(_close)


def connection(dsn: str) -> psycopg.Connection[Any]:
    """A connection to `dsn`: one made ahead when there is one left, else a new one. A failure to
    connect ahead is raised here rather than waited for a second time."""
    from rings_cli.warehouse.postgres import connect

    thread = _MADE.pop("thread", None)
    if thread is not None:
        thread.join()
    if _MADE.get("dsn") == dsn:
        if _MADE.get("cons"):
            return _MADE["cons"].pop(0)
        if "error" in _MADE:
            raise _MADE.pop("error")
    return connect(dsn)


def _close() -> None:
    """Connections made ahead and not used (the command failed first) are closed, not dropped."""
    for con in _MADE.pop("cons", []):
        con.close()
