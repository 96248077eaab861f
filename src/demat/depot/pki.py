"""A throwaway PKI for trying the deposit server out (``demat depot serve --dev-pki``), the demo
and the tests: a CA, the server's TLS certificate, the certificate that signs the accusés de
dépôt, and client certificates for communes and préfectures. Never use these keys for anything
real."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from demat.signing.devpki import Issued, issue, make_ca
from demat.signing.keys import Signer, load_signer_files

_CA_CERT = "ca.cert.pem"
_CA_KEY = "ca.key.pem"


@dataclass(frozen=True)
class DepotPKI:
    """The files of a throwaway PKI in ``directory`` (keys 0600, unencrypted)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        """The CA certificate: clients trust it for the server, the server for clients."""
        return self.directory / _CA_CERT

    @property
    def server_cert(self) -> Path:
        """The server's TLS certificate (``localhost``, ``127.0.0.1``)."""
        return self.directory / "server.cert.pem"

    @property
    def server_key(self) -> Path:
        """The server's TLS key."""
        return self.directory / "server.key.pem"

    @property
    def signing_cert(self) -> Path:
        """The certificate that signs the accusés de dépôt."""
        return self.directory / "signing.cert.pem"

    @property
    def signing_key(self) -> Path:
        """The key that signs the accusés de dépôt."""
        return self.directory / "signing.key.pem"

    @classmethod
    def load_or_create(cls, directory: Path) -> DepotPKI:
        """The PKI of an earlier run in ``directory``, or a fresh one."""
        pki = cls(directory)
        files = (
            pki.ca_cert,
            pki.directory / _CA_KEY,
            pki.server_cert,
            pki.server_key,
            pki.signing_cert,
            pki.signing_key,
        )
        if all(p.is_file() for p in files):
            return pki
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        ca = make_ca("demat depot CA")
        ca.write(directory, "ca")
        issue(ca, "localhost", kind="server").write(directory, "server")
        issue(ca, "Serveur de dépôt des listes électorales", kind="signing").write(directory, "signing")
        return pki

    def signer(self) -> Signer:
        """The key and certificate that sign the accusés de dépôt."""
        return load_signer_files(key=self.signing_key, cert=self.signing_cert)

    def _ca(self) -> Issued:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key((self.directory / _CA_KEY).read_bytes(), None)
        cert = x509.load_pem_x509_certificate(self.ca_cert.read_bytes())
        return Issued(key, cert)  # type: ignore[arg-type]

    def issue_client(self, name: str, directory: Path) -> tuple[Path, Path]:
        """A client certificate for account ``name``, written in ``directory``: (key, cert)."""
        return issue(self._ca(), name, kind="client").write(directory, name)


__all__ = ["DepotPKI"]
