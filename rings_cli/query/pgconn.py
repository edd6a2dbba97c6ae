"""The PostgreSQL connections a report will use, made ahead in a thread (query/warm.py starts it
while Typer parses; pgview takes them): the thread mostly waits for the server to start their
backends. Kept apart from warm.py, which also reaches the local read path, so that pgview and
readpath import no module that imports them."""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

CONNECTIONS = 2  # report.run_all's two query threads
_MADE: dict[str, Any] = {}  # "thread"; "dsn", "cons": the connections; "error": why there are none


def start(dsn: str) -> None:
    """Start making CONNECTIONS connections to `dsn` in a thread (once a process)."""
    if "thread" in _MADE:
        return

    def make() -> None:
        from rings_cli.warehouse.postgres import connect

        cons: list[psycopg.Connection[Any]] = []
        try:
            for _ in range(CONNECTIONS):
                cons.append(connect(dsn))
        except Exception as e:  # said by the read, on the main thread
            _MADE["error"] = e
        _MADE["dsn"], _MADE["cons"] = dsn, cons

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
