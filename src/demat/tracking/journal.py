"""The journal's hash chain, the facts it vouches for, and its exported heads. Pure.

Each entry's hash is ``sha256(canonical(entry) )`` where the canonical form is the UTF-8 JSON
array ``[seq, at, transmission_id, event, from_state, to_state, data, prev_hash]`` with no
whitespace, ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC) and ``data`` as canonical JSON text
(sorted keys). ``prev_hash`` of the first entry is :data:`GENESIS`. Changing, removing or
reordering any entry breaks every later link, which :class:`ChainVerifier` reports by ``seq``.

The chain also vouches for what the store's tables hold (:class:`FactVerifier`): a transmission's
creation (profile, flow, document digest, generation, name, identifiers, time) is its
``recorded``/``resent`` entry; its state, ``remote_id`` and ``remote_status`` are those its
entries last journaled; each received document (kind, sha256, size, name, time) and each
document a platform sent on its own (``inbound_received``) is in the entry that stored it. A row
that differs, a journaled row that is gone, a row the journal never saw, or bytes that no longer
hash to their digest are each reported with what differs.

Nothing inside the database can tell a chain rewritten with recomputed hashes from the real
one: a head kept elsewhere can (:class:`JournalHead`, ``demat journal head``). Verification takes
*anchors* (:class:`HeadAnchor`): heads vouched for by something outside the database. An
operator's copy of a head is one; an RFC 3161 timestamp token over :meth:`JournalHead.imprint`
(the archive layer) will be another, implementing the same one-method protocol.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

GENESIS = "0" * 64
"""``prev_hash`` of the first journal entry."""


def canonical_json(data: Mapping[str, Any] | None) -> str:
    """Deterministic JSON text of ``data`` (sorted keys, no spaces, UTF-8 kept)."""
    return json.dumps(data or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_instant(at: dt.datetime) -> str:
    """``at`` in UTC with microseconds and a ``Z``: the only time format hashed."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the journal")
    if at.tzinfo is not dt.UTC:
        at = at.astimezone(dt.UTC)
    # Same text as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), several times faster (verification hot path).
    return at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def entry_hash(
    *,
    seq: int,
    at: dt.datetime,
    transmission_id: str | None,
    event: str,
    from_state: str | None,
    to_state: str | None,
    data: str,
    prev_hash: str,
) -> str:
    """The sha256 (hex) that chains one entry to ``prev_hash``. ``data`` is canonical JSON text."""
    payload = [seq, format_instant(at), transmission_id, event, from_state, to_state, data, prev_hash]
    encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class JournalEntry:
    """One journal line, as stored."""

    seq: int
    at: dt.datetime
    transmission_id: str | None
    event: str
    from_state: str | None
    to_state: str | None
    data: str
    prev_hash: str
    hash: str

    @property
    def payload(self) -> dict[str, Any]:
        """``data`` decoded."""
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded

    def expected_hash(self) -> str:
        """The hash this entry should carry given its content and ``prev_hash``."""
        return entry_hash(
            seq=self.seq,
            at=self.at,
            transmission_id=self.transmission_id,
            event=self.event,
            from_state=self.from_state,
            to_state=self.to_state,
            data=self.data,
            prev_hash=self.prev_hash,
        )


@dataclass(frozen=True)
class JournalProblem:
    """What does not verify, ``seq`` the chain position when it is the chain's. ``kind``: of
    the chain, ``edited``, ``broken_link``, ``gap``, ``head`` (the head row), ``anchor`` (an
    exported head); of the tables, ``state`` and ``fact`` (a column differs from the journal),
    ``missing`` (a journaled row is gone), ``unjournaled`` (a row the journal never saw),
    ``content`` (bytes that no longer hash to their digest)."""

    seq: int | None
    kind: str
    message: str


