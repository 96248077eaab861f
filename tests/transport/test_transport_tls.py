"""Mutual TLS and authentication between the S²LOW client and the sandbox."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from demat.config import PlatformAccount
from demat.errors import ConfigError, RemoteRejected, TLSError
from demat.sandbox import Account, Sandbox, SandboxConfig, SandboxPKI
from demat.signing.devpki import Issued
from demat.transport import ClientTLS, Credentials, RetryPolicy, S2lowClient
from demat.transport.tls import client_context, read_password, tls_from_account

from .conftest import client_tls

NO_RETRY = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> SandboxPKI:
    """Another CA with its own client certificate: the sandbox must not trust it."""
    return SandboxPKI.create(tmp_path_factory.mktemp("foreign"))


async def test_client_certificate_from_another_ca_is_refused(sandbox: Sandbox, foreign: SandboxPKI) -> None:
    tls = ClientTLS(cert=foreign.client_cert, key=foreign.client_key, ca_bundle=sandbox.ca_path)
    async with S2lowClient(sandbox.url, tls, retry=NO_RETRY) as client:
        with pytest.raises(TLSError) as caught:
            await client.test_connection()
    assert not caught.value.retryable


async def test_missing_client_certificate_is_refused(sandbox: Sandbox) -> None:
    async with S2lowClient(sandbox.url, ClientTLS(ca_bundle=sandbox.ca_path), retry=NO_RETRY) as client:
        with pytest.raises(TLSError):
            await client.helios.list_retours()


async def test_untrusted_server_certificate_is_refused(sandbox: Sandbox, foreign: SandboxPKI) -> None:
    cert, key = sandbox.client_cert_paths()
    tls = ClientTLS(cert=cert, key=key, ca_bundle=foreign.ca_cert)
    async with S2lowClient(sandbox.url, tls, retry=NO_RETRY) as client:
        with pytest.raises(TLSError) as caught:
            await client.test_connection()
    assert caught.value.code == "TLS_SERVER_CERT"


async def test_system_trust_store_does_not_trust_the_sandbox(sandbox: Sandbox) -> None:
    cert, key = sandbox.client_cert_paths()
    async with S2lowClient(sandbox.url, ClientTLS(cert=cert, key=key), retry=NO_RETRY) as client:
        with pytest.raises(TLSError):
            await client.test_connection()


def client_p12(pki: SandboxPKI, target: Path, password: bytes) -> Path:
    """The sandbox's client identity as a PKCS#12 file."""
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), None)
    cert = x509.load_pem_x509_certificate(pki.client_cert.read_bytes())
    target.write_bytes(Issued(key, cert).p12(password))  # type: ignore[arg-type]
    return target


async def test_pkcs12_client_identity_with_password_from_env(
    sandbox: Sandbox, pki: SandboxPKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p12 = client_p12(pki, tmp_path / "client.p12", b"s3cret")
    monkeypatch.setenv("DEMAT_TEST_P12_PASSWORD", "s3cret")
    account = PlatformAccount(
        url=sandbox.url, client_p12=p12, password_env="DEMAT_TEST_P12_PASSWORD", ca_bundle=sandbox.ca_path
    )
    async with S2lowClient(sandbox.url, tls_from_account(account)) as client:
        await client.test_connection()


def test_wrong_pkcs12_password_is_a_config_error(pki: SandboxPKI, tmp_path: Path) -> None:
    p12 = client_p12(pki, tmp_path / "client.p12", b"right")
    with pytest.raises(ConfigError, match="PKCS#12"):
        client_context(ClientTLS(p12=p12, password=b"wrong"))


def test_password_env_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMAT_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="DEMAT_NOT_SET"):
        read_password(env="DEMAT_NOT_SET")


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CA bundle"):
        client_context(ClientTLS(ca_bundle=tmp_path / "nope.pem"))


async def test_tls12_can_be_forced(sandbox: Sandbox) -> None:
    async with S2lowClient(sandbox.url, client_tls(sandbox, force_tls12=True)) as client:
        await client.test_connection()
    assert sandbox.app.tls_versions == {"TLSv1.2"}


async def test_encrypted_pem_key(sandbox: Sandbox, pki: SandboxPKI, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), None)
    encrypted = tmp_path / "client.key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    tls = ClientTLS(cert=pki.client_cert, key=encrypted, password=b"pw", ca_bundle=sandbox.ca_path)
    async with S2lowClient(sandbox.url, tls) as client:
        await client.test_connection()


@pytest.fixture
async def guarded(pki: SandboxPKI) -> AsyncIterator[Sandbox]:
    """A sandbox whose account also needs a login and password (one certificate, several accounts)."""
    config = SandboxConfig(pki=pki, account=Account(login="mairie", password="mot de passe"))
    async with Sandbox.start(config) as sb:
        yield sb


@pytest.mark.parametrize("method", ["basic", "nonce"])
async def test_login_and_password(guarded: Sandbox, method: str) -> None:
    good = Credentials("mairie", "mot de passe", method=method)
    async with S2lowClient(guarded.url, client_tls(guarded), credentials=good) as client:
        await client.test_connection()
        assert await client.helios.list_retours() == []
    bad = dataclasses.replace(good, password="faux")
    async with S2lowClient(guarded.url, client_tls(guarded), credentials=bad) as client:
        with pytest.raises(RemoteRejected) as caught:
            await client.test_connection()
    assert caught.value.code == "HTTP_403"


async def test_certificate_alone_is_not_enough_when_a_login_is_required(guarded: Sandbox) -> None:
    async with S2lowClient(guarded.url, client_tls(guarded)) as client:
        with pytest.raises(RemoteRejected):
            await client.test_connection()
