"""Protocol code knows no settings, no I/O seam and nothing above it.

The packages that turn bytes into typed objects (``xml``, ``pes``, ``signing``, ``actes``,
``elections``, ``archive``) must not import the settings, the transport, the tracking store,
the gateway or anything built on them: the gateway and the CLI turn a profile into the
protocol's own types (:mod:`demat.gateway.identity`). Every import counts, including those
inside functions and under ``TYPE_CHECKING``, so each module's source is read, not imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PROTOCOL = ("xml", "pes", "signing", "actes", "elections", "archive")
#: The settings, the I/O seams and every layer above the protocol code.
FORBIDDEN = (
    "demat.config",
    "demat.transport",
    "demat.tracking",
    "demat.storage",
    "demat.spool",
    "demat.gateway",
    "demat.cli",
    "demat.sandbox",
    "demat.depot",
    "demat.web",
    "demat.demo",
)
_IMPORT_FUNCTIONS = {"import_module", "__import__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name) of every module the source may import, wherever the import stands."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            found.append((node.lineno, origin))
            # ``from demat import config`` imports the module demat.config.
            found += [(node.lineno, f"{origin}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0] if node.args else None
            if name in _IMPORT_FUNCTIONS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((node.lineno, first.value))
    return found


def _forbidden(name: str) -> str | None:
    for prefix in FORBIDDEN:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def violations() -> list[str]:
    """One line per forbidden import in the protocol packages."""
    problems: list[str] = []
    for package in PROTOCOL:
        for path in sorted((SRC / "demat" / package).rglob("*.py")):
            module = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            seen: set[tuple[int, str]] = set()
            for line, name in _imported(tree, module, path.name == "__init__.py"):
                prefix = _forbidden(name)
                if prefix and (line, prefix) not in seen:
                    seen.add((line, prefix))
                    problems.append(f"{module} (line {line}) imports {name}")
    return problems


def test_protocol_packages_import_no_settings_io_or_upper_layer() -> None:
    problems = violations()
    assert not problems, "protocol code imports what it must not:\n" + "\n".join(problems)


def test_every_protocol_package_is_read() -> None:
    for package in PROTOCOL:
        assert (SRC / "demat" / package / "__init__.py").is_file(), package


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from demat.config import Profile\n", "demat.config"),
        ("import demat.transport.s2low\n", "demat.transport.s2low"),
        ("from demat import tracking\n", "demat.tracking"),
        ("from ...config import Settings\n", "demat.config"),
        ("from ... import gateway\n", "demat.gateway"),
        ("if TYPE_CHECKING:\n    from demat.config import SignerConfig\n", "demat.config"),
        ("def f():\n    from demat.cli._common import emit_json\n", "demat.cli._common"),
        ("import importlib\nimportlib.import_module('demat.sandbox')\n", "demat.sandbox"),
    ],
)
def test_the_check_sees_every_form_of_import(source: str, expected: str) -> None:
    tree = ast.parse(source)
    names = [name for _, name in _imported(tree, "demat.pes.sub.mod", is_package=False)]
    assert expected in names
    assert _forbidden(expected)


def test_allowed_imports_pass() -> None:
    source = "from demat.errors import ConfigError\nfrom ..xml.safe import parse\nimport lxml.etree\n"
    tree = ast.parse(source)
    names = [name for _, name in _imported(tree, "demat.pes.sign", is_package=False)]
    assert not [n for n in names if _forbidden(n)]
    assert "demat.xml.safe" in names