@dataclass(frozen=True)
class JournalReport:
    """Outcome of a journal verification."""

    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[JournalProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the chain and the head verify and every state matches its journal."""
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        """The lowest ``seq`` with a problem, if any."""
        seqs = [p.seq for p in self.problems if p.seq is not None]
        return min(seqs) if seqs else None


class ChainVerifier:
    """Feed entries in ``seq`` order; collects the problems of the chain. Streaming, O(1) memory."""

    def __init__(self) -> None:
        self.problems: list[JournalProblem] = []
        self.entries = 0
        self.last_seq = 0
        self.last_hash = GENESIS

    def feed(self, entry: JournalEntry) -> None:
        """Check one entry against the previous one."""
        self.entries += 1
        if entry.seq != self.last_seq + 1:
            self.problems.append(
                JournalProblem(
                    entry.seq, "gap", f"entrée {entry.seq} après {self.last_seq} : entrée manquante"
                )
            )
        if entry.prev_hash != self.last_hash:
            self.problems.append(
                JournalProblem(
                    entry.seq, "broken_link", f"entrée {entry.seq} : lien vers l'entrée précédente rompu"
                )
            )
        if entry.expected_hash() != entry.hash:
            self.problems.append(JournalProblem(entry.seq, "edited", f"entrée {entry.seq} : contenu modifié"))
        self.last_seq = entry.seq
        self.last_hash = entry.hash

    def feed_all(self, entries: Iterable[JournalEntry]) -> None:
        """Feed several entries."""
        for entry in entries:
            self.feed(entry)


# -- heads kept outside the database ------------------------------------------------------------

_HEAD = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


@dataclass(frozen=True)
class JournalHead:
    """The journal's last entry as an operator keeps it: ``seq`` and ``hash`` (its token
    ``SEQ:HASH``); ``at`` is when it was written, for the reader (not compared)."""

    seq: int
    hash: str
    at: dt.datetime | None = field(default=None, compare=False)

    @property
    def token(self) -> str:
        """``SEQ:HASH``: what ``demat journal head`` prints and ``verify --head`` reads."""
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> JournalHead:
        """A head from its token (the first word of ``text``: a whole line of ``demat journal
        head`` may be pasted); :class:`ValueError` naming the expected form otherwise."""
        word = text.split(maxsplit=1)[0] if text.strip() else ""
        found = _HEAD.match(word)
        if found is None:
            raise ValueError(
                f"journal head {word[:80]!r}: expected SEQ:HASH (a number, a colon, 64 hex digits)"
            )
        return cls(int(found.group(1)), found.group(2))

    def imprint(self) -> bytes:
        """The SHA-256 an RFC 3161 timestamp of this head covers (its ``messageImprint``)."""
        return hashlib.sha256(f"demat-journal-head:v1:{self.token}".encode()).digest()

    def vouched_head(self) -> JournalHead:
        """A head kept by an operator vouches for itself (see :class:`HeadAnchor`)."""
        return self


@runtime_checkable
class HeadAnchor(Protocol):
    """Something outside the database that vouches for a head of the journal: an operator's
    copy (:class:`JournalHead` itself), later an RFC 3161 timestamp token over
    :meth:`JournalHead.imprint`, whose ``vouched_head`` checks the token and returns the head."""

    def vouched_head(self) -> JournalHead:
        """The head vouched for (raising :class:`ValueError` when the anchor itself is bad)."""
        ...


def check_anchor(head: JournalHead, entry_hash: str | None, last_seq: int) -> JournalProblem | None:
    """The problem with ``head`` given the hash of the entry at its ``seq`` (``None``: the
    journal has no such entry) and the journal's last ``seq``; ``None`` when it holds."""
    if head.seq == 0:
        entry_hash = GENESIS
    if entry_hash is None:
        return JournalProblem(
            head.seq,
            "anchor",
            f"tête exportée {head.seq}:{head.hash[:16]}… : le journal s'arrête à l'entrée {last_seq}"
            " (entrées retirées, journal réécrit ou tronqué)",
        )
    if entry_hash != head.hash:
        return JournalProblem(
            head.seq,
            "anchor",
            f"entrée {head.seq} : empreinte {entry_hash[:16]}…, la tête exportée dit {head.hash[:16]}…"
            " : le journal a été réécrit",
        )
    return None


# -- the facts the journal vouches for ----------------------------------------------------------

#: Keys of a journal entry's data that the store writes itself (a move's ``data`` may not hold
#: them: the journal's facts would say what the row does not).
RESERVED_KEYS: frozenset[str] = frozenset({"remote_id", "previous_remote_id", "remote_status", "documents"})
#: Events that create a transmission (their data is its creation facts).
CREATION_EVENTS: frozenset[str] = frozenset({"recorded", "resent"})
#: The transmission columns the journal vouches for, in the order they are reported.
TRANSMISSION_FACTS: tuple[str, ...] = (
    "profile",
    "flow",
    "digest",
    "generation",
    "name",
    "identifiers",
    "created_at",
    "state",
    "remote_id",
    "remote_status",
)
_CREATION = TRANSMISSION_FACTS[:7]


