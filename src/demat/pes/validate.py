"""Validate a PES_Aller in one streaming pass: XSD, business rules and PJ content together.

libxml2 validates against the XSD while the file streams through the same parser that feeds
the rule scanner (:mod:`demat.pes.inspect`), so a 500 MB file is read once, in bounded memory.

Two libxml2 facts shape this module:

* streaming validation keeps parsing after a validity error and only raises at the end, and
  its messages carry no line number. To place them, errors are caught as they happen through
  lxml's per-thread global error log (a probe for the time of the validation, the caller's log
  put back after it), which tells in which fed chunk each error arose; when the file is invalid
  and can be read again, the failing chunks are re-fed line by line to get exact lines.
* a hostile or broken document is a *document* problem: :func:`validate_pes` reports it as
  an error finding (DTD, entities, depth, size, not XML, malformed) instead of raising. Only
  I/O and configuration problems (file missing, no schema) raise.

The work runs on the calling thread, as protocol code knows no threads: async callers hand it
to :func:`demat.gateway.offload.offload`, and threads may validate at the same time.
"""

from __future__ import annotations

import binascii
import ctypes
import io
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from lxml import etree

from demat.errors import XMLSecurityError, XMLSyntaxError
from demat.pes.inspect import (
    BULK_TAGS,
    CHUNK_SIZE,
    DEFAULT_MAX_PJ_TEXT,
    PesInfo,
    PesScanner,
    PjInfo,
    parser_options,
    pj_text_cap,
    pull_events,
    scan,
)
from demat.pes.rules import ERROR, WARNING, Finding, check_all
from demat.xml.safe import DEFAULT_LIMITS, Limits, Source, open_checked
from demat.xml.schemas import SchemaRegistry, default_registry

#: Default cap on one PJ once inflated; real PJs (PDF, XML) stay far below it.
DEFAULT_MAX_PJ_INFLATED = 256 * 1024 * 1024
#: XSD errors reported at most (a systematically wrong file yields thousands).
MAX_XSD_FINDINGS = 50
_B64_STEP = 1 << 20
_INFLATE_STEP = 1 << 20
_WS = b" \n\r\t"


@dataclass
class ValidationReport:
    """The verdict on one file: ``valid`` is True when there is no error (warnings allowed)."""

    file: str | None
    valid: bool
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    info: PesInfo | None = None
    schema: str | None = None  #: which schema set was used, e.g. "pes v5.17 (official)"

    def to_dict(self, *, with_info: bool = False) -> dict[str, Any]:
        """A JSON-ready view (``file``, ``valid``, ``errors``, ``warnings``, ``schema``)."""
        out: dict[str, Any] = {
            "file": self.file,
            "valid": self.valid,
            "schema": self.schema,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
        }
        if with_info and self.info is not None:
            out["info"] = self.info.to_dict()
        return out


# --- PJ content -------------------------------------------------------------------------


