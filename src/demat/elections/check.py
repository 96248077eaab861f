"""Rules on an extraction: stable codes, French messages, the row each finding concerns.

One streaming pass over the rows; what a rule must remember (duplicates inside a list, the
order numbers of each polling station) is kept per file, i.e. per commune, so a département's
extraction is checked with the memory of its largest commune. The rule comparing communes
(:data:`RULES` ``ELECT_AUTRE_COMMUNE``) indexes the *other* sources given, and only them.

Messages never quote a name or a first name: reports and logs carry rows and codes; the
people are in the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from demat.elections.codes import birth_place_problem, list_commune_problem, nationality
from demat.elections.model import (
    FIELD_INDEX,
    ListType,
    fold_name,
    parse_birth_date,
    parse_list_type,
    sex_of,
)
from demat.elections.read import Extraction, Source, SourceFile, read_extraction
from demat.errors import ValidationError

#: Every rule: code → (severity, what it checks). Codes are stable; messages are French.
RULES: dict[str, tuple[str, str]] = {
    "ELECT_FORMAT": ("error", "le fichier n'est pas une table lisible (CSV, tableur, zip)"),
    "ELECT_COLONNES": ("error", "une colonne obligatoire manque à l'en-tête"),
    "ELECT_CHAMPS": ("error", "une ligne n'a pas autant de champs que l'en-tête"),
    "ELECT_OBLIGATOIRE": ("error", "donnée obligatoire vide (L18/L19 : noms, prénoms, sexe, date et lieu "
                          "de naissance, adresse)"),
    "ELECT_SEXE": ("error", "sexe ni M ni F"),
    "ELECT_DATE_NAISSANCE": ("error", "date de naissance illisible ou impossible"),
    "ELECT_NAISSANCE_FUTURE": ("error", "date de naissance postérieure à la date de la liste"),
    "ELECT_TYPE_LISTE": ("error", "type de liste inconnu"),
    "ELECT_CODE_COMMUNE": ("error", "code INSEE de la commune de la liste invalide"),
    "ELECT_CODE_NAISSANCE": ("error", "code INSEE de commune ou de département de naissance invalide"),
    "ELECT_NATIONALITE": ("error", "nationalité incompatible avec la liste"),
    "ELECT_DOUBLON": ("error", "électeur inscrit deux fois sur la même liste"),
    "ELECT_AUTRE_COMMUNE": ("error", "électeur inscrit aussi sur la liste d'une autre commune"),
    "ELECT_NUMERO_ORDRE": ("error", "numéro d'ordre dans le bureau absent, non numérique ou répété"),
    "ELECT_NUMERO_ORDRE_MANQUANT": ("error", "numéros d'ordre non contigus dans un bureau"),
    "ELECT_AGE_MINEUR": ("warning", "électeur de moins de 18 ans à la date de la liste"),
    "ELECT_AGE_IMPROBABLE": ("warning", "électeur de plus de 120 ans à la date de la liste"),
    "ELECT_COLONNE_INCONNUE": ("warning", "colonne non reconnue (ignorée)"),
    "ELECT_COLONNE_DOUBLE": ("warning", "deux colonnes pour la même donnée (la première est lue)"),
    "ELECT_COLONNE_ABSENTE": ("warning", "colonne attendue absente (lieu de naissance, adresse)"),
    "ELECT_ENTETE_ELISTELEC": ("warning", "en-tête e-listelec pas écrit exactement comme l'arrêté"),
    "ELECT_ENCODAGE": ("warning", "lignes non UTF-8, lues en Windows-1252"),
    "ELECT_TABLEUR": ("warning", "fichier réenregistré par un tableur : valeurs réparées"),
}  # fmt: skip


@dataclass(frozen=True)
class Finding:
    """One finding: ``code`` (see :data:`RULES`), a French ``message``, the ``row`` (1-based
    line in its file, header = 1; ``None`` for the file as a whole) and, inside a zip, the
    member ``file``."""

    code: str
    message: str
    row: int | None
    file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"row", "code", "message"}`` (+ ``"file"`` for a zip member)."""
        out: dict[str, Any] = {"row": self.row, "code": self.code, "message": self.message}
        if self.file is not None:
            out["file"] = self.file
        return out


