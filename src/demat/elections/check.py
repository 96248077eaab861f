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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import compress, repeat
from operator import ne
from typing import Any

from demat.elections.codes import birth_place_problem, list_commune_problem, nationality
from demat.elections.columns import (
    Lookup,
    blank_rows,
    changes,
    rows_failing,
    rows_judged,
    rows_where,
    stripped,
)
from demat.elections.model import FIELD_INDEX, ListType, fold_name, parse_birth_date, sex_of
from demat.elections.read import (
    Extraction,
    RowBatch,
    Run,
    Source,
    SourceFile,
    open_extraction,
    source_name,
)
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

    @classmethod
    def refused(cls, name: str, exc: ValidationError) -> CheckReport:
        """The report on a source that cannot be read as an extraction: invalid, one finding."""
        code = exc.code if exc.code in RULES else "ELECT_FORMAT"
        return cls(name, 0, False, [Finding(code, exc.message, exc.line)], [], {code: 1})

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

#: An elector's identity as the duplicate rules compare it: folded birth name, first names,
#: birth date as JJ/MM/AAAA, folded birth place (its code, else its name), joined by ``\x1f``
#: (one string: its hash is computed once). Folded names hold no control character, so only
#: the date may hold the separator, and the parts are read back unambiguously.
Identity = str

_SEPARATOR = "\x1f"
_FOLD: Lookup[str, str] = Lookup(fold_name)


def _folded_names(batch: RowBatch) -> tuple[list[str], list[str]]:
    return _FOLD.map(batch.column("birth_name")), _FOLD.map(batch.column("first_names"))


def folded_names(batch: RowBatch) -> tuple[list[str], list[str]]:
    """Each row's birth name and first names as compared across rows (computed once per batch)."""
    result: tuple[list[str], list[str]] = batch.cached("folded_names", _folded_names)
    return result


def _birth_codes(batch: RowBatch) -> list[str]:
    result: list[str] = batch.cached("birth_codes", lambda b: stripped(b.column("birth_commune_code")))
    return result


def _identities(batch: RowBatch) -> list[Identity]:
    codes = _birth_codes(batch)
    places = codes
    if "" in codes:  # the birth commune's name where its code is missing
        name = batch.position("birth_commune_name")
        places = [c or row[name] for c, row in zip(codes, batch.rows, strict=True)]
    birth_names, first_names = folded_names(batch)
    parts = zip(birth_names, first_names, batch.birth_dates()[0], _FOLD.map(places), strict=True)
    return list(map(_SEPARATOR.join, parts))


def identities(batch: RowBatch) -> list[Identity]:
    """The :data:`Identity` of each row of ``batch`` (computed once per batch)."""
    result: list[Identity] = batch.cached("identities", _identities)
    return result


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
        self._seen: dict[Identity, list[_Seen]] = {}
        self._candidates: dict[int, set[Identity]] = {}

    @classmethod
    def of(cls, sources: Iterable[Source | Extraction]) -> CrossIndex | None:
        """The index of ``sources`` (numbered from 1: source 0 is the one checked against
        them); ``None`` when there is none. An unreadable source names no elector."""
        index = None
        for i, source in enumerate(sources, start=1):
            index = index or cls()
            try:
                index.add(i, open_extraction(source))
            except ValidationError:
                continue
        return index

    def add(self, index: int, extraction: Extraction) -> None:
        """Index every elector of ``extraction`` as source number ``index``."""
        self._candidates.clear()
        seen = self._seen
        for batch in extraction.batches():
            name = batch.source.name
            for key, commune, row in zip(
                identities(batch), batch.commune_codes(), batch.numbers, strict=True
            ):
                entries = seen.get(key)
                if entries is None:
                    seen[key] = [_Seen(index, commune, name, row)]
                elif not any(s.source == index and s.commune == commune for s in entries):
                    entries.append(_Seen(index, commune, name, row))

    def elsewhere(self, key: Identity, index: int, commune: str) -> _Seen | None:
        """An entry of another source for another commune, if any."""
        for s in self._seen.get(key, ()):
            if s.source != index and s.commune != commune:
                return s
        return None

    def candidates(self, index: int) -> set[Identity]:
        """The identities some source other than ``index`` holds (those :meth:`elsewhere` may
        find for a row of source ``index``)."""
        found = self._candidates.get(index)
        if found is None:
            found = self._candidates[index] = {
                key for key, entries in self._seen.items() if any(s.source != index for s in entries)
            }
        return found


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