def _key(*parts: object) -> bytes:
    """A short collision-resistant key of plain values (str, int, None, aware UTC datetimes,
    dicts built in one order): the verifier keeps one per row, so memory stays small."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).digest()


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _creation_from_entry(data: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    return {
        "profile": data.get("profile"),
        "flow": data.get("flow"),
        "digest": data.get("digest"),
        "generation": int(data.get("generation") or 0),
        "name": data.get("name"),
        "identifiers": canonical_json(data.get("identifiers") or {}),
        "created_at": at,
    }


def _creation_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "profile": row["profile"],
        "flow": row["flow"],
        "digest": row["digest"],
        "generation": int(row["generation"]),
        "name": row["name"],
        "identifiers": canonical_json(row["identifiers"] or {}),
        "created_at": row["created_at"],
    }


def _documents_of(entry: JournalEntry, data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The documents an entry of a transmission stored or mentions."""
    if entry.event == "document_received":
        return [data]
    listed = data.get("documents")
    return [d for d in listed if isinstance(d, Mapping)] if isinstance(listed, list) else []


def _document_key(tid: str, doc: Mapping[str, Any]) -> bytes:
    return _key(tid, doc.get("kind"), doc.get("digest"))


def _document_facts(size: Any, name: Any, at: dt.datetime) -> dict[str, Any]:
    return {"size": size, "name": name, "received_at": at}


def _inbound_key(row: Mapping[str, Any]) -> bytes:
    return _key(row.get("account"), row.get("kind"), row.get("remote_id"), row.get("digest"))


def _inbound_facts(row: Mapping[str, Any], at: dt.datetime) -> dict[str, Any]:
    return {
        "profile": row.get("profile"),
        "name": row.get("name"),
        "size": row.get("size"),
        "info": canonical_json(row.get("info") or {}),
        "received_at": at,
    }


def _differences(
    what: str, row: Mapping[str, Any], journal: Mapping[str, Any], seq: int, names: Iterable[str]
) -> list[JournalProblem]:
    return [
        JournalProblem(
            None,
            "state" if name == "state" else "fact",
            f"{what} : {name} {_shown(row[name])} dans la base, {_shown(journal[name])} au journal"
            f" (entrée {seq})",
        )
        for name in names
        if row[name] != journal[name]
    ]


def _shown(value: Any) -> str:
    return format_instant(value) if isinstance(value, dt.datetime) else repr(value)


#: Reads the journal entries of one transmission (``seq`` order), for explaining a mismatch.
EntriesOf = Callable[[str], list[JournalEntry]]
#: Reads the journal entry at one ``seq`` (``None`` if there is none).
EntryAt = Callable[[int], JournalEntry | None]


