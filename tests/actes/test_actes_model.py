"""Models: shape checks, parsing helpers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pydantic
import pytest

from demat.actes import Acte, ActeDocument, ActesIdentity, FileFormat, Nature, sniff

from .conftest import PDF, make_acte


def test_nature_parses_code_and_abbreviation() -> None:
    assert Nature.parse("DE") is Nature.DE
    assert Nature.parse("5") is Nature.BF
    assert Nature.parse(6) is Nature.AU
    assert Nature.BF.abbrev == "BF"
    assert Nature.CC.default_typology == "99_DC"
    with pytest.raises(ValueError, match="nature d'acte inconnue"):
        Nature.parse("XX")


def test_matieres_accept_dotted_text_and_reject_bad_depth() -> None:
    assert make_acte(matieres="7.1").matieres == (7, 1)
    assert make_acte(matieres=(1, 2, 3, 4, 5)).matieres == (1, 2, 3, 4, 5)
    with pytest.raises(pydantic.ValidationError):
        make_acte(matieres="7")
    with pytest.raises(pydantic.ValidationError):
        make_acte(matieres="1.2.3.4.5.6")
    with pytest.raises(pydantic.ValidationError):
        make_acte(matieres="7.x")


def test_typology_is_five_characters() -> None:
    with pytest.raises(pydantic.ValidationError):
        ActeDocument(filename="a.pdf", typology="99-DE", content=PDF)
    with pytest.raises(pydantic.ValidationError):
        ActeDocument(filename="a.pdf", typology="99_DEX", content=PDF)


def test_identity_normalises_departement_and_nature() -> None:
    ident = ActesIdentity(siren="123456789", departement="2A", nature=2, return_emails=["a@b.fr"])
    assert ident.departement == "02A"
    assert ident.nature == "02"
    assert (
        ActesIdentity(siren="123456789", departement="34", nature="31", return_emails=["a@b.fr"]).departement
        == "034"
    )
    with pytest.raises(pydantic.ValidationError):
        ActesIdentity(siren="123456789", departement="034", nature="31", return_emails=[])
    with pytest.raises(pydantic.ValidationError):
        ActesIdentity(siren="123456789", departement="034", nature="31", return_emails=["pas-un-mail"])


def test_path_document_is_read_lazily(tmp_path: Path) -> None:
    f = tmp_path / "acte.pdf"
    f.write_bytes(PDF)
    doc = ActeDocument.from_path(f, "99_DE")
    assert doc.size == len(PDF)
    assert doc.head(5) == b"%PDF-"
    f.write_bytes(PDF + b"more")  # not loaded at construction: the change is seen
    assert doc.size == len(PDF) + 4


def test_str_content_is_a_path_never_bytes(tmp_path: Path) -> None:
    f = tmp_path / "a.pdf"
    f.write_bytes(PDF)
    doc = ActeDocument(filename="a.pdf", typology="99_DE", content=str(f))
    assert doc.content == f
    with doc.open() as fh:
        assert fh.read() == PDF


def test_sniff_by_content() -> None:
    assert sniff(b"%PDF-1.7") is FileFormat.PDF
    assert sniff(b"\xff\xd8\xff\xe1") is FileFormat.JPEG
    assert sniff(b"\x89PNG\r\n\x1a\n") is FileFormat.PNG
    assert sniff(b"\xef\xbb\xbf  <?xml version='1.0'?><a/>") is FileFormat.XML
    assert sniff(b"<!-- c --><DocumentBudgetaire/>") is FileFormat.XML
    assert sniff(b"PK\x03\x04") is FileFormat.UNKNOWN
    assert sniff(b"GIF89a") is FileFormat.UNKNOWN
    assert sniff(b"") is FileFormat.UNKNOWN


def test_id_acte(identity: ActesIdentity) -> None:
    acte = make_acte(nature=3, numero="A_1", date=dt.date(2024, 1, 2))
    assert acte.id_acte(identity) == "006-210600730-20240102-A_1-AI"


def test_precedent_id_acte_pattern() -> None:
    make_acte(precedent_id_acte="006-210600730-20240102-A_1-AI")
    with pytest.raises(pydantic.ValidationError):
        make_acte(precedent_id_acte="006-2106-20240102-A_1-AI")


def test_acte_is_frozen(acte: Acte) -> None:
    with pytest.raises(pydantic.ValidationError):
        acte.numero = "X"  # type: ignore[misc]
