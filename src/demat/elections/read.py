"""Read electoral-list extractions as they really come, streaming.

One entry point, :func:`read_extraction`, for every variant: REU extractions (lower-case French
headers in any of their spellings, ``;`` or ``,``, quoted or not, BOM or not, UTF-8 with a
cp1252 fallback, CRLF or LF), one file per commune or a zip of them, the ``.xlsx`` re-saves
(read with openpyxl: postal and INSEE codes padded back, spreadsheet dates converted, the file
flagged as a re-save), the 29-column e-listelec CSV and its 21-column ``Civilite`` variant.

Headers are read at once (a file whose header lacks a mandatory column is refused here); the
rows are read only when :attr:`Extraction.electors` is iterated, one at a time, so a
département's 1.84 million rows go through in flat memory. Each pass re-reads the source.

**Encoding.** Files are UTF-8 by the 2013 arrêté and in every REU extraction seen; a line that is
not valid UTF-8 is decoded as cp1252 (Windows re-saves), and the file says so
(:attr:`SourceFile.encoding` becomes ``"cp1252"``, or ``"mixed"`` when both occur; the first
such line is kept for the report).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, cast

from demat.elections.columns import Lookup, changes
from demat.elections.headers import HeaderMap, map_header
from demat.elections.model import (
    FIELD_INDEX,
    Elector,
    ListInfo,
    ListType,
    commune_code_of,
    fold,
    parse_birth_date,
    parse_list_type,
)
from demat.errors import FileUnreadable, ValidationError

#: Bytes read at a time from a CSV file (decoded and split into lines a block at a time: small
#: enough for the processor's cache).
CHUNK = 1 << 16
#: Bytes read at first from each file: its kind, its header line, how its first row begins
#: (up to 64 KiB are read when the header line is longer).
HEAD = 4096
#: Rows handed over at a time by :meth:`Extraction.batches` (memory stays flat: a batch is
#: the only part of a file held).
BATCH_ROWS = 512
#: Largest zip member (uncompressed) read; larger ones are refused as a probable zip bomb.
MAX_MEMBER_BYTES = 2 << 30
#: Largest ``.xlsx`` read (it is parsed from memory when it is a zip member).
MAX_XLSX_BYTES = 512 << 20

#: What a source may be: a path or the file's bytes.
Source = Path | bytes

_REQUIRED = (
    ("birth_name", "nom de naissance"),
    ("first_names", "prénoms"),
    ("birth_date", "date de naissance"),
)


@dataclass
class SourceFile:
    """One file of an extraction (the file itself, or one member of a zip): what its header
    and name say, and what the last pass over its rows found.

    ``commune_code``, ``list_type`` and ``extraction_date`` come from the file name (or the
    zip's name for the date) and serve rows that do not carry them. ``repairs`` counts what a
    spreadsheet re-save needed (``postal_code``, ``insee_code``, ``date``); ``cp1252_lines``
    and ``first_cp1252_row`` how many lines were not UTF-8.
    """

    name: str
    container: str
    header: HeaderMap
    positions: tuple[int, ...]
    delimiter: str | None = None
    encoding: str = "utf-8"
    bom: bool = False
    quoted: bool = False
    line_ending: str | None = None
    commune_code: str | None = None
    list_type: ListType | None = None
    extraction_date: dt.date | None = None
    resaved_spreadsheet: bool = False
    repairs: Counter[str] = field(default_factory=Counter)
    cp1252_lines: int = 0
    first_cp1252_row: int | None = None
    electors: int | None = None

    @property
    def kind(self) -> str:
        """``"reu"``, ``"elistelec"`` or ``"elistelec-civilite"``."""
        return self.header.kind

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no personal data)."""
        return {
            "name": self.name,
            "container": self.container,
            "kind": self.kind,
            "delimiter": self.delimiter,
            "encoding": self.encoding,
            "bom": self.bom,
            "quoted": self.quoted,
            "line_ending": {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}.get(self.line_ending or ""),
            "commune_code": self.commune_code,
            "list_type": self.list_type.value if self.list_type else None,
            "extraction_date": self.extraction_date.isoformat() if self.extraction_date else None,
            "resaved_spreadsheet": self.resaved_spreadsheet,
            "repairs": dict(self.repairs),
            "columns": {name: self.header.header[i] for name, i in self.header.columns.items()},
            "unknown_columns": list(self.header.unknown),
            "electors": self.electors,
        }


_COMMUNE_IN_NAME = (
    re.compile(r"com(\d[\dAB]\d{3})", re.I),
    re.compile(r"(?<![0-9A-Za-z])(\d[\dAB]\d{3})(?!\d)"),
)
_DATE_IN_NAME = (
    (re.compile(r"(?<!\d)(\d{2})[-_.](\d{2})[-_.](\d{4})(?!\d)"), (3, 2, 1)),
    (re.compile(r"(?<!\d)(\d{4})[-_.](\d{2})[-_.](\d{2})(?!\d)"), (1, 2, 3)),
)


def _name_commune(name: str) -> str | None:
    stem = Path(name).name
    for pattern in _COMMUNE_IN_NAME:
        m = pattern.search(stem)
        if m:
            return m.group(1).upper()
    return None


def _name_date(name: str) -> dt.date | None:
    stem = Path(name).name
    for pattern, (y, mth, d) in _DATE_IN_NAME:
        for m in pattern.finditer(stem):
            try:
                return dt.date(int(m.group(y)), int(m.group(mth)), int(m.group(d)))
            except ValueError:
                continue
    return None


def _name_list_type(name: str) -> ListType | None:
    words = fold(Path(name).stem).replace("'", " ").split()
    for size in (4, 3, 2, 1):
        for i in range(len(words) - size + 1):
            lt = parse_list_type(" ".join(words[i : i + size]))
            if lt is not None and (size > 1 or words[i] in ("lp", "lce", "lcm")):
                return lt
    return None


class _Decoder:
    """UTF-8, line by line falling back to cp1252; counts the fallbacks for the report."""

    def __init__(self, target: SourceFile) -> None:
        self.target = target
        self.lines_before = 0
        self.utf8_nonascii = False
        target.cp1252_lines = 0
        target.first_cp1252_row = None

    def decode(self, block: bytes) -> str:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            text = self._fallback(block)
        else:
            if not self.utf8_nonascii and not block.isascii():
                self.utf8_nonascii = True
        self.lines_before += block.count(b"\n")
        return text

    def _fallback(self, block: bytes) -> str:
        parts: list[str] = []
        for index, line in enumerate(block.split(b"\n")):
            try:
                parts.append(line.decode("utf-8"))
                if not line.isascii():
                    self.utf8_nonascii = True
            except UnicodeDecodeError:
                parts.append(line.decode("cp1252", errors="replace"))
                t = self.target
                t.cp1252_lines += 1
                if t.first_cp1252_row is None:
                    t.first_cp1252_row = self.lines_before + index + 1
        t = self.target
        t.encoding = "mixed" if self.utf8_nonascii else "cp1252"
        return "\n".join(parts)


def _text_lines(raw: IO[bytes], decoder: _Decoder) -> Iterator[str]:
    """Decoded lines (line ends kept, as ``csv`` wants them), read a block at a time (the
    lines of a block are handed over by ``itertools.chain``, in C)."""
    return chain.from_iterable(_text_blocks(raw, decoder))


def _text_blocks(raw: IO[bytes], decoder: _Decoder) -> Iterator[io.StringIO]:
    carry = b""
    first = True
    while True:
        chunk = raw.read(CHUNK)
        if not chunk:
            block, carry = carry, b""
        else:
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n") + 1 or data.rfind(b"\r") + 1  # CR-only line ends: at a CR
            if cut == 0 and len(data) < 64 * CHUNK:
                carry = data
                continue
            if cut == 0:
                cut = len(data)  # a line longer than 64 chunks: cut it
            block, carry = data[:cut], data[cut:]
        if not block:
            return
        if first:
            first = False
            if block.startswith(b"\xef\xbb\xbf"):
                block = block[3:]
        yield io.StringIO(decoder.decode(block), newline="")
        if not chunk:
            return


def _sniff(first_line: str) -> str:
    counts = {sep: 0 for sep in ";,\t|"}
    quoted = False
    for ch in first_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


class _Opener:
    """Re-opens a source (path or bytes) for each pass."""

    def __init__(self, source: Source, name: str | None) -> None:
        self.source = source
        if isinstance(source, bytes | bytearray | memoryview):
            self.name = name or "<bytes>"
        else:
            self.name = name or str(source)

    def open(self) -> IO[bytes]:
        if isinstance(self.source, bytes | bytearray | memoryview):
            return io.BytesIO(bytes(self.source))
        try:
            return open(self.source, "rb")
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, self.source) from exc


