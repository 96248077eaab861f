"""Trust anchors and certificate path checks at a given time (the signing time, not "now").

Why not ``cryptography.x509.verification``: its policy is the Web PKI one. It refuses
SHA-1-signed certificates (every DGFiP "Signature Helios" certificate before 2016), insists
on Web PKI extension profiles that document-signing CAs do not follow, and is built for
TLS peers. What signature verification needs is narrower and is done here by hand: find a
path from the signer to a trusted certificate, check each signature on the path with
``Certificate.verify_directly_issued_by``, each validity period at the chosen time, and
that each issuer is a CA allowed to sign certificates (basicConstraints, keyUsage, pathLen).
Revocation (CRL/OCSP) is not checked: it needs the network.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

from demat.errors import ConfigError

_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}
_MAX_DEPTH = 8


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, or the one DER certificate in ``data``."""
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


@dataclass(frozen=True)
class ChainResult:
    """Outcome of a path check: ``valid``, the path found (signer first), and why it failed."""

    valid: bool
    path: tuple[x509.Certificate, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass
class TrustStore:
    """Trusted CA certificates (roots or intermediates that are trusted as such)."""

    anchors: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def from_dir(cls, directory: Path) -> TrustStore:
        """Load every ``*.pem``, ``*.crt``, ``*.cer``, ``*.der`` in ``directory`` (not recursive)."""
        if not directory.is_dir():
            raise ConfigError(f"trust directory {directory} does not exist", code="TRUST_DIR")
        anchors: list[x509.Certificate] = []
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() not in _CERT_SUFFIXES or not path.is_file():
                continue
            try:
                anchors += load_certificates(path.read_bytes())
            except ValueError as exc:
                raise ConfigError(f"{path}: not a certificate ({exc})", code="TRUST_DIR") from None
        if not anchors:
            raise ConfigError(f"trust directory {directory} holds no certificate", code="TRUST_DIR")
        return cls(anchors)

    def is_anchor(self, cert: x509.Certificate) -> bool:
        return any(cert == a for a in self.anchors)

    def verify(
        self, cert: x509.Certificate, intermediates: Iterable[x509.Certificate], at: dt.datetime
    ) -> ChainResult:
        """Check that ``cert`` chains to an anchor, every certificate on the path being valid at ``at``.

        Paths are searched depth-first among ``intermediates`` (e.g. the signature's KeyInfo)
        and the anchors; the first complete valid path wins, otherwise the errors of the
        deepest attempt are returned.
        """
        pool = [c for c in intermediates if c != cert] + self.anchors
        best: list[str] = [f"aucune autorité de confiance n'a émis {_name(cert)}"]
        found = self._search(cert, pool, at, [cert], best)
        if found is not None:
            return ChainResult(True, tuple(found))
        return ChainResult(False, (cert,), tuple(best))

    def _search(
        self,
        cert: x509.Certificate,
        pool: list[x509.Certificate],
        at: dt.datetime,
        path: list[x509.Certificate],
        best: list[str],
    ) -> list[x509.Certificate] | None:
        problems = _validity_problems(cert, at)
        if problems:
            best[:] = problems
            return None
        if self.is_anchor(cert):
            return path
        if len(path) > _MAX_DEPTH:
            best[:] = ["chaîne de certification trop longue"]
            return None
        for issuer in pool:
            if issuer in path or issuer.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(issuer)
            except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                best[:] = [f"la signature de {_name(cert)} ne vérifie pas avec la clé de {_name(issuer)}"]
                continue
            issuer_problems = _issuer_problems(issuer, len(path) - 1)
            if issuer_problems:
                best[:] = issuer_problems
                continue
            found = self._search(issuer, pool, at, [*path, issuer], best)
            if found is not None:
                return found
        return None


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or f"serial {cert.serial_number}"


def _validity_problems(cert: x509.Certificate, at: dt.datetime) -> list[str]:
    if at < cert.not_valid_before_utc:
        return [f"{_name(cert)} n'est pas encore valide le {at.isoformat()}"]
    if at > cert.not_valid_after_utc:
        return [f"{_name(cert)} a expiré le {cert.not_valid_after_utc.isoformat()}"]
    return []


def _issuer_problems(issuer: x509.Certificate, intermediates_below: int) -> list[str]:
    """Why ``issuer`` may not sign the certificate below it (empty if it may)."""
    try:
        bc = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        # X.509 v1 roots have no extensions at all; only tolerated for those.
        if issuer.version == x509.Version.v1:
            return []
        return [f"{_name(issuer)} n'est pas une autorité de certification (basicConstraints absent)"]
    if not bc.ca:
        return [f"{_name(issuer)} n'est pas une autorité de certification (CA=false)"]
    if bc.path_length is not None and intermediates_below > bc.path_length:
        return [f"{_name(issuer)}: longueur de chaîne (pathLen={bc.path_length}) dépassée"]
    try:
        ku = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return []
    if not ku.key_cert_sign:
        return [f"{_name(issuer)} n'a pas l'usage keyCertSign"]
    return []


__all__ = ["ChainResult", "TrustStore", "load_certificates"]
