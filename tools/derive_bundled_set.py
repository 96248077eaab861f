"""Draft a compact PES schema set from an official DGFiP set (maintainer tool, not shipped).

Usage::

    .venv/bin/python tools/derive_bundled_set.py OFFICIAL_SET_DIR OUT_DIR

``schemas/pes/v5.17`` was first drafted with this tool from the official v5.17 set. The tool
reads the official files and does not change them. It keeps only the declarations that the
entry points reach, drops all documentation, renames the types, writes single-use value types
inline, lays the result out as one file per namespace, and orders each file top-down. What the
tool writes is a draft: a maintainer reviews it, commits it, and may then edit it by hand. The
tests in ``tests/pes/test_pes_schema_equivalence.py`` prove that the committed set is
equivalent to the official one without trusting this tool; ``tests/tools`` checks that the
tool's own draft is. To support a new official version, run the tool into a new
``schemas/pes/<version>`` folder, add a manifest and README, and point the equivalence tests at
that version.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
Q = f"{{{XS}}}"
HELIOS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/"

#: Kind of document -> official entry file.
ENTRIES = {
    "pes_aller": "PES_V2/Rev0/PES_Aller.xsd",
    "pes_acquit": "PES_V2/Rev0/PES_V2_Acquit_Autonome_V2.xsd",
    "pes_acquit_v1": "PES_V2/Rev0/PES_V2_Acquit_Autonome.xsd",
    "pes_retour": "PES_V2/RETOUR/Rev0/PES_Retour.xsd",
    "xades_122": "xades/XAdES1.2.2.xsd",
}
#: Namespace -> (prefix, output file stem).
FILES = {
    HELIOS + "Rev0/aller": ("pes", "aller"),
    HELIOS + "commun": ("c", "commun"),
    HELIOS + "depense/r0/aller": ("dep", "depense"),
    HELIOS + "recette/r0/aller": ("rec", "recette"),
    HELIOS + "facture/r0/aller": ("fac", "facture"),
    HELIOS + "marche/r0/aller": ("mar", "marche"),
    "http://www.w3.org/2000/09/xmldsig#": ("ds", "xmldsig"),
    "http://uri.etsi.org/01903/v1.1.1#": ("xad", "xades111"),
    "http://uri.etsi.org/01903/v1.2.2#": ("xad2", "xades122"),
    "http://www.w3.org/2001/04/xmlenc#": ("xenc", "xmlenc"),
    HELIOS + "Rev0/retour/v2": ("ack", "acquit"),
    HELIOS + "commun/retour": ("rc", "retour-commun"),
    HELIOS + "depense/r0/retour": ("rdep", "retour-depense"),
    HELIOS + "recette/r0/retour": ("rrec", "retour-recette"),
    HELIOS + "client/r0/retour": ("rcli", "retour-client"),
}
#: One namespace, two different contents depending on the entry point.
FILES_PER_ENTRY = {
    ("pes_acquit_v1", HELIOS + "Rev0/retour"): ("ack1", "acquit-v1"),
    ("pes_retour", HELIOS + "Rev0/retour"): ("ret", "retour"),
}
#: Type names chosen by hand where the systematic renaming would collide.
RENAMES = {("acquit-v1", "TPES_ACQUIT"): "Acquit"}
HEADERS = {
    "aller": "PES_Aller root (ns Rev0/aller) and the PES_PJ block (attached documents).",
    "commun": "Shared PES vocabulary (ns pes_v2/commun): V-valued leaf types, Enveloppe, "
    "EnTetePES, Adresse, banking, PJ references.",
    "depense": "PES_DepenseAller (ns depense/r0/aller): bordereaux, mandats (pieces), lines, tiers.",
    "recette": "PES_RecetteAller (ns recette/r0/aller): bordereaux (incl. ORMC TypBord 06), "
    "titres, lines, tiers, recouvrement.",
    "facture": "PES_Facture (ns facture/r0/aller).",
    "marche": "PES_Marche (ns marche/r0/aller): marches and concessions.",
    "xmldsig": "XML-DSig core (W3C) as used by PES: X509SerialNumber is a string; PES signature group.",
    "xades111": "XAdES 1.1.1 (ETSI TS 101 903) qualifying properties.",
    "xades122": "XAdES 1.2.2 (ETSI TS 101 903) qualifying properties; standalone, "
    "PES_Aller does not import it.",
    "xmlenc": "XML-Enc core (W3C) as imported by the PES PJ domain.",
    "acquit": "PES_ACQUIT, the acknowledgement returned by Helios (ns Rev0/retour/v2).",
    "acquit-v1": "PES_ACQUIT, old flat acknowledgement (ns Rev0/retour).",
    "retour": "PES_Retour root (ns Rev0/retour).",
    "retour-commun": "Shared vocabulary of PES_Retour (ns commun/retour).",
    "retour-depense": "PES_DepenseRetour (ns depense/r0/retour).",
    "retour-recette": "PES_RecetteRetour (ns recette/r0/retour).",
    "retour-client": "PES_ClientRetour (ns client/r0/retour).",
}

QNAME_ATTRS = ("type", "base", "ref", "itemType", "substitutionGroup")
SYMBOL_SPACE = {
    "simpleType": "type",
    "complexType": "type",
    "element": "element",
    "attribute": "attribute",
    "group": "group",
    "attributeGroup": "attributeGroup",
}
FACETS = {
    "enumeration", "pattern", "length", "minLength", "maxLength", "totalDigits", "fractionDigits",
    "minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "whiteSpace",
}  # fmt: skip

#: (symbol space, namespace, local name) of a global declaration.
Key = tuple[str, str | None, str]


class DeriveError(Exception):
    """The official set uses a construct this tool does not handle faithfully."""


@dataclass(frozen=True)
class SchemaDoc:
    """One official schema document, as included into a given target namespace."""

    path: Path
    tns: str | None
    chameleon: bool
    element_form: str
    attribute_form: str


@dataclass(frozen=True)
class Component:
    """A global declaration and the document it comes from."""

    key: Key
    node: Any
    doc: SchemaDoc


def load_closure(entry: Path) -> dict[Key, Component]:
    """Every global declaration reachable through include/import from ``entry``."""
    found: dict[Key, Component] = {}
    seen: set[tuple[Path, str | None]] = set()

    def load(path: Path, tns: str | None) -> None:
        if (path.resolve(), tns) in seen:
            return
        seen.add((path.resolve(), tns))
        root = etree.parse(str(path)).getroot()
        own = root.get("targetNamespace")
        doc = SchemaDoc(
            path.resolve(),
            own if own is not None else tns,
            own is None and tns is not None,
            root.get("elementFormDefault", "unqualified"),
            root.get("attributeFormDefault", "unqualified"),
        )
        for note in list(root.iter(Q + "annotation")):
            note.getparent().remove(note)
        for child in root:
            if not isinstance(child.tag, str):
                continue
            local = etree.QName(child).localname
            if local == "include":
                load(path.parent / child.get("schemaLocation"), doc.tns)
            elif local == "import":
                if child.get("schemaLocation"):
                    load(path.parent / child.get("schemaLocation"), child.get("namespace"))
            elif local in SYMBOL_SPACE:
                key: Key = (SYMBOL_SPACE[local], doc.tns, child.get("name"))
                if key in found and found[key].doc.path != doc.path:
                    raise DeriveError(f"{key} declared by {found[key].doc.path} and {path}")
                found.setdefault(key, Component(key, child, doc))
            else:
                raise DeriveError(f"top-level xs:{local} in {path} is not handled")

    load(entry, None)
    return found


def resolve(node: Any, value: str, doc: SchemaDoc) -> tuple[str | None, str]:
    """Namespace and local name of a QName written in ``node`` (chameleon-aware)."""
    if ":" in value:
        prefix, local = value.split(":", 1)
        ns = node.nsmap.get(prefix)
        if ns is None:
            raise DeriveError(f"unknown prefix in {value} ({doc.path})")
    else:
        local, ns = value, node.nsmap.get(None)
    if ns is None and doc.chameleon:
        ns = doc.tns
    return ns, local


def references(comp: Component) -> Iterator[tuple[Any, str, Key]]:
    """(node, attribute, referenced key) for every QName reference inside ``comp``."""
    for node in comp.node.iter(Q + "*"):
        tag = etree.QName(node).localname
        for attr in (*QNAME_ATTRS, "memberTypes"):
            for value in (node.get(attr) or "").split():
                if attr == "ref":
                    space = SYMBOL_SPACE[tag]
                elif attr == "substitutionGroup":
                    space = "element"
                else:
                    space = "type"
                ns, local = resolve(node, value, comp.doc)
                yield node, attr, (space, ns, local)


def has_open_wildcard(comps: dict[Key, Component]) -> bool:
    """Whether some wildcard validates what it matches (then every global declaration counts)."""
    return any(
        w.get("processContents", "strict") != "skip"
        for c in comps.values()
        for w in c.node.iter(Q + "any", Q + "anyAttribute")
    )


def reachable(comps: dict[Key, Component], roots: list[Key]) -> set[Key]:
    keep: set[Key] = set()
    todo = list(roots)
    while todo:
        key = todo.pop()
        if key in keep:
            continue
        keep.add(key)
        for _node, _attr, ref in references(comps[key]):
            if ref[1] != XS:
                if ref not in comps:
                    raise DeriveError(f"{ref} referenced from {key} is not declared")
                todo.append(ref)
    return keep


def new_type_name(name: str, simple: bool) -> str:
    """``Base_Texte38`` -> ``Texte38``, ``TBordereau`` -> ``Bordereau``, ``V_Date`` -> ``Date.v``."""
    core = name.removeprefix("Base_").removeprefix("V_")
    if re.match(r"T[A-Z_]", core):
        core = core[1:].lstrip("_") or core
    return f"{core}.v" if simple else core


def file_of(entry: str, ns: str | None) -> tuple[str, str]:
    """(prefix, file stem) for namespace ``ns`` in the set of ``entry``."""
    if ns is None:
        raise DeriveError("no-namespace declarations are not handled")
    return FILES_PER_ENTRY.get((entry, ns)) or FILES[ns]


def is_v_leaf(node: Any) -> bool:
    kids = [c for c in node if isinstance(c.tag, str)]
    return (
        node.tag == Q + "complexType"
        and len(kids) == 1
        and kids[0].tag == Q + "attribute"
        and kids[0].get("name") == "V"
    )


class Derivation:
    """The whole derived set: which declarations go in which file, under which name."""

    def __init__(self, official: Path) -> None:
        self.closures: dict[str, tuple[dict[Key, Component], set[Key]]] = {}
        for entry, rel in ENTRIES.items():
            comps = load_closure(official / rel)
            entry_path = (official / rel).resolve()
            roots = [k for k, c in comps.items() if c.doc.path == entry_path and k[0] == "element"]
            if has_open_wildcard(comps):  # lax/strict wildcards see every global declaration
                roots += [k for k in comps if k[0] in ("element", "attribute")]
            self.closures[entry] = (comps, reachable(comps, roots))

        self.files: dict[str, dict[Key, Component]] = defaultdict(dict)
        self.namespace: dict[str, str | None] = {}
        self.entries_of: dict[str, set[str]] = defaultdict(set)
        self.imports: dict[str, set[str | None]] = defaultdict(set)
        for entry, (comps, keep) in self.closures.items():
            entry_file = ""
            for key in keep:
                comp = comps[key]
                stem = file_of(entry, key[1])[1]
                previous = self.files[stem].setdefault(key, comp)
                if previous.doc.path != comp.doc.path:
                    raise DeriveError(f"{key} differs between entry points")
                self.namespace[stem] = key[1]
                self.entries_of[stem].add(entry)
                if comp.doc.path == (official / ENTRIES[entry]).resolve():
                    entry_file = stem
            # The entry file imports every namespace its closure keeps, as the official one
            # does: a lax wildcard (ds:Object) then validates what those namespaces declare.
            self.imports[entry_file] |= {k[1] for k in keep}

        self.names = self._rename()
        self.inline = self._single_use_value_types()
        self.position = self._reading_order()

    def target(self, stem: str, ref: Key) -> tuple[str, Key]:
        """The file that declares ``ref`` as seen from file ``stem``."""
        entry = min(self.entries_of[stem])
        return file_of(entry, ref[1])[1], ref

    def _rename(self) -> dict[tuple[str, Key], str]:
        names: dict[tuple[str, Key], str] = {}
        for stem, comps in self.files.items():
            used: set[str] = set()
            for key in sorted(k for k in comps if k[0] == "type"):
                simple = comps[key].node.tag == Q + "simpleType"
                name = RENAMES.get((stem, key[2])) or new_type_name(key[2], simple)
                if name in used:
                    raise DeriveError(f"{stem}: two types would be named {name}; add a RENAMES entry")
                used.add(name)
                names[stem, key] = name
        return names

    def _single_use_value_types(self) -> set[tuple[str, Key]]:
        users: dict[tuple[str, Key], list[tuple[str, Any, str]]] = defaultdict(list)
        for stem, comps in self.files.items():
            for comp in comps.values():
                for node, attr, ref in references(comp):
                    if ref[0] == "type" and ref[1] != XS:
                        users[self.target(stem, ref)].append((stem, node, attr))
        return {
            target
            for target, uses in users.items()
            if self.files[target[0]][target[1]].node.tag == Q + "simpleType"
            and len(uses) == 1
            and uses[0][0] == target[0]
            and uses[0][2] == "type"
            and uses[0][1].tag in (Q + "attribute", Q + "element")
        }

    def _reading_order(self) -> dict[tuple[str, Key], int]:
        """Depth-first from the root elements, references in document order."""
        position: dict[tuple[str, Key], int] = {}
        for entry, (comps, keep) in self.closures.items():
            todo = sorted((k for k in keep if k[0] == "element"), key=lambda k: (str(k[1]), k[2]))
            stack = list(reversed(todo))
            while stack:
                key = stack.pop()
                where = (file_of(entry, key[1])[1], key)
                if where in position:
                    continue
                position[where] = len(position)
                refs = [r for _n, _a, r in references(comps[key]) if r[1] != XS]
                stack.extend(reversed(refs))
        return position

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for stem in sorted(self.files):
            FileWriter(self, stem).write(out / f"{stem}.xsd")


class FileWriter:
    """Writes one derived schema file."""

    def __init__(self, derivation: Derivation, stem: str) -> None:
        self.d = derivation
        self.stem = stem
        self.tns = derivation.namespace[stem]
        self.entry = min(derivation.entries_of[stem])
        comps = derivation.files[stem].values()
        forms = {c.doc.element_form for c in comps}
        self.element_form = "qualified" if forms == {"qualified"} else "unqualified"
        forms = {c.doc.attribute_form for c in comps}
        self.attribute_form = "qualified" if forms == {"qualified"} else "unqualified"
        self.imported: dict[str | None, tuple[str, str]] = {}

    def qname(self, ns: str | None, local: str) -> str:
        if ns == XS:
            return f"xs:{local}"
        prefix, stem = file_of(self.entry, ns)
        if stem != self.stem:
            self.imported[ns] = (prefix, stem)
        return f"{prefix}:{local}"

    def convert(self, src: Any, comp: Component, top: bool) -> Any:
        """Copy of ``src`` with references renamed, single-use value types inlined."""
        tag = etree.QName(src).localname
        el = etree.Element(Q + tag)
        for attr, value in src.attrib.items():
            if attr == "id":
                continue
            if attr == "name" and top and tag in ("simpleType", "complexType"):
                value = self.d.names[self.stem, comp.key]
            elif attr in QNAME_ATTRS or attr == "memberTypes":
                written = []
                for one in value.split():
                    ns, local = resolve(src, one, comp.doc)
                    space = "element" if attr == "substitutionGroup" else "type"
                    if attr == "ref":
                        space = SYMBOL_SPACE[tag]
                    if space != "type" or ns == XS:
                        written.append(self.qname(ns, local))
                        continue
                    target = self.d.target(self.stem, (space, ns, local))
                    if target in self.d.inline:
                        inner = self.convert(self.d.files[target[0]][target[1]].node, comp, False)
                        inner.attrib.pop("name", None)
                        el.insert(0, inner)
                        break
                    written.append(self.qname(ns, self.d.names[target]))
                if not written:
                    continue
                value = " ".join(written)
            elif tag in ("any", "anyAttribute") and attr == "namespace":
                value = self._wildcard_namespaces(value, comp)
            el.set(attr, value)
        if (
            not top
            and tag in ("element", "attribute")
            and src.get("ref") is None
            and "form" not in src.attrib
        ):
            own = comp.doc.element_form if tag == "element" else comp.doc.attribute_form
            if own != (self.element_form if tag == "element" else self.attribute_form):
                el.set("form", own)
        if src.text and src.text.strip():
            raise DeriveError(f"text inside xs:{tag}")
        for child in src:
            if isinstance(child.tag, str):
                if not child.tag.startswith(Q):
                    raise DeriveError(f"foreign element {child.tag}")
                el.append(self.convert(child, comp, False))
        return el

    def _wildcard_namespaces(self, value: str, comp: Component) -> str:
        tokens = [(comp.doc.tns or "##local") if t == "##targetNamespace" else t for t in value.split()]
        if "##other" in tokens and comp.doc.tns != self.tns:
            raise DeriveError("##other would change meaning in another namespace")
        return " ".join(tokens)

    def _rank(self, key: Key) -> tuple[int, int, str]:
        node = self.d.files[self.stem][key].node
        if node.tag == Q + "simpleType":
            return (4, 0, self.d.names[self.stem, key].lower())
        if is_v_leaf(node):  # leaf value types: alphabetical, for lookup
            return (3, 0, self.d.names[self.stem, key].lower())
        rank = 2 if node.tag == Q + "complexType" else 1 if "group" in node.tag.lower() else 0
        return (rank, self.d.position.get((self.stem, key), 10**9), key[2])

    def write(self, path: Path) -> None:
        comps = self.d.files[self.stem]
        body = [
            self.convert(comps[k].node, comps[k], True)
            for k in sorted(comps, key=self._rank)
            if (self.stem, k) not in self.d.inline
        ]
        for ns in self.d.imports.get(self.stem, ()):
            self.qname(ns, "-")
        nsmap: dict[str, str | None] = {"xs": XS}
        if self.tns:
            nsmap[file_of(self.entry, self.tns)[0]] = self.tns
        for ns, (prefix, _stem) in sorted(self.imported.items(), key=lambda item: item[1][0]):
            nsmap[prefix] = ns
        root = etree.Element(Q + "schema", nsmap=nsmap)
        if self.tns:
            root.set("targetNamespace", self.tns)
        root.set("elementFormDefault", self.element_form)
        root.set("attributeFormDefault", self.attribute_form)
        for ns, (_prefix, stem) in sorted(self.imported.items(), key=lambda item: item[1][1]):
            etree.SubElement(root, Q + "import", namespace=ns, schemaLocation=f"{stem}.xsd")
        root.extend(body)
        etree.indent(root, space=" ")
        compact_v_leaves(root)
        compact_facets(root)
        root.insert(0, etree.Comment(f" {HEADERS.get(self.stem, self.stem)} "))
        root[0].tail = root.text = "\n "
        path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8") + b"\n")


def compact_v_leaves(root: Any) -> None:
    """A complexType that only carries the V attribute is written on one to three lines."""
    for ct in root.findall(Q + "complexType"):
        if not is_v_leaf(ct):
            continue
        attr = ct[0]
        ct.text = attr.tail = ""
        if not len(attr):
            continue
        simple = attr[0]
        if len(attr) != 1 or len(simple) != 1 or simple[0].tag != Q + "restriction":
            ct.text, attr.tail = "\n  ", "\n "
            continue
        restriction = simple[0]
        attr.text = simple.text = simple.tail = restriction.tail = ""
        if len(restriction):
            restriction.text = "\n  "
            restriction[-1].tail = "\n "


def compact_facets(root: Any) -> None:
    """Put facet lists on as few lines as fit in ~100 columns."""
    for restriction in root.iter(Q + "restriction"):
        kids = list(restriction)
        if not kids or any(etree.QName(k).localname not in FACETS for k in kids):
            continue
        newline = restriction.text or "\n"
        indent = len(newline) - 1
        line = indent
        for i, kid in enumerate(kids):
            width = (
                8 + len(etree.QName(kid).localname) + sum(len(a) + len(v) + 4 for a, v in kid.attrib.items())
            )
            if i:
                kids[i - 1].tail = newline if line + width > 100 else ""
                line = indent if line + width > 100 else line
            line += width
        kids[-1].tail = "\n" + " " * (indent - 1)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: derive_bundled_set.py OFFICIAL_SET_DIR OUT_DIR", file=sys.stderr)
        return 2
    Derivation(Path(argv[0])).write(Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