class FactVerifier:
    """Checks the store's tables against the journal. Feed the entries in ``seq`` order
    (:meth:`feed`), then every row (:meth:`transmission`, :meth:`document`, :meth:`inbound`),
    then :meth:`finish` with readers of the journal to explain what did not match.

    Memory: one 16-byte key and a few short strings per transmission and per document,
    whatever the sizes; the slow path (naming what differs) runs only for rows that differ.
    """

    def __init__(self) -> None:
        self.problems: list[JournalProblem] = []
        # tid -> (creation key or None, state, remote_id, remote_status)
        self._tx: dict[str, tuple[bytes | None, str | None, str | None, str | None]] = {}
        self._docs: dict[bytes, tuple[bytes, int]] = {}  # (tid, kind, digest) -> (facts, seq)
        self._inbound: dict[bytes, tuple[bytes, int]] = {}  # (account, kind, remote_id, digest)
        self._odd_rows: list[Mapping[str, Any]] = []
        self._odd_documents: list[tuple[str, Mapping[str, Any], int]] = []  # (table, row, seq)

    # -- the journal's side ----------------------------------------------------------------------

    def feed(self, entry: JournalEntry) -> None:
        """Take in what one entry says about the tables."""
        tid = entry.transmission_id
        if tid is None:
            if entry.event == "inbound_received":
                inbound = entry.payload
                key = _inbound_key(inbound)
                if key not in self._inbound:
                    self._inbound[key] = (_key(_inbound_facts(inbound, entry.at)), entry.seq)
            return
        creation, state, remote_id, remote_status = self._tx.get(tid) or (None, None, None, None)
        text = entry.data
        data: Mapping[str, Any] | None = None
        if entry.event in CREATION_EVENTS:
            data = entry.payload
            creation = _key(_creation_from_entry(data, entry.at))
        if entry.to_state is not None:
            state = entry.to_state
        if '"remote_' in text or '"documents"' in text or entry.event == "document_received":
            data = data if data is not None else entry.payload
            if "remote_id" in data:
                remote_id = _opt_str(data["remote_id"])
            if "remote_status" in data:
                remote_status = _opt_str(data["remote_status"])
            for doc in _documents_of(entry, data):
                key = _document_key(tid, doc)
                if key not in self._docs:  # the first mention is the one that stored it
                    facts = _document_facts(doc.get("size"), doc.get("name"), entry.at)
                    self._docs[key] = (_key(facts), entry.seq)
        self._tx[tid] = (creation, _intern(state), remote_id, _intern(remote_status))

    # -- the tables' side ------------------------------------------------------------------------

    def transmission(self, row: Mapping[str, Any]) -> None:
        """Check one row of ``transmissions``."""
        tid = row["id"]
        expected = self._tx.pop(tid, None)
        if expected is None:
            self.problems.append(
                JournalProblem(
                    None, "unjournaled", f"transmission {tid} ({row['name']}) : absente du journal"
                )
            )
            return
        if expected != (
            _key(_creation_from_row(row)),
            row["state"],
            row["remote_id"],
            row["remote_status"],
        ):
            self._odd_rows.append(row)

    def document(self, row: Mapping[str, Any]) -> None:
        """Check one row of ``documents`` (its bytes are hashed)."""
        what = f"document {row['kind']} n° {row['id']} de la transmission {row['transmission_id']}"
        self._content(what, row)
        key = _document_key(row["transmission_id"], row)
        self._row_against("documents", what, row, self._docs.pop(key, None), row["received_at"])

    def inbound(self, row: Mapping[str, Any]) -> None:
        """Check one row of ``inbound`` (its bytes are hashed)."""
        what = f"document {row['kind']} n° {row['id']} reçu de {row['account']} (id {row['remote_id']})"
        self._content(what, row)
        self._row_against(
            "inbound", what, row, self._inbound.pop(_inbound_key(row), None), row["received_at"]
        )

    def _content(self, what: str, row: Mapping[str, Any]) -> None:
        content = bytes(row["content"])
        actual = hashlib.sha256(content).hexdigest()
        if actual != row["digest"] or len(content) != row["size"]:
            self.problems.append(
                JournalProblem(
                    None,
                    "content",
                    f"{what} : octets modifiés (sha256 {actual[:16]}…, {len(content)} octets ;"
                    f" journalisé {row['digest'][:16]}…, {row['size']} octets)",
                )
            )

    def _row_against(
        self,
        table: str,
        what: str,
        row: Mapping[str, Any],
        expected: tuple[bytes, int] | None,
        at: dt.datetime,
    ) -> None:
        if expected is None:
            self.problems.append(
                JournalProblem(
                    None, "unjournaled", f"{what} : empreinte {row['digest'][:16]}… absente du journal"
                )
            )
            return
        facts, seq = expected
        actual = (
            _inbound_facts(row, at) if table == "inbound" else _document_facts(row["size"], row["name"], at)
        )
        if _key(actual) != facts:
            self._odd_documents.append((table, row, seq))

    # -- naming what differs -----------------------------------------------------------------------

    def finish(self, entries_of: EntriesOf, entry_at: EntryAt) -> list[JournalProblem]:
        """Every problem found, each mismatch explained by reading the journal entries
        concerned (only those)."""
        for row in self._odd_rows:
            self.problems.extend(explain_transmission(row, entries_of(row["id"])))
        for table, row, seq in self._odd_documents:
            self.problems.extend(_explain_document(table, row, entry_at(seq)))
        for tid in self._tx:
            first = next(iter(entries_of(tid)), None)
            self.problems.append(
                JournalProblem(
                    None,
                    "missing",
                    f"transmission {tid} (journalisée à l'entrée {first.seq if first else '?'}) :"
                    " absente de la base (supprimée)",
                )
            )
        for key, (_, seq) in self._docs.items():
            self.problems.append(_missing_document(key, entry_at(seq), seq))
        for key, (_, seq) in self._inbound.items():
            self.problems.append(_missing_document(key, entry_at(seq), seq))
        return self.problems


