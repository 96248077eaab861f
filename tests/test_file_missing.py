"""A file that does not exist is :class:`demat.errors.FileMissing` wherever demat reads one (one
that cannot be read is its base, :class:`demat.errors.FileUnreadable`), never a bare OSError or
an XML syntax error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from demat.actes.archive import open_package
from demat.actes.budget.inspect import inspect_budget
from demat.actes.budget.seal import verify_seal
from demat.actes.budget.validate import validate_budget
from demat.actes.model import Acte, ActeDocument, ActesIdentity
from demat.actes.package import package_acte
from demat.config import load_settings
from demat.errors import FileMissing, FileUnreadable
from demat.pes.ack import read_acquit
from demat.pes.inspect import inspect_pes
from demat.pes.retour import read_retour_header
from demat.pes.validate import validate_pes, validate_xsd
from demat.xml.safe import iterparse, parse

READERS: dict[str, Callable[[Path], Any]] = {
    "parse": parse,
    "iterparse": lambda p: list(iterparse(p)),
    "validate_pes": validate_pes,
    "validate_xsd": lambda p: validate_xsd(p, "pes_acquit"),
    "inspect_pes": inspect_pes,
    "read_acquit": read_acquit,
    "read_retour_header": read_retour_header,
    "open_package": open_package,
    "inspect_budget": inspect_budget,
    "validate_budget": validate_budget,
    "verify_seal": verify_seal,
    "load_settings": load_settings,
}


@pytest.mark.parametrize("reader", READERS)
def test_a_missing_file_is_file_missing(reader: str, tmp_path: Path) -> None:
    with pytest.raises(FileMissing) as caught:
        READERS[reader](tmp_path / "absent.xml")
    assert caught.value.file == str(tmp_path / "absent.xml")
    assert str(caught.value) == f"{tmp_path / 'absent.xml'}: no such file"


@pytest.mark.parametrize("reader", ["parse", "validate_pes", "read_acquit", "open_package", "verify_seal"])
def test_a_folder_is_file_unreadable(reader: str, tmp_path: Path) -> None:
    with pytest.raises(FileUnreadable) as caught:
        READERS[reader](tmp_path)
    assert not isinstance(caught.value, FileMissing)


def test_an_acte_whose_document_is_missing(tmp_path: Path) -> None:
    identity = ActesIdentity(
        siren="210600730", departement="006", arrondissement="2", nature="02", return_emails=("a@b.fr",)
    )
    acte = Acte(
        nature=1,
        numero="DEL_1",
        date=dt.date(2024, 5, 7),
        objet="Délibération",
        matieres=(3, 2),
        classification_date=dt.date(2024, 1, 1),
        document=ActeDocument(filename="a.pdf", typology="99_DE", content=tmp_path / "a.pdf"),
    )
    with pytest.raises(FileMissing) as caught:
        package_acte(identity, acte, serial=1, today=dt.date(2024, 5, 10))
    assert caught.value.file == str(tmp_path / "a.pdf")
