"""Exports: e-listelec CSV, any declarative préfecture format, and demat's XML.

Each export streams the extraction once and writes one file per list (or per commune, as the
format says) into ``out_dir``: files are created mode 0600 under a ``.part`` name and renamed
when the whole export succeeded, so a failed export leaves no file that looks complete.
A commune whose complementary list is empty still gets that list's file, header only (as
e-listelec asked). Rows whose list type cannot be read are not exported: the result says
which (:attr:`ExportResult.skipped`).

Characters the target encoding lacks are written without their accent when that is enough
(``ł`` → ``l`` in Windows-1252), else as ``?``; :attr:`ExportResult.replaced` counts them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import os
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from lxml import etree

from demat.elections.codes import nationality
from demat.elections.formats import ExportFormat, builtin_format, load_format
from demat.elections.model import FIELD_INDEX, Elector, ListType, fold, parse_birth_date
from demat.elections.read import Extraction, Source, SourceFile, read_extraction

#: Namespace of demat's XML export (schema ``schemas/elections/1.0/listes.xsd``).
XML_NAMESPACE = "urn:demat:listes-electorales:1.0"
#: Version of the XML export.
XML_VERSION = "1.0"

_replaced = [0]


_UNDECOMPOSABLE = {"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "ı": "i", "ß": "ss", "œ": "oe",
                   "Œ": "OE", "æ": "ae", "Æ": "AE"}  # fmt: skip


def _translit(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start : exc.end]:
        base = _UNDECOMPOSABLE.get(ch) or "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        try:
            base.encode(exc.encoding)
        except UnicodeEncodeError:
            base = "?"
        out.append(base or "?")
        _replaced[0] += 1
    return "".join(out), exc.end


codecs.register_error("demat-translit", _translit)


class ExportResult(list[Path]):
    """The files written (a list of paths, in name order), with ``counts`` (electors per
    file), ``skipped`` (``(file, row)`` of rows whose list could not be read) and
    ``replaced`` (characters the encoding lacked)."""

    def __init__(
        self, paths: list[Path], counts: dict[Path, int], skipped: list[tuple[str, int]], replaced: int
    ):
        super().__init__(paths)
        self.counts = counts
        self.skipped = skipped
        self.replaced = replaced


def private_file(path: Path, *, append: bool = False) -> IO[bytes]:
    """Open ``path`` for writing, created mode 0600 (electors are personal data)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, "ab" if append else "wb")


def private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _open(source: Source | Extraction) -> Extraction:
    return source if isinstance(source, Extraction) else read_extraction(source)


