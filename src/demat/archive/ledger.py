"""The archive's ledger: every operation on a hash-chained line, sealed as Vitam seals its logbooks.

A ledger is a file of lines, one per operation (deposit, seal, elimination, transfer, the
tracking journal's head…), each in Vitam's canonical JSON (:func:`~demat.archive.merkle.canonical_json`)::

    {"at":"2026-03-02T09:30:00.000000Z","data":{…},"op":"deposit","prev":"<sha512 of line 6>","seq":7}

The first line's ``prev`` is :data:`GENESIS`. Changing, removing or reordering a line breaks the
chain at the next one, and :meth:`Ledger.verify` names it by ``seq``.

**Sealing** (:meth:`Ledger.seal`) follows Vitam's logbook traceability (``reference/archive-vitam.md``
§6): the lines since the previous seal (that seal's own line included, so every seal is sealed
by the next) are the leaves of a SHA-512 Merkle tree with Vitam's padding
(:mod:`demat.archive.merkle`); an RFC 3161 timestamp is asked for
``root ‖ T_prev ‖ T_month ‖ T_year`` — the tokens of the previous seal, of the first seal of the
last month and of the first seal of the last year, each used once — so the seals form a chain no
single token can be swapped out of. Unlike Vitam's local TSA, demat asks with a nonce and checks
every token when it is issued (:mod:`demat.archive.timestamp`). The seal is itself a line
(``op`` ``seal``) whose every field can be recomputed: its window, count, root, the seals it
chains to, and its time, which is the token's genTime.

The file is appended with ``fsync``; a line cut by a crash (no final newline) was never
acknowledged and is dropped when the ledger is opened (:attr:`Ledger.recovered`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demat.archive.merkle import (
    MerkleRoot,
    Step,
    audit_path,
    canonical_json,
    dumps_canonical,
    merkle_levels,
    refuse_float,
    root_from_path,
)
from demat.archive.timestamp import (
    PendingTimestamp,
    Timestamper,
    TsaTrust,
    accept_response,
    timestamp_request,
    verify_token,
)
from demat.errors import JournalError, TimestampError

#: ``prev`` of the first line.
GENESIS = "0" * 128
#: Version of the sealing written in each seal (Vitam's ``securisationVersion``).
SEAL_VERSION = "V1"


def format_at(at: dt.datetime) -> str:
    """The one time format of the ledger: UTC, microseconds, ``Z``."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the ledger")
    return at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_at(text: str) -> dt.datetime:
    """Read :func:`format_at`'s output."""
    return dt.datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class LedgerEntry:
    """One line: its ``seq``, time, operation, data, the previous line's hash and its bytes."""

    seq: int
    at: str
    op: str
    data: Mapping[str, Any]
    prev: str
    line: bytes = field(repr=False)

    @property
    def hash(self) -> str:
        """SHA-512 (hex) of the line: the next line's ``prev``, this line's Merkle leaf."""
        return hashlib.sha512(self.line).hexdigest()

    @property
    def time(self) -> dt.datetime:
        """:attr:`at` as a datetime."""
        return parse_at(self.at)

    def as_dict(self) -> dict[str, Any]:
        """The line as data (with its hash)."""
        return {"seq": self.seq, "at": self.at, "op": self.op, "data": dict(self.data), "hash": self.hash}


def make_entry(seq: int, at: dt.datetime | str, op: str, data: Mapping[str, Any], prev: str) -> LedgerEntry:
    """The entry (and its canonical line) for these fields."""
    stamp = at if isinstance(at, str) else format_at(at)
    line = canonical_json({"seq": seq, "at": stamp, "op": op, "data": dict(data), "prev": prev})
    return LedgerEntry(seq, stamp, op, data, prev, line)