@dataclass
class CheckReport:
    """The verdict on one source: how many electors, valid or not, errors and warnings.

    ``counts`` holds how many findings of each code there were (even beyond
    ``max_per_code``, when the lists were capped).
    """

    file: str
    electors: int
    valid: bool
    errors: list[Finding]
    warnings: list[Finding]
    counts: dict[str, int] = field(default_factory=dict)
    lists: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``file``, ``electors``, ``valid``, ``errors``, ``warnings`` (each finding
        with ``row``, ``code``, ``message``), ``counts``, ``lists``."""
        return {
            "file": self.file,
            "electors": self.electors,
            "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "counts": dict(self.counts),
            "lists": list(self.lists),
        }


_MANDATORY = (
    ("birth_name", "nom de naissance"),
    ("first_names", "prénoms"),
    ("birth_date", "date de naissance"),
)


def _identity(v: list[str], p: tuple[int, ...]) -> tuple[str, str, str, str]:
    place = v[p[FIELD_INDEX["birth_commune_code"]]].strip() or v[p[FIELD_INDEX["birth_commune_name"]]]
    return (
        fold_name(v[p[FIELD_INDEX["birth_name"]]]),
        fold_name(v[p[FIELD_INDEX["first_names"]]]),
        parse_birth_date(v[p[FIELD_INDEX["birth_date"]]].strip()).jjmmaaaa(),
        fold_name(place),
    )


@dataclass
class _Seen:
    source: int
    commune: str
    file: str
    row: int


class CrossIndex:
    """Who is on which commune's list, over several sources: the memory of the
    ``ELECT_AUTRE_COMMUNE`` rule (one entry per elector of the sources indexed)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, str], list[_Seen]] = {}

    def add(self, index: int, extraction: Extraction) -> None:
        """Index every elector of ``extraction`` as source number ``index``."""
        for e in extraction.electors:
            key = _identity(e.values, e.source.positions)
            commune = e.commune_code
            entries = self._seen.setdefault(key, [])
            if not any(s.source == index and s.commune == commune for s in entries):
                entries.append(_Seen(index, commune, e.file, e.row))

    def elsewhere(self, key: tuple[str, str, str, str], index: int, commune: str) -> _Seen | None:
        """An entry of another source for another commune, if any."""
        for s in self._seen.get(key, ()):
            if s.source != index and s.commune != commune:
                return s
        return None


@lru_cache(maxsize=1 << 15)
def _age_code(raw: str, on: dt.date) -> tuple[str, str] | None:
    born = parse_birth_date(raw)
    earliest, latest = born.earliest, born.latest
    if earliest is None or latest is None:
        return None
    if earliest > on:
        return "ELECT_NAISSANCE_FUTURE", f"née ou né après la date de la liste ({on:%d/%m/%Y})"
    try:
        adult = earliest.replace(year=earliest.year + 18)
    except ValueError:  # 29 February
        adult = dt.date(earliest.year + 18, 3, 1)
    if adult > on:
        return "ELECT_AGE_MINEUR", f"moins de 18 ans le {on:%d/%m/%Y}"
    if latest.year + 120 < on.year:
        return "ELECT_AGE_IMPROBABLE", f"plus de 120 ans le {on:%d/%m/%Y}"
    return None


@lru_cache(maxsize=1 << 14)
def _birth_code(code: str, dept: str, before_1976: bool) -> str | None:
    born = parse_birth_date("01/01/1900" if before_1976 else "01/01/2000")
    return birth_place_problem(code, dept, born)


@lru_cache(maxsize=4096)
def _nationality_problem(value: str, list_type: ListType, on: dt.date) -> str | None:
    text = value.strip()
    country = nationality(text) if text else None
    if list_type is ListType.LP:
        if text and (country is None or country.iso2 != "FR"):
            return f"nationalité « {text} » : la liste principale n'inscrit que des électeurs français"
        return None
    if not text:
        return "nationalité absente : elle est obligatoire sur une liste complémentaire"
    if country is not None and country.iso2 == "FR":
        return "nationalité française sur une liste complémentaire (réservée aux ressortissants de l'UE)"
    if country is None or not country.in_eu(on):
        return f"nationalité « {text} » : pas celle d'un État membre de l'UE le {on:%d/%m/%Y}"
    return None


