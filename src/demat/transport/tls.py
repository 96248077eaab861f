"""TLS contexts for talking to a tiers de télétransmission (mutual TLS).

S²LOW's Apache requires a client certificate (``SSLVerifyClient require``) and identifies the
account by it. Server certificates are verified by default (Pastell turns that off; we do not).
TLS 1.2 can be forced: S²LOW disabled TLS 1.3 to stay compatible with RGS** certificates.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from demat.config import PlatformAccount
from demat.errors import CredentialsError


@dataclass(frozen=True)
class ClientTLS:
    """Where the client identity and the trusted CAs live.

    Give ``cert`` + ``key`` (PEM) or ``p12``. ``password`` decrypts the key or the PKCS#12.
    ``ca_bundle`` replaces the system trust store for verifying the server.
    """

    cert: Path | None = None
    key: Path | None = None
    p12: Path | None = None
    password: bytes | None = None
    ca_bundle: Path | None = None
    force_tls12: bool = False
    verify_server: bool = True


def read_password(*, env: str | None = None, file: Path | None = None) -> bytes | None:
    """A key password from an environment variable or a file (never logged)."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise CredentialsError(f"environment variable {env} (client key password) is not set")
        return value.encode()
    if file:
        try:
            return file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise CredentialsError(f"cannot read client key password file {file}: {exc.strerror}") from exc
    return None


def tls_from_account(account: PlatformAccount) -> ClientTLS:
    """The :class:`ClientTLS` described by a platform account of the settings."""
    return ClientTLS(
        cert=account.client_cert,
        key=account.client_key,
        p12=account.client_p12,
        password=read_password(env=account.password_env, file=account.password_file),
        ca_bundle=account.ca_bundle,
        force_tls12=account.force_tls12,
    )


def client_context(tls: ClientTLS) -> ssl.SSLContext:
    """An SSL context presenting the client certificate and verifying the server."""
    if tls.ca_bundle is not None and not tls.ca_bundle.is_file():
        raise CredentialsError(f"CA bundle not found: {tls.ca_bundle}")
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_bundle) if tls.ca_bundle else None
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.force_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if not tls.verify_server:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.p12 is not None:
        _load_p12(ctx, tls.p12, tls.password)
    elif tls.cert is not None:
        _load_pem(ctx, tls.cert, tls.key, tls.password)
    return ctx


def _load_pem(ctx: ssl.SSLContext, cert: Path, key: Path | None, password: bytes | None) -> None:
    for p in (cert, key):
        if p is not None and not p.is_file():
            raise CredentialsError(f"client certificate or key file not found: {p}")
    try:
        ctx.load_cert_chain(str(cert), str(key) if key else None, password=password)
    except (ssl.SSLError, OSError) as exc:  # a wrong password, a damaged or unreadable file
        raise CredentialsError(
            f"cannot load client certificate {cert}: {getattr(exc, 'reason', None) or exc}"
        ) from exc


def _load_p12(ctx: ssl.SSLContext, p12: Path, password: bytes | None) -> None:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(p12.read_bytes(), password)
    except OSError as exc:
        raise CredentialsError(f"cannot read PKCS#12 {p12}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CredentialsError(f"cannot open PKCS#12 {p12} (wrong password or damaged file)") from exc
    if key is None or cert is None:
        raise CredentialsError(f"PKCS#12 {p12} holds no private key and certificate")
    # The ssl module only loads key material from files: write it re-encrypted under a one-time
    # password into a private temporary directory, load it, and remove it at once.
    one_time = secrets.token_bytes(32).hex().encode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time),
    )
    chain_pem = cert.public_bytes(serialization.Encoding.PEM) + b"".join(
        c.public_bytes(serialization.Encoding.PEM) for c in extra or ()
    )
    with tempfile.TemporaryDirectory(prefix="demat-tls-") as tmp:
        key_path = Path(tmp) / "key.pem"
        cert_path = Path(tmp) / "cert.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key_pem)
        cert_path.write_bytes(chain_pem)
        ctx.load_cert_chain(str(cert_path), str(key_path), password=one_time)


def server_context(
    cert: Path, key: Path, client_ca: Path | None, *, require_client_cert: bool = True
) -> ssl.SSLContext:
    """A server-side context that demands a client certificate signed by ``client_ca``."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        ctx.load_verify_locations(cafile=str(client_ca))
    ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return ctx


__all__ = [
    "ClientTLS",
    "client_context",
    "read_password",
    "server_context",
    "tls_from_account",
]
