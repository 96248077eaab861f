"""What an acte is, as a collectivité describes it before it is packaged.

These models check the *shape* of the data (lengths, patterns the ACTES schema imposes);
business rules that need context (today's date, the préfecture's classification, file
contents) live in :mod:`demat.actes.rules`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from io import BytesIO
from pathlib import Path
from typing import IO, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Namespace of every ACTES message (schema ``actesv1_1.xsd``; unchanged since 2004).
ACTES_NS = "http://www.interieur.gouv.fr/ACTES#v1.1-20040216"
#: Namespace of the INSEE attributes (``insee:SIREN``).
INSEE_NS = "http://xml.insee.fr/schema"

#: ``Email`` simple type of the ACTES schema.
EMAIL_PATTERN = r"^[_a-zA-Z0-9\-]+(\.[_a-zA-Z0-9\-]+)*@[a-zA-Z0-9\-]+(\.[a-zA-Z0-9\-]+)*\.[a-zA-Z]{2,6}$"
#: ``IDActe`` attribute of the ACTES schema: DEP-SIREN-YYYYMMDD-NUMERO-XX.
ID_ACTE_PATTERN = r"^[09][0-9][AB0-9]-[0-9]{9}-[0-9]{8}-[a-zA-Z0-9_]{1,15}-[A-Z]{2}$"
#: Type de pièce (typologie): five characters, e.g. ``99_DE``.
TYPOLOGY_PATTERN = r"^[A-Z0-9_]{5}$"

Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]


class Nature(IntEnum):
    """Nature of an acte (``CodeNatureActe``); the member name is its ``TypeAbrege``."""

    DE = 1
    AR = 2
    AI = 3
    CC = 4
    BF = 5
    AU = 6

    @property
    def abbrev(self) -> str:
        """Two-letter code used in IDActe and file names (``DE``, ``AR``…)."""
        return self.name

    @property
    def label(self) -> str:
        """French label of the nature."""
        return _NATURE_LABELS[self]

    @property
    def default_typology(self) -> str:
        """Typology S²LOW applied to the acte before typologies existed (``99_DE``…)."""
        return _LEGACY_TYPOLOGY[self]

    @classmethod
    def parse(cls, value: object) -> Nature:
        """Accept a code (``1``, ``"1"``) or an abbreviation (``"DE"``)."""
        if isinstance(value, Nature):
            return value
        if isinstance(value, int):
            return cls(value)
        text = str(value).strip().upper()
        if text.isdigit():
            return cls(int(text))
        try:
            return cls[text]
        except KeyError:
            raise ValueError(f"nature d'acte inconnue : {value!r} (1-6 ou DE, AR, AI, CC, BF, AU)") from None


_NATURE_LABELS = {
    Nature.DE: "Délibérations",
    Nature.AR: "Actes réglementaires",
    Nature.AI: "Actes individuels",
    Nature.CC: "Contrats, conventions et avenants",
    Nature.BF: "Documents budgétaires et financiers",
    Nature.AU: "Autres",
}
_LEGACY_TYPOLOGY = {
    Nature.DE: "99_DE",
    Nature.AR: "99_AR",
    Nature.AI: "99_AI",
    Nature.CC: "99_DC",
    Nature.BF: "99_BU",
    Nature.AU: "99_AU",
}
#: Typology S²LOW gave annexes before typologies existed.
LEGACY_ANNEX_TYPOLOGY = "99_AU"


def parse_matieres(value: object) -> tuple[int, ...]:
    """``"7.1"``, ``"7-1"``, ``(7, 1)`` or ``[7, 1]`` → ``(7, 1)``."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[.\-/ ]", value.strip()) if p]
        if not parts or not all(p.isdigit() for p in parts):
            raise ValueError(f"matière illisible : {value!r} (attendu p. ex. 7.1)")
        return tuple(int(p) for p in parts)
    if isinstance(value, list | tuple):
        return tuple(int(v) for v in value)
    raise ValueError(f"matière illisible : {value!r}")


def normalize_departement(value: str) -> str:
    """``"34"`` → ``"034"``, ``"2A"`` → ``"02A"``, ``"974"`` unchanged (ACTES writes 3 characters)."""
    v = value.strip().upper()
    return v.rjust(3, "0") if len(v) < 3 else v