class _Checker:
    def __init__(self, name: str, today: dt.date, cross: CrossIndex | None, index: int, cap: int | None):
        self.name = name
        self.today = today
        self.cross = cross
        self.index = index
        self.cap = cap
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.multi = False

    def add(self, code: str, message: str, row: int | None, file: str | None = None) -> None:
        n = self.counts.get(code, 0) + 1
        self.counts[code] = n
        if self.cap is not None and n > self.cap:
            return
        finding = Finding(code, message, row, file if self.multi else None)
        (self.warnings if RULES[code][0] == "warning" else self.errors).append(finding)

    def header(self, src: SourceFile) -> None:
        h = src.header
        for name in h.unknown:
            self.add("ELECT_COLONNE_INCONNUE", f"colonne « {name} » non reconnue, ignorée", 1, src.name)
        for name in h.duplicates:
            self.add(
                "ELECT_COLONNE_DOUBLE", f"colonne « {name} » : la donnée est déjà lue ailleurs", 1, src.name
            )
        cols = h.columns
        if "birth_commune_code" not in cols and "birth_commune_name" not in cols:
            self.add("ELECT_COLONNE_ABSENTE", "aucune colonne de lieu de naissance", 1, src.name)
        if not {"street_name", "lieu_dit", "complement1", "complement2"} & cols.keys():
            self.add("ELECT_COLONNE_ABSENTE", "aucune colonne d'adresse", 1, src.name)
        if h.kind != "reu" and not h.exact:
            self.add(
                "ELECT_ENTETE_ELISTELEC",
                "noms de colonnes e-listelec justes à la casse près (l'arrêté de 2013 les fixe exactement)",
                1,
                src.name,
            )

    def footer(self, src: SourceFile) -> None:
        if src.cp1252_lines:
            self.add(
                "ELECT_ENCODAGE",
                f"{src.cp1252_lines} ligne(s) non UTF-8 lue(s) en Windows-1252 (fichier {src.encoding})",
                src.first_cp1252_row,
                src.name,
            )
        if src.resaved_spreadsheet and src.repairs:
            what = {"postal_code": "codes postaux complétés", "insee_code": "codes INSEE complétés",
                    "date": "dates converties"}  # fmt: skip
            done = ", ".join(f"{n} {what.get(k, k)}" for k, n in sorted(src.repairs.items()))
            self.add("ELECT_TABLEUR", f"réenregistrement tableur : {done}", None, src.name)

    def run(self, extraction: Extraction) -> int:
        self.multi = extraction.container == "zip"
        count = 0
        current: SourceFile | None = None
        file_state: _FileState | None = None
        for e in extraction.electors:
            src = e.source
            if src is not current:
                if file_state is not None and current is not None:
                    file_state.finish(self)
                    self.footer(current)
                current = src
                self.header(src)
                file_state = _FileState(src, self, extraction)
            assert file_state is not None
            file_state.row(e.values, e.row, e.width)
            count += 1
        if file_state is not None and current is not None:
            file_state.finish(self)
            self.footer(current)
        for member, exc in extraction.refused:
            self.add(exc.code if exc.code in RULES else "ELECT_FORMAT", exc.message, exc.line, member)
        for src in extraction.files:
            if src.electors == 0:  # a file with a header only: still judge its header
                self.header(src)
                self.footer(src)
        return count


