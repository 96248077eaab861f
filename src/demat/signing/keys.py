"""Signing keys: load a private key with its certificate (and chain) from PEM or PKCS#12.

The password is given by the caller as bytes (a profile's signer reads it from an environment
variable or a file: :func:`demat.gateway.identity.load_signer`); it is never logged, stored, or
put in a message.
Only RSA keys are accepted: the PES profile signs with RSA PKCS#1 v1.5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from demat.errors import ConfigError


@dataclass(frozen=True)
class Signer:
    """An RSA private key, its certificate, and the chain above it (nearest issuer first)."""

    key: rsa.RSAPrivateKey = field(repr=False)
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.key, rsa.RSAPrivateKey):
            raise ConfigError("only RSA signing keys are supported", code="KEY_UNSUPPORTED")
        if not _same_public_key(self.key, self.cert):
            raise ConfigError(
                f"the private key does not match the certificate ({self.cert.subject.rfc4514_string()})",
                code="KEY_CERT_MISMATCH",
            )


def _same_public_key(key: rsa.RSAPrivateKey, cert: x509.Certificate) -> bool:
    cert_key = cert.public_key()
    return (
        isinstance(cert_key, rsa.RSAPublicKey)
        and cert_key.public_numbers() == key.public_key().public_numbers()
    )


def _load_private_key(data: bytes, password: bytes | None, name: str) -> rsa.RSAPrivateKey:
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, password=password)
        else:
            key = serialization.load_der_private_key(data, password=password)
    except TypeError as exc:
        # cryptography raises TypeError for "password given but key not encrypted" and the reverse.
        if password is None:
            raise ConfigError(
                f"{name}: the key is encrypted, a password is needed", code="KEY_PASSWORD"
            ) from None
        raise ConfigError(
            f"{name}: the key is not encrypted, but a password was given", code="KEY_PASSWORD"
        ) from exc
    except ValueError:
        # Wrong password and corrupt data look the same to OpenSSL; say both, never echo the password.
        raise ConfigError(
            f"{name}: cannot decrypt or read the private key (wrong password or not a key)",
            code="KEY_PASSWORD",
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{name}: only RSA signing keys are supported", code="KEY_UNSUPPORTED")
    return key


def _load_certificates(data: bytes, name: str) -> list[x509.Certificate]:
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(f"{name}: not a certificate ({exc})", code="CERT_UNREADABLE") from None
    if not certs:
        raise ConfigError(f"{name}: no certificate found", code="CERT_UNREADABLE")
    return certs


def _split_leaf(key: rsa.RSAPrivateKey, certs: list[x509.Certificate], name: str) -> Signer:
    """Pick the certificate of ``key`` among ``certs``; the others form the chain."""
    for i, cert in enumerate(certs):
        if _same_public_key(key, cert):
            return Signer(key, cert, tuple(certs[:i] + certs[i + 1 :]))
    raise ConfigError(
        f"{name}: the private key does not match the certificate ({certs[0].subject.rfc4514_string()})",
        code="KEY_CERT_MISMATCH",
    )


def signer_from_pem(
    key_pem: bytes,
    cert_pem: bytes,
    *,
    password: bytes | None = None,
    chain_pem: bytes | None = None,
    name: str = "key",
) -> Signer:
    """A signer from a PEM (or DER) private key and a PEM certificate file (which may hold the chain)."""
    key = _load_private_key(key_pem, password, name)
    certs = _load_certificates(cert_pem, name)
    if chain_pem:
        certs += _load_certificates(chain_pem, name)
    return _split_leaf(key, certs, name)


def signer_from_pkcs12(data: bytes, password: bytes | None, *, name: str = "PKCS#12") -> Signer:
    """A signer from a PKCS#12 (.p12/.pfx) bundle holding the key, its certificate and maybe the chain."""
    try:
        bundle = pkcs12.load_pkcs12(data, password)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{name}: cannot open the PKCS#12 file (wrong password or damaged file)", code="KEY_PASSWORD"
        ) from None
    if bundle.key is None:
        raise ConfigError(f"{name}: the PKCS#12 file holds no private key", code="KEY_MISSING")
    if not isinstance(bundle.key, rsa.RSAPrivateKey):
        raise ConfigError(f"{name}: only RSA signing keys are supported", code="KEY_UNSUPPORTED")
    certs = [c.certificate for c in bundle.additional_certs]
    if bundle.cert is not None:
        certs.insert(0, bundle.cert.certificate)
    if not certs:
        raise ConfigError(f"{name}: the PKCS#12 file holds no certificate", code="CERT_UNREADABLE")
    return _split_leaf(bundle.key, certs, name)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code="IO") from None


def load_signer_files(
    *,
    key: Path | None = None,
    cert: Path | None = None,
    p12: Path | None = None,
    password: bytes | None = None,
) -> Signer:
    """A signer from files: ``key`` + ``cert`` (PEM), or ``p12``."""
    if p12 is not None:
        if key is not None or cert is not None:
            raise ConfigError(
                "give either a PKCS#12 file or a key and a certificate, not both", code="CONFIG"
            )
        return signer_from_pkcs12(_read(p12), password, name=str(p12))
    if key is None or cert is None:
        raise ConfigError("a signing key needs both a key file and a certificate file (or a PKCS#12 file)")
    return signer_from_pem(_read(key), _read(cert), password=password, name=str(key))


__all__ = ["Signer", "load_signer_files", "signer_from_pem", "signer_from_pkcs12"]