_LIST_TYPES: Lookup[str, ListType | None] = Lookup(parse_list_type)

#: What a raw birth date gives, once per distinct text: its key (``JJ/MM/AAAA``; the stripped text
#: when it is no date; ``""`` when blank), its text in a ``JJ/MM/AAAA`` export (the raw text when it
#: is no date), and its year (``0`` when it is no date, ``-1`` when blank).
DateFacts = tuple[str, str, int]

#: How an export writes a date that the key already spells.
KEY_DATE_FORMAT = "JJ/MM/AAAA"


def _date_facts(raw: str) -> DateFacts:
    text = raw.strip()
    if not text:
        return "", "", -1
    born = parse_birth_date(text)
    key = born.jjmmaaaa()
    if not born.valid or born.year is None:
        return key, raw, 0
    return key, key, born.year


_DATE_FACTS: Lookup[str, DateFacts] = Lookup(_date_facts)
_KEY, _TEXT, _YEAR = itemgetter(0), itemgetter(1), itemgetter(2)

Run = tuple[str, ListType | None, int, int]
"""Consecutive rows of a batch on one commune's list: commune, list, start, end."""
_COMMUNES: Lookup[tuple[str, str, str | None], str] = Lookup(lambda key: commune_code_of(*key))


class RowBatch:
    """Consecutive rows of one file (at most :data:`BATCH_ROWS`), for column-wise work.

    ``rows`` holds each row's raw values as :attr:`Elector.values <demat.elections.model.Elector>`
    does (padded or cut to the header's width, then the one ``""`` that fields the file lacks
    point to), ``numbers`` the line each row starts at (header = 1), ``widths`` how many
    fields a line really had, for the lines whose count differs from the header's (index in
    the batch → count). Columns and the values derived from them are computed once per batch.
    """

    __slots__ = ("_columns", "_derived", "numbers", "rows", "source", "widths")

    def __init__(self, source: SourceFile, rows: list[list[str]], numbers: list[int], widths: dict[int, int]):
        self.source = source
        self.rows = rows
        self.numbers = numbers
        self.widths = widths
        self._columns: dict[int, list[str]] = {}
        self._derived: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def at(self, position: int) -> list[str]:
        """The values of the column at ``position`` in every row (the header's width is the
        position of the empty sentinel)."""
        col = self._columns.get(position)
        if col is None:
            if position == self.source.header.width:
                col = [""] * len(self.rows)
            else:
                col = list(map(itemgetter(position), self.rows))
            self._columns[position] = col
        return col

    def position(self, name: str) -> int:
        """Where field ``name`` is in a row (the sentinel's position when the file lacks it)."""
        return self.source.positions[FIELD_INDEX[name]]

    def column(self, name: str) -> list[str]:
        """The raw values of field ``name`` in every row (``""`` where the file lacks it)."""
        return self.at(self.source.positions[FIELD_INDEX[name]])

    def list_types(self) -> list[ListType | None]:
        """Each row's list (:attr:`Elector.list_type <demat.elections.model.Elector.list_type>`)."""
        out: list[ListType | None] | None = self._derived.get("list_types")
        if out is None:
            default = self.source.list_type
            if self.position("list_type") == self.source.header.width:
                out = [default] * len(self.rows)
            else:
                raw = self.column("list_type")
                if raw.count(raw[0]) == len(raw):  # one list for the whole batch, as usual
                    out = [_LIST_TYPES[raw[0]] if raw[0] else default] * len(raw)
                else:
                    out = _LIST_TYPES.map(raw)
                    if default is not None and "" in raw:
                        out = [default if not r else lt for r, lt in zip(raw, out, strict=True)]
            self._derived["list_types"] = out
        return out

    def commune_codes(self) -> list[str]:
        """Each row's commune (:attr:`Elector.commune_code <demat.elections.model.Elector.commune_code>`)."""
        out: list[str] | None = self._derived.get("commune_codes")
        if out is None:
            default = self.source.commune_code
            if self.position("commune_code") == self.source.header.width:
                out = [default or ""] * len(self.rows)
            else:
                codes, depts = self.column("commune_code"), self.column("department_code")
                n = len(codes)
                if codes.count(codes[0]) == n and depts.count(depts[0]) == n:  # one commune, as usual
                    out = [_COMMUNES[(codes[0], depts[0], default)]] * n
                else:
                    out = _COMMUNES.map(zip(codes, depts, repeat(default)))
            self._derived["commune_codes"] = out
        return out

    def birth_dates(self) -> tuple[list[str], list[str], list[int]]:
        """Each row's birth date as :data:`DateFacts` give it, column by column: keys, texts in
        :data:`KEY_DATE_FORMAT`, years (one table lookup per row for the three)."""
        out: tuple[list[str], list[str], list[int]] | None = self._derived.get("birth_dates")
        if out is None:
            facts = _DATE_FACTS.map(self.column("birth_date"))
            out = self._derived["birth_dates"] = (
                list(map(_KEY, facts)),
                list(map(_TEXT, facts)),
                list(map(_YEAR, facts)),
            )
        return out

    def runs(self) -> list[Run]:
        """The batch cut where the commune or the list changes: ``(commune, list, start,
        end)`` for each run of consecutive rows (one run, usually: a file is one commune,
        sorted by list)."""
        out: list[Run] | None = self._derived.get("runs")
        if out is None:
            communes, lts = self.commune_codes(), self.list_types()
            n = len(lts)
            starts = [0, *changes(communes, lts)] if n else []
            out = [(communes[i], lts[i], i, j) for i, j in zip(starts, [*starts[1:], n], strict=True)]
            self._derived["runs"] = out
        return out

    def cached(self, key: str, compute: Callable[[RowBatch], Any]) -> Any:
        """``compute(self)``, computed once per batch under ``key`` (what the rules and the
        exports of one pass share)."""
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]

    def width_of(self, index: int) -> int:
        """How many fields the line of row ``index`` had."""
        return self.widths.get(index, self.source.header.width)

    def electors(self) -> Iterator[Elector]:
        """The rows as :class:`~demat.elections.model.Elector` views."""
        src = self.source
        width = src.header.width
        widths = self.widths
        for i, (values, row) in enumerate(zip(self.rows, self.numbers, strict=True)):
            yield Elector(values, src, row, widths.get(i, width) if widths else width)