class _FileState:
    """What the rules remember inside one file (one commune)."""

    def __init__(self, src: SourceFile, checker: _Checker, extraction: Extraction) -> None:
        self.src = src
        self.c = checker
        p = src.positions
        self.p = p
        self.width = src.header.width
        missing = self.width
        cols = src.header.columns

        def at(name: str) -> int:
            return p[FIELD_INDEX[name]]

        self.p_list = at("list_type")
        self.p_commune = at("commune_code") if "commune_code" in cols else -1
        self.p_dept = at("department_code")
        self.p_sex, self.p_civ = at("sex"), at("civility")
        self.p_date, self.p_list_date = at("birth_date"), at("list_date")
        self.p_bcode, self.p_bdept = at("birth_commune_code"), at("birth_department_code")
        self.p_nat = at("nationality") if "nationality" in cols else -1
        self.p_order = at("bureau_order") if "bureau_order" in cols else -1
        self.p_bureau = at("bureau_code")
        self.mandatory = [(at(f), label) for f, label in _MANDATORY if at(f) != missing]
        place = [at(f) for f in ("birth_commune_code", "birth_commune_name") if at(f) != missing]
        self.place = place
        address = [
            at(f) for f in ("street_name", "lieu_dit", "complement1", "complement2") if at(f) != missing
        ]
        self.address = address
        self.check_birth_code = at("birth_commune_code") != missing or at("birth_department_code") != missing
        self.date = src.extraction_date or extraction.extraction_date or checker.today
        self.dupes: dict[tuple[Any, ...], int] = {}
        self.orders: dict[tuple[ListType, str], list[tuple[int, int]]] = {}
        self.communes: dict[str, str | None] = {}

    def commune(self, v: list[str]) -> str:
        if self.p_commune < 0:
            return self.src.commune_code or ""
        raw = v[self.p_commune].strip()
        if len(raw) == 3 and raw.isdigit():
            dept = v[self.p_dept].strip()
            if dept:
                return (dept.zfill(2) if len(dept) < 3 else dept[:2]) + raw
        return raw or (self.src.commune_code or "")

    def row(self, v: list[str], row: int, width: int) -> None:
        c = self.c
        name = self.src.name
        add = c.add
        if width != self.width:
            add("ELECT_CHAMPS", f"{width} champ(s) pour {self.width} colonne(s) d'en-tête", row, name)
        raw_lt = v[self.p_list]
        lt = parse_list_type(raw_lt) if raw_lt else self.src.list_type
        if lt is None:
            add("ELECT_TYPE_LISTE", f"type de liste « {raw_lt.strip()} » inconnu", row, name)
        commune = self.commune(v)
        if self.p_commune >= 0 or commune:
            problem = self.communes.get(commune, "")
            if problem == "":
                problem = self.communes[commune] = list_commune_problem(commune)
            if problem is not None:
                add("ELECT_CODE_COMMUNE", problem, row, name)
        empty = [label for i, label in self.mandatory if not v[i].strip()]
        sex = v[self.p_sex].strip()
        if not sex or (sex != "M" and sex != "F"):
            sex = sex_of(sex, v[self.p_civ])
            if not sex:
                empty.append("sexe")
            elif sex != "M" and sex != "F":
                add("ELECT_SEXE", f"sexe « {sex} » : M ou F attendu", row, name)
        if self.place and not any(v[i].strip() for i in self.place):
            empty.append("lieu de naissance")
        if self.address and not any(v[i].strip() for i in self.address):
            empty.append("adresse")
        if empty:
            add("ELECT_OBLIGATOIRE", f"donnée(s) obligatoire(s) vide(s) : {', '.join(empty)}", row, name)
        raw_date = v[self.p_date].strip()
        on = self.date
        list_date = v[self.p_list_date].strip()
        if list_date:
            parsed = parse_birth_date(list_date).date
            on = parsed or on
        born = parse_birth_date(raw_date)
        if raw_date and not born.valid:
            add(
                "ELECT_DATE_NAISSANCE",
                "date de naissance illisible ou impossible (JJ/MM/AAAA attendu)",
                row,
                name,
            )
        elif raw_date:
            verdict = _age_code(raw_date, on)
            if verdict is not None:
                add(verdict[0], verdict[1], row, name)
        if self.check_birth_code:
            code, dept = v[self.p_bcode], v[self.p_bdept]
            if code or dept:
                before = born.year is not None and born.year < 1976
                problem = _birth_code(code, dept, before)
                if problem is not None:
                    add("ELECT_CODE_NAISSANCE", problem, row, name)
        if lt is None:
            return
        if self.p_nat >= 0:
            problem = _nationality_problem(v[self.p_nat], lt, on)
            if problem is not None:
                add("ELECT_NATIONALITE", problem, row, name)
        key = _identity(v, self.p)
        if key[0] and key[1]:
            first = self.dupes.setdefault((commune, lt, *key), row)
            if first != row:
                add("ELECT_DOUBLON", f"même électeur qu'à la ligne {first} sur la {lt.label}", row, name)
            cross = c.cross
            if cross is not None:
                other = cross.elsewhere(key, c.index, commune)
                if other is not None:
                    add(
                        "ELECT_AUTRE_COMMUNE",
                        f"inscrit aussi sur une liste de la commune {other.commune} "
                        f"({other.file}, ligne {other.row})",
                        row,
                        name,
                    )
        if self.p_order >= 0:
            number = v[self.p_order].strip()
            if number.isdigit() and int(number) > 0:
                self.orders.setdefault((lt, v[self.p_bureau].strip()), []).append((int(number), row))
            else:
                add("ELECT_NUMERO_ORDRE", "numéro d'ordre dans le bureau absent ou non numérique", row, name)

    def finish(self, c: _Checker) -> None:
        name = self.src.name
        found: list[tuple[int, str, str]] = []
        for (lt, bureau), numbers in self.orders.items():
            numbers.sort()
            expected = 1
            previous = None
            where = f"bureau {bureau or '(sans code)'}, {lt.label}"
            for number, row in numbers:
                if number == previous:
                    found.append((row, "ELECT_NUMERO_ORDRE", f"numéro d'ordre {number} répété ({where})"))
                    continue
                if number > expected:
                    gap = f"{expected}" if number == expected + 1 else f"{expected} à {number - 1}"
                    found.append(
                        (row, "ELECT_NUMERO_ORDRE_MANQUANT", f"numéro(s) d'ordre {gap} absent(s) ({where})")
                    )
                previous = number
                expected = number + 1
        for row, code, message in sorted(found):
            c.add(code, message, row, name)


