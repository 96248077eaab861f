"""Verification of enveloped XML-DSig / XAdES signatures, one report per signature.

The cryptography (reference digests, SignatureValue) is recomputed here with lxml's c14n and
``cryptography``; on top of it come the checks that defeat signature wrapping:

* every Reference URI must resolve to exactly one element carrying that ``Id`` in the whole
  document (a duplicated Id is an error, never "the first one");
* the signed content must be the element that contains the signature (enveloped);
* the XAdES ``SignedProperties`` must be referenced, and must be the ones held in this
  signature's own ``ds:Object`` (not another signature's);
* only c14n/exc-c14n and enveloped-signature transforms are run (no XPath, no XSLT).

Certificates are judged at the signing time the signature claims (``SigningTime``), not
"now": a certificate that expired since is reported as such in a warning, not as broken.
Key usage: a signing certificate without *non-repudiation* gets a warning (the
Berger-Levrault production sample is signed with such a certificate and was accepted by
Hélios), an error if ``require_non_repudiation``; a certificate allowing neither
digitalSignature nor nonRepudiation is always an error. SHA-1 signatures verify with a
warning. Missing XAdES properties or policy are warnings, as STELA treats them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from demat.errors import SignatureError
from demat.signing.trust import TrustStore
from demat.signing.xmldsig import (
    C14N_METHODS,
    DIGESTS,
    DS_NS,
    ENVELOPED,
    LEGACY,
    RSA_METHODS,
    XADES_VERSIONS,
    b64decode,
    c14n,
    c14n_without,
    digest,
    ds,
)
from demat.xml.safe import element_path, local_name

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Issue:
    """One finding: a stable ``code`` and a message for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class CertificateInfo:
    """The signer's certificate, as people read it."""

    subject: str
    issuer: str
    serial: str
    not_before: dt.datetime
    not_after: dt.datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertificateInfo:
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=str(cert.serial_number),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )


@dataclass(frozen=True)
class SignatureTarget:
    """The element a signature covers: its ``Id`` and its path in the document."""

    id: str | None
    path: str


@dataclass
class SignatureReport:
    """Everything found about one ``ds:Signature``.

    ``crypto_valid``: every reference digest and the SignatureValue verify.
    ``valid``: that, and no error (wrapping, certificate not valid at signing time, chain…).
    ``chain_valid`` is None when no trust store was given.
    """

    signature_id: str | None
    path: str
    target: SignatureTarget | None = None
    crypto_valid: bool = False
    certificate: CertificateInfo | None = None
    signing_time: dt.datetime | None = None
    certificate_valid_at_signing_time: bool | None = None
    chain_valid: bool | None = None
    policy_id: str | None = None
    xades_version: str | None = None
    claimed_role: str | None = None
    algorithms: dict[str, Any] = field(default_factory=dict)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.crypto_valid and not self.errors

    def error(self, code: str, message: str) -> None:
        self.errors.append(Issue(code, message))

    def warn(self, code: str, message: str) -> None:
        self.warnings.append(Issue(code, message))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        cert = self.certificate
        return {
            "signature_id": self.signature_id,
            "path": self.path,
            "target": {"id": self.target.id, "path": self.target.path} if self.target else None,
            "valid": self.valid,
            "crypto_valid": self.crypto_valid,
            "certificate": (
                {
                    "subject": cert.subject,
                    "issuer": cert.issuer,
                    "serial": cert.serial,
                    "not_before": cert.not_before.isoformat(),
                    "not_after": cert.not_after.isoformat(),
                }
                if cert
                else None
            ),
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
            "certificate_valid_at_signing_time": self.certificate_valid_at_signing_time,
            "chain_valid": self.chain_valid,
            "policy_id": self.policy_id,
            "xades_version": self.xades_version,
            "claimed_role": self.claimed_role,
            "algorithms": self.algorithms,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
        }


def node_path(el: Any) -> str:
    """``/PES_Aller/PES_DepenseAller/Bordereau[2]`` (see :func:`demat.xml.safe.element_path`)."""
    return element_path(el)


