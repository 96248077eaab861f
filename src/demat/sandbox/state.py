"""What the sandbox remembers: transactions, préfecture documents, PES_Retour, receipts.

Held in memory; with a directory, written to ``state.json`` (plus blob files) after every change
and read back at start, so a standalone sandbox survives a restart like a real platform.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Receipt:
    """One upload the sandbox received, whatever became of it."""

    endpoint: str
    sha1: str
    size: int
    filename: str
    outcome: str  # "accepted", "duplicate", "rejected", "fault"
    message: str = ""
    transaction_id: str | None = None
    at: float = field(default_factory=time.time)


@dataclass
class HeliosTx:
    """A HELIOS transaction: the PES received and the PES_ACQUIT the "DGFiP" will return."""

    id: str
    filename: str
    sha1: str
    size: int
    nom_fic: str
    cod_col: str
    blob: str
    created: float
    ack_blob: str | None = None
    accepted: bool | None = None
    final_status: int = 4
    message: str = ""


@dataclass
class ActesTx:
    """An ACTES transaction (transmission, cancellation, préfecture letter, reply)."""

    id: str
    type: int
    created: float
    number: str | None = None
    nature: int | None = None
    subject: str = ""
    unique_id: str | None = None  # IDActe
    related_id: str | None = None
    final_status: int = 4
    message: str = ""
    reply_blob: str | None = None  # ARActe / AnomalieActe / ARAnnulation / the letter
    package_blob: str | None = None  # the tar.gz as built (transmission) or sent (préfecture)
    read: bool = False
    status_override: int | None = None


@dataclass
class RetourFile:
    """A PES_Retour waiting to be fetched."""

    id: str
    name: str
    blob: str
    date: str
    read: bool = False


@dataclass
class State:
    """All of the sandbox's memory."""

    next_id: int = 1
    helios: dict[str, HeliosTx] = field(default_factory=dict)
    actes: dict[str, ActesTx] = field(default_factory=dict)
    retours: dict[str, RetourFile] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    nonces: list[str] = field(default_factory=list)

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def to_json(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "helios": [dataclasses.asdict(t) for t in self.helios.values()],
            "actes": [dataclasses.asdict(t) for t in self.actes.values()],
            "retours": [dataclasses.asdict(t) for t in self.retours.values()],
            "receipts": [dataclasses.asdict(r) for r in self.receipts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        return cls(
            next_id=int(data.get("next_id", 1)),
            helios={t["id"]: HeliosTx(**t) for t in data.get("helios", [])},
            actes={t["id"]: ActesTx(**t) for t in data.get("actes", [])},
            retours={t["id"]: RetourFile(**t) for t in data.get("retours", [])},
            receipts=[Receipt(**r) for r in data.get("receipts", [])],
        )


class Blobs:
    """Files the sandbox keeps (uploads, ACKs, replies), under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.directory / name

    def put(self, name: str, data: bytes) -> str:
        self.path(name).write_bytes(data)
        return name

    def get(self, name: str) -> bytes:
        return self.path(name).read_bytes()


def save_state(state: State, path: Path) -> None:
    """Write ``state`` atomically."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), ensure_ascii=False), "utf-8")
    os.replace(tmp, path)


def load_state(path: Path) -> State:
    """Read a saved state, or a fresh one."""
    if not path.is_file():
        return State()
    return State.from_json(json.loads(path.read_text("utf-8")))
