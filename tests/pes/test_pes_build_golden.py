"""The builder's bytes, pinned: a PES_Aller that sets every modelled field, written as before.

``data/pes_aller_full.xml`` was written by the builder when it still spelled each element by
hand; the builder now reads names and order from the models, and must not change one byte.
The PJ content is compared decoded (its gzip bytes belong to zlib, not to the builder).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from demat.errors import ValidationError
from demat.pes import build
from demat.pes import model as m
from demat.pes.build import build_pes_bytes
from demat.pes.pj import decode_pj

from .full_spec import PJ_CONTENT, full_spec

GOLDEN = Path(__file__).parent / "data" / "pes_aller_full.xml"
_FICHIER = re.compile(rb"(<Fichier MIMEType=\"[^\"]*\">)([^<]*)(</Fichier>)")


def _normalised(data: bytes) -> bytes:
    """The document with each PJ's base64 text replaced by its decoded content (checked apart)."""

    def decoded(match: re.Match[bytes]) -> bytes:
        content = decode_pj(match.group(2), max_inflated=1 << 20)
        assert content == PJ_CONTENT
        return match.group(1) + b"[" + str(len(content)).encode() + b" bytes]" + match.group(3)

    return _FICHIER.sub(decoded, data)


def test_every_modelled_field_is_given() -> None:
    """The golden file is worth something only if the spec reaches every element the models know."""
    given: dict[str, bool] = {}

    def walk(model: BaseModel, path: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            where = f"{path}.{name}"
            given[where] = given.get(where, False) or value not in (None, [])
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, BaseModel):
                    walk(item, where)

    walk(m.parse_spec(full_spec()), "PesAller")
    # One PJ content is enough: Donnees (Fichier and source are other ways to give it).
    assert [where for where, ok in given.items() if not ok] == [
        "PesAller.pj.pjs.fichier",
        "PesAller.pj.pjs.source",
    ]


def test_full_pes_bytes_are_unchanged() -> None:
    pes = m.parse_spec(full_spec())
    assert _normalised(build_pes_bytes(pes)) == GOLDEN.read_bytes()


def test_full_pes_bytes_are_unchanged_in_utf8() -> None:
    pes = m.parse_spec(full_spec())
    latin1 = GOLDEN.read_bytes()
    expected = latin1.replace(b'encoding="ISO-8859-1"', b'encoding="UTF-8"', 1).decode("latin-1").encode()
    assert _normalised(build_pes_bytes(pes, encoding="UTF-8")) == expected


def test_full_pes_is_valid(assert_valid: Any) -> None:
    assert_valid(build_pes_bytes(m.parse_spec(full_spec())))


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (("Enveloppe", "Recepteur", "Adresse"), "Enveloppe/Adresse"),
        (("EnTetePES", "LibelleColBud"), "EnTetePES/LibelleColBud"),
        (
            ("PES_DepenseAller", "Bordereau", 0, "Piece", 0, "LigneDePiece", 0, "Tiers", "Adresse", "Adr3"),
            "Bordereau[@Id='BD1']/Adr3",
        ),
        (("PES_RecetteAller", "Bordereau", 0, "Piece", 0, "ObjPce"), "Bordereau[@Id='BR1']/ObjPce"),
        (("PES_PJ", "PJ", 0, "RefCompta", 0, "IdTiers"), "PES_PJ/PJ[IdUnique='PJ2024000001']/IdTiers"),
    ],
)
def test_a_character_latin1_lacks_is_named_where_it_stands(path: tuple[str | int, ...], where: str) -> None:
    spec = full_spec()
    holder: Any = spec
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = "Œuvre"
    with pytest.raises(ValidationError, match=re.escape(f"{where}: caractère 'Œ'")):
        build_pes_bytes(m.parse_spec(spec))


def test_the_builder_layout_names_real_fields() -> None:
    """A misspelt field in the builder's wrapper table would silently move elements."""
    for model, wrappers in build._WRAPPERS.items():
        assert set(wrappers) <= set(model.model_fields), model.__name__
