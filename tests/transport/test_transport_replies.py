"""S²LOW reply parsing, without network: shapes, encodings, refusals, garbage."""

from __future__ import annotations

from pathlib import Path

import pytest

from demat.errors import DematError, ProtocolError, RemoteRejected, XMLSecurityError
from demat.pes.ack import read_acquit
from demat.tracking import Event
from demat.transport import DuplicateSubmission
from demat.transport.s2low.replies import (
    decode_text,
    document_bytes,
    parse_actes_list,
    parse_actes_status,
    parse_helios_import,
    parse_helios_status,
    parse_ok_id,
    parse_prefecture_documents,
    parse_retour_list,
    parse_simple_ack,
)

LATIN1_DECL = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'


def test_helios_import_ok() -> None:
    body = (
        LATIN1_DECL
        + b"<import><id>1234</id><resultat>OK</resultat><message>Fichier bien re\xe7u</message></import>"
    )
    assert parse_helios_import(body) == "1234"


def test_helios_import_duplicate_in_latin1() -> None:
    body = (
        LATIN1_DECL + b"<import><id></id><resultat>KO</resultat>"
        b"<message>doublon d\xe9tect\xe9. Ce fichier a d\xe9j\xe0 \xe9t\xe9 post\xe9</message></import>"
    )
    with pytest.raises(DuplicateSubmission, match="doublon détecté"):
        parse_helios_import(body)


def test_helios_import_other_refusal_keeps_the_platform_message() -> None:
    body = b"<import><id/><resultat>KO</resultat><message>Le CodCol est trop long</message></import>"
    with pytest.raises(RemoteRejected, match="CodCol est trop long") as caught:
        parse_helios_import(body)
    assert not isinstance(caught.value, DuplicateSubmission)


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Fatal error</body></html>",
        b"<import><resultat>OK</resultat></import>",
        b"<import><id>1</id><resultat>PEUT-ETRE</resultat></import>",
        b"Warning: mysql_connect()",
        b"",
    ],
)
def test_helios_import_garbage(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_helios_import(body)


def test_helios_status() -> None:
    body = (
        LATIN1_DECL
        + b"<transaction><id>12</id><resultat>OK</resultat><message/><status>4</status></transaction>"
    )
    status = parse_helios_status(body)
    assert (status.code, status.label, status.event, status.fetch) == (
        4,
        "Acquittement reçu",
        Event.ACK_OK,
        "ack",
    )
    pending = parse_helios_status(body.replace(b"<status>4", b"<status>3"))
    assert (pending.event, pending.fetch) == (Event.PROGRESS, None)
    later = parse_helios_status(body.replace(b"<status>4", b"<status>31"))  # a code S²LOW adds one day
    assert (later.code, later.event, later.fetch) == (31, Event.PROGRESS, None)
    assert "inconnu" in later.label


def test_helios_status_not_numeric() -> None:
    body = b"<transaction><id>12</id><resultat>OK</resultat><message/><status>?</status></transaction>"
    with pytest.raises(ProtocolError, match="numérique"):
        parse_helios_status(body)


def test_retour_list() -> None:
    body = (
        LATIN1_DECL + b"<liste><idColl>21310555400017</idColl><dateDemande>2024-03-15</dateDemande>"
        b"<resultat>OK</resultat><message/>"
        b"<pes_retour><id>7</id><nom>PES2R_DEP__R.xml</nom><date>2024-03-14</date></pes_retour>"
        b"<pes_retour><id>8</id><nom>PES2R_RCE__R.xml</nom><date>2024-03-14</date></pes_retour></liste>"
    )
    assert [(r.id, r.name) for r in parse_retour_list(body)] == [
        ("7", "PES2R_DEP__R.xml"),
        ("8", "PES2R_RCE__R.xml"),
    ]


def test_actes_status_with_real_aracte(refdata: Path) -> None:
    aracte = (refdata / "actes/s2low/001-000000000-20170130-TEST42-DE-1-2_0.xml").read_bytes()
    status = parse_actes_status(b"OK\r\n4\r\n" + aracte)
    assert status.code == 4
    assert status.aracte == aracte.strip()
    assert b'IDActe="001-000000000-20170130-TEST42-DE"' in (status.aracte or b"")


def test_actes_status_without_reply() -> None:
    status = parse_actes_status(b"OK\n3\n")
    assert (status.code, status.label, status.reply, status.aracte) == (3, "Transmis", None, None)


def test_actes_status_error_message_in_latin1() -> None:
    status = parse_actes_status(b"OK\n-1\nErreur lors de la transmission : acte refus\xe9", "iso-8859-1")
    assert (status.event, status.label) == (Event.ACK_KO, "Erreur")
    assert status.message == "Erreur lors de la transmission : acte refusé"


def test_actes_status_error_with_anomaly_xml() -> None:
    anomaly = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><actes:AnomalieActe xmlns:actes="http://www.interieur.gouv.fr/'
        b'ACTES#v1.1-20040216"><actes:Date>2024-01-01</actes:Date><actes:Nature>002</actes:Nature>'
        b"<actes:Detail>ODT-VERIF-01 : classification</actes:Detail></actes:AnomalieActe>"
    )
    status = parse_actes_status(b"OK\n-1\n" + anomaly)
    assert status.anomaly == anomaly
    assert status.message == "ODT-VERIF-01 : classification"


