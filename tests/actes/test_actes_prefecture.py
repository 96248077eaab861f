"""Préfecture-side builders: schema-valid, and read back to what was given."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.actes import ActesIdentity, Member, PrefEmitter, open_package, package_acte
from demat.actes import prefecture as pref
from demat.actes.envelope import envelope_data
from demat.actes.read import (
    AnomalieActeMessage,
    AnomalieEnveloppeMessage,
    ARActeMessage,
    ARAnnulationMessage,
    ARReponseMessage,
    CourrierPrefMessage,
    DefereTAMessage,
    ReponseClassificationSansChangementMessage,
    RetourClassificationMessage,
    read_message,
)

from .conftest import PDF, make_acte

DAY = dt.date(2024, 5, 13)
ID = "006-210600730-20240507-DEL2024_012-DE"


def valid(xsd: Any, data: bytes) -> bytes:
    assert xsd.validate(etree.fromstring(data).getroottree()), xsd.error_log
    return data


def test_aracte_echoes_the_sent_acte(identity: ActesIdentity, actes_xsd: Any) -> None:
    sent = package_acte(identity, make_acte(), serial=1, today=DAY)
    assert sent.acte_data is not None
    data = valid(
        actes_xsd,
        pref.build_aracte(
            sent.acte_data, id_acte=ID, date_reception=DAY, classification_date_en_cours=dt.date(2017, 12, 8)
        ),
    )
    msg = read_message(data, schema=actes_xsd)
    assert isinstance(msg, ARActeMessage)
    assert (msg.id_acte, msg.date_reception, msg.acte) == (ID, DAY, sent.acte_data)
    assert msg.valid


def test_anomalies(identity: ActesIdentity, actes_xsd: Any) -> None:
    sent = package_acte(identity, make_acte(), serial=1, today=DAY)
    assert sent.acte_data is not None
    ano = read_message(
        valid(
            actes_xsd,
            pref.build_anomalie_acte(
                sent.acte_data,
                date=DAY,
                nature=2,
                detail="classification périmée",
                classification_date_en_cours=DAY,
            ),
        )
    )
    assert isinstance(ano, AnomalieActeMessage)
    assert (ano.nature, ano.detail, ano.acte) == ("002", "classification périmée", sent.acte_data)
    env = envelope_data(identity, [sent.message_name])
    anoenv = read_message(valid(actes_xsd, pref.build_anomalie_enveloppe(env, date=DAY, nature="003")))
    assert isinstance(anoenv, AnomalieEnveloppeMessage)
    assert anoenv.enveloppe == env
    with pytest.raises(ValueError, match="hors schéma"):
        pref.build_anomalie_enveloppe(env, date=DAY, nature="999")


def test_letters_and_acks(actes_xsd: Any) -> None:
    cs = read_message(valid(actes_xsd, pref.build_courrier_simple(ID, date_courrier=DAY, document="c.pdf")))
    assert isinstance(cs, CourrierPrefMessage)
    assert (cs.type, cs.id_acte, cs.referenced_files()) == ("CourrierSimple", ID, ("c.pdf",))
    dpc = read_message(
        valid(
            actes_xsd,
            pref.build_demande_piece_complementaire(
                ID, date_courrier=DAY, description="Le plan", document="d.pdf"
            ),
        )
    )
    assert isinstance(dpc, CourrierPrefMessage)
    assert dpc.description == "Le plan"
    lo = read_message(
        valid(
            actes_xsd,
            pref.build_lettre_observations(ID, date_courrier=DAY, motif="Incompétence", document="l.pdf"),
        )
    )
    assert isinstance(lo, CourrierPrefMessage)
    assert lo.motif == "Incompétence"
    ta = read_message(
        valid(
            actes_xsd,
            pref.build_defere_ta(ID, date_depot=DAY, nature_illegalite="Vice", pieces=["a.pdf", "b.pdf"]),
        )
    )
    assert isinstance(ta, DefereTAMessage)
    assert ta.referenced_files() == ("a.pdf", "b.pdf")
    for kind in ("ARPieceComplementaire", "ARReponseRejetLettreObservations"):
        ar = read_message(
            valid(actes_xsd, pref.build_ar_reponse(kind, ID, date_courrier=DAY, date_reception=DAY))
        )
        assert isinstance(ar, ARReponseMessage)
        assert (ar.type, ar.id_acte, ar.date_courrier) == (kind, ID, DAY)
    ann = read_message(valid(actes_xsd, pref.build_ar_annulation(ID, date_reception=DAY)))
    assert isinstance(ann, ARAnnulationMessage)
    assert ann.id_acte == ID
    same = read_message(valid(actes_xsd, pref.build_reponse_classification_sans_changement(DAY)))
    assert isinstance(same, ReponseClassificationSansChangementMessage)
    assert same.date_classification == DAY


def test_classification_round_trip(refdata: Path, actes_xsd: Any) -> None:
    original = read_message((refdata / "actes/stela/exemple_codes_matieres_typologie.xml").read_bytes())
    assert isinstance(original, RetourClassificationMessage)
    again = read_message(valid(actes_xsd, pref.build_retour_classification(original.classification)))
    assert isinstance(again, RetourClassificationMessage)
    assert again.classification == original.classification


def test_prefecture_archive(actes_xsd: Any) -> None:
    emitter = PrefEmitter(kind="IDSousPref", departement="006", arrondissement="2")
    name = pref.prefecture_message_name("CourrierSimple", id_acte=ID, departement="006", siren="210600730")
    assert name == f"{ID}-2-1_1.xml"
    doc = f"{ID}-2-1_2.pdf"
    pkg = pref.package_from_prefecture(
        emitter,
        destinataire_siren="210600730",
        message_name=name,
        message=pref.build_courrier_simple(ID, date_courrier=DAY, document=doc),
        documents=[Member(doc, PDF)],
        serial=9,
        today=DAY,
    )
    assert pkg.envelope_name == "EACT--SPREF0062-210600730-20240513-9.xml"
    valid(actes_xsd, pkg.envelope)
    back = open_package(pkg.to_bytes(), schema=actes_xsd)
    assert back.valid, back.all_findings()
    assert back.envelope is not None
    assert back.envelope.type == "EnveloppeMISILLCL"
    assert [m.type for m in back.messages] == ["CourrierSimple"]
    anomaly_name = pref.prefecture_message_name(
        "AnomalieActe", id_acte=None, departement="044", siren="214400152"
    )
    assert anomaly_name == "044-214400152----1-3_1.xml"  # as in the real MI sample
