"""PES_ACQUIT writer: schema-valid output that reads back to the same model; old flat ACKs."""

from __future__ import annotations

import pytest

from demat.pes.ack import (
    AckElement,
    AckError,
    DetailLigne,
    DetailPiece,
    build_acquit,
    build_acquit_for,
    read_acquit,
)
from demat.pes.inspect import inspect_pes
from demat.pes.validate import validate_xsd
from demat.xml.schemas import SchemaRegistry

from .pesgen import Bord, Pj, pes

ELEMENTS = [
    AckElement("5", ok=True, num_bord="12", exercice_bord="2024"),
    AckElement(
        "6",
        ok=False,
        num_bord="258",
        exercice_bord="2024",
        errors=[AckError("ERREUR_CUMUL_MONTANTS", "Montant du bordereau incohérent")],
        pieces=[
            DetailPiece(
                "5432",
                [AckError("ERREUR_AUTRE", "2559 - Le code service est inconnu")],
                [DetailLigne("1", [AckError("ERREUR_AUTRE", "1971 - Compte fonction présent à tort")])],
            )
        ],
    ),
    AckElement(
        "4", ok=False, id_unique="TI00064567", errors=[AckError("ERREUR_DOUBLON_PJ", "1984 - déjà intégré")]
    ),
    AckElement("11", ok=True, id_marche="2024MARCHE0001-001"),
]


@pytest.mark.parametrize("origin", ["official", "bundled"])
def test_built_acquit_is_schema_valid_and_reads_back(official: SchemaRegistry, origin: str) -> None:
    data = build_acquit(
        nom_fic="PESALR2_TEST_001",
        id_post="031007",
        id_coll="21310555400017",
        cod_col="100",
        cod_bud="00",
        libelle_col_bud="COMMUNE DE TEST é",
        dte_str="2024-03-02",
        elements=ELEMENTS,
    )
    assert data.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    report = validate_xsd(data, "pes_acquit", registry=official, origin=origin)
    assert report.valid, report.errors
    ack = read_acquit(data)
    assert ack.elements == ELEMENTS
    assert not ack.accepted
    assert (ack.nom_fic, ack.id_coll, ack.cod_col, ack.dte_str, ack.version) == (
        "PESALR2_TEST_001",
        "21310555400017",
        "100",
        "2024-03-02",
        "v2",
    )


def test_build_for_an_inspected_pes(official: SchemaRegistry) -> None:
    info = inspect_pes(
        pes(bords=[Bord(id_bord="7"), Bord(id="B2", id_bord="8")], pjs=[Pj("PJA"), Pj("PJB", "b.pdf")])
    )
    accepted = build_acquit_for(info, dte_str="2024-03-02")
    assert validate_xsd(accepted, "pes_acquit", registry=official, origin="official").valid
    ok = read_acquit(accepted)
    assert ok.accepted
    assert ok.nom_fic == info.nom_fic
    assert [(e.domaine, e.num_bord or e.id_unique) for e in ok.elements] == [
        ("5", "7"),
        ("5", "8"),
        ("4", "PJA"),
        ("4", "PJB"),
    ]

    refused = build_acquit_for(
        info,
        rejected_bordereaux={
            ("depense", "8"): [AckError("ERREUR_DOUBLON_BORDEREAU", "bordereau déjà intégré")]
        },
        rejected_pjs={"PJB": [AckError("ERREUR_PJ", "PJ illisible")]},
    )
    assert validate_xsd(refused, "pes_acquit", registry=official, origin="official").valid
    ko = read_acquit(refused)
    assert not ko.accepted
    assert [e.subject for e in ko.rejected] == ["bordereau 8 (2024)", "PJ PJB"]


def test_technical_refusal(official: SchemaRegistry) -> None:
    info = inspect_pes(pes())
    data = build_acquit_for(
        info, technical_error=AckError("ERREUR_AUTRE", "Erreur de validation XSD en boite 1")
    )
    assert validate_xsd(data, "pes_acquit", registry=official, origin="official").valid
    [element] = read_acquit(data).elements
    assert (element.domaine, element.ok, element.subject) == ("0", False, "fichier")


def test_writer_refuses_what_the_schema_would() -> None:
    kwargs = {"nom_fic": "X", "id_post": "031007", "id_coll": "1", "cod_col": "100", "cod_bud": "00"}
    with pytest.raises(ValueError, match="NumAnoAck"):
        build_acquit(elements=[AckElement("5", ok=False, errors=[AckError("ERREUR_INVENTEE")])], **kwargs)
    with pytest.raises(ValueError, match="DomaineAck"):
        build_acquit(elements=[AckElement("42", ok=True)], **kwargs)
    with pytest.raises(ValueError, match="au moins"):
        build_acquit(elements=[], **kwargs)


FLAT = """<?xml version="1.0" encoding="ISO-8859-1"?>
<n:PES_ACQUIT xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour">
<Enveloppe><Parametres><Version V="2"/><TypFic V="PESALR2"/><NomFic V="OLD_001"/></Parametres>
<Emetteur><Sigle V="HELIOS"/><Adresse V="DGFIP"/></Emetteur></Enveloppe>
<EnTetePES><DteStr V="2012-01-05"/><IdPost V="031007"/><IdColl V="21310555400017"/><CodCol V="100"/>
<CodBud V="00"/></EnTetePES>
<ACQUIT><EnTeteAcquit><IdVer V="1"/></EnTeteAcquit>
<ElementACQUIT><DomaineAck V="5"/><EtatAck V="0"/><ExerciceBord V="2012"/><NumBord V="3"/><NumPiece V="10"/>
<NumLigne V="2"/><NumAnoAck V="ERREUR_AUTRE"/><LibelleAnoAck V="ligne refusée"/></ElementACQUIT>
<ElementACQUIT><DomaineAck V="5"/><EtatAck V="0"/><ExerciceBord V="2012"/><NumBord V="3"/><NumPiece V="11"/>
<NumAnoAck V="ERREUR_DOUBLON_PIECE"/><LibelleAnoAck V="pièce en double"/></ElementACQUIT>
<ElementACQUIT><DomaineAck V="4"/><EtatAck V="1"/><IdUnique V="PJ1"/></ElementACQUIT>
</ACQUIT></n:PES_ACQUIT>
""".encode("latin-1")


def test_old_flat_acquit(official: SchemaRegistry) -> None:
    assert validate_xsd(FLAT, "pes_acquit_v1", registry=official, origin="official").valid
    ack = read_acquit(FLAT)
    assert ack.version == "v1"
    assert not ack.accepted
    bord, pj = ack.elements
    assert (bord.num_bord, bord.exercice_bord, bord.ok) == ("3", "2012", False)
    assert [p.num for p in bord.pieces] == ["10", "11"]
    assert bord.pieces[0].lignes[0].num == "2"
    assert bord.pieces[0].lignes[0].errors == [AckError("ERREUR_AUTRE", "ligne refusée")]
    assert bord.pieces[1].errors == [AckError("ERREUR_DOUBLON_PIECE", "pièce en double")]
    assert pj.ok


def test_not_an_acquit_is_a_protocol_error() -> None:
    from demat.errors import ProtocolError

    with pytest.raises(ProtocolError) as caught:
        read_acquit(pes())
    assert caught.value.code == "PES_ACK_NOT_ACQUIT"


def test_ack_without_elements_is_not_accepted() -> None:
    data = FLAT.split(b"<ElementACQUIT>")[0] + b"</ACQUIT></n:PES_ACQUIT>"
    assert not read_acquit(data).accepted
