"""The intermediate archive: deposit, verify, list, report DUAs due, eliminate with proof.

:class:`ArchiveStore` ties the protocol code (:mod:`demat.archive`) to a :class:`Storage`, a
ledger file and a TSA. Its folder (``archive_dir``) holds the ledger (``ledger.jsonl``), a lock
(one writer at a time, across processes) and a staging area; packages and proofs go to the
storage:

* ``packages/<manifest sha512>/sip.zip``: the SIP as built (:meth:`Package.to_zip`);
* ``packages/<manifest sha512>/seal.json``: its seal (:class:`~demat.archive.seal.PackageSeal`);
* ``ledger/seals/<seq>.zip``: each ledger seal as Vitam stores its traceability files
  (``data.txt`` the lines sealed, ``token.tsp``, ``computing_information.txt``,
  ``additional_information.txt``).

**Deposit** (:meth:`ArchiveStore.deposit`), in an order a crash cannot spoil: the package is
sealed (signature and timestamp, checked), the SIP and the seal are written to the storage
(whole or absent), then the ``deposit`` line is appended to the ledger (the commit point: until
then nothing is visible), then the tracking journal's head is recorded and the ledger sealed.
A crash before the ledger line leaves objects no line names: the next opening removes them (with
an ``orphan_removed`` line); a crash after it leaves a deposit whose ledger is sealed at the next
opportunity. The same package again is the same deposit.

**Verify** (:meth:`ArchiveStore.verify`) re-reads everything: the ledger (chain, seals,
timestamps), each deposited package (the zip's digest, the manifest's, every file against its
manifest ``MessageDigest`` and ``Size``, the seal's signature and timestamp), the storage
against the ledger (a package or ledger seal gone, deleted without an elimination line, or
present though the ledger never recorded it) and names each problem's package or ledger entry.

**Retention**: :meth:`due` lists the deposits whose DUA has run out; :meth:`eliminate` removes a
package only after writing (and sealing) an ``eliminate`` line with who, why and the rule, whose
hash the storage keeps as the tombstone's proof.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demat.archive.ledger import Ledger, LedgerEntry, LedgerProblem, SealedHead, format_at
from demat.archive.seal import PackageSeal, PendingSeal, prepare_seal, verify_seal
from demat.archive.seda import Package, sha512_of
from demat.archive.sip import check_sip
from demat.archive.timestamp import TsaTrust
from demat.errors import (
    ConfigError,
    ObjectMissing,
    PackagingError,
    SignatureError,
    StorageError,
    ValidationError,
)
from demat.gateway.offload import offload
from demat.signing.keys import Signer
from demat.storage.base import Storage
from demat.storage.filesystem import FilesystemStorage
from demat.storage.tsa import AsyncTimestamper
from demat.tracking.journal import JournalHead

#: Gives the tracking journal's head now (``Store.journal_head``), to anchor it in the seals.
HeadSource = Callable[[], Awaitable[JournalHead]]

_CHUNK = 1 << 20


def package_keys(digest: str) -> tuple[str, str]:
    """Storage keys of a package's SIP and seal."""
    return f"packages/{digest}/sip.zip", f"packages/{digest}/seal.json"


#: The ledger's file in the archive's folder.
LEDGER = "ledger.jsonl"


def seal_key(seq: int) -> str:
    """Storage key of the ledger seal written at ``seq``."""
    return f"ledger/seals/{seq:012d}.zip"