def check_pj_text(text: str, *, max_inflated: int, inflate: bool = True) -> tuple[Finding | None, int | None]:
    """Check one PJ's ``Fichier``: base64 of a gzip stream, inflated in steps under a cap.

    Returns (problem or None, inflated size or None when not inflated). Memory stays at about
    one step of base64 and one step of output whatever the PJ's size or compression ratio.
    """
    if not text or text.isspace():
        return Finding("PES_PJ_CONTENT", "le fichier de la PJ est vide"), None
    inflater: Any = zlib.decompressobj(wbits=31) if inflate else None
    carry = b""
    total = 0
    first = True
    n = len(text)
    pos = 0
    while pos < n:
        try:
            # bytes.translate drops line breaks at C speed; base64 is ASCII or invalid.
            piece = carry + text[pos : pos + _B64_STEP].encode("ascii").translate(None, _WS)
            pos += _B64_STEP
            cut = len(piece) if pos >= n else len(piece) - len(piece) % 4
            carry, piece = piece[cut:], piece[:cut]
            raw = binascii.a2b_base64(piece, strict_mode=True)
        except (binascii.Error, ValueError):  # UnicodeEncodeError is a ValueError
            return Finding("PES_PJ_CONTENT", "le contenu de la PJ n'est pas du base64 valide"), None
        if first and raw:
            first = False
            if raw[:2] != b"\x1f\x8b":
                return Finding(
                    "PES_PJ_CONTENT",
                    "le contenu de la PJ n'est pas compressé en gzip (il doit être gzip puis base64)",
                ), None
        if inflater is None:
            continue
        try:
            while raw:
                out = inflater.decompress(raw, _INFLATE_STEP)
                total += len(out)
                while len(out) == _INFLATE_STEP and total <= max_inflated:
                    # Output may still be pending inside zlib although all input is consumed.
                    out = inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP)
                    total += len(out)
                if total > max_inflated:
                    return Finding(
                        "PES_PJ_BOMB",
                        f"la PJ décompressée dépasse {max_inflated} octets (bombe de décompression ?) ; "
                        "elle est refusée",
                    ), None
                raw = inflater.unconsumed_tail
                if inflater.eof:
                    rest = inflater.unused_data
                    if rest[:2] == b"\x1f\x8b":  # a further gzip member
                        inflater = zlib.decompressobj(wbits=31)
                        raw = rest
                    elif rest:
                        return Finding("PES_PJ_CONTENT", "des données suivent la fin du gzip de la PJ"), None
        except zlib.error:
            return Finding("PES_PJ_CONTENT", "le gzip de la PJ est corrompu et ne peut pas être lu"), None
    if carry:
        return Finding("PES_PJ_CONTENT", "le base64 de la PJ est tronqué"), None
    if inflater is not None and not inflater.eof:
        return Finding("PES_PJ_CONTENT", "le gzip de la PJ est tronqué"), None
    return None, (total if inflater is not None else None)


class _PjContentCheck:
    """Scanner hook: checks each PJ as it streams by; after one bomb, only decodes the rest."""

    def __init__(self, max_inflated: int) -> None:
        self.max_inflated = max_inflated
        self.problems: list[tuple[PjInfo, Finding]] = []
        self.bomb = False

    def __call__(self, pj: PjInfo, text: str) -> None:
        problem, size = check_pj_text(text, max_inflated=self.max_inflated, inflate=not self.bomb)
        if size is not None:
            pj.inflated_size = size
        if problem is not None:
            self.bomb = self.bomb or problem.code == "PES_PJ_BOMB"
            self.problems.append((pj, problem))

    @property
    def findings(self) -> list[Finding]:
        """The problems, worded once each PJ's IdUnique (read after its content) is known."""
        out = []
        for pj, problem in self.problems:
            who = f"PJ {pj.id_unique}" if pj.id_unique else f"PJ n°{pj.index}"
            path = f"/PES_Aller/PES_PJ/PJ[{pj.index}]"
            out.append(Finding(problem.code, f"{who} : {problem.message}", pj.line, path))
        return out


# --- libxml2 error probe ------------------------------------------------------------------


class _Probe(etree.PyErrorLog):  # type: ignore[misc]
    """Receives libxml2 messages as they happen, tagged with the chunk being fed."""

    def __init__(self) -> None:
        super().__init__()
        self.chunk = 0
        self.entries: list[tuple[int, str, str, int]] = []  # (chunk, domain, message, line)

    def receive(self, entry: Any) -> None:
        if entry.level_name in ("ERROR", "FATAL"):
            self.entries.append((self.chunk, entry.domain_name, entry.message, entry.line))

    def schema_errors(self) -> list[tuple[int, str]]:
        return [(c, m) for c, d, m, _ in self.entries if d == "SCHEMASV"]

    def parser_errors(self) -> list[tuple[str, int]]:
        return [(m, line) for _, d, m, line in self.entries if d != "SCHEMASV"]


T = TypeVar("T")

#: Where lxml keeps a thread's global error log: in the thread state's dict, under this key
#: (``GLOBAL_ERROR_LOG`` in lxml's ``xmlerror.pxi``). ``etree.use_global_python_log`` sets it
#: and nothing public reads it back, so putting the caller's log back needs that dict.
_LXML_GLOBAL_LOG = "_GlobalErrorLog"
# A prototype of our own, not ``ctypes.pythonapi.PyThreadState_GetDict`` (whose restype is
# shared). The dict is a borrowed reference: it comes back as an address, as ctypes would
# release a ``py_object`` result once too often.
_thread_state_dict = ctypes.PYFUNCTYPE(ctypes.c_void_p)(("PyThreadState_GetDict", ctypes.pythonapi))
_ABSENT = object()


