"""The Vitam client against the sandbox's Vitam, over mutual TLS: a 202 is only a receipt, the
operation's state and status are polled by HEAD, the reply fetched; a 503 that carries a KO
reply, a 500 with a JSON VitamError, a malformed or unknown operation id; the lookup through
the operation logbook; a real Vitam SIP from the reference data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.transport.sae_samples import AGREEMENT, COMMUNE, build_sip, rezip_without_manifest, spoil

from demat.archive import read_reply
from demat.errors import PackagingError, ProtocolError, RemoteRejected, ServerError
from demat.sandbox import SandboxPKI
from demat.sandbox.vitam import VitamConfig, VitamSandbox, judge
from demat.tracking.states import Event
from demat.transport import ClientTLS, RetryPolicy
from demat.transport.protocol import (
    ArchiveTransferLookup,
    ArchiveTransferPlatform,
    Lookup,
    SipTransfer,
    TransferRef,
)
from demat.transport.sip import manifest_sha512
from demat.transport.vitam import STATUSES, VitamService, operation_status

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


@pytest.fixture
async def vitam(pki: SandboxPKI) -> AsyncIterator[VitamSandbox]:
    async with VitamSandbox.start(
        VitamConfig(contracts=frozenset({AGREEMENT, "ArchivalAgreement0"})), pki=pki
    ) as sb:
        yield sb


def service(sb: VitamSandbox, **kw: object) -> VitamService:
    cert, key = sb.client_cert_paths()
    options: dict[str, object] = {"tenant": 0, "access_contract": "AC-DEMAT", "retry": FAST, **kw}
    return VitamService(sb.url, ClientTLS(cert=cert, key=key, ca_bundle=sb.ca_path), **options)  # type: ignore[arg-type]


def transfer(sip: Path, session: str = "session-1") -> SipTransfer:
    return SipTransfer(sip, "DEMAT-t-0001", COMMUNE, session)


async def until_replied(svc: VitamService, ref: TransferRef) -> tuple[list[int], bytes]:
    codes: list[int] = []
    for _ in range(200):
        progress = await svc.progress(ref)
        codes.append(progress.status.code)
        if progress.reply is not None:
            return codes, progress.reply
        await asyncio.sleep(0.02)
    raise AssertionError(f"no reply: {codes}")


async def test_a_202_is_a_receipt_then_head_polling_then_the_reply(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    svc = service(vitam)
    assert isinstance(svc, ArchiveTransferPlatform) and isinstance(svc, ArchiveTransferLookup)
    vitam.app.config = VitamConfig(contracts=frozenset({AGREEMENT}), delay=0.3)
    try:
        answer = await svc.transfer(transfer(sip))
        assert answer.remote_id is not None and answer.reply is None  # 202: stored, nothing checked
        op = vitam.operations[answer.remote_id]
        # What the client said: the workflow, its own id for the transfer (evIdAppSession).
        assert (op.context, op.session, op.tenant) == ("DEFAULT_WORKFLOW", "session-1", 0)
        codes, reply = await until_replied(svc, TransferRef(answer.remote_id, "DEMAT-t-0001", COMMUNE))
    finally:
        await svc.close()
    assert codes[0] in (10, 21) and codes[-1] == 32  # PAUSE/UNKNOWN or RUNNING/STARTED, then COMPLETED/OK
    read = read_reply(reply)
    assert (read.kind, read.reply_code, read.accepted) == ("ArchiveTransferReply", "OK", True)
    assert read.message_request_identifier == "DEMAT-t-0001"
    assert read.system_ids and read.grant_date  # every unit mapped to its Vitam id
    assert b"seda:v2.2" in reply  # the reply follows the SIP's SEDA version


async def test_a_real_vitam_sip_is_ingested(vitam: VitamSandbox, refdata: Path) -> None:
    sip = refdata / "seda" / "samples" / "vitam" / "SIP-ingest-internal-ok.zip"
    svc = service(vitam)
    try:
        answer = await svc.transfer(SipTransfer(sip, "vitam", "FRAN_NP_005568", "s-ref"))
        assert answer.remote_id
        _, reply = await until_replied(svc, TransferRef(answer.remote_id, "vitam", "FRAN_NP_005568"))
    finally:
        await svc.close()
    read = read_reply(reply)
    assert read.accepted is True and read.message_request_identifier == "vitam" and b"seda:v2.1" in reply


@pytest.mark.parametrize(
    ("spoiler", "step"),
    [
        ("digest", "CHECK_DIGEST"),
        ("agreement", "CHECK_HEADER.CHECK_CONTRACT_INGEST"),
    ],
)
async def test_a_ko_reply_says_which_step_failed(
    vitam: VitamSandbox, tmp_path: Path, spoiler: str, step: str
) -> None:
    good = build_sip(tmp_path / "good.zip", agreement="IC-INCONNU" if spoiler == "agreement" else AGREEMENT)
    sip = spoil(good, tmp_path / "bad.zip") if spoiler == "digest" else good
    svc = service(vitam)
    try:
        answer = await svc.transfer(transfer(sip))
        assert answer.remote_id and answer.reply is None  # Vitam checks after its 202
        codes, reply = await until_replied(svc, TransferRef(answer.remote_id, "DEMAT-t-0001", COMMUNE))
    finally:
        await svc.close()
    assert codes[-1] == 34  # COMPLETED/KO
    read = read_reply(reply)
    assert read.accepted is False and read.reply_code == "KO"
    assert step in read.reason
    assert b"<ArchivalAgency>" not in reply  # Vitam's KO replies name no agencies


async def test_a_sip_without_manifest_at_its_root(vitam: VitamSandbox, tmp_path: Path) -> None:
    sip = rezip_without_manifest(build_sip(tmp_path / "good.zip", version="2.3"), tmp_path / "bad.zip")
    svc = service(vitam)
    try:
        with pytest.raises(PackagingError):  # the client cannot announce its digest: nothing sent
            await svc.transfer(transfer(sip))
    finally:
        await svc.close()
    assert not vitam.app.posts
    verdict = judge(sip, "DEFAULT_WORKFLOW", None)  # what Vitam would answer all the same
    assert verdict.status == "KO" and "MANIFEST_FILE_NAME_CHECK" in read_reply(verdict.reply).reason
    assert b"seda:v2.2" in verdict.reply  # failed before the SIP's version was known: 2.2


async def test_an_unknown_workflow_is_a_503_whose_body_is_a_ko_reply(
    vitam: VitamSandbox, tmp_path: Path
) -> None:
    svc = service(vitam, context_id="NO_SUCH_WORKFLOW")
    try:
        answer = await svc.transfer(transfer(build_sip(tmp_path / "sip.zip")))
    finally:
        await svc.close()
    assert answer.reply is not None and answer.remote_id  # refused at once, with Vitam's request id
    read = read_reply(answer.reply)
    assert (read.accepted, read.message_request_identifier, read.archival_agency) == (False, None, None)
    assert "STP_UPLOAD_SIP" in read.reason and b"seda:v2.1" in answer.reply
    assert not vitam.operations  # no ingest was started


async def test_a_500_carries_a_vitam_error_that_the_error_keeps(vitam: VitamSandbox, tmp_path: Path) -> None:
    vitam.app.server_errors = 1
    svc = service(vitam)
    try:
        with pytest.raises(ServerError) as raised:
            await svc.transfer(transfer(build_sip(tmp_path / "sip.zip")))
    finally:
        await svc.close()
    assert raised.value.code == "VITAM_040105" and "téléchargement" in raised.value.message
    # A 5xx is worth trying again, but does not prove Vitam kept nothing: reconcile first.
    assert raised.value.retryable and not raised.value.certainly_not_sent


async def test_head_answers_the_code_really_returns(vitam: VitamSandbox) -> None:
    svc = service(vitam)
    try:
        malformed = await svc.progress(TransferRef("not-an-id", "m", "o"))
        with pytest.raises(ProtocolError) as unknown:
            await svc.progress(TransferRef("a" * 36, "m", "o"))
    finally:
        await svc.close()
    assert malformed.status.code == 412 and malformed.status.event is Event.FAILED
    assert unknown.value.code == "VITAM_UNKNOWN_OPERATION"


async def test_a_tenant_vitam_does_not_serve_is_refused(vitam: VitamSandbox, tmp_path: Path) -> None:
    svc = service(vitam, tenant=7)
    try:
        with pytest.raises(RemoteRejected) as raised:
            await svc.transfer(transfer(build_sip(tmp_path / "sip.zip")))
    finally:
        await svc.close()
    assert raised.value.code == "HTTP_401"


async def test_the_lookup_reads_the_operation_logbook(vitam: VitamSandbox, tmp_path: Path) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    svc, blind = service(vitam), service(vitam, access_contract=None)
    try:
        answer = await svc.transfer(transfer(sip, "tx-42"))
        found = await svc.find_transfer(transfer(sip, "tx-42"))
        absent = await svc.find_transfer(transfer(sip, "tx-43"))
        cannot = await blind.find_transfer(transfer(sip, "tx-42"))
    finally:
        await svc.close()
        await blind.close()
    assert (found.outcome, found.remote_id) == (Lookup.FOUND, answer.remote_id)
    assert absent.outcome is Lookup.ABSENT
    assert cannot.outcome is Lookup.UNKNOWN  # no access contract: a person must look


async def test_blank_test_replies_are_marked_as_tests(vitam: VitamSandbox, tmp_path: Path) -> None:
    svc = service(vitam, context_id="BLANK_TEST")
    try:
        answer = await svc.transfer(transfer(build_sip(tmp_path / "sip.zip")))
        assert answer.remote_id
        _, reply = await until_replied(svc, TransferRef(answer.remote_id, "DEMAT-t-0001", COMMUNE))
    finally:
        await svc.close()
    read = read_reply(reply)
    assert read.reply_code == "Test OK" and read.test and read.grant_date is None


def test_the_sandbox_checks_the_announced_manifest_digest(tmp_path: Path) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    assert judge(sip, "DEFAULT_WORKFLOW", manifest_sha512(sip)).status == "OK"
    wrong = judge(sip, "DEFAULT_WORKFLOW", "0" * 128)
    assert wrong.status == "KO" and "MANIFEST_DIGEST_CHECK" in read_reply(wrong.reply).reason


def test_every_state_and_status_has_one_meaning() -> None:
    assert len(STATUSES) == 18 and len({s.code for s in STATUSES.values()}) == 18
    completed = [s for (state, _), s in STATUSES.items() if state.name == "COMPLETED"]
    assert all(s.fetch == "reply" for s in completed)  # only the reply decides
    assert all(s.event is Event.PROGRESS for s in STATUSES.values())  # never "archived" on a status
    assert operation_status("RUNNING", "STARTED") is not None
    assert operation_status("DONE", "OK") is None and operation_status(None, "OK") is None
