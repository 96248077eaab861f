"""Packaging: names, XSD validity of every outgoing XML, streaming write, read-back."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.actes import (
    ActeDocument,
    ActeMessage,
    ActesIdentity,
    ActesLimits,
    ActesRuleError,
    ReplyKind,
    open_package,
    package_acte,
    package_annulation,
    package_demande_classification,
    package_reply,
)
from demat.actes.read import CourrierPrefMessage, read_message
from demat.errors import PackagingError, ValidationError

from .conftest import PDF, TODAY, make_acte

SENT = dt.date(2024, 5, 10)


def assert_valid(xsd: Any, data: bytes) -> None:
    tree = etree.fromstring(data).getroottree()
    assert xsd.validate(tree), xsd.error_log
    assert data.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')


def tar_names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        return [m.name for m in t.getmembers()]


def test_acte_package_names_follow_the_convention(identity: ActesIdentity, actes_xsd: Any) -> None:
    pkg = package_acte(identity, make_acte(), serial=7, today=SENT, schema=actes_xsd)
    assert pkg.filename == "SLO-EACT--210600730--20240510-7.tar.gz"
    assert pkg.members == (
        "EACT--210600730--20240510-7.xml",
        "006-210600730-20240507-DEL2024_012-DE-1-1_0.xml",
        "99_DE-006-210600730-20240507-DEL2024_012-DE-1-1_1.pdf",
        "99_AU-006-210600730-20240507-DEL2024_012-DE-1-1_2.png",
    )
    assert pkg.id_acte == "006-210600730-20240507-DEL2024_012-DE"
    assert tar_names(pkg.to_bytes()) == list(pkg.members)


def test_outgoing_acte_and_envelope_are_schema_valid(identity: ActesIdentity, actes_xsd: Any) -> None:
    pkg = package_acte(identity, make_acte(document_papier=True), serial=1, today=SENT)
    assert_valid(actes_xsd, pkg.message)
    assert_valid(actes_xsd, pkg.envelope)
    # Latin-1 bytes for accented text, character references beyond Latin-1.
    assert "exercice 2024 (réf. n°12)".encode("latin-1") in pkg.message
    assert b"&#8212;" in pkg.message
    assert b"<actes:DocumentPapier>O</actes:DocumentPapier>" in pkg.message


def test_five_levels_and_precedent_are_schema_valid(identity: ActesIdentity, actes_xsd: Any) -> None:
    acte = make_acte(matieres="1.2.3.4.5", precedent_id_acte="006-210600730-20240102-A_1-DE", annexes=())
    pkg = package_acte(identity, acte, serial=1, today=SENT, schema=actes_xsd)
    msg = read_message(pkg.message, schema=actes_xsd)
    assert isinstance(msg, ActeMessage)
    assert msg.acte.matieres == (1, 2, 3, 4, 5)
    assert msg.acte.precedent_id_acte == "006-210600730-20240102-A_1-DE"
    assert msg.acte.annexes_nombre == 0


def test_detached_signature_is_carried_in_base64(identity: ActesIdentity, actes_xsd: Any) -> None:
    signed = ActeDocument(filename="a.pdf", typology="99_DE", content=PDF, signature=b"\x30\x82sig")
    pkg = package_acte(identity, make_acte(document=signed), serial=1, today=SENT, schema=actes_xsd)
    msg = read_message(pkg.message)
    assert isinstance(msg, ActeMessage)
    assert msg.acte.document.signature == "MIJzaWc="
    assert msg.acte.annexes[0].signature is None
    assert msg.acte.id_acte_for(identity.departement, identity.siren) == pkg.id_acte


def test_envelope_without_referent_is_schema_valid(actes_xsd: Any) -> None:
    bare = ActesIdentity(siren="214400152", departement="44", nature="31", return_emails=["a@b.fr", "c@d.fr"])
    pkg = package_acte(bare, make_acte(), serial=2, today=SENT)
    assert b"Referent" not in pkg.envelope
    assert_valid(actes_xsd, pkg.envelope)


def test_rules_are_enforced_before_packaging(identity: ActesIdentity) -> None:
    with pytest.raises(ActesRuleError) as info:
        package_acte(identity, make_acte(date=SENT + dt.timedelta(days=1)), serial=1, today=SENT)
    assert info.value.code == "ACTES_DATE_FUTURE"


@pytest.mark.parametrize("kind", list(ReplyKind))
def test_every_reply_is_schema_valid(identity: ActesIdentity, actes_xsd: Any, kind: ReplyKind) -> None:
    lo, _ = kind.documents_expected
    docs = [ActeDocument(filename=f"r{i}.pdf", typology="99_AU", content=PDF) for i in range(lo)]
    if kind is ReplyKind.PIECE_COMPLEMENTAIRE:
        docs.append(ActeDocument(filename="r9.pdf", typology="99_AU", content=PDF))
    id_acte = "006-210600730-20240507-DEL2024_012-DE"
    pkg = package_reply(
        identity, kind, id_acte, dt.date(2024, 6, 1), docs, serial=3, today=SENT, schema=actes_xsd
    )
    assert_valid(actes_xsd, pkg.message)
    assert_valid(actes_xsd, pkg.envelope)
    assert pkg.message_name.startswith(f"{id_acte}-")
    assert pkg.message_name.endswith("_0.xml")
    back = open_package(pkg.to_bytes(), schema=actes_xsd)
    assert back.valid, back.all_findings()
    (msg,) = back.messages
    assert isinstance(msg, CourrierPrefMessage)
    assert (msg.type, msg.id_acte, msg.date_courrier) == (kind.value, id_acte, dt.date(2024, 6, 1))
    assert len(msg.documents) == len(docs)


def test_reply_document_count_is_checked(identity: ActesIdentity) -> None:
    with pytest.raises(ValidationError, match="document"):
        package_reply(
            identity,
            ReplyKind.REPONSE_COURRIER_SIMPLE,
            "006-210600730-20240507-A-DE",
            SENT,
            [],
            serial=1,
            today=SENT,
        )


def test_annulation_and_classification_request(identity: ActesIdentity, actes_xsd: Any) -> None:
    ann = package_annulation(
        identity, "006-210600730-20240507-DEL2024_012-DE", serial=4, today=SENT, schema=actes_xsd
    )
    assert ann.members == (
        "EACT--210600730--20240510-4.xml",
        "006-210600730-20240507-DEL2024_012-DE-6-1_0.xml",
    )
    assert_valid(actes_xsd, ann.message)
    req = package_demande_classification(identity, serial=5, today=SENT, current=dt.date(2017, 12, 8))
    assert req.members[1] == "006-210600730----7-1_0.xml"
    assert_valid(actes_xsd, req.message)
    assert_valid(actes_xsd, package_demande_classification(identity, serial=6, today=SENT).message)


def test_cannot_cancel_another_collectivites_acte(identity: ActesIdentity) -> None:
    with pytest.raises(ValidationError) as info:
        package_annulation(identity, "034-491011698-20171207-CL20171227_06-DE", serial=1, today=SENT)
    assert info.value.code == "ACTES_IDACTE_SIREN"


def test_built_package_reads_back_to_the_same_model(identity: ActesIdentity, actes_xsd: Any) -> None:
    pkg = package_acte(identity, make_acte(), serial=1, today=SENT)
    back = open_package(pkg.to_bytes(), schema=actes_xsd)
    assert back.valid, back.all_findings()
    assert back.envelope is not None
    assert back.envelope.type == "EnveloppeCLMISILL"
    (msg,) = back.messages
    assert isinstance(msg, ActeMessage)
    assert msg.acte == pkg.acte_data
    assert [d.name for d in back.documents] == list(pkg.members[2:])
    assert back.member(pkg.members[2]).read_bytes() == PDF


def test_archive_is_flat_gzip_and_reproducible(identity: ActesIdentity) -> None:
    a = package_acte(identity, make_acte(), serial=1, today=SENT).to_bytes()
    b = package_acte(identity, make_acte(), serial=1, today=SENT).to_bytes()
    assert a == b
    assert a[:2] == b"\x1f\x8b"
    with tarfile.open(fileobj=io.BytesIO(a), mode="r:gz") as t:
        for m in t.getmembers():
            assert m.isreg()
            assert "/" not in m.name
            assert m.mode == 0o644
    raw = gzip.decompress(a)
    assert raw[257:265] == b"ustar\x0000"  # POSIX ustar, as in the real Stela archive


def test_write_streams_from_disk_to_a_path(identity: ActesIdentity, tmp_path: Path) -> None:
    big = tmp_path / "acte.pdf"
    body = b"%PDF-1.7\n" + os.urandom(1024 * 1024)
    big.write_bytes(body)
    acte = make_acte(document=ActeDocument.from_path(big, "99_DE"))
    pkg = package_acte(identity, acte, serial=1, today=SENT)
    size = pkg.write(tmp_path)
    out = tmp_path / pkg.filename
    assert out.stat().st_size == size
    extracted = tmp_path / "x"
    extracted.mkdir()
    back = open_package(out, extract_to=extracted)
    doc = back.member(pkg.members[2])
    assert doc.path is not None
    assert doc.path.read_bytes() == body


def test_write_refuses_an_archive_over_the_cap(identity: ActesIdentity, tmp_path: Path) -> None:
    noise = b"%PDF-1.7\n" + os.urandom(64 * 1024)
    acte = make_acte(document=ActeDocument(filename="a.pdf", typology="99_DE", content=noise), annexes=())
    # the rule on raw sizes passes (cap above the document), the compressed archive does not fit
    limits = ActesLimits(max_archive_bytes=len(noise) + 10)
    pkg = package_acte(identity, acte, serial=1, today=SENT, limits=limits)
    with pytest.raises(PackagingError) as info:
        pkg.write(tmp_path / "out.tar.gz")
    assert info.value.code == "ACTES_ARCHIVE_TROP_GRANDE"
    assert list(tmp_path.iterdir()) == []


def test_sending_date_and_decision_date_are_distinct(identity: ActesIdentity) -> None:
    pkg = package_acte(identity, make_acte(date=dt.date(2024, 1, 31)), serial=12, today=TODAY)
    assert pkg.envelope_name == "EACT--210600730--20240510-12.xml"
    assert pkg.message_name == "006-210600730-20240131-DEL2024_012-DE-1-1_0.xml"


def test_trigram_is_checked(identity: ActesIdentity) -> None:
    assert package_acte(identity, make_acte(), serial=1, today=SENT, trigram="SIC").filename.startswith(
        "SIC-EACT--"
    )
    with pytest.raises(ValidationError, match="trigramme"):
        package_acte(identity, make_acte(), serial=1, today=SENT, trigram="TOOLONG")
    with pytest.raises(ValidationError, match="séquence"):
        package_acte(identity, make_acte(), serial=0, today=SENT)
