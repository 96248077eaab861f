"""RFC 3161 tokens checked at issuance and later; package seals (CMS + timestamp)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket

import pytest
from aiohttp import web

from demat.archive.seal import PackageSeal, seal_package, verify_seal
from demat.archive.timestamp import TsaTrust, timestamp, verify_token
from demat.errors import TimestampError
from demat.sandbox.tsa import SandboxTSA
from demat.signing.devpki import issue, make_ca
from demat.signing.keys import Signer
from demat.storage.tsa import HttpTimestamper

UTC = dt.UTC


@pytest.fixture(scope="module")
def tsa() -> SandboxTSA:
    return SandboxTSA.create()


@pytest.fixture(scope="module")
def signer() -> Signer:
    ca = make_ca("Commune CA")
    leaf = issue(ca, "Ordonnateur de la commune")
    return Signer(leaf.key, leaf.cert, leaf.chain)


def test_token_checked_at_issuance_and_later(tsa: SandboxTSA) -> None:
    token = timestamp(b"manifest digest", tsa, tsa.trust)
    assert token.tsa.startswith("CN=demat sandbox TSA")
    assert verify_token(token.response, b"manifest digest", tsa.trust).serial == token.serial
    with pytest.raises(TimestampError, match="Mismatch"):
        verify_token(token.response, b"another digest", tsa.trust)
    with pytest.raises(TimestampError, match="issuer"):
        verify_token(token.response, b"manifest digest", SandboxTSA.create().trust)
    with pytest.raises(TimestampError, match="RFC 3161"):
        verify_token(b"\x30\x03garbage", b"x", tsa.trust)


@pytest.mark.parametrize(("fault", "message"), [("drop_nonce", "nonce"), ("wrong_imprint", "Mismatch")])
def test_a_bad_token_is_refused_when_issued(fault: str, message: str) -> None:
    bad = SandboxTSA.create()
    setattr(bad.faults, fault, True)
    with pytest.raises(TimestampError, match=message):
        timestamp(b"x", bad, bad.trust)


def test_chain_is_checked_at_gen_time() -> None:
    year = dt.datetime(2020, 1, 1, tzinfo=UTC)
    old = SandboxTSA.create(
        fixed_time=dt.datetime(2020, 6, 1, tzinfo=UTC), not_before=year, not_after=year.replace(year=2021)
    )
    token = timestamp(b"x", old, old.trust)  # the TSA certificate expired since: still good
    assert token.gen_time == dt.datetime(2020, 6, 1, tzinfo=UTC)
    old.fixed_time = dt.datetime(2022, 6, 1, tzinfo=UTC)  # dated after the certificate's end
    with pytest.raises(TimestampError, match="expired"):
        timestamp(b"x", old, old.trust)


def test_trust_from_pem(tsa: SandboxTSA) -> None:
    trust = TsaTrust.from_pem(tsa.trust_pem())
    assert trust.roots == tsa.trust.roots
    with pytest.raises(TimestampError, match="root"):
        TsaTrust.from_pem(tsa.tsa.cert_pem())


async def test_http_tsa_on_loopback(tsa: SandboxTSA) -> None:
    runner = web.AppRunner(tsa.app())
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        from demat.archive.timestamp import accept_response, timestamp_request

        pending = timestamp_request(b"over http")
        reply = await HttpTimestamper(f"http://127.0.0.1:{port}/tsa")(pending.request)
        assert accept_response(pending, reply, tsa.trust).gen_time
    finally:
        await runner.cleanup()


def test_seal_signed_and_timestamped(tsa: SandboxTSA, signer: Signer) -> None:
    manifest = b"<ArchiveTransfer/>"
    seal = seal_package(manifest, signer=signer, timestamper=tsa, trust=tsa.trust)
    assert seal.signer is not None and "Ordonnateur" in seal.signer
    assert verify_seal(seal, manifest, tsa.trust) == []
    assert verify_seal(PackageSeal.from_json(seal.to_json()), manifest, tsa.trust) == []
    altered = verify_seal(seal, b"<ArchiveTransfer />", tsa.trust)
    assert any("couvre le manifeste" in p for p in altered) and any("signature" in p for p in altered)


def test_seal_without_key_and_a_replaced_timestamp(tsa: SandboxTSA, signer: Signer) -> None:
    manifest = b"<ArchiveTransfer/>"
    seal = seal_package(manifest, signer=None, timestamper=tsa, trust=tsa.trust)
    assert seal.signature is None and verify_seal(seal, manifest, tsa.trust) == []
    other = seal_package(b"<other/>", signer=None, timestamper=tsa, trust=tsa.trust)
    swapped = dataclasses.replace(seal, token=other.token)
    assert verify_seal(swapped, manifest, tsa.trust) == [
        "horodatage : timestamp token refused: Mismatch between messages"
    ]
    signed = seal_package(manifest, signer=signer, timestamper=tsa, trust=tsa.trust)
    forged = dataclasses.replace(signed, signature=signed.signature[:-1] + bytes([signed.signature[-1] ^ 1]))  # type: ignore[index]
    assert any(p.startswith("signature") for p in verify_seal(forged, manifest, tsa.trust))