class _Batcher:
    """Gathers rows into :class:`RowBatch` objects of :data:`BATCH_ROWS`."""

    __slots__ = ("numbers", "rows", "source", "widths")

    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.rows: list[list[str]] = []
        self.numbers: list[int] = []
        self.widths: dict[int, int] = {}

    def take(self) -> RowBatch:
        batch = RowBatch(self.source, self.rows, self.numbers, self.widths)
        self.rows, self.numbers, self.widths = [], [], {}
        return batch


class _Reader:
    """One readable file (plain, or a zip member): its metadata and a way to stream its rows."""

    def __init__(self, meta: SourceFile, rows: Callable[[SourceFile], Iterator[RowBatch]]) -> None:
        self.meta = meta
        self._rows = rows

    def batches(self) -> Iterator[RowBatch]:
        count = 0
        for batch in self._rows(self.meta):
            count += len(batch.rows)
            yield batch
        self.meta.electors = count


def _check_required(meta: SourceFile, name: str) -> None:
    cols = meta.header.columns
    missing = [label for fld, label in _REQUIRED if fld not in cols]
    if "sex" not in cols and "civility" not in cols:
        missing.append("sexe")
    if "list_type" not in cols and meta.list_type is None:
        missing.append("type de liste (colonne, ou LP/LCE/LCM dans le nom du fichier)")
    if missing:
        raise ValidationError(
            f"colonne(s) obligatoire(s) absente(s) : {', '.join(missing)}",
            file=name,
            line=1,
            code="ELECT_COLONNES",
        )