def _open(source: Source | Extraction) -> Extraction:
    return source if isinstance(source, Extraction) else read_extraction(source)


def _name(source: Source | Extraction) -> str:
    if isinstance(source, Extraction):
        return source.name
    return str(source) if isinstance(source, Path) else "<bytes>"


def _refused(name: str, exc: ValidationError) -> CheckReport:
    code = exc.code if exc.code in RULES else "ELECT_FORMAT"
    finding = Finding(code, exc.message, exc.line)
    return CheckReport(name, 0, False, [finding], [], {code: 1})


def _check_one(
    source: Source | Extraction, today: dt.date | None, cross: CrossIndex | None, index: int, cap: int | None
) -> CheckReport:
    name = _name(source)
    try:
        extraction = _open(source)
    except ValidationError as exc:
        return _refused(name, exc)
    checker = _Checker(extraction.name, today or dt.date.today(), cross, index, cap)
    try:
        count = checker.run(extraction)
    except ValidationError as exc:
        return _refused(extraction.name, exc)
    return CheckReport(
        extraction.name,
        count,
        not checker.counts.keys() - {k for k, (sev, _) in RULES.items() if sev == "warning"},
        checker.errors,
        checker.warnings,
        dict(checker.counts),
        [li.to_dict() for li in extraction.lists],
    )


def check_extraction(
    source: Source | Extraction,
    *,
    other_sources: Iterable[Source | Extraction] = (),
    today: dt.date | None = None,
    max_per_code: int | None = None,
) -> CheckReport:
    """Check one extraction (path, bytes or an :class:`~demat.elections.read.Extraction`).

    ``other_sources`` are other communes' extractions: an elector of ``source`` also on one
    of their lists is reported (``ELECT_AUTRE_COMMUNE``). ``today`` is the date ages are judged
    at when neither the file name nor the rows date the list (default: today).
    ``max_per_code`` caps the findings kept per code (``counts`` stays exact). A file that
    cannot be read as an extraction gives an invalid report with one finding, not an error;
    I/O errors (:class:`~demat.errors.FileUnreadable`) propagate.
    """
    others = list(other_sources)
    cross = None
    if others:
        cross = CrossIndex()
        for i, other in enumerate(others, start=1):
            try:
                cross.add(i, _open(other))
            except ValidationError:
                continue  # an unreadable other source names no elector
    return _check_one(source, today, cross, 0, max_per_code)


def check_extractions(
    sources: Sequence[Source | Extraction], *, today: dt.date | None = None, max_per_code: int | None = None
) -> list[CheckReport]:
    """Check several extractions, each against the others (one index built once for all):
    the reports in the order given."""
    opened: list[Source | Extraction] = []
    for source in sources:
        try:
            opened.append(_open(source))
        except ValidationError:
            opened.append(source)
    cross = None
    if len(sources) > 1:
        cross = CrossIndex()
        for i, item in enumerate(opened):
            if isinstance(item, Extraction):
                cross.add(i, item)
    return [_check_one(item, today, cross, i, max_per_code) for i, item in enumerate(opened)]


__all__ = [
    "RULES",
    "CheckReport",
    "CrossIndex",
    "Finding",
    "check_extraction",
    "check_extractions",
]