def _intern(value: str | None) -> str | None:
    """One string object per state or status (thousands of rows share a handful)."""
    return None if value is None else _INTERNED.setdefault(value, value)


_INTERNED: dict[str, str] = {}


def explain_transmission(row: Mapping[str, Any], entries: Iterable[JournalEntry]) -> list[JournalProblem]:
    """The columns of a ``transmissions`` row that differ from what its entries journaled."""
    tid = row["id"]
    journal: dict[str, Any] = {}
    sources: dict[str, int] = {}
    for entry in entries:
        data = entry.payload
        if entry.event in CREATION_EVENTS:
            journal.update(_creation_from_entry(data, entry.at), remote_id=None, remote_status=None)
            sources.update(dict.fromkeys(TRANSMISSION_FACTS, entry.seq))
        if entry.to_state is not None:
            journal["state"], sources["state"] = entry.to_state, entry.seq
        for name in ("remote_id", "remote_status"):
            if name in data:
                journal[name], sources[name] = _opt_str(data[name]), entry.seq
    if "digest" not in journal:
        return [JournalProblem(None, "fact", f"transmission {tid} : sa création n'est pas au journal")]
    actual = {**_creation_from_row(row), **{n: row[n] for n in ("state", "remote_id", "remote_status")}}
    problems: list[JournalProblem] = []
    for name in TRANSMISSION_FACTS:
        problems.extend(_differences(f"transmission {tid}", actual, journal, sources.get(name, 0), [name]))
    return problems


def _explain_document(table: str, row: Mapping[str, Any], entry: JournalEntry | None) -> list[JournalProblem]:
    at = row["received_at"]
    if table == "inbound":
        what = f"document {row['kind']} n° {row['id']} reçu de {row['account']}"
        actual = _inbound_facts(row, at)
        mentions: list[Mapping[str, Any]] = [entry.payload] if entry is not None else []
        same = [m for m in mentions if _inbound_key(m) == _inbound_key(row)]
        journal = _inbound_facts(same[0], entry.at) if same and entry is not None else None
    else:
        what = f"document {row['kind']} n° {row['id']} de la transmission {row['transmission_id']}"
        actual = _document_facts(row["size"], row["name"], at)
        key = _document_key(row["transmission_id"], row)
        docs = _documents_of(entry, entry.payload) if entry is not None else []
        same = [d for d in docs if _document_key(row["transmission_id"], d) == key]
        journal = (
            _document_facts(same[0].get("size"), same[0].get("name"), entry.at) if same and entry else None
        )
    if journal is None:
        return [JournalProblem(None, "fact", f"{what} : l'entrée qui le journalise est illisible")]
    return _differences(what, actual, journal, entry.seq if entry else 0, actual)


def _missing_document(key: bytes, entry: JournalEntry | None, seq: int) -> JournalProblem:
    what = f"document journalisé à l'entrée {seq}"
    if entry is not None:
        data = entry.payload
        if entry.transmission_id is None:
            what = (
                f"document {data.get('kind')} reçu de {data.get('account')}"
                f" (id {data.get('remote_id')}, entrée {seq})"
            )
        else:
            for doc in _documents_of(entry, data):
                if _document_key(entry.transmission_id, doc) == key:
                    what = (
                        f"document {doc.get('kind')} de la transmission {entry.transmission_id}"
                        f" (sha256 {str(doc.get('digest'))[:16]}…, entrée {seq})"
                    )
    return JournalProblem(None, "missing", f"{what} : absent de la base (supprimé ou modifié)")


__all__ = [
    "CREATION_EVENTS",
    "GENESIS",
    "RESERVED_KEYS",
    "TRANSMISSION_FACTS",
    "ChainVerifier",
    "EntriesOf",
    "EntryAt",
    "FactVerifier",
    "HeadAnchor",
    "JournalEntry",
    "JournalHead",
    "JournalProblem",
    "JournalReport",
    "canonical_json",
    "check_anchor",
    "entry_hash",
    "explain_transmission",
    "format_instant",
]
