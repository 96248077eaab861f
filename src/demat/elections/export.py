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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Literal

from lxml import etree

from demat.elections.codes import nationality
from demat.elections.columns import Lookup, stripped
from demat.elections.formats import ExportFormat, builtin_format, load_format
from demat.elections.model import (
    FIELD_INDEX,
    Elector,
    ListType,
    department_of,
    fold,
    parse_birth_date,
    sex_of,
)
from demat.elections.read import (
    KEY_DATE_FORMAT,
    Extraction,
    RowBatch,
    Source,
    SourceFile,
    open_extraction,
)

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


class _Outputs:
    """The output files of one export: opened on demand, closed when the source file (a
    commune) changes, renamed from ``.part`` at the end, removed on failure. Keyed by file
    name (a string: the hot path does no path arithmetic)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = private_dir(out_dir)
        self.parts: dict[str, Path] = {}
        self.counts: dict[str, int] = {}
        self.open: dict[str, Any] = {}

    def get(self, name: str, start: Callable[[Path, bool], Any], rows: int = 1) -> Any:
        """The writer of file ``name`` (opened by ``start`` when it is not), which ``rows``
        more rows are about to go to."""
        writer = self.open.get(name)
        if writer is None:
            part = self.parts.get(name)
            again = part is not None
            if part is None:
                part = self.parts[name] = self.out_dir / (name + ".part")
                self.counts[name] = 0
            writer = self.open[name] = start(part, again)
        self.counts[name] += rows
        return writer

    def touch(self, name: str, start: Callable[[Path, bool], Any]) -> None:
        """Make sure file ``name`` exists (header only when nothing went into it)."""
        if name not in self.parts:
            self.get(name, start, 0)

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


Line = tuple[str, ...]
"""One output row: its cells, in the format's column order."""


class _TextOut:
    """One delimited or fixed-width output file."""

    def __init__(self, path: Path, fmt: ExportFormat, append: bool) -> None:
        self.raw = private_file(path, append=append)
        self.text = open(  # noqa: SIM115 - closed by close()
            self.raw.fileno(), "w", encoding=fmt.encoding, errors="demat-translit", newline="", closefd=False
        )
        self.fixed = fmt.fixed_width
        self.newline = fmt.newline
        self.quote = fmt.quote
        self.columns = len(fmt.columns)
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

    def row(self, cells: list[str] | Line) -> None:
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

    def rows(self, rows: list[list[str]], pick: Callable[[list[str]], Line]) -> None:
        """Write the line ``pick`` makes of each of ``rows``, as :meth:`row` would one by one.
        Delimited lines whose cells hold no separator, quote or line end need no quoting:
        they are joined in C, a batch at a time (``csv.writer`` looks at every character);
        the others go through the writer. No line is kept: each is joined as it is picked."""
        if self.fixed or self.none:
            for row in rows:
                self.row(pick(row))
            return
        text = self._joined(rows, pick)
        if text is None:
            self.writer.writerows(map(pick, rows))
        else:
            self.text.write(text)

    def _joined(self, rows: list[list[str]], pick: Callable[[list[str]], Line]) -> str | None:
        sep, nl, k = self.separator, self.newline, len(rows)
        if self.quote == "all":
            q = '"'
            body = (q + nl + q).join(map((q + sep + q).join, map(pick, rows)))
            if body.count(q) != 2 * (k * (self.columns - 1) + k - 1):
                return None
            return q + body + q + nl
        if self.columns < 2:  # a lone empty cell is written ""
            return None
        body = nl.join(map(sep.join, map(pick, rows)))
        if (
            body.count(sep) != k * (self.columns - 1)
            or '"' in body
            or body.count("\n") != (k - 1) * nl.count("\n")
            or body.count("\r") != (k - 1) * nl.count("\r")
        ):
            return None
        return body + nl

    def close(self) -> None:
        self.text.close()
        self.raw.close()


_CIVILITIES = {"m": "M", "mr": "M", "monsieur": "M", "mme": "MME", "madame": "MME", "mlle": "MLLE"}


def _civility(key: tuple[str, str]) -> str:
    """The civility written for a row's (civility, sex) values: the civility's usual form,
    else ``M``/``MME`` from the sex."""
    civility, sex = key
    raw = civility.strip()
    if raw:
        return _CIVILITIES.get(fold(raw).replace(" ", ""), raw)
    return {"M": "M", "F": "MME"}.get(sex_of(sex, civility), "")


def _iso2(raw: str) -> str:
    text = raw.strip()
    country = nationality(text) if text else None
    return country.iso2 if country is not None else text


def _birth_places(b: RowBatch) -> list[str]:
    """The birth commune's name, else its code."""
    names = stripped(b.column("birth_commune_name"))
    if "" in names:
        codes = b.column("birth_commune_code")
        names = [n or c.strip() for n, c in zip(names, codes, strict=True)]
    return names


