"""SIP zips re-read and checked: demat's own and Vitam's samples (``content/`` and ``Content/``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from tests.archive.conftest import transmission

from demat.archive import build_package
from demat.archive.sip import check_sip
from demat.errors import PackagingError
from demat.xml.schemas import SchemaRegistry


@pytest.mark.parametrize("name", ["SIP-ingest-internal-ok.zip", "OK_RULES_COMPLEXE_COMPLETE.zip"])
def test_vitam_sips_hold(refdata: Path, seda_schemas: SchemaRegistry, name: str) -> None:
    report = check_sip(refdata / "seda/samples/vitam" / name)
    assert report.ok, report.problems
    assert report.seda_version == "2.1" and report.objects
    schema = seda_schemas.schema("seda", "seda-2.1", origin="official")
    assert schema.validate(etree.fromstring(report.manifest)), [str(e) for e in schema.error_log]


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("sip2_2.xml", "2.2"),
        ("worker-core/manifest.xml", "2.1"),
        ("cookbook-SigningInformation-3/manifest.xml", "2.3"),
    ],
)
def test_vitam_manifests_validate(
    refdata: Path, seda_schemas: SchemaRegistry, path: str, version: str
) -> None:
    schema = seda_schemas.schema("seda", f"seda-{version}", origin="official")
    doc = etree.parse(str(refdata / "seda/samples/vitam" / path))
    assert schema.validate(doc), [str(e) for e in schema.error_log]


def test_a_vitam_sip_with_a_file_changed(refdata: Path) -> None:
    source = refdata / "seda/samples/vitam/OK_RULES_COMPLEXE_COMPLETE.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info, b"forged" if info.filename == "Content/ID13.txt" else data)
        zout.writestr("Content/extra.txt", b"x")
    problems = check_sip(io.BytesIO(buf.getvalue())).problems
    assert any(p.startswith("Content/ID13.txt : contenu modifié") for p in problems)
    assert "Content/extra.txt : fichier ajouté au SIP, absent du manifeste" in problems


def test_demat_sip_and_refusals(tmp_path: Path) -> None:
    package = build_package(transmission(tmp_path))
    report = check_sip(io.BytesIO(package.zip_bytes()))
    assert report.ok and report.manifest == package.manifest_bytes
    assert report.message_identifier == package.message_identifier
    with pytest.raises(PackagingError, match="not a SIP"):
        check_sip(io.BytesIO(b"not a zip"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("sub/manifest.xml", b"<x/>")
    with pytest.raises(PackagingError, match="no manifest"):
        check_sip(io.BytesIO(buf.getvalue()))
