"""What ``pes verify`` may and may not claim: no bare "VALIDE" without a trust store, content
no signature covers is reported, and a CertDigest written with ``ds:`` children is read."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.cli import main
from demat.pes.sign import pes_sign_options, sign_pes, verify_pes
from demat.signing import devpki, xades
from demat.signing.keys import Signer
from demat.signing.trust import TrustStore
from demat.signing.xmldsig import DS_NS


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (no demat.toml, so no trust_dir from the settings)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEMAT_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def signed(workdir: Path, signer: Signer, pes_factory: Callable[..., bytes]) -> Path:
    path = workdir / "signed.xml"
    path.write_bytes(sign_pes(pes_factory(2), signer))
    return path


@pytest.fixture
def trust_dir(workdir: Path, pki: dict[str, devpki.Issued]) -> Path:
    folder = workdir / "trust"
    folder.mkdir()
    (folder / "ca.pem").write_bytes(pki["ca"].cert_pem())
    return folder


# --- no trust store: intact, not "VALIDE" ---------------------------------------------------


def test_without_a_trust_store_the_verdict_says_the_signer_was_not_checked(
    signed: Path, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pes", "verify", str(signed)]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first == f"{signed}: signatures intact, signer not checked"
    assert "no authority checked" in out
    assert main(["pes", "verify", "--integrity-only", str(signed)]) == 0
    assert "signatures intact, signer not checked" in capsys.readouterr().out
    assert main(["pes", "verify", "--trust", str(trust_dir), str(signed)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{signed}: signatures valid"


def test_the_json_says_it_too(signed: Path, trust_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pes", "verify", "--json", str(signed)]) == 1
    record = json.loads(capsys.readouterr().out)
    assert record["verdict"] == "intact" and record["signer_checked"] is False
    assert {s["chain_valid"] for s in record["signatures"]} == {None}
    assert main(["pes", "verify", "--json", "--trust", str(trust_dir), str(signed)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["verdict"] == "valid" and record["signer_checked"] is True


def test_a_file_re_signed_with_a_self_signed_key_is_never_valide(
    signed: Path, trust_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = devpki.make_ca("Mallory")
    mallory = devpki.issue(ca, "Mallory")
    root = etree.fromstring(signed.read_bytes())
    for sig in list(root.iter(f"{{{DS_NS}}}Signature")):
        sig.getparent().remove(sig)
    forged = signed.with_name("forged.xml")
    forged.write_bytes(
        sign_pes(
            etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1"),
            Signer(mallory.key, mallory.cert),
        )
    )
    assert main(["pes", "verify", str(forged)]) == 1
    assert "signatures valid" not in capsys.readouterr().out.splitlines()[0]
    assert main(["pes", "verify", "--trust", str(trust_dir), str(forged)]) == 1
    assert capsys.readouterr().out.splitlines()[0] == f"{forged}: signatures invalid"


def test_help_says_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["pes", "verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--integrity-only" in text and "Exit 0" in text and "trust" in text


# --- content no signature covers -------------------------------------------------------------


def _verify(root: Any, trust: TrustStore | None = None) -> Any:
    return verify_pes(etree.tostring(root.getroottree(), encoding="ISO-8859-1"), trust=trust)


@pytest.mark.parametrize(
    "extra",
    [
        '<e:Bordereau xmlns:e="urn:evil" Id="EVIL1"><BlocBordereau/></e:Bordereau>',
        "<Annexe/>",
        '<x:Note xmlns:x="urn:x">payez Mallory</x:Note>',
    ],
)
def test_elements_of_a_signed_domain_no_signature_covers_are_reported(
    extra: str, signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    root = etree.fromstring(sign_pes(pes_factory(2), signer))
    assert _verify(root).valid
    domain = root.find("PES_DepenseAller")
    domain.append(etree.fromstring(extra))
    report = _verify(root)
    assert all(s.valid for s in report.signatures)
    assert not report.valid
    [uncovered] = [e for e in report.errors if e.code == "NOT_SIGNED_CONTENT"]
    assert etree.QName(domain[-1]).localname in uncovered.message


def test_the_domain_header_and_a_global_signature_are_fine(
    signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    root = etree.fromstring(sign_pes(pes_factory(2), signer, options=pes_sign_options(mode="global")))
    assert _verify(root).valid
    tampered = copy.deepcopy(root)
    tampered.find("PES_DepenseAller").append(etree.fromstring("<Annexe/>"))
    assert not _verify(tampered).valid  # the global signature breaks: nothing to add


# --- CertDigest with ds: children ------------------------------------------------------------


@pytest.fixture
def ds_cert_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sign as the tools that put ds:DigestMethod/ds:DigestValue inside xad:CertDigest."""
    real = xades._sub

    def sub(parent: Any, tag: str, text: str | None = None, **attrib: str) -> Any:
        if etree.QName(parent).localname == "CertDigest":
            tag = f"{{{DS_NS}}}{etree.QName(tag).localname}"
        return real(parent, tag, text, **attrib)

    monkeypatch.setattr(xades, "_sub", sub)


@pytest.mark.parametrize("version", ["1.1.1", "1.2.2"])
def test_a_cert_digest_with_ds_children_is_read(
    ds_cert_digest: None,
    version: str,
    signer: Signer,
    pki: dict[str, devpki.Issued],
    pes_factory: Callable[..., bytes],
    tmp_path: Path,
) -> None:
    data = sign_pes(pes_factory(1), signer, options=pes_sign_options(xades_version=version))  # type: ignore[arg-type]
    assert b"<ds:DigestMethod" in data.split(b"CertDigest>")[1]
    report = verify_pes(data, trust=TrustStore([pki["ca"].cert]))
    assert report.valid, [str(e) for s in report.signatures for e in s.errors]
    [sig] = report.signatures
    assert "SIGNING_CERTIFICATE_MISMATCH" not in {e.code for e in sig.errors}
    warnings = {w.code: w.message for w in sig.warnings}
    if version == "1.1.1":  # the schema the PES XSD imports wants xad: children
        assert "CERT_DIGEST_SCHEMA" in warnings and "ds:DigestMethod" in warnings["CERT_DIGEST_SCHEMA"]
    else:  # the ETSI 1.2.2 schema itself wants ds: children
        assert "CERT_DIGEST_SCHEMA" not in warnings


def test_xmlsec1_verifies_the_ds_form_too(
    ds_cert_digest: None,
    xmlsec1: str,
    signer: Signer,
    pki: dict[str, devpki.Issued],
    pes_factory: Callable[..., bytes],
    tmp_path: Path,
) -> None:
    from .test_pes_sign import xmlsec_verify

    path = tmp_path / "ds-form.xml"
    path.write_bytes(sign_pes(pes_factory(1), signer, options=pes_sign_options(xades_version="1.1.1")))
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki["ca"].cert_pem())
    assert [rc for _, rc, _ in xmlsec_verify(xmlsec1, path, ca)] == [0]
    assert verify_pes(path, trust=TrustStore([pki["ca"].cert])).valid


@pytest.mark.parametrize("version", ["1.1.1", "1.2.2"])
def test_the_pes_form_draws_no_warning(
    version: str, signer: Signer, pes_factory: Callable[..., bytes]
) -> None:
    """xad:DigestMethod in CertDigest and SigPolicyHash is what every PES signer writes."""
    data = sign_pes(pes_factory(1), signer, options=pes_sign_options(xades_version=version))  # type: ignore[arg-type]
    codes = {w.code for s in verify_pes(data).signatures for w in s.warnings}
    assert not codes & {"CERT_DIGEST_SCHEMA", "DIGEST_SCHEMA"}
