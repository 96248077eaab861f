"""Read a SIP zip and check every file against its manifest. Pure (reads the zip it is given).

Works for demat's packages and for other producers' (Vitam's test SIPs use ``content/`` or
``Content/``; ``Uri`` is matched exactly, as Vitam does). The manifest is the root-level entry
Vitam accepts (``manifest.xml``, or ``ABC_manifest.xml``); each ``BinaryDataObject``'s file is
inflated and hashed with its declared algorithm (SHA-512, SHA-384, SHA-256, SHA-1, MD5), the
digest compared in hex or base64 (SEDA's ``BinaryType`` allows both) and the size with ``Size``.
A file the manifest does not list, or one it lists that is missing, is a problem too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lxml import etree

from demat.errors import PackagingError, XMLSecurityError, XMLSyntaxError
from demat.xml.safe import parse_bytes

_MANIFEST = re.compile(r"^([a-zA-Z0-9_\-]{0,56}[_-]){0,1}manifest\.xml$")
_ALGORITHMS = {"SHA-512": "sha512", "SHA-384": "sha384", "SHA-256": "sha256", "SHA-1": "sha1", "MD5": "md5"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SipObject:
    """A file the manifest declares: where, its digest (algorithm and value as written) and size."""

    uri: str
    algorithm: str
    digest: str
    size: int | None


@dataclass(frozen=True)
class SipReport:
    """What :func:`check_sip` found: the manifest (its bytes, name, SEDA version, message
    identifier), the files it declares, and every problem (empty: the SIP holds)."""

    manifest: bytes
    manifest_name: str
    seda_version: str | None
    message_identifier: str | None
    objects: list[SipObject]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def _matches(declared: str, computed: bytes) -> bool:
    value = declared.strip()
    if value.lower() == computed.hex():
        return True
    try:
        return base64.b64decode(value, validate=True) == computed
    except (binascii.Error, ValueError):
        return False


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _child_text(el: etree._Element, name: str) -> str | None:
    for child in el:
        if _local(child) == name:
            return (child.text or "").strip()
    return None


def check_sip(source: Path | IO[bytes]) -> SipReport:
    """Check a SIP zip (see the module docstring); :class:`~demat.errors.PackagingError` when
    it is no zip or has no manifest at its root."""
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackagingError(f"not a SIP zip: {exc}", code="SIP_UNREADABLE") from exc
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        manifests = [n for n in names if "/" not in n and _MANIFEST.match(n)]
        if not manifests:
            raise PackagingError("no manifest.xml at the root of the SIP", code="SIP_NO_MANIFEST")
        name = manifests[0]
        manifest = zf.read(name)
        try:
            root = parse_bytes(manifest, name=name).getroot()
        except (XMLSyntaxError, XMLSecurityError) as exc:
            return SipReport(manifest, name, None, None, [], [f"{name} illisible : {exc}"])
        namespace = etree.QName(root).namespace or ""
        version = namespace.rsplit(":v", 1)[-1] if ":seda:v" in namespace else None
        objects = []
        for bdo in root.iter():
            if _local(bdo) != "BinaryDataObject":
                continue
            digest_el = next((c for c in bdo if _local(c) == "MessageDigest"), None)
            size = _child_text(bdo, "Size")
            objects.append(
                SipObject(
                    _child_text(bdo, "Uri") or "",
                    digest_el.get("algorithm", "") if digest_el is not None else "",
                    (digest_el.text or "").strip() if digest_el is not None else "",
                    int(size) if size and size.isdigit() else None,
                )
            )
        problems = [p for obj in objects if (p := _check_object(zf, obj)) is not None]
        listed = {o.uri for o in objects}
        problems += [
            f"{n} : fichier ajouté au SIP, absent du manifeste"
            for n in names
            if n != name and n not in listed
        ]
        return SipReport(manifest, name, version, _child_text(root, "MessageIdentifier"), objects, problems)


def _check_object(zf: zipfile.ZipFile, obj: SipObject) -> str | None:
    algorithm = _ALGORITHMS.get(obj.algorithm.upper())
    if algorithm is None:
        return f"{obj.uri} : algorithme d'empreinte {obj.algorithm!r} inconnu"
    try:
        member = zf.open(obj.uri)
    except KeyError:
        return f"{obj.uri} : fichier absent du SIP"
    h = hashlib.new(algorithm)
    size = 0
    with member:
        while chunk := member.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    if not _matches(obj.digest, h.digest()):
        return (
            f"{obj.uri} : contenu modifié ({obj.algorithm} {h.hexdigest()[:16]}…,"
            f" le manifeste dit {obj.digest[:16]}…)"
        )
    if obj.size is not None and obj.size != size:
        return f"{obj.uri} : {size} octets, le manifeste dit {obj.size}"
    return None


__all__ = ["SipObject", "SipReport", "check_sip"]