class IdIndex:
    """Every element of a document by its ``Id`` attribute, duplicates kept (built once per document)."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.by_id: dict[str, list[Any]] = {}
        for el in root.xpath("//*[@Id]"):
            self.by_id.setdefault(el.get("Id"), []).append(el)

    def duplicates(self) -> dict[str, list[Any]]:
        return {k: v for k, v in self.by_id.items() if len(v) > 1}

    def digest(self, target: Any, signature: Any, c14n_args: dict[str, Any], algorithm: str) -> bytes:
        """The ``algorithm`` digest of ``target``'s C14N, ``signature`` left out when given (the
        enveloped transform). An index over a document read in pieces overrides it for the
        elements it digested as they streamed by (:mod:`demat.pes.sign_stream`)."""
        if signature is not None:
            return digest(c14n_without(target, signature, **c14n_args), algorithm)
        return digest(c14n(target, **c14n_args), algorithm)


@dataclass(frozen=True)
class VerifyOptions:
    """Knobs of :func:`verify_signature`. ``at`` replaces the claimed SigningTime for certificate checks."""

    trust: TrustStore | None = None
    at: dt.datetime | None = None
    now: dt.datetime | None = None
    require_enveloped: bool = True
    require_non_repudiation: bool = False


def _is_descendant(node: Any, ancestor: Any) -> bool:
    while node is not None:
        if node is ancestor:
            return True
        node = node.getparent()
    return False


def _xades_parts(sig: Any) -> tuple[Any, Any, str | None]:
    """(QualifyingProperties, SignedProperties, XAdES namespace) of this signature's own Objects."""
    for obj in sig.findall(ds("Object")):
        for child in obj:
            if not isinstance(child.tag, str) or local_name(child) != "QualifyingProperties":
                continue
            ns = child.tag[1:].split("}", 1)[0] if child.tag.startswith("{") else ""
            return child, child.find(f"{{{ns}}}SignedProperties"), ns
    return None, None, None


def _resolve(uri: str | None, ids: IdIndex, report: SignatureReport) -> Any:
    if uri is None:
        report.error("UNSUPPORTED_URI", "référence sans attribut URI (contenu détaché non pris en charge)")
        return None
    if uri == "":
        return ids.root
    if not uri.startswith("#") or uri.startswith("#xpointer("):
        report.error("UNSUPPORTED_URI", f"URI de référence non prise en charge: {uri!r}")
        return None
    found = ids.by_id.get(uri[1:], [])
    if not found:
        report.error("REFERENCE_NOT_FOUND", f"aucun élément ne porte l'Id {uri[1:]!r}")
        return None
    if len(found) > 1:
        report.error(
            "DUPLICATE_ID", f"{len(found)} éléments portent l'Id {uri[1:]!r}: la référence {uri} est ambiguë"
        )
        return None
    return found[0]


def _c14n_args(method: Any) -> dict[str, Any]:
    exclusive, comments = C14N_METHODS[method.get("Algorithm")]
    prefixes: list[str] | None = None
    for child in method:
        if isinstance(child.tag, str) and local_name(child) == "InclusiveNamespaces":
            prefixes = (child.get("PrefixList") or "").split()
    return {"exclusive": exclusive, "with_comments": comments, "inclusive_prefixes": prefixes}


