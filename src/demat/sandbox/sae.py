"""What the sandbox's Vitam and as@lae share: reading a transfer as an SAE does, checking its
files, writing SEDA replies, and serving over TLS.

:func:`read_transfer` reads an ArchiveTransfer manifest (SEDA 2.1, 2.2 or 2.3) with demat's
hardened parser; :func:`check_objects` checks each ``BinaryDataObject`` against the file its
``Uri`` names (present, ``Size``, ``MessageDigest``) as Vitam's ``CHECK_DATAOBJECTPACKAGE``,
``CHECK_OBJECT_SIZE`` and ``CHECK_DIGEST`` steps do; the reply builders write
``ArchiveTransferReply`` and ``Acknowledgement`` messages shaped like the real ones (Vitam's
OK reply maps every manifest id to a system id; its KO reply lists the failed steps as
``Operation/Event`` and omits the agencies; as@lae answers with SEDA's numeric reply codes).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiohttp import web
from lxml import etree

from demat.errors import DematError
from demat.sandbox.pki import SandboxPKI
from demat.sandbox.tls_alerts import install as install_tls_alerts
from demat.transport.tls import server_context
from demat.xml.safe import local_name, parse_bytes

#: SEDA 2.x namespaces, less the version.
SEDA_NS = "fr:gouv:culture:archivesdefrance:seda:v"
#: The SEDA versions an SAE of the sandbox reads.
VERSIONS = ("2.1", "2.2", "2.3")
#: Digest algorithms as SEDA names them.
ALGORITHMS = {"SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512", "SHA-1": "sha1", "MD5": "md5"}


class TransferRefused(Exception):
    """The SAE's check of a transfer failed at ``step`` (a Vitam logbook code). Internal to
    the sandbox: it becomes a KO reply, never an error of demat's."""

    def __init__(self, step: str, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.step = step
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class DataObject:
    """A ``BinaryDataObject`` of a manifest."""

    id: str
    group: str | None
    uri: str | None
    algorithm: str
    digest: str
    size: int | None
    version: str | None


@dataclass(frozen=True)
class Transfer:
    """What an SAE reads of an ArchiveTransfer manifest."""

    version: str
    message_identifier: str
    archival_agreement: str | None
    archival_agency: str | None
    transferring_agency: str | None
    originating_agency: str | None
    objects: tuple[DataObject, ...] = ()
    units: tuple[str, ...] = ()
    comment: str | None = None

    @property
    def namespace(self) -> str:
        """The manifest's SEDA namespace."""
        return SEDA_NS + self.version


def _text(parent: etree._Element, *path: str) -> str | None:
    node: etree._Element | None = parent
    for name in path:
        node = (
            next((c for c in node if isinstance(c.tag, str) and local_name(c) == name), None)
            if node is not None
            else None
        )
    text = node.text.strip() if node is not None and node.text else ""
    return text or None


def read_transfer(manifest: bytes) -> Transfer:
    """The facts of a manifest (:class:`TransferRefused` at ``CHECK_SEDA`` when it is not a
    SEDA 2.x ArchiveTransfer)."""
    try:
        root = parse_bytes(manifest, name="manifest.xml").getroot()
    except DematError as exc:
        raise TransferRefused("CHECK_SEDA", f"bordereau illisible : {exc.message}") from exc
    namespace = etree.QName(root).namespace or ""
    version = namespace.removeprefix(SEDA_NS) if namespace.startswith(SEDA_NS) else ""
    if local_name(root) != "ArchiveTransfer" or version not in VERSIONS:
        raise TransferRefused(
            "CHECK_SEDA", f"pas un ArchiveTransfer SEDA 2.x ({namespace or 'sans espace de noms'})"
        )
    message_id = _text(root, "MessageIdentifier")
    if not message_id:
        raise TransferRefused("CHECK_SEDA", "MessageIdentifier manquant")
    ns = {"s": namespace}
    objects = []
    found = root.xpath(
        "s:DataObjectPackage/s:BinaryDataObject | s:DataObjectPackage/s:DataObjectGroup/s:BinaryDataObject",
        namespaces=ns,
    )
    for bdo in found:
        digest = bdo.find("s:MessageDigest", ns)
        size = _text(bdo, "Size")
        group = bdo.getparent()
        group_id = group.get("id") if group is not None and local_name(group) == "DataObjectGroup" else None
        objects.append(
            DataObject(
                id=bdo.get("id") or "",
                group=group_id or _text(bdo, "DataObjectGroupId") or _text(bdo, "DataObjectGroupReferenceId"),
                uri=_text(bdo, "Uri") or _text(bdo, "Attachment"),
                algorithm=(digest.get("algorithm") or "") if digest is not None else "",
                digest=(digest.text or "").strip() if digest is not None else "",
                size=int(size) if size and size.isdigit() else None,
                version=_text(bdo, "DataObjectVersion"),
            )
        )
    units = tuple(u.get("id") or "" for u in root.iterfind(".//s:DescriptiveMetadata//s:ArchiveUnit", ns))
    management = root.find("s:DataObjectPackage/s:ManagementMetadata", ns)
    return Transfer(
        version=version,
        message_identifier=message_id,
        archival_agreement=_text(root, "ArchivalAgreement"),
        archival_agency=_text(root, "ArchivalAgency", "Identifier"),
        transferring_agency=_text(root, "TransferringAgency", "Identifier"),
        originating_agency=_text(management, "OriginatingAgencyIdentifier")
        if management is not None
        else None,
        objects=tuple(objects),
        units=units,
        comment=_text(root, "Comment"),
    )


def check_objects(transfer: Transfer, open_file: Callable[[str], IO[bytes] | None]) -> None:
    """Check every binary object against its file (``open_file(uri)``, ``None`` when absent)."""
    for obj in transfer.objects:
        if not obj.uri:
            raise TransferRefused("CHECK_DATAOBJECTPACKAGE", f"objet {obj.id} sans Uri")
        fh = open_file(obj.uri)
        if fh is None:
            raise TransferRefused(
                "CHECK_DATAOBJECTPACKAGE", f"objet {obj.id} : fichier {obj.uri} absent du SIP", detail=obj.uri
            )
        algorithm = ALGORITHMS.get(obj.algorithm.upper())
        if algorithm is None:
            raise TransferRefused("CHECK_DIGEST", f"objet {obj.id} : algorithme {obj.algorithm!r} inconnu")
        hasher = hashlib.new(algorithm)
        size = 0
        with fh:
            while block := fh.read(1 << 20):
                hasher.update(block)
                size += len(block)
        if obj.size is not None and obj.size != size:
            raise TransferRefused(
                "CHECK_OBJECT_SIZE", f"objet {obj.id} : taille {size}, le bordereau dit {obj.size}"
            )
        if (
            obj.digest.lower() != hasher.hexdigest()
            and obj.digest != base64.b64encode(hasher.digest()).decode()
        ):
            raise TransferRefused(
                "CHECK_DIGEST", f"objet {obj.id} : empreinte {obj.algorithm} différente de celle du bordereau"
            )


def vitam_guid() -> str:
    """An id shaped like Vitam's (36 lowercase base32 characters)."""
    return base64.b32encode(secrets.token_bytes(25)).decode().lower()[:36].replace("=", "a")


def now_iso() -> str:
    """The time as Vitam writes it in replies."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ReplyEvent:
    """One ``Operation/Event`` of a reply."""

    type_code: str
    type: str
    outcome: str
    detail: str
    message: str
    detail_data: str | None = None
    at: str = field(default_factory=now_iso)


def _maker(namespace: str) -> Callable[..., etree._Element]:
    def element(tag: str, *children: etree._Element | str | None, **attrs: str) -> etree._Element:
        node = etree.Element(f"{{{namespace}}}{tag}", nsmap={None: namespace}, **attrs)
        for child in children:
            if child is None:
                continue
            if isinstance(child, str):
                node.text = child
            else:
                node.append(child)
        return node

    return element


def _serialise(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def transfer_reply(
    *,
    version: str,
    message_identifier: str,
    reply_code: str,
    request_identifier: str,
    archival_agreement: str | None = None,
    archival_agency: str | None = None,
    transferring_agency: str | None = None,
    objects: Sequence[tuple[str, str | None, str | None]] = (),
    units: Iterable[tuple[str, str]] = (),
    events: Sequence[ReplyEvent] = (),
    comment: str | None = None,
    grant: bool = True,
    unit_identifier: str | None = None,
) -> bytes:
    """An ``ArchiveTransferReply`` in SEDA ``version``. ``objects`` are ``(manifest id, group id,
    version)`` given system ids; ``units`` ``(manifest id, system id)``; ``events`` the
    operation's. Agencies are written only when given (Vitam's KO replies have none)."""
    namespace = SEDA_NS + version
    e = _maker(namespace)
    root = e("ArchiveTransferReply")
    if comment:
        root.append(e("Comment", comment))
    root.append(e("Date", now_iso()))
    root.append(e("MessageIdentifier", message_identifier))
    if archival_agreement:
        root.append(e("ArchivalAgreement", archival_agreement))
    root.append(
        e(
            "CodeListVersions",
            e("ReplyCodeListVersion", "ReplyCodeListVersion0" if reply_code else ""),
            e("MessageDigestAlgorithmCodeListVersion", "MessageDigestAlgorithmCodeListVersion0"),
            e("FileFormatCodeListVersion", "FileFormatCodeListVersion0"),
        )
    )
    package = e("DataObjectPackage")
    groups: dict[str, etree._Element] = {}
    for obj_id, group_id, obj_version in objects:
        gid = group_id or f"GOT-{obj_id}"
        group = groups.get(gid)
        if group is None:
            group = groups[gid] = e("DataObjectGroup", id=gid)
            package.append(group)
        group.append(
            e(
                "BinaryDataObject",
                e("DataObjectSystemId", vitam_guid()),
                e("DataObjectGroupSystemId", vitam_guid()),
                e("DataObjectVersion", obj_version or "BinaryMaster_1"),
                id=obj_id,
            )
        )
    descriptive = e("DescriptiveMetadata")
    for unit_id, system_id in units:
        content = e("Content", e("SystemId", system_id))
        if unit_identifier:
            content.append(e("ArchivalAgencyArchiveUnitIdentifier", unit_identifier))
        descriptive.append(e("ArchiveUnit", content, id=unit_id))
    package.append(descriptive)
    package.append(e("ManagementMetadata"))
    root.append(package)
    root.append(e("ReplyCode", reply_code))
    if events:
        operation = e("Operation")
        for ev in events:
            event = e(
                "Event",
                e("EventTypeCode", ev.type_code),
                e("EventType", ev.type),
                e("EventDateTime", ev.at),
                e("Outcome", ev.outcome),
                e("OutcomeDetail", ev.detail),
                e("OutcomeDetailMessage", ev.message),
            )
            if ev.detail_data:
                event.append(e("EventDetailData", ev.detail_data))
            operation.append(event)
        root.append(operation)
    root.append(e("MessageRequestIdentifier", request_identifier))
    if grant:
        root.append(e("GrantDate", now_iso()))
    if archival_agency:
        root.append(e("ArchivalAgency", e("Identifier", archival_agency)))
    if transferring_agency:
        root.append(e("TransferringAgency", e("Identifier", transferring_agency)))
    return _serialise(root)


def acknowledgement(
    *,
    version: str,
    message_identifier: str,
    received: str,
    sender: str,
    receiver: str,
    comment: str | None = None,
) -> bytes:
    """An ``Acknowledgement`` (SEDA 2.x: Date, MessageIdentifier, MessageReceivedIdentifier,
    Sender, Receiver)."""
    e = _maker(SEDA_NS + version)
    root = e("Acknowledgement")
    if comment:
        root.append(e("Comment", comment))
    root.append(e("Date", now_iso()))
    root.append(e("MessageIdentifier", message_identifier))
    root.append(e("MessageReceivedIdentifier", received))
    root.append(e("Sender", e("Identifier", sender)))
    root.append(e("Receiver", e("Identifier", receiver)))
    return _serialise(root)


@dataclass
class Served:
    """A sandbox SAE listening over TLS: its URL and PKI."""

    url: str
    pki: SandboxPKI
    runner: web.AppRunner

    @property
    def ca_path(self) -> Path:
        """The CA that signed the server's certificate (and the client's)."""
        return self.pki.ca_cert

    def client_cert_paths(self) -> tuple[Path, Path]:
        """(certificate, key) of a client the server accepts."""
        return self.pki.client_cert, self.pki.client_key


@contextlib.asynccontextmanager
async def serve(
    app: web.Application, pki: SandboxPKI, *, host: str = "127.0.0.1", port: int = 0, client_cert: bool = True
) -> AsyncIterator[Served]:
    """Serve ``app`` over TLS (a client certificate signed by the PKI's CA required when
    ``client_cert``) until the block ends."""
    install_tls_alerts()
    ctx = server_context(pki.server_cert, pki.server_key, pki.ca_cert, require_client_cert=client_cert)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ctx)
        await site.start()
        bound = port
        for sock in getattr(getattr(site, "_server", None), "sockets", None) or ():
            bound = int(sock.getsockname()[1])
            break
        shown = f"[{host}]" if ":" in host else host
        yield Served(f"https://{shown}:{bound}", pki, runner)
    finally:
        await runner.cleanup()


__all__ = [
    "ALGORITHMS",
    "SEDA_NS",
    "VERSIONS",
    "DataObject",
    "ReplyEvent",
    "Served",
    "Transfer",
    "TransferRefused",
    "acknowledgement",
    "check_objects",
    "now_iso",
    "read_transfer",
    "serve",
    "transfer_reply",
    "vitam_guid",
]