def parse_line(line: bytes) -> LedgerEntry:
    """The entry a line holds; :class:`ValueError` when it is not one or not canonical."""
    body = json.loads(line, parse_float=refuse_float)
    if not isinstance(body, dict) or set(body) != {"seq", "at", "op", "data", "prev"}:
        raise ValueError("not a ledger entry")
    seq, at, op, data, prev = body["seq"], body["at"], body["op"], body["data"], body["prev"]
    if not (isinstance(seq, int) and isinstance(at, str) and isinstance(op, str) and isinstance(data, dict)):
        raise ValueError("ledger entry fields of the wrong type")
    if not isinstance(prev, str):
        raise ValueError("ledger entry fields of the wrong type")
    if dumps_canonical(body) != line:
        raise ValueError("ledger line not in canonical form")
    return LedgerEntry(seq, at, op, data, prev, line)


@dataclass(frozen=True)
class LedgerProblem:
    """What does not hold, at which ``seq`` (``None``: the ledger as a whole)."""

    seq: int | None
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``demat archive verify --json``)."""
        return {"seq": self.seq, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class SealInfo:
    """What later seals need of a seal: its ``seq``, time and token."""

    seq: int
    at: dt.datetime
    token: bytes


def _months_before(at: dt.datetime, months: int) -> dt.datetime:
    index = at.month - 1 - months
    year, month = at.year + index // 12, index % 12 + 1
    day = at.day
    while True:
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def chained_seals(seals: list[SealInfo], at: dt.datetime) -> tuple[int | None, int | None, int | None]:
    """The seals a new seal at ``at`` chains to: the previous one, the first of the last month
    and the first of the last year (``None`` when absent or already used)."""
    previous = seals[-1].seq if seals else None
    month_ago, year_ago = _months_before(at, 1), _months_before(at, 12)
    month = next((s.seq for s in seals if s.at >= month_ago), None)
    year = next((s.seq for s in seals if s.at >= year_ago), None)
    if month == previous:
        month = None
    if year in (previous, month):
        year = None
    return previous, month, year


def seal_message(root: bytes, tokens: Iterable[bytes]) -> bytes:
    """What a seal's timestamp covers: the root then each chained token (Vitam's order)."""
    return root + b"".join(tokens)


@dataclass(frozen=True)
class PendingLedgerSeal:
    """A seal waiting for its timestamp (send :attr:`request`, then :meth:`Ledger.commit_seal`)."""

    start: int
    end: int
    count: int
    root: bytes
    chained: tuple[int | None, int | None, int | None]
    pending: PendingTimestamp
    last_seq: int

    @property
    def request(self) -> bytes:
        """The RFC 3161 request's DER."""
        return self.pending.request


@dataclass(frozen=True)
class SealedHead:
    """A line of the ledger proved by a seal: the line, its audit path to the seal's root, and
    what the seal's token covers; :meth:`vouched_line` checks it all and returns the line's
    entry (the tracking journal's head anchors are built on it)."""

    line: bytes
    path: list[Step]
    chained_tokens: tuple[bytes, ...]
    token: bytes
    trust: TsaTrust

    def vouched_line(self) -> LedgerEntry:
        """The entry, once the path leads to a root the token covers; :class:`ValueError` otherwise."""
        root = root_from_path(self.line, self.path)
        try:
            verify_token(self.token, seal_message(root, self.chained_tokens), self.trust)
        except TimestampError as exc:
            raise ValueError(f"sealed ledger line: {exc.message}") from exc
        return parse_line(self.line)


