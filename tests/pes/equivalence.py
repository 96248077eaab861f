"""Reusable checks that demat's bundled PES v5.17 schemas behave like the official set.

A test of this folder imports it relatively (one instance per run: schemas compile once)::

    from . import equivalence as eq

    eq.assert_same_verdict(xml_bytes)              # kind from the root element; returns the verdict
    eq.assert_same_verdict(tree, "pes_aller")      # bytes or a parsed lxml tree
    eq.assert_mutants_agree(xml_bytes, count=200)  # mutants of it must get the same verdicts too

Both sets are compiled once per process (through :class:`demat.xml.schemas.SchemaRegistry`) and
kept here; the official set is read from the shared reference data (callers should depend on the
``refdata`` fixture so the test skips where it is absent). :func:`structure` describes a whole set
independently of any document, for a sample-free comparison.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
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


# ---------------------------------------------------------------- mutants ----
# Small in-place edits that each undo themselves, so one parsed tree serves every mutant.

Undo = Callable[[], None]


def _set_attr(el: Any, name: str, value: str | None) -> Undo:
    old = el.get(name)
    if value is None:
        del el.attrib[name]
    else:
        el.set(name, value)

    def undo() -> None:
        if old is None:
            el.attrib.pop(name, None)
        else:
            el.set(name, old)

    return undo


def _delete(el: Any) -> Undo:
    parent, index, tail = el.getparent(), el.getparent().index(el), el.tail
    parent.remove(el)

    def undo() -> None:
        el.tail = tail
        parent.insert(index, el)

    return undo


def _duplicate(el: Any) -> Undo:
    twin = etree.fromstring(etree.tostring(el, with_tail=False))
    el.addnext(twin)
    return lambda: twin.getparent().remove(twin)


def _swap_with_next(el: Any) -> Undo:
    nxt = el.getnext()
    nxt.addnext(el)  # moves el after its next sibling
    return lambda: nxt.addprevious(el)


def _add_unknown(el: Any) -> Undo:
    intruder = etree.SubElement(el, "ElementInconnu", V="1")
    return lambda: el.remove(intruder)


def _set_text(el: Any, text: str) -> Undo:
    old = el.text
    el.text = text

    def undo() -> None:
        el.text = old

    return undo


def _has_v(el: Any) -> bool:
    return el.get("V") is not None


def _has_next(el: Any) -> bool:
    nxt = el.getnext()
    return nxt is not None and isinstance(nxt.tag, str) and nxt.tag != el.tag


# (name, which elements it applies to, mutation)
MUTATIONS: list[tuple[str, Callable[[Any], bool], Callable[[Any], Undo]]] = [
    ("delete", lambda e: True, _delete),
    ("duplicate", lambda e: True, _duplicate),
    ("swap", _has_next, _swap_with_next),
    ("unknown-child", lambda e: True, _add_unknown),
    ("drop-V", _has_v, lambda e: _set_attr(e, "V", None)),
    ("V-out-of-pattern", _has_v, lambda e: _set_attr(e, "V", "#?!")),
    ("V-too-long", _has_v, lambda e: _set_attr(e, "V", e.get("V") + "7" * 300)),
    ("V-longer", _has_v, lambda e: _set_attr(e, "V", e.get("V") + "12")),
    ("V-wrong-enum", _has_v, lambda e: _set_attr(e, "V", "98")),
    ("V-letters", _has_v, lambda e: _set_attr(e, "V", "ZZ")),
    ("V-decimals", _has_v, lambda e: _set_attr(e, "V", "12.345")),
    ("V-all-zero", _has_v, lambda e: _set_attr(e, "V", "0" * max(1, len(e.get("V"))))),
    ("V-empty", _has_v, lambda e: _set_attr(e, "V", "")),
    ("V-negative", _has_v, lambda e: _set_attr(e, "V", "-" + e.get("V"))),
    ("V-bad-date", _has_v, lambda e: _set_attr(e, "V", "2026-02-30")),
    ("V-spaces", _has_v, lambda e: _set_attr(e, "V", " " + e.get("V") + " ")),
    ("text-instead-of-V", _has_v, lambda e: _set_text(e, "false")),
    ("other-attribute", lambda e: True, lambda e: _set_attr(e, "Autre", "x")),
    ("drop-attributes", lambda e: len(e.attrib) > 0, lambda e: _drop_all_attributes(e)),
    ("bad-Id", lambda e: e.get("Id") is not None, lambda e: _set_attr(e, "Id", "1-not-an-ncname")),
    ("bad-base64", lambda e: e.get("MIMEType") is not None, lambda e: _set_text(e, "pas du base64 !")),
]


def _drop_all_attributes(el: Any) -> Undo:
    old = dict(el.attrib)
    el.attrib.clear()

    def undo() -> None:
        el.attrib.clear()
        el.attrib.update(old)

    return undo


def mutants(tree: Any, seed: str, count: int | None = None) -> Iterator[str]:
    """Mutate ``tree`` in place and yield while it is mutated, then restore it.

    Every mutation on every element when ``count`` is None, else ``count`` of them drawn
    deterministically from ``seed``.
    """
    elements = [e for e in tree.getroot().iter() if isinstance(e.tag, str)][1:]
    if count is None:
        for target in elements:
            for name, applies, mutate in MUTATIONS:
                if applies(target):
                    undo = mutate(target)
                    try:
                        yield f"{name} at {etree.QName(target).localname} (line {target.sourceline})"
                    finally:
                        undo()
        return
    rng = random.Random(seed)
    produced = attempts = 0
    while produced < count and attempts < count * 20:
        name, applies, mutate = MUTATIONS[attempts % len(MUTATIONS)]
        attempts += 1
        candidates = [e for e in elements if applies(e)]
        if not candidates:
            continue
        target = rng.choice(candidates)
        undo = mutate(target)
        try:
            yield f"{name} at {etree.QName(target).localname} (line {target.sourceline})"
        finally:
            undo()
        produced += 1


def assert_mutants_agree(
    xml: bytes | Any, kind: str | None = None, count: int | None = None, refdata: Path | None = None
) -> dict[bool, int]:
    """Assert bundled and official agree on every mutant of ``xml``; count mutants per verdict.

    ``count`` None means every mutation on every element (fine up to ~50 kB); otherwise that
    many, drawn deterministically.
    """
    tree = _parse(xml)
    kind = kind or kind_of(tree)
    counts = {True: 0, False: 0}
    disagreements = []
    for what in mutants(tree, "mutants", count):
        ok_bundled, ok_official = verdicts(tree, kind, refdata)
        counts[ok_official] += 1
        if ok_bundled != ok_official:
            disagreements.append(f"{what}: bundled={ok_bundled} official={ok_official}")
    assert disagreements == [], disagreements[:20]
    return counts


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