def _check_reference(ref: Any, sig: Any, ids: IdIndex, report: SignatureReport) -> tuple[Any, bool]:
    """Resolve and digest one Reference; return (target or None, digest ok)."""
    uri = ref.get("URI")
    target = _resolve(uri, ids, report)
    transforms = ref.findall(f"{ds('Transforms')}/{ds('Transform')}")
    enveloped = False
    c14n_args: dict[str, Any] = {"exclusive": False, "with_comments": False}
    for tr in transforms:
        algo = tr.get("Algorithm")
        if algo == ENVELOPED:
            enveloped = True
        elif algo in C14N_METHODS:
            c14n_args = _c14n_args(tr)
        else:
            report.error("UNSUPPORTED_TRANSFORM", f"transformation non prise en charge: {algo}")
            return target, False
    dm = ref.find(ds("DigestMethod"))
    algo = dm.get("Algorithm") if dm is not None else None
    if algo not in DIGESTS:
        report.error("UNSUPPORTED_ALGORITHM", f"algorithme d'empreinte inconnu: {algo}")
        return target, False
    report.algorithms.setdefault("digests", [])
    if algo not in report.algorithms["digests"]:
        report.algorithms["digests"].append(algo)
    if target is None:
        return None, False
    if uri in ("",) or (uri or "").startswith("#"):
        # Same-document references ("" and bare-name "#Id") drop comments before any c14n.
        c14n_args["with_comments"] = False
    try:
        actual = ids.digest(
            target, sig if enveloped and _is_descendant(sig, target) else None, c14n_args, algo
        )
    except SignatureError as exc:  # C14N refused the content (a relative namespace URI)
        report.error(exc.code, f"{uri or 'document'} : {exc.message}")
        return target, False
    try:
        expected = b64decode(ref.findtext(ds("DigestValue")))
    except ValueError:
        report.error("MALFORMED", f"DigestValue illisible pour {uri}")
        return target, False
    if actual != expected:
        report.error(
            "DIGEST_MISMATCH", f"l'empreinte de {uri or 'document'} ne correspond pas (contenu modifié)"
        )
        return target, False
    return target, True


def _certificates(sig: Any, report: SignatureReport) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for text in sig.findall(f"{ds('KeyInfo')}/{ds('X509Data')}/{ds('X509Certificate')}"):
        try:
            certs.append(x509.load_der_x509_certificate(b64decode(text.text)))
        except ValueError:
            report.error("CERTIFICATE_UNREADABLE", "certificat X509 illisible dans KeyInfo")
    return certs


def _parse_time(text: str | None, report: SignatureReport) -> dt.datetime | None:
    if not text or not text.strip():
        return None
    value = text.strip()
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        report.error("DATE_FORMAT_ERROR", f"SigningTime illisible: {value!r}")
        return None
    if when.tzinfo is None or when.utcoffset() != dt.timedelta(0) or not value.endswith("Z"):
        report.warn("DATE_FORMAT_ERROR", f"SigningTime {value!r} n'est pas exprimé en UTC (suffixe Z)")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


#: XAdES versions whose schema has ``xad:DigestMethod``/``xad:DigestValue`` in a digest holder:
#: 1.1.1, the one the PES XSD imports. The ETSI 1.2.2 schema references ``ds:`` elements there,
#: while PES signers (Hélios's own, Libriciel, Berger-Levrault, demat) write ``xad:`` ones in
#: both versions: in 1.2.2 either form is read without a word.
_XAD_DIGEST_CHILDREN = frozenset({"http://uri.etsi.org/01903/v1.1.1#"})


def _digest_parts(holder: Any, xad: str, report: SignatureReport) -> tuple[Any, str | None]:
    """(DigestMethod, DigestValue text) of a XAdES digest holder (``CertDigest``,
    ``SigPolicyHash``), read leniently as xmlsec1 and other verifiers do: ``xad:`` or ``ds:``
    children. ``ds:`` ones where the version's schema wants ``xad:`` are a warning
    (``CERT_DIGEST_SCHEMA``, ``DIGEST_SCHEMA``), not a failure."""
    for ns in (xad, DS_NS):
        method = holder.find(f"{{{ns}}}DigestMethod")
        if method is None:
            continue
        if ns == DS_NS and xad in _XAD_DIGEST_CHILDREN:
            name = local_name(holder)
            report.warn(
                "CERT_DIGEST_SCHEMA" if name == "CertDigest" else "DIGEST_SCHEMA",
                f"{name} contient ds:DigestMethod/ds:DigestValue, où le schéma XAdES "
                f"{XADES_VERSIONS.get(xad, xad)} (celui qu'importe le XSD PES) attend xad:… (lu quand même)",
            )
        return method, holder.findtext(f"{{{ns}}}DigestValue")
    return None, None


