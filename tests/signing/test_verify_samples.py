"""Verification of real signed PES files (refdata samples): Berger-Levrault, Libriciel, DGFiP tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from demat.pes.sign import verify_pes

GOOD = [
    ("PESALR2_25060187900027_190328_001.xml", "1.1.1", "urn:oid:1.2.250.1.131.1.5.18.21.1.7"),
    ("SHA256_bordereau.xml", "1.2.2", "urn:oid:1.2.250.1.131.1.5.18.21.1.7"),
    ("fichier_signe.xml", "1.2.2", "urn:oid:1.2.250.1.131.1.5.18.21.1.7"),
    ("PESALR2_49101169800000_171227_2045.xml", "1.1.1", "urn:oid:1.2.250.1.131.1.5.18.21.1.4"),
]


def codes(issues: list) -> set[str]:  # type: ignore[type-arg]
    return {i.code for i in issues}


@pytest.mark.parametrize(("name", "version", "policy"), GOOD)
def test_real_signatures_verify_and_expired_certificates_are_only_warned(
    refdata: Path, name: str, version: str, policy: str
) -> None:
    report = verify_pes(refdata / "pes" / "samples" / name)
    assert report.valid, report.to_dict()
    assert len(report.signatures) == 1
    sig = report.signatures[0]
    assert sig.crypto_valid
    assert sig.certificate_valid_at_signing_time is True
    assert sig.chain_valid is None
    assert sig.xades_version == version
    assert sig.policy_id == policy
    assert "CERT_EXPIRED_NOW" in codes(sig.warnings)
    assert sig.certificate is not None
    assert sig.certificate.not_after < dt.datetime.now(dt.UTC)
    assert sig.target is not None
    assert sig.target.path == "/PES_Aller/PES_DepenseAller/Bordereau"
    is_sha1 = name.startswith("PESALR2_4910")
    assert ("WEAK_ALGORITHM" in codes(sig.warnings)) is is_sha1
    assert sig.algorithms["signature"].endswith("rsa-sha1" if is_sha1 else "rsa-sha256")


def test_berger_levrault_details(refdata: Path) -> None:
    sig = verify_pes(refdata / "pes/samples/PESALR2_25060187900027_190328_001.xml").signatures[0]
    assert sig.target is not None
    assert sig.target.id == "N10025"
    assert sig.claimed_role == "Maire"
    assert sig.signing_time == dt.datetime(2019, 3, 28, 9, 9, 14, 187000, tzinfo=dt.UTC)
    assert sig.certificate is not None
    assert "THOMAS Celine" in sig.certificate.subject
    # Its certificate has no non-repudiation key usage: a warning, not a rejection.
    assert "KEY_USAGE_NO_NON_REPUDIATION" in codes(sig.warnings)


def test_non_repudiation_can_be_required(refdata: Path) -> None:
    report = verify_pes(
        refdata / "pes/samples/PESALR2_25060187900027_190328_001.xml", require_non_repudiation=True
    )
    assert not report.valid
    assert "KEY_USAGE_NO_NON_REPUDIATION" in codes(report.signatures[0].errors)


def test_altered_file_fails_on_signature_value(refdata: Path) -> None:
    report = verify_pes(refdata / "pes/samples/test-alteree.xml")
    assert not report.valid
    sig = report.signatures[0]
    assert not sig.crypto_valid
    assert codes(sig.errors) == {"SIGNATURE_VALUE_INVALID"}
    assert "NOT_SIGNED_CONTENT" in codes(report.errors)


def test_certificate_expired_before_signing_time(refdata: Path) -> None:
    report = verify_pes(refdata / "pes/samples/test-perime-04-04-2016.xml")
    assert not report.valid
    sig = report.signatures[0]
    assert sig.crypto_valid
    assert sig.certificate_valid_at_signing_time is False
    assert "CERT_EXPIRED_AT_SIGNING_TIME" in codes(sig.errors)
    assert sig.certificate is not None
    assert sig.signing_time is not None
    assert sig.certificate.not_after < sig.signing_time
    # Same OID, other policy hash than the one Libriciel and BL publish.
    assert "POLICY_HASH_UNEXPECTED" in codes(sig.warnings)


def test_at_overrides_signing_time(refdata: Path) -> None:
    report = verify_pes(
        refdata / "pes/samples/test-perime-04-04-2016.xml", at=dt.datetime(2015, 1, 1, tzinfo=dt.UTC)
    )
    assert report.signatures[0].certificate_valid_at_signing_time is True


def test_unsigned_file_is_not_valid(refdata: Path) -> None:
    report = verify_pes(refdata / "pes/samples/PES_ex.xml")
    assert not report.valid
    assert codes(report.errors) == {"NO_SIGNATURE"}
    assert report.signatures == []


def test_info_dematerialisee_zero_with_signature_is_warned(refdata: Path) -> None:
    report = verify_pes(refdata / "pes/samples/SHA256_bordereau.xml")
    assert "INFO_DEMAT_INCONSISTENT" in codes(report.warnings)
