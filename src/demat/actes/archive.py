"""Opening a received ACTES ``.tar.gz`` without trusting it.

Members are read from the compressed stream one by one, in memory (documents may instead be
written into a directory the caller gives). Refused, with a :class:`~demat.errors.PackagingError`
code: path traversal and absolute names, sub-directories (archives are flat), symbolic and
hard links, devices, FIFOs, sparse files, duplicate names, too many members, an oversized
member, and more inflated bytes than allowed (gzip/tar bombs). Nothing is ever written outside
the given directory, and never through a link.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from demat.actes.formats import SNIFF_BYTES, FileFormat, sniff
from demat.actes.limits import DEFAULT_LIMITS, ActesLimits
from demat.actes.read import (
    ActeMessage,
    ActesMessage,
    EnveloppeCLMISILLMessage,
    EnveloppeMISILLCLMessage,
    is_actes_message,
    read_message,
)
from demat.actes.rules import Finding, Severity
from demat.errors import FileUnreadable, PackagingError
from demat.xml.safe import Prepend

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReceivedMember:
    """One file of a received archive.

    ``content`` holds the bytes unless the member was written to ``path`` (documents, when
    :func:`open_package` was given ``extract_to``) or not kept at all (documents, when it was
    told ``keep_documents=False``: only their size, digest and format are known).
    """

    name: str
    size: int
    sha256: str
    format: FileFormat
    content: bytes | None = None
    path: Path | None = None

    def read_bytes(self) -> bytes:
        """The member's bytes (from memory or from its extracted file)."""
        if self.content is not None:
            return self.content
        if self.path is None:
            raise PackagingError(
                f"contenu de {self.name!r} non conservé (archive ouverte sans ses documents)",
                code="ACTES_DOCUMENT_NON_CONSERVE",
            )
        return self.path.read_bytes()


@dataclass(frozen=True)
class ReceivedPackage:
    """A received archive: every member, the envelope, the messages and the documents.

    ``findings`` are package-level inconsistencies (missing envelope, a message the envelope
    does not list, a document a message names but the archive lacks…); each message also
    carries its own schema findings.
    """

    name: str | None
    members: tuple[ReceivedMember, ...]
    envelope: ActesMessage | None
    messages: tuple[ActesMessage, ...]
    documents: tuple[ReceivedMember, ...]
    findings: tuple[Finding, ...] = ()
    _index: dict[str, ReceivedMember] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({m.name: m for m in self.members})

    def member(self, name: str) -> ReceivedMember:
        """The member called ``name`` (KeyError if absent)."""
        return self._index[name]

    def expected_id_actes(self) -> tuple[str, ...]:
        """IDActe the préfecture will give each acte (1-1) of a collectivité's archive."""
        env = self.envelope
        if not isinstance(env, EnveloppeCLMISILLMessage):
            return ()
        who = env.enveloppe.emetteur
        ids = (
            m.acte.id_acte_for(who.departement, who.siren)
            for m in self.messages
            if isinstance(m, ActeMessage)
        )
        return tuple(i for i in ids if i is not None)

    @property
    def valid(self) -> bool:
        """No error finding at package level, nor any schema finding in its messages."""
        return not any(f.severity is Severity.ERROR for f in self.all_findings())

    def all_findings(self) -> list[Finding]:
        """Package findings followed by each message's, prefixed with the member name."""
        out = list(self.findings)
        for m in (self.envelope, *self.messages):
            if m is not None:
                out += [
                    Finding(f.code, f.message, f"{m.name} {f.field or ''}".strip(), f.severity)
                    for f in m.findings
                ]
        return out


