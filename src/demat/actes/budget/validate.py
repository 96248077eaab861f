"""Schema validation of TOTEM budget documents, fast (libxml2) or by the official book (xmlschema).

The official ``DocumentBudgetaire.xsd`` breaks Unique Particle Attribution in ``TBlocEditeur``
(``CodeEditeur?`` followed by a wildcard that also matches ``CodeEditeur``), so libxml2 will not
compile it and only xmlschema (XSD 1.1) takes it, slowly. demat ships a re-expression
(``schemas/totem/v5.17``) that libxml2 compiles; the one rule XSD 1.0 cannot state is checked
here, with the same outcome as XSD 1.1 gives on the official schema:

* if the first element of ``BlocEditeur`` is ``CodeEditeur``, it must be a valid ``Base_Texte100``
  and anything may follow (further ``CodeEditeur`` included, unchecked);
* otherwise no ``CodeEditeur`` of the DocumentBudgetaire namespace may appear in it.

``reference=True`` validates with xmlschema against the official set instead (for audits and
for the tests that prove both give the same verdicts). A compte financier unique is judged on
the DocumentBudgetaire it wraps (no schema for its DocumentComptable is at hand).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lxml import etree

from demat.actes.budget._doc import BLOC_EDITEUR, CODE_EDITEUR, DOCBUDG, find_docbudg
from demat.actes.budget.seal import BudgetSource, read_budget
from demat.errors import XMLSyntaxError
from demat.xml.safe import DEFAULT_LIMITS, XmlLimits, element_path, parse_bytes
from demat.xml.schemas import SchemaRegistry, default_registry, load_xmlschema, schema_errors

#: Bundled schema family and the official family/kind it re-expresses.
FAMILY = "totem"
OFFICIAL_FAMILY, KIND = "pes", "docbudg"
#: Reports keep at most this many errors (a broken generator can produce millions).
MAX_ERRORS = 1000


@dataclass(frozen=True)
class BudgetIssue:
    """One schema violation: where (line, readable element path) and what."""

    message: str
    line: int | None = None
    path: str | None = None


@dataclass(frozen=True)
class BudgetValidation:
    """Verdict of :func:`validate_budget` on one document."""

    file: str | None
    valid: bool
    errors: tuple[BudgetIssue, ...]
    engine: str  # "libxml2" (bundled schema) or "xmlschema" (official schema)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON output."""
        return asdict(self)


def _readable_path(raw: str | None, target: etree._Element, whole: bool) -> str | None:
    """Turn libxml2's XPath (``/*/*[3]``) into demat's readable path, when it resolves."""
    if not raw:
        return raw
    try:
        if whole:
            found = target.getroottree().xpath(raw, namespaces=_prefixes(target))
        else:
            steps = raw.split("/")[2:]  # "/<target>/rest…" relative to the validated element
            found = target.xpath("./" + "/".join(steps), namespaces=_prefixes(target)) if steps else [target]
    except etree.XPathError:
        return raw
    return element_path(found[0]) if found and isinstance(found[0], etree._Element) else raw


def _prefixes(elem: etree._Element) -> dict[str, str]:
    return {k: v for k, v in elem.nsmap.items() if k}


def _bloc_editeur_issues(target: etree._Element, code_editeur: etree.XMLSchema) -> list[BudgetIssue]:
    """The BlocEditeur rule that XSD 1.0 cannot express (see the module docstring)."""
    issues: list[BudgetIssue] = []
    for bloc in target.iter(BLOC_EDITEUR):
        parent = bloc.getparent()
        if parent is None or parent.tag != DOCBUDG:
            continue
        if any(a.tag == BLOC_EDITEUR for a in bloc.iterancestors()):
            continue  # inside another BlocEditeur: skipped, as the official wildcard does
        children = [c for c in bloc if isinstance(c.tag, str)]
        if children and children[0].tag == CODE_EDITEUR:
            issues += [
                BudgetIssue(e.message, e.line, element_path(children[0]))
                for e in schema_errors(code_editeur, children[0])
            ]
            continue
        for child in children:
            if child.tag == CODE_EDITEUR:
                issues.append(
                    BudgetIssue(
                        "CodeEditeur inattendu : dans BlocEditeur, il ne peut figurer qu'en premier",
                        child.sourceline,
                        element_path(child),
                    )
                )
    return issues


def _with_libxml2(
    tree: etree._ElementTree, target: etree._Element, registry: SchemaRegistry
) -> list[BudgetIssue]:
    schema = registry.schema(FAMILY, KIND, origin="bundled")
    whole = target is tree.getroot()
    issues: list[BudgetIssue] = []
    for e in schema_errors(schema, tree if whole else target)[:MAX_ERRORS]:
        issues.append(BudgetIssue(e.message, e.line, _readable_path(e.path, target, whole)))
    if target.tag == DOCBUDG:
        issues += _bloc_editeur_issues(target, registry.schema(FAMILY, "codeediteur", origin="bundled"))
    return sorted(issues, key=lambda i: i.line or 0)


def _with_xmlschema(target: etree._Element, registry: SchemaRegistry) -> list[BudgetIssue]:
    official = registry.find(OFFICIAL_FAMILY, KIND, origin="official").entry(KIND)
    schema = load_xmlschema(official)
    issues: list[BudgetIssue] = []
    for err in schema.iter_errors(target):
        issues.append(
            BudgetIssue(
                str(getattr(err, "reason", None) or err).splitlines()[0],
                getattr(err, "sourceline", None),
                getattr(err, "path", None),
            )
        )
        if len(issues) >= MAX_ERRORS:
            break
    return issues


def validate_budget(
    source: BudgetSource,
    *,
    reference: bool = False,
    registry: SchemaRegistry | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> BudgetValidation:
    """Validate a DocumentBudgetaire (or the one a CFU wraps) against the budget schema.

    Well-formedness errors give an invalid report; hostile input (DTD, oversize) raises
    :class:`demat.errors.XMLSecurityError`. ``reference=True`` uses xmlschema on the official
    schema set, which must be known to ``registry`` (``official_dirs`` / ``DEMAT_SCHEMAS_DIR``).
    """
    registry = registry or default_registry()
    data, name = read_budget(source, limits)
    engine = "xmlschema" if reference else "libxml2"
    try:
        tree = parse_bytes(data, name=name, limits=limits)
    except XMLSyntaxError as exc:
        return BudgetValidation(name, False, (BudgetIssue(exc.message, exc.line),), engine)
    target = find_docbudg(tree.getroot())
    if target is None:
        target = tree.getroot()  # not a budget document: the schema will say so
    issues = _with_xmlschema(target, registry) if reference else _with_libxml2(tree, target, registry)
    return BudgetValidation(name, not issues, tuple(issues), engine)


__all__ = [
    "FAMILY",
    "MAX_ERRORS",
    "BudgetIssue",
    "BudgetValidation",
    "validate_budget",
]
