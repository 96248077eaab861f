"""The as@lae client against the sandbox's as@lae, over TLS: the bordereau and the files as a
tar.gz in one request or in chunks, the acknowledgement then the transfer reply (SEDA numeric
codes), a duplicate, a wrong password, an as@lae that cannot take chunks, the lookup."""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.transport.sae_samples import AGREEMENT, COMMUNE, build_sip, spoil

from demat.archive import read_reply
from demat.errors import DuplicateSubmission, ProtocolError, RemoteRejected
from demat.sandbox import SandboxPKI
from demat.sandbox.asalae import AsalaeConfig, AsalaeSandbox
from demat.transport import ClientTLS, RetryPolicy
from demat.transport.asalae import AsalaeService, AsalaeStep, message_path
from demat.transport.protocol import Lookup, SipTransfer, TransferRef
from demat.transport.sip import split_for_asalae

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
MESSAGE = "DEMAT-t-0001"


@pytest.fixture
async def asalae(pki: SandboxPKI) -> AsyncIterator[AsalaeSandbox]:
    config = AsalaeConfig(agreements=frozenset({AGREEMENT}), originating_agencies=frozenset({COMMUNE}))
    async with AsalaeSandbox.start(config, pki=pki) as sb:
        yield sb


def service(sb: AsalaeSandbox, **kw: object) -> AsalaeService:
    options: dict[str, object] = {"login": "versant", "password": "secret", "retry": FAST, **kw}
    return AsalaeService(sb.url, ClientTLS(ca_bundle=sb.ca_path), **options)  # type: ignore[arg-type]


def transfer(sip: Path) -> SipTransfer:
    return SipTransfer(sip, MESSAGE, COMMUNE, "session-1")


REF = TransferRef(MESSAGE, MESSAGE, COMMUNE)


@pytest.mark.parametrize("chunk_size", [0, 1500])
async def test_a_transfer_is_acknowledged_then_accepted(
    asalae: AsalaeSandbox, tmp_path: Path, chunk_size: int
) -> None:
    sip = build_sip(tmp_path / "sip.zip", extra=6000)
    svc = service(asalae, chunk_size=chunk_size)
    try:
        answer = await svc.transfer(transfer(sip))
        progress = await svc.progress(REF)
    finally:
        await svc.close()
    assert answer.remote_id == MESSAGE and answer.reply is None
    assert (asalae.app.posts, asalae.app.chunk_posts > 1) == (1, bool(chunk_size))
    assert progress.status.code == AsalaeStep.REPLIED and progress.acknowledgement and progress.reply
    ack, reply = read_reply(progress.acknowledgement), read_reply(progress.reply)
    assert (ack.kind, ack.accepted, ack.message_request_identifier) == ("Acknowledgement", None, MESSAGE)
    assert (reply.reply_code, reply.accepted, reply.message_request_identifier) == ("000", True, MESSAGE)
    assert reply.system_ids  # the archive's identifier of the unit


async def test_the_acknowledgement_comes_before_the_reply(pki: SandboxPKI, tmp_path: Path) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    async with AsalaeSandbox.start(AsalaeConfig(ack_delay=0.2, reply_delay=0.4), pki=pki) as sb:
        svc = service(sb)
        try:
            await svc.transfer(transfer(sip))
            steps = [await svc.progress(REF)]
            sb.transfers[COMMUNE, MESSAGE].received -= 0.25
            steps.append(await svc.progress(REF))
            sb.transfers[COMMUNE, MESSAGE].received -= 0.25
            steps.append(await svc.progress(REF))
        finally:
            await svc.close()
    assert [s.status.code for s in steps] == [
        AsalaeStep.RECEIVED,
        AsalaeStep.ACKNOWLEDGED,
        AsalaeStep.REPLIED,
    ]
    assert steps[0].acknowledgement is None and steps[1].acknowledgement and steps[1].reply is None


@pytest.mark.parametrize(("case", "code"), [("digest", "207"), ("agreement", "203")])
async def test_a_refusal_carries_the_seda_reply_code(
    asalae: AsalaeSandbox, tmp_path: Path, case: str, code: str
) -> None:
    sip = build_sip(tmp_path / "sip.zip", agreement="IC-AUTRE" if case == "agreement" else AGREEMENT)
    if case == "digest":
        sip = spoil(sip, tmp_path / "bad.zip")
    svc = service(asalae)
    try:
        await svc.transfer(transfer(sip))
        progress = await svc.progress(REF)
    finally:
        await svc.close()
    assert progress.reply is not None
    reply = read_reply(progress.reply)
    assert (reply.reply_code, reply.accepted) == (code, False)
    assert reply.reason.startswith(code)


async def test_the_same_message_twice_is_a_duplicate_naming_the_earlier_one(
    asalae: AsalaeSandbox, tmp_path: Path
) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    svc = service(asalae)
    try:
        await svc.transfer(transfer(sip))
        with pytest.raises(DuplicateSubmission) as raised:
            await svc.transfer(transfer(sip))
    finally:
        await svc.close()
    assert raised.value.existing_id == MESSAGE and len(asalae.transfers) == 1


async def test_a_wrong_password_is_refused(asalae: AsalaeSandbox, tmp_path: Path) -> None:
    svc = service(asalae, password="wrong")
    try:
        with pytest.raises(RemoteRejected) as raised:
            await svc.transfer(transfer(build_sip(tmp_path / "sip.zip")))
    finally:
        await svc.close()
    assert raised.value.code == "HTTP_401" and not asalae.transfers


async def test_an_asalae_without_chunks_says_so(pki: SandboxPKI, tmp_path: Path) -> None:
    async with AsalaeSandbox.start(AsalaeConfig(chunks=False), pki=pki) as sb:
        svc = service(sb, chunk_size=100)
        try:
            with pytest.raises(ProtocolError) as raised:
                await svc.transfer(transfer(build_sip(tmp_path / "sip.zip", extra=1000)))
        finally:
            await svc.close()
    assert raised.value.code == "ASALAE_NO_CHUNKS"


async def test_the_lookup_is_the_acknowledgement(asalae: AsalaeSandbox, tmp_path: Path) -> None:
    sip = build_sip(tmp_path / "sip.zip")
    svc = service(asalae)
    try:
        before = await svc.find_transfer(transfer(sip))
        await svc.transfer(transfer(sip))
        after = await svc.find_transfer(transfer(sip))
    finally:
        await svc.close()
    assert before.outcome is Lookup.ABSENT
    assert (after.outcome, after.remote_id) == (Lookup.FOUND, MESSAGE)


def test_the_files_travel_as_a_tar_gz_beside_the_bordereau(tmp_path: Path) -> None:
    sip = build_sip(tmp_path / "sip.zip", extra=300)
    manifest, first = split_for_asalae(sip, tmp_path)
    _, second = split_for_asalae(sip, tmp_path)
    assert first.read_bytes() == second.read_bytes()  # the same SIP gives the same archive
    with zipfile.ZipFile(sip) as z, tarfile.open(first) as tar:
        assert manifest == z.read("manifest.xml")
        assert sorted(m.name for m in tar.getmembers()) == sorted(
            n for n in z.namelist() if n != "manifest.xml"
        )


def test_message_paths_quote_what_they_carry() -> None:
    path = message_path("Acknowledgement", "FR/44 x", "DEMAT-1")
    assert path.endswith("originOrganizationIdentification:FR%2F44%20x/originMessageIdentifier:DEMAT-1")
