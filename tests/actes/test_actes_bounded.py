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
