"""The sandbox's throwaway PKI: a CA, a server certificate for loopback, a client certificate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from demat.signing.devpki import Issued, issue, make_ca


@dataclass(frozen=True)
class SandboxPKI:
    """Files of a CA, the server's key and certificate, and one client key and certificate."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def create(cls, directory: Path, *, client_cn: str = "demat sandbox client") -> SandboxPKI:
        """Make a fresh CA and certificates under ``directory`` (keys mode 0600, unencrypted)."""
        ca = make_ca("demat sandbox CA")
        server = issue(ca, "localhost", kind="server")
        client = issue(ca, client_cn, kind="client")
        return cls.write(directory, ca, server, client)

    @classmethod
    def write(cls, directory: Path, ca: Issued, server: Issued, client: Issued) -> SandboxPKI:
        directory.mkdir(parents=True, exist_ok=True)
        ca_cert = directory / "ca.cert.pem"
        ca_cert.write_bytes(ca.cert_pem())
        server_key, server_cert = server.write(directory, "server")
        client_key, client_cert = client.write(directory, "client")
        return cls(ca_cert, server_cert, server_key, client_cert, client_key)

    @classmethod
    def load_or_create(cls, directory: Path) -> SandboxPKI:
        """Reuse the files of an earlier run in ``directory`` when they are all there."""
        pki = cls(
            directory / "ca.cert.pem",
            directory / "server.cert.pem",
            directory / "server.key.pem",
            directory / "client.cert.pem",
            directory / "client.key.pem",
        )
        if all(
            p.is_file()
            for p in (pki.ca_cert, pki.server_cert, pki.server_key, pki.client_cert, pki.client_key)
        ):
            return pki
        return cls.create(directory)


__all__ = [
    "SandboxPKI",
]
