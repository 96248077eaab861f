"""A small, schema-valid, unsealed DocumentBudgetaire, for demonstrations and tests.

Real budget documents come out of TotEM; this one only has to look like one: ISO-8859-1,
indented by three spaces, a balanced budget of four lines (M57, fonctionnement and
investissement, dépenses and recettes).
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from demat.actes.budget._doc import NATURES_DECISION, NS_DOCBUDG

#: Budget lines: (Nature, Fonction, CodRD, amount).
_LINES = (
    ("60632", "020", "D", "12500.00"),
    ("2183", "020", "D", "8000.00"),
    ("7381", "01", "R", "12500.00"),
    ("10222", "01", "R", "8000.00"),
)


def synthetic_budget(
    *,
    siret: str,
    exercice: int,
    nat_dec: str = "01",
    libelle_coll: str = "Commune de démonstration",
    departement: str = "044",
    id_post: str = "044001",
    cod_coll: str = "001",
    cod_bud: str = "00",
    nomenclature: str = "M57-M57",
    date_decision: dt.date | None = None,
) -> bytes:
    """An unsealed budget document of ``nat_dec`` (01 BP, 02 DM, 03 BS, 09 CA, 10 CFU)."""
    if nat_dec not in NATURES_DECISION:
        raise ValueError(f"NatDec inconnu : {nat_dec!r} (attendu : {', '.join(NATURES_DECISION)})")
    decided = date_decision or dt.date(exercice, 3, 31)

    def add(parent: etree._Element, tag: str, value: str | None = None, **attrs: str) -> etree._Element:
        child: etree._Element = etree.SubElement(parent, f"{{{NS_DOCBUDG}}}{tag}")
        if value is not None:
            child.set("V", value)
        for key, val in attrs.items():
            child.set(key, val)
        return child

    root = etree.Element(f"{{{NS_DOCBUDG}}}DocumentBudgetaire", nsmap={None: NS_DOCBUDG})
    add(root, "VersionSchema", "113")
    add(add(root, "BlocEditeur"), "CodeEditeur", "demat")
    add(root, "VersionOutil", outil="DSC_COMMON", version="31")
    add(root, "VersionOutil", outil="REMAT", version="18")
    head = add(root, "EnTeteDocBudgetaire")
    add(head, "DteStr", decided.isoformat())
    add(head, "LibellePoste", "SERVICE DE GESTION COMPTABLE")
    add(head, "IdPost", id_post)
    add(head, "LibelleColl", libelle_coll)
    add(head, "IdColl", siret)
    add(head, "NatCEPL", "Commune")
    add(head, "Departement", departement)
    budget = add(root, "Budget")
    entete = add(budget, "EnTeteBudget")
    add(entete, "LibelleEtab", f"BUDGET PRINCIPAL {libelle_coll.upper()}"[:100])
    add(entete, "IdEtab", siret)
    add(entete, "CodColl", cod_coll)
    add(entete, "CodBud", cod_bud)
    add(entete, "Nomenclature", nomenclature)
    bloc = add(budget, "BlocBudget")
    add(bloc, "NatDec", nat_dec)
    add(bloc, "Exer", str(exercice))
    add(bloc, "ProjetBudget", "false")
    add(bloc, "DteDec", decided.isoformat())
    add(bloc, "NatVote", "FcIc")
    add(bloc, "BudgPrec", "1")
    add(bloc, "ReprRes", "1")
    add(bloc, "NatFonc", "1")
    add(bloc, "CodTypBud", "P")
    add(add(budget, "InformationsGenerales"), "Information", "1000", Code="PopTot")
    for nature, fonction, sens, amount in _LINES:
        line = add(budget, "LigneBudget")
        add(line, "Nature", nature)
        add(line, "Fonction", fonction)
        add(line, "CodRD", sens)
        add(line, "MtPrev", amount)
        add(line, "OpBudg", "0")
    etree.indent(root, space="   ")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    return data


__all__ = [
    "synthetic_budget",
]