class _Capped(io.RawIOBase):
    """Counts inflated bytes and stops at ``cap`` (gzip bombs)."""

    def __init__(self, raw: IO[bytes], cap: int, name: str | None) -> None:
        self._raw = raw
        self._cap = cap
        self._name = name
        self.seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            chunk = self._raw.read(len(buffer))
        except (OSError, EOFError, zlib.error) as exc:
            raise PackagingError(
                f"archive illisible (gzip) : {exc}", file=self._name, code="ACTES_ARCHIVE_ILLISIBLE"
            ) from exc
        n = len(chunk)
        self.seen += n
        if self.seen > self._cap:
            raise PackagingError(
                f"l'archive décompressée dépasse {self._cap} octets (bombe de décompression ?)",
                file=self._name,
                code="ACTES_ARCHIVE_BOMBE",
            )
        buffer[:n] = chunk
        return n


def _refuse(what: str, code: str, name: str | None) -> PackagingError:
    return PackagingError(what, file=name, code=code)


def safe_member_name(raw: str, archive: str | None = None) -> str:
    """The member's name if it is a plain file name; else raise :class:`PackagingError`."""
    name = raw
    while name.startswith("./"):
        name = name[2:]
    if not name:
        raise _refuse("membre sans nom", "ACTES_TAR_NOM", archive)
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise _refuse(f"chemin absolu refusé : {raw!r}", "ACTES_TAR_CHEMIN_ABSOLU", archive)
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise _refuse(f"remontée de répertoire refusée : {raw!r}", "ACTES_TAR_TRAVERSEE", archive)
    if len(parts) > 1:
        raise _refuse(
            f"sous-répertoire refusé (archive plate attendue) : {raw!r}", "ACTES_TAR_SOUS_DOSSIER", archive
        )
    if any(ord(c) < 32 for c in name) or name in (".", ".."):
        raise _refuse(f"nom de membre refusé : {raw!r}", "ACTES_TAR_NOM", archive)
    return name


def _check_type(info: tarfile.TarInfo, archive: str | None) -> None:
    if info.issym():
        raise _refuse(f"lien symbolique refusé : {info.name!r}", "ACTES_TAR_LIEN_SYMBOLIQUE", archive)
    if info.islnk():
        raise _refuse(f"lien physique refusé : {info.name!r}", "ACTES_TAR_LIEN_PHYSIQUE", archive)
    if info.ischr() or info.isblk():
        raise _refuse(f"fichier de périphérique refusé : {info.name!r}", "ACTES_TAR_PERIPHERIQUE", archive)
    if info.isfifo():
        raise _refuse(f"FIFO refusée : {info.name!r}", "ACTES_TAR_FIFO", archive)
    if info.issparse() or not info.isreg():
        raise _refuse(f"type de membre refusé : {info.name!r}", "ACTES_TAR_TYPE", archive)


def _open_source(
    source: bytes | str | os.PathLike[str] | IO[bytes], limits: ActesLimits
) -> tuple[IO[bytes], str | None]:
    if isinstance(source, bytes):
        return io.BytesIO(source), None
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            if path.stat().st_size > limits.max_inflated_bytes:
                raise _refuse("archive trop volumineuse", "ACTES_ARCHIVE_TROP_GRANDE", path.name)
            return path.open("rb"), path.name
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, path) from None
    return source, getattr(source, "name", None)


def _decompressed(raw: IO[bytes], name: str | None) -> IO[bytes]:
    peek = raw.read(2)
    rest = io.BufferedReader(Prepend(peek, raw))
    if peek == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=rest, mode="rb")  # type: ignore[return-value]
    return rest  # a plain tar is tolerated


def _write_new(directory: Path, name: str) -> IO[bytes]:
    # O_EXCL|O_NOFOLLOW: never overwrite, never follow a planted link.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(directory / name, flags, 0o600)
    except OSError as exc:
        raise _refuse(
            f"extraction de {name!r} impossible : {exc.strerror}", "ACTES_EXTRACTION", str(directory)
        ) from exc
    return os.fdopen(fd, "wb")


