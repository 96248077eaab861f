"""Fixtures of the PES tests: the official v5.17 set and samples, and small model factories."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.errors import SchemaError
from demat.pes import model as m
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.xml.schemas import SchemaRegistry


@pytest.fixture(scope="session")
def official(refdata: Path) -> SchemaRegistry:
    """A registry that knows the official v5.17 set from refdata."""
    return SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])


@pytest.fixture(scope="session")
def official_schema(official: SchemaRegistry) -> etree.XMLSchema:
    """The official v5.17 ``PES_Aller`` schema, compiled."""
    return official.schema("pes", "pes_aller", version="5.17", origin="official")


@pytest.fixture(scope="session")
def samples(refdata: Path) -> Path:
    return refdata / "pes" / "samples"


@pytest.fixture(scope="session")
def signer() -> Signer:
    """A signing certificate issued by a throwaway CA, made once (RSA keys are slow to make)."""
    issued = devpki.issue(devpki.make_ca(), "Ordonnateur de Saint-Félix", kind="signing")
    return Signer(issued.key, issued.cert, issued.chain)


@pytest.fixture(scope="session")
def bundled_schema() -> etree.XMLSchema | None:
    """The project's own v5.17 set when it exists (written by another module), else None."""
    try:
        return SchemaRegistry(official_dirs=[]).schema("pes", "pes_aller", version="5.17", origin="bundled")
    except SchemaError:
        return None


class Factories:
    """Small builders of valid model parts, shared by the tests."""

    @staticmethod
    def parse(data: bytes) -> etree._Element:
        return etree.fromstring(
            data, etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
        )

    @staticmethod
    def enveloppe(nom_fic: str = "DEMAT_TEST_001") -> m.Enveloppe:
        return m.Enveloppe(nom_fic=nom_fic, emetteur=m.Emetteur(sigle="demat", adresse="demat tests"))

    @staticmethod
    def en_tete() -> m.EnTetePES:
        return m.EnTetePES(
            dte_str=date(2024, 3, 1),
            id_post="031007",
            id_coll="21310555400017",
            cod_col="100",
            cod_bud="00",
            libelle_col_bud="Commune de Saint-Félix à côté",
        )

    @staticmethod
    def ligne(n: int, ht: str, tva: str | None = None, **kw: Any) -> m.LigneDepense:
        return m.LigneDepense(
            id_ligne=n, nature="60628", mt_ht=Decimal(ht), mt_tva=Decimal(tva) if tva else None, **kw
        )

    @staticmethod
    def piece(id_pce: int, *lignes: m.LigneDepense, **kw: Any) -> m.PieceDepense:
        return m.PieceDepense(id_pce=id_pce, lignes=list(lignes), **kw)

    @staticmethod
    def bordereau(id_bord: int, *pieces: m.PieceDepense, **kw: Any) -> m.BordereauDepense:
        return m.BordereauDepense(
            exer=2024, id_bord=id_bord, dte_bord_em=date(2024, 3, 1), pieces=list(pieces), **kw
        )

    @classmethod
    def pes(cls, *bordereaux: m.BordereauDepense, **kw: Any) -> m.PesAller:
        return m.PesAller(
            enveloppe=cls.enveloppe(),
            en_tete=cls.en_tete(),
            depense=m.PesDepenseAller(bordereaux=list(bordereaux)),
            **kw,
        )


@pytest.fixture(scope="session")
def f() -> type[Factories]:
    return Factories


@pytest.fixture(scope="session")
def assert_valid(
    official_schema: etree.XMLSchema, bundled_schema: etree.XMLSchema | None
) -> Callable[[bytes], None]:
    """Assert that bytes validate against the official v5.17 XSD (and the bundled one if present)."""

    def check(data: bytes) -> None:
        doc = Factories.parse(data)
        for schema in (official_schema, bundled_schema):
            if schema is None:
                continue
            ok = schema.validate(doc)
            assert ok, "\n".join(str(e) for e in list(schema.error_log)[:5])

    return check
