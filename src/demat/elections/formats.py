"""Export formats as data: a préfecture's format is a small TOML file, validated before use.

A format file names its columns in order (each a model field, or a constant ``value``), the
separator or fixed widths, the encoding, the date pattern (``JJ``, ``MM``, ``AAAA``, ``AA``),
value mappings (``[values.list_type]`` gives the code of each list, ``[values.sex]``…) and how
files are split and named. demat ships three (:data:`BUILTIN_FORMATS`): the national e-listelec
format of 2013 and two historical préfecture variants. Example::

    name = "ma-prefecture"
    encoding = "cp1252"
    separator = "|"
    date_format = "AAAAMMJJ"
    split_by_list = true
    file_name = "{commune}_{list}.txt"

    [values.list_type]
    LP = "G"
    LCE = "E"
    LCM = "M"

    [[columns]]
    name = "Liste"
    field = "list_type"

    [[columns]]
    name = "Nom"
    field = "birth_name"
    upper = true

A file that does not hold (unknown key or field, a fixed-width column without a width, an
encoding Python does not know, a date pattern without a year…) is refused with every reason
at once (:class:`~demat.errors.ConfigError`, code ``ELECT_FORMAT_FICHIER``).
"""

from __future__ import annotations

import codecs
import re
import string
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from demat.elections.model import FIELDS, ListType
from demat.errors import ConfigError

#: Fields a format may name besides :data:`~demat.elections.model.FIELDS`, computed from the
#: row: the ISO code of the nationality, the birth place (the commune's name, else its code:
#: REU extractions may carry only the code, and e-listelec asks for the place).
COMPUTED_FIELDS = ("nationality_iso2", "birth_place")

_FILE_NAME_KEYS = {"commune", "list", "date", "name"}


class Column(BaseModel):
    """One output column: a model ``field`` or a constant ``value``; its own ``values``
    mapping (over the format's), upper-casing, and for fixed width its ``width``, ``align``
    and ``pad``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    field: str | None = None
    value: str | None = None
    values: dict[str, str] | None = None
    upper: bool = False
    width: int | None = Field(default=None, gt=0, le=10_000)
    align: Literal["left", "right"] = "left"
    pad: str = Field(default=" ", min_length=1, max_length=1)

    @model_validator(mode="after")
    def _source(self) -> Column:
        if (self.field is None) == (self.value is None):
            raise ValueError(f"colonne « {self.name} » : donner soit field, soit value")
        if self.field is not None and self.field not in FIELDS and self.field not in COMPUTED_FIELDS:
            raise ValueError(f"colonne « {self.name} » : champ inconnu « {self.field} »")
        return self


class ExportFormat(BaseModel):
    """A declarative export format (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    encoding: str = "utf-8"
    separator: str | None = None
    fixed_width: bool = False
    header: bool = True
    line_ending: Literal["crlf", "lf"] = "crlf"
    date_format: str = "JJ/MM/AAAA"
    quote: Literal["minimal", "all", "none"] = "minimal"
    split_by_list: bool = True
    file_name: str = "{commune}_{list}.csv"
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    columns: list[Column] = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> ExportFormat:
        problems: list[str] = []
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            problems.append(f"encodage inconnu « {self.encoding} »")
        if self.fixed_width:
            if self.separator is not None:
                problems.append("largeur fixe : pas de séparateur")
            problems += [
                f"colonne « {c.name} » : largeur (width) obligatoire" for c in self.columns if not c.width
            ]
        elif self.separator is None or len(self.separator) != 1 or self.separator in '\r\n"':
            problems.append("separator : un caractère (ni guillemet ni fin de ligne) attendu")
        if "AAAA" not in self.date_format and "AA" not in self.date_format:
            problems.append(f"date_format « {self.date_format} » : l'année (AAAA ou AA) manque")
        if re.sub(r"JJ|MM|AAAA|AA", "", self.date_format).strip("/-. "):
            problems.append(
                f"date_format « {self.date_format} » : seuls JJ, MM, AAAA, AA et / - . sont permis"
            )
        names = [c.name for c in self.columns]
        doubles = sorted({n for n in names if names.count(n) > 1})
        if doubles:
            problems.append(f"colonnes en double : {', '.join(doubles)}")
        for fld in self.values:
            if fld not in FIELDS:
                problems.append(f"values.{fld} : champ inconnu")
        for code in self.values.get("list_type", {}):
            if code not in ListType.__members__:
                problems.append(f"values.list_type.{code} : LP, LCE ou LCM attendu")
        keys = {k for _, k, _, _ in string.Formatter().parse(self.file_name) if k is not None}
        if keys - _FILE_NAME_KEYS:
            problems.append(f"file_name : clés inconnues {sorted(keys - _FILE_NAME_KEYS)}")
        if self.split_by_list and "list" not in keys:
            problems.append("file_name : {list} est obligatoire quand split_by_list est vrai")
        if "/" in self.file_name or "\\" in self.file_name or self.file_name.startswith("."):
            problems.append("file_name : un nom de fichier, pas un chemin")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def newline(self) -> str:
        """The line end written."""
        return "\r\n" if self.line_ending == "crlf" else "\n"


def _refused(origin: str, reasons: list[str]) -> ConfigError:
    return ConfigError(f"format refusé : {'; '.join(reasons)}", file=origin, code="ELECT_FORMAT_FICHIER")


def parse_format(data: dict[str, Any], *, origin: str = "<format>") -> ExportFormat:
    """Validate a format given as a mapping (a parsed TOML file)."""
    try:
        return ExportFormat.model_validate(data)
    except pydantic.ValidationError as exc:
        reasons = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            message = str(err["msg"]).removeprefix("Value error, ")
            reasons.append(f"{where} : {message}" if where else message)
        raise _refused(origin, reasons) from exc


def load_format(path: Path) -> ExportFormat:
    """Read and validate a format file (TOML)."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        from demat.errors import FileUnreadable

        raise FileUnreadable.from_os_error(exc, path) from exc
    except UnicodeDecodeError as exc:
        raise _refused(str(path), [f"le fichier n'est pas en UTF-8 ({exc.reason})"]) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _refused(str(path), [f"TOML illisible : {exc}"]) from exc
    return parse_format(data, origin=str(path))


def _builtin_dir() -> Any:
    return resources.files("demat.elections").joinpath("format_files")


#: Names of the formats demat ships (``src/demat/elections/format_files/*.toml``).
BUILTIN_FORMATS: tuple[str, ...] = ("elistelec", "prefecture-civilite", "prefecture-largeur-fixe")


def builtin_format(name: str) -> ExportFormat:
    """One of :data:`BUILTIN_FORMATS`, by name."""
    if name not in BUILTIN_FORMATS:
        raise ConfigError(
            f"format « {name} » inconnu (fournis : {', '.join(BUILTIN_FORMATS)} ; ou un fichier .toml)",
            code="ELECT_FORMAT_FICHIER",
        )
    text = _builtin_dir().joinpath(f"{name}.toml").read_text("utf-8")
    return parse_format(tomllib.loads(text), origin=f"{name}.toml")


def builtin_format_path(name: str) -> Path:
    """Where a shipped format file is (to copy it as a starting point)."""
    builtin_format(name)
    return Path(str(_builtin_dir().joinpath(f"{name}.toml")))


__all__ = [
    "BUILTIN_FORMATS",
    "COMPUTED_FIELDS",
    "Column",
    "ExportFormat",
    "builtin_format",
    "builtin_format_path",
    "load_format",
    "parse_format",
]
