"""A package's seal: a CMS signature over its manifest and an RFC 3161 timestamp. Pure.

The manifest lists the SHA-512 of every file, so sealing the manifest seals the package. With
the profile's key (:class:`~demat.signing.keys.Signer`), the seal is a detached CMS
``SignedData`` (SHA-512, RSA PKCS#1 v1.5, signed attributes with the manifest's digest, made by
``cryptography``) and a timestamp over ``SHA-512(manifest) ‖ CMS`` (the signature and what it
signs, dated); without a key, the timestamp alone over the manifest's digest. The token is
checked when issued (:mod:`demat.archive.timestamp`); :func:`verify_seal` checks it all again
years later and says what does not hold.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from demat.archive.timestamp import (
    PendingTimestamp,
    Timestamper,
    TsaTrust,
    accept_response,
    timestamp_request,
    verify_token,
)
from demat.errors import SignatureError, TimestampError
from demat.signing.keys import Signer


def _message(manifest_sha512: str, signature: bytes | None) -> bytes:
    return bytes.fromhex(manifest_sha512) + (signature or b"")


@dataclass(frozen=True)
class PackageSeal:
    """The seal of one package: the manifest's SHA-512 (hex), the CMS signature (DER, ``None``
    without a key) and the ``TimeStampResp`` (DER); ``sealed_at`` is the token's genTime,
    ``signer`` the signing certificate's subject."""

    manifest_sha512: str
    signature: bytes | None
    token: bytes
    sealed_at: dt.datetime
    signer: str | None = None

    def to_json(self) -> bytes:
        """The seal as stored beside its package (canonical JSON, base64 DER)."""
        body = {
            "version": 1,
            "manifest_sha512": self.manifest_sha512,
            "signature": base64.b64encode(self.signature).decode() if self.signature else None,
            "token": base64.b64encode(self.token).decode(),
            "sealed_at": self.sealed_at.isoformat(),
            "signer": self.signer,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PackageSeal:
        """Read :meth:`to_json`'s output; :class:`~demat.errors.SignatureError` when it is not one."""
        try:
            body: dict[str, Any] = json.loads(data)
            return cls(
                str(body["manifest_sha512"]),
                base64.b64decode(body["signature"]) if body.get("signature") else None,
                base64.b64decode(body["token"]),
                dt.datetime.fromisoformat(body["sealed_at"]),
                body.get("signer"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureError(f"unreadable package seal: {exc}", code="SEAL_UNREADABLE") from exc


@dataclass(frozen=True)
class PendingSeal:
    """A seal waiting for its timestamp: send :attr:`request` to the TSA, then
    :meth:`complete` with the reply."""

    manifest_sha512: str
    signature: bytes | None
    signer: str | None
    pending: PendingTimestamp

    @property
    def request(self) -> bytes:
        """The RFC 3161 request's DER."""
        return self.pending.request

    def complete(self, response: bytes, trust: TsaTrust) -> PackageSeal:
        """The seal, once the TSA's reply is checked (imprint, nonce, chain at genTime)."""
        token = accept_response(self.pending, response, trust)
        return PackageSeal(self.manifest_sha512, self.signature, token.response, token.gen_time, self.signer)


def sign_manifest(manifest: bytes, signer: Signer) -> bytes:
    """A detached CMS signature (DER) over ``manifest``, SHA-512, with the signer's chain."""
    builder = (
        pkcs7.PKCS7SignatureBuilder().set_data(manifest).add_signer(signer.cert, signer.key, hashes.SHA512())
    )
    for cert in signer.chain:
        builder = builder.add_certificate(cert)
    return builder.sign(
        serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    )


def prepare_seal(manifest: bytes, signer: Signer | None = None) -> PendingSeal:
    """Sign ``manifest`` (when a signer is given) and prepare the timestamp request."""
    digest = hashlib.sha512(manifest).hexdigest()
    signature = sign_manifest(manifest, signer) if signer is not None else None
    subject = signer.cert.subject.rfc4514_string() if signer is not None else None
    return PendingSeal(digest, signature, subject, timestamp_request(_message(digest, signature)))


def seal_package(
    manifest: bytes, *, signer: Signer | None, timestamper: Timestamper, trust: TsaTrust
) -> PackageSeal:
    """Seal a package's manifest: sign, timestamp, check the token at once."""
    pending = prepare_seal(manifest, signer)
    return pending.complete(timestamper(pending.request), trust)


def check_signature(signature: bytes, manifest: bytes) -> str:
    """Check a detached CMS signature over ``manifest``: the signed digest is the manifest's,
    the signature over the signed attributes verifies with the embedded signing certificate.
    Returns the signer's subject; :class:`~demat.errors.SignatureError` otherwise."""
    try:
        signed_data = cms.ContentInfo.load(signature)["content"]
        [info] = list(signed_data["signer_infos"])
        attrs = info["signed_attrs"]
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        sid = info["sid"].chosen
        certs = [
            x509.load_der_x509_certificate(c.chosen.dump())
            for c in signed_data["certificates"]
            if c.name == "certificate"
        ]
        digest_name = info["digest_algorithm"]["algorithm"].native
        to_verify = attrs.untag().dump()
        raw_signature = info["signature"].native
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError(f"unreadable CMS signature: {exc}", code="SEAL_SIGNATURE") from exc
    if digest_name != "sha512":
        raise SignatureError(f"CMS signature digest {digest_name}: expected sha512", code="SEAL_SIGNATURE")
    if digests != [hashlib.sha512(manifest).digest()]:
        raise SignatureError("the CMS signature does not cover this manifest", code="SEAL_SIGNATURE")
    cert = next(
        (
            c
            for c in certs
            if c.serial_number == sid["serial_number"].native
            and c.issuer.public_bytes() == sid["issuer"].dump()
        ),
        None,
    )
    if cert is None:
        raise SignatureError("the CMS signature carries no signing certificate", code="SEAL_SIGNATURE")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the CMS signing key is not RSA", code="SEAL_SIGNATURE")
    try:
        key.verify(raw_signature, to_verify, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:
        raise SignatureError("the CMS signature value does not verify", code="SEAL_SIGNATURE") from None
    return cert.subject.rfc4514_string()


def verify_seal(seal: PackageSeal, manifest: bytes, trust: TsaTrust) -> list[str]:
    """What does not hold in ``seal`` for ``manifest`` (an empty list: the seal holds)."""
    problems: list[str] = []
    digest = hashlib.sha512(manifest).hexdigest()
    if digest != seal.manifest_sha512:
        problems.append(
            f"le sceau couvre le manifeste {seal.manifest_sha512[:16]}…, le manifeste est {digest[:16]}…"
        )
    if seal.signature is not None:
        try:
            check_signature(seal.signature, manifest)
        except SignatureError as exc:
            problems.append(f"signature : {exc.message}")
    try:
        token = verify_token(seal.token, _message(seal.manifest_sha512, seal.signature), trust)
        if abs((token.gen_time - seal.sealed_at).total_seconds()) > 1:
            problems.append(
                f"horodatage du {token.gen_time.isoformat()}, le sceau dit {seal.sealed_at.isoformat()}"
            )
    except TimestampError as exc:
        problems.append(f"horodatage : {exc.message}")
    return problems


__all__ = [
    "PackageSeal",
    "PendingSeal",
    "check_signature",
    "prepare_seal",
    "seal_package",
    "sign_manifest",
    "verify_seal",
]
