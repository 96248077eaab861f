"""Fixtures of the signing tests: a throwaway PKI, signers, and small XSD-valid PES_Aller files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from demat.signing import devpki
from demat.signing.keys import Signer
from demat.xml.schemas import SchemaRegistry

_HEAD = """<?xml version="1.0" encoding="ISO-8859-1"?>
<n:PES_Aller xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"{root_id}>
\t<Enveloppe>
\t\t<Parametres>
\t\t\t<Version V="2"/>
\t\t\t<TypFic V="PESALR2"/>
\t\t\t<NomFic V="PESALR2_21310555400017_TEST_001"/>
\t\t</Parametres>
\t\t<Emetteur>
\t\t\t<Sigle V="demat"/>
\t\t\t<Adresse V="demat tests"/>
\t\t</Emetteur>
\t</Enveloppe>
\t<EnTetePES>
\t\t<DteStr V="2026-11-02"/>
\t\t<IdPost V="031000"/>
\t\t<IdColl V="21310555400017"/>
\t\t<CodCol V="555"/>
\t\t<CodBud V="01"/>
\t\t<LibelleColBud V="COMMUNE DE SAINT-ÉTIENNE-DE-TINÉE"/>
\t</EnTetePES>
"""

_DEPENSE = """\t<PES_DepenseAller>
\t\t<EnTeteDepense>
\t\t\t<IdVer V="2"/>
\t\t</EnTeteDepense>
{bordereaux}\t</PES_DepenseAller>
"""

_BORDEREAU = """\t\t<Bordereau{bord_id}>
\t\t\t<BlocBordereau>
\t\t\t\t<Exer V="2026"/>
\t\t\t\t<IdBord V="{n}"/>
\t\t\t\t<DteBordEm V="2026-11-02"/>
\t\t\t\t<TypBord V="01"/>
\t\t\t\t<NbrPce V="1"/>
\t\t\t\t<MtCumulAnnuel V="{amount}"/>
\t\t\t\t<MtBordHT V="{amount}"/>
\t\t\t</BlocBordereau>
\t\t\t<Piece>
\t\t\t\t<BlocPiece>
\t\t\t\t\t<InfoPce>
\t\t\t\t\t\t<IdPce V="{n}"/>
\t\t\t\t\t\t<TypPce V="01"/>
\t\t\t\t\t\t<NatPce V="01"/>
\t\t\t\t\t\t<Obj V="Fournitures scolaires (école élémentaire) n°{n}"/>
\t\t\t\t\t</InfoPce>
\t\t\t\t</BlocPiece>
\t\t\t\t<LigneDePiece>
\t\t\t\t\t<BlocLignePiece>
\t\t\t\t\t\t<InfoLignePce>
\t\t\t\t\t\t\t<IdLigne V="1"/>
\t\t\t\t\t\t\t<Nature V="6067"/>
\t\t\t\t\t\t\t<Fonction V="212"/>
\t\t\t\t\t\t\t<LibVir1 V="FACTURE {n}"/>
\t\t\t\t\t\t\t<ModRegl V="03"/>
\t\t\t\t\t\t\t<TVAIntraCom V="0"/>
\t\t\t\t\t\t\t<MtHT V="{amount}"/>
\t\t\t\t\t\t</InfoLignePce>
\t\t\t\t\t</BlocLignePiece>
\t\t\t\t\t<Tiers>
\t\t\t\t\t\t<InfoTiers>
\t\t\t\t\t\t\t<RefTiers V="T{n}"/>
\t\t\t\t\t\t\t<CatTiers V="01"/>
\t\t\t\t\t\t\t<NatJur V="01"/>
\t\t\t\t\t\t\t<Nom V="LIBRAIRIE DES ÉCOLES ÇA ET LÀ"/>
\t\t\t\t\t\t</InfoTiers>
\t\t\t\t\t\t<Adresse>
\t\t\t\t\t\t\t<TypAdr V="1"/>
\t\t\t\t\t\t\t<Adr2 V="12 rue de la Légion d'honneur"/>
\t\t\t\t\t\t\t<CP V="31000"/>
\t\t\t\t\t\t\t<Ville V="TOULOUSE"/>
\t\t\t\t\t\t\t<CodRes V="0"/>
\t\t\t\t\t\t</Adresse>
\t\t\t\t\t</Tiers>
\t\t\t\t</LigneDePiece>
\t\t\t</Piece>
\t\t</Bordereau>
"""

_RECETTE = """\t<PES_RecetteAller>
\t\t<EnTeteRecette>
\t\t\t<IdVer V="2"/>
\t\t\t<InfoDematerialisee V="0"/>
\t\t</EnTeteRecette>
\t\t<Bordereau{bord_id}>
\t\t\t<BlocBordereau>
\t\t\t\t<Exer V="2026"/>
\t\t\t\t<IdBord V="1"/>
\t\t\t\t<DteBordEm V="2026-11-02"/>
\t\t\t\t<TypBord V="01"/>
\t\t\t\t<NbrPce V="1"/>
\t\t\t\t<MtCumulAnnuel V="80.00"/>
\t\t\t\t<MtBordHt V="80.00"/>
\t\t\t</BlocBordereau>
\t\t\t<Piece>
\t\t\t\t<BlocPiece>
\t\t\t\t\t<IdPce V="1"/>
\t\t\t\t\t<TypPce V="01"/>
\t\t\t\t\t<NatPce V="01"/>
\t\t\t\t\t<ObjPce V="Cantine - régie de février"/>
\t\t\t\t</BlocPiece>
\t\t\t\t<LigneDePiece>
\t\t\t\t\t<BlocLignePiece>
\t\t\t\t\t\t<InfoLignePiece>
\t\t\t\t\t\t\t<IdLigne V="1"/>
\t\t\t\t\t\t\t<CodProdLoc V="CANT"/>
\t\t\t\t\t\t\t<Nature V="7067"/>
\t\t\t\t\t\t\t<Majo V="0"/>
\t\t\t\t\t\t\t<TvaIntraCom V="0"/>
\t\t\t\t\t\t\t<MtHT V="80.00"/>
\t\t\t\t\t\t</InfoLignePiece>
\t\t\t\t\t</BlocLignePiece>
\t\t\t\t</LigneDePiece>
\t\t\t</Piece>
\t\t</Bordereau>
\t</PES_RecetteAller>
"""


def make_pes(
    bordereaux: int = 2,
    *,
    with_ids: bool = True,
    root_id: str | None = "PES_TEST",
    recette: bool = False,
) -> bytes:
    """A small XSD-valid (v5.17) PES_Aller in ISO-8859-1 with accents, unsigned."""
    body = "".join(
        _BORDEREAU.format(
            n=i + 1,
            amount=f"{100 + i}.50",
            bord_id=f' Id="BORD{i + 1:04d}"' if with_ids else "",
        )
        for i in range(bordereaux)
    )
    text = _HEAD.format(root_id=f' Id="{root_id}"' if root_id else "") + _DEPENSE.format(bordereaux=body)
    if recette:
        text += _RECETTE.format(bord_id=' Id="BORDREC1"' if with_ids else "")
    text += "</n:PES_Aller>\n"
    return text.encode("iso-8859-1")


@pytest.fixture
def pes_factory() -> Callable[..., bytes]:
    return make_pes


@pytest.fixture(scope="session")
def pki() -> dict[str, devpki.Issued]:
    """One CA, a signer it issued, and an unrelated CA."""
    ca = devpki.make_ca("demat test CA")
    return {
        "ca": ca,
        "signer": devpki.issue(ca, "Jeanne Ordonnatrice"),
        "other_ca": devpki.make_ca("autre AC"),
    }


@pytest.fixture(scope="session")
def signer(pki: dict[str, devpki.Issued]) -> Signer:
    issued = pki["signer"]
    return Signer(issued.key, issued.cert, issued.chain)


@pytest.fixture(scope="session")
def pes_schema(refdata: Path) -> object:
    """The OFFICIAL v5.17 PES_Aller schema, from the reference data."""
    registry = SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])
    return registry.schema("pes", "pes_aller", origin="official")


@pytest.fixture
def fixed_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
