"""Electors and lists as read from an extraction.

An :class:`Elector` is a light view over one row of the source file: its raw text values (as the
file holds them, spreadsheet values already turned back into text), the file it comes from and
its line. Each field reads the raw value of the column that carries it, or ``""`` when the
extraction has no such column; the few values that need interpreting (list type, sex, birth
date, commune) are parsed on access and cached by value, so reading a département's 1.84 million
rows builds no large object per row.

Field names (:data:`FIELDS`) are the vocabulary of the whole package: the header alias table maps
every column seen in the wild to one of them, the export formats name them, the rules report on
them.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

if TYPE_CHECKING:
    from demat.elections.read import SourceFile


class ListType(enum.StrEnum):
    """The three electoral lists of a commune."""

    LP = "LP"
    """Liste principale (liste générale before 2019): French electors."""
    LCE = "LCE"
    """Liste complémentaire européenne: EU nationals voting at European elections."""
    LCM = "LCM"
    """Liste complémentaire municipale: EU nationals voting at municipal elections."""

    @property
    def label(self) -> str:
        """The French name of the list."""
        return _LIST_LABELS[self]


_LIST_LABELS = {
    ListType.LP: "liste principale",
    ListType.LCE: "liste complémentaire européenne",
    ListType.LCM: "liste complémentaire municipale",
}

#: Every field an elector row may carry, in the order of the model (and of the XML export).
FIELDS: tuple[str, ...] = (
    "list_type",
    "list_info",
    "list_date",
    "commune_code",
    "commune_name",
    "department_code",
    "elector_number",
    "civility",
    "sex",
    "birth_name",
    "usage_name",
    "first_names",
    "birth_date",
    "birth_commune_code",
    "birth_commune_name",
    "birth_department_code",
    "birth_country",
    "nationality",
    "bureau_code",
    "bureau_label",
    "bureau_order",
    "canton_code",
    "canton_label",
    "circonscription_code",
    "circonscription_label",
    "complement1",
    "complement2",
    "street_number",
    "street_type",
    "street_name",
    "lieu_dit",
    "postal_code",
    "city",
    "country",
    "ine",
)

#: Position of each field in :data:`FIELDS`.
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELDS)}

#: Fields that hold a date (converted back to JJ/MM/AAAA when a spreadsheet stored a date).
DATE_FIELDS = frozenset({"birth_date", "list_date"})

#: Fields of the postal address, compared by the tableau (with the bureau and the usage name).
ADDRESS_FIELDS: tuple[str, ...] = (
    "street_number",
    "street_type",
    "street_name",
    "complement1",
    "complement2",
    "lieu_dit",
    "postal_code",
    "city",
)


@lru_cache(maxsize=1 << 13)
def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text``: NFKD, combining marks dropped, casefolded,
    apostrophes unified, hyphens, underscores and dots as spaces, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = re.sub(r"[’‘ʼ`´]", "'", bare.casefold())
    bare = re.sub(r"[-_.\s]+", " ", bare)
    return re.sub(r"\s*'\s*", "'", bare).strip()


def _name_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x250):
        folded = re.sub(r"[^0-9a-z]", "", fold(chr(code)))
        table[code] = folded or None
    for extra, folded in (("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae"), ("ß", "ss"), ("ø", "o"),
                          ("Ø", "o"), ("ł", "l"), ("Ł", "l"), ("đ", "d"), ("Đ", "d")):  # fmt: skip
        table[ord(extra)] = folded
    return table


_NAME_TABLE = _name_table()


def fold_name(text: str) -> str:
    """A person's name as compared across files: lower case, no accents, no punctuation nor
    spaces (one ``str.translate``: cheap enough for every row of a département)."""
    return text.translate(_NAME_TABLE)


@dataclass(frozen=True, slots=True)
class BirthDate:
    """A birth date as written (``raw``) and as understood.

    ``00`` as day or month is real and frequent (an unknown day or month, recorded by INSEE):
    ``day`` or ``month`` is then ``None`` and the date is *partial*. ``valid`` is false when
    the text is not a date at all (``31/02/1980``, ``1980-13-01``, empty).
    """

    raw: str
    year: int | None
    month: int | None
    day: int | None
    valid: bool

    @property
    def partial(self) -> bool:
        """Day or month unknown (``00``)."""
        return self.valid and (self.day is None or self.month is None)

    @property
    def date(self) -> dt.date | None:
        """The full date, or ``None`` when partial or invalid."""
        if not self.valid or self.year is None or self.month is None or self.day is None:
            return None
        return dt.date(self.year, self.month, self.day)

    @property
    def earliest(self) -> dt.date | None:
        """The first day the birth may have been (1 January of the year for ``00/00/AAAA``)."""
        if not self.valid or self.year is None:
            return None
        return dt.date(self.year, self.month or 1, self.day or 1)

    @property
    def latest(self) -> dt.date | None:
        """The last day the birth may have been."""
        if not self.valid or self.year is None:
            return None
        if self.month is None:
            return dt.date(self.year, 12, 31)
        if self.day is None:
            following = dt.date(self.year + self.month // 12, self.month % 12 + 1, 1)
            return following - dt.timedelta(days=1)
        return dt.date(self.year, self.month, self.day)

    def jjmmaaaa(self, separator: str = "/") -> str:
        """The date as ``JJ/MM/AAAA`` (``00`` for an unknown part); the raw text when invalid."""
        if not self.valid or self.year is None:
            return self.raw
        return f"{self.day or 0:02d}{separator}{self.month or 0:02d}{separator}{self.year:04d}"

    def formatted(self, pattern: str) -> str:
        """The date in ``pattern``, whose tokens are ``JJ``, ``MM``, ``AAAA`` and ``AA``
        (``00`` for an unknown part); the raw text when invalid."""
        if not self.valid or self.year is None:
            return self.raw
        out = pattern.replace("AAAA", f"{self.year:04d}").replace("AA", f"{self.year % 100:02d}")
        return out.replace("MM", f"{self.month or 0:02d}").replace("JJ", f"{self.day or 0:02d}")


_DATE_PATTERNS = (
    re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$"),  # JJ/MM/AAAA
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$"),  # AAAA-MM-JJ (ISO)
    re.compile(r"^(\d{2})(\d{2})(\d{4})$"),  # JJMMAAAA (INSEE text files)
)


@lru_cache(maxsize=1 << 16)
def parse_birth_date(raw: str) -> BirthDate:
    """Read a birth date as extractions write it: ``JJ/MM/AAAA`` (with ``00`` parts, an
    optional time as some tools add), ``AAAA-MM-JJ`` or ``JJMMAAAA``."""
    text = raw.strip()
    for index, pattern in enumerate(_DATE_PATTERNS):
        m = pattern.match(text)
        if m is None:
            continue
        a, b, c = (int(g) for g in m.groups())
        year, month, day = (a, b, c) if index == 1 else (c, b, a)
        return _birth_date(raw, year, month, day)
    return BirthDate(raw, None, None, None, False)


def _birth_date(raw: str, year: int, month: int, day: int) -> BirthDate:
    if month > 12 or year < 1800:
        return BirthDate(raw, None, None, None, False)
    if month and day:
        try:
            dt.date(year, month, day)
        except ValueError:
            return BirthDate(raw, None, None, None, False)
    elif day > 31 or (day and not month):
        return BirthDate(raw, None, None, None, False)
    return BirthDate(raw, year, month or None, day or None, True)


_LIST_VALUES: dict[str, ListType] = {}
for _lt, _names in {
    ListType.LP: (
        "lp", "p", "g", "lg", "1", "01", "principale", "liste principale", "generale",
        "liste generale", "liste electorale generale", "liste electorale principale",
    ),
    ListType.LCE: (
        "lce", "ce", "e", "2", "02", "liste complementaire europeenne",
        "liste complementaire europeennes", "liste complementaire europeen",
        "complementaire europeenne", "europeenne", "liste electorale complementaire europeenne",
    ),
    ListType.LCM: (
        "lcm", "cm", "m", "3", "03", "liste complementaire municipale",
        "liste complementaire municipales", "complementaire municipale", "municipale",
        "liste electorale complementaire municipale",
    ),
}.items():  # fmt: skip
    for _name in _names:
        _LIST_VALUES[_name] = _lt


@lru_cache(maxsize=256)
def parse_list_type(raw: str) -> ListType | None:
    """The list a value names: ``LP``/``LCE``/``LCM``, the long French names (any case, with or
    without accents, singular or plural), openElec's ``01``/``02``/``03`` and the one-letter
    codes ``G``/``E``/``M`` of the 21-column variant; ``None`` when unknown."""
    return _LIST_VALUES.get(fold(raw))


_CIVILITY_SEX = {"m": "M", "mr": "M", "monsieur": "M", "mme": "F", "madame": "F", "mlle": "F",
                 "mademoiselle": "F"}  # fmt: skip


@lru_cache(maxsize=64)
def sex_of(sex: str, civility: str) -> str:
    """``M`` or ``F`` from the sex column, else from the civility (``M``/``MME``/``MLLE``);
    the raw sex (stripped, upper-cased) when neither reads as one."""
    s = sex.strip().upper()
    if s in ("M", "F"):
        return s
    if not s and civility.strip():
        return _CIVILITY_SEX.get(fold(civility).replace(" ", ""), civility.strip().upper())
    return s


class _Text:
    """Descriptor: the raw text of one field of the row (``""`` when the file lacks it)."""

    __slots__ = ("index",)

    def __init__(self, name: str) -> None:
        self.index = FIELD_INDEX[name]

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _Text: ...
    @overload
    def __get__(self, obj: Elector, owner: type[Any]) -> str: ...
    def __get__(self, obj: Elector | None, owner: type[Any]) -> _Text | str:
        if obj is None:
            return self
        return obj.values[obj.source.positions[self.index]]


class Elector:
    """One row of an extraction: one elector on one list.

    ``values`` are the row's raw texts, in the file's column order, with one ``""`` appended
    that every field the file lacks points to; ``source`` is the file (or zip member) and
    ``row`` the 1-based line where the row starts (header = 1; the spreadsheet row for
    ``.xlsx``). ``width`` is how many fields the line really had.
    """

    __slots__ = ("row", "source", "values", "width")

    def __init__(self, values: list[str], source: SourceFile, row: int, width: int) -> None:
        self.values = values
        self.source = source
        self.row = row
        self.width = width

    list_info = _Text("list_info")
    list_date = _Text("list_date")
    commune_name = _Text("commune_name")
    elector_number = _Text("elector_number")
    civility = _Text("civility")
    birth_name = _Text("birth_name")
    usage_name = _Text("usage_name")
    first_names = _Text("first_names")
    birth_commune_code = _Text("birth_commune_code")
    birth_commune_name = _Text("birth_commune_name")
    birth_department_code = _Text("birth_department_code")
    birth_country = _Text("birth_country")
    nationality = _Text("nationality")
    bureau_code = _Text("bureau_code")
    bureau_label = _Text("bureau_label")
    bureau_order = _Text("bureau_order")
    canton_code = _Text("canton_code")
    canton_label = _Text("canton_label")
    circonscription_code = _Text("circonscription_code")
    circonscription_label = _Text("circonscription_label")
    complement1 = _Text("complement1")
    complement2 = _Text("complement2")
    street_number = _Text("street_number")
    street_type = _Text("street_type")
    street_name = _Text("street_name")
    lieu_dit = _Text("lieu_dit")
    postal_code = _Text("postal_code")
    city = _Text("city")
    country = _Text("country")
    ine = _Text("ine")

    def raw(self, name: str) -> str:
        """The raw text of field ``name`` (``""`` when the file has no such column)."""
        return self.values[self.source.positions[FIELD_INDEX[name]]]

    @property
    def list_type_raw(self) -> str:
        """The list type as written in the row (``""`` when the file names it elsewhere)."""
        return self.raw("list_type")

    @property
    def list_type(self) -> ListType | None:
        """The elector's list: from the row, else from the file name; ``None`` if unreadable."""
        raw = self.raw("list_type")
        if raw:
            return parse_list_type(raw)
        return self.source.list_type

    @property
    def sex(self) -> str:
        """``M`` or ``F`` (from ``sexe``, else from the civility), else the raw text."""
        return sex_of(self.raw("sex"), self.raw("civility"))

    @property
    def birth_date(self) -> BirthDate:
        """The birth date, raw and parsed (possibly partial)."""
        return parse_birth_date(self.raw("birth_date"))

    @property
    def department_code(self) -> str:
        """The commune's département: the row's column, else derived from the commune code."""
        raw = self.raw("department_code").strip()
        if raw:
            return raw
        return department_of(self.commune_code)

    @property
    def commune_code(self) -> str:
        """INSEE code of the commune (or arrondissement) whose list this is: the row's column
        (a 3-digit ``CodeCommune`` is completed by ``CodeDepartement``), else the file name's."""
        source = self.source
        return commune_code_of(self.raw("commune_code"), self.raw("department_code"), source.commune_code)

    @property
    def file(self) -> str:
        """Name of the file (or zip member) the row comes from."""
        return self.source.name

    def to_dict(self) -> dict[str, Any]:
        """Every field as text (dates raw), plus ``file`` and ``row``: personal data."""
        out: dict[str, Any] = {"file": self.file, "row": self.row}
        for name in FIELDS:
            out[name] = self.raw(name)
        lt = self.list_type
        out["list_type"] = lt.value if lt is not None else self.raw("list_type")
        out["commune_code"] = self.commune_code
        out["sex"] = self.sex
        return out

    def __repr__(self) -> str:  # never the names: rows are personal data
        return f"Elector(file={self.file!r}, row={self.row})"


