"""Enveloped XAdES-EPES signatures on an lxml element (the profile Hélios receives).

One ``ds:Signature`` is appended as the last child of the element it signs, with two
references: the element itself (``#Id``, transforms enveloped-signature + exclusive c14n)
and the XAdES ``SignedProperties`` (signing time, signing certificate, signature policy,
production place, claimed role) held in the signature's own ``ds:Object``. Exclusive c14n,
RSA-SHA256 (PKCS#1 v1.5) and SHA-256 digests throughout. The XAdES namespace is 1.2.2 by
default (LiberSign's ``xades-env-1.2.2-sha256``) or 1.1.1 (Berger-Levrault, the PES XSD import).

Each signed element is canonicalised once: its digest is taken before the signature is
inserted, which is exactly what the enveloped-signature transform gives back at verification.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from demat.errors import SignatureError
from demat.signing.keys import Signer
from demat.signing.xmldsig import (
    DS_NS,
    ENVELOPED,
    EXC_C14N,
    RSA_SHA256,
    SHA256,
    XADES_111,
    XADES_122,
    b64,
    c14n,
    digest,
    ds,
)

#: The XAdES versions demat writes (1.1.1 and 1.2.2 are what HELIOS takes).
XadesVersion = Literal["1.1.1", "1.2.2"]
_XADES_NS: dict[str, str] = {"1.1.1": XADES_111, "1.2.2": XADES_122}


@dataclass(frozen=True)
class SignaturePolicy:
    """A signature policy as XAdES-EPES names it (``SignaturePolicyIdentifier``)."""

    identifier: str
    description: str | None
    digest_value: str
    digest_method: str = SHA256
    spuri: str | None = None


#: Politique de signature Hélios de la DGFiP, version in force (OID …21.1.7), as Libriciel and
#: Berger-Levrault write it (see shared/reference/pes.md §2).
HELIOS_POLICY = SignaturePolicy(
    identifier="urn:oid:1.2.250.1.131.1.5.18.21.1.7",
    description="Politique de signature Helios de la DGFiP",
    digest_value="roF9+cfRHNPtVJolhdqfIqGMVuUXX8aR4rpiquf0u5E=",
    digest_method=SHA256,
    spuri="https://www.collectivites-locales.gouv.fr/files/files/finances_locales/dematerialisation/ps_helios_dgfip.pdf",
)


@dataclass(frozen=True)
class ProductionPlace:
    """``SignatureProductionPlace``: where the signer says they signed."""

    city: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class XadesOptions:
    """What goes into the signed properties.

    ``signing_time`` defaults to now (UTC); it is always written in UTC with a ``Z``.
    ``reference_type`` writes ``Type="…#SignedProperties"`` on the second reference.
    """

    xades_version: XadesVersion = "1.2.2"
    policy: SignaturePolicy | None = HELIOS_POLICY
    claimed_role: str | None = "Ordonnateur"
    place: ProductionPlace | None = None
    signing_time: dt.datetime | None = None
    reference_type: bool = True
    include_chain: bool = False

    @property
    def xades_ns(self) -> str:
        try:
            return _XADES_NS[self.xades_version]
        except KeyError:
            raise SignatureError(
                f"unsupported XAdES version {self.xades_version!r} (1.1.1 or 1.2.2)", code="XADES_VERSION"
            ) from None


def format_signing_time(when: dt.datetime) -> str:
    """``xs:dateTime`` in UTC with a ``Z`` (STELA flags any other form)."""
    if when.tzinfo is None:
        raise SignatureError("signing time must be timezone-aware", code="SIGNING_TIME")
    return when.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class XadesSigner:
    """Signs elements with one key and one set of options; what all signatures share is computed once."""

    def __init__(self, signer: Signer, options: XadesOptions | None = None) -> None:
        self.signer = signer
        self.options = options = options or XadesOptions()
        self.xad = options.xades_ns
        der = signer.cert.public_bytes(serialization.Encoding.DER)
        self.cert_b64 = [b64(der)]
        if options.include_chain:
            self.cert_b64 += [b64(c.public_bytes(serialization.Encoding.DER)) for c in signer.chain]
        self.cert_digest = b64(digest(der, SHA256), wrap=0)
        self.issuer = signer.cert.issuer.rfc4514_string()
        self.serial = str(signer.cert.serial_number)
        self.time = format_signing_time(options.signing_time or dt.datetime.now(dt.UTC))

    def sign(self, element: Any, *, signature_id: str, content_digest: bytes | None = None) -> Any:
        """Append an enveloped XAdES signature of ``element`` as its last child; return the ``ds:Signature``.

        ``element`` must carry an ``Id`` attribute (the reference is ``#Id``). The tree must not
        change afterwards, except outside ``element``. ``content_digest`` is the SHA-256 of the
        element's exclusive C14N when the caller took it already (an element streamed in pieces,
        :class:`demat.signing.stream.PieceDigest`, whose children are gone from the tree).
        """
        target_id = element.get("Id")
        if not target_id:
            raise SignatureError("the element to sign has no Id attribute", code="NO_ID")
        # Digest first: exactly what the enveloped-signature transform will see at verification.
        if content_digest is None:
            content_digest = digest(c14n(element), SHA256)
        target_digest = b64(content_digest, wrap=0)

        sig = etree.SubElement(element, ds("Signature"), {"Id": signature_id}, nsmap={"ds": DS_NS})
        signed_info = _sub(sig, ds("SignedInfo"))
        _sub(signed_info, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
        _sub(signed_info, ds("SignatureMethod"), Algorithm=RSA_SHA256)
        _reference(signed_info, f"#{target_id}", [ENVELOPED, EXC_C14N]).text = target_digest
        sp_type = f"{self.xad}SignedProperties" if self.options.reference_type else None
        sp_digest = _reference(signed_info, f"#{signature_id}_SP", [EXC_C14N], sp_type)
        value = _sub(sig, ds("SignatureValue"), Id=f"{signature_id}_SV")
        x509_data = _sub(_sub(sig, ds("KeyInfo")), ds("X509Data"))
        for cert_b64 in self.cert_b64:
            _sub(x509_data, ds("X509Certificate"), cert_b64)
        signed_props = _qualifying_properties(_sub(sig, ds("Object")), signature_id, self)

        # In place, so the c14n sees the namespaces in scope exactly as a verifier will.
        sp_digest.text = b64(digest(c14n(signed_props), SHA256), wrap=0)
        raw = self.signer.key.sign(c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
        value.text = b64(raw)
        return sig


def _sub(parent: Any, tag: str, text: str | None = None, **attrib: str) -> Any:
    el = etree.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _reference(signed_info: Any, uri: str, transforms: list[str], type_: str | None = None) -> Any:
    ref = _sub(signed_info, ds("Reference"), URI=uri)
    if type_:
        ref.set("Type", type_)
    trs = _sub(ref, ds("Transforms"))
    for algo in transforms:
        _sub(trs, ds("Transform"), Algorithm=algo)
    _sub(ref, ds("DigestMethod"), Algorithm=SHA256)
    return _sub(ref, ds("DigestValue"))


def _qualifying_properties(obj: Any, sig_id: str, p: XadesSigner) -> Any:
    x = p.xad
    o = p.options

    def q(tag: str) -> str:
        return f"{{{x}}}{tag}"

    qp = etree.SubElement(obj, q("QualifyingProperties"), {"Target": f"#{sig_id}"}, nsmap={"xad": x})
    sp = _sub(qp, q("SignedProperties"), Id=f"{sig_id}_SP")
    ssp = _sub(sp, q("SignedSignatureProperties"))
    _sub(ssp, q("SigningTime"), p.time)
    cert = _sub(_sub(ssp, q("SigningCertificate")), q("Cert"))
    cd = _sub(cert, q("CertDigest"))
    _sub(cd, q("DigestMethod"), Algorithm=SHA256)
    _sub(cd, q("DigestValue"), p.cert_digest)
    iss = _sub(cert, q("IssuerSerial"))
    _sub(iss, ds("X509IssuerName"), p.issuer)
    _sub(iss, ds("X509SerialNumber"), p.serial)
    spi = _sub(ssp, q("SignaturePolicyIdentifier"))
    if o.policy is None:
        # XAdES-BES: the schema still wants the element (1.1.1 makes it mandatory).
        _sub(spi, q("SignaturePolicyImplied"))
    else:
        pol = _sub(spi, q("SignaturePolicyId"))
        pid = _sub(pol, q("SigPolicyId"))
        _sub(pid, q("Identifier"), o.policy.identifier)
        if o.policy.description:
            _sub(pid, q("Description"), o.policy.description)
        ph = _sub(pol, q("SigPolicyHash"))
        _sub(ph, q("DigestMethod"), Algorithm=o.policy.digest_method)
        _sub(ph, q("DigestValue"), o.policy.digest_value)
        if o.policy.spuri:
            _sub(
                _sub(_sub(pol, q("SigPolicyQualifiers")), q("SigPolicyQualifier")), q("SPURI"), o.policy.spuri
            )
    place = o.place
    if place and (place.city or place.postal_code or place.country):
        pp = _sub(ssp, q("SignatureProductionPlace"))
        if place.city:
            _sub(pp, q("City"), place.city)
        if place.postal_code:
            _sub(pp, q("PostalCode"), place.postal_code)
        if place.country:
            _sub(pp, q("CountryName"), place.country)
    if o.claimed_role:
        _sub(_sub(_sub(ssp, q("SignerRole")), q("ClaimedRoles")), q("ClaimedRole"), o.claimed_role)
    return sp


__all__ = [
    "HELIOS_POLICY",
    "ProductionPlace",
    "SignaturePolicy",
    "XadesOptions",
    "XadesSigner",
    "XadesVersion",
    "format_signing_time",
]