def _csv_reader(opener: Callable[[], IO[bytes]], name: str, head: bytes, defaults: dict[str, Any]) -> _Reader:
    bom = head.startswith(b"\xef\xbb\xbf")
    body = head[3:] if bom else head
    end = re.search(rb"\r\n|\n|\r", body)
    if len(head) == HEAD and (end is None or end.end() == len(body)):  # the header goes on
        with opener() as raw:
            head = raw.read(64 * 1024)
        body = head[3:] if bom else head
        end = re.search(rb"\r\n|\n|\r", body)
    line_ending = end.group(0).decode() if end else None
    first = body[: end.start()] if end else body
    if b"\x00" in first:
        raise ValidationError("fichier binaire : ni CSV ni tableur", file=name, line=1, code="ELECT_FORMAT")
    try:
        first_text = first.decode("utf-8")
    except UnicodeDecodeError:
        first_text = first.decode("cp1252", errors="replace")
    delimiter = _sniff(first_text)
    header_fields = next(csv.reader([first_text], delimiter=delimiter), [])
    hmap = map_header(header_fields)
    if len(header_fields) < 2:
        raise ValidationError(
            "pas d'en-tête de colonnes séparées par ; ou ,", file=name, line=1, code="ELECT_FORMAT"
        )
    rest = body[end.end() :] if end else b""
    data_line = rest.split(b"\n", 1)[0]
    meta = SourceFile(
        name=name,
        container="csv",
        header=hmap,
        positions=hmap.positions(),
        delimiter=delimiter,
        bom=bom,
        quoted=first.startswith(b'"') or data_line.startswith(b'"'),
        line_ending=line_ending,
        **defaults,
    )
    _check_required(meta, name)
    width = hmap.width

    def rows(target: SourceFile) -> Iterator[RowBatch]:
        target.encoding = "utf-8"
        with opener() as raw:
            decoder = _Decoder(target)
            reader = csv.reader(_text_lines(raw, decoder), delimiter=delimiter)
            next(reader, None)  # the header
            last = reader.line_num
            out = _Batcher(target)
            rows, numbers = out.rows, out.numbers
            for values in reader:
                row = last + 1
                last = reader.line_num
                if len(values) != width:
                    n = len(values)
                    if n == 0 or (n == 1 and not values[0].strip()):
                        continue  # a blank line
                    out.widths[len(rows)] = n
                    values = values[:width] if n > width else values + [""] * (width - n)
                values.append("")
                rows.append(values)
                numbers.append(row)
                if len(rows) == BATCH_ROWS:
                    yield out.take()
                    rows, numbers = out.rows, out.numbers
            if rows:
                yield out.take()

    return _Reader(meta, rows)