def _order_number(text: str) -> int:
    """A polling-station order number (stripped text), or 0 when it is not one."""
    return int(text) if text.isdecimal() else 0


# What the column-wise look finds wanting, per distinct value: a row holding such a value is
# then judged by _FileState.row, which says exactly what is wrong (or that nothing is).


def _sex_wanting(pair: tuple[str, str]) -> bool:
    sex = pair[0].strip()
    return sex not in ("M", "F") and sex_of(sex, pair[1]) not in ("M", "F")


def _date_wanting(on: dt.date, raw: str) -> bool:
    text = raw.strip()
    if not text:
        return False
    born = parse_birth_date(text)
    if not born.valid or born.year is None:
        return True
    if on.year - 119 <= born.year <= on.year - 19:
        return False  # born (whatever the day) before the list, of age and under 120 on it
    return _age_code(text, on) is not None


def _nationality_wanting(lt: ListType | None, on: dt.date, value: str) -> bool:
    return lt is not None and _nationality_problem(value, lt, on) is not None


def _birth_place_wanting(pair: tuple[str, str]) -> tuple[bool, bool]:
    """Whether a (code, département) pair is wrong for a birth before 1976, and after."""
    code, dept = pair
    if not code and not dept:
        return False, False
    return _birth_code(code, dept, True) is not None, _birth_code(code, dept, False) is not None


def _list_date(key: tuple[str, dt.date]) -> dt.date:
    raw = key[0].strip()
    return (parse_birth_date(raw).date or key[1]) if raw else key[1]


_TABLES: dict[tuple[Any, ...], Lookup[Any, bool]] = {}


def _table(judge: Callable[..., bool], *context: Any) -> Lookup[Any, bool]:
    """What ``judge`` says of each value in one context (a list's date, a list): one table
    per context, so that the values of a column are looked up as they are."""
    key = (judge, *context)
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= 256:
            _TABLES.clear()
        table = _TABLES[key] = Lookup(partial(judge, *context))
    return table


def _unpacked(judge: Callable[..., bool], key: tuple[Any, ...]) -> bool:
    return judge(*key)


_SEX_WANTING: Lookup[tuple[str, str], bool] = Lookup(_sex_wanting)
_DATES_WANTING: Lookup[tuple[dt.date, str], bool] = Lookup(partial(_unpacked, _date_wanting))
_NATIONALITIES_WANTING: Lookup[tuple[ListType | None, dt.date, str], bool] = Lookup(
    partial(_unpacked, _nationality_wanting)
)
_BIRTH_PLACE_WANTING: Lookup[tuple[str, str], tuple[bool, bool]] = Lookup(_birth_place_wanting)
_LIST_DATES: Lookup[tuple[str, dt.date], dt.date] = Lookup(_list_date)
_MF = frozenset(("M", "F"))
_NO_LIST = frozenset((None,))
_FINE = (False, False)

#: Judge every row one by one (the tests compare this with the column-wise look).
_EVERY_ROW = False