@dataclass(frozen=True)
class Deposit:
    """A package the archive holds (or held): what its ``deposit`` line says, and its
    elimination when there was one."""

    digest: str
    seq: int
    at: str
    data: Mapping[str, Any]
    eliminated: Mapping[str, Any] | None = None

    @property
    def transmission_id(self) -> str:
        """The transmission the package archives."""
        return str(self.data.get("transmission", ""))

    @property
    def due(self) -> dt.date:
        """The day its DUA runs out."""
        return dt.date.fromisoformat(str(self.data["due"]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (``demat archive list|show --json``)."""
        return {
            "package": self.digest,
            "ledger_seq": self.seq,
            "deposited_at": self.at,
            **dict(self.data),
            "eliminated": dict(self.eliminated) if self.eliminated else None,
        }


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: which package (digest) or ledger entry (seq), what kind
    (``altered``, ``missing``, ``seal``, ``timestamp``, ``chain``, ``unknown_object``…) and why."""

    kind: str
    message: str
    package: str | None = None
    ledger_seq: int | None = None
    transmission: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "kind": self.kind,
            "package": self.package,
            "transmission": self.transmission,
            "ledger_seq": self.ledger_seq,
            "message": self.message,
        }


@dataclass(frozen=True)
class VerifyReport:
    """The result of :meth:`ArchiveStore.verify`: ``ok`` when nothing is wrong."""

    ok: bool
    problems: list[Problem]
    packages: int = 0
    ledger_entries: int = 0
    unsealed_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON contract of ``demat archive verify --json``."""
        return {
            "ok": self.ok,
            "packages": self.packages,
            "ledger_entries": self.ledger_entries,
            "unsealed_entries": self.unsealed_entries,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class SealedJournalHead:
    """A tracking-journal head the archive's ledger recorded and a seal covers: a
    :class:`~demat.tracking.journal.HeadAnchor` whose :meth:`vouched_head` checks the audit path
    and the RFC 3161 token before answering."""

    proof: SealedHead

    def vouched_head(self) -> JournalHead:
        """The head, once its proof holds (:class:`ValueError` otherwise)."""
        entry = self.proof.vouched_line()
        if entry.op != "journal_head":
            raise ValueError(f"ledger line {entry.seq} is not a journal head")
        return JournalHead(int(entry.data["seq"]), str(entry.data["hash"]))


@dataclass
class ArchiveStore:
    """The archive service (see the module docstring). Open it with :meth:`open`."""

    archive_dir: Path
    storage: Storage
    timestamper: AsyncTimestamper
    trust: TsaTrust
    signer: Signer | None = None
    journal_head: HeadSource | None = None
    ledger: Ledger = field(init=False, repr=False)
    _lock_fd: int = field(init=False, repr=False, default=-1)
    #: Opened to read beside the writer (see :meth:`open`): every write is refused.
    read_only: bool = field(init=False, default=False)
    _seen_size: int = field(init=False, repr=False, default=0)
    #: Deposits by digest and the last journal head recorded, kept up to date by this writer
    #: (a deposit does not read the whole ledger).
    _index: dict[str, Deposit] = field(init=False, repr=False, default_factory=dict)
    #: What :meth:`deposits` read last, with the ledger file's size then.
    _read: tuple[int, dict[str, Deposit]] | None = field(init=False, repr=False, default=None)
    _last_head: str | None = field(init=False, repr=False, default=None)

    @classmethod
    async def open(
        cls,
        archive_dir: Path,
        *,
        timestamper: AsyncTimestamper,
        trust: TsaTrust,
        storage: Storage | None = None,
        signer: Signer | None = None,
        journal_head: HeadSource | None = None,
        read_only: bool = False,
    ) -> ArchiveStore:
        """Open (creating) the archive in ``archive_dir``: take the writer's lock, recover what
        a crash left (see the module docstring). ``storage`` defaults to a
        :class:`FilesystemStorage` in ``archive_dir/objects``.

        ``read_only``: a reader beside the writer (the operator console): the archive must
        exist; no lock is taken (a writer is neither waited for nor kept waiting), nothing is
        recovered, every write is refused (``ARCHIVE_READ_ONLY``); :meth:`refresh` reads what
        the writer appended since."""
        archive_dir = Path(archive_dir)
        if read_only and not (archive_dir / LEDGER).is_file():
            raise StorageError(f"no archive in {archive_dir} (no {LEDGER})", code="ARCHIVE_NOT_FOUND")
        archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if storage is None:
            storage = FilesystemStorage(archive_dir / "store", sweep=not read_only)
        store = cls(archive_dir, storage, timestamper, trust, signer, journal_head)
        if read_only:
            store.read_only = True
            store._seen_size = (archive_dir / LEDGER).stat().st_size
            store.ledger = await offload(Ledger, archive_dir / LEDGER)
            return store
        store._lock_fd = os.open(archive_dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        await offload(fcntl.flock, store._lock_fd, fcntl.LOCK_EX)
        store.ledger = await offload(Ledger, archive_dir / LEDGER)
        staging = archive_dir / "tmp"
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(mode=0o700)
        await store._recover()
        return store

    async def refresh(self) -> None:
        """A reader's view brought up to what the writer has appended since (a writer's own
        view is always current)."""
        if not self.read_only:
            return
        size = (self.archive_dir / LEDGER).stat().st_size
        if size != self._seen_size:  # opening reads the seal lines and the last one only
            self.ledger = await offload(Ledger, self.archive_dir / LEDGER)
            self._seen_size = size

    def _writable(self) -> None:
        if self.read_only:
            raise StorageError(
                f"the archive {self.archive_dir} is open read-only here", code="ARCHIVE_READ_ONLY"
            )

    async def close(self) -> None:
        """Release the writer's lock."""
        if self._lock_fd >= 0:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = -1

    async def __aenter__(self) -> ArchiveStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the ledger's view -------------------------------------------------------------------

    def deposits(self) -> dict[str, Deposit]:
        """Every package the ledger says was deposited, by digest (eliminated ones too).

        The ledger is only ever appended to: the answer is kept with the file's size and read
        again only once the file has grown (the console asks on every archive page)."""
        size = self.ledger.path.stat().st_size
        if self._read is not None and self._read[0] == size:
            return dict(self._read[1])
        found = self._scan_deposits()
        self._read = (size, found)
        return dict(found)

    def _scan_deposits(self) -> dict[str, Deposit]:
        found: dict[str, Deposit] = {}
        for entry in self.ledger.entries():
            if entry.op == "deposit":
                digest = str(entry.data.get("package", ""))
                found.setdefault(digest, Deposit(digest, entry.seq, entry.at, entry.data))
            elif entry.op == "eliminate":
                digest = str(entry.data.get("package", ""))
                held = found.get(digest)
                if held is not None:
                    found[digest] = Deposit(
                        held.digest,
                        held.seq,
                        held.at,
                        held.data,
                        {**entry.data, "seq": entry.seq, "at": entry.at},
                    )
        return found

    def find(self, ref: str) -> Deposit:
        """A deposit by package digest (or a unique prefix of at least 8 characters) or by
        transmission id; :class:`~demat.errors.StorageError` when none or several match."""
        deposits = self.deposits()
        matches = [
            d
            for d in deposits.values()
            if d.transmission_id == ref or (len(ref) >= 8 and d.digest.startswith(ref))
        ]
        if len(matches) != 1:
            what = "no package" if not matches else f"{len(matches)} packages"
            raise StorageError(f"{what} match {ref!r}", code="ARCHIVE_NOT_FOUND")
        return matches[0]

    # -- recovery ----------------------------------------------------------------------------

    async def _recover(self) -> None:
        deposits = self._index = self.deposits()
        heads = [e for e in self.ledger.entries() if e.op == "journal_head"]
        self._last_head = str(heads[-1].data.get("hash")) if heads else None
        known = set(deposits)
        for key in await self.storage.list("packages/"):
            digest = key.split("/")[1]
            if digest not in known:
                # Written by a deposit that never reached the ledger: never visible, removed.
                entry = await offload(
                    self.ledger.append,
                    "orphan_removed",
                    {"key": key, "reason": "dépôt interrompu avant le registre"},
                )
                await self.storage.delete(key, proof=f"ledger {entry.seq} {entry.hash}")
        for deposit in deposits.values():
            if deposit.eliminated is None:
                continue
            for key in package_keys(deposit.digest):
                if await self.storage.exists(key):  # an elimination interrupted after its line
                    seq = int(deposit.eliminated["seq"])
                    await self.storage.delete(key, proof=f"ledger {seq} elimination")
        stored = set(await self.storage.list("ledger/seals/"))
        for entry in self.ledger.entries():
            if entry.op == "seal" and seal_key(entry.seq) not in stored:
                # A crash between the seal's line and its files: they are rebuilt from the ledger.
                await self.storage.put(seal_key(entry.seq), await offload(self._seal_zip, entry))
        if self.ledger.last_seq and (
            not self.ledger.seals or self.ledger.seals[-1].seq != self.ledger.last_seq
        ):
            # Opened without a TSA (to verify, list…): sealed at the next deposit.
            with contextlib.suppress(ConfigError):
                await self.seal()

    # -- deposit -----------------------------------------------------------------------------

    async def deposit(self, package: Package, *, signer: Signer | None = None, by: str = "demat") -> Deposit:
        """Seal, store and record ``package`` (see the module docstring); the same package
        again returns its existing deposit."""
        self._writable()
        digest = package.digest
        existing = self._index.get(digest)
        if existing is not None and existing.eliminated is None:
            return existing
        if existing is not None:
            raise StorageError(
                f"package {digest[:16]}… was eliminated: it cannot come back", code="ARCHIVE_ELIMINATED"
            )
        pending: PendingSeal = await offload(prepare_seal, package.manifest_bytes, signer or self.signer)
        response = await self.timestamper(pending.request)
        seal: PackageSeal = await offload(pending.complete, response, self.trust)
        sip_key, seal_json_key = package_keys(digest)
        staged = self.archive_dir / "tmp" / f"{secrets.token_hex(8)}.zip"
        try:
            await offload(package.to_zip, staged)
            stored = await self.storage.put(sip_key, staged)
        finally:
            staged.unlink(missing_ok=True)
        await self.storage.put(seal_json_key, seal.to_json())
        data = {
            "package": digest,
            "transmission": package.transmission_id,
            "profile": package.profile,
            "flow": package.flow,
            "message_identifier": package.message_identifier,
            "seda_version": package.seda_version,
            "files": len(package.objects),
            "content_bytes": package.size,
            "sip_key": sip_key,
            "sip_sha512": stored.sha512,
            "sip_size": stored.size,
            "seal_key": seal_json_key,
            "sealed_at": format_at(seal.sealed_at),
            "signer": seal.signer,
            "rule": package.rule.as_dict(),
            "rule_start": package.rule_start.isoformat(),
            "due": package.due.isoformat(),
            "by": by,
        }
        entry = await offload(self.ledger.append, "deposit", data)
        deposit = self._index[digest] = Deposit(digest, entry.seq, entry.at, entry.data)
        await self.seal()
        return deposit

    async def note(self, op: str, data: Mapping[str, Any], *, seal: bool = True) -> LedgerEntry:
        """Record another archive operation (a transfer, its reply…) in the ledger."""
        self._writable()
        if op in {"deposit", "eliminate", "seal", "journal_head", "orphan_removed"}:
            raise ValueError(f"{op!r} lines are written by the archive itself")
        entry = await offload(self.ledger.append, op, data)
        if seal:
            await self.seal()
        return entry

    async def seal(self) -> LedgerEntry | None:
        """Record the tracking journal's head (when a source is set), then seal the ledger and
        store the seal's files; ``None`` when nothing was written since the last seal."""
        self._writable()
        if self.journal_head is not None:
            head = await self.journal_head()
            if self._last_head != head.hash:
                await offload(self.ledger.append, "journal_head", {"seq": head.seq, "hash": head.hash})
                self._last_head = head.hash
        pending = await offload(self.ledger.prepare_seal)
        if pending is None:
            return None
        response = await self.timestamper(pending.request)
        entry: LedgerEntry = await offload(self.ledger.commit_seal, pending, response, self.trust)
        await self.storage.put(seal_key(entry.seq), await offload(self._seal_zip, entry))
        return entry

    def _seal_zip(self, entry: LedgerEntry) -> bytes:
        data = entry.data
        lines = list(self.ledger.lines_between(int(data["start"]), int(data["end"])))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:

            def member(name: str, content: bytes) -> None:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, content)

            member("data.txt", b"".join(line + b"\n" for line in lines))
            member("token.tsp", base64.b64decode(data["token"]))
            member(
                "computing_information.txt",
                f"currentHash={data['root']}\npreviousSeal={data['previous']}\n"
                f"previousSealMinusOneMonth={data['month']}\npreviousSealMinusOneYear={data['year']}\n".encode(),
            )
            member(
                "additional_information.txt",
                f"numberOfElements={data['count']}\nstartSeq={data['start']}\nendSeq={data['end']}\n"
                f"sealedAt={entry.at}\nsecurisationVersion={data['version']}\n".encode(),
            )
            member("seal.json", entry.line + b"\n")
        return buf.getvalue()

    # -- retention ---------------------------------------------------------------------------

    def due(self, on: dt.date | None = None) -> list[Deposit]:
        """Deposits still held whose DUA has run out by ``on`` (today), oldest first."""
        day = on or dt.datetime.now(dt.UTC).date()
        held = [d for d in self.deposits().values() if d.eliminated is None and d.due <= day]
        return sorted(held, key=lambda d: (d.due, d.seq))

    async def eliminate(self, ref: str, *, reason: str, by: str, on: dt.date | None = None) -> LedgerEntry:
        """Eliminate a package whose DUA has run out and whose final action is ``Destroy``:
        an ``eliminate`` line first (sealed), then the objects, each tombstone keeping that
        line's hash as its proof. Anything else is refused (:class:`~demat.errors.ValidationError`)."""
        self._writable()
        deposit = self.find(ref)
        day = on or dt.datetime.now(dt.UTC).date()
        if deposit.eliminated is not None:
            raise ValidationError(
                f"package {deposit.digest[:16]}… already eliminated", code="ARCHIVE_ELIMINATED"
            )
        rule = deposit.data.get("rule", {})
        if rule.get("final_action") != "Destroy":
            raise ValidationError(
                f"package {deposit.digest[:16]}…: final action {rule.get('final_action')}, not Destroy",
                code="ARCHIVE_KEEP",
            )
        if deposit.due > day:
            raise ValidationError(
                f"package {deposit.digest[:16]}…: DUA runs until {deposit.due.isoformat()}",
                code="ARCHIVE_NOT_DUE",
            )
        if not reason.strip() or not by.strip():
            raise ValidationError("an elimination needs a reason and who decided it", code="ARCHIVE_NO_PROOF")
        entry = await offload(
            self.ledger.append,
            "eliminate",
            {
                "package": deposit.digest,
                "transmission": deposit.transmission_id,
                "deposit_seq": deposit.seq,
                "rule": rule,
                "due": deposit.due.isoformat(),
                "reason": reason,
                "by": by,
            },
        )
        self._index[deposit.digest] = Deposit(
            deposit.digest,
            deposit.seq,
            deposit.at,
            deposit.data,
            {**entry.data, "seq": entry.seq, "at": entry.at},
        )
        await self.seal()
        for key in package_keys(deposit.digest):
            await self.storage.delete(key, proof=f"ledger {entry.seq} {entry.hash}")
        return entry

    # -- journal anchors ---------------------------------------------------------------------

    def journal_anchors(self) -> list[SealedJournalHead]:
        """The tracking journal's heads this ledger recorded and sealed, as anchors for
        ``Store.verify_journal(anchors=…)``."""
        anchors = []
        for entry in self.ledger.entries():
            if entry.op == "journal_head":
                proof = self.ledger.prove(entry.seq, self.trust)
                if proof is not None:
                    anchors.append(SealedJournalHead(proof))
        return anchors

    # -- verification ------------------------------------------------------------------------

    async def verify(self) -> VerifyReport:
        """Check everything (see the module docstring)."""
        problems: list[Problem] = []
        ledger_problems, unsealed = await offload(self.ledger.verify, self.trust)
        problems += [_ledger_problem(p) for p in ledger_problems]
        deposits = self.deposits()
        entries = list(self.ledger.entries())
        live = 0
        for deposit in deposits.values():
            if deposit.eliminated is None:
                live += 1
                problems += await self._verify_package(deposit)
            else:
                problems += await self._verify_eliminated(deposit)
        known = set(deposits)
        for key in await self.storage.list("packages/"):
            digest = key.split("/")[1]
            if digest not in known:
                problems.append(
                    Problem(
                        "unknown_object",
                        f"{key} est dans le stockage mais le registre ne l'a jamais enregistré"
                        " (registre tronqué ou réécrit ?)",
                        package=digest,
                    )
                )
        problems += await self._verify_seal_objects(entries)
        return VerifyReport(not problems, problems, live, len(entries), unsealed)

    async def verify_deposit(self, deposit: Deposit) -> list[Problem]:
        """Check one package (its SIP's digest, every member against the manifest, its seal's
        signature and timestamp; an eliminated one: that nothing of it is left): the problems
        found, none when it holds. The ledger itself is :meth:`verify`'s."""
        if deposit.eliminated is not None:
            return await self._verify_eliminated(deposit)
        return await self._verify_package(deposit)

    async def _verify_package(self, deposit: Deposit) -> list[Problem]:
        sip_key, seal_json_key = package_keys(deposit.digest)

        def problem(kind: str, message: str) -> Problem:
            return Problem(kind, message, deposit.digest, deposit.seq, deposit.transmission_id)

        found: list[Problem] = []
        stone = await self.storage.tombstone(sip_key)
        if not await self.storage.exists(sip_key):
            why = f" (supprimé hors registre : {stone})" if stone else ""
            return [
                problem(
                    "missing",
                    f"paquet {deposit.digest[:16]}… ({deposit.transmission_id}) absent du stockage{why}",
                )
            ]
        local = self.storage.local_path(sip_key)
        tmp: Path | None = None
        if local is None:
            staging = None if self.read_only else self.archive_dir / "tmp"  # a reader: not the writer's
            tmp = Path(tempfile.mkstemp(prefix="demat-verify-", dir=staging)[1])
            await self.storage.fetch(sip_key, tmp)
            local = tmp
        try:
            messages, manifest = await offload(_check_sip, local, deposit)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        found += [problem("altered", m) for m in messages]
        try:
            seal = PackageSeal.from_json(await self.storage.get(seal_json_key))
        except ObjectMissing:
            return [*found, problem("missing", f"sceau du paquet {deposit.digest[:16]}… absent du stockage")]
        except SignatureError as exc:
            return [*found, problem("seal", exc.message)]
        if manifest is not None:
            for message in await offload(verify_seal, seal, manifest, self.trust):
                found.append(problem("timestamp" if message.startswith("horodatage") else "seal", message))
        if format_at(seal.sealed_at) != deposit.data.get("sealed_at"):
            found.append(problem("seal", "le sceau stocké n'est pas celui que le registre a enregistré"))
        return found

    async def _verify_eliminated(self, deposit: Deposit) -> list[Problem]:
        found = []
        for key in package_keys(deposit.digest):
            if await self.storage.exists(key):
                found.append(
                    Problem(
                        "not_eliminated",
                        f"{key} est encore stocké alors que le registre l'a éliminé",
                        deposit.digest,
                        deposit.seq,
                        deposit.transmission_id,
                    )
                )
        return found

    async def _verify_seal_objects(self, entries: list[LedgerEntry]) -> list[Problem]:
        found = []
        seals = {e.seq: e for e in entries if e.op == "seal"}
        stored = {int(k.rsplit("/", 1)[1].split(".")[0]): k for k in await self.storage.list("ledger/seals/")}
        for seq, entry in seals.items():
            key = stored.get(seq)
            if key is None:
                if seq != max(seals):  # the last seal's files may not be written yet after a crash
                    found.append(
                        Problem("missing", f"fichiers du sceau {seq} absents du stockage", ledger_seq=seq)
                    )
                continue
            kept = await self.storage.get(key)
            with zipfile.ZipFile(io.BytesIO(kept)) as zf:
                if zf.read("seal.json").rstrip(b"\n") != entry.line:
                    found.append(
                        Problem(
                            "altered", f"le sceau {seq} du registre diffère de celui stocké", ledger_seq=seq
                        )
                    )
        for seq in sorted(set(stored) - set(seals)):
            found.append(
                Problem(
                    "ledger_truncated",
                    f"le stockage garde le sceau {seq} que le registre n'a plus (entrées retirées)",
                    ledger_seq=seq,
                )
            )
        return found


def _ledger_problem(p: LedgerProblem) -> Problem:
    return Problem(p.kind, f"registre, {p.message}", ledger_seq=p.seq)


def _check_sip(path: Path, deposit: Deposit) -> tuple[list[str], bytes | None]:
    """What does not hold in the SIP zip at ``path`` for ``deposit``, and its manifest."""
    messages: list[str] = []
    digest, size = sha512_of(path)
    if digest != deposit.data.get("sip_sha512") or size != deposit.data.get("sip_size"):
        messages.append(f"le SIP stocké a changé depuis le dépôt ({deposit.data.get('sip_key')})")
    try:
        report = check_sip(path)
    except PackagingError as exc:
        return [*messages, f"SIP illisible : {exc.message}"], None
    if hashlib.sha512(report.manifest).hexdigest() != deposit.digest:
        messages.append("manifest.xml modifié (son empreinte n'est plus celle du dépôt)")
    return messages + report.problems, report.manifest


__all__ = [
    "LEDGER",
    "ArchiveStore",
    "Deposit",
    "HeadSource",
    "Problem",
    "SealedJournalHead",
    "VerifyReport",
    "package_keys",
    "seal_key",
]
