"""Opening archives: the real Stela one, and hostile ones that must be refused."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from demat.actes import ActeMessage, ActesIdentity, ActesLimits, FileFormat, open_package, package_acte
from demat.actes.archive import safe_member_name
from demat.errors import PackagingError, XMLSecurityError

from .conftest import PDF, make_acte

STELA_TGZ = "actes/stela/SIC-EACT--210600730--20180115-1.tar.gz"


def make_tgz(add: Callable[[tarfile.TarFile], None], *, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as t:
        add(t)
    return buf.getvalue()


def add_file(t: tarfile.TarFile, name: str, data: bytes = PDF) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))


def add_special(t: tarfile.TarFile, name: str, kind: bytes, linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    t.addfile(info)


def refused(data: bytes, code: str, **kw: Any) -> None:
    with pytest.raises(PackagingError) as info:
        open_package(data, **kw)
    assert info.value.code == code, info.value


def test_real_stela_archive(refdata: Path, actes_xsd: Any) -> None:
    pkg = open_package(refdata / STELA_TGZ, schema=actes_xsd)
    assert pkg.name == "SIC-EACT--210600730--20180115-1.tar.gz"
    assert [m.name for m in pkg.members] == [
        "EACT--210600730--20180115-1.xml",
        "006-210600730-20180115-007-AR-1-1_0.xml",
        "CO_DE-006-210600730-20180115-007-AR-1-1_1.jpg",
    ]
    assert pkg.envelope is not None
    assert pkg.envelope.type == "EnveloppeCLMISILL"
    assert pkg.envelope.schema_checked
    assert pkg.envelope.valid
    (msg,) = pkg.messages
    assert isinstance(msg, ActeMessage)
    assert msg.valid
    assert (msg.acte.code_nature, msg.acte.numero_interne, msg.acte.objet) == (2, "007", "wolo")
    assert msg.acte.document_papier is None  # xsi:nil
    (doc,) = pkg.documents
    assert doc.format is FileFormat.JPEG
    assert doc.size == 37602
    assert pkg.valid
    assert pkg.findings == ()
    assert pkg.expected_id_actes() == ("006-210600730-20180115-007-AR",)


def test_real_stela_archive_extracted_to_a_directory(refdata: Path, tmp_path: Path) -> None:
    pkg = open_package(refdata / STELA_TGZ, extract_to=tmp_path, check_schema=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CO_DE-006-210600730-20180115-007-AR-1-1_1.jpg"]
    assert pkg.documents[0].path == tmp_path / "CO_DE-006-210600730-20180115-007-AR-1-1_1.jpg"
    assert pkg.documents[0].content is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../evil.pdf", "ACTES_TAR_TRAVERSEE"),
        ("ok/../../evil.pdf", "ACTES_TAR_TRAVERSEE"),
        ("/etc/cron.d/evil", "ACTES_TAR_CHEMIN_ABSOLU"),
        ("C:/evil.pdf", "ACTES_TAR_CHEMIN_ABSOLU"),
        ("sub/dir.pdf", "ACTES_TAR_SOUS_DOSSIER"),
        ("..\\evil.pdf", "ACTES_TAR_TRAVERSEE"),
    ],
)
def test_traversal_and_absolute_names(name: str, code: str) -> None:
    refused(make_tgz(lambda t: add_file(t, name)), code)


def test_long_traversal_name_in_pax_header() -> None:
    name = "../" * 60 + "evil.pdf"
    refused(make_tgz(lambda t: add_file(t, name), fmt=tarfile.PAX_FORMAT), "ACTES_TAR_TRAVERSEE")


def test_leading_dot_slash_is_tolerated() -> None:
    pkg = open_package(make_tgz(lambda t: add_file(t, "./a.pdf")))
    assert [m.name for m in pkg.members] == ["a.pdf"]
    assert [f.code for f in pkg.findings] == ["ACTES_PAQUET_SANS_ENVELOPPE"]
    assert not pkg.valid


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        (tarfile.SYMTYPE, "ACTES_TAR_LIEN_SYMBOLIQUE"),
        (tarfile.LNKTYPE, "ACTES_TAR_LIEN_PHYSIQUE"),
        (tarfile.CHRTYPE, "ACTES_TAR_PERIPHERIQUE"),
        (tarfile.BLKTYPE, "ACTES_TAR_PERIPHERIQUE"),
        (tarfile.FIFOTYPE, "ACTES_TAR_FIFO"),
        (b"Z", "ACTES_TAR_TYPE"),  # unknown type
        (tarfile.DIRTYPE, "ACTES_TAR_SOUS_DOSSIER"),
    ],
)
def test_links_devices_fifos_directories(kind: bytes, code: str) -> None:
    refused(make_tgz(lambda t: add_special(t, "x.pdf", kind, linkname="/etc/passwd")), code)


def test_symlink_after_a_regular_file_is_refused(tmp_path: Path) -> None:
    def add(t: tarfile.TarFile) -> None:
        add_file(t, "a.pdf")
        add_special(t, "b.pdf", tarfile.SYMTYPE, linkname="a.pdf")

    out = tmp_path / "out"
    out.mkdir()
    refused(make_tgz(add), "ACTES_TAR_LIEN_SYMBOLIQUE", extract_to=out)


def test_extraction_never_follows_a_planted_link(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    (out / "a.pdf").symlink_to(victim)
    refused(make_tgz(lambda t: add_file(t, "a.pdf")), "ACTES_EXTRACTION", extract_to=out)
    assert victim.read_bytes() == b"keep"


def test_duplicate_member() -> None:
    refused(make_tgz(lambda t: (add_file(t, "a.pdf"), add_file(t, "a.pdf"))), "ACTES_TAR_DOUBLON")


def test_oversized_member_is_refused_from_its_header() -> None:
    data = make_tgz(lambda t: add_file(t, "a.pdf", PDF + b"\0" * 5000))
    refused(data, "ACTES_TAR_MEMBRE_TROP_GRAND", limits=ActesLimits(max_member_bytes=4096))


def test_too_many_members() -> None:
    def add(t: tarfile.TarFile) -> None:
        for i in range(6):
            add_file(t, f"{i}.pdf")

    refused(make_tgz(add), "ACTES_TAR_TROP_DE_MEMBRES", limits=ActesLimits(max_members=5))


def test_gzip_bomb_stops_at_the_inflated_cap() -> None:
    # 8 MiB of zeros compress to ~8 KiB; the cap on inflated bytes stops reading at 1 MiB.
    data = make_tgz(lambda t: add_file(t, "a.pdf", b"\0" * (8 * 1024 * 1024)))
    assert len(data) < 64 * 1024
    refused(data, "ACTES_ARCHIVE_BOMBE", limits=ActesLimits(max_inflated_bytes=1024 * 1024))


def test_bomb_of_many_empty_members_is_bounded() -> None:
    data = make_tgz(lambda t: [add_file(t, f"{i}.pdf", b"") for i in range(600)])
    refused(data, "ACTES_TAR_TROP_DE_MEMBRES")


@pytest.mark.parametrize(
    "data",
    [b"not an archive at all", b"\x1f\x8b\x08\x00garbage-after-gzip-magic", gzip.compress(b"x" * 700)],
)
def test_garbage_is_refused_cleanly(data: bytes) -> None:
    refused(data, "ACTES_ARCHIVE_ILLISIBLE")


def test_truncated_archive(identity: ActesIdentity) -> None:
    whole = package_acte(identity, make_acte(), serial=1, today=dt.date(2024, 5, 10)).to_bytes()
    refused(whole[: len(whole) // 2], "ACTES_ARCHIVE_ILLISIBLE")


def test_message_with_a_dtd_inside_an_archive() -> None:
    evil = (
        b'<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        b'<actes:Annulation xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
        b'actes:IDActe="&b;"/>'
    )
    with pytest.raises(XMLSecurityError) as info:
        open_package(make_tgz(lambda t: add_file(t, "x-6-1_0.xml", evil)))
    assert info.value.code == "XML_DTD_FORBIDDEN"


def test_consistency_findings(identity: ActesIdentity) -> None:
    pkg = package_acte(identity, make_acte(), serial=1, today=dt.date(2024, 5, 10))

    def add(t: tarfile.TarFile) -> None:
        for name in pkg.members[:3]:  # the PNG annex is missing
            add_file(t, name, pkg._by_name[name].content)  # type: ignore[arg-type]
        add_file(t, "stray.pdf")

    got = open_package(make_tgz(add))
    assert sorted(f.code for f in got.findings) == [
        "ACTES_PAQUET_DOCUMENT_ABSENT",
        "ACTES_PAQUET_DOCUMENT_ORPHELIN",
    ]
    assert not got.valid


@pytest.mark.parametrize("name", ["a.pdf", "99_DE-006-210600730-20240507-X-DE-1-1_1.pdf", "./b.xml"])
def test_safe_member_name_accepts_plain_names(name: str) -> None:
    assert safe_member_name(name) == name.removeprefix("./")
