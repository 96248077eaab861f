"""Client credentials that cannot be loaded are a configuration error found before anything is
sent: :class:`~demat.errors.CredentialsError`, whose class says nothing left the machine, so a
transmission whose platform cannot be opened goes back to ``accepted`` (not ``unknown``) and is
sent once the password is fixed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from demat.config import PlatformAccount
from demat.demo import demo_pes, sandbox_settings
from demat.errors import ConfigError, CredentialsError
from demat.gateway import Gateway
from demat.sandbox import Sandbox, SandboxPKI
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.tracking import Schedule, State
from demat.transport.registry import open_platform
from demat.transport.tls import ClientTLS, client_context, read_password, tls_from_account

from .test_transport_tls import client_p12

PASSWORD_ENV = "DEMAT_TEST_CLIENT_P12_PASSWORD"
FAST = Schedule([(0.01, 400)], jitter=0.0, error_base=0.01, error_cap=0.05)


def _encrypted_key(pki: SandboxPKI, target: Path, password: bytes) -> Path:
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), None)
    target.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
    )
    return target


def _refused(tls: ClientTLS) -> CredentialsError:
    with pytest.raises(CredentialsError) as caught:
        client_context(tls)
    error = caught.value
    assert isinstance(error, ConfigError)  # exit 2, as any configuration error
    assert error.certainly_not_sent and not error.retryable
    return error


def test_a_wrong_pkcs12_password(pki: SandboxPKI, tmp_path: Path) -> None:
    p12 = client_p12(pki, tmp_path / "client.p12", b"right")
    assert "wrong password" in _refused(ClientTLS(p12=p12, password=b"wrong")).message


def test_a_wrong_pem_key_password(pki: SandboxPKI, tmp_path: Path) -> None:
    key = _encrypted_key(pki, tmp_path / "client.key", b"right")
    _refused(ClientTLS(cert=pki.client_cert, key=key, password=b"wrong"))


@pytest.mark.parametrize("which", ["p12", "key", "cert"])
def test_an_unreadable_or_missing_file(pki: SandboxPKI, tmp_path: Path, which: str) -> None:
    folder = tmp_path / "a-folder"  # unreadable as a file, even for root
    folder.mkdir()
    tls = {
        "p12": ClientTLS(p12=folder),
        "key": ClientTLS(cert=pki.client_cert, key=folder),
        "cert": ClientTLS(cert=tmp_path / "missing.pem", key=pki.client_key),
    }[which]
    _refused(tls)


def test_a_password_variable_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEMAT_NOT_SET", raising=False)
    with pytest.raises(CredentialsError, match="DEMAT_NOT_SET"):
        read_password(env="DEMAT_NOT_SET")
    account = PlatformAccount(
        url="https://s2low.example.org", login="ville", login_password_env="DEMAT_NOT_SET"
    )
    with pytest.raises(CredentialsError, match="DEMAT_NOT_SET"):
        open_platform(account)


def test_the_platform_is_checked_when_it_opens(
    pki: SandboxPKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p12 = client_p12(pki, tmp_path / "client.p12", b"right")
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    account = PlatformAccount(url="https://s2low.example.org", client_p12=p12, password_env=PASSWORD_ENV)
    with pytest.raises(CredentialsError, match="PKCS#12"):
        open_platform(account)
    monkeypatch.setenv(PASSWORD_ENV, "right")
    assert tls_from_account(account).password == b"right"
    open_platform(account)


# -- through the gateway and the poller ----------------------------------------------------------


@pytest.fixture
async def gateway(
    sandbox: Sandbox, pki: SandboxPKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Gateway]:
    settings = sandbox_settings(sandbox, tmp_path / "state")
    p12 = client_p12(pki, tmp_path / "client.p12", b"right")
    account = settings.platforms["sandbox"].model_copy(
        update={"client_cert": None, "client_key": None, "client_p12": p12, "password_env": PASSWORD_ENV}
    )
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    async with Gateway.open(
        settings.model_copy(update={"platforms": {"sandbox": account}}), schedule=FAST
    ) as gw:
        yield gw


async def test_a_key_that_cannot_be_loaded_leaves_the_document_accepted_until_it_can(
    gateway: Gateway, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = devpki.make_ca()
    leaf = devpki.issue(ca, "Ordonnateur", kind="signing")
    sent = await gateway.send_pes(demo_pes(Signer(leaf.key, leaf.cert, (ca.cert,)), seed=1), profile="demo")
    tid = sent.transmission.id

    await gateway.poll_once()
    t = await gateway.store.get(tid)
    assert t.state is State.ACCEPTED  # not UNKNOWN: nothing left the machine
    assert "PKCS#12" in (t.last_error or "")
    assert [e.event for e in await gateway.store.journal(tid)] == ["recorded", "send_started", "not_sent"]
    assert sandbox.received("helios") == []

    monkeypatch.setenv(PASSWORD_ENV, "right")  # the operator fixes the password
    [done] = await gateway.wait([tid], timeout=30)
    assert done.state is State.ACKNOWLEDGED
    assert len(sandbox.received("helios")) == 1
    assert (await gateway.store.verify_journal()).ok
