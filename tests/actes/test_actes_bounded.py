"""ACTES messages are refused from their size before they are read (a 1 GB file took 1 GB
before `actes inspect` refused it at its 64 MiB cap, 2.1 GB for a 2 GiB sparse file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demat.actes.read import read_message
from demat.errors import XMLSecurityError
from demat.xml.safe import XmlLimits

MIB = 1024 * 1024


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.write(
            b'<?xml version="1.0"?>\n<actes:ARActe xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216">'
        )
        f.truncate(size)
    return path


def test_a_message_path_over_the_cap_is_refused_from_its_size(tmp_path: Path) -> None:
    path = _sparse(tmp_path / "ar.xml", 2 * 1024 * MIB)
    with pytest.raises(XMLSecurityError) as caught:
        read_message(path, limits=XmlLimits(max_bytes=16 * MIB))
    assert caught.value.code == "XML_TOO_LARGE"


def test_actes_inspect_refuses_a_huge_file_without_reading_it(tmp_path: Path, peak_rss: Any) -> None:
    path = _sparse(tmp_path / "ar.xml", 2 * 1024 * MIB)
    peak, code, err = peak_rss.cli("actes", "inspect", str(path))
    assert code == 1, err
    assert "exceeds the cap" in err
    assert peak < 100 * MIB, f"{peak / MIB:.0f} MiB"


def _bomb(path: Path, size: int) -> Path:
    """A .tar.gz whose one document inflates to ``size`` zeros (a few hundred KB on disk)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz", compresslevel=9) as tar:
        info = tarfile.TarInfo("acte.pdf")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def test_an_archive_opened_without_its_documents_keeps_only_their_digest(tmp_path: Path) -> None:
    import hashlib

    from demat.actes.archive import open_package
    from demat.errors import PackagingError

    path = _bomb(tmp_path / "a.tar.gz", 8 * MIB)
    pkg = open_package(path, keep_documents=False)
    [member] = pkg.members
    assert member.content is None and member.path is None
    assert member.size == 8 * MIB and member.sha256 == hashlib.sha256(bytes(8 * MIB)).hexdigest()
    with pytest.raises(PackagingError) as caught:
        member.read_bytes()
    assert caught.value.code == "ACTES_DOCUMENT_NON_CONSERVE"
    assert open_package(path).members[0].read_bytes() == bytes(8 * MIB)


def test_actes_inspect_of_a_gzip_bomb_inside_the_caps_costs_a_chunk(tmp_path: Path, peak_rss: Any) -> None:
    path = _bomb(tmp_path / "bomb.tar.gz", 150 * MIB)
    peak, code, err = peak_rss.cli("actes", "inspect", str(path))
    assert code in (0, 1), err
    assert peak < 100 * MIB, f"{peak / MIB:.0f} MiB"  # the document was kept: 300 MB
