"""ACTES through the S²LOW client against the sandbox, over mutual TLS."""

from __future__ import annotations

import datetime as dt
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from demat.actes.archive import open_package
from demat.actes.model import Acte, ActeDocument
from demat.actes.read import read_message
from demat.errors import RemoteRejected, ValidationError
from demat.sandbox import Sandbox
from demat.tracking import Event
from demat.transport import (
    ActesPlatform,
    ActeSubmission,
    Attachment,
    DuplicateSubmission,
    Lookup,
    PrefectureAnswer,
    S2lowClient,
)
from demat.transport.acte_fields import submission_from_acte
from demat.xml.schemas import SchemaRegistry

DECISION = dt.date(2024, 5, 7)


def deliberation(number: str, pdf: Path, **kw: object) -> ActeSubmission:
    fields: dict[str, object] = {
        "nature_code": 1,
        "number": number,
        "subject": "Tarifs de la cantine scolaire, année 2024-2025 (réévaluation)",
        "decision_date": DECISION,
        "classification": ("9", "1"),
        "type_acte": "99_DE",
        "acte": Attachment("délibération 12.pdf", pdf),
        "annexes": (Attachment("annexe tarifs.pdf", pdf.read_bytes(), type_pj="41_NC"),),
    }
    fields.update(kw)
    return ActeSubmission(**fields)  # type: ignore[arg-type]


@pytest.fixture
def actes_registry(refdata: Path) -> SchemaRegistry:
    return SchemaRegistry(official_dirs=[refdata / "actes"])


async def test_client_satisfies_the_protocol(s2low: S2lowClient) -> None:
    assert isinstance(s2low.actes, ActesPlatform)


async def test_acte_acknowledged_with_its_idacte(
    s2low: S2lowClient, sandbox: Sandbox, pdf: Path, actes_registry: SchemaRegistry
) -> None:
    result = await s2low.actes.submit_acte(deliberation("DEL2024_012", pdf))
    status = await s2low.actes.status(result.remote_id)
    assert status.code == 4
    assert status.aracte is not None
    ar = read_message(status.aracte, registry=actes_registry)
    assert ar.type == "ARActe"
    assert ar.schema_checked
    assert ar.valid, ar.findings
    assert ar.id_acte == "044-214400152-20240507-DEL2024_012-DE"
    assert ar.acte.objet == "Tarifs de la cantine scolaire, année 2024-2025 (réévaluation)"  # type: ignore[attr-defined]

    # Same transaction found again by the IDActe and by its number.
    assert (await s2low.actes.status_by_idacte(ar.id_acte)).code == 4
    found = await s2low.actes.find_acte("DEL2024_012")
    assert (found.outcome, found.remote_id) == (Lookup.FOUND, result.remote_id)
    assert (await s2low.actes.find_acte("NOPE")).outcome is Lookup.ABSENT

    [receipt] = sandbox.received("actes")
    assert receipt.filename == "d_lib_ration 12.pdf"  # sanitised as Pastell does


async def test_acte_from_demat_model(s2low: S2lowClient, pdf: Path) -> None:
    acte = Acte(
        nature=3,
        numero="ARR2024_7",
        date=DECISION,
        objet="Nomination d'un agent",
        matieres=(4, 1),
        classification_date=dt.date(2024, 1, 15),
        document=ActeDocument.from_path(pdf, "99_AI"),
    )
    result = await s2low.actes.submit_acte(submission_from_acte(acte))
    status = await s2low.actes.status(result.remote_id)
    assert status.aracte is not None
    assert read_message(status.aracte, check_schema=False).id_acte == "044-214400152-20240507-ARR2024_7-AI"


async def test_s2low_refuses_an_acte_breaking_the_rules(
    s2low: S2lowClient, pdf: Path, sandbox: Sandbox
) -> None:
    with pytest.raises(RemoteRejected) as caught:
        await s2low.actes.submit_acte(deliberation("del-minuscules", pdf, classification=("8", "8")))
    message = caught.value.message
    assert "numéro interne" in message
    assert "matière 8.8" in message
    assert sandbox.received("actes")[0].outcome == "rejected"


async def test_subject_outside_latin1_is_refused_before_sending(s2low: S2lowClient, pdf: Path) -> None:
    with pytest.raises(ValidationError, match="ISO-8859-1"):
        await s2low.actes.submit_acte(deliberation("DEL1", pdf, subject="Œuvres d'art"))


async def test_same_number_twice_is_a_duplicate(s2low: S2lowClient, pdf: Path) -> None:
    first = await s2low.actes.submit_acte(deliberation("DEL2024_013", pdf))
    with pytest.raises(DuplicateSubmission):
        await s2low.actes.submit_acte(deliberation("DEL2024_013", pdf))
    again = await s2low.actes.submit_acte(deliberation("DEL2024_013", pdf), if_duplicate="resolve")
    assert again.already_present
    assert again.remote_id == first.remote_id


async def test_outdated_classification_gets_an_anomaly_until_fetched(
    s2low: S2lowClient, sandbox: Sandbox, pdf: Path
) -> None:
    sandbox.update_classification(dt.date(2024, 6, 1))
    result = await s2low.actes.submit_acte(deliberation("DEL2024_014", pdf))
    status = await s2low.actes.status(result.remote_id)
    assert (status.code, status.event, status.fetch) == (-1, Event.ACK_KO, "anomalie")
    assert status.aracte is None
    assert status.message.startswith("ODT-VERIF-01")

    xml = await s2low.actes.fetch_classification()
    classification = read_message(xml, check_schema=False)
    assert classification.type == "RetourClassification"
    assert classification.classification.date == dt.date(2024, 6, 1)  # type: ignore[attr-defined]

    retry = await s2low.actes.submit_acte(deliberation("DEL2024_015", pdf))
    assert (await s2low.actes.status(retry.remote_id)).code == 4