class Ledger:
    """A ledger file (see the module docstring); one writer at a time (the caller locks)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        self.recovered = self._recover()
        self.last_seq = 0
        self.last_hash = GENESIS
        self.seals: list[SealInfo] = []
        #: Byte offset of each line's start (line ``n`` at index ``n - 1``), and of the end.
        self._offsets = array("Q")
        self._end = 0
        last = b""
        with open(self.path, "rb") as f:
            for raw in f:
                self._offsets.append(self._end)
                self._end += len(raw)
                last = raw
                if b'"op":"seal"' in raw:  # only seals are needed to go on (verify reads the rest)
                    with contextlib.suppress(ValueError):
                        self._note(parse_line(raw.rstrip(b"\n")))
        if last:
            line = last.rstrip(b"\n")
            self.last_hash = hashlib.sha512(line).hexdigest()
            try:
                self.last_seq = parse_line(line).seq
            except ValueError:
                self.last_seq = len(self._offsets)

    # -- reading -----------------------------------------------------------------------------

    def _recover(self) -> int:
        """Drop a last line a crash cut short; how many bytes."""
        size = self.path.stat().st_size
        if size == 0:
            return 0
        with open(self.path, "rb+") as f:
            f.seek(max(0, size - 1))
            if f.read(1) == b"\n":
                return 0
            # Find the end of the last complete line.
            pos = size
            block = 1 << 16
            keep = 0
            while pos > 0:
                start = max(0, pos - block)
                f.seek(start)
                chunk = f.read(pos - start)
                found = chunk.rfind(b"\n")
                if found >= 0:
                    keep = start + found + 1
                    break
                pos = start
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
            return size - keep

    def lines(self) -> Iterator[bytes]:
        """The raw lines (without their newline)."""
        with open(self.path, "rb") as f:
            for raw in f:
                yield raw.rstrip(b"\n")

    def _scan(self) -> Iterator[LedgerEntry]:
        for line in self.lines():
            try:
                yield parse_line(line)
            except ValueError:
                continue

    def entries(self) -> Iterator[LedgerEntry]:
        """Every readable entry, in file order."""
        return self._scan()

    def _note(self, entry: LedgerEntry) -> None:
        self.last_seq = entry.seq
        self.last_hash = entry.hash
        if entry.op == "seal":
            try:
                token = base64.b64decode(entry.data["token"])
            except (KeyError, ValueError, TypeError):
                return
            self.seals.append(SealInfo(entry.seq, entry.time, token))

    # -- writing -----------------------------------------------------------------------------

    def _write(self, entries: list[LedgerEntry]) -> None:
        with open(self.path, "ab") as f:
            f.write(b"".join(e.line + b"\n" for e in entries))
            f.flush()
            os.fsync(f.fileno())
        for e in entries:
            self._offsets.append(self._end)
            self._end += len(e.line) + 1
            self._note(e)

    def append(self, op: str, data: Mapping[str, Any], *, at: dt.datetime | None = None) -> LedgerEntry:
        """Append one operation (durable when this returns)."""
        [entry] = self.append_many([(op, data)], at=at)
        return entry

    def append_many(
        self, items: Iterable[tuple[str, Mapping[str, Any]]], *, at: dt.datetime | None = None
    ) -> list[LedgerEntry]:
        """Append several operations with one ``fsync``."""
        when = at or dt.datetime.now(dt.UTC)
        seq, prev = self.last_seq, self.last_hash
        made = []
        for op, data in items:
            if op == "seal":
                raise ValueError("seals are written by seal()/commit_seal() only")
            seq += 1
            entry = make_entry(seq, when, op, data, prev)
            prev = entry.hash
            made.append(entry)
        self._write(made)
        return made

    # -- sealing -----------------------------------------------------------------------------

    def prepare_seal(self, *, at: dt.datetime | None = None) -> PendingLedgerSeal | None:
        """The next seal's request, ``None`` when nothing was written since the last seal."""
        start = self.seals[-1].seq if self.seals else 1
        if self.last_seq == 0 or (self.seals and self.last_seq == self.seals[-1].seq):
            return None
        tree = MerkleRoot()
        for line in self.lines_between(start, self.last_seq):
            tree.add(line)
        root = tree.root()
        assert root is not None
        chained = chained_seals(self.seals, at or dt.datetime.now(dt.UTC))
        tokens = self._tokens(chained)
        return PendingLedgerSeal(
            start,
            self.last_seq,
            tree.count,
            root,
            chained,
            timestamp_request(seal_message(root, tokens)),
            self.last_seq,
        )

    def lines_between(self, start: int, end: int) -> Iterator[bytes]:
        """Raw lines whose position (1-based) is in ``[start, end]`` (read from where the
        first one starts: sealing a window does not read the ledger from its beginning)."""
        end = min(end, len(self._offsets))
        if start > end:
            return
        with open(self.path, "rb") as f:
            f.seek(self._offsets[max(start, 1) - 1])
            for _ in range(max(start, 1), end + 1):
                yield f.readline().rstrip(b"\n")

    def entry(self, seq: int) -> LedgerEntry | None:
        """The entry on line ``seq`` (``None`` when unreadable or beyond the end)."""
        for line in self.lines_between(seq, seq):
            try:
                return parse_line(line)
            except ValueError:
                return None
        return None

    def _tokens(self, chained: tuple[int | None, ...]) -> list[bytes]:
        by_seq = {s.seq: s.token for s in self.seals}
        return [by_seq[seq] for seq in chained if seq is not None]

    def commit_seal(self, pending: PendingLedgerSeal, response: bytes, trust: TsaTrust) -> LedgerEntry:
        """Check the TSA's reply and append the seal line."""
        if pending.last_seq != self.last_seq:
            raise JournalError("the ledger moved while its seal was being timestamped", code="LEDGER_MOVED")
        token = accept_response(pending.pending, response, trust)
        previous, month, year = pending.chained
        data = {
            "version": SEAL_VERSION,
            "algorithm": "SHA-512",
            "start": pending.start,
            "end": pending.end,
            "count": pending.count,
            "root": base64.b64encode(pending.root).decode(),
            "previous": previous,
            "month": month,
            "year": year,
            "token": base64.b64encode(token.response).decode(),
        }
        entry = make_entry(self.last_seq + 1, token.gen_time, "seal", data, self.last_hash)
        self._write([entry])
        return entry

    def seal(
        self, timestamper: Timestamper, trust: TsaTrust, *, at: dt.datetime | None = None
    ) -> LedgerEntry | None:
        """Seal what was written since the last seal (``None`` when nothing was)."""
        pending = self.prepare_seal(at=at)
        if pending is None:
            return None
        return self.commit_seal(pending, timestamper(pending.request), trust)

    def prove(self, seq: int, trust: TsaTrust) -> SealedHead | None:
        """The proof that line ``seq`` is sealed (``None`` while no seal covers it)."""
        seal = next((s for s in self.seals if s.seq > seq), None)
        if seal is None:
            return None
        entry = self.entry(seal.seq)
        if entry is None:
            return None
        start, end = int(entry.data["start"]), int(entry.data["end"])
        levels = merkle_levels(list(self.lines_between(start, end)))
        line = next(self.lines_between(seq, seq))
        chained = tuple(entry.data.get(k) for k in ("previous", "month", "year"))
        return SealedHead(
            line, audit_path(levels, seq - start), tuple(self._tokens(chained)), seal.token, trust
        )

    # -- verifying ---------------------------------------------------------------------------

    def verify(self, trust: TsaTrust) -> tuple[list[LedgerProblem], int]:
        """Every problem of the ledger, and how many lines no seal covers yet."""
        return verify_lines(self.lines(), trust)