def _pick_signer_cert(
    certs: list[x509.Certificate], sp: Any, xad: str | None, report: SignatureReport
) -> x509.Certificate | None:
    """The KeyInfo certificate named by SigningCertificate (by digest), else the first one."""
    if not certs:
        return None
    cert_ids = sp.findall(f".//{{{xad}}}SigningCertificate/{{{xad}}}Cert") if sp is not None else []
    if sp is not None and not cert_ids:
        report.warn("NO_SIGNING_CERTIFICATE", "propriété SigningCertificate absente")
    if not cert_ids or xad is None:
        return certs[0]
    for cert_id in cert_ids:
        holder = cert_id.find(f"{{{xad}}}CertDigest")
        algo, value = _digest_parts(holder, xad, report) if holder is not None else (None, None)
        algo_uri = algo.get("Algorithm") if algo is not None else None
        if algo_uri not in DIGESTS:
            continue
        report.algorithms["certificate_digest"] = algo_uri
        try:
            want = b64decode(value)
        except ValueError:
            continue
        for cert in certs:
            if digest(cert.public_bytes(serialization.Encoding.DER), algo_uri) == want:
                serial = (cert_id.findtext(f"{{{xad}}}IssuerSerial/{ds('X509SerialNumber')}") or "").strip()
                if serial and serial != str(cert.serial_number):
                    report.error(
                        "SIGNING_CERTIFICATE_MISMATCH",
                        f"numéro de série {serial} différent de celui du certificat ({cert.serial_number})",
                    )
                return cert
    report.error(
        "SIGNING_CERTIFICATE_MISMATCH",
        "le certificat de KeyInfo n'est pas celui désigné par SigningCertificate",
    )
    return certs[0]


def _read_xades(sig: Any, qp: Any, sp: Any, xad: str, report: SignatureReport) -> None:
    report.xades_version = XADES_VERSIONS.get(xad, xad)
    target = qp.get("Target")
    sig_id = sig.get("Id")
    if sig_id and target not in (f"#{sig_id}", sig_id):
        report.warn(
            "QUALIFYING_TARGET", f"QualifyingProperties/@Target={target!r} ne désigne pas la signature"
        )
    if sp is None:
        report.warn("NO_SIGNED_PROPERTIES", "QualifyingProperties sans SignedProperties")
        return
    ssp = sp.find(f"{{{xad}}}SignedSignatureProperties")
    if ssp is None:
        report.warn("NO_SIGNED_PROPERTIES", "SignedSignatureProperties absentes")
        return
    report.signing_time = _parse_time(ssp.findtext(f"{{{xad}}}SigningTime"), report)
    policy = ssp.find(f"{{{xad}}}SignaturePolicyIdentifier")
    if policy is None:
        report.warn("NO_POLICY", "aucune politique de signature (SignaturePolicyIdentifier) n'est indiquée")
    elif policy.find(f"{{{xad}}}SignaturePolicyImplied") is not None:
        report.warn("NO_POLICY", "politique de signature implicite (SignaturePolicyImplied)")
    else:
        ident = policy.findtext(f"{{{xad}}}SignaturePolicyId/{{{xad}}}SigPolicyId/{{{xad}}}Identifier")
        report.policy_id = ident.strip() if ident else None
        if not report.policy_id:
            report.warn("POLICY_ID_MISSING", "identifiant de politique de signature absent")
        if not policy.findtext(f".//{{{xad}}}SPURI"):
            report.warn("POLICY_QUALIFIER_MISSING", "URL de la politique de signature (SPURI) absente")
        policy_hash = policy.find(f".//{{{xad}}}SigPolicyHash")
        hash_method, _ = _digest_parts(policy_hash, xad, report) if policy_hash is not None else (None, None)
        if hash_method is not None:
            report.algorithms["policy_hash"] = hash_method.get("Algorithm")
    role = ssp.findtext(f"{{{xad}}}SignerRole/{{{xad}}}ClaimedRoles/{{{xad}}}ClaimedRole")
    report.claimed_role = role.strip() if role else None
    if not report.claimed_role:
        report.warn("ROLE_BLANK", "aucun rôle (ClaimedRole) n'est déclaré par le signataire")


