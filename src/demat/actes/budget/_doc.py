"""Names and locations shared by the TOTEM modules (no I/O, no state)."""

from __future__ import annotations

from lxml import etree

#: Namespace of the TOTEM ``DocumentBudgetaire``.
NS_DOCBUDG = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
#: Namespace of the compte financier unique wrapper (``CompteFinancierUnique``).
NS_CFU = "http://www.minefi.gouv.fr/cp/demat/doccfu"

DOCBUDG = f"{{{NS_DOCBUDG}}}DocumentBudgetaire"
CFU = f"{{{NS_CFU}}}CompteFinancierUnique"
SCELLEMENT = f"{{{NS_DOCBUDG}}}Scellement"
ENTETE_DOC = f"{{{NS_DOCBUDG}}}EnTeteDocBudgetaire"
BLOC_EDITEUR = f"{{{NS_DOCBUDG}}}BlocEditeur"
CODE_EDITEUR = f"{{{NS_DOCBUDG}}}CodeEditeur"

#: ``NatDec`` codes of the schema (``TNatDec``) and the usual abbreviations.
NATURES_DECISION: dict[str, tuple[str, str]] = {
    "01": ("BP", "Budget primitif"),
    "02": ("DM", "Décision modificative"),
    "03": ("BS", "Budget supplémentaire"),
    "09": ("CA", "Compte administratif"),
    "10": ("CFU", "Compte financier unique"),
}


def q(local: str) -> str:
    """Clark name of an element of the DocumentBudgetaire namespace."""
    return f"{{{NS_DOCBUDG}}}{local}"


def find_docbudg(root: etree._Element) -> etree._Element | None:
    """The DocumentBudgetaire of a document: the root itself, or the one a CFU wraps."""
    if root.tag == DOCBUDG:
        return root
    if root.tag == CFU:
        inner: etree._Element | None = root.find(DOCBUDG)
        return inner
    return None
