"""What a TOTEM budget document is about, read from its head without loading it whole.

Everything :class:`BudgetInfo` reports sits before the first ``LigneBudget``, so the reader
stops there: a 50 MB compte administratif costs what its first few kilobytes cost. A compte
financier unique (CFU) is read through its ``DocumentComptable`` (cleared as it goes) to the
``DocumentBudgetaire`` it wraps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from demat.actes.budget._doc import CFU, DOCBUDG, NATURES_DECISION, NS_DOCBUDG
from demat.actes.budget.seal import BudgetSource, budget_limits
from demat.errors import ValidationError
from demat.xml.safe import DEFAULT_LIMITS, XmlLimits, iterparse, local_name

#: Elements whose ``@V`` is collected, by parent.
_WANTED = {
    "DocumentBudgetaire": {"VersionSchema"},
    "EnTeteDocBudgetaire": {
        "DteStr",
        "LibellePoste",
        "IdPost",
        "LibelleColl",
        "IdColl",
        "NatCEPL",
        "Departement",
    },
    "EnTeteBudget": {"LibelleEtab", "IdEtab", "CodColl", "CodInseeColl", "CodBud", "Nomenclature"},
    "BlocBudget": {"NatDec", "NumDec", "Exer", "ProjetBudget", "DteDec", "CodTypBud"},
}


@dataclass(frozen=True)
class BudgetInfo:
    """The identity of one budget document (values as written; None when absent)."""

    file: str | None
    root: str  # "DocumentBudgetaire" or "CompteFinancierUnique"
    identifiant: str | None
    version_schema: str | None
    nat_dec: str | None  # code: 01, 02, 03, 09, 10
    nature: str | None  # BP, DM, BS, CA, CFU
    nature_label: str | None
    exercice: int | None
    nomenclature: str | None  # e.g. M14-M14_COM_SUP3500, M4-M43_D, M57-M57_A
    norme: str | None  # e.g. M14, M4, M57
    siret: str | None  # IdColl (SIRET, sometimes a SIREN)
    siren: str | None
    libelle_coll: str | None
    id_post: str | None
    libelle_poste: str | None
    nat_cepl: str | None
    departement: str | None
    libelle_etab: str | None  # the budget's label
    id_etab: str | None
    cod_coll: str | None
    cod_insee_coll: str | None
    cod_bud: str | None
    cod_typ_bud: str | None  # P principal, A annexe
    num_dec: str | None
    date_decision: str | None
    projet_budget: bool | None
    sealed: bool
    seal_date: str | None
    seal_md5: str | None
    seal_sha1: str | None
    versions_outil: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON output."""
        return asdict(self)


def _norme(nomenclature: str | None) -> str | None:
    if not nomenclature:
        return None
    head = nomenclature.split("-", 1)[0]
    return head.split("_", 1)[0] if "-" not in nomenclature else head


def inspect_budget(source: BudgetSource, *, limits: XmlLimits = DEFAULT_LIMITS) -> BudgetInfo:
    """Read the identity of a DocumentBudgetaire (or of the one a CFU wraps), streaming; a file
    over :data:`~demat.actes.budget.seal.MAX_BUDGET_BYTES` is refused from its size."""
    values: dict[str, str] = {}
    outils: dict[str, str] = {}
    seal: dict[str, str] | None = None
    root_name = ""
    identifiant: str | None = None
    name = None if isinstance(source, bytes) else str(source)
    inside = False  # within the DocumentBudgetaire
    for event, elem in iterparse(source, events=("start", "end"), limits=budget_limits(limits)):
        if not root_name:
            if elem.tag not in (DOCBUDG, CFU):
                raise ValidationError(
                    "ce document n'est pas un DocumentBudgetaire TOTEM (ni un compte financier "
                    f"unique) : racine {local_name(elem)}",
                    file=name,
                    code="TOTEM_NOT_DOCBUDG",
                )
            root_name = local_name(elem)
        if event == "start":
            if elem.tag == DOCBUDG:
                inside = True
                identifiant = elem.get("identifiant")
            continue
        if not inside:
            # The CFU's DocumentComptable: nothing wanted there, keep memory flat.
            elem.clear(keep_tail=True)
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
            continue
        tag = local_name(elem)
        parent = elem.getparent()
        parent_tag = local_name(parent) if parent is not None else ""
        if elem.tag.startswith(f"{{{NS_DOCBUDG}}}") and tag in _WANTED.get(parent_tag, ()):
            values[tag] = elem.get("V", "")
        elif tag == "VersionOutil" and parent_tag == "DocumentBudgetaire":
            outils[elem.get("outil", "")] = elem.get("version", "")
        elif tag == "Scellement" and parent_tag == "DocumentBudgetaire":
            seal = dict(elem.attrib)
        elif tag in ("BlocBudget", "DocumentBudgetaire"):
            break  # everything wanted comes before the budget lines
        if parent is not None:  # read: drop it, so that a header of a million lines costs nothing
            elem.clear(keep_tail=True)
            while elem.getprevious() is not None:
                del parent[0]
    nat_dec = values.get("NatDec")
    abbrev, label = NATURES_DECISION.get(nat_dec or "", (None, None))
    exer = values.get("Exer", "")
    siret = values.get("IdColl")
    projet = values.get("ProjetBudget")
    return BudgetInfo(
        file=name,
        root=root_name,
        identifiant=identifiant,
        version_schema=values.get("VersionSchema"),
        nat_dec=nat_dec,
        nature=abbrev,
        nature_label=label,
        exercice=int(exer) if exer.isdigit() else None,
        nomenclature=values.get("Nomenclature"),
        norme=_norme(values.get("Nomenclature")),
        siret=siret,
        siren=siret[:9] if siret and siret.isdigit() and len(siret) >= 9 else None,
        libelle_coll=values.get("LibelleColl"),
        id_post=values.get("IdPost"),
        libelle_poste=values.get("LibellePoste"),
        nat_cepl=values.get("NatCEPL"),
        departement=values.get("Departement"),
        libelle_etab=values.get("LibelleEtab"),
        id_etab=values.get("IdEtab"),
        cod_coll=values.get("CodColl"),
        cod_insee_coll=values.get("CodInseeColl"),
        cod_bud=values.get("CodBud"),
        cod_typ_bud=values.get("CodTypBud"),
        num_dec=values.get("NumDec"),
        date_decision=values.get("DteDec"),
        projet_budget=None if projet is None else projet in ("true", "1"),
        sealed=seal is not None,
        seal_date=(seal or {}).get("date"),
        seal_md5=(seal or {}).get("md5"),
        seal_sha1=(seal or {}).get("sha1"),
        versions_outil=outils,
    )


__all__ = [
    "BudgetInfo",
    "inspect_budget",
]
