"""What the sandbox remembers: transactions, préfecture documents, PES_Retour, receipts.

Held in memory; with a directory, kept on disk (plus blob files) and read back at start, so a
standalone sandbox survives a restart like a real platform. On disk: a snapshot,
``state.json``, and a journal, ``state.<generation>.log``, to which every change appends one
JSON line holding the objects it created or modified (the snapshot's shape, partial): a request
costs the size of what it changed, not of everything the sandbox holds. Reading back replays
the journal of the snapshot's generation over it; the snapshot is rewritten (a new generation,
a new empty journal) at start and whenever the journal has grown longer than the state itself.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


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
    #: Keys of the bordereaux the DGFiP integrated from this PES (:func:`~demat.sandbox.dgfip.bordereau_key`).
    integrated: list[str] = field(default_factory=list)


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
    """All of the sandbox's memory.

    Add transactions with :meth:`add_helios` / :meth:`add_actes`: they keep the indexes the
    duplicate checks use (one lookup per request, not a scan of every transaction).
    """

    next_id: int = 1
    helios: dict[str, HeliosTx] = field(default_factory=dict)
    actes: dict[str, ActesTx] = field(default_factory=dict)
    retours: dict[str, RetourFile] = field(default_factory=dict)
    receipts: list[Receipt] = field(default_factory=list)
    nonces: list[str] = field(default_factory=list)
    _helios_by_sha1: dict[str, HeliosTx] = field(default_factory=dict, repr=False, compare=False)
    _helios_by_name: dict[tuple[str, str], HeliosTx] = field(default_factory=dict, repr=False, compare=False)
    _actes_by_number: dict[str | None, ActesTx] = field(default_factory=dict, repr=False, compare=False)
    _integrated: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        for h in self.helios.values():
            self._index_helios(h)
        for a in self.actes.values():
            self._index_actes(a)

    def new_id(self) -> str:
        value = self.next_id
        self.next_id += 1
        return str(value)

    def add_helios(self, tx: HeliosTx) -> None:
        self.helios[tx.id] = tx
        self._index_helios(tx)

    def add_actes(self, tx: ActesTx) -> None:
        self.actes[tx.id] = tx
        self._index_actes(tx)

    def _index_helios(self, tx: HeliosTx) -> None:
        _index(self._helios_by_sha1, tx.sha1, tx)
        _index(self._helios_by_name, (tx.nom_fic, tx.cod_col), tx)
        self._integrated.update(tx.integrated)

    def _index_actes(self, tx: ActesTx) -> None:
        if tx.type == 1:
            _index(self._actes_by_number, tx.number, tx)

    def helios_with_sha1(self, sha1: str) -> HeliosTx | None:
        """The PES already received with these bytes (S²LOW's duplicate key)."""
        return self._helios_by_sha1.get(sha1)

    def is_integrated(self, key: str) -> bool:
        """Whether the DGFiP has already integrated this bordereau (its key)."""
        return key in self._integrated

    def helios_named(self, nom_fic: str, cod_col: str) -> HeliosTx | None:
        """The PES already received with this NomFic for this CodCol."""
        return self._helios_by_name.get((nom_fic, cod_col))

    def acte_numbered(self, number: str | None) -> ActesTx | None:
        """The acte (transmission, type 1) already received with this number."""
        return self._actes_by_number.get(number)

    def to_json(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "helios": [dataclasses.asdict(t) for t in self.helios.values()],
            "actes": [dataclasses.asdict(t) for t in self.actes.values()],
            "retours": [dataclasses.asdict(t) for t in self.retours.values()],
            "receipts": [dataclasses.asdict(r) for r in self.receipts],
        }

    def merge(self, data: dict[str, Any]) -> None:
        """Apply a snapshot or a journal line: objects replace those with the same id,
        receipts are appended."""
        self.next_id = max(self.next_id, int(data.get("next_id", 1)))
        for t in data.get("helios", []):
            self.add_helios(HeliosTx(**t))
        for t in data.get("actes", []):
            self.add_actes(ActesTx(**t))
        for t in data.get("retours", []):
            self.retours[t["id"]] = RetourFile(**t)
        self.receipts += [Receipt(**r) for r in data.get("receipts", [])]

    @property
    def size(self) -> int:
        """How many objects a snapshot holds."""
        return len(self.helios) + len(self.actes) + len(self.retours) + len(self.receipts)


def _index(index: dict[Any, Any], key: Any, tx: HeliosTx | ActesTx) -> None:
    """Index ``tx`` under ``key``: the first transaction wins, a newer copy of it replaces it."""
    current = index.get(key)
    if current is None or current.id == tx.id:
        index[key] = tx


#: A record whose change the state file writes.
Changed = HeliosTx | ActesTx | RetourFile | Receipt


def changes_json(state: State, changed: tuple[Changed, ...]) -> dict[str, Any]:
    """A journal line: ``next_id`` and the objects given, in the snapshot's shape."""
    out: dict[str, Any] = {"next_id": state.next_id}
    keys = {HeliosTx: "helios", ActesTx: "actes", RetourFile: "retours", Receipt: "receipts"}
    for obj in changed:
        out.setdefault(keys[type(obj)], []).append(dataclasses.asdict(obj))
    return out


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


class StateFile:
    """The on-disk state of a sandbox directory: snapshot plus journal (see the module doc)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.snapshot = directory / "state.json"
        self.generation = 0
        self._journal: IO[str] | None = None
        self._lines = 0

    def journal_path(self, generation: int) -> Path:
        return self.directory / f"state.{generation}.log"

    def load(self) -> State:
        """Read the snapshot and replay its journal (a torn last line is ignored), then start a
        new generation."""
        state = State()
        if self.snapshot.is_file():
            data = json.loads(self.snapshot.read_text("utf-8"))
            state.merge(data)
            self.generation = int(data.get("generation", 0))
        journal = self.journal_path(self.generation)
        if journal.is_file():
            with journal.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        change = json.loads(line)
                    except ValueError:  # a change cut short by a crash: it never happened
                        break
                    state.merge(change)
        self.compact(state)
        return state

    def append(self, state: State, changed: tuple[Changed, ...]) -> None:
        """Record one change (the objects it created or modified), flushed at once."""
        if self._journal is None:
            self._journal = self.journal_path(self.generation).open("a", encoding="utf-8")
        self._journal.write(json.dumps(changes_json(state, changed), ensure_ascii=False) + "\n")
        self._journal.flush()
        self._lines += 1
        if self._lines > 1000 + state.size:
            self.compact(state)

    def compact(self, state: State) -> None:
        """Write the whole state as a new snapshot generation; drop the older journals."""
        self.close()
        generation = self.generation + 1
        tmp = self.snapshot.with_suffix(".tmp")
        tmp.write_text(json.dumps({**state.to_json(), "generation": generation}, ensure_ascii=False), "utf-8")
        os.replace(tmp, self.snapshot)
        self.generation = generation
        self._lines = 0
        for old in self.directory.glob("state.*.log"):
            if old.name != self.journal_path(generation).name:
                old.unlink(missing_ok=True)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


__all__ = [
    "ActesTx",
    "Blobs",
    "Changed",
    "HeliosTx",
    "Receipt",
    "RetourFile",
    "State",
    "StateFile",
    "changes_json",
]