class _Outputs:
    """The output files of one export: opened on demand, closed when the source file (a
    commune) changes, renamed from ``.part`` at the end, removed on failure. Keyed by file
    name (a string: the hot path does no path arithmetic)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = private_dir(out_dir)
        self.parts: dict[str, Path] = {}
        self.counts: dict[str, int] = {}
        self.open: dict[str, Any] = {}

    def get(self, name: str, start: Callable[[Path, bool], Any]) -> Any:
        writer = self.open.get(name)
        if writer is None:
            part = self.parts.get(name)
            again = part is not None
            if part is None:
                part = self.parts[name] = self.out_dir / (name + ".part")
                self.counts[name] = 0
            writer = self.open[name] = start(part, again)
        self.counts[name] += 1
        return writer

    def touch(self, name: str, start: Callable[[Path, bool], Any]) -> None:
        """Make sure file ``name`` exists (header only when nothing went into it)."""
        if name not in self.parts:
            self.get(name, start)
            self.counts[name] = 0

    def close_all(self) -> None:
        for writer in self.open.values():
            writer.close()
        self.open.clear()

    def commit(self) -> tuple[list[Path], dict[Path, int]]:
        self.close_all()
        counts: dict[Path, int] = {}
        for name, part in self.parts.items():
            final = self.out_dir / name
            part.replace(final)
            counts[final] = self.counts[name]
        return sorted(counts), counts

    def abort(self) -> None:
        for writer in self.open.values():
            with contextlib.suppress(Exception):
                writer.close()
        self.open.clear()
        for part in self.parts.values():
            part.unlink(missing_ok=True)


class _TextOut:
    """One delimited or fixed-width output file."""

    def __init__(self, path: Path, fmt: ExportFormat, append: bool) -> None:
        self.raw = private_file(path, append=append)
        self.text = open(  # noqa: SIM115 - closed by close()
            self.raw.fileno(), "w", encoding=fmt.encoding, errors="demat-translit", newline="", closefd=False
        )
        self.fixed = fmt.fixed_width
        self.newline = fmt.newline
        if not self.fixed:
            assert fmt.separator is not None
            if fmt.quote == "all":
                self.writer = csv.writer(
                    self.text, delimiter=fmt.separator, lineterminator=self.newline, quoting=csv.QUOTE_ALL
                )
            else:
                self.writer = csv.writer(self.text, delimiter=fmt.separator, lineterminator=self.newline)
        self.widths = [(c.width or 0, c.align, c.pad) for c in fmt.columns]
        self.none = fmt.quote == "none"
        self.separator = fmt.separator or ""
        if fmt.header and not append:
            self.row([c.name for c in fmt.columns])

    def row(self, cells: list[str] | tuple[str, ...]) -> None:
        if self.fixed:
            out = []
            for cell, (width, align, pad) in zip(cells, self.widths, strict=True):
                cell = cell.replace("\r", " ").replace("\n", " ")[:width]
                out.append(cell.ljust(width, pad) if align == "left" else cell.rjust(width, pad))
            self.text.write("".join(out) + self.newline)
        elif self.none:
            clean = [c.replace(self.separator, " ").replace("\r", " ").replace("\n", " ") for c in cells]
            self.text.write(self.separator.join(clean) + self.newline)
        else:
            self.writer.writerow(cells)

    def close(self) -> None:
        self.text.close()
        self.raw.close()


def _civility(e: Elector) -> str:
    raw = e.civility.strip()
    if raw:
        return {"m": "M", "mr": "M", "monsieur": "M", "mme": "MME", "madame": "MME", "mlle": "MLLE"}.get(
            fold(raw).replace(" ", ""), raw
        )
    return {"M": "M", "F": "MME"}.get(e.sex, "")


class _Plan:
    """How a format builds a row from one source file's electors."""

    def __init__(self, fmt: ExportFormat, src: SourceFile, list_date: str) -> None:
        positions = src.positions
        width = len(positions)
        computed: list[Callable[[Elector], str]] = []
        indices: list[int] = []
        base = src.header.width + 1  # where computed cells go in the extended row
        birth_cache: dict[str, str] = {}
        date_format = fmt.date_format

        def birth(e: Elector) -> str:
            raw = e.raw("birth_date")
            out = birth_cache.get(raw)
            if out is None:
                out = birth_cache[raw] = parse_birth_date(raw).formatted(date_format) if raw.strip() else ""
            return out

        def list_date_of(e: Elector) -> str:
            raw = e.raw("list_date").strip()
            if raw:
                parsed = parse_birth_date(raw)
                if parsed.valid:
                    return parsed.formatted(date_format)
            return list_date

        special: dict[str, Callable[[Elector], str]] = {
            "list_type": lambda e: e.list_type.value if e.list_type is not None else "",
            "list_date": list_date_of,
            "birth_date": birth,
            "sex": lambda e: e.sex,
            "civility": _civility,
            "commune_code": lambda e: e.commune_code,
            "department_code": lambda e: e.department_code,
            "nationality_iso2": _iso2,
            "birth_place": lambda e: e.birth_commune_name.strip() or e.birth_commune_code.strip(),
        }
        for column in fmt.columns:
            if column.value is not None:
                constant = column.value
                computed.append(lambda e, c=constant: c)  # type: ignore[misc]
                indices.append(base + len(computed) - 1)
                continue
            assert column.field is not None
            name = column.field
            mapping = {**fmt.values.get(name, {}), **(column.values or {})}
            getter = special.get(name)
            if getter is None and not mapping and not column.upper:
                indices.append(positions[FIELD_INDEX[name]] if name in FIELD_INDEX else width)
                continue
            if getter is None:
                index = FIELD_INDEX[name]

                def getter(e: Elector, i: int = index) -> str:
                    return e.values[e.source.positions[i]]

            computed.append(_mapped(getter, mapping, column.upper))
            indices.append(base + len(computed) - 1)
        self.computed = computed
        self.indices = indices

    def row(self, e: Elector) -> list[str]:
        values = e.values
        ext = values + [f(e) for f in self.computed] if self.computed else values
        return [ext[i] for i in self.indices]


def _mapped(
    getter: Callable[[Elector], str], mapping: dict[str, str], upper: bool
) -> Callable[[Elector], str]:
    if not mapping and not upper:
        return getter

    def get(e: Elector) -> str:
        value = getter(e)
        value = mapping.get(value, value)
        return value.upper() if upper else value

    return get


def _iso2(e: Elector) -> str:
    raw = e.nationality.strip()
    country = nationality(raw) if raw else None
    return country.iso2 if country is not None else raw


def _file_name(fmt: ExportFormat, commune: str, lt: ListType | None, on: dt.date) -> str:
    name = fmt.file_name.format(
        commune=commune or "commune", list=lt.value if lt else "", date=f"{on:%Y%m%d}", name=fmt.name
    )
    return name.replace("/", "_").replace("\\", "_")


