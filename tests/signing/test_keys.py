"""Loading signing keys: PEM (plain or encrypted), PKCS#12, profile config; clear errors, no secret leaks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from demat.config import SignerConfig
from demat.errors import ConfigError
from demat.gateway.identity import load_signer
from demat.signing import devpki
from demat.signing.keys import Signer, load_signer_files, signer_from_pem, signer_from_pkcs12

SECRET = b"s3cr3t-Mot-de-passe"


def test_plain_pem(pki: dict[str, devpki.Issued]) -> None:
    issued = pki["signer"]
    s = signer_from_pem(issued.key_pem(), issued.cert_pem())
    assert s.cert == issued.cert
    assert s.chain == ()


def test_cert_file_with_chain_in_any_order(pki: dict[str, devpki.Issued]) -> None:
    issued = pki["signer"]
    bundle = pki["ca"].cert_pem() + issued.cert_pem()
    s = signer_from_pem(issued.key_pem(), bundle)
    assert s.cert == issued.cert
    assert s.chain == (pki["ca"].cert,)


def test_encrypted_pem_and_wrong_password(
    tmp_path: Path, pki: dict[str, devpki.Issued], caplog: pytest.LogCaptureFixture
) -> None:
    issued = pki["signer"]
    key_path, cert_path = issued.write(tmp_path, "signer", password=SECRET)
    caplog.set_level(logging.DEBUG)
    s = load_signer_files(key=key_path, cert=cert_path, password=SECRET)
    assert s.cert == issued.cert
    with pytest.raises(ConfigError) as err:
        load_signer_files(key=key_path, cert=cert_path, password=b"wrong-password")
    assert err.value.code == "KEY_PASSWORD"
    assert "wrong-password" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_signer_files(key=key_path, cert=cert_path, password=None)
    assert "password is needed" in str(err.value)
    assert SECRET.decode() not in caplog.text
    assert SECRET.decode() not in repr(s)


def test_pkcs12_with_chain_and_wrong_password(pki: dict[str, devpki.Issued]) -> None:
    issued = pki["signer"]
    p12 = issued.p12(SECRET)
    s = signer_from_pkcs12(p12, SECRET)
    assert s.cert == issued.cert
    assert s.chain == (pki["ca"].cert,)
    with pytest.raises(ConfigError) as err:
        signer_from_pkcs12(p12, b"nope")
    assert err.value.code == "KEY_PASSWORD"
    assert SECRET.decode() not in str(err.value)
    assert "nope" not in str(err.value)


def test_key_that_does_not_match_the_certificate(pki: dict[str, devpki.Issued]) -> None:
    other = devpki.issue(pki["ca"], "Quelqu'un d'autre")
    with pytest.raises(ConfigError) as err:
        signer_from_pem(other.key_pem(), pki["signer"].cert_pem())
    assert err.value.code == "KEY_CERT_MISMATCH"
    with pytest.raises(ConfigError):
        Signer(other.key, pki["signer"].cert)


def test_garbage_inputs(pki: dict[str, devpki.Issued]) -> None:
    with pytest.raises(ConfigError):
        signer_from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", b"")
    with pytest.raises(ConfigError):
        signer_from_pem(pki["signer"].key_pem(), b"not a cert")
    with pytest.raises(ConfigError):
        signer_from_pkcs12(b"not a p12", None)


def test_from_profile_config(
    tmp_path: Path, pki: dict[str, devpki.Issued], monkeypatch: pytest.MonkeyPatch
) -> None:
    p12 = tmp_path / "signer.p12"
    p12.write_bytes(pki["signer"].p12(SECRET))
    monkeypatch.setenv("DEMAT_TEST_P12_PW", SECRET.decode())
    s = load_signer(SignerConfig(p12=p12, password_env="DEMAT_TEST_P12_PW"))
    assert s.cert == pki["signer"].cert
    monkeypatch.delenv("DEMAT_TEST_P12_PW")
    with pytest.raises(ConfigError):
        load_signer(SignerConfig(p12=p12, password_env="DEMAT_TEST_P12_PW"))
    with pytest.raises(ConfigError):
        load_signer(SignerConfig(key=tmp_path / "missing.pem", cert=tmp_path / "missing.crt"))
    with pytest.raises(ConfigError):
        load_signer(SignerConfig())