class ActesIdentity(BaseModel):
    """Who sends: the collectivité as the envelope (``EnveloppeCLMISILL``) names it.

    :func:`demat.gateway.identity.actes_identity` builds one from a settings profile.
    """

    model_config = ConfigDict(frozen=True)

    siren: str = Field(pattern=r"^\d{9}$")
    departement: str = Field(pattern=r"^[09][0-9][AB0-9]$", description="3 caractères : 034, 02A, 974")
    arrondissement: str = Field(default="0", pattern=r"^[0-9]$")
    nature: str = Field(pattern=r"^[0-9]{2}$", description="nature de la collectivité, 2 chiffres")
    referent_nom: str | None = None
    referent_telephone: str | None = None
    referent_email: Email | None = None
    return_emails: tuple[Email, ...] = Field(min_length=1)

    @field_validator("departement", mode="before")
    @classmethod
    def _dept(cls, v: Any) -> Any:
        return normalize_departement(v) if isinstance(v, str) else v

    @field_validator("nature", mode="before")
    @classmethod
    def _nature(cls, v: Any) -> Any:
        if isinstance(v, int) or (isinstance(v, str) and v.isdigit() and len(v) == 1):
            return f"{int(v):02d}"
        return v

    @field_validator("arrondissement", mode="before")
    @classmethod
    def _arr(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class ActeDocument(BaseModel):
    """One file of an acte: the acte itself or an annex.

    ``content`` is either the bytes or a :class:`~pathlib.Path`; a path is only opened when
    the package is written, so a 150 MiB acte never has to sit in memory.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    filename: str = Field(min_length=1, description="nom d'origine (informatif)")
    typology: str = Field(pattern=TYPOLOGY_PATTERN, description="type de pièce, p. ex. 99_DE")
    content: bytes | Path
    signature: bytes | None = Field(
        default=None, description="signature détachée (PKCS#7/CMS DER), portée en base64 dans le message"
    )

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, v: Any) -> Any:
        # A str is a path, never content: without this pydantic would encode it to bytes.
        if isinstance(v, str | os.PathLike):
            return Path(v)
        return v

    @property
    def size(self) -> int:
        """Size in bytes (stat for a path)."""
        if isinstance(self.content, bytes):
            return len(self.content)
        return self.content.stat().st_size

    def head(self, n: int = 64) -> bytes:
        """The first ``n`` bytes (for content sniffing)."""
        if isinstance(self.content, bytes):
            return self.content[:n]
        with self.content.open("rb") as f:
            return f.read(n)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """A binary stream over the content."""
        if isinstance(self.content, bytes):
            yield BytesIO(self.content)
        else:
            with self.content.open("rb") as f:
                yield f

    @classmethod
    def from_path(cls, path: Path, typology: str) -> ActeDocument:
        """A document read lazily from ``path``."""
        return cls(filename=path.name, typology=typology, content=path)


class Acte(BaseModel):
    """An acte to transmit (message ``1-1``): metadata, the acte document and its annexes."""

    model_config = ConfigDict(frozen=True)

    nature: Nature
    numero: str = Field(min_length=1, max_length=15, description="numéro interne")
    date: dt.date = Field(description="date de la décision")
    objet: str = Field(min_length=1)
    matieres: tuple[int, ...] = Field(min_length=2, max_length=5, description="p. ex. (7, 1)")
    classification_date: dt.date = Field(description="date de la classification utilisée")
    document: ActeDocument
    annexes: tuple[ActeDocument, ...] = ()
    document_papier: bool = False
    precedent_id_acte: str | None = Field(default=None, pattern=ID_ACTE_PATTERN)

    @field_validator("nature", mode="before")
    @classmethod
    def _nature(cls, v: Any) -> Any:
        return Nature.parse(v)

    @field_validator("matieres", mode="before")
    @classmethod
    def _matieres(cls, v: Any) -> Any:
        return parse_matieres(v)

    @field_validator("matieres")
    @classmethod
    def _matieres_positive(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(m < 0 for m in v):
            raise ValueError("codes matière négatifs")
        return v

    @property
    def documents(self) -> tuple[ActeDocument, ...]:
        """The acte document followed by its annexes (their order in the package)."""
        return (self.document, *self.annexes)

    def id_acte(self, identity: ActesIdentity) -> str:
        """The IDActe the préfecture will assign (``DEP-SIREN-YYYYMMDD-NUMERO-XX``)."""
        return (
            f"{identity.departement}-{identity.siren}-{self.date:%Y%m%d}-{self.numero}-{self.nature.abbrev}"
        )


__all__ = [
    "ACTES_NS",
    "EMAIL_PATTERN",
    "ID_ACTE_PATTERN",
    "INSEE_NS",
    "LEGACY_ANNEX_TYPOLOGY",
    "TYPOLOGY_PATTERN",
    "Acte",
    "ActeDocument",
    "ActesIdentity",
    "Nature",
    "normalize_departement",
    "parse_matieres",
]