def commune_code_of(raw: str, department: str, default: str | None) -> str:
    """The INSEE code of a row's commune: its ``commune_code`` value stripped (a 3-digit
    ``CodeCommune`` completed by the ``department`` value), else ``default`` (the file name's)."""
    code = raw.strip()
    if code:
        if len(code) == 3 and code.isdigit():
            dept = department.strip()
            if dept:
                return (dept.zfill(2) if len(dept) < 3 else dept[:2]) + code
        return code
    return default or ""


def department_of(commune_code: str) -> str:
    """The département part of an INSEE commune code (``2A``, ``59``, ``971``); ``""`` if none."""
    code = commune_code.strip().upper()
    if len(code) != 5:
        return ""
    return code[:3] if code.startswith("97") or code.startswith("98") else code[:2]


@dataclass(frozen=True)
class ListInfo:
    """One electoral list held by an extraction: commune, list type, date, how many electors."""

    commune_code: str
    list_type: ListType | None
    extraction_date: dt.date | None
    electors: int = 0
    commune_name: str = ""
    files: Sequence[str] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no personal data)."""
        return {
            "commune_code": self.commune_code,
            "commune_name": self.commune_name,
            "list_type": self.list_type.value if self.list_type else None,
            "extraction_date": self.extraction_date.isoformat() if self.extraction_date else None,
            "electors": self.electors,
            "files": list(self.files),
        }


__all__ = [
    "ADDRESS_FIELDS",
    "DATE_FIELDS",
    "FIELDS",
    "FIELD_INDEX",
    "BirthDate",
    "Elector",
    "ListInfo",
    "ListType",
    "commune_code_of",
    "department_of",
    "fold",
    "fold_name",
    "parse_birth_date",
    "parse_list_type",
    "sex_of",
]
