"""Throwaway PKI for the sandbox, the demo and the tests.

Makes a CA and the leaf certificates demat needs: document-signing certificates (with
non-repudiation, validity chosen by the caller so that "expired at signing time" can be
produced), TLS server certificates for loopback, and TLS client certificates. Never use
these keys for anything real.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: What a certificate is for: a CA, document signing, a TLS server, a TLS client or an RFC 3161
#: timestamping authority.
Kind = Literal["ca", "signing", "server", "client", "tsa"]


@dataclass(frozen=True)
class Issued:
    """A private key and its certificate (and the issuer chain above it, nearest first)."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    def key_pem(self, password: bytes | None = None) -> bytes:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def p12(self, password: bytes | None, name: bytes = b"demat") -> bytes:
        enc: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(name, self.key, self.cert, list(self.chain) or None, enc)

    def write(self, directory: Path, stem: str, password: bytes | None = None) -> tuple[Path, Path]:
        """Write ``stem.key.pem`` (mode 0600) and ``stem.cert.pem``; return their paths."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / f"{stem}.key.pem"
        cert_path = directory / f"{stem}.cert.pem"
        key_path.touch(mode=0o600)
        key_path.write_bytes(self.key_pem(password))
        cert_path.write_bytes(self.cert_pem())
        return key_path, cert_path


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str, org: str = "demat test PKI") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(
    common_name: str = "demat test CA",
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    key_size: int = 2048,
) -> Issued:
    """A self-signed CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    start = not_before or _now() - dt.timedelta(days=1)
    end = not_after or start + dt.timedelta(days=3650)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(
    ca: Issued,
    common_name: str,
    *,
    kind: Kind = "signing",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    dns_names: tuple[str, ...] = ("localhost",),
    ip_addresses: tuple[str, ...] = ("127.0.0.1", "::1"),
    key_size: int = 2048,
    org: str = "demat test PKI",
) -> Issued:
    """A leaf certificate of ``kind`` signed by ``ca``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    start = not_before or _now() - dt.timedelta(days=1)
    end = not_after or start + dt.timedelta(days=825)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, org))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    signing = kind == "signing"
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=signing,
            key_encipherment=kind == "server",
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if kind == "server":
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    elif kind == "client":
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    elif kind == "tsa":  # RFC 3161 §2.3: the only purpose, marked critical
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    cert = builder.sign(ca.key, hashes.SHA256())
    return Issued(key, cert, (ca.cert, *ca.chain))


__all__ = [
    "Issued",
    "Kind",
    "issue",
    "make_ca",
]
