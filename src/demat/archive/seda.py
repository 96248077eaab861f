"""SEDA 2.1 / 2.2 / 2.3 ``ArchiveTransfer`` packages (SIP) from a finished transmission.

:func:`build_package` writes the manifest (the bordereau de versement) and lists the objects;
:meth:`Package.to_zip` writes the SIP, ``manifest.xml`` at the root and the files under
``content/``, byte for byte the same for the same input (fixed dates, order and modes).

The manifest has one root ArchiveUnit for the transmission (``DescriptionLevel`` File: title,
the transmission's id as ``OriginatingSystemId``, the collectivité as ``OriginatingAgency``,
dates, identifiers as keywords, the retention rule applied and where it comes from) with one
child unit per document (``Item``: name, kind as ``DocumentType``, sent or received date) and
one for the journal excerpt (``journal.json``). Each file is a ``BinaryDataObject`` in its own
``DataObjectGroup``: SHA-512 ``MessageDigest``, ``Size`` (left out for an empty file: SEDA's
``Size`` is a positive integer), ``FormatIdentification`` found by content
(:mod:`demat.archive.formats`) and ``FileInfo``. Element order follows the XSDs' sequences
(``reference/archive.md`` §3); the tests validate every version against the official XSDs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lxml import etree

from demat.archive.formats import FormatInfo, identifier_version, identify
from demat.archive.model import ArchivalProfileRef, ArchiveDocument, ArchiveInput
from demat.archive.rules import RetentionRule, RuleSet
from demat.errors import PackagingError, SchemaError, ValidationError

#: SEDA versions demat writes, and their namespaces.
SEDA_NAMESPACES: Mapping[str, str] = {
    "2.1": "fr:gouv:culture:archivesdefrance:seda:v2.1",
    "2.2": "fr:gouv:culture:archivesdefrance:seda:v2.2",
    "2.3": "fr:gouv:culture:archivesdefrance:seda:v2.3",
}
#: Name of the manifest at the root of a SIP.
MANIFEST_NAME = "manifest.xml"
#: Folder of the files inside a SIP.
CONTENT_DIR = "content"
#: Date written on every zip entry (the zip format's epoch): the same input gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20

_FLOW_TITLES = {
    "pes": "Flux PES",
    "actes": "Acte transmis au contrôle de légalité",
    "budget": "Document budgétaire",
    "elections": "Dépôt des listes électorales",
}


def sha512_of(data: bytes | Path) -> tuple[str, int]:
    """SHA-512 (hex) and size of bytes or of a file, read in chunks."""
    if isinstance(data, bytes | bytearray | memoryview):
        return hashlib.sha512(data).hexdigest(), len(data)
    h = hashlib.sha512()
    size = 0
    with open(data, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


@dataclass(frozen=True)
class PackageObject:
    """One file of the package: where it goes in the SIP (``uri``), its bytes or path, size,
    SHA-512 and format."""

    uri: str
    data: bytes | Path = field(repr=False)
    size: int
    sha512: str
    format: FormatInfo
    name: str
    kind: str


@dataclass(frozen=True)
class Package:
    """A built SIP: the manifest's bytes, its SHA-512 (:attr:`digest`, the package's identity
    everywhere: seal, storage key, ledger), the objects it lists and the rule it applied."""

    manifest_bytes: bytes = field(repr=False)
    objects: tuple[PackageObject, ...]
    seda_version: str
    message_identifier: str
    transmission_id: str
    profile: str
    flow: str
    rule: RetentionRule
    rule_start: dt.date

    @property
    def digest(self) -> str:
        """SHA-512 (hex) of :attr:`manifest_bytes`."""
        return hashlib.sha512(self.manifest_bytes).hexdigest()

    @property
    def due(self) -> dt.date:
        """The day the DUA runs out."""
        return self.rule.due(self.rule_start)

    @property
    def size(self) -> int:
        """Bytes of content (the manifest left out)."""
        return sum(o.size for o in self.objects)

    def to_zip(self, out: Path | IO[bytes]) -> None:
        """Write the SIP zip to ``out`` (a path, or a binary file object), deterministically."""
        if isinstance(out, Path):
            with open(out, "wb") as f:
                self._write_zip(f)
            return
        if out.seekable():
            self._write_zip(out)
            return
        # zipfile rewrites local headers in place when it can seek and writes data descriptors
        # when it cannot: go through a seekable spool so both give the same bytes.
        with tempfile.SpooledTemporaryFile(max_size=64 << 20) as spool:
            self._write_zip(spool)
            spool.seek(0)
            shutil.copyfileobj(spool, out, _CHUNK)

    def zip_bytes(self) -> bytes:
        """The SIP zip in memory (small packages, tests)."""
        buf = io.BytesIO()
        self._write_zip(buf)
        return buf.getvalue()

    def _write_zip(self, f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            _write_member(zf, MANIFEST_NAME, self.manifest_bytes, len(self.manifest_bytes))
            for obj in self.objects:
                _write_member(zf, obj.uri, obj.data, obj.size)


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    info.create_system = 3
    info.file_size = size
    return info


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes | Path, size: int) -> None:
    info = _zip_info(name, size)
    with zf.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as dest:
        if isinstance(data, Path):
            with open(data, "rb") as src:
                shutil.copyfileobj(src, dest, _CHUNK)
        else:
            dest.write(data)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_name(name: str) -> str:
    base = _SAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip("._") or "document"
    return base[:120]


def _iso(at: dt.datetime) -> str:
    if at.tzinfo is None:
        raise PackagingError("naive datetime in the archive input: give it a time zone")
    return at.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def journal_bytes(entries: Any) -> bytes:
    """The journal excerpt as kept in the package: a JSON array, sorted keys, one entry a line."""
    lines = [
        json.dumps(e, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)
        for e in entries
    ]
    return ("[\n" + ",\n".join(lines) + "\n]\n").encode()


class _Maker:
    """Builds elements in one SEDA namespace, children in the order given."""

    def __init__(self, ns: str) -> None:
        self.ns = ns

    def __call__(self, tag: str, *children: Any, **attrs: str) -> etree._Element:
        el = etree.Element(f"{{{self.ns}}}{tag}", nsmap={None: self.ns})
        for k, v in attrs.items():
            el.set(k, v)
        for child in children:
            if child is None:
                continue
            if isinstance(child, etree._Element):
                el.append(child)
            elif isinstance(child, list | tuple):
                for c in child:
                    if c is not None:
                        el.append(c)
            else:
                el.text = str(child)
        return el


def _objects(facts: ArchiveInput) -> Iterator[tuple[ArchiveDocument, str]]:
    used: set[str] = set()
    docs = facts.all_documents()
    journal = ArchiveDocument("journal.json", journal_bytes(facts.journal), "journal", "sent", facts.finished)
    for index, doc in enumerate([*docs, journal], start=1):
        name = f"{index:03d}_{_safe_name(doc.name)}"
        if name in used:  # cannot happen with the index prefix, kept as a guard
            raise PackagingError(f"two documents named {name} in the package")
        used.add(name)
        yield doc, f"{CONTENT_DIR}/{name}"


def build_package(
    transmission_facts: ArchiveInput,
    *,
    seda_version: str = "2.1",
    rules: RuleSet | None = None,
    profile: ArchivalProfileRef | None = None,
) -> Package:
    """Build the ``ArchiveTransfer`` of a finished transmission (see the module docstring).

    ``rules`` defaults to :data:`~demat.archive.rules.DEFAULT_RULES`; the row of the
    transmission's flow is applied from its last journal date and recorded in the manifest.
    With a ``profile`` carrying a RelaxNG grammar, the manifest must match it
    (:class:`~demat.errors.ValidationError` listing what does not).
    """
    facts = transmission_facts
    ns = SEDA_NAMESPACES.get(seda_version)
    if ns is None:
        raise PackagingError(
            f"SEDA {seda_version!r}: demat writes {', '.join(SEDA_NAMESPACES)}", code="SEDA_VERSION"
        )
    rule = (rules or RuleSet()).for_flow(facts.flow)
    start = facts.finished.astimezone(dt.UTC).date()
    e = _Maker(ns)
    objects: list[PackageObject] = []
    groups: list[etree._Element] = []
    units: list[etree._Element] = []
    for index, (doc, uri) in enumerate(_objects(facts), start=1):
        if isinstance(doc.data, Path) and not doc.data.is_file():
            raise PackagingError(f"{doc.name}: no such file {doc.data}", file=str(doc.data))
        digest, size = sha512_of(doc.data)
        fmt = identify(doc.data)
        objects.append(PackageObject(uri, doc.data, size, digest, fmt, doc.name, doc.kind))
        groups.append(_group(e, seda_version, index, doc, uri, digest, size, fmt))
        units.append(_item_unit(e, index, doc))
    root_unit = e(
        "ArchiveUnit",
        e("Management", _rules(e, rule, start)),
        _root_content(e, facts, rule, start),
        units,
        id="AU0",
    )
    management = e(
        "ManagementMetadata",
        e("ArchivalProfile", profile.identifier) if profile else None,
        e("OriginatingAgencyIdentifier", facts.originating_agency.identifier),
        e("SubmissionAgencyIdentifier", (facts.transferring_agency or facts.originating_agency).identifier),
    )
    transfer = e(
        "ArchiveTransfer",
        e("Comment", f"Versement produit par demat (formats : Siegfried {identifier_version()})"),
        e("Date", _iso(facts.finished)),
        e("MessageIdentifier", f"DEMAT-{facts.transmission_id}"),
        e("ArchivalAgreement", facts.archival_agreement) if facts.archival_agreement else None,
        e("CodeListVersions"),
        e("DataObjectPackage", groups, e("DescriptiveMetadata", root_unit), management),
        _agency(e, "ArchivalAgency", facts.archival_agency.identifier),
        _agency(e, "TransferringAgency", (facts.transferring_agency or facts.originating_agency).identifier),
    )
    manifest = etree.tostring(transfer, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    if profile is not None and profile.rng is not None:
        check_profile(manifest, profile)
    return Package(
        manifest,
        tuple(objects),
        seda_version,
        f"DEMAT-{facts.transmission_id}",
        facts.transmission_id,
        facts.profile,
        facts.flow,
        rule,
        start,
    )


def _agency(e: _Maker, tag: str, identifier: str) -> etree._Element:
    return e(tag, e("Identifier", identifier))


def _group(
    e: _Maker,
    version: str,
    index: int,
    doc: ArchiveDocument,
    uri: str,
    digest: str,
    size: int,
    fmt: FormatInfo,
) -> etree._Element:
    ident = e(
        "FormatIdentification",
        e("FormatLitteral", f"{fmt.name} {fmt.version}".strip()) if fmt.name else None,
        e("MimeType", fmt.mime),
        e("FormatId", fmt.pronom) if fmt.pronom else None,
    )
    bdo = e(
        "BinaryDataObject",
        e("DataObjectVersion", "BinaryMaster_1"),
        e("Uri", uri),
        e("MessageDigest", digest, algorithm="SHA-512"),
        e("Size", str(size)) if size > 0 else None,
        ident,
        e("FileInfo", e("Filename", doc.name)),
        id=f"BDO{index}",
    )
    return e("DataObjectGroup", bdo, id=f"GOT{index}")


def _rules(e: _Maker, rule: RetentionRule, start: dt.date) -> list[etree._Element]:
    return [
        e(
            "AppraisalRule",
            e("Rule", rule.appraisal_rule),
            e("StartDate", start.isoformat()),
            e("FinalAction", rule.final_action),
        ),
        e("AccessRule", e("Rule", rule.access_rule), e("StartDate", start.isoformat())),
    ]


def _root_content(e: _Maker, facts: ArchiveInput, rule: RetentionRule, start: dt.date) -> etree._Element:
    title = f"{_FLOW_TITLES.get(facts.flow, facts.flow)} : {facts.name}"
    described = [
        f"Transmission {facts.transmission_id} du profil {facts.profile}, flux {facts.flow}"
        + (f", état final {facts.state}" if facts.state else "")
        + (f", identifiant sur la plateforme {facts.remote_id}" if facts.remote_id else "")
        + ".",
        f"Règle de gestion appliquée : {rule.appraisal_rule}, DUA {rule.dua} à compter du"
        f" {start.isoformat()}, sort final {rule.final_action}, communicabilité {rule.access_rule}"
        + (f" ({rule.source})" if rule.source else "")
        + ".",
    ]
    keywords = [
        e("Keyword", e("KeywordContent", f"{key} : {value}"))
        for key, value in sorted(facts.identifiers.items())
    ]
    return e(
        "Content",
        e("DescriptionLevel", "File"),
        e("Title", title),
        e("OriginatingSystemId", facts.transmission_id),
        [e("Description", d) for d in described],
        keywords,
        e(
            "OriginatingAgency",
            e("Identifier", facts.originating_agency.identifier),
        ),
        e("StartDate", _iso(facts.started)),
        e("EndDate", _iso(facts.finished)),
    )


def _item_unit(e: _Maker, index: int, doc: ArchiveDocument) -> etree._Element:
    when = None
    if doc.at is not None:
        when = e("SentDate" if doc.direction == "sent" else "ReceivedDate", _iso(doc.at))
    content = e(
        "Content",
        e("DescriptionLevel", "Item"),
        e("Title", doc.name),
        e("Description", "document envoyé" if doc.direction == "sent" else "document reçu"),
        e("DocumentType", doc.kind),
        when,
    )
    return e(
        "ArchiveUnit",
        content,
        e("DataObjectReference", e("DataObjectGroupReferenceId", f"GOT{index}")),
        id=f"AU{index}",
    )


def check_profile(manifest: bytes, profile: ArchivalProfileRef) -> None:
    """Check ``manifest`` against the profile's RelaxNG grammar; :class:`ValidationError` with
    the first errors when it does not match."""
    if profile.rng is None:
        return
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        grammar = etree.RelaxNG(etree.fromstring(profile.rng, parser))
    except (etree.RelaxNGParseError, etree.XMLSyntaxError) as exc:
        raise SchemaError(f"archival profile {profile.identifier}: {exc}", code="ARCHIVE_PROFILE") from exc
    doc = etree.fromstring(manifest, parser)
    if not grammar.validate(doc):
        errors = "; ".join(f"line {err.line}: {err.message}" for err in list(grammar.error_log)[:5])
        raise ValidationError(
            f"the package does not match archival profile {profile.identifier}: {errors}",
            code="ARCHIVE_PROFILE",
        )


__all__ = [
    "CONTENT_DIR",
    "MANIFEST_NAME",
    "SEDA_NAMESPACES",
    "ZIP_DATE",
    "Package",
    "PackageObject",
    "build_package",
    "check_profile",
    "journal_bytes",
    "sha512_of",
]
