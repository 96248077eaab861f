"""Reading a SIP as the SAEs do: the manifest entry of the zip, and the as@lae split.

A SIP is a zip holding the ArchiveTransfer manifest at its root and the files it describes
(``content/…``). Vitam takes as the manifest the first root entry whose name matches
:data:`MANIFEST_NAME` (``manifest.xml`` or ``ABC_manifest.xml``, never in a folder:
``IngestExternalImpl.java``, ``VitamConstants.java``); as@lae takes the manifest (the
*bordereau*) and the files apart, the files as one ``.tar.gz`` (Pastell's ``AsalaeREST.php``).
Synchronous: the clients run these off the event loop.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import re
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from demat.errors import PackagingError
from demat.xml.safe import local_name, parse_bytes

_SEDA = "fr:gouv:culture:archivesdefrance:seda:v"
#: A root entry Vitam takes for the manifest (its own pattern).
MANIFEST_NAME = re.compile(r"^([a-zA-Z0-9_\-]{0,56}[_-]{1}){0,1}(manifest.xml)\b")


def _open(sip: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(sip)
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackagingError(
            f"{sip.name}: not a readable zip ({exc})", file=str(sip), code="SIP_NOT_ZIP"
        ) from exc


def manifest_entry(archive: zipfile.ZipFile) -> str | None:
    """The name of the entry Vitam would take for the manifest, if any."""
    for name in archive.namelist():
        if "/" not in name and MANIFEST_NAME.match(name):
            return name
    return None


def read_manifest(sip: Path) -> bytes:
    """The manifest's bytes (:class:`~demat.errors.PackagingError` when there is none)."""
    with _open(sip) as archive:
        name = manifest_entry(archive)
        if name is None:
            raise PackagingError(
                f"{sip.name}: no manifest.xml at the root", file=str(sip), code="SIP_NO_MANIFEST"
            )
        return archive.read(name)


def manifest_sha512(sip: Path) -> str:
    """SHA-512 of the manifest, lowercase hex (Vitam's ``X-Manifest-Digest-Value``)."""
    return hashlib.sha512(read_manifest(sip)).hexdigest()


@dataclass(frozen=True)
class SipIdentity:
    """What a transfer is known by, read from its manifest: its ``MessageIdentifier``, the
    originating agency (``ManagementMetadata/OriginatingAgencyIdentifier``, else the transferring
    agency), the ``ArchivalAgreement`` and the SEDA version."""

    message_identifier: str
    originating_agency: str
    archival_agreement: str | None
    seda_version: str


def sip_identity(manifest: bytes) -> SipIdentity:
    """Read a manifest's identity (:class:`~demat.errors.PackagingError` when it is not a SEDA
    2.x ArchiveTransfer with a MessageIdentifier and an agency)."""
    root = parse_bytes(manifest, name="manifest.xml").getroot()
    namespace = etree.QName(root).namespace or ""
    if local_name(root) != "ArchiveTransfer" or not namespace.startswith(_SEDA):
        raise PackagingError(
            f"manifest.xml: not a SEDA 2.x ArchiveTransfer ({namespace})", code="SIP_NOT_SEDA"
        )
    ns = {"s": namespace}

    def text(path: str) -> str | None:
        found = root.findtext(path, namespaces=ns)
        return found.strip() or None if found else None

    message = text("s:MessageIdentifier")
    agency = text("s:DataObjectPackage/s:ManagementMetadata/s:OriginatingAgencyIdentifier") or text(
        "s:TransferringAgency/s:Identifier"
    )
    if not message or not agency:
        raise PackagingError("manifest.xml: no MessageIdentifier or no agency", code="SIP_NOT_SEDA")
    return SipIdentity(message, agency, text("s:ArchivalAgreement"), namespace.removeprefix(_SEDA))


def split_for_asalae(sip: Path, workdir: Path) -> tuple[bytes, Path]:
    """The manifest, and the SIP's other files as a ``.tar.gz`` written under ``workdir`` (the
    same paths, in the zip's order, dated as in the zip, owned by nobody: the same SIP gives
    the same archive)."""
    with _open(sip) as archive:
        name = manifest_entry(archive)
        if name is None:
            raise PackagingError(
                f"{sip.name}: no manifest.xml at the root", file=str(sip), code="SIP_NO_MANIFEST"
            )
        manifest = archive.read(name)
        fd, tmp = tempfile.mkstemp(prefix="attachments-", suffix=".tar.gz", dir=workdir)
        os.close(fd)
        out = Path(tmp)
        try:
            with (
                out.open("wb") as raw,
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
            ):
                for info in archive.infolist():
                    if info.filename == name or info.is_dir():
                        continue
                    member = tarfile.TarInfo(info.filename)
                    member.size = info.file_size
                    member.mtime = int(_zip_time(info))
                    member.mode = 0o644
                    with archive.open(info) as src:
                        tar.addfile(member, src)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return manifest, out


def _zip_time(info: zipfile.ZipInfo) -> float:
    try:
        return dt.datetime(*info.date_time, tzinfo=dt.UTC).timestamp()
    except ValueError:
        return 0.0


__all__ = [
    "MANIFEST_NAME",
    "SipIdentity",
    "manifest_entry",
    "manifest_sha512",
    "read_manifest",
    "sip_identity",
    "split_for_asalae",
]
