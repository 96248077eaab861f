"""Names a package loads on first use (PEP 562 module ``__getattr__``).

A package lists where each public name lives and hands :func:`lazy_names` its namespace; the
function it returns is the package's ``__getattr__``: the first access imports the module and
keeps the value as an ordinary attribute. ``import demat.pes`` then costs nothing until a name
is used, so a command pays only for what it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, where: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``where`` maps each name to the module defining it;
    ``namespace`` is the package's ``globals()``, where each value is kept once loaded."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