def _read_members(
    stream: IO[bytes], archive: str | None, limits: ActesLimits, extract_to: Path | None, keep_documents: bool
) -> list[ReceivedMember]:
    members: list[ReceivedMember] = []
    seen: set[str] = set()
    try:
        tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise _refuse(f"archive tar illisible : {exc}", "ACTES_ARCHIVE_ILLISIBLE", archive) from exc
    try:
        for info in _iter_tar(tar, archive):
            if info.isdir() and info.name.strip("./") == "":
                continue
            if len(members) >= limits.max_members:
                raise _refuse(f"plus de {limits.max_members} membres", "ACTES_TAR_TROP_DE_MEMBRES", archive)
            name = safe_member_name(info.name, archive)
            if info.isdir():
                raise _refuse(
                    f"répertoire refusé (archive plate attendue) : {name!r}",
                    "ACTES_TAR_SOUS_DOSSIER",
                    archive,
                )
            _check_type(info, archive)
            if name in seen:
                raise _refuse(f"membre en double : {name!r}", "ACTES_TAR_DOUBLON", archive)
            seen.add(name)
            if info.size > limits.max_member_bytes:
                raise _refuse(
                    f"membre {name!r} de {info.size} octets, au-delà de {limits.max_member_bytes}",
                    "ACTES_TAR_MEMBRE_TROP_GRAND",
                    archive,
                )
            members.append(_read_one(tar, info, name, limits, extract_to, keep_documents))
    except tarfile.TarError as exc:
        raise _refuse(f"archive tar illisible : {exc}", "ACTES_ARCHIVE_ILLISIBLE", archive) from exc
    finally:
        tar.close()
    return members


def _iter_tar(tar: tarfile.TarFile, archive: str | None) -> Any:
    while True:
        try:
            info = tar.next()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise _refuse(
                f"archive tronquée ou corrompue : {exc}", "ACTES_ARCHIVE_ILLISIBLE", archive
            ) from exc
        if info is None:
            return
        yield info


def _read_one(
    tar: tarfile.TarFile,
    info: tarfile.TarInfo,
    name: str,
    limits: ActesLimits,
    extract_to: Path | None,
    keep_documents: bool,
) -> ReceivedMember:
    src = tar.extractfile(info)
    assert src is not None  # regular file, checked
    h = hashlib.sha256()
    first = src.read(min(info.size, SNIFF_BYTES))
    fmt = sniff(first)
    h.update(first)
    size = len(first)
    # XML small enough to be a message stays in memory; everything else may go to disk, or
    # only through the digest.
    message = fmt is FileFormat.XML and info.size <= limits.max_message_bytes
    if not message and extract_to is None and not keep_documents:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
        return ReceivedMember(name, size, h.hexdigest(), fmt)
    keep = extract_to is None or message
    if keep:
        chunks = [first]
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            chunks.append(chunk)
            h.update(chunk)
            size += len(chunk)
        return ReceivedMember(name, size, h.hexdigest(), fmt, content=b"".join(chunks))
    assert extract_to is not None
    with _write_new(extract_to, name) as out:
        out.write(first)
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            out.write(chunk)
            h.update(chunk)
            size += len(chunk)
    return ReceivedMember(name, size, h.hexdigest(), fmt, path=extract_to / name)


def open_package(
    source: bytes | str | os.PathLike[str] | IO[bytes],
    *,
    limits: ActesLimits = DEFAULT_LIMITS,
    extract_to: str | os.PathLike[str] | None = None,
    schema: Any = None,
    registry: Any = None,
    check_schema: bool = True,
    keep_documents: bool = True,
) -> ReceivedPackage:
    """Open an ACTES archive (path, bytes or stream) and read its envelope and messages.

    ``extract_to`` (an existing directory) receives the documents; messages always stay in
    memory. Without it, documents stay in memory too, unless ``keep_documents=False``: then
    they only go through their digest (what inspecting an archive needs, in bounded memory
    whatever the documents weigh). ``schema``/``registry`` as for
    :func:`demat.actes.read.read_message`.
    """
    raw, archive = _open_source(source, limits)
    target = Path(extract_to) if extract_to is not None else None
    if target is not None and not target.is_dir():
        raise _refuse(f"répertoire d'extraction absent : {target}", "ACTES_EXTRACTION", archive)
    try:
        capped = _Capped(_decompressed(raw, archive), limits.max_inflated_bytes, archive)
        members = _read_members(io.BufferedReader(capped, _CHUNK), archive, limits, target, keep_documents)
    finally:
        if not isinstance(source, bytes) and isinstance(source, str | os.PathLike):
            raw.close()
    return _assemble(archive, members, limits, target, schema, registry, check_schema)


