"""The deposit protocol, both sides: the manifest, the signed accusé de dépôt, the control report.

No I/O: bytes in, typed objects out (or a typed error), so the server (:mod:`demat.depot.server`)
and the client (:mod:`demat.transport.depot`) read and write the same documents the same way.

* **Manifest** (JSON, ``demat-depot-manifest/1``): the commune's INSEE code and, for every
  file of the deposit, its name, its role (``liste``, ``tableau``, ``commission``), the list it
  carries (``LP``, ``LCE``, ``LCM``; ``REU`` for an extraction that mixes them), its size and
  its SHA-256. It is written once, deterministically (same files, same bytes), and its own
  SHA-256 identifies the deposit: the server answers the same deposit for the same manifest,
  and the client finds a deposit whose answer was lost by that digest.
* **Accusé de dépôt** (XML, namespace :data:`RECEIPT_NS`): what the server received (every
  file and its digest, the manifest's digest), when, from which account, under which deposit
  id; signed at once by the server's key with an enveloped XAdES signature
  (:mod:`demat.signing.xades`), verified by :func:`read_receipt`.
* **Control report** (JSON, ``demat-depot-controle/1``): the verdict of the control job on each
  list (electors counted, findings with their code, row and message), published later.

Personal data: none of these documents holds an elector; the control report's messages are the
checks' own (see :mod:`demat.elections`), which a commune reads about its own lists.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from lxml import etree

from demat.errors import SignatureError, ValidationError
from demat.signing.keys import Signer
from demat.signing.trust import TrustStore
from demat.signing.verify import IdIndex, VerifyOptions, verify_signature
from demat.signing.xades import XadesOptions, XadesSigner
from demat.signing.xmldsig import ds
from demat.xml.safe import XmlLimits, parse_bytes

#: ``format`` of a manifest this code writes and reads.
MANIFEST_FORMAT = "demat-depot-manifest/1"
#: ``format`` of a control report.
REPORT_FORMAT = "demat-depot-controle/1"
#: Namespace of the accusé de dépôt.
RECEIPT_NS = "urn:demat:depot:accuse:1"
#: What a file of a deposit is: an electoral list, a tableau (PDF), the commission's signed page.
Role = Literal["liste", "tableau", "commission"]
#: The roles, as the manifest spells them.
ROLES: tuple[str, ...] = ("liste", "tableau", "commission")
#: The lists a list file may carry: principale, complémentaires européenne and municipale, or a
#: REU extraction holding them all (the list type is then per row).
LIST_TYPES: tuple[str, ...] = ("LP", "LCE", "LCM", "REU")
#: A manifest is small: past this it is refused unread.
MAX_MANIFEST_BYTES = 256 * 1024
#: Files in one deposit, at most.
MAX_FILES = 64

_INSEE = re.compile(r"^(?:\d{2}|2A|2B)\d{3}$|^97\d{3}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: File names a deposit may carry: no folder, no leading dot, nothing a file system reads oddly.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")
_RECEIPT_LIMITS = XmlLimits(max_bytes=1024 * 1024, max_depth=32)
_MAGIC = {"pdf": (b"%PDF-",), "image": (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")}


def departement_of(commune: str) -> str:
    """The département of an INSEE commune code: ``97x`` overseas, ``2A``/``2B``, else two digits."""
    return commune[:3] if commune.startswith("97") else commune[:2]


def normalise_departement(code: str) -> str:
    """A département code as INSEE writes it: ``044`` (ACTES' three digits) → ``44``."""
    code = code.strip().upper()
    return code[1:] if len(code) == 3 and code.startswith("0") else code


def is_commune_code(code: str) -> bool:
    """Whether ``code`` is shaped like an INSEE commune code (``44109``, ``2A004``, ``97411``)."""
    return bool(_INSEE.match(code))


@dataclass(frozen=True)
class ManifestFile:
    """One file of a deposit, as the manifest lists it."""

    name: str
    role: str
    sha256: str
    size: int
    list_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The manifest's entry for this file."""
        entry: dict[str, Any] = {
            "name": self.name,
            "role": self.role,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.list_type is not None:
            entry["list"] = self.list_type
        return entry


@dataclass(frozen=True)
class Manifest:
    """What a deposit holds: the commune and its files."""

    commune: str
    files: tuple[ManifestFile, ...]

    @property
    def lists(self) -> tuple[ManifestFile, ...]:
        """The list files."""
        return tuple(f for f in self.files if f.role == "liste")

    def file(self, name: str) -> ManifestFile | None:
        """The file called ``name``, if the manifest lists one."""
        return next((f for f in self.files if f.name == name), None)

    def to_bytes(self) -> bytes:
        """The manifest as sent: canonical JSON (sorted keys, no spaces), UTF-8."""
        body = {
            "format": MANIFEST_FORMAT,
            "commune": self.commune,
            "files": [f.to_dict() for f in self.files],
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @property
    def sha256(self) -> str:
        """The SHA-256 of :meth:`to_bytes`: the deposit's identity."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def _refuse(message: str, code: str = "MANIFEST_INVALID") -> ValidationError:
    return ValidationError(message, file="manifest.json", code=code)


def check_manifest(manifest: Manifest) -> Manifest:
    """Refuse a manifest that breaks the rules (:class:`~demat.errors.ValidationError`): a
    commune code, 1 to :data:`MAX_FILES` files with safe unique names, known roles and list
    types, at least one list and the commission's signed page, SHA-256 digests."""
    if not is_commune_code(manifest.commune):
        raise _refuse(f"code commune INSEE invalide : {manifest.commune!r}", "MANIFEST_COMMUNE")
    if not manifest.files or len(manifest.files) > MAX_FILES:
        raise _refuse(f"un dépôt compte de 1 à {MAX_FILES} fichiers ({len(manifest.files)} ici)")
    seen: set[str] = set()
    for f in manifest.files:
        if not _NAME.match(f.name):
            raise _refuse(f"nom de fichier refusé : {f.name!r}", "MANIFEST_NAME")
        if f.name.lower() in seen or f.name.lower() == "manifest.json":
            raise _refuse(f"nom de fichier en double : {f.name!r}", "MANIFEST_NAME")
        seen.add(f.name.lower())
        if f.role not in ROLES:
            raise _refuse(f"{f.name} : rôle inconnu {f.role!r} ({', '.join(ROLES)})", "MANIFEST_ROLE")
        if (f.role == "liste") != (f.list_type is not None) or (
            f.list_type is not None and f.list_type not in LIST_TYPES
        ):
            raise _refuse(
                f"{f.name} : une liste porte son type ({', '.join(LIST_TYPES)}), les autres fichiers aucun",
                "MANIFEST_LIST",
            )
        if not _SHA256.match(f.sha256) or f.size < 0:
            raise _refuse(f"{f.name} : empreinte SHA-256 ou taille invalide", "MANIFEST_DIGEST")
    if not manifest.lists:
        raise _refuse("le dépôt ne contient aucune liste électorale", "MANIFEST_NO_LIST")
    if not any(f.role == "commission" for f in manifest.files):
        raise _refuse("le dépôt ne contient pas la page signée de la commission", "MANIFEST_NO_COMMISSION")
    types = [f.list_type for f in manifest.lists]
    if len(set(types)) != len(types) or ("REU" in types and len(types) > 1):
        raise _refuse(
            "une liste de chaque type au plus (ou une seule extraction REU qui les contient toutes)",
            "MANIFEST_LIST",
        )
    return manifest


def read_manifest(data: bytes) -> Manifest:
    """Parse and check a manifest (see :func:`check_manifest`)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise _refuse(f"manifeste de plus de {MAX_MANIFEST_BYTES} octets", "MANIFEST_TOO_LARGE")
    try:
        body = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _refuse(f"manifeste illisible : {exc}", "MANIFEST_SYNTAX") from None
    if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT:
        raise _refuse(f"manifeste inconnu (format attendu : {MANIFEST_FORMAT})", "MANIFEST_FORMAT")
    files = body.get("files")
    if not isinstance(files, list) or not all(isinstance(f, dict) for f in files):
        raise _refuse("la liste des fichiers du manifeste est mal formée")
    try:
        parsed = tuple(
            ManifestFile(
                name=str(f["name"]),
                role=str(f["role"]),
                sha256=str(f["sha256"]),
                size=int(f["size"]),
                list_type=None if f.get("list") is None else str(f["list"]),
            )
            for f in files
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(f"entrée de fichier incomplète ou invalide : {exc}") from None
    return check_manifest(Manifest(str(body.get("commune", "")), parsed))


def check_content(entry: ManifestFile, head: bytes) -> None:
    """Refuse a tableau that is not a PDF, or a commission page that is neither a PDF nor an
    image (PNG, JPEG, TIFF), from the file's first bytes."""
    allowed = {"tableau": _MAGIC["pdf"], "commission": _MAGIC["pdf"] + _MAGIC["image"]}.get(entry.role)
    if allowed is not None and not head.startswith(allowed):
        what = "PDF" if entry.role == "tableau" else "PDF ou image (PNG, JPEG, TIFF)"
        raise ValidationError(f"{entry.name} : ce n'est pas un {what}", file=entry.name, code="DEPOT_FORMAT")


# -- accusé de dépôt ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """An accusé de dépôt as read back, its signature verified."""

    deposit_id: str
    commune: str
    account: str
    received_at: dt.datetime
    manifest_sha256: str
    manifest_size: int
    files: tuple[ManifestFile, ...]
    signer: str
    """The subject of the certificate that signed it."""
    signer_certificate: x509.Certificate = field(repr=False)

    def matches(self, manifest: Manifest) -> bool:
        """Whether the server acknowledged exactly this manifest and these files."""
        return (
            self.manifest_sha256 == manifest.sha256
            and self.commune == manifest.commune
            and sorted(self.files, key=lambda f: f.name) == sorted(manifest.files, key=lambda f: f.name)
        )


def _r(tag: str) -> str:
    return f"{{{RECEIPT_NS}}}{tag}"


def _instant(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def build_receipt(
    signer: Signer,
    *,
    deposit_id: str,
    account: str,
    received_at: dt.datetime,
    manifest: Manifest,
    manifest_size: int,
) -> bytes:
    """The accusé de dépôt of ``manifest``, signed (enveloped XAdES-BES) by ``signer``."""
    root = etree.Element(_r("AccuseDepot"), {"Id": "accuse"}, nsmap={None: RECEIPT_NS})
    for tag, text in (
        ("Depot", deposit_id),
        ("Commune", manifest.commune),
        ("Compte", account),
        ("Recu", _instant(received_at)),
    ):
        etree.SubElement(root, _r(tag)).text = text
    etree.SubElement(root, _r("Manifeste"), sha256=manifest.sha256, taille=str(manifest_size))
    for f in manifest.files:
        attrs = {"nom": f.name, "role": f.role, "sha256": f.sha256, "taille": str(f.size)}
        if f.list_type is not None:
            attrs["liste"] = f.list_type
        etree.SubElement(root, _r("Fichier"), attrs)
    options = XadesOptions(policy=None, claimed_role="Serveur de dépôt", signing_time=received_at)
    XadesSigner(signer, options).sign(root, signature_id="accuse-signature")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def read_receipt(data: bytes, *, trust: TrustStore | None = None) -> Receipt:
    """Read an accusé de dépôt and verify its signature (and, with ``trust``, its signer's
    chain); :class:`~demat.errors.SignatureError` when it does not verify."""
    root = parse_bytes(data, name="accuse", limits=_RECEIPT_LIMITS).getroot()
    if root.tag != _r("AccuseDepot"):
        raise SignatureError("ce n'est pas un accusé de dépôt", code="RECEIPT_INVALID")
    sigs = root.findall(ds("Signature"))
    if len(sigs) != 1:
        raise SignatureError("l'accusé de dépôt doit porter une signature", code="RECEIPT_UNSIGNED")
    report = verify_signature(sigs[0], IdIndex(root), VerifyOptions(trust=trust))
    if not report.valid:
        why = "; ".join(i.message for i in report.errors) or "signature invalide"
        raise SignatureError(f"accusé de dépôt : {why}", code="RECEIPT_SIGNATURE")
    try:
        manifest = root.find(_r("Manifeste"))
        files = tuple(
            ManifestFile(
                name=el.get("nom", ""),
                role=el.get("role", ""),
                sha256=el.get("sha256", ""),
                size=int(el.get("taille", "-1")),
                list_type=el.get("liste"),
            )
            for el in root.iter(_r("Fichier"))
        )
        received = dt.datetime.fromisoformat(_text(root, "Recu").replace("Z", "+00:00"))
        assert manifest is not None
        result = Receipt(
            deposit_id=_text(root, "Depot"),
            commune=_text(root, "Commune"),
            account=_text(root, "Compte"),
            received_at=received,
            manifest_sha256=manifest.get("sha256", ""),
            manifest_size=int(manifest.get("taille", "-1")),
            files=files,
            signer=report.certificate.subject if report.certificate else "",
            signer_certificate=_signing_certificate(sigs[0]),
        )
    except (AssertionError, ValueError) as exc:
        raise SignatureError(f"accusé de dépôt mal formé : {exc}", code="RECEIPT_INVALID") from None
    return result


def _text(root: Any, tag: str) -> str:
    el = root.find(_r(tag))
    if el is None or not el.text:
        raise ValueError(f"{tag} absent")
    return str(el.text)


def _signing_certificate(sig: Any) -> x509.Certificate:
    el = sig.find(f"{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}")
    return x509.load_der_x509_certificate(base64.b64decode("".join((el.text or "").split())))


# -- control report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One finding of the control: its stable ``code``, the ``row`` (1-based line, header = 1)
    and the check's message."""

    code: str
    message: str
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """As the report writes it."""
        return {"code": self.code, "message": self.message, "row": self.row}


@dataclass(frozen=True)
class ListControl:
    """The control of one list file."""

    name: str
    list_type: str
    electors: int
    valid: bool
    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As the report writes it."""
        return {
            "name": self.name,
            "list": self.list_type,
            "electors": self.electors,
            "valid": self.valid,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
        }


@dataclass(frozen=True)
class ControlReport:
    """The control of a deposit: valid when every list is."""

    deposit_id: str
    commune: str
    controlled_at: dt.datetime
    lists: tuple[ListControl, ...]

    @property
    def valid(self) -> bool:
        """Every list passed."""
        return all(c.valid for c in self.lists)

    @property
    def electors(self) -> int:
        """Electors counted across the lists."""
        return sum(c.electors for c in self.lists)

    def to_bytes(self) -> bytes:
        """The report as published (JSON, UTF-8)."""
        body = {
            "format": REPORT_FORMAT,
            "deposit": self.deposit_id,
            "commune": self.commune,
            "controlled_at": _instant(self.controlled_at),
            "valid": self.valid,
            "electors": self.electors,
            "lists": [c.to_dict() for c in self.lists],
        }
        return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


def _findings(items: Sequence[Mapping[str, Any]]) -> tuple[Finding, ...]:
    return tuple(
        Finding(str(i["code"]), str(i.get("message", "")), None if i.get("row") is None else int(i["row"]))
        for i in items
    )


def read_control_report(data: bytes) -> ControlReport:
    """Parse a control report (:class:`~demat.errors.ValidationError` if it is not one)."""
    try:
        body = json.loads(data.decode("utf-8"))
        if body.get("format") != REPORT_FORMAT:
            raise ValueError(f"format {body.get('format')!r}")
        return ControlReport(
            deposit_id=str(body["deposit"]),
            commune=str(body["commune"]),
            controlled_at=dt.datetime.fromisoformat(str(body["controlled_at"]).replace("Z", "+00:00")),
            lists=tuple(
                ListControl(
                    name=str(c["name"]),
                    list_type=str(c["list"]),
                    electors=int(c["electors"]),
                    valid=bool(c["valid"]),
                    errors=_findings(c.get("errors", [])),
                    warnings=_findings(c.get("warnings", [])),
                )
                for c in body["lists"]
            ),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValidationError(f"rapport de contrôle illisible : {exc}", code="REPORT_INVALID") from None


__all__ = [
    "LIST_TYPES",
    "MANIFEST_FORMAT",
    "MAX_FILES",
    "MAX_MANIFEST_BYTES",
    "RECEIPT_NS",
    "REPORT_FORMAT",
    "ROLES",
    "ControlReport",
    "Finding",
    "ListControl",
    "Manifest",
    "ManifestFile",
    "Receipt",
    "Role",
    "build_receipt",
    "check_content",
    "check_manifest",
    "departement_of",
    "is_commune_code",
    "normalise_departement",
    "read_control_report",
    "read_manifest",
    "read_receipt",
]