def _check_certificate(
    cert: x509.Certificate, others: list[x509.Certificate], report: SignatureReport, options: VerifyOptions
) -> None:
    now = options.now or dt.datetime.now(dt.UTC)
    when = options.at or report.signing_time
    if when is None:
        report.warn("NO_SIGNING_TIME", "pas de SigningTime: le certificat est jugé à la date du jour")
        when = now
    if when < cert.not_valid_before_utc:
        report.certificate_valid_at_signing_time = False
        report.error(
            "CERT_NOT_YET_VALID",
            f"certificat pas encore valide le {when.isoformat()} (valide à partir du "
            f"{cert.not_valid_before_utc.isoformat()})",
        )
    elif when > cert.not_valid_after_utc:
        report.certificate_valid_at_signing_time = False
        report.error(
            "CERT_EXPIRED_AT_SIGNING_TIME",
            f"certificat expiré le {cert.not_valid_after_utc.isoformat()}, "
            f"avant la signature du {when.isoformat()}",
        )
    else:
        report.certificate_valid_at_signing_time = True
        if now > cert.not_valid_after_utc:
            report.warn(
                "CERT_EXPIRED_NOW",
                f"certificat expiré depuis le {cert.not_valid_after_utc.isoformat()} "
                "(il était valide à la date de signature)",
            )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    if ku is not None:
        if not ku.digital_signature and not ku.content_commitment:
            report.error("KEY_USAGE", "le certificat n'autorise pas la signature (keyUsage)")
        elif not ku.content_commitment:
            (report.error if options.require_non_repudiation else report.warn)(
                "KEY_USAGE_NO_NON_REPUDIATION", "le certificat n'a pas l'usage non-répudiation"
            )
    if options.trust is not None:
        result = options.trust.verify(cert, others, when)
        report.chain_valid = result.valid
        for message in result.errors:
            report.error("CHAIN_INVALID", message)


def _check_signature_value(
    sig: Any, signed_info: Any, cert: x509.Certificate, report: SignatureReport
) -> bool:
    method = signed_info.find(ds("SignatureMethod"))
    hash_name = RSA_METHODS[method.get("Algorithm")]
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        report.error("UNSUPPORTED_ALGORITHM", "clé publique non RSA")
        return False
    try:
        value = b64decode(sig.findtext(ds("SignatureValue")))
    except ValueError:
        report.error("MALFORMED", "SignatureValue illisible")
        return False
    try:
        data = c14n(signed_info, **_c14n_args(signed_info.find(ds("CanonicalizationMethod"))))
    except SignatureError as exc:
        report.error(exc.code, f"SignedInfo : {exc.message}")
        return False
    try:
        key.verify(value, data, padding.PKCS1v15(), _HASHES[hash_name]())
    except InvalidSignature:
        report.error("SIGNATURE_VALUE_INVALID", "la valeur de signature (SignatureValue) ne vérifie pas")
        return False
    return True


