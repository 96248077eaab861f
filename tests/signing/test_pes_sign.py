"""Signing PES files: the output is XSD-valid (official v5.17), verifies with demat and xmlsec1."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.errors import SignatureError, XMLSecurityError
from demat.pes.sign import pes_sign_options, sign_pes, sign_pes_file, verify_pes
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.signing.xmldsig import DS_NS, XADES_111, XADES_122

ALLER_NS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"


def xmlsec_verify(xmlsec1: str, path: Path, ca_pem: Path) -> list[tuple[str, int, str]]:
    """Run ``xmlsec1 --verify`` once per signature of ``path``; return (signature Id, rc, output)."""
    root = etree.parse(str(path)).getroot()
    results = []
    for sig in root.iter(f"{{{DS_NS}}}Signature"):
        proc = subprocess.run(
            [
                xmlsec1,
                "--verify",
                "--trusted-pem",
                str(ca_pem),
                "--id-attr:Id",
                "Bordereau",
                "--id-attr:Id",
                f"{ALLER_NS}:PES_Aller",
                "--id-attr:Id",
                f"{XADES_122}:SignedProperties",
                "--id-attr:Id",
                f"{XADES_111}:SignedProperties",
                "--id-attr:Id",
                f"{DS_NS}:Signature",
                "--node-id",
                sig.get("Id"),
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        results.append((sig.get("Id"), proc.returncode, proc.stdout + proc.stderr))
    return results


@pytest.fixture
def ca_pem(tmp_path: Path, pki: dict[str, devpki.Issued]) -> Path:
    path = tmp_path / "trust" / "ca.pem"
    path.parent.mkdir()
    path.write_bytes(pki["ca"].cert_pem())
    return path


@pytest.mark.parametrize("mode", ["bordereau", "global"])
@pytest.mark.parametrize("version", ["1.2.2", "1.1.1"])
def test_signed_pes_is_xsd_valid_and_verifies_with_demat_and_xmlsec1(
    mode: Any,
    version: Any,
    tmp_path: Path,
    signer: Signer,
    pes_factory: Callable[..., bytes],
    pes_schema: Any,
    xmlsec1: str,
    ca_pem: Path,
) -> None:
    original = pes_factory(3, recette=True)
    options = pes_sign_options(mode=mode, xades_version=version, city="Toulouse", postal_code="31000")
    signed = sign_pes(original, signer, options=options)
    out = tmp_path / "signed.xml"
    out.write_bytes(signed)

    root = etree.fromstring(signed)
    assert pes_schema.validate(root), pes_schema.error_log
    sigs = list(root.iter(f"{{{DS_NS}}}Signature"))
    if mode == "bordereau":
        assert len(sigs) == 4
        assert all(s.getparent().tag == "Bordereau" and s.getparent()[-1] is s for s in sigs)
    else:
        assert len(sigs) == 1
        assert sigs[0].getparent() is root
        assert root[-1] is sigs[0]
    xad = XADES_122 if version == "1.2.2" else XADES_111
    assert root.find(f".//{{{xad}}}SignedProperties") is not None

    report = verify_pes(out, trust_dir=ca_pem.parent)
    assert report.valid, report.to_dict()
    assert all(s.chain_valid and s.xades_version == version for s in report.signatures)

    results = xmlsec_verify(xmlsec1, out, ca_pem)
    assert len(results) == len(sigs)
    for sig_id, rc, output in results:
        assert rc == 0, (sig_id, output)
        assert "OK" in output, (sig_id, output)


def test_xmlsec1_rejects_a_tampered_bordereau(
    tmp_path: Path, signer: Signer, pes_factory: Callable[..., bytes], xmlsec1: str, ca_pem: Path
) -> None:
    signed = sign_pes(pes_factory(2), signer)
    out = tmp_path / "tampered.xml"
    out.write_bytes(signed.replace(b'<LibVir1 V="FACTURE 2"/>', b'<LibVir1 V="FACTURE 3"/>'))
    results = dict((i, rc) for i, rc, _ in xmlsec_verify(xmlsec1, out, ca_pem))
    assert results["BORD0001_SIG_1"] == 0
    assert results["BORD0002_SIG_1"] != 0
    report = verify_pes(out)
    assert not report.valid
    bad = [s for s in report.signatures if not s.crypto_valid]
    assert [s.signature_id for s in bad] == ["BORD0002_SIG_1"]
    assert any(e.code == "DIGEST_MISMATCH" for e in bad[0].errors)
    assert any(e.code == "NOT_SIGNED_CONTENT" for e in report.errors)


def test_encoding_declaration_and_accents_are_preserved(
    signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    original = pes_factory(1)
    signed = sign_pes(original, signer)
    assert signed.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<n:PES_Aller')
    assert "SAINT-ÉTIENNE-DE-TINÉE".encode("iso-8859-1") in signed
    assert "LIBRAIRIE DES ÉCOLES ÇA ET LÀ".encode("iso-8859-1") in signed
    with pytest.raises(UnicodeDecodeError):
        signed.decode("utf-8")


def test_ids_info_dematerialisee_and_properties(signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    when = dt.datetime.now(paris).replace(microsecond=123456) - dt.timedelta(hours=1)
    utc = when.astimezone(dt.UTC).replace(microsecond=0)
    options = pes_sign_options(
        claimed_role="Maire", city="Albi", postal_code="81000", country="France", signing_time=when
    )
    signed = sign_pes(pes_factory(2, with_ids=False, recette=True), signer, options=options)
    root = etree.fromstring(signed)
    ids = [b.get("Id") for b in root.iter("Bordereau")]
    assert ids == ["BORDD2026_01_1", "BORDD2026_01_2", "BORDR2026_01_1"]
    for header in ("PES_DepenseAller/EnTeteDepense", "PES_RecetteAller/EnTeteRecette"):
        info = root.find(f"{header}/InfoDematerialisee")
        assert info is not None
        assert info.get("V") == "1"
        assert root.find(header)[1] is info  # right after IdVer
    sig = root.find(f"PES_DepenseAller/Bordereau/{{{DS_NS}}}Signature")
    assert sig.get("Id") == "BORDD2026_01_1_SIG_1"
    x = f"{{{XADES_122}}}"
    sp = sig.find(f".//{x}SignedProperties")
    assert sp.get("Id") == "BORDD2026_01_1_SIG_1_SP"
    assert sig.find(f"{{{DS_NS}}}SignatureValue").get("Id") == "BORDD2026_01_1_SIG_1_SV"
    assert sp.findtext(f".//{x}SigningTime") == utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sp.findtext(f".//{x}ClaimedRole") == "Maire"
    assert sp.findtext(f".//{x}City") == "Albi"
    assert sp.findtext(f".//{x}PostalCode") == "81000"
    assert sp.findtext(f".//{x}Identifier") == "urn:oid:1.2.250.1.131.1.5.18.21.1.7"
    assert sp.findtext(f".//{x}SPURI").startswith("https://www.collectivites-locales.gouv.fr/")
    assert sp.findtext(f".//{{{DS_NS}}}X509SerialNumber") == str(signer.cert.serial_number)
    refs = sig.findall(f"{{{DS_NS}}}SignedInfo/{{{DS_NS}}}Reference")
    assert refs[0].get("URI") == "#BORDD2026_01_1"
    assert refs[1].get("Type") == f"{XADES_122}SignedProperties"
    report = verify_pes(signed)
    assert report.valid
    assert {s.claimed_role for s in report.signatures} == {"Maire"}
    assert report.signatures[0].signing_time == utc


def test_global_signature_adds_root_id(signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    signed = sign_pes(pes_factory(2, root_id=None), signer, options=pes_sign_options(mode="global"))
    root = etree.fromstring(signed)
    assert root.get("Id") == "PES_PESALR2_21310555400017_TEST_001"
    report = verify_pes(signed)
    assert report.valid
    assert report.signatures[0].target is not None
    assert report.signatures[0].target.path == "/PES_Aller"


def test_refuses_to_sign_twice_and_non_pes(signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    signed = sign_pes(pes_factory(1), signer)
    with pytest.raises(SignatureError) as err:
        sign_pes(signed, signer)
    assert err.value.code == "ALREADY_SIGNED"
    with pytest.raises(SignatureError) as err:
        sign_pes(b"<Other/>", signer)
    assert err.value.code == "NOT_PES_ALLER"
    with pytest.raises(SignatureError) as err:
        sign_pes(pes_factory(2).replace(b'Id="BORD0002"', b'Id="BORD0001"'), signer)
    assert err.value.code == "DUPLICATE_ID"
    with pytest.raises(XMLSecurityError):
        sign_pes(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', signer)


def test_sign_file_path_variant(tmp_path: Path, signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    src = tmp_path / "in.xml"
    src.write_bytes(pes_factory(2))
    dst = sign_pes_file(src, tmp_path / "out.xml", signer)
    assert verify_pes(dst).valid
    assert not list(tmp_path.glob(".*.tmp"))


def test_big_file_signs_and_verifies(signer: Signer, pes_factory: Callable[..., bytes]) -> None:
    signed = sign_pes(pes_factory(60), signer)
    report = verify_pes(signed)
    assert report.valid
    assert len(report.signatures) == 60


@pytest.mark.parametrize("domain", ["depense", "recette"])
def test_synthetic_pes_with_pj_signs_valid(signer: Signer, pes_schema: Any, domain: Any) -> None:
    from demat.pes.build import build_pes_bytes
    from demat.pes.synthetic import synthetic_pes

    data = build_pes_bytes(synthetic_pes(bordereaux=3, pj_count=1, pj_size=2000, domain=domain))
    signed = sign_pes(data, signer)
    assert pes_schema.validate(etree.fromstring(signed)), pes_schema.error_log
    report = verify_pes(signed)
    assert report.valid, report.to_dict()
    assert len(report.signatures) == 3


def test_without_policy_or_role_verifies_with_warnings(
    signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    from dataclasses import replace

    options = pes_sign_options()
    options = replace(options, xades=replace(options.xades, policy=None, claimed_role=None))
    report = verify_pes(sign_pes(pes_factory(1), signer, options=options))
    assert report.valid
    sig = report.signatures[0]
    assert sig.policy_id is None
    assert {w.code for w in sig.warnings} >= {"NO_POLICY", "ROLE_BLANK"}
