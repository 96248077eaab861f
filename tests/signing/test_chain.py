"""Certificate checks at signing time and chain to a trust directory."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from demat.errors import ConfigError
from demat.pes.sign import pes_sign_options, sign_pes, verify_pes
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.signing.trust import TrustStore

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def trust_dir(tmp_path: Path, *cas: devpki.Issued, der: bool = False) -> Path:
    d = tmp_path / "trust"
    d.mkdir(exist_ok=True)
    for i, ca in enumerate(cas):
        if der:
            from cryptography.hazmat.primitives.serialization import Encoding

            (d / f"ca{i}.der").write_bytes(ca.cert.public_bytes(Encoding.DER))
        else:
            (d / f"ca{i}.pem").write_bytes(ca.cert_pem())
    (d / "README.txt").write_text("not a certificate")
    return d


def as_signer(issued: devpki.Issued) -> Signer:
    return Signer(issued.key, issued.cert, issued.chain)


@pytest.mark.parametrize("der", [False, True])
def test_trusted_ca_gives_valid_chain(
    tmp_path: Path,
    pki: dict[str, devpki.Issued],
    signer: Signer,
    pes_factory: Callable[..., bytes],
    der: bool,
) -> None:
    report = verify_pes(sign_pes(pes_factory(1), signer), trust_dir=trust_dir(tmp_path, pki["ca"], der=der))
    assert report.valid
    assert report.signatures[0].chain_valid is True


def test_other_ca_gives_invalid_chain(
    tmp_path: Path, pki: dict[str, devpki.Issued], signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    report = verify_pes(sign_pes(pes_factory(1), signer), trust_dir=trust_dir(tmp_path, pki["other_ca"]))
    assert not report.valid
    sig = report.signatures[0]
    assert sig.crypto_valid
    assert sig.chain_valid is False
    assert "CHAIN_INVALID" in {e.code for e in sig.errors}


def test_intermediate_ca_from_keyinfo_chain(tmp_path: Path, pes_factory: Callable[..., bytes]) -> None:
    root = devpki.make_ca("racine")
    # devpki makes self-signed CAs only: re-issue one as an intermediate under the root.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    inter_ca = devpki.make_ca("AC intermédiaire")
    inter_cert = (
        x509.CertificateBuilder()
        .subject_name(inter_ca.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(inter_ca.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(inter_ca.cert.not_valid_before_utc)
        .not_valid_after(inter_ca.cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root.key, hashes.SHA256())
    )
    inter = devpki.Issued(inter_ca.key, inter_cert, (root.cert,))
    leaf = devpki.issue(inter, "Signataire")
    options = pes_sign_options()
    from dataclasses import replace

    options = replace(options, xades=replace(options.xades, include_chain=True))
    signed = sign_pes(pes_factory(1), as_signer(leaf), options=options)
    report = verify_pes(signed, trust_dir=trust_dir(tmp_path, root))
    assert report.signatures[0].chain_valid is True, report.to_dict()
    # Without the intermediate in KeyInfo, the path cannot be built.
    plain = sign_pes(pes_factory(1), as_signer(leaf))
    assert verify_pes(plain, trust_dir=trust_dir(tmp_path, root)).signatures[0].chain_valid is False


def test_certificate_not_yet_valid_at_signing_time(
    pki: dict[str, devpki.Issued], pes_factory: Callable[..., bytes]
) -> None:
    future = devpki.issue(pki["ca"], "Futur", not_before=NOW + dt.timedelta(days=10))
    report = verify_pes(sign_pes(pes_factory(1), as_signer(future)))
    sig = report.signatures[0]
    assert sig.crypto_valid
    assert not report.valid
    assert sig.certificate_valid_at_signing_time is False
    assert "CERT_NOT_YET_VALID" in {e.code for e in sig.errors}


def test_certificate_expired_at_signing_time(
    tmp_path: Path, pki: dict[str, devpki.Issued], pes_factory: Callable[..., bytes]
) -> None:
    old = devpki.issue(
        pki["ca"], "Ancien", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=30)
    )
    report = verify_pes(sign_pes(pes_factory(1), as_signer(old)), trust_dir=trust_dir(tmp_path, pki["ca"]))
    sig = report.signatures[0]
    assert sig.crypto_valid
    assert not report.valid
    assert sig.certificate_valid_at_signing_time is False
    assert "CERT_EXPIRED_AT_SIGNING_TIME" in {e.code for e in sig.errors}
    assert sig.chain_valid is False  # the chain is judged at the same time


def test_signed_while_valid_then_expired_is_only_warned(
    tmp_path: Path, pes_factory: Callable[..., bytes]
) -> None:
    ca = devpki.make_ca("AC ancienne", not_before=NOW - dt.timedelta(days=1000))
    cert = devpki.issue(
        ca, "Expiré depuis", not_before=NOW - dt.timedelta(days=400), not_after=NOW - dt.timedelta(days=30)
    )
    options = pes_sign_options(signing_time=NOW - dt.timedelta(days=60))
    signed = sign_pes(pes_factory(1), as_signer(cert), options=options)
    # The CA made for the other tests did not exist 60 days ago: the chain is judged at signing time.
    assert verify_pes(signed, trust=TrustStore([ca.cert])).valid
    report = verify_pes(signed, trust_dir=trust_dir(tmp_path, ca))
    assert report.valid, report.to_dict()
    sig = report.signatures[0]
    assert sig.chain_valid is True
    assert "CERT_EXPIRED_NOW" in {w.code for w in sig.warnings}


def test_trust_dir_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TrustStore.from_dir(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        TrustStore.from_dir(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError):
        TrustStore.from_dir(tmp_path / "bad")


def test_ca_younger_than_the_signature_breaks_the_chain(
    pki: dict[str, devpki.Issued], pes_factory: Callable[..., bytes]
) -> None:
    # The leaf claims validity 400 days back, but its CA only exists since yesterday.
    cert = devpki.issue(pki["ca"], "Antidaté", not_before=NOW - dt.timedelta(days=400))
    options = pes_sign_options(signing_time=NOW - dt.timedelta(days=60))
    signed = sign_pes(pes_factory(1), as_signer(cert), options=options)
    sig = verify_pes(signed, trust=TrustStore([pki["ca"].cert])).signatures[0]
    assert sig.certificate_valid_at_signing_time is True
    assert sig.chain_valid is False
    assert any("pas encore valide" in e.message for e in sig.errors if e.code == "CHAIN_INVALID")
