"""Building the ``.tar.gz`` a collectivité sends: envelope, message, documents, flat.

Nothing is read from disk until :meth:`ActesPackage.write`, which streams each document
through tar and gzip in 1 MiB chunks, so packaging a 150 MiB acte costs a few MiB of memory.
The archive's size cap is enforced on the compressed bytes as they are written.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import os
import tarfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from demat.actes import naming
from demat.actes.classification import Classification
from demat.actes.data import ActeData, FichierSigne
from demat.actes.envelope import envelope_data, envelope_message
from demat.actes.formats import SNIFF_BYTES, FileFormat, sniff
from demat.actes.limits import DEFAULT_LIMITS, ActesLimits
from demat.actes.messages import (
    ReplyKind,
    acte_message,
    annulation_message,
    demande_classification_message,
    reply_message,
)
from demat.actes.model import Acte, ActeDocument, ActesIdentity
from demat.actes.rules import ActesRuleError, Finding, validate_acte
from demat.errors import PackagingError, ValidationError
from demat.xml.safe import parse_bytes
from demat.xml.schemas import schema_errors

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Member:
    """One file of the archive: its name and its bytes or the path to read them from."""

    name: str
    content: bytes | Path

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.content) if isinstance(self.content, bytes) else self.content.stat().st_size

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """A binary stream over the content."""
        if isinstance(self.content, bytes):
            yield io.BytesIO(self.content)
        else:
            with self.content.open("rb") as f:
                yield f


class _CountingWriter(io.RawIOBase):
    """Counts bytes on their way to ``raw`` and refuses to pass ``cap``."""

    def __init__(self, raw: IO[bytes], cap: int, name: str) -> None:
        self._raw = raw
        self._cap = cap
        self._name = name
        self.written = 0
        self._tripped = False

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        n = len(b)
        if self._tripped:
            return n  # already refused: swallow the flushes that unwinding triggers
        self.written += n
        if self.written > self._cap:
            self._tripped = True
            raise PackagingError(
                f"l'archive dépasse {self._cap} octets, taille maximale admise",
                file=self._name,
                code="ACTES_ARCHIVE_TROP_GRANDE",
            )
        self._raw.write(b)
        return n


@dataclass(frozen=True)
class ActesPackage:
    """A ready-to-write ACTES archive.

    ``entries`` are in archive order (envelope, message, acte, annexes); ``message`` and
    ``envelope`` are the XML bytes; ``acte_data`` is what the 1-1 message says (``None`` for
    other messages).
    """

    filename: str
    entries: tuple[Member, ...]
    envelope_name: str
    message_name: str
    acte_data: ActeData | None = None
    id_acte: str | None = None
    warnings: tuple[Finding, ...] = ()
    limits: ActesLimits = DEFAULT_LIMITS
    mtime: int = 0
    compresslevel: int = 6
    _by_name: dict[str, Member] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({m.name: m for m in self.entries})

    @property
    def members(self) -> tuple[str, ...]:
        """Member names, in archive order."""
        return tuple(m.name for m in self.entries)

    @property
    def envelope(self) -> bytes:
        """The envelope XML."""
        return self._bytes(self.envelope_name)

    @property
    def message(self) -> bytes:
        """The message XML (1-1, 6-1, 7-1 or a reply)."""
        return self._bytes(self.message_name)

    def _bytes(self, name: str) -> bytes:
        content = self._by_name[name].content
        assert isinstance(content, bytes)
        return content

    def write(self, target: str | os.PathLike[str] | IO[bytes]) -> int:
        """Write the archive to a path (atomically, via a ``.part`` file) or a binary stream.

        Returns the archive's size. Raises :class:`~demat.errors.PackagingError`
        (``ACTES_ARCHIVE_TROP_GRANDE``) past ``limits.max_archive_bytes``; a path is then left
        untouched.
        """
        if isinstance(target, str | os.PathLike):
            path = Path(target)
            if path.is_dir():
                path = path / self.filename
            part = path.with_name(path.name + ".part")
            try:
                with part.open("wb") as f:
                    size = self._write_stream(f)
                os.replace(part, path)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            return size
        return self._write_stream(target)

    def _write_stream(self, out: IO[bytes]) -> int:
        counter = _CountingWriter(out, self.limits.max_archive_bytes, self.filename)
        buffered = io.BufferedWriter(counter, buffer_size=_CHUNK)
        # POSIX ustar as the MI's own partners write it (Stela); GNU only for names over 100 bytes.
        # filename="" and a fixed mtime keep the gzip header reproducible.
        long_names = any(len(m.name.encode()) > 100 for m in self.entries)
        fmt = tarfile.GNU_FORMAT if long_names else tarfile.USTAR_FORMAT
        with (
            gzip.GzipFile(
                filename="", mode="wb", fileobj=buffered, compresslevel=self.compresslevel, mtime=self.mtime
            ) as gz,
            tarfile.open(fileobj=gz, mode="w|", format=fmt, bufsize=_CHUNK) as tar,
        ):
            for m in self.entries:
                info = tarfile.TarInfo(m.name)
                info.size = m.size
                info.mtime = self.mtime
                info.mode = 0o644
                with m.open() as src:
                    tar.addfile(info, src)
        buffered.flush()
        return counter.written

    def to_bytes(self) -> bytes:
        """The whole archive in memory (for small packages)."""
        buf = io.BytesIO()
        self.write(buf)
        return buf.getvalue()


def _mtime(today: dt.date) -> int:
    return int(dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC).timestamp())


def _doc_name(base: str, flux: str, index: int, doc: ActeDocument) -> str:
    fmt = sniff(doc.head(SNIFF_BYTES))
    ext = fmt.value if fmt is not FileFormat.UNKNOWN else (Path(doc.filename).suffix.lstrip(".") or "bin")
    return naming.document_name(base, flux, index, ext.lower(), doc.typology)


def _check_schema(schema: Any, name: str, data: bytes) -> None:
    if schema is None:
        return
    tree = parse_bytes(data, name=name)
    found = schema_errors(schema, tree)
    if found:
        errors = "; ".join(f"ligne {e.line} : {e.message}" for e in found)
        raise ValidationError(f"message non conforme au schéma ACTES : {errors}", file=name, code="ACTES_XSD")


def _assemble(
    identity: ActesIdentity,
    message_name: str,
    message: bytes,
    documents: Sequence[Member],
    *,
    serial: int,
    today: dt.date,
    trigram: str,
    limits: ActesLimits,
    schema: Any,
    acte_data: ActeData | None = None,
    id_acte: str | None = None,
    warnings: tuple[Finding, ...] = (),
) -> ActesPackage:
    try:
        env_name = naming.envelope_name(identity.siren, today, serial)
        filename = naming.archive_name(env_name, trigram)
    except ValueError as exc:
        raise ValidationError(str(exc), code="ACTES_NOMMAGE") from None
    env = envelope_message(envelope_data(identity, [message_name]))
    _check_schema(schema, message_name, message)
    _check_schema(schema, env_name, env)
    return ActesPackage(
        filename=filename,
        entries=(Member(env_name, env), Member(message_name, message), *documents),
        envelope_name=env_name,
        message_name=message_name,
        acte_data=acte_data,
        id_acte=id_acte,
        warnings=warnings,
        limits=limits,
        mtime=_mtime(today),
    )


def _fichier(name: str, doc: ActeDocument) -> FichierSigne:
    sig = base64.b64encode(doc.signature).decode("ascii") if doc.signature else None
    return FichierSigne(nom_fichier=name, signature=sig)


def acte_data_for(identity: ActesIdentity, acte: Acte) -> tuple[ActeData, list[Member]]:
    """The 1-1 message content and the document members, named by the convention."""
    base = naming.acte_base(identity.departement, identity.siren, acte.date, acte.numero, acte.nature.abbrev)
    flux = naming.FLUX["Acte"]
    members = [Member(_doc_name(base, flux, i, d), d.content) for i, d in enumerate(acte.documents, start=1)]
    data = ActeData(
        date=acte.date,
        numero_interne=acte.numero,
        code_nature=int(acte.nature),
        matieres=acte.matieres,
        objet=acte.objet,
        precedent_id_acte=acte.precedent_id_acte,
        classification_date=acte.classification_date,
        document=_fichier(members[0].name, acte.document),
        annexes=tuple(_fichier(m.name, d) for m, d in zip(members[1:], acte.annexes, strict=True)),
        annexes_nombre=len(acte.annexes),
        document_papier="O" if acte.document_papier else "N",
    )
    return data, members


def package_acte(
    identity: ActesIdentity,
    acte: Acte,
    *,
    serial: int,
    today: dt.date,
    trigram: str = "SLO",
    limits: ActesLimits = DEFAULT_LIMITS,
    classification: Classification | None = None,
    schema: Any = None,
) -> ActesPackage:
    """Check ``acte`` against the rules and package it as a transmission (message 1-1).

    Raises :class:`~demat.actes.rules.ActesRuleError` with every broken rule. ``schema`` (a
    compiled ``actesv1_1.xsd``) makes the built XML be validated too.
    """
    warnings = validate_acte(identity, acte, today=today, classification=classification, limits=limits)
    data, documents = acte_data_for(identity, acte)
    base = naming.acte_base(identity.departement, identity.siren, acte.date, acte.numero, acte.nature.abbrev)
    return _assemble(
        identity,
        naming.message_name(base, naming.FLUX["Acte"]),
        acte_message(data),
        documents,
        serial=serial,
        today=today,
        trigram=trigram,
        limits=limits,
        schema=schema,
        acte_data=data,
        id_acte=acte.id_acte(identity),
        warnings=tuple(warnings),
    )


def _check_own(identity: ActesIdentity, id_acte: str) -> str:
    try:
        base = naming.base_from_id_acte(id_acte)
    except ValueError as exc:
        raise ValidationError(str(exc), code="ACTES_IDACTE") from None
    if id_acte.split("-")[1] != identity.siren:
        raise ValidationError(
            f"l'acte {id_acte} n'appartient pas à la collectivité {identity.siren}", code="ACTES_IDACTE_SIREN"
        )
    return base


def package_annulation(
    identity: ActesIdentity,
    id_acte: str,
    *,
    serial: int,
    today: dt.date,
    trigram: str = "SLO",
    limits: ActesLimits = DEFAULT_LIMITS,
    schema: Any = None,
) -> ActesPackage:
    """Package the cancellation (6-1) of an acte the préfecture has acknowledged."""
    base = _check_own(identity, id_acte)
    return _assemble(
        identity,
        naming.message_name(base, naming.FLUX["Annulation"]),
        annulation_message(id_acte),
        [],
        serial=serial,
        today=today,
        trigram=trigram,
        limits=limits,
        schema=schema,
        id_acte=id_acte,
    )


def package_demande_classification(
    identity: ActesIdentity,
    *,
    serial: int,
    today: dt.date,
    current: dt.date | None = None,
    trigram: str = "SLO",
    limits: ActesLimits = DEFAULT_LIMITS,
    schema: Any = None,
) -> ActesPackage:
    """Package a classification request (7-1); ``current`` is the classification date in use."""
    base = naming.classification_base(identity.departement, identity.siren)
    return _assemble(
        identity,
        naming.message_name(base, naming.FLUX["DemandeClassification"]),
        demande_classification_message(current),
        [],
        serial=serial,
        today=today,
        trigram=trigram,
        limits=limits,
        schema=schema,
    )


def package_reply(
    identity: ActesIdentity,
    kind: ReplyKind,
    id_acte: str,
    date_courrier: dt.date,
    documents: Sequence[ActeDocument] = (),
    *,
    serial: int,
    today: dt.date,
    trigram: str = "SLO",
    limits: ActesLimits = DEFAULT_LIMITS,
    schema: Any = None,
) -> ActesPackage:
    """Package a reply (2-2, 3-2, 3-3, 3-4, 4-2, 4-3, 4-4) to the préfecture letter of ``date_courrier``."""
    base = _check_own(identity, id_acte)
    flux = naming.FLUX[kind.value]
    members = [Member(_doc_name(base, flux, i, d), d.content) for i, d in enumerate(documents, start=1)]
    findings = [
        Finding("ACTES_FORMAT", f"format refusé pour {d.filename} (admis : PDF, JPEG, PNG)", d.filename)
        for d in documents
        if sniff(d.head(SNIFF_BYTES)) not in (FileFormat.PDF, FileFormat.JPEG, FileFormat.PNG)
    ]
    if findings:
        raise ActesRuleError(findings)
    try:
        message = reply_message(
            kind, id_acte, date_courrier, [FichierSigne(nom_fichier=m.name) for m in members]
        )
    except ValueError as exc:
        raise ValidationError(str(exc), code="ACTES_REPONSE_DOCUMENTS") from None
    return _assemble(
        identity,
        naming.message_name(base, flux),
        message,
        members,
        serial=serial,
        today=today,
        trigram=trigram,
        limits=limits,
        schema=schema,
        id_acte=id_acte,
    )


__all__ = [
    "ActesPackage",
    "Member",
    "acte_data_for",
    "package_acte",
    "package_annulation",
    "package_demande_classification",
    "package_reply",
]