def _probed(fn: Callable[[_Probe], T]) -> T:
    """Run ``fn`` here, on the calling thread, with a fresh probe as this thread's global lxml
    error log, and put back the log it replaced when ``fn`` ends, however it ends.

    libxml2 reports each message to the parser's own log and to the thread's global log; only
    the latter can be reached from outside :func:`pull_events`, hence the probe. The caller's
    log (lxml's default one with its entries, or a ``PyErrorLog`` of its own) receives nothing
    from the validation and is back afterwards, so exceptions' ``error_log`` keep working (while
    a ``PyErrorLog`` is installed they are empty; the validation reads the probe, not them).
    Parser and schema logs (``parser.error_log``, ``schema.error_log``) are never touched. A
    validation within a validation (a source whose ``read`` validates another document) gets
    a probe of its own the same way.
    """
    state: dict[str, Any] = ctypes.cast(_thread_state_dict(), ctypes.py_object).value
    previous = state.get(_LXML_GLOBAL_LOG, _ABSENT)
    probe = _Probe()
    etree.use_global_python_log(probe)
    try:
        if state.get(_LXML_GLOBAL_LOG) is not probe:
            raise RuntimeError("lxml no longer keeps a thread's error log where demat puts it back")
        return fn(probe)
    finally:
        if previous is _ABSENT:
            state.pop(_LXML_GLOBAL_LOG, None)
        else:
            state[_LXML_GLOBAL_LOG] = previous


def _reopen(source: Source, start: int | None) -> IO[bytes] | None:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if isinstance(source, str | os.PathLike):
        return open(source, "rb")  # closed by the caller
    if start is not None and source.seekable():
        source.seek(start)
        return source
    return None


def _locate(
    stream: IO[bytes], schema: Any, bad_chunks: set[int], probe: _Probe, max_findings: int
) -> list[tuple[str, int]]:
    """Re-feed the document; chunks that raised XSD errors go line by line to get exact lines."""
    parser = etree.XMLPullParser(events=("end",), tag=BULK_TAGS, **parser_options(schema))
    probe.entries.clear()
    found: list[tuple[str, int]] = []
    line = 1
    index = 0
    fine = bad_chunks | {c + 1 for c in bad_chunks}
    last_bad = max(bad_chunks)
    while len(found) < max_findings and index <= last_bad + 1:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            break
        pieces = chunk.split(b"\n") if index in fine else [chunk]
        for k, piece in enumerate(pieces):
            if index in fine and k < len(pieces) - 1:
                piece += b"\n"
            before = len(probe.entries)
            try:
                parser.feed(piece)
            except etree.XMLSyntaxError:  # the validator stopped the parser: nothing further
                return found + [(m, line) for _, d, m, _ in probe.entries[before:] if d == "SCHEMASV"]
            found += [(m, line) for _, d, m, _ in probe.entries[before:] if d == "SCHEMASV"]
            line += piece.count(b"\n")
        for _, elem in parser.read_events():
            elem.clear()
            parent = elem.getparent()
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
        index += 1
    return found


# --- the validator ----------------------------------------------------------------------------


