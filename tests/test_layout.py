"""The package's layout, from its own imports: layers in pipeline order, no circle, library first.

Every import counts, at module level, inside a function (a lazy import) or under TYPE_CHECKING: each
is a tie a reader must follow. The layers are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rings_cli"

# Lowest first. A module may import its own layer and the ones below; the packages of one layer are
# peers and import none of each other.
LAYERS: list[tuple[str, ...]] = [
    ("core",),
    ("source",),
    ("enrich",),
    ("count",),
    ("store",),
    ("warehouse",),
    ("days",),
    ("ingest",),
    ("query",),
    ("ui", "web", "ops"),
    ("cli",),
]
# The top level of rings_cli/ besides these: the package itself and `python -m rings_cli`.
BESIDES = {"__init__.py", "__main__.py", "cli", "cli.py"}


def modules() -> dict[str, Path]:
    """`source.tail` -> its file, for every module of the package (`cli` for cli.py or cli/)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's own modules that `name` imports (a package's name when it imports the package)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(["rings_cli", *base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" for a in node.names] + [module]
        for target in targets:
            if not target.startswith("rings_cli"):
                continue
            inner = target.removeprefix("rings_cli").lstrip(".")
            if inner in known and inner != name:
                found.add(inner)
                # Importing a.b.c runs the package a.b first (unless this module is inside it).
                parts = inner.split(".")
                for n in range(1, len(parts)):
                    parent = ".".join(parts[:n])
                    if parent in known and not name.startswith(parent + "."):
                        found.add(parent)
                if isinstance(node, ast.ImportFrom):
                    break  # `from a.b import c`: the module c if it is one, else a.b
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def layer_of(module: str) -> int | None:
    top = module.split(".")[0] if module else ""
    for index, packages in enumerate(LAYERS):
        if top in packages:
            return index
    return None


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_no_import_circle() -> None:
    assert circles(graph()) == []


def test_no_import_runs_up_a_layer_or_across_peers() -> None:
    wrong = []
    for module, targets in graph().items():
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if here is None or there is None:
                if target.split(".")[0] != "" and module not in ("", "__main__"):
                    wrong.append(f"{module} -> {target}: not in a declared layer")
                continue
            if there > here:
                wrong.append(f"{module} -> {target}: up from {LAYERS[here]} to {LAYERS[there]}")
            elif there == here and module.split(".")[0] != target.split(".")[0]:
                wrong.append(f"{module} -> {target}: across peers {LAYERS[here]}")
    assert wrong == []


def test_every_module_is_in_a_layer() -> None:
    loose = [m for m in modules() if m not in ("", "__main__") and layer_of(m) is None]
    assert loose == []


def test_top_level_is_twelve_subpackages_at_most() -> None:
    entries = [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and p.name not in BESIDES]
    assert len(entries) <= 12, sorted(entries)
    assert all((PACKAGE / e / "__init__.py").is_file() for e in entries), sorted(entries)


def test_each_subpackage_says_what_it_owns_and_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text())
        doc = ast.get_docstring(tree) or ""
        assert doc, f"{init.parent.name}/__init__.py has no docstring"
        if init.parent.name not in ("cli",):
            assert "May import" in doc, f"{init.parent.name}/__init__.py does not say what it may import"
        # A package's __init__ stays empty of imports: importing one module never loads its siblings.
        assert not [
            n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
        ] or init.parent.name in (
            "cli",
            "formats",
        ), f"{init.parent.name}/__init__.py imports modules"


def test_pipeline_modules_do_not_import_typer_or_rich() -> None:
    """Library first: Typer only in the CLI, Rich only in the CLI and ui/ (the terminal renderings)."""
    for name, path in modules().items():
        top = name.split(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for imported in names:
                root = imported.split(".")[0]
                if root in {"typer", "click"}:
                    assert top == "cli", f"{name} imports {imported}"
                if root == "rich":
                    assert top in ("cli", "ui"), f"{name} imports {imported}"


def test_the_checks_find_what_they_look_for() -> None:
    """The graph helpers on a made-up graph: a circle is found, a clean graph has none."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert layer_of("store.dofile") == LAYERS.index(("store",))
    assert layer_of("ui.render") == layer_of("web.server")
