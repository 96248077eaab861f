"""The public API: ``import demat`` gives the gateway, the settings and every error; each public
module (no ``_`` in its dotted name's parts) declares ``__all__``, and every name in it exists
and is documented.

What counts as documented:

* a class, a function or a module: its own docstring (not one inherited from a base class nor
  the signature a dataclass or a named tuple writes when it has none);
* anything else (a constant, a type alias, a ``TypeVar``): a ``#:`` comment on the line above
  its assignment, or a string literal just after it (Sphinx's two ways), in the module that
  assigns it; a name imported from elsewhere is looked up there. A value cannot carry a
  docstring of its own, and reading the source is the only way to hold these to the same
  rule. Dunder names (``__version__``) are exempt: their meaning is Python's.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import demat
from demat import errors

SRC = Path(__file__).resolve().parents[1] / "src"


def _public_modules() -> list[str]:
    found = []
    for path in sorted((SRC / "demat").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        if not any(part.startswith("_") for part in parts):
            found.append(".".join(parts))
    return found


@cache
def _tree(module: str) -> tuple[ast.Module, list[str]]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    source = Path(spec.origin).read_text("utf-8")
    return ast.parse(source), source.splitlines()


def _package_of(module: str) -> str:
    spec = importlib.util.find_spec(module)
    is_package = spec is not None and spec.submodule_search_locations is not None
    return module if is_package else module.rpartition(".")[0]


def _constant_documented(module: str, name: str, seen: frozenset[tuple[str, str]] = frozenset()) -> bool:
    """Whether ``module`` documents ``name`` by ``#:`` or a string after it, or imports it from
    a module that does."""
    if (module, name) in seen:
        return False
    seen = seen | {(module, name)}
    tree, lines = _tree(module)
    for body in _blocks(tree.body):
        found = _documented_in(body, lines, module, name, seen)
        if found is not None:
            return found
    return False


def _blocks(body: list[ast.stmt]) -> list[list[ast.stmt]]:
    """The module's top-level block and those nested in ``if``/``try`` (``if TYPE_CHECKING:``
    imports of a package that loads its names lazily)."""
    out = [body]
    for node in body:
        if isinstance(node, ast.If | ast.Try):
            for inner in (node.body, node.orelse, getattr(node, "finalbody", [])):
                out += _blocks(inner)
    return out


def _documented_in(
    body: list[ast.stmt], lines: list[str], module: str, name: str, seen: frozenset[tuple[str, str]]
) -> bool | None:
    """Whether ``body`` documents ``name``; ``None`` when it neither assigns nor imports it."""
    for index, node in enumerate(body):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            after = body[index + 1] if index + 1 < len(body) else None
            string_after = (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            )
            return above.startswith("#:") or string_after
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    origin = node.module or ""
                    if node.level:
                        base = _package_of(module).split(".")
                        base = base[: len(base) - (node.level - 1)]
                        origin = ".".join([*base, *([node.module] if node.module else [])])
                    return _constant_documented(origin, alias.name, seen)
    return None


def _own_docstring(obj: Any) -> bool:
    doc = obj.__doc__
    if not isinstance(doc, str) or not doc.strip():
        return False
    if inspect.isclass(obj):
        if any(doc == getattr(base, "__doc__", None) for base in obj.__mro__[1:]):
            return False  # inherited (an Enum's or a base class's)
        if (dataclasses.is_dataclass(obj) or issubclass(obj, tuple)) and doc.startswith(f"{obj.__name__}("):
            return False  # the signature a dataclass or a named tuple writes for itself
    return True


def _problems(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        return ["no __all__"]
    out = []
    for name in names:
        try:
            obj = getattr(module, name)
        except AttributeError:
            out.append(f"{name}: in __all__ but not defined")
            continue
        if name.startswith("__") and name.endswith("__"):
            continue
        if inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, types.ModuleType):
            if not _own_docstring(obj):
                out.append(f"{name}: no docstring")
        elif not _constant_documented(module_name, name):
            out.append(f"{name}: constant without a #: comment")
    return out


@pytest.mark.parametrize("module_name", _public_modules())
def test_public_module_declares_and_documents_its_names(module_name: str) -> None:
    problems = _problems(module_name)
    assert not problems, f"{module_name}: " + "; ".join(problems)


def test_import_demat_gives_the_gateway_the_settings_and_every_error() -> None:
    from demat.config import Settings, load_settings
    from demat.gateway import Gateway

    assert demat.Gateway is Gateway
    assert demat.Settings is Settings
    assert demat.load_settings is load_settings
    for name in errors.__all__:
        assert getattr(demat, name) is getattr(errors, name), name
        assert name in demat.__all__, name
    assert {"Gateway", "Settings", "load_settings"} <= set(demat.__all__)


def test_every_error_class_is_in_the_tree() -> None:
    """``demat.errors.__all__`` lists every error class the module defines."""
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, errors.DematError) and obj.__module__ == errors.__name__
    }
    assert defined == set(errors.__all__)


def test_import_demat_stays_light() -> None:
    """The gateway and the settings are imported on first use, not by ``import demat``."""
    import subprocess
    import sys

    probe = "import sys, demat; print(sorted(m for m in sys.modules if m.startswith('demat')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["demat", "demat.errors"]


def test_the_rule_itself() -> None:
    """The checker tells documented names from undocumented ones."""

    @dataclasses.dataclass
    class Bare:
        x: int

    @dataclasses.dataclass
    class Told:
        """Documented."""

    assert not _own_docstring(Bare) and _own_docstring(Told)
    assert _constant_documented("demat.xml.safe", "DEFAULT_LIMITS")  # #: above it
    assert _constant_documented("demat.xml", "DEFAULT_LIMITS")  # re-exported: looked up at home
    assert not _constant_documented("demat.xml.prolog", "_DECL_SCAN")  # no comment