def _assemble(
    archive: str | None,
    members: list[ReceivedMember],
    limits: ActesLimits,
    target: Path | None,
    schema: Any,
    registry: Any,
    check_schema: bool,
) -> ReceivedPackage:
    xml_limits = limits.xml()
    envelopes: list[ActesMessage] = []
    messages: list[ActesMessage] = []
    documents: list[ReceivedMember] = []
    for m in members:
        if m.format is FileFormat.XML and m.content is not None and is_actes_message(m.content):
            msg = read_message(
                m.content,
                name=m.name,
                schema=schema,
                registry=registry,
                check_schema=check_schema,
                limits=xml_limits,
            )
            (
                envelopes
                if isinstance(msg, EnveloppeCLMISILLMessage | EnveloppeMISILLCLMessage)
                else messages
            ).append(msg)
        else:
            documents.append(m)
    # Documents that stayed in memory only because they looked like messages go to disk too.
    if target is not None:
        documents = [_spill(target, d) if d.path is None else d for d in documents]
    findings = _consistency(envelopes, messages, documents)
    return ReceivedPackage(
        name=archive,
        members=tuple(members),
        envelope=envelopes[0] if envelopes else None,
        messages=tuple(messages),
        documents=tuple(documents),
        findings=tuple(findings),
    )


def _spill(target: Path, d: ReceivedMember) -> ReceivedMember:
    assert d.content is not None
    with _write_new(target, d.name) as out:
        out.write(d.content)
    return ReceivedMember(d.name, d.size, d.sha256, d.format, path=target / d.name)


def _consistency(
    envelopes: list[ActesMessage], messages: list[ActesMessage], documents: list[ReceivedMember]
) -> list[Finding]:
    out: list[Finding] = []
    if not envelopes:
        out.append(Finding("ACTES_PAQUET_SANS_ENVELOPPE", "aucune enveloppe dans l'archive"))
        return out
    if len(envelopes) > 1:
        out.append(Finding("ACTES_PAQUET_ENVELOPPES", f"{len(envelopes)} enveloppes dans l'archive"))
    env = envelopes[0]
    assert isinstance(env, EnveloppeCLMISILLMessage | EnveloppeMISILLCLMessage)
    listed = {f.nom_fichier for f in env.enveloppe.formulaires}
    present = {m.name or "" for m in messages}
    for missing in sorted(listed - present):
        out.append(
            Finding("ACTES_PAQUET_FORMULAIRE_ABSENT", f"formulaire {missing} annoncé mais absent", missing)
        )
    for extra in sorted(present - listed):
        out.append(
            Finding(
                "ACTES_PAQUET_FORMULAIRE_NON_ANNONCE",
                f"message {extra} absent de l'enveloppe",
                extra,
                Severity.WARNING,
            )
        )
    names = {d.name for d in documents}
    referenced: set[str] = set()
    for msg in messages:
        for f in msg.referenced_files():
            referenced.add(f)
            if f not in names:
                out.append(
                    Finding("ACTES_PAQUET_DOCUMENT_ABSENT", f"{msg.name} cite {f}, absent de l'archive", f)
                )
    for orphan in sorted(names - referenced):
        out.append(
            Finding(
                "ACTES_PAQUET_DOCUMENT_ORPHELIN",
                f"{orphan} n'est cité par aucun message",
                orphan,
                Severity.WARNING,
            )
        )
    return out


__all__ = ["ReceivedMember", "ReceivedPackage", "open_package", "safe_member_name"]