def verify_lines(lines: Iterable[bytes], trust: TsaTrust) -> tuple[list[LedgerProblem], int]:
    """Check a ledger's lines: each readable and canonical, ``seq`` following on, each ``prev``
    the hash of the line before, each seal's window, root, chaining, time and token. Returns the
    problems (by ``seq``) and the count of lines after the last seal."""
    problems: list[LedgerProblem] = []
    prev_hash = GENESIS
    expected = 1
    seals: list[SealInfo] = []
    tree = MerkleRoot()
    window_start = 1
    index = 0
    for index, line in enumerate(lines, start=1):
        line_hash = hashlib.sha512(line).hexdigest()
        try:
            entry = parse_line(line)
        except ValueError as exc:
            problems.append(
                LedgerProblem(expected, "unreadable", f"ligne {index} du registre illisible : {exc}")
            )
            prev_hash, expected = line_hash, expected + 1
            tree.add(line)
            continue
        if entry.seq != expected:
            problems.append(
                LedgerProblem(
                    entry.seq,
                    "sequence",
                    f"ligne {index} : entrée {entry.seq} là où la {expected} était attendue"
                    " (entrées retirées ou déplacées)",
                )
            )
        if entry.prev != prev_hash:
            problems.append(
                LedgerProblem(
                    entry.seq,
                    "chain",
                    f"entrée {entry.seq} : ne suit pas la ligne {index - 1} du registre (l'entrée"
                    f" {entry.seq - 1} a été modifiée, ou des entrées retirées ou déplacées)",
                )
            )
        if entry.op == "seal":
            problems += _check_seal(entry, index, window_start, tree, seals, trust)
            with contextlib.suppress(KeyError, ValueError, TypeError):
                seals.append(SealInfo(entry.seq, entry.time, base64.b64decode(entry.data["token"])))
            tree = MerkleRoot()
            window_start = index
        tree.add(line)
        prev_hash, expected = line_hash, entry.seq + 1
    unsealed = index - (window_start if seals else 0)
    return problems, unsealed


