"""The préfecture's classification: natures with their typologies, and the matières tree.

It comes as ``RetourClassification`` (answer to a 7-1 request) and is versioned by
``DateClassification``; an acte sent with an older date gets AnomalieActe 002.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from demat.actes.model import ACTES_NS


class TypePJ(BaseModel):
    """A typology (type de pièce) allowed for a nature."""

    model_config = ConfigDict(frozen=True)

    code: str
    libelle: str


class NatureClassification(BaseModel):
    """A nature of acte and the typologies the préfecture accepts for it."""

    model_config = ConfigDict(frozen=True)

    code: int | None
    libelle: str
    abbrev: str
    types_pj: tuple[TypePJ, ...] = ()


class Matiere(BaseModel):
    """A matière (level 1 to 5) and its sub-matières."""

    model_config = ConfigDict(frozen=True)

    code: int
    libelle: str
    children: tuple[Matiere, ...] = ()


class Classification(BaseModel):
    """A whole classification, as of ``date``."""

    model_config = ConfigDict(frozen=True)

    date: dt.date
    natures: tuple[NatureClassification, ...]
    matieres: tuple[Matiere, ...]

    def find(self, path: tuple[int, ...]) -> list[Matiere] | None:
        """The chain of matières for ``path`` (e.g. ``(7, 1)``), or ``None`` if it does not exist."""
        chain: list[Matiere] = []
        level: tuple[Matiere, ...] = self.matieres
        for code in path:
            found = next((m for m in level if m.code == code), None)
            if found is None:
                return None
            chain.append(found)
            level = found.children
        return chain

    def label(self, path: tuple[int, ...]) -> str | None:
        """``"Finances locales / Décisions budgétaires"`` for ``(7, 1)``."""
        chain = self.find(path)
        return " / ".join(m.libelle for m in chain) if chain else None

    def nature(self, code: int) -> NatureClassification | None:
        """The nature with this code, if listed."""
        return next((n for n in self.natures if n.code == code), None)

    def typologies(self, code: int) -> tuple[str, ...] | None:
        """Typology codes allowed for nature ``code``; ``None`` when the classification lists none."""
        n = self.nature(code)
        if n is None or not n.types_pj:
            return None
        return tuple(t.code for t in n.types_pj)

    def paths(self) -> Iterator[tuple[int, ...]]:
        """Every matière path, depth first."""

        def walk(prefix: tuple[int, ...], level: tuple[Matiere, ...]) -> Iterator[tuple[int, ...]]:
            for m in level:
                here = (*prefix, m.code)
                yield here
                yield from walk(here, m.children)

        return walk((), self.matieres)


def _q(name: str) -> str:
    return f"{{{ACTES_NS}}}{name}"


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def classification_from_element(el: Any) -> Classification:
    """Read a ``RetourClassification`` element (lenient: a nature without typology is kept)."""
    date_el = el.find(_q("DateClassification"))
    if date_el is None or not (date_el.text or "").strip():
        raise ValueError("RetourClassification sans DateClassification")
    natures = []
    for n in el.iterfind(f"{_q('NaturesActes')}/{_q('NatureActe')}"):
        natures.append(
            NatureClassification(
                code=_int(n.get(_q("CodeNatureActe"))),
                libelle=n.get(_q("Libelle"), ""),
                abbrev=n.get(_q("TypeAbrege"), ""),
                types_pj=tuple(
                    TypePJ(code=t.get(_q("CodeTypePJ"), ""), libelle=t.get(_q("Libelle"), ""))
                    for t in n.iterfind(_q("TypePJNatureActe"))
                ),
            )
        )

    def matieres(parent: Any, level: int) -> tuple[Matiere, ...]:
        if level > 5:
            return ()
        out = []
        for m in parent.iterfind(_q(f"Matiere{level}")):
            code = _int(m.get(_q("CodeMatiere")))
            if code is None:
                continue
            out.append(Matiere(code=code, libelle=m.get(_q("Libelle"), ""), children=matieres(m, level + 1)))
        return tuple(out)

    return Classification(
        date=dt.date.fromisoformat(date_el.text.strip()),
        natures=tuple(natures),
        matieres=matieres(el.find(_q("Matieres")) if el.find(_q("Matieres")) is not None else el, 1),
    )


__all__ = ["Classification", "Matiere", "NatureClassification", "TypePJ", "classification_from_element"]