Column = Callable[[RowBatch], Iterable[str]]
"""What computes one output column from a batch."""


class _Tables:
    """The per-value tables of one export in one format (every file shares them)."""

    def __init__(self, fmt: ExportFormat) -> None:
        pattern = fmt.date_format
        self.fmt = fmt
        self.birth_date: Lookup[str, str] = Lookup(
            lambda raw: parse_birth_date(raw).formatted(pattern) if raw.strip() else ""
        )
        self.list_date: Lookup[tuple[str, str], str] = Lookup(lambda key: _list_date(key, pattern))
        self.sex: Lookup[tuple[str, str], str] = Lookup(lambda key: sex_of(*key))
        self.civility: Lookup[tuple[str, str], str] = Lookup(_civility)
        self.department: Lookup[tuple[str, str], str] = Lookup(
            lambda key: key[0].strip() or department_of(key[1])
        )
        self.department_of: Lookup[str, str] = Lookup(department_of)
        self.sex_alone: Lookup[str, str] = Lookup(lambda sex: sex_of(sex, ""))
        self.iso2: Lookup[str, str] = Lookup(_iso2)
        self.list_type: Lookup[ListType | None, str] = Lookup(lambda lt: lt.value if lt is not None else "")
        self.mapped: list[Lookup[str, str] | None] = []
        for column in fmt.columns:
            mapping = {**fmt.values.get(column.field or "", {}), **(column.values or {})}
            self.mapped.append(
                _mapping(mapping, column.upper) if column.field and (mapping or column.upper) else None
            )

    def computed(self, name: str, src: SourceFile, list_date: str) -> Column | None:
        """How to compute field ``name`` for the rows of ``src`` (``None``: copied as it is)."""
        cols = src.header.columns
        if name == "list_type":
            return lambda b: _same(self.list_type, b.list_types())
        if name == "list_date":
            if "list_date" not in cols:
                return lambda b: repeat(list_date, len(b))
            return lambda b: self.list_date.map(zip(b.column("list_date"), repeat(list_date)))
        if name == "birth_date":
            if self.fmt.date_format == KEY_DATE_FORMAT:
                return lambda b: b.birth_dates()[1]
            return lambda b: self.birth_date.map(b.column("birth_date"))
        if name == "sex":
            if "civility" not in cols:
                return lambda b: self.sex_alone.map(b.column("sex"))
            return lambda b: self.sex.map(zip(b.column("sex"), b.column("civility"), strict=True))
        if name == "civility":
            return lambda b: self.civility.map(zip(b.column("civility"), b.column("sex"), strict=True))
        if name == "commune_code":
            return RowBatch.commune_codes
        if name == "department_code":
            if "department_code" not in cols:
                return lambda b: _same(self.department_of, b.commune_codes())
            return lambda b: self.department.map(
                zip(b.column("department_code"), b.commune_codes(), strict=True)
            )
        if name == "nationality_iso2":
            return lambda b: self.iso2.map(b.column("nationality"))
        if name == "birth_place":
            return _birth_places
        return None


def _same(table: Lookup[Any, str], keys: list[Any]) -> list[str]:
    """``table.map(keys)``, looked up once when every key is the same (one commune, one list)."""
    if keys and keys.count(keys[0]) == len(keys):
        return [table[keys[0]]] * len(keys)
    return table.map(keys)


def _list_date(key: tuple[str, str], pattern: str) -> str:
    raw = key[0].strip()
    if raw:
        parsed = parse_birth_date(raw)
        if parsed.valid:
            return parsed.formatted(pattern)
    return key[1]


def _mapping(mapping: dict[str, str], upper: bool) -> Lookup[str, str]:
    def convert(value: str) -> str:
        value = mapping.get(value, value)
        return value.upper() if upper else value

    return Lookup(convert)


