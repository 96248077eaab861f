"""Reusable checks that demat's bundled PES v5.17 schemas behave like the official set.

Load it from any test without touching ``sys.path``::

    equivalence = load_equivalence()  # see tests/pes_schemas/test_pes_schema_equivalence.py
    equivalence.assert_same_verdict(xml_bytes)          # kind taken from the root element
    equivalence.assert_same_verdict(tree, "pes_aller")  # bytes or a parsed lxml tree

Both sets are compiled once per process (through :class:`demat.xml.schemas.SchemaRegistry`) and
kept here; the official set is read from the shared reference data (callers should depend on the
``refdata`` fixture so the test skips where it is absent). :func:`structure` describes a whole set
independently of any document, for a sample-free comparison.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from demat.xml.schemas import SchemaRegistry

VERSION = "v5.17"
KINDS = ("pes_aller", "pes_acquit", "pes_acquit_v1", "pes_retour")
#: Kind of schema to use, from the local name of the document's root element.
KIND_OF_ROOT = {"PES_Aller": "pes_aller", "PES_ACQUIT": "pes_acquit", "PES_Retour": "pes_retour"}

_REPO = Path(__file__).resolve().parents[2]


def default_refdata() -> Path:
    """Where the shared reference data lives (same rule as tests/conftest.py)."""
    env = os.environ.get("DEMAT_REFDATA")
    return Path(env) if env else _REPO.parent / "shared" / "refdata"


@cache
def registry(refdata: Path | None = None) -> SchemaRegistry:
    """A registry that sees the bundled sets and the official PES sets of ``refdata``."""
    return SchemaRegistry(official_dirs=[(refdata or default_refdata()) / "pes" / "xsd"])


@cache
def schemas(kind: str, refdata: Path | None = None) -> tuple[Any, Any]:
    """(bundled, official) compiled schemas for ``kind``."""
    reg = registry(refdata)
    return (
        reg.schema("pes", kind, version=VERSION, origin="bundled"),
        reg.schema("pes", kind, version=VERSION, origin="official"),
    )


def kind_of(doc: Any) -> str:
    """The schema kind for a parsed document, from its root element."""
    root = doc.getroot() if hasattr(doc, "getroot") else doc
    return KIND_OF_ROOT[etree.QName(root).localname]


def _parse(xml: bytes | Any) -> Any:
    if isinstance(xml, bytes):
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
        return etree.ElementTree(etree.fromstring(xml, parser))
    return xml


def verdicts(xml: bytes | Any, kind: str | None = None, refdata: Path | None = None) -> tuple[bool, bool]:
    """(bundled verdict, official verdict) for a document given as bytes or a parsed tree."""
    doc = _parse(xml)
    bundled, official = schemas(kind or kind_of(doc), refdata)
    return bool(bundled.validate(doc)), bool(official.validate(doc))


def assert_same_verdict(xml: bytes | Any, kind: str | None = None, refdata: Path | None = None) -> bool:
    """Fail unless bundled and official agree on ``xml``; return their common verdict."""
    doc = _parse(xml)
    kind = kind or kind_of(doc)
    bundled, official = schemas(kind, refdata)
    ok_bundled, ok_official = bool(bundled.validate(doc)), bool(official.validate(doc))
    assert ok_bundled == ok_official, (
        f"{kind}: bundled says {'valid' if ok_bundled else 'invalid'}, official says "
        f"{'valid' if ok_official else 'invalid'}; bundled: {bundled.error_log.last_error}; "
        f"official: {official.error_log.last_error}"
    )
    return ok_official


# ------------------------------------------------- structural comparison ----
# Independent of any sample: walk both sets with xmlschema from every global element and
# describe each declaration by what an instance can see (names, occurrences, content models,
# attributes, facets, wildcards), never by the names of the types.

_XS = "{http://www.w3.org/2001/XMLSchema}"


def _simple(t: Any, stack: tuple[int, ...]) -> Any:
    if t.is_union():
        return ("union", tuple(_simple(m, stack) for m in t.member_types))
    if t.is_list():
        return ("list", _simple(t.item_type, stack))
    if t.name and t.name.startswith(_XS):
        return ("builtin", t.name)
    facets: list[tuple[str, Any]] = []
    for key, facet in sorted((k, v) for k, v in t.facets.items() if k is not None):
        if hasattr(facet, "regexps"):
            facets.append((key, tuple(facet.regexps)))
        elif hasattr(facet, "enumeration"):
            facets.append((key, tuple(str(x) for x in facet.enumeration)))
        else:
            facets.append((key, str(facet.value)))
    return ("restriction", _simple(t.base_type, stack), tuple(facets))


def _particle(p: Any, stack: tuple[int, ...]) -> Any:
    occurs = (p.min_occurs, p.max_occurs)
    kind = type(p).__name__
    if kind == "XsdGroup":
        return ("group", p.model, occurs, tuple(_particle(c, stack) for c in p))
    if kind == "XsdAnyElement":
        return ("any", tuple(sorted(p.namespace)), p.process_contents, occurs)
    return ("element", p.name, occurs, _element_type(p, stack))


def _element_type(e: Any, stack: tuple[int, ...]) -> Any:
    return (e.nillable, e.default, e.fixed, e.abstract, _type(e.type, stack))


def _type(t: Any, stack: tuple[int, ...]) -> Any:
    if t.is_simple():
        return _simple(t, stack)
    if id(t) in stack:
        return ("cycle", len(stack) - stack.index(id(t)))
    inner = (*stack, id(t))
    attrs: list[tuple[Any, ...]] = []
    for name, a in sorted(t.attributes.items(), key=lambda kv: str(kv[0])):
        if name is None:
            attrs.append(("anyAttribute", tuple(sorted(a.namespace)), a.process_contents))
        else:
            attrs.append((name, a.use, a.default, a.fixed, _simple(a.type, inner)))
    content = t.content
    body = _particle(content, inner) if type(content).__name__ == "XsdGroup" else _simple(content, inner)
    return ("complex", t.mixed, tuple(attrs), body)


def structure(kind: str, origin: str, refdata: Path | None = None) -> dict[str, Any]:
    """Description of every global element and attribute of one set's schema for ``kind``."""
    return structure_of(registry(refdata).find("pes", kind, version=VERSION, origin=origin).entry(kind))


def structure_of(entry: Path) -> dict[str, Any]:
    """Description of every global element and attribute the schema at ``entry`` declares."""
    from demat.xml.schemas import load_xmlschema

    schema = load_xmlschema(entry, version="1.0")
    out: dict[str, Any] = {}
    for name, e in schema.maps.elements.items():
        if not name.startswith(_XS) and not name.startswith("{http://www.w3.org/XML/1998/namespace}"):
            out["element " + name] = _element_type(e, ())
    for name, a in schema.maps.attributes.items():
        if not name.startswith(_XS) and not name.startswith("{http://www.w3.org/XML/1998/namespace}"):
            out["attribute " + name] = (a.default, a.fixed, _simple(a.type, ()))
    return out


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two descriptions first differ (for assertion messages)."""
    if type(a) is not type(b):
        return f"{path}: {a!r:.200} != {b!r:.200}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: only in {'bundled' if k in a else 'official'}"
            found = first_difference(a[k], b[k], f"{path}/{k}")
            if found:
                return found
        return None
    if isinstance(a, tuple):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}: {a!r:.300} != {b!r:.300}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