def validate_pes(
    source: Source,
    *,
    registry: SchemaRegistry | None = None,
    origin: str | None = None,
    version: str | None = None,
    schema: bool = True,
    max_pj_inflated: int = DEFAULT_MAX_PJ_INFLATED,
    check_pj_content: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> ValidationReport:
    """Validate a PES_Aller: XSD (streamed), business rules and PJ content, in one pass.

    ``registry``/``origin``/``version`` choose the schema set (default: the newest bundled
    one); ``schema=False`` skips the XSD. Raises only when the file cannot be read or no
    schema is found (:class:`demat.errors.SchemaError`); every problem of the document
    itself, hostile XML included, is a finding of the returned report. ``limits`` caps the
    file, its depth and its text nodes and attributes (``max_text``); ``max_pj_text`` caps a
    PJ's base64 text, refused before the parser holds it whole.
    """
    xsd = None
    label = None
    if schema:
        reg = registry or default_registry()
        found = reg.find("pes", "pes_aller", version, origin)
        xsd = reg.compile(found.entry("pes_aller"))
        label = f"{found.family} {found.version} ({found.origin})"
    start = None
    if not isinstance(source, bytes | str | os.PathLike) and source.seekable():
        start = source.tell()

    def work(probe: _Probe) -> ValidationReport:
        return _validate(
            source, xsd, label, probe, start, max_pj_inflated, check_pj_content, limits, max_pj_text
        )

    return _probed(work)


def _validate(
    source: Source,
    xsd: Any,
    label: str | None,
    probe: _Probe,
    start: int | None,
    max_pj_inflated: int,
    check_pj_content: bool,
    limits: Limits,
    max_pj_text: int,
) -> ValidationReport:
    chunk_lines: list[int] = []
    next_line = 1

    def on_chunk(index: int, data: bytes) -> None:
        nonlocal next_line
        probe.chunk = index
        chunk_lines.append(next_line)
        next_line += data.count(b"\n")

    pj_check = _PjContentCheck(max_pj_inflated) if check_pj_content else None
    scanner = PesScanner(PesInfo(), pj_check)
    close_errors: list[tuple[str, int | None]] = []
    findings: list[Finding] = []
    broken = False
    try:
        scan(
            source,
            schema=xsd,
            limits=limits,
            on_chunk=on_chunk,
            close_errors=close_errors,
            scanner=scanner,
            max_pj_text=max_pj_text,
        )
    except (XMLSecurityError, XMLSyntaxError) as exc:
        if exc.code == "IO":
            raise
        findings += _aborted(exc, source, xsd, chunk_lines, probe, start)
        broken = True
    info = scanner.info
    if not broken:
        syntax = [(m, ln) for m, ln in probe.parser_errors()]
        xsd_errors = probe.schema_errors()
        if close_errors and not xsd_errors:
            syntax = syntax or [(m, ln or 0) for m, ln in close_errors]
        if syntax:
            findings.append(_syntax_finding(*syntax[0]))
            broken = True
        elif xsd_errors:
            findings += _xsd_findings(source, xsd, xsd_errors, chunk_lines, probe, start)
    if not broken:
        findings += check_all(info, scanner.ids)
        if pj_check is not None:
            findings += pj_check.findings
    errors = [f for f in findings if f.severity == ERROR]
    warnings = [f for f in findings if f.severity == WARNING]
    return ValidationReport(info.file, not errors, errors, warnings, info, label)


def _xsd_findings(
    source: Source,
    xsd: Any,
    streamed: list[tuple[int, str]],
    chunk_lines: list[int],
    probe: _Probe,
    start: int | None,
) -> list[Finding]:
    located: list[tuple[str, int | None]] = [
        (m, chunk_lines[c] if c < len(chunk_lines) else None) for c, m in streamed
    ]
    stream = _reopen(source, start)
    if stream is not None:
        try:
            exact = _locate(stream, xsd, {c for c, _ in streamed[:MAX_XSD_FINDINGS]}, probe, MAX_XSD_FINDINGS)
        finally:
            if not (start is not None and stream is source):
                stream.close()
        # Both passes meet the errors in document order; keep the chunk-level line for any
        # error the line-by-line pass did not reach.
        located = [*exact, *located[len(exact) :]]
    out = [
        Finding("PES_XSD", f"non conforme au schéma XSD : {m}", ln) for m, ln in located[:MAX_XSD_FINDINGS]
    ]
    if len(streamed) > MAX_XSD_FINDINGS:
        out.append(
            Finding(
                "PES_XSD", f"… et {len(streamed) - MAX_XSD_FINDINGS} autres erreurs de schéma non détaillées"
            )
        )
    return out


def validate_xsd(
    source: Source,
    kind: str,
    *,
    registry: SchemaRegistry | None = None,
    origin: str | None = None,
    version: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> ValidationReport:
    """Stream any PES document through its XSD only (``kind``: pes_aller, pes_acquit,
    pes_acquit_v1, pes_retour), with the same line placement and hostile-input handling
    as :func:`validate_pes`. Real ACKs often fail here (CodCol "000"): readers stay lenient.
    """
    reg = registry or default_registry()
    found = reg.find("pes", kind, version, origin)
    xsd = reg.compile(found.entry(kind))
    label = f"{found.family} {found.version} ({found.origin})"
    start = None
    if not isinstance(source, bytes | str | os.PathLike) and source.seekable():
        start = source.tell()

    def work(probe: _Probe) -> ValidationReport:
        chunk_lines: list[int] = []
        next_line = 1

        def on_chunk(index: int, data: bytes) -> None:
            nonlocal next_line
            probe.chunk = index
            chunk_lines.append(next_line)
            next_line += data.count(b"\n")

        close_errors: list[tuple[str, int | None]] = []
        findings: list[Finding] = []
        long_text = pj_text_cap() if kind == "pes_aller" else None
        stream, name, owned = open_checked(source, limits, long_text=long_text)
        try:
            for event, elem in pull_events(
                stream, name, schema=xsd, tag=BULK_TAGS, on_chunk=on_chunk, close_errors=close_errors
            ):
                if event == "end":
                    PesScanner._drop(elem)
        except (XMLSecurityError, XMLSyntaxError) as exc:
            if exc.code == "IO":
                raise
            findings += _aborted(exc, source, xsd, chunk_lines, probe, start)
        finally:
            if owned:
                stream.close()
                getattr(stream, "_demat_owned", stream).close()
        if not findings:
            syntax = probe.parser_errors()
            xsd_errors = probe.schema_errors()
            if close_errors and not xsd_errors:
                syntax = syntax or [(m, ln or 0) for m, ln in close_errors]
            if syntax:
                findings.append(_syntax_finding(*syntax[0]))
            elif xsd_errors:
                findings += _xsd_findings(source, xsd, xsd_errors, chunk_lines, probe, start)
        return ValidationReport(name, not findings, findings, [], None, label)

    return _probed(work)


def _aborted(
    exc: XMLSecurityError | XMLSyntaxError,
    source: Source,
    xsd: Any,
    chunk_lines: list[int],
    probe: _Probe,
    start: int | None,
) -> list[Finding]:
    """Findings for a pass that stopped early: hostile or broken XML, or a wrong root that
    makes libxml2's streaming validator stop the parser (its message is then a schema one)."""
    xsd_errors = probe.schema_errors()
    if xsd_errors and any(m.strip() == exc.message.strip() for _, m in xsd_errors):
        return _xsd_findings(source, xsd, xsd_errors, chunk_lines, probe, start)
    return [Finding(exc.code, _french(exc), exc.line, exc.path)]


def _syntax_finding(message: str, line: int | None) -> Finding:
    if "Excessive depth" in message:  # libxml2's own nesting cap
        return Finding("XML_TOO_DEEP", f"{_FRENCH['XML_TOO_DEEP']} ({message})", line or None)
    return Finding("XML_SYNTAX", f"XML mal formé : {message}", line or None)


_FRENCH = {
    "XML_DTD_FORBIDDEN": "document refusé : il déclare une DTD (<!DOCTYPE>), interdite par sécurité",
    "XML_NOT_XML": "ce fichier n'est pas un document XML",
    "XML_EMPTY": "le fichier est vide ou n'a pas d'élément racine",
    "XML_TOO_DEEP": "document refusé : imbrication trop profonde",
    "XML_TOO_LARGE": "document refusé : taille maximale dépassée",
    "XML_PROLOG_TOO_LONG": "document refusé : prologue XML trop long",
    "XML_TEXT_TOO_LONG": "document refusé : texte, attribut ou commentaire trop long",
    "XML_ENCODING_FORBIDDEN": "document refusé : encodage non accepté (ISO-8859-1 ou UTF-8 attendu)",
    "XML_DECLARATION": "document refusé : déclaration XML illisible",
}


def _french(exc: XMLSecurityError | XMLSyntaxError) -> str:
    base = _FRENCH.get(exc.code)
    if base is None:
        return f"XML mal formé : {exc.message}"
    return f"{base} ({exc.message})"


__all__ = [
    "DEFAULT_MAX_PJ_INFLATED",
    "ValidationReport",
    "check_pj_text",
    "validate_pes",
    "validate_xsd",
]
