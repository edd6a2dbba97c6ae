"""Names imported on first use, so that `rings --help` (and any command) loads only what it runs.

Polars and DuckDB take most of a second to import; the CLI names its library functions through
`lazy(module, name)`, which imports `module` when the name is first called or looked into.
"""

from __future__ import annotations

import importlib
from typing import Any


class Lazy:
    """Stands for `module.name`: calling it, or reading an attribute, imports the module."""

    def __init__(self, module: str, name: str) -> None:
        self._module = module
        self._name = name
        self._target: Any = None

    def resolve(self) -> Any:
        if self._target is None:
            self._target = getattr(importlib.import_module(self._module), self._name)
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.resolve(), attr)


def lazy(module: str, name: str) -> Any:
    return Lazy(module, name)


class LazyModule:
    """Stands for a module: reading an attribute imports it (once; then a dict look-up)."""

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._module), attr)


def lazy_module(module: str) -> Any:
    return LazyModule(module)