class Checker:
    """The rules over one extraction, fed its batches in order (:meth:`batch`), then asked
    for the :meth:`report`. :func:`check_extraction` makes the pass itself; a pass that also
    exports (:func:`demat.elections.pipeline.check_and_export`) feeds both.

    ``cross`` indexes other sources (``ELECT_AUTRE_COMMUNE``), this one being source number
    ``index`` in it; ``today`` and ``max_per_code`` as for :func:`check_extraction`."""

    def __init__(
        self,
        extraction: Extraction,
        *,
        today: dt.date | None = None,
        cross: CrossIndex | None = None,
        index: int = 0,
        max_per_code: int | None = None,
    ) -> None:
        self.extraction = extraction
        self.today = today or dt.date.today()
        self.cross = cross
        self.index = index
        self.cap = max_per_code
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []
        self.counts: dict[str, int] = {}
        self.multi = extraction.container == "zip"
        self.electors = 0
        self._current: SourceFile | None = None
        self._state: _FileState | None = None

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

    def batch(self, batch: RowBatch) -> None:
        """Judge the rows of ``batch`` (each file's header and end are judged as they come)."""
        src = batch.source
        if src is not self._current:
            self._end_file()
            self._current = src
            self.header(src)
            self._state = _FileState(src, self, self.extraction)
        assert self._state is not None
        self._state.batch(batch)
        self.electors += len(batch)

    def _end_file(self) -> None:
        if self._state is not None and self._current is not None:
            self._state.finish(self)
            self.footer(self._current)
        self._state = None

    def report(self) -> CheckReport:
        """The verdict, once every batch went through :meth:`batch` (the last file's end, the
        zip members refused, the files with a header only are judged now)."""
        self._end_file()
        self._current = None
        extraction = self.extraction
        for member, exc in extraction.refused:
            self.add(exc.code if exc.code in RULES else "ELECT_FORMAT", exc.message, exc.line, member)
        for src in extraction.files:
            if src.electors == 0:  # a file with a header only: still judge its header
                self.header(src)
                self.footer(src)
        return CheckReport(
            extraction.name,
            self.electors,
            not self.counts.keys() - {k for k, (sev, _) in RULES.items() if sev == "warning"},
            self.errors,
            self.warnings,
            dict(self.counts),
            [li.to_dict() for li in extraction.lists],
        )