def export_with_format(
    extraction_or_source: Extraction | Source,
    format_file: Path | ExportFormat,
    out_dir: Path,
    *,
    today: dt.date | None = None,
) -> ExportResult:
    """Export in the format ``format_file`` describes (a TOML file, validated first, or an
    :class:`~demat.elections.formats.ExportFormat`); return the files written.

    The list's date (``list_date`` column) is the row's date when it has one, else the date
    the file name carries, else ``today`` (default: the day of the export).
    """
    fmt = format_file if isinstance(format_file, ExportFormat) else load_format(format_file)
    extraction = _open(extraction_or_source)
    when = today or dt.date.today()
    outputs = _Outputs(out_dir)
    skipped: list[tuple[str, int]] = []
    communes: set[str] = set()
    names: dict[tuple[str, ListType], str] = {}
    start_replaced = _replaced[0]

    def start(path: Path, again: bool) -> _TextOut:
        return _TextOut(path, fmt, again)

    try:
        current: SourceFile | None = None
        plan: _Plan | None = None
        file_date = when
        for e in extraction.electors:
            if e.source is not current:
                outputs.close_all()
                current = e.source
                file_date = current.extraction_date or extraction.extraction_date or when
                plan = _Plan(fmt, current, _fmt_date(file_date, fmt.date_format))
                names.clear()
            assert plan is not None
            lt = e.list_type
            if lt is None:
                skipped.append((e.file, e.row))
                continue
            commune = e.commune_code
            key = (commune, lt)
            name = names.get(key)
            if name is None:
                communes.add(commune)
                name = names[key] = _file_name(fmt, commune, lt if fmt.split_by_list else None, file_date)
            outputs.get(name, start).row(plan.row(e))
        if fmt.split_by_list:
            for commune in sorted(communes):
                for lt in ListType:
                    outputs.touch(_file_name(fmt, commune, lt, extraction.extraction_date or when), start)
        paths, counts = outputs.commit()
    except BaseException:
        outputs.abort()
        raise
    return ExportResult(paths, counts, skipped, _replaced[0] - start_replaced)


def _fmt_date(day: dt.date, pattern: str) -> str:
    return parse_birth_date(day.strftime("%d/%m/%Y")).formatted(pattern)


def export_elistelec(
    extraction_or_source: Extraction | Source, out_dir: Path, *, today: dt.date | None = None
) -> ExportResult:
    """One e-listelec CSV per commune and list type, exactly as the 2013 arrêté fixes it (the
    29 columns' header, ``;``, UTF-8, JJ/MM/AAAA); see :func:`export_with_format`."""
    return export_with_format(extraction_or_source, builtin_format("elistelec"), out_dir, today=today)


_NS = f"{{{XML_NAMESPACE}}}"


def _text(parent: etree._Element, tag: str, value: str) -> None:
    if value:
        etree.SubElement(parent, _NS + tag).text = value


def _attrs(**values: str) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


_ADDRESS_TAGS = (
    ("Complement1", "complement1"), ("Complement2", "complement2"), ("NumeroVoie", "street_number"),
    ("TypeVoie", "street_type"), ("LibelleVoie", "street_name"), ("LieuDit", "lieu_dit"),
    ("CodePostal", "postal_code"), ("Ville", "city"), ("Pays", "country"),
)  # fmt: skip
_CLEAN = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _xml_safe(value: str) -> str:
    return value.translate(_CLEAN) if not value.isprintable() else value


