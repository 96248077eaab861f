"""The deposit protocol: manifests refused for what they break, accusés that verify and stop
verifying when touched, control reports read back."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from tests.depot.conftest import NANTES, PDF, PKIFiles, make_deposit, reu_list

from demat.depot.protocol import (
    ControlReport,
    Finding,
    ListControl,
    build_receipt,
    departement_of,
    normalise_departement,
    read_control_report,
    read_manifest,
    read_receipt,
)
from demat.errors import SignatureError, ValidationError
from demat.signing.trust import TrustStore, load_certificates

AT = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_a_manifest_reads_back_as_written_and_its_digest_is_stable() -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 3)})
    data = deposit.manifest_bytes
    assert read_manifest(data) == deposit.manifest
    assert (
        read_manifest(data).sha256
        == deposit.manifest.sha256
        == make_deposit(NANTES, {"LP": reu_list(NANTES, 3)}).manifest.sha256
    )


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda m: dataclasses.replace(m, commune="4410"), "MANIFEST_COMMUNE"),
        (
            lambda m: dataclasses.replace(m, files=tuple(f for f in m.files if f.role != "liste")),
            "MANIFEST_NO_LIST",
        ),
        (
            lambda m: dataclasses.replace(m, files=tuple(f for f in m.files if f.role != "commission")),
            "MANIFEST_NO_COMMISSION",
        ),
        (
            lambda m: dataclasses.replace(
                m, files=(dataclasses.replace(m.files[0], name="../etc/passwd"), *m.files[1:])
            ),
            "MANIFEST_NAME",
        ),
        (lambda m: dataclasses.replace(m, files=(m.files[0], m.files[0], *m.files[1:])), "MANIFEST_NAME"),
        (
            lambda m: dataclasses.replace(
                m, files=(dataclasses.replace(m.files[0], list_type="LX"), *m.files[1:])
            ),
            "MANIFEST_LIST",
        ),
        (
            lambda m: dataclasses.replace(
                m, files=(dataclasses.replace(m.files[0], sha256="00"), *m.files[1:])
            ),
            "MANIFEST_DIGEST",
        ),
    ],
)
def test_a_manifest_breaking_a_rule_is_refused_with_its_code(change: object, code: str) -> None:
    manifest = change(make_deposit(NANTES, {"LP": reu_list(NANTES, 2)}).manifest)  # type: ignore[operator]
    with pytest.raises(ValidationError) as refused:
        read_manifest(manifest.to_bytes())
    assert refused.value.code == code


def test_garbage_is_not_a_manifest() -> None:
    for data in (b"\xff", b"[]", b'{"format": "autre"}', b"{" * 10):
        with pytest.raises(ValidationError):
            read_manifest(data)


def test_the_accuse_de_depot_verifies_names_every_file_and_breaks_when_touched(depot_pki: PKIFiles) -> None:
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 2)})
    data = build_receipt(
        depot_pki.signer,
        deposit_id="d-1",
        account="nantes",
        received_at=AT,
        manifest=deposit.manifest,
        manifest_size=42,
    )
    receipt = read_receipt(data, trust=TrustStore(load_certificates(depot_pki.ca.read_bytes())))
    assert (receipt.deposit_id, receipt.commune, receipt.account, receipt.received_at) == (
        "d-1",
        NANTES,
        "nantes",
        AT,
    )
    assert receipt.matches(deposit.manifest)
    assert "Serveur de dépôt" in receipt.signer
    other = make_deposit(NANTES, {"LP": reu_list(NANTES, 3)})
    assert not receipt.matches(other.manifest)
    for old, new in (
        (b"d-1", b"d-2"),
        (deposit.manifest.files[0].sha256.encode(), b"0" * 64),
        (b"nantes", b"rezeee"),
    ):
        with pytest.raises(SignatureError):
            read_receipt(data.replace(old, new, 1))


def test_a_receipt_signed_outside_the_trusted_ca_is_refused(depot_pki: PKIFiles, tmp_path: object) -> None:
    from demat.signing.devpki import issue, make_ca
    from demat.signing.keys import Signer

    rogue_ca = make_ca("rogue")
    rogue = issue(rogue_ca, "Serveur de dépôt", kind="signing")
    deposit = make_deposit(NANTES, {"LP": reu_list(NANTES, 2)})
    data = build_receipt(
        Signer(rogue.key, rogue.cert),
        deposit_id="d",
        account="a",
        received_at=AT,
        manifest=deposit.manifest,
        manifest_size=1,
    )
    read_receipt(data)  # the signature itself holds
    with pytest.raises(SignatureError):
        read_receipt(data, trust=TrustStore(load_certificates(depot_pki.ca.read_bytes())))


def test_a_control_report_reads_back() -> None:
    report = ControlReport(
        "d-1",
        NANTES,
        AT,
        (
            ListControl("a.csv", "LP", 10, True),
            ListControl("b.csv", "LCE", 2, False, errors=(Finding("NOM", "nom manquant", 3),)),
        ),
    )
    back = read_control_report(report.to_bytes())
    assert back == report and not back.valid and back.electors == 12
    with pytest.raises(ValidationError):
        read_control_report(PDF)


def test_departements() -> None:
    assert [departement_of(c) for c in ("44109", "2A004", "97411", "01001")] == ["44", "2A", "974", "01"]
    assert [normalise_departement(c) for c in ("044", "2a", "974", "35")] == ["44", "2A", "974", "35"]