async def test_classification_fetch_is_schema_valid(
    s2low: S2lowClient, actes_registry: SchemaRegistry
) -> None:
    message = read_message(await s2low.actes.fetch_classification(), registry=actes_registry)
    assert message.schema_checked
    assert message.valid, message.findings
    tree = message.classification  # type: ignore[attr-defined]
    assert tree.label((7, 1)) == "Finances locales / Décisions budgétaires"
    await s2low.actes.request_classification()


async def test_budget_act_nature_5_acknowledged(s2low: S2lowClient, refdata: Path, pdf: Path) -> None:
    totem = refdata / "totem/yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml"
    submission = deliberation(
        "BP2022",
        pdf,
        nature_code=5,
        subject="Budget primitif 2022",
        classification=("7", "1"),
        type_acte="99_BU",
        acte=Attachment("totem.xml", totem),
        annexes=(Attachment("deliberation.pdf", pdf, type_pj="70_DE"),),
    )
    result = await s2low.actes.submit_acte(submission)
    status = await s2low.actes.status(result.remote_id)
    assert status.aracte is not None
    assert read_message(status.aracte, check_schema=False).id_acte == "044-214400152-20240507-BP2022-BF"


async def test_xml_acte_outside_budget_is_refused(s2low: S2lowClient, refdata: Path, pdf: Path) -> None:
    totem = refdata / "totem/yatotem2scdl/DOCBUDG-21560046100085-056025-BP-2022-07042022000000/totem.xml"
    with pytest.raises(RemoteRejected, match="XML"):
        await s2low.actes.submit_acte(deliberation("DEL9", pdf, acte=Attachment("totem.xml", totem)))


async def test_cancellation_of_an_acknowledged_acte(s2low: S2lowClient, pdf: Path) -> None:
    result = await s2low.actes.submit_acte(deliberation("DEL2024_016", pdf))
    assert (await s2low.actes.status(result.remote_id)).code == 4
    cancel_id = await s2low.actes.cancel(result.remote_id)
    assert cancel_id != result.remote_id
    status = await s2low.actes.status(cancel_id)
    assert status.code == 4
    assert status.reply is not None
    ar = read_message(status.reply, check_schema=False)
    assert (ar.type, ar.id_acte) == ("ARAnnulation", "044-214400152-20240507-DEL2024_016-DE")
    assert (await s2low.actes.status(result.remote_id)).code == 0
    with pytest.raises(RemoteRejected):
        await s2low.actes.cancel(result.remote_id)


async def test_cancelling_an_acte_in_anomaly_is_refused(
    s2low: S2lowClient, sandbox: Sandbox, pdf: Path
) -> None:
    sandbox.update_classification(dt.date(2024, 6, 1))
    result = await s2low.actes.submit_acte(deliberation("DEL2024_017", pdf))
    with pytest.raises(RemoteRejected, match="accusé de réception"):
        await s2low.actes.cancel(result.remote_id)


async def test_prefecture_letter_fetch_mark_read_and_answer(
    s2low: S2lowClient, sandbox: Sandbox, pdf: Path
) -> None:
    result = await s2low.actes.submit_acte(deliberation("DEL2024_018", pdf))
    await s2low.actes.status(result.remote_id)
    letter_id = await sandbox.post_letter(result.remote_id, kind=3)

    [doc] = await s2low.actes.list_prefecture_documents()
    assert (doc.id, doc.type, doc.related_transaction_id) == (letter_id, 3, result.remote_id)
    assert doc.unique_id == "044-214400152-20240507-DEL2024_018-DE"
    assert doc.last_status_id == 7

    archive = await s2low.actes.fetch_prefecture_document(doc.id)
    package = open_package(archive, check_schema=False)
    assert [m.type for m in package.messages] == ["DemandePieceComplementaire"]
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        assert any(name.endswith(".pdf") for name in tar.getnames())

    await s2low.actes.mark_document_read(doc.id)
    assert await s2low.actes.list_prefecture_documents() == []

    answer_id = await s2low.actes.answer(PrefectureAnswer(doc.id, 4, "99_DE", Attachment("pieces.pdf", pdf)))
    assert (await s2low.actes.status(answer_id)).code == 11
    assert (await s2low.actes.status(doc.id)).code == 8
    assert [r.endpoint for r in sandbox.received()] == ["actes", "actes-reponse"]


async def test_budget_act_with_a_broken_seal_gets_an_anomaly(
    s2low: S2lowClient, refdata: Path, pdf: Path
) -> None:
    tampered = refdata / "totem/yatotem2scdl/data_alamarge/mauvais_totem.xml"
    submission = deliberation(
        "BP2022_BIS",
        pdf,
        nature_code=5,
        subject="Budget primitif 2022",
        classification=("7", "1"),
        type_acte="99_BU",
        acte=Attachment("totem.xml", tampered),
        annexes=(Attachment("deliberation.pdf", pdf, type_pj="70_DE"),),
    )
    result = await s2low.actes.submit_acte(submission)
    status = await s2low.actes.status(result.remote_id)
    assert status.code == -1
    assert "scellement" in status.message
