"""The library never imports the CLI or terminal layers (STYLE.md: library first)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rings_cli"
UI_MODULES = {"cli.py", "render.py", "dashboard.py", "__main__.py"}


def test_pipeline_modules_do_not_import_typer_or_rich() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):  # formats/ too
        if path.name in UI_MODULES:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in {"typer", "rich", "click"}, f"{path.name} imports {name}"
                assert name not in {"rings_cli.cli", "rings_cli.render"}, f"{path.name} imports {name}"