class _Plan:
    """How a format builds its rows from one source file's batches: the cells it copies are
    picked from each row in C (``operator.itemgetter``), the cells it computes (a date
    written its way, a mapped list code…) are computed a column at a time, each distinct value
    once, and appended to the rows while they are picked."""

    def __init__(self, tables: _Tables, src: SourceFile, list_date: str) -> None:
        positions = src.positions
        self.base = src.header.width + 1  # where computed cells go in the extended row
        self.columns: list[Column] = []
        indices: list[int] = []
        for column, mapped in zip(tables.fmt.columns, tables.mapped, strict=True):
            if column.value is not None:
                constant = column.value
                self.columns.append(lambda b, c=constant: repeat(c, len(b)))  # type: ignore[misc]
                indices.append(self.base + len(self.columns) - 1)
                continue
            assert column.field is not None
            computed = tables.computed(column.field, src, list_date)
            if computed is None and mapped is None:
                indices.append(positions[FIELD_INDEX[column.field]])
                continue
            if computed is None:
                computed = partial(_raw_column, column.field)
            if mapped is not None:
                computed = partial(_mapped_column, computed, mapped)
            self.columns.append(computed)
            indices.append(self.base + len(self.columns) - 1)
        if len(indices) == 1:
            only = indices[0]
            self.pick: Callable[[list[str]], Line] = lambda row: (row[only],)
        else:
            self.pick = itemgetter(*indices)

    @contextlib.contextmanager
    def extended(self, b: RowBatch) -> Iterator[list[list[str]]]:
        """The rows of ``b`` with the computed cells appended, for :attr:`pick` to pick from
        (removed on the way out)."""
        rows = b.rows
        if not self.columns:
            yield rows
            return
        deque(map(list.extend, rows, zip(*(c(b) for c in self.columns), strict=True)), maxlen=0)
        try:
            yield rows
        finally:
            deque(map(list.__delitem__, rows, repeat(slice(self.base, None))), maxlen=0)

    def lines(self, b: RowBatch) -> list[Line]:
        """The output row of every row of ``b`` (whatever its list)."""
        with self.extended(b) as rows:
            return list(map(self.pick, rows))


def _raw_column(name: str, b: RowBatch) -> list[str]:
    return b.column(name)


def _mapped_column(computed: Column, mapped: Lookup[str, str], b: RowBatch) -> list[str]:
    values = computed(b)
    return _same(mapped, values if isinstance(values, list) else list(values))


def _file_name(fmt: ExportFormat, commune: str, lt: ListType | None, on: dt.date) -> str:
    name = fmt.file_name.format(
        commune=commune or "commune", list=lt.value if lt else "", date=f"{on:%Y%m%d}", name=fmt.name
    )
    return _safe_name(name)


def _safe_name(name: str) -> str:
    """A file name made of ``name``: no path separator (a commune code is data from the file)."""
    return name.replace("/", "_").replace("\\", "_")


def _file_date(src: SourceFile, extraction: Extraction, when: dt.date) -> dt.date:
    """The date of a file's lists: its name's, else the extraction's, else ``when``."""
    return src.extraction_date or extraction.extraction_date or when


def _fmt_date(day: dt.date, pattern: str) -> str:
    return parse_birth_date(day.strftime("%d/%m/%Y")).formatted(pattern)


class BatchExport:
    """One export as the rows come, a batch at a time: :meth:`batch` for each, then
    :meth:`commit` (or :meth:`abort`). :func:`exporter` makes one."""

    def batch(self, b: RowBatch) -> None:
        """Export the rows of ``b``."""
        raise NotImplementedError

    def commit(self) -> ExportResult:
        """Close the files, give them their names; what was written."""
        raise NotImplementedError

    def abort(self) -> None:
        """Remove every file started."""
        raise NotImplementedError


class _FormatExport(BatchExport):
    """An export in a declarative format."""

    def __init__(self, fmt: ExportFormat, extraction: Extraction, out_dir: Path, when: dt.date) -> None:
        self.fmt = fmt
        self.extraction = extraction
        self.when = when
        self.tables = _Tables(fmt)
        self.outputs = _Outputs(out_dir)
        self.skipped: list[tuple[str, int]] = []
        self.communes: set[str] = set()
        self.names: dict[tuple[str, ListType], str] = {}
        self.current: SourceFile | None = None
        self.plan: _Plan | None = None
        self.file_date = when
        self.start_replaced = _replaced[0]

    def _start(self, path: Path, again: bool) -> _TextOut:
        return _TextOut(path, self.fmt, again)

    def batch(self, b: RowBatch) -> None:
        if b.source is not self.current or self.plan is None:
            self.outputs.close_all()
            self.current = b.source
            self.file_date = _file_date(b.source, self.extraction, self.when)
            self.plan = _Plan(self.tables, b.source, _fmt_date(self.file_date, self.fmt.date_format))
            self.names.clear()
        plan = self.plan
        with plan.extended(b) as rows:
            for commune, lt, start, end in b.runs():
                if lt is None:
                    name = b.source.name
                    self.skipped.extend((name, row) for row in b.numbers[start:end])
                    continue
                out = self.names.get((commune, lt))
                if out is None:
                    self.communes.add(commune)
                    out = self.names[(commune, lt)] = _file_name(
                        self.fmt, commune, lt if self.fmt.split_by_list else None, self.file_date
                    )
                self.outputs.get(out, self._start, end - start).rows(rows[start:end], plan.pick)

    def commit(self) -> ExportResult:
        if self.fmt.split_by_list:
            for commune in sorted(self.communes):
                for lt in ListType:
                    name = _file_name(self.fmt, commune, lt, self.extraction.extraction_date or self.when)
                    self.outputs.touch(name, self._start)
        paths, counts = self.outputs.commit()
        return ExportResult(paths, counts, self.skipped, _replaced[0] - self.start_replaced)

    def abort(self) -> None:
        self.outputs.abort()