def verify_signature(sig: Any, ids: IdIndex, options: VerifyOptions | None = None) -> SignatureReport:
    """Verify one ``ds:Signature`` element of the document indexed by ``ids``."""
    options = options or VerifyOptions()
    report = SignatureReport(signature_id=sig.get("Id"), path=node_path(sig))
    signed_info = sig.find(ds("SignedInfo"))
    if signed_info is None:
        report.error("MALFORMED", "ds:SignedInfo absent")
        return report
    cm = signed_info.find(ds("CanonicalizationMethod"))
    sm = signed_info.find(ds("SignatureMethod"))
    cm_algo = cm.get("Algorithm") if cm is not None else None
    sm_algo = sm.get("Algorithm") if sm is not None else None
    report.algorithms.update(canonicalization=cm_algo, signature=sm_algo)
    if cm_algo not in C14N_METHODS:
        report.error("UNSUPPORTED_ALGORITHM", f"canonicalisation non prise en charge: {cm_algo}")
    if sm_algo not in RSA_METHODS:
        report.error("UNSUPPORTED_ALGORITHM", f"algorithme de signature non pris en charge: {sm_algo}")
    if report.errors:
        return report

    qp, sp, xad = _xades_parts(sig)
    certs = _certificates(sig, report)
    cert = _pick_signer_cert(certs, sp, xad, report)
    if qp is None:
        report.warn("NO_XADES", "pas de propriétés XAdES (QualifyingProperties): signature XML-DSig simple")
    else:
        _read_xades(sig, qp, sp, xad or "", report)

    refs = signed_info.findall(ds("Reference"))
    digests_ok = bool(refs)
    sp_signed = False
    data_targets: list[Any] = []
    for ref in refs:
        target, ok = _check_reference(ref, sig, ids, report)
        digests_ok = digests_ok and ok
        if target is None:
            continue
        if sp is not None and target is sp:
            sp_signed = True
        elif local_name(target) == "SignedProperties":
            report.error(
                "SIGNED_PROPERTIES_FOREIGN",
                f"la référence {ref.get('URI')} désigne les SignedProperties d'une autre signature",
            )
        else:
            data_targets.append(target)
    if not refs:
        report.error("MALFORMED", "aucune ds:Reference")
    if sp is not None and not sp_signed:
        report.error(
            "SIGNED_PROPERTIES_NOT_SIGNED", "les SignedProperties de la signature ne sont pas signées"
        )
    if {a for a in report.algorithms.get("digests", [])} & LEGACY or sm_algo in LEGACY:
        report.warn(
            "WEAK_ALGORITHM", "signature SHA-1 (profil historique): vérifiée, mais à ne plus produire"
        )

    parent = sig.getparent()
    if not data_targets:
        report.error("NO_SIGNED_CONTENT", "la signature ne couvre aucun contenu")
    else:
        first = data_targets[0]
        report.target = SignatureTarget(first.get("Id"), node_path(first))
        for target in data_targets:
            if options.require_enveloped and target is not parent:
                report.error(
                    "REFERENCE_NOT_ENVELOPED",
                    f"la signature désigne {node_path(target)} au lieu de l'élément qui la contient "
                    f"({node_path(parent) if parent is not None else '-'})",
                )

    if cert is None:
        report.error("NO_CERTIFICATE", "aucun certificat X509 dans KeyInfo")
        return report
    report.certificate = CertificateInfo.of(cert)
    value_ok = _check_signature_value(sig, signed_info, cert, report)
    report.crypto_valid = digests_ok and value_ok
    _check_certificate(cert, [c for c in certs if c is not cert], report, options)
    return report


@dataclass
class VerifyReport:
    """A file's verdict: ``valid`` only if it has signatures, all valid, and no file-level error.

    ``valid`` says the signatures are intact and their certificates were usable when they
    signed; *who* signed is only known when a trust store was given (``signer_checked``):
    :attr:`verdict` tells the two apart.
    """

    file: str | None
    valid: bool = False
    signatures: list[SignatureReport] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def signer_checked(self) -> bool:
        """Whether every signer's certificate was checked against a trust store."""
        return bool(self.signatures) and all(s.chain_valid is not None for s in self.signatures)

    @property
    def verdict(self) -> str:
        """``valid`` (intact, signers checked against the trust store), ``intact`` (intact,
        signers checked against no authority: anyone may have signed) or ``invalid``."""
        if not self.valid:
            return "invalid"
        return "valid" if self.signer_checked else "intact"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "file": self.file,
            "verdict": self.verdict,
            "valid": self.valid,
            "signer_checked": self.signer_checked,
            "signatures": [s.to_dict() for s in self.signatures],
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
        }


__all__ = [
    "CertificateInfo",
    "IdIndex",
    "Issue",
    "SignatureReport",
    "SignatureTarget",
    "VerifyOptions",
    "VerifyReport",
    "node_path",
    "verify_signature",
]
