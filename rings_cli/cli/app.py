"""What every command shares: the Typer app, its options, and how errors reach the user.

Library errors (`RingsError`) become one `Error: ...` line on stderr and the contract's exit code;
`--debug` shows tracebacks. The library is imported when a command first uses it (`lazy`): Polars
and DuckDB are slow to import, and `rings --help` loads none of them (tests/test_lazy_imports.py).
"""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from rings_cli import __version__
from rings_cli.core import bounds
from rings_cli.core.errors import (
    DiskFullError,
    OutOfFilesError,
    RingsError,
    UsageError,
    is_disk_full,
    is_out_of_files,
)
from rings_cli.core.lazy import lazy
from rings_cli.core.state import StateDir
from rings_cli.core.text import safe_text

# No `from __future__ import annotations` in the cli modules: Typer reads every command's
# annotations on every run, and as strings each costs a compile and an eval (13 ms in all). Names
# imported only for type checking are quoted.
if TYPE_CHECKING:
    from rich.console import Console
else:  # Rich, for what is drawn on a terminal: `rings report -f json` (or csv) never imports it.
    Console = lazy("rich.console", "Console")
load_config = lazy("rings_cli.core.config", "load_config")
normalize_host = lazy("rings_cli.core.config", "normalize_host")


def _say_error(message: str) -> None:
    Console(stderr=True).print(
        f"Error: {safe_text(message)}", style="red", markup=False, highlight=False, soft_wrap=True
    )


def _plain_flags(group: Any) -> None:
    """A flag takes no value: show `--json`, not `--json <bool>`, in every command's help."""
    commands = [group, *group.commands.values()]
    names = SimpleNamespace(help_option_names=["-h", "--help"])  # all get_help_option reads of a context
    helps = [command.get_help_option(names) for command in commands]  # made once, then cached
    for param in [p for command in commands for p in command.params] + [h for h in helps if h is not None]:
        if getattr(param, "is_bool_flag", False) and param.metavar is None:
            param.metavar = ""


def _bare_compare(args: list[str]) -> list[str]:
    """`rings report --compare` alone compares with the previous period: Typer has no option with
    an optional value, so a bare `--compare` (last, or followed by another option) gets `previous`."""
    out = list(args)
    if "report" not in out:
        return out
    for i in range(len(out) - 1, -1, -1):
        if out[i] == "--compare" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "previous")
    return out


# Click's error class, as Typer's own copy of Click defines it (Typer 0.28 vendors Click).
_ClickException: type[Any] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _OneLineErrors(typer.core.TyperGroup):
    """Option and command errors as one `Error: ...` line and exit 2, never a boxed panel."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        _plain_flags(self)
        if args:
            args = (_bare_compare(list(args[0] if args[0] is not None else sys.argv[1:])), *args[1:])
        else:
            given = kwargs.get("args")
            kwargs["args"] = _bare_compare(list(given if given is not None else sys.argv[1:]))
        try:
            run: Callable[..., Any] = super().main
            rv = run(*args, standalone_mode=False, **kwargs)
        except _ClickException as e:
            message = " ".join(e.format_message().split())
            ctx = getattr(e, "ctx", None)
            if message:  # empty when the help was shown instead (`rings` with no command)
                _say_error(message + (f" (see '{ctx.command_path} --help')" if ctx is not None else ""))
            rv = e.exit_code
        except typer.Abort:
            _say_error("aborted")
            rv = 1
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return rv


app = typer.Typer(
    cls=_OneLineErrors,
    help="Rings: privacy-first web analytics from server access logs.\n\n"
    "Start with `rings ingest access.log`, then `rings report` (or `rings live`).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (Typer's shell completion)
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        metavar="DIR",
        help="State dir. Default: $RINGS_STATE_DIR, else $XDG_DATA_HOME/rings (~/.local/share/rings).",
        show_default=False,
    ),
]
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant", metavar="NAME", help="Tenant (site) name, e.g. example.com.", show_default=False
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
GraceOption = Annotated[
    str,
    typer.Option(help="Finalize tenant-days that ended this long ago: seconds, or 90m, 1h, 2d."),
]


def _checked(check: Callable[[str], Any]) -> Callable[[Any], Any]:
    """An option's parser: the library's bounds check (core/bounds.py), its UsageError given to
    Click as a bad value, so the error names the option (one line, exit 2)."""

    def parse(value: Any) -> Any:
        try:
            return check(str(value))
        except UsageError as e:
            raise typer.BadParameter(str(e)) from None

    return parse


def whole_number(low: int, high: int) -> Callable[[Any], int]:
    """An integer option's parser: ASCII digits from `low` to `high`."""
    return _checked(lambda text: bounds.whole_number(text, None, low, high))


def seconds(low: float, high: float) -> Callable[[Any], float]:
    """A seconds option's parser: ASCII digits, an optional decimal point, from `low` to `high`."""
    return _checked(lambda text: bounds.seconds(text, None, low, high))


F = TypeVar("F", bound=Callable[..., Any])


def _cli_errors(func: F) -> F:
    """Turn library errors into `Error: ...` on stderr and the contract's exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return _disk_full_as_error(func, args, kwargs)
        except RingsError as e:
            if kwargs.get("debug"):
                raise
            _say_error(str(e))
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            Console(stderr=True).print("Interrupted", markup=False)
            raise typer.Exit(130) from None
        except OSError as e:
            if kwargs.get("debug"):
                raise
            where = f": {e.filename}" if e.filename else ""
            _say_error(f"{e.strerror or e}{where}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _disk_full_as_error(func: Callable[..., Any], args: Any, kwargs: dict[str, Any]) -> Any:
    """A full disk anywhere (SQLite, DuckDB, the OS) is one line naming the state dir: nothing is
    lost, since every write is a transaction, so the same command rerun with space is exact. So is
    the open-file limit reached anywhere (the OS's EMFILE, DuckDB's words for it)."""
    try:
        return func(*args, **kwargs)
    except (DiskFullError, OutOfFilesError):
        raise
    except Exception as e:
        if is_out_of_files(e):
            raise OutOfFilesError() from e
        if not is_disk_full(e):
            raise
        raise DiskFullError(StateDir(kwargs.get("state_dir")).root) from e


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rings {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Rings: privacy-first web analytics from server access logs."""


def _load_when_used(module: str, name: str) -> None:
    """Stand in for `module` until `module.name` is really used (called or looked into).

    Typer's help imports `rich.markdown` (markdown-it) for help written in Markdown, which Rings'
    help is not, and `rich.traceback` (Pygments) for pretty tracebacks, which Rings turns off:
    together 90 ms, a third of `rings --help`."""
    if module in sys.modules:
        return
    import importlib
    import types

    stub = types.ModuleType(module)

    def real() -> Any:
        if sys.modules.get(module) is stub:
            del sys.modules[module]
        return getattr(importlib.import_module(module), name)

    class Forward(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return real()(*args, **kwargs)

        def __getattr__(cls, attr: str) -> Any:
            return getattr(real(), attr)

    def rest(attr: str) -> Any:
        if attr.startswith("__"):  # what the import system asks a module (`__path__`, ...)
            raise AttributeError(attr)
        real()
        return getattr(sys.modules[module], attr)

    setattr(stub, name, Forward(name, (), {}))
    stub.__getattr__ = rest  # type: ignore[method-assign]
    sys.modules[module] = stub
    parent, _, child = module.rpartition(".")
    setattr(importlib.import_module(parent), child, stub)  # `import rich.markdown` binds it too