def _run(export: BatchExport, extraction: Extraction) -> ExportResult:
    try:
        for b in extraction.batches():
            export.batch(b)
        return export.commit()
    except BaseException:
        export.abort()
        raise


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
    extraction = open_extraction(extraction_or_source)
    return _run(_FormatExport(fmt, extraction, out_dir, today or dt.date.today()), extraction)


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


class _XmlExport(BatchExport):
    """The XML export: one element per elector (lxml's incremental writer)."""

    def __init__(self, extraction: Extraction, out_dir: Path, when: dt.date) -> None:
        self.extraction = extraction
        self.when = when
        self.outputs = _Outputs(out_dir)
        self.skipped: list[tuple[str, int]] = []
        self.seen: dict[tuple[str, ListType], int] = {}
        self.current: SourceFile | None = None
        self.member = extraction.container == "zip"

    def batch(self, b: RowBatch) -> None:
        extraction, outputs, seen = self.extraction, self.outputs, self.seen
        if b.source is not self.current:
            outputs.close_all()
            self.current = b.source
        file_date = _file_date(b.source, extraction, self.when)
        for e, lt, code in zip(b.electors(), b.list_types(), b.commune_codes(), strict=True):
            if lt is None:
                self.skipped.append((e.file, e.row))
                continue
            commune = code or "commune"
            key = (commune, lt)
            name = _safe_name(f"{commune}_{lt.value}.xml")
            if name in outputs.parts and name not in outputs.open:  # the commune comes back later
                seen[key] = seen.get(key, 1) + 1
            if seen.get(key, 1) > 1:
                name = _safe_name(f"{commune}_{lt.value}-{seen[key]}.xml")
            attrs = _attrs(
                version=XML_VERSION,
                commune=_xml_safe(commune),
                nomCommune=_xml_safe(e.commune_name.strip()),
                typeListe=lt.value,
                dateListe=file_date.isoformat(),
                source=_xml_safe(Path(extraction.name).name),
            )

            def start(path: Path, _again: bool, a: dict[str, str] = attrs) -> _XmlOut:
                return _XmlOut(path, a)

            outputs.get(name, start).row(_elector_xml(e, self.member))

    def commit(self) -> ExportResult:
        paths, counts = self.outputs.commit()
        return ExportResult(paths, counts, self.skipped, 0)

    def abort(self) -> None:
        self.outputs.abort()


def export_xml(
    extraction_or_source: Extraction | Source, out_dir: Path, *, today: dt.date | None = None
) -> ExportResult:
    """One XML file per commune and list type, valid against demat's schema
    (``schemas/elections/1.0/listes.xsd``, namespace :data:`XML_NAMESPACE`): every field
    read, the birth date raw and parsed, and each elector's source file and row."""
    extraction = open_extraction(extraction_or_source)
    return _run(_XmlExport(extraction, out_dir, today or dt.date.today()), extraction)


def exporter(
    fmt: ExportFormat | Literal["xml"], extraction: Extraction, out_dir: Path, *, today: dt.date | None = None
) -> BatchExport:
    """The export of ``extraction`` in ``fmt`` (an :class:`~demat.elections.formats.ExportFormat`,
    or ``"xml"``) into ``out_dir``, to feed a batch at a time (for a pass that does more than
    export: :func:`demat.elections.pipeline.check_and_export`)."""
    when = today or dt.date.today()
    if fmt == "xml":
        return _XmlExport(extraction, out_dir, when)
    return _FormatExport(fmt, extraction, out_dir, when)


def iter_rows(
    extraction: Extraction, fmt: ExportFormat, *, today: dt.date | None = None
) -> Iterator[list[str]]:
    """The rows an export in ``fmt`` would write (without the header), for callers that write
    elsewhere than files."""
    when = today or dt.date.today()
    tables = _Tables(fmt)
    current: SourceFile | None = None
    plan: _Plan | None = None
    for b in extraction.batches():
        if b.source is not current or plan is None:
            current = b.source
            plan = _Plan(tables, current, _fmt_date(_file_date(current, extraction, when), fmt.date_format))
        for line, lt in zip(plan.lines(b), b.list_types(), strict=True):
            if lt is not None:
                yield list(line)


__all__ = [
    "XML_NAMESPACE",
    "XML_VERSION",
    "BatchExport",
    "Column",
    "ExportResult",
    "Line",
    "export_elistelec",
    "export_with_format",
    "export_xml",
    "exporter",
    "iter_rows",
    "private_dir",
    "private_file",
]