def _check_seal(
    entry: LedgerEntry,
    index: int,
    window_start: int,
    tree: MerkleRoot,
    seals: list[SealInfo],
    trust: TsaTrust,
) -> list[LedgerProblem]:
    data = entry.data

    def problem(message: str, kind: str = "seal") -> LedgerProblem:
        return LedgerProblem(entry.seq, kind, f"sceau {entry.seq} : {message}")

    found: list[LedgerProblem] = []
    try:
        start, end, count = int(data["start"]), int(data["end"]), int(data["count"])
        root = base64.b64decode(data["root"], validate=True)
        token = base64.b64decode(data["token"], validate=True)
        chained = (data["previous"], data["month"], data["year"])
    except (KeyError, ValueError, TypeError) as exc:
        return [problem(f"illisible ({exc})")]
    if (start, end, count) != (window_start, index - 1, tree.count):
        found.append(
            problem(
                f"couvre les lignes {start} à {end} ({count}), le registre en a {window_start} à"
                f" {index - 1} ({tree.count})"
            )
        )
    if tree.root() != root:
        found.append(problem("la racine de Merkle ne correspond plus aux lignes scellées (ligne modifiée)"))
    expected_chain = chained_seals(seals, entry.time)
    # The chain is chosen just before the token is asked for: allow for the TSA's delay.
    early = chained_seals(seals, entry.time - dt.timedelta(minutes=5))
    if tuple(chained) not in (expected_chain, early):
        found.append(problem(f"chaîné aux sceaux {chained}, attendu {expected_chain}"))
    by_seq = {s.seq: s.token for s in seals}
    tokens = [by_seq[s] for s in chained if isinstance(s, int) and s in by_seq]
    try:
        checked = verify_token(token, seal_message(root, tokens), trust)
    except TimestampError as exc:
        found.append(problem(f"horodatage invalide : {exc.message}", "timestamp"))
    else:
        if format_at(checked.gen_time) != entry.at:
            found.append(problem(f"daté {entry.at}, le jeton dit {format_at(checked.gen_time)}", "timestamp"))
    return found


__all__ = [
    "GENESIS",
    "SEAL_VERSION",
    "Ledger",
    "LedgerEntry",
    "LedgerProblem",
    "PendingLedgerSeal",
    "SealInfo",
    "SealedHead",
    "chained_seals",
    "format_at",
    "make_entry",
    "parse_at",
    "parse_line",
    "seal_message",
    "verify_lines",
]
