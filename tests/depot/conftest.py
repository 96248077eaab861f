"""Fixtures of the deposit-server tests: a throwaway PKI (server, accusé signer, one client
certificate per account), small synthetic electoral lists, and a server started in-process."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from demat.demo import demo_list
from demat.depot.protocol import ListControl, Manifest, ManifestFile
from demat.depot.server import DepotConfig, DepotServer, create_account
from demat.signing.devpki import issue, make_ca
from demat.signing.keys import Signer
from demat.transport.depot import DepotService
from demat.transport.s2low.client import RetryPolicy
from demat.transport.tls import ClientTLS

#: Two communes of Loire-Atlantique (44) and one of Ille-et-Vilaine (35).
NANTES, REZE, RENNES = "44109", "44143", "35238"
#: The smallest PDF (tableau, commission page).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
#: The accounts every test server has: (name, role, scope).
ACCOUNTS = (
    ("nantes", "commune", NANTES),
    ("reze", "commune", REZE),
    ("rennes", "commune", RENNES),
    ("pref44", "prefecture", "044"),
    ("pref35", "prefecture", "35"),
    ("operator", "operator", ""),
)
#: A REU extraction of fictitious electors (the demo's): ``reu_list(commune, n, seed=, missing_name_at=)``.
reu_list = demo_list


@dataclass(frozen=True)
class Deposit:
    """A deposit ready to post: its manifest and its files."""

    manifest: Manifest
    files: list[tuple[str, bytes]]

    @property
    def manifest_bytes(self) -> bytes:
        return self.manifest.to_bytes()


def make_deposit(commune: str, lists: dict[str, bytes], *, tableau: bytes | None = PDF) -> Deposit:
    """A deposit of ``lists`` (list type → content) with a tableau and the commission's page."""
    files: list[tuple[str, str | None, str, bytes]] = [
        (f"{commune}_{lt}.csv", lt, "liste", data) for lt, data in lists.items()
    ]
    if tableau is not None:
        files.append((f"tableau_{commune}.pdf", None, "tableau", tableau))
    files.append((f"commission_{commune}.pdf", None, "commission", PDF))
    entries = tuple(
        ManifestFile(name, role, hashlib.sha256(data).hexdigest(), len(data), lt)
        for name, lt, role, data in files
    )
    return Deposit(Manifest(commune, entries), [(name, data) for name, _, _, data in files])


@dataclass(frozen=True)
class PKIFiles:
    """Certificate files of a test deposit server and of its accounts."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    signer: Signer
    signing_cert: Path
    signing_key: Path

    def client(self, name: str) -> tuple[Path, Path]:
        """(cert, key) of account ``name``."""
        return self.directory / f"{name}.cert.pem", self.directory / f"{name}.key.pem"

    def tls(self, name: str | None) -> ClientTLS:
        """The client TLS of account ``name`` (``None``: no certificate, a token then)."""
        if name is None:
            return ClientTLS(ca_bundle=self.ca)
        cert, key = self.client(name)
        return ClientTLS(cert=cert, key=key, ca_bundle=self.ca)


@pytest.fixture(scope="session")
def depot_pki(tmp_path_factory: pytest.TempPathFactory) -> PKIFiles:
    return make_pki(tmp_path_factory.mktemp("depot-pki"))


def make_pki(directory: Path) -> PKIFiles:
    """A CA, the server's TLS and signing certificates, and a client certificate for each of
    :data:`ACCOUNTS` (and a ``stranger`` no account knows), written in ``directory``."""
    ca = make_ca("depot test CA")
    (directory / "ca.cert.pem").write_bytes(ca.cert_pem())
    server_key, server_cert = issue(ca, "localhost", kind="server").write(directory, "server")
    signing = issue(ca, "Serveur de dépôt (test)", kind="signing")
    signing_key, signing_cert = signing.write(directory, "signing")
    for name, _, _ in (*ACCOUNTS, ("stranger", "", "")):
        issue(ca, name, kind="client").write(directory, name)
    return PKIFiles(
        directory,
        directory / "ca.cert.pem",
        server_cert,
        server_key,
        Signer(signing.key, signing.cert, (ca.cert,)),
        signing_cert,
        signing_key,
    )


def count_rows(path: Path, list_type: str, today: dt.date) -> ListControl:
    """A stand-in checker for the server's mechanics: counts rows, refuses a row with an empty
    second column (the real rules are :mod:`demat.elections`', tested end to end)."""
    lines = path.read_text("utf-8").splitlines()[1:]
    from demat.depot.protocol import Finding

    errors = tuple(
        Finding("NOM_MANQUANT", "nom de naissance manquant", n)
        for n, line in enumerate(lines, 2)
        if line.split(";")[3] == '""'
    )
    return ListControl(path.name, list_type, len(lines), not errors, errors=errors)


Connect = Callable[..., DepotService]


@pytest.fixture
def depot_config(depot_pki: PKIFiles, tmp_path: Path) -> DepotConfig:
    """A server in ``tmp_path/depot`` with the test PKI and the stand-in checker."""
    return DepotConfig(
        directory=tmp_path / "depot",
        cert=depot_pki.server_cert,
        key=depot_pki.server_key,
        signer=depot_pki.signer,
        client_ca=depot_pki.ca,
        checker=count_rows,
    )


async def add_accounts(server: DepotServer, pki: PKIFiles) -> None:
    """Register :data:`ACCOUNTS` with their client certificates."""
    for name, role, scope in ACCOUNTS:
        cert, _ = pki.client(name)
        await create_account(server.store, name, role, scope, certificate_pem=cert.read_bytes())


@pytest.fixture
async def depot(depot_config: DepotConfig, depot_pki: PKIFiles) -> AsyncIterator[DepotServer]:
    async with DepotServer.start(depot_config) as server:
        await add_accounts(server, depot_pki)
        yield server


FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


@pytest.fixture
async def connect(depot: DepotServer, depot_pki: PKIFiles) -> AsyncIterator[Connect]:
    """``connect(account)``: a client of the test server for that account (closed after)."""
    opened: list[DepotService] = []

    def make(name: str | None, *, token: str | None = None) -> DepotService:
        service = DepotService(depot.url, depot_pki.tls(name), token=token, retry=FAST)
        opened.append(service)
        return service

    yield make
    for service in opened:
        await service.close()