_XL_EPOCH = dt.date(1899, 12, 30)


def _xl_converter(fld: str | None, repairs: Counter[str]) -> Callable[[Any], str]:
    def generic(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        if isinstance(v, dt.datetime | dt.date):
            return v.strftime("%d/%m/%Y")
        return str(v)

    def date(v: Any) -> str:
        if isinstance(v, dt.datetime | dt.date):
            repairs["date"] += 1
            return v.strftime("%d/%m/%Y")
        if isinstance(v, int | float) and not isinstance(v, bool) and 1 < v < 100000:
            repairs["date"] += 1
            return (_XL_EPOCH + dt.timedelta(days=int(v))).strftime("%d/%m/%Y")
        return generic(v)

    def padded(width: int, what: str) -> Callable[[Any], str]:
        def pad(v: Any) -> str:
            text = generic(v)
            if (
                isinstance(v, int | float)
                and not isinstance(v, bool)
                and text.isdigit()
                and len(text) < width
            ):
                repairs[what] += 1
                return text.zfill(width)
            return text

        return pad

    if fld in ("birth_date", "list_date"):
        return date
    if fld == "postal_code":
        return padded(5, "postal_code")
    if fld in ("commune_code", "birth_commune_code"):
        return padded(5, "insee_code")
    if fld in ("department_code", "birth_department_code"):
        return padded(2, "insee_code")
    return generic


def _xlsx_reader(opener: Callable[[], IO[bytes]], name: str, defaults: dict[str, Any]) -> _Reader:
    import openpyxl

    def workbook() -> Any:
        with opener() as raw:
            data = raw.read(MAX_XLSX_BYTES + 1)
        if len(data) > MAX_XLSX_BYTES:
            raise ValidationError(
                f"classeur de plus de {MAX_XLSX_BYTES >> 20} Mio refusé", file=name, code="ELECT_FORMAT"
            )
        try:
            return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ValidationError(f"classeur illisible : {exc}", file=name, code="ELECT_FORMAT") from exc

    def header_row(sheet: Any) -> tuple[int, list[str]]:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = ["" if v is None else str(v) for v in values]
            if any(c.strip() for c in cells):
                while cells and not cells[-1].strip():
                    cells.pop()
                return number, cells
        raise ValidationError("classeur vide", file=name, line=1, code="ELECT_FORMAT")

    wb = workbook()
    try:
        header_at, header = header_row(wb.worksheets[0])
    finally:
        wb.close()
    hmap = map_header(header)
    meta = SourceFile(
        name=name,
        container="xlsx",
        header=hmap,
        positions=hmap.positions(),
        resaved_spreadsheet=True,
        **defaults,
    )
    _check_required(meta, name)
    width = hmap.width
    field_at = {i: f for f, i in hmap.columns.items()}

    def rows(target: SourceFile) -> Iterator[RowBatch]:
        target.repairs.clear()
        converters = [_xl_converter(field_at.get(i), target.repairs) for i in range(width)]
        book = workbook()
        try:
            sheet = book.worksheets[0]
            out = _Batcher(target)
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number <= header_at:
                    continue
                n = len(cells)
                while n and cells[n - 1] is None:
                    n -= 1
                if n == 0:
                    continue
                values = [conv(cells[i] if i < len(cells) else None) for i, conv in enumerate(converters)]
                values.append("")
                if n != width:
                    out.widths[len(out.rows)] = n
                out.rows.append(values)
                out.numbers.append(number)
                if len(out.rows) == BATCH_ROWS:
                    yield out.take()
            if out.rows:
                yield out.take()
        finally:
            book.close()

    return _Reader(meta, rows)


def _is_xlsx_zip(zf: zipfile.ZipFile) -> bool:
    names = set(zf.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def open_extraction(source: Source | Extraction) -> Extraction:
    """``source`` itself when it is an :class:`Extraction` already, else :func:`read_extraction`'s."""
    return source if isinstance(source, Extraction) else read_extraction(source)


def source_name(source: Source | Extraction) -> str:
    """How reports name ``source``: the extraction's name, the path, or ``<bytes>``."""
    if isinstance(source, Extraction):
        return source.name
    return str(source) if isinstance(source, Path) else "<bytes>"


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if not info.flag_bits & 0x800:  # not flagged UTF-8: zipfile decoded it as cp437
        try:
            return name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return name
    return name


def _defaults(name: str, date_from: str | None = None) -> dict[str, Any]:
    return {
        "commune_code": _name_commune(name),
        "list_type": _name_list_type(name),
        "extraction_date": _name_date(name) or (_name_date(date_from) if date_from else None),
    }


def _file_reader(
    opener: Callable[[], IO[bytes]], name: str, head: bytes, defaults: dict[str, Any]
) -> _Reader:
    """The reader of a file whose first :data:`HEAD` bytes are ``head``."""
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_reader(opener, name, defaults)
    return _csv_reader(opener, name, head, defaults)


class _Tally:
    """Electors per list over a pass, counted a run of rows at a time (:meth:`RowBatch.runs`)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, ListType | None, str]] = Counter()
        self.names: dict[tuple[str, ListType | None], str] = {}
        self._file: Counter[tuple[str, ListType | None]] = Counter()

    def add(self, batch: RowBatch) -> None:
        for commune, lt, start, end in batch.runs():
            key = (commune, lt)
            self._file[key] += end - start
            if key not in self.names:
                self.names[key] = batch.rows[start][batch.position("commune_name")]

    def end_file(self, src: SourceFile) -> None:
        for (commune, lt), n in self._file.items():
            self.counts[(commune, lt, src.name)] += n
        self._file.clear()


class Extraction:
    """An electoral-list extraction: one file, or a zip of one file per commune.

    ``files`` describes each file read (header, delimiter, encoding, what its name says);
    :attr:`electors` streams the rows of every file, in order. ``container`` is ``"csv"``,
    ``"xlsx"`` or ``"zip"``; ``skipped`` names zip members that are neither CSV nor
    spreadsheets, ``refused`` the members whose header cannot be read (with the reason): the
    other communes of the zip are read all the same.
    """

    def __init__(
        self,
        name: str,
        container: str,
        readers: list[_Reader],
        skipped: list[str],
        refused: list[tuple[str, ValidationError]] | None = None,
        archive: _Archive | None = None,
    ) -> None:
        self.name = name
        self.container = container
        self._readers = readers
        self.skipped = skipped
        self.refused = refused or []
        self._lists: list[ListInfo] | None = None
        self._archive = archive

    @property
    def files(self) -> list[SourceFile]:
        """Each file of the extraction (one, or the zip's members in name order)."""
        return [r.meta for r in self._readers]

    @property
    def source_kind(self) -> str:
        """``"reu"``, ``"elistelec"``, ``"elistelec-civilite"``, or ``"mixed"`` for a zip whose
        members differ."""
        kinds = {f.kind for f in self.files}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def resaved_spreadsheet(self) -> bool:
        """Whether any file is a spreadsheet re-save (``.xlsx``)."""
        return any(f.resaved_spreadsheet for f in self.files)

    @property
    def extraction_date(self) -> dt.date | None:
        """The date the file names carry (the first one found), if any."""
        for f in self.files:
            if f.extraction_date is not None:
                return f.extraction_date
        return None

    @property
    def electors(self) -> Iterator[Elector]:
        """Every elector, file after file, row after row: a new pass over the source each time
        this is read. Fills :attr:`lists` on the way when the pass goes to the end."""
        return self._electors()

    def iter_electors(self) -> Iterator[Elector]:
        """Same as :attr:`electors`."""
        return self._electors()

    def _electors(self) -> Iterator[Elector]:
        for batch in self.batches():
            yield from batch.electors()

    def batches(self) -> Iterator[RowBatch]:
        """Every row, file after file, in :class:`RowBatch` batches (what the rules and the
        exports work on, column by column): a new pass over the source each time it is called.
        Fills :attr:`lists` on the way when the pass goes to the end."""
        tally = _Tally()
        with self._archive.held() if self._archive is not None else contextlib.nullcontext():
            for reader in self._readers:
                for batch in reader.batches():
                    tally.add(batch)
                    yield batch
                tally.end_file(reader.meta)
        self._lists = self._build_lists(tally.counts, tally.names)

    def _build_lists(
        self, counts: Counter[tuple[str, ListType | None, str]], names: dict[tuple[str, ListType | None], str]
    ) -> list[ListInfo]:
        merged: dict[tuple[str, ListType | None], tuple[int, list[str]]] = {}
        for (commune, lt, fname), n in counts.items():
            total, fnames = merged.get((commune, lt), (0, []))
            merged[(commune, lt)] = (total + n, [*fnames, fname])
        dates = {f.name: f.extraction_date for f in self.files}
        out = []
        for (commune, lt), (n, fnames) in merged.items():
            date = next((dates[f] for f in fnames if dates.get(f)), None) or self.extraction_date
            out.append(ListInfo(commune, lt, date, n, names.get((commune, lt), ""), tuple(fnames)))
        order = {ListType.LP: 0, ListType.LCE: 1, ListType.LCM: 2, None: 3}
        return sorted(out, key=lambda li: (li.commune_code, order[li.list_type]))

    @property
    def lists(self) -> list[ListInfo]:
        """The lists held (commune, list type, date, count), sorted by commune then list; read
        from the last complete pass, or by a counting pass when there was none."""
        if self._lists is None:
            for _ in self.batches():
                pass
        assert self._lists is not None
        return self._lists

    @property
    def electors_count(self) -> int:
        """How many electors (a counting pass when none was made yet)."""
        return sum(li.electors for li in self.lists)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no personal data): kind, container, flags, files, lists."""
        return {
            "file": self.name,
            "source_kind": self.source_kind,
            "container": self.container,
            "resaved_spreadsheet": self.resaved_spreadsheet,
            "extraction_date": self.extraction_date.isoformat() if self.extraction_date else None,
            "electors": self.electors_count,
            "lists": [li.to_dict() for li in self.lists],
            "files": [f.to_dict() for f in self.files],
            "skipped": list(self.skipped),
            "refused": [{"file": m, "code": e.code, "message": e.message} for m, e in self.refused],
        }

    def __repr__(self) -> str:
        return f"Extraction({self.name!r}, {self.container}, {len(self._readers)} file(s))"


def _is_extraction_member(name: str) -> bool:
    lower = name.lower()
    return lower.endswith((".csv", ".txt", ".xlsx")) and not lower.startswith("__macosx/")


def read_extraction(
    source: Source, *, name: str | None = None, max_member_bytes: int = MAX_MEMBER_BYTES
) -> Extraction:
    """Open an extraction (a path, or the file's bytes with an optional ``name`` whose commune
    code, list type and date are read as a file name's would be).

    Reads every header now and refuses (:class:`~demat.errors.ValidationError`, code
    ``ELECT_COLONNES`` or ``ELECT_FORMAT``) a file that lacks a mandatory column or is not a
    table; rows are read when :attr:`Extraction.electors` is iterated.
    """
    opener = _Opener(source, name)
    label = opener.name
    with opener.open() as raw:
        head = raw.read(HEAD)
    if head.startswith(b"PK\x03\x04"):
        archive = _Archive(opener)
        with contextlib.ExitStack() as held:
            try:
                zf = held.enter_context(archive.held())
                if _is_xlsx_zip(zf):
                    reader = _xlsx_reader(opener.open, label, _defaults(label))
                    return Extraction(label, "xlsx", [reader], [])
                infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: _member_name(i))
            except zipfile.BadZipFile as exc:
                message = f"archive zip illisible : {exc}"
                raise ValidationError(message, file=label, code="ELECT_FORMAT") from exc
            readers: list[_Reader] = []
            skipped: list[str] = []
            refused: list[tuple[str, ValidationError]] = []
            for info in infos:
                member = _member_name(info)
                if not _is_extraction_member(member):
                    skipped.append(member)
                    continue
                if info.file_size > max_member_bytes:
                    raise ValidationError(
                        f"membre {member} de {info.file_size} octets refusé (limite {max_member_bytes})",
                        file=label,
                        code="ELECT_FORMAT",
                    )
                member_opener = archive.member(info)
                with member_opener() as m:
                    mhead = m.read(HEAD)
                try:
                    readers.append(_file_reader(member_opener, member, mhead, _defaults(member, label)))
                except ValidationError as exc:
                    refused.append((member, exc))
        if not readers and refused:
            raise refused[0][1]
        if not readers:
            raise ValidationError(
                "l'archive ne contient aucun fichier CSV ni tableur", file=label, code="ELECT_FORMAT"
            )
        return Extraction(label, "zip", readers, skipped, refused, archive)
    reader = _file_reader(opener.open, label, head, _defaults(label))
    return Extraction(label, reader.meta.container, [reader], [])


class _Archive:
    """A zip's members, read through one ``ZipFile`` while something :meth:`held` it (the
    opening, a pass): its central directory is read once, not once per member."""

    def __init__(self, opener: _Opener) -> None:
        self._opener = opener
        self._zip: zipfile.ZipFile | None = None
        self._holders = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[zipfile.ZipFile]:
        if self._zip is None:
            outer = self._opener.open()
            try:
                self._zip = zipfile.ZipFile(outer)
            except BaseException:
                outer.close()
                raise
        self._holders += 1
        try:
            yield self._zip
        finally:
            self._holders -= 1
            if self._holders == 0:
                zf, self._zip = self._zip, None
                fp = zf.fp
                zf.close()
                if fp is not None:
                    fp.close()

    def member(self, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        def open_member() -> IO[bytes]:
            if self._zip is not None:
                return cast(IO[bytes], _Closing(self._zip.open(info)))
            outer = self._opener.open()
            try:
                zf = zipfile.ZipFile(outer)
                inner = zf.open(info)
            except BaseException:
                outer.close()
                raise
            return cast(IO[bytes], _Closing(inner, zf, outer))

        return open_member


class _Closing(io.RawIOBase):
    """A zip member's stream that also closes its archive and file (reads go straight to the
    member: a buffer in front of it would inflate a whole block to read a header)."""

    def __init__(self, inner: IO[bytes], *others: Any) -> None:
        self._inner = inner
        self._others = others

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
            for other in self._others:
                other.close()
        super().close()


__all__ = [
    "BATCH_ROWS",
    "CHUNK",
    "HEAD",
    "KEY_DATE_FORMAT",
    "MAX_MEMBER_BYTES",
    "MAX_XLSX_BYTES",
    "DateFacts",
    "Extraction",
    "RowBatch",
    "Source",
    "SourceFile",
    "open_extraction",
    "read_extraction",
    "source_name",
]