def test_actes_ko_and_garbage() -> None:
    with pytest.raises(RemoteRejected, match="Transaction inconnue"):
        parse_actes_status(b"KO\nTransaction inconnue")
    with pytest.raises(ProtocolError):
        parse_actes_status(b"<html>")
    with pytest.raises(ProtocolError):
        parse_actes_status(b"OK\nquatre\n")


def test_ok_id() -> None:
    assert parse_ok_id(b"OK\n42\n", "création") == "42"
    with pytest.raises(ProtocolError):
        parse_ok_id(b"OK\n", "création")
    with pytest.raises(DuplicateSubmission):
        parse_ok_id("KO\nLe numéro de l'acte est déjà utilisé".encode("iso-8859-1"), "création")


def test_prefecture_documents_and_actes_list() -> None:
    docs = parse_prefecture_documents(
        b'[{"id": "9", "type": "3", "unique_id": "034-491011698-20171207-CL20171227_06-DE",'
        b' "number": "CL20171227_06",'
        b' "related_transaction_id": "8", "last_status_id": "7"}]'
    )
    assert [(d.id, d.type, d.related_transaction_id, d.last_status_id) for d in docs] == [("9", 3, "8", 7)]
    listed = parse_actes_list(
        b'{"status_id": null, "transactions": [{"id": 1, "number": "A1", "last_status_id": 4}]}'
    )
    assert [(a.id, a.number, a.status) for a in listed] == [("1", "A1", 4)]
    with pytest.raises(ProtocolError):
        parse_actes_list(b'{"transactions": "none"}')
    with pytest.raises(ProtocolError):
        parse_prefecture_documents(b"[{")


def test_simple_acks() -> None:
    parse_simple_ack(b"OK", "x")
    parse_simple_ack(b'{"result": "ok"}', "x")
    parse_simple_ack(b"<change><resultat>OK</resultat></change>", "x")
    with pytest.raises(RemoteRejected):
        parse_simple_ack(b'{"result": "ko", "message": "inconnu"}', "x")
    with pytest.raises(RemoteRejected):
        parse_simple_ack(b"<change><resultat>KO</resultat><message>inconnu</message></change>", "x")


def test_documents_are_kept_as_sent_and_parsed_once_by_their_reader() -> None:
    # The transport only refuses what is not a document; the reader parses it, once.
    with pytest.raises(RemoteRejected):
        document_bytes(b"KO\nAcquittement non disponible", "PES_ACQUIT")
    with pytest.raises(ProtocolError, match="XML"):
        document_bytes(b"Fatal error: out of memory", "PES_ACQUIT")
    body = b'\xef\xbb\xbf\n<?xml version="1.0"?><PES_Aller/>'
    assert document_bytes(body, "PES_ACQUIT") is body
    with pytest.raises(DematError):
        read_acquit(b"<PES_Aller/>")
    with pytest.raises(XMLSecurityError):
        read_acquit(document_bytes(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "PES_ACQUIT"))


def test_decode_text() -> None:
    assert decode_text("déjà".encode("iso-8859-1")) == "déjà"
    assert decode_text("déjà".encode()) == "déjà"
    assert decode_text(b"\xef\xbb\xbfOK") == "OK"
