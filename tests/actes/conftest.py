"""Fixtures for the ACTES tests: the official schema, an identity, small documents."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from demat.actes import Acte, ActeDocument, ActesIdentity
from demat.xml.schemas import SchemaRegistry

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
XML = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<DocumentBudgetaire/>\n'
TODAY = dt.date(2024, 5, 10)


@pytest.fixture(scope="session")
def actes_registry(refdata: Path) -> SchemaRegistry:
    return SchemaRegistry(official_dirs=[refdata / "actes" / "stela"])


@pytest.fixture(scope="session")
def actes_xsd(actes_registry: SchemaRegistry) -> Any:
    """The official ``actesv1_1.xsd``, compiled."""
    return actes_registry.schema("actes", "actes", origin="official")


@pytest.fixture
def identity() -> ActesIdentity:
    return ActesIdentity(
        siren="210600730",
        departement="006",
        arrondissement="2",
        nature="02",
        referent_nom="Service des assemblées",
        referent_telephone="0493000000",
        referent_email="assemblees@mairie.example.fr",
        return_emails=("actes@mairie.example.fr",),
    )


def make_acte(**over: Any) -> Acte:
    data: dict[str, Any] = {
        "nature": "DE",
        "numero": "DEL2024_012",
        "date": dt.date(2024, 5, 7),
        "objet": "Approbation du budget primitif — exercice 2024 (réf. n°12)",
        "matieres": "7.1",
        "classification_date": dt.date(2017, 12, 8),
        "document": ActeDocument(filename="deliberation.pdf", typology="99_DE", content=PDF),
        "annexes": (ActeDocument(filename="plan.png", typology="99_AU", content=PNG),),
    }
    data.update(over)
    return Acte(**data)


@pytest.fixture
def acte() -> Acte:
    return make_acte()
