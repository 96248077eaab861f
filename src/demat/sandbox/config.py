"""How a sandbox behaves: who it plays, how fast it answers, which faults it injects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from demat.sandbox.pki import SandboxPKI


@dataclass(frozen=True)
class Faults:
    """Seeded fault injection on the S²LOW paths (never on ``/_sandbox/``).

    Rates are shares of requests in [0, 1]; ``latency`` is a (min, max) delay in seconds added
    before answering. ``paths`` restricts faults to paths starting with one of these prefixes.
    """

    error_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    paths: tuple[str, ...] = ()
    seed: int = 0

    @property
    def active(self) -> bool:
        return bool(self.error_rate or self.drop_rate or self.malformed_rate or self.latency[1])


@dataclass(frozen=True)
class Account:
    """The collectivité the sandbox serves (S²LOW derives it from the client certificate)."""

    siren: str = "214400152"
    departement: str = "044"
    arrondissement: str = "0"
    nature: str = "31"
    return_emails: tuple[str, ...] = ("actes@example.org",)
    #: When set, requests must also carry these credentials (HTTP Basic or nonce login).
    login: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class SandboxConfig:
    """Everything a :class:`~demat.sandbox.server.Sandbox` needs.

    ``delay`` is the time, in seconds, a transaction takes from posted to its final status
    (acknowledged/refused); intermediate statuses are spread over it. Zero for tests.
    ``directory`` keeps the PKI, the uploads and the state across runs; without it a temporary
    directory is used and removed on stop.
    """

    host: str = "127.0.0.1"
    port: int = 0
    directory: Path | None = None
    pki: SandboxPKI | None = None
    delay: float = 0.0
    faults: Faults = field(default_factory=Faults)
    account: Account = field(default_factory=Account)
    max_helios_bytes: int = 1024 * 1024 * 1024
    max_actes_bytes: int = 150 * 1024 * 1024
    classification_date: dt.date = dt.date(2024, 1, 15)
    today: dt.date | None = None


__all__ = [
    "Account",
    "Faults",
    "SandboxConfig",
]