class _FileState:
    """What the rules remember inside one file (one commune), and how they look at its rows.

    :meth:`batch` looks at a batch column by column: each distinct value is judged once, and
    only the rows holding a value found wanting (a blank mandatory field, an unknown list, an
    impossible date, a duplicate…) are then judged one by one by :meth:`row`, which words the
    findings in row order. Duplicates and order numbers are remembered for every row."""

    def __init__(self, src: SourceFile, checker: Checker, extraction: Extraction) -> None:
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
        self.p_sex, self.p_civ = at("sex"), at("civility")
        self.p_date, self.p_list_date = at("birth_date"), at("list_date")
        self.p_bcode, self.p_bdept = at("birth_commune_code"), at("birth_department_code")
        self.p_nat = at("nationality") if "nationality" in cols else -1
        self.p_order = at("bureau_order") if "bureau_order" in cols else -1
        self.p_bureau = at("bureau_code")
        self.mandatory = [(at(f), label) for f, label in _MANDATORY if at(f) != missing]
        self.place = [at(f) for f in ("birth_commune_code", "birth_commune_name") if at(f) != missing]
        self.address = [
            at(f) for f in ("street_name", "lieu_dit", "complement1", "complement2") if at(f) != missing
        ]
        self.check_birth_code = at("birth_commune_code") != missing or at("birth_department_code") != missing
        self.check_commune = self.p_commune >= 0 or bool(src.commune_code)
        self.date = src.extraction_date or extraction.extraction_date or checker.today
        self.dupes: dict[tuple[str, ListType], dict[Identity, int]] = {}
        self.orders: dict[tuple[ListType, str], tuple[list[int], list[int]]] = {}

    def batch(self, b: RowBatch) -> None:
        n = len(b)
        lts = b.list_types()
        communes = b.commune_codes()
        runs = b.runs()
        no_list = any(run[1] is None for run in runs)
        flagged: set[int] = set(b.widths)
        if no_list:
            flagged.update(rows_where(lts, _NO_LIST))
        if self.check_commune:
            flagged.update(rows_failing(communes, list_commune_problem))
        for position, _ in self.mandatory:  # a blank date is the one whose key is ""
            if position != self.p_date or "" in b.birth_dates()[0]:
                flagged.update(blank_rows(b.at(position)))
        sexes = b.at(self.p_sex)
        if not _MF.issuperset(sexes):
            pairs = list(zip(sexes, b.at(self.p_civ), strict=True))
            flagged.update(rows_failing(pairs, _SEX_WANTING.__getitem__))
        rows = b.rows
        for group in (self.place, self.address):
            if group:
                if group[0] == self.p_bcode and "" not in _birth_codes(b):
                    continue  # every row has a birth commune code
                candidates = blank_rows(b.at(group[0]))
                for position in group[1:]:
                    candidates = [i for i in candidates if not rows[i][position].strip()]
                flagged.update(candidates)
        keys, _, years = b.birth_dates()
        ons: list[dt.date] | None = None  # None: every row's list is dated self.date
        if self.p_list_date != self.width:
            ons = _LIST_DATES.map(zip(b.at(self.p_list_date), repeat(self.date)))
            if ons.count(self.date) == n:
                ons = None
        if ons is None:
            if not self.date.year - 119 <= min(years) <= max(years) <= self.date.year - 19:
                # a date, born before the list, of age and under 120 on it: nothing to see
                flagged.update(rows_judged(keys, _table(_date_wanting, self.date).__getitem__))
        else:
            flagged.update(rows_failing(list(zip(ons, keys, strict=True)), _DATES_WANTING.__getitem__))
        if self.check_birth_code:
            flagged.update(self._birth_places(b, years))
        if self.p_nat >= 0:
            values = b.at(self.p_nat)
            if ons is None and len(runs) == 1:
                judge = _table(_nationality_wanting, runs[0][1], self.date)
                flagged.update(rows_failing(values, judge.__getitem__))
            else:
                triples = list(zip(lts, ons or [self.date] * n, values, strict=True))
                flagged.update(rows_failing(triples, _NATIONALITIES_WANTING.__getitem__))
        birth_names, first_names = folded_names(b)
        named = "" not in birth_names and "" not in first_names
        idents = identities(b)
        firsts = self._duplicates(b, runs, idents, named)
        flagged.update(firsts)
        cross = self.c.cross
        if cross is not None:
            flagged.update(rows_where(idents, cross.candidates(self.c.index)))
        if self.p_order >= 0:
            flagged.update(self._orders(b, lts))
        numbers = b.numbers
        for i in range(n) if _EVERY_ROW else sorted(flagged):
            ident = idents[i] if named or (birth_names[i] and first_names[i]) else None
            self.row(rows[i], numbers[i], b.width_of(i), lts[i], communes[i], ident, firsts.get(i))

    def _birth_places(self, b: RowBatch, years: list[int]) -> list[int]:
        """The rows whose birth commune and département do not hold (for their birth date:
        Corsica's codes changed in 1976)."""
        pairs = list(zip(b.at(self.p_bcode), b.at(self.p_bdept), strict=True))
        verdicts = {pair: _BIRTH_PLACE_WANTING[pair] for pair in set(pairs)}
        if all(v == _FINE for v in verdicts.values()):
            return []
        suspects = {pair for pair, v in verdicts.items() if v != _FINE}
        wanting = []
        for i in rows_where(pairs, suspects):
            before, after = verdicts[pairs[i]]
            if (before and after) or (before if 0 < years[i] < 1976 else after):
                wanting.append(i)
        return wanting

    def _duplicates(
        self, b: RowBatch, runs: list[Run], idents: list[Identity], named: bool
    ) -> dict[int, int]:
        """Remember every named row's identity in its list; return the rows already seen
        (index in the batch → the row where that elector first was)."""
        firsts: dict[int, int] = {}
        birth_names, first_names = folded_names(b)
        for commune, lt, start, end in runs:
            if lt is None:
                continue
            seen = self.dupes.get((commune, lt))
            if seen is None:
                seen = self.dupes[(commune, lt)] = {}
            keys = idents[start:end]
            numbers = b.numbers[start:end]
            if named:  # every row in: dict.setdefault over the run, in C
                met = list(map(seen.setdefault, keys, numbers))
                for i in compress(range(start, end), map(ne, met, numbers)):
                    firsts[i] = met[i - start]
                continue
            for i, key, row in zip(range(start, end), keys, numbers, strict=True):
                if birth_names[i] and first_names[i]:
                    first = seen.setdefault(key, row)
                    if first != row:
                        firsts[i] = first
        return firsts

    def _orders(self, b: RowBatch, lts: list[ListType | None]) -> list[int]:
        """Remember every valid order number in its list's bureau; return the rows whose
        number is not one."""
        texts = b.at(self.p_order)
        if all(map(str.isdecimal, texts)):
            numbers = list(map(int, texts))
        else:
            numbers = list(map(_order_number, stripped(texts)))
        wanting = [] if min(numbers) > 0 else [i for i, number in enumerate(numbers) if number <= 0]
        bureaus = b.at(self.p_bureau)
        cuts = changes(lts, bureaus)
        for start, end in zip([0, *cuts], [*cuts, len(b)], strict=True):
            lt, bureau = lts[start], bureaus[start]
            kept: Sequence[int] = range(start, end)
            if wanting:
                kept = [i for i in kept if numbers[i] > 0]
            if lt is not None and kept:
                group = self.orders.get((lt, bureau))
                if group is None:
                    group = self.orders[(lt, bureau)] = ([], [])
                if wanting:
                    group[0].extend(numbers[i] for i in kept)
                    group[1].extend(b.numbers[i] for i in kept)
                else:
                    group[0].extend(numbers[start:end])
                    group[1].extend(b.numbers[start:end])
        return wanting

    def row(
        self,
        v: list[str],
        row: int,
        width: int,
        lt: ListType | None,
        commune: str,
        ident: Identity | None,
        first: int | None,
    ) -> None:
        """Every finding on one row, in order (``ident``: the elector's identity, ``None``
        when a name folds to nothing; ``first``: the row this elector first was on the same
        list, when this one repeats it)."""
        c = self.c
        name = self.src.name
        add = c.add
        if width != self.width:
            add("ELECT_CHAMPS", f"{width} champ(s) pour {self.width} colonne(s) d'en-tête", row, name)
        if lt is None:
            add("ELECT_TYPE_LISTE", f"type de liste « {v[self.p_list].strip()} » inconnu", row, name)
        if self.check_commune:
            problem = list_commune_problem(commune)
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
        on = _LIST_DATES[(v[self.p_list_date], self.date)]
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
        if ident is not None:
            if first is not None:
                add("ELECT_DOUBLON", f"même électeur qu'à la ligne {first} sur la {lt.label}", row, name)
            cross = c.cross
            if cross is not None:
                other = cross.elsewhere(ident, c.index, commune)
                if other is not None:
                    add(
                        "ELECT_AUTRE_COMMUNE",
                        f"inscrit aussi sur une liste de la commune {other.commune} "
                        f"({other.file}, ligne {other.row})",
                        row,
                        name,
                    )
        if self.p_order >= 0 and _order_number(v[self.p_order].strip()) <= 0:
            add("ELECT_NUMERO_ORDRE", "numéro d'ordre dans le bureau absent ou non numérique", row, name)

    def finish(self, c: Checker) -> None:
        name = self.src.name
        found: list[tuple[int, str, str]] = []
        bureaus: dict[tuple[ListType, str], tuple[list[int], list[int]]] = {}
        for (lt, raw), (numbers, rows) in self.orders.items():
            merged = bureaus.get((lt, raw.strip()))
            if merged is None:
                bureaus[(lt, raw.strip())] = (numbers, rows)
            else:
                merged[0].extend(numbers)
                merged[1].extend(rows)
        for (lt, bureau), (numbers, rows) in bureaus.items():
            size = len(numbers)
            if min(numbers) == 1 and max(numbers) == size and len(set(numbers)) == size:
                continue  # 1 to size, each once
            expected = 1
            previous = None
            where = f"bureau {bureau or '(sans code)'}, {lt.label}"
            for number, row in sorted(zip(numbers, rows, strict=True)):
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


def _check_one(
    source: Source | Extraction, today: dt.date | None, cross: CrossIndex | None, index: int, cap: int | None
) -> CheckReport:
    try:
        extraction = open_extraction(source)
    except ValidationError as exc:
        return CheckReport.refused(source_name(source), exc)
    checker = Checker(extraction, today=today, cross=cross, index=index, max_per_code=cap)
    try:
        for batch in extraction.batches():
            checker.batch(batch)
    except ValidationError as exc:
        return CheckReport.refused(extraction.name, exc)
    return checker.report()


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
    return _check_one(source, today, CrossIndex.of(other_sources), 0, max_per_code)


def check_extractions(
    sources: Sequence[Source | Extraction], *, today: dt.date | None = None, max_per_code: int | None = None
) -> list[CheckReport]:
    """Check several extractions, each against the others (one index built once for all):
    the reports in the order given."""
    opened: list[Source | Extraction] = []
    for source in sources:
        try:
            opened.append(open_extraction(source))
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
    "Checker",
    "CrossIndex",
    "Finding",
    "check_extraction",
    "check_extractions",
]
