"""`rings token add|list|revoke`: per-site tokens for `rings serve` (store/tokens.py)."""

import json
from typing import Annotated

import typer

from rings_cli.cli.app import DebugOption, StateDirOption, _cli_errors, app
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir
from rings_cli.core.text import safe_text

TokenFile = lazy("rings_cli.store.tokens", "TokenFile")

token_app = typer.Typer(help="Per-site tokens for `rings serve`: each sees only its sites.")
app.add_typer(token_app, name="token")

LabelOption = Annotated[
    str, typer.Option("--label", metavar="LABEL", help="A name for the token (A-Z a-z 0-9 . _ -).")
]


@token_app.command("add")
@_cli_errors
def add(
    tenant: Annotated[
        list[str],
        typer.Option("--tenant", metavar="NAME", help="A site the token may see (repeat for more)."),
    ],
    label: LabelOption,
    expires: Annotated[
        str | None,
        typer.Option(metavar="YYYY-MM-DD", help="Last day (UTC) the token works.", show_default=False),
    ] = None,
    share: Annotated[
        bool, typer.Option("--share", help="Also print a share link path: /share/TOKEN (no login).")
    ] = False,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Make a token; it is printed once, alone on stdout (the state dir keeps only a keyed digest)."""
    token, _ = TokenFile(StateDir(state_dir)).add(tenant, label, expires, share)
    typer.echo(token)
    if share:
        typer.echo(f"/share/{token}")


@token_app.command("list")
@_cli_errors
def list_tokens(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a token.")] = False,
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Label, tenants, created, expires, last used of every token (never the token)."""
    tokens = TokenFile(StateDir(state_dir))
    used = tokens.used()
    rows = [
        {
            "label": t.label,
            "tenants": list(t.tenants),
            "created": t.created,
            "expires": t.expires,
            "last_used": used.get(t.digest),
            "share": t.share,
            "expired": t.expired(),
        }
        for t in tokens.read()
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no tokens (`rings token add --tenant T --label L` makes one)")
        return
    for row in rows:
        expires = row["expires"] or "never"
        state = " (expired)" if row["expired"] else ""
        kind = " share" if row["share"] else ""
        line = (
            f"{row['label']}  {','.join(row['tenants'])}  created {row['created']}  "
            f"expires {expires}{state}  last used {row['last_used'] or 'never'}{kind}"
        )
        typer.echo(safe_text(line))


@token_app.command("revoke")
@_cli_errors
def revoke(
    label: Annotated[str, typer.Argument(metavar="LABEL", help="The token's label.")],
    state_dir: StateDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Remove a token: a running `rings serve` refuses it from its next request."""
    gone = TokenFile(StateDir(state_dir)).revoke(label)
    typer.echo(f"revoked {gone.label} ({', '.join(gone.tenants)})", err=True)
