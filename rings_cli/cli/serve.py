"""`rings serve`: the web dashboard and JSON API."""

import contextlib
import signal
import sys
from typing import Annotated

import typer

from rings_cli.cli.app import DebugOption, StateDirOption, _cli_errors, app, whole_number
from rings_cli.core.bounds import ensure_open_files
from rings_cli.core.state import StateDir


@app.command()
@_cli_errors
def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback needs a token.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(parser=whole_number(0, 65535), metavar="PORT", help="Port (0: any free one).")
    ] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="RINGS_TOKEN",
            help="Every request must carry it (Bearer header, or a cookie from /login?token=).",
            show_default=False,
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another name the server answers to (e.g. the public name behind a proxy).",
            show_default=False,
        ),
    ] = None,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Web dashboard and JSON API (/api/..., WebSocket live); read-only, loopback by default."""
    from rings_cli.web.access import SiteTokens
    from rings_cli.web.server import Policy, bind, url_of
    from rings_cli.web.server import serve as run_server

    ensure_open_files()  # a socket for each client, and the reads' files
    state = StateDir(state_dir)
    state.check_dir()
    policy = Policy(host, token, allow_host, SiteTokens(state))
    sock = bind(host, port)
    note = " (send the token: open /login?token=... once per browser)" if policy.closed() else ""
    typer.echo(f"Rings dashboard at {url_of(sock, host)}{note}; Ctrl-C to stop", err=False)
    sys.stdout.flush()

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # uvicorn has shut down cleanly and passes the signal on

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM is how a server stops: exit 0
        run_server(state, policy, sock)