def _elector_xml(e: Elector, member: bool) -> etree._Element:
    v = {name: _xml_safe(e.raw(name).strip()) for name in (
        "birth_name", "usage_name", "first_names", "birth_commune_code", "birth_commune_name",
        "birth_department_code", "birth_country", "nationality", "complement1", "complement2",
        "street_number", "street_type", "street_name", "lieu_dit", "postal_code", "city", "country",
        "bureau_code", "bureau_label", "bureau_order", "canton_code", "canton_label",
        "circonscription_code", "circonscription_label", "elector_number", "ine",
    )}  # fmt: skip
    el = etree.Element(_NS + "Electeur", ligne=str(e.row), nsmap={None: XML_NAMESPACE})
    if member:
        el.set("fichier", _xml_safe(e.file))
    _text(el, "Sexe", _xml_safe(e.sex))
    _text(el, "NomNaissance", v["birth_name"])
    _text(el, "NomUsage", v["usage_name"])
    _text(el, "Prenoms", v["first_names"])
    born = e.birth_date
    attrs = {"brute": _xml_safe(born.raw.strip())}
    if born.valid and born.year is not None:
        attrs["annee"] = str(born.year)
        if born.month:
            attrs["mois"] = str(born.month)
        if born.day:
            attrs["jour"] = str(born.day)
    etree.SubElement(el, _NS + "DateNaissance", attrs)
    place = _attrs(code=v["birth_commune_code"], commune=v["birth_commune_name"],
                   departement=v["birth_department_code"], pays=v["birth_country"])  # fmt: skip
    if place:
        etree.SubElement(el, _NS + "LieuNaissance", place)
    _text(el, "Nationalite", v["nationality"])
    address = etree.Element(_NS + "Adresse")
    for tag, key in _ADDRESS_TAGS:
        _text(address, tag, v[key])
    if len(address):
        el.append(address)
    bureau = _attrs(code=v["bureau_code"], libelle=v["bureau_label"], numeroOrdre=v["bureau_order"],
                    canton=v["canton_code"], libelleCanton=v["canton_label"],
                    circonscription=v["circonscription_code"],
                    libelleCirconscription=v["circonscription_label"])  # fmt: skip
    if bureau:
        etree.SubElement(el, _NS + "Bureau", bureau)
    _text(el, "NumeroElecteur", v["elector_number"])
    _text(el, "INE", v["ine"])
    return el


class _XmlOut:
    """One XML list file, written as the rows come (lxml's incremental writer)."""

    def __init__(self, path: Path, attrs: dict[str, str]) -> None:
        self.stack = contextlib.ExitStack()
        raw = self.stack.enter_context(private_file(path))
        self.xf = self.stack.enter_context(etree.xmlfile(raw, encoding="UTF-8"))
        self.xf.write_declaration()
        self.stack.enter_context(self.xf.element(_NS + "ListeElectorale", attrs, nsmap={None: XML_NAMESPACE}))

    def row(self, el: etree._Element) -> None:
        self.xf.write(el)

    def close(self) -> None:
        self.stack.close()


def export_xml(
    extraction_or_source: Extraction | Source, out_dir: Path, *, today: dt.date | None = None
) -> ExportResult:
    """One XML file per commune and list type, valid against demat's schema
    (``schemas/elections/1.0/listes.xsd``, namespace :data:`XML_NAMESPACE`): every field
    read, the birth date raw and parsed, and each elector's source file and row."""
    extraction = _open(extraction_or_source)
    when = today or dt.date.today()
    outputs = _Outputs(out_dir)
    skipped: list[tuple[str, int]] = []
    seen: dict[tuple[str, ListType], int] = {}
    try:
        current: SourceFile | None = None
        for e in extraction.electors:
            if e.source is not current:
                outputs.close_all()
                current = e.source
            lt = e.list_type
            if lt is None:
                skipped.append((e.file, e.row))
                continue
            commune = e.commune_code or "commune"
            file_date = current.extraction_date or extraction.extraction_date or when
            key = (commune, lt)
            name = f"{commune}_{lt.value}.xml"
            if name in outputs.parts and name not in outputs.open:  # the commune comes back later
                seen[key] = seen.get(key, 1) + 1
            if seen.get(key, 1) > 1:
                name = f"{commune}_{lt.value}-{seen[key]}.xml"
            attrs = _attrs(
                version=XML_VERSION,
                commune=commune,
                nomCommune=_xml_safe(e.commune_name.strip()),
                typeListe=lt.value,
                dateListe=file_date.isoformat(),
                source=_xml_safe(Path(extraction.name).name),
            )

            def start(path: Path, _again: bool, a: dict[str, str] = attrs) -> _XmlOut:
                return _XmlOut(path, a)

            outputs.get(name, start).row(_elector_xml(e, extraction.container == "zip"))
        paths, counts = outputs.commit()
    except BaseException:
        outputs.abort()
        raise
    return ExportResult(paths, counts, skipped, 0)


def iter_rows(
    extraction: Extraction, fmt: ExportFormat, *, today: dt.date | None = None
) -> Iterator[list[str]]:
    """The rows an export in ``fmt`` would write (without the header), for callers that write
    elsewhere than files."""
    when = today or dt.date.today()
    current: SourceFile | None = None
    plan: _Plan | None = None
    for e in extraction.electors:
        if e.source is not current:
            current = e.source
            plan = _Plan(
                fmt,
                current,
                _fmt_date(current.extraction_date or extraction.extraction_date or when, fmt.date_format),
            )
        assert plan is not None
        if e.list_type is not None:
            yield plan.row(e)


__all__ = [
    "XML_NAMESPACE",
    "XML_VERSION",
    "ExportResult",
    "export_elistelec",
    "export_with_format",
    "export_xml",
    "iter_rows",
    "private_dir",
    "private_file",
]
