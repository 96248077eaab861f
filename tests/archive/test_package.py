"""SEDA packages: valid against the official XSDs, deterministic, formats by content, rules."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from demat.archive import ArchivalProfileRef, RuleSet, build_package
from demat.archive.seda import SEDA_NAMESPACES
from demat.errors import PackagingError, ValidationError
from demat.xml.schemas import SchemaRegistry

from .conftest import transmission

NS = {"s": SEDA_NAMESPACES["2.1"]}


@pytest.mark.parametrize("version", ["2.1", "2.2", "2.3"])
def test_every_version_validates_against_the_official_xsd(
    version: str, seda_schemas: SchemaRegistry, tmp_path: Path
) -> None:
    package = build_package(transmission(tmp_path), seda_version=version)
    schema = seda_schemas.schema("seda", f"seda-{version}", origin="official")
    doc = etree.fromstring(package.manifest_bytes)
    assert schema.validate(doc), [str(e) for e in schema.error_log]
    assert doc.nsmap[None] == SEDA_NAMESPACES[version]


@pytest.mark.parametrize("flow", ["pes", "actes", "budget", "elections", "other"])
def test_each_flow_validates(flow: str, seda_schemas: SchemaRegistry) -> None:
    package = build_package(transmission(flow=flow, archival_agreement="IC-0001"))
    schema = seda_schemas.schema("seda", "seda-2.1", origin="official")
    assert schema.validate(etree.fromstring(package.manifest_bytes)), [str(e) for e in schema.error_log]


def test_zip_is_byte_for_byte_deterministic(tmp_path: Path) -> None:
    first = build_package(transmission(tmp_path)).zip_bytes()
    again = build_package(transmission(tmp_path)).zip_bytes()
    assert first == again
    out = tmp_path / "sip.zip"
    build_package(transmission(tmp_path)).to_zip(out)
    assert out.read_bytes() == first

    class Pipe(io.RawIOBase):  # an unseekable output gives the same bytes
        def __init__(self) -> None:
            self.got = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: bytes) -> int:  # type: ignore[override]
            self.got += b
            return len(b)

    pipe = Pipe()
    build_package(transmission(tmp_path)).to_zip(pipe)  # type: ignore[arg-type]
    assert bytes(pipe.got) == first


def test_sip_layout_manifest_at_root_content_folder(tmp_path: Path) -> None:
    package = build_package(transmission(tmp_path))
    with zipfile.ZipFile(io.BytesIO(package.zip_bytes())) as zf:
        names = zf.namelist()
        assert names[0] == "manifest.xml"
        assert all(n.startswith("content/") for n in names[1:])
        assert zf.read("manifest.xml") == package.manifest_bytes
        doc = etree.fromstring(package.manifest_bytes)
        uris = doc.xpath("//s:BinaryDataObject/s:Uri/text()", namespaces=NS)
        assert sorted(uris) == sorted(names[1:])
    assert len(package.digest) == 128


def test_empty_file_has_no_size_and_digest_of_nothing() -> None:
    package = build_package(transmission())
    doc = etree.fromstring(package.manifest_bytes)
    [empty] = doc.xpath("//s:BinaryDataObject[s:FileInfo/s:Filename='vide.txt']", namespaces=NS)
    assert empty.find("s:Size", NS) is None
    assert empty.findtext("s:MessageDigest", namespaces=NS).startswith("cf83e135")


def test_format_found_by_content_not_by_name(tmp_path: Path) -> None:
    package = build_package(transmission(tmp_path))
    doc = etree.fromstring(package.manifest_bytes)

    def fmt(name: str) -> tuple[str | None, str | None]:
        [bdo] = doc.xpath(f"//s:BinaryDataObject[s:FileInfo/s:Filename='{name}']", namespaces=NS)
        return (
            bdo.findtext("s:FormatIdentification/s:FormatId", namespaces=NS),
            bdo.findtext("s:FormatIdentification/s:MimeType", namespaces=NS),
        )

    assert fmt("bordereau.bin") == ("fmt/18", "application/pdf")  # a PDF named .bin
    assert fmt("PESALR2_20260302.xml") == ("fmt/101", "application/xml")
    assert fmt("vide.txt") == (None, "application/octet-stream")


def test_rules_recorded_and_overridable() -> None:
    default = build_package(transmission(flow="actes"))
    assert default.rule.final_action == "Destroy" and default.rule.dua == "P10Y"
    doc = etree.fromstring(default.manifest_bytes)
    rule = doc.xpath("string(//s:ArchiveUnit[@id='AU0']/s:Management/s:AppraisalRule/s:Rule)", namespaces=NS)
    assert rule == "APP-DEMAT-ACTES"
    rules = RuleSet().with_overrides({"actes": {"final_action": "Keep", "dua": "P1Y"}})
    kept = build_package(transmission(flow="actes"), rules=rules)
    assert kept.rule.final_action == "Keep"
    assert kept.due.isoformat() == "2027-03-02"
    text = kept.manifest_bytes.decode()
    assert "FinalAction>Keep<" in text and "DUA P1Y" in text and "surchargé par le profil" in text
    with pytest.raises(Exception, match="unknown field"):
        RuleSet().with_overrides({"pes": {"dua_years": 3}})
    with pytest.raises(Exception, match="ISO 8601"):
        RuleSet().with_overrides({"pes": {"dua": "10 ans"}})


def test_archival_profile_declared_and_checked(refdata: Path) -> None:
    own = b"""<grammar xmlns="http://relaxng.org/ns/structure/1.0"
      ns="fr:gouv:culture:archivesdefrance:seda:v2.1"
      datatypeLibrary="http://www.w3.org/2001/XMLSchema-datatypes">
      <start><element name="ArchiveTransfer"><zeroOrMore><choice><attribute><anyName/></attribute>
      <text/><ref name="any"/></choice></zeroOrMore></element></start>
      <define name="any"><element><anyName/><zeroOrMore><choice><attribute><anyName/></attribute>
      <text/><ref name="any"/></choice></zeroOrMore></element></define></grammar>"""
    package = build_package(transmission(), profile=ArchivalProfileRef("PR-DEMAT-PES", own))
    assert b"<ArchivalProfile>PR-DEMAT-PES</ArchivalProfile>" in package.manifest_bytes
    cadastre = (refdata / "seda/samples/sedatools/profile.rng").read_bytes()
    with pytest.raises(ValidationError, match="archival profile"):
        build_package(transmission(), profile=ArchivalProfileRef("cadastre", cadastre))


def test_refuses_unknown_version_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="SEDA"):
        build_package(transmission(), seda_version="2.0")
    with pytest.raises(PackagingError, match="no such file"):
        build_package(transmission(documents=[("x.pdf", tmp_path / "gone.pdf", "acte")]))


def test_large_files_identified_from_both_ends(tmp_path: Path) -> None:
    from demat.archive.formats import SAMPLE_BYTES, identify

    big = tmp_path / "scan.bin"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * (3 * SAMPLE_BYTES) + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    assert (identify(big).pronom, identify(big.read_bytes()).pronom) == ("fmt/18", "fmt/18")
    xml = tmp_path / "pes"
    xml.write_bytes(b"<?xml version='1.0'?><PES_Aller>" + b"<P/>" * SAMPLE_BYTES + b"</PES_Aller>")
    assert identify(xml).pronom == "fmt/101"
