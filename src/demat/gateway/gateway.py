"""Gateway: the async façade used by connectors, the CLI and the poller.

``send_*`` checks a document (schema, rules, identity against its profile), keeps its bytes in
the spool and records it in the store, in state ``ACCEPTED``: nothing is sent yet. The poller
(:meth:`Gateway.poll_once`, :meth:`Gateway.run_poller`) does the sending and the tracking
through :meth:`Gateway.handle`, so a crash at any point leaves a state that the next cycle
reconciles with the platform before anything is sent again.

CPU-heavy steps (parsing, validating, reading acknowledgements) run in worker threads so the
event loop never stalls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from demat.actes.model import Acte, ActeDocument, ActesIdentity
from demat.config import Profile, Settings
from demat.errors import ConfigError, DematError, RemoteRejected, ValidationError
from demat.pes.ack import read_acquit
from demat.pes.inspect import PesInfo, check_identity
from demat.pes.retour import read_retour_header
from demat.pes.validate import ValidationReport, on_validation_thread, validate_pes
from demat.spool import Spool
from demat.tracking import (
    SETTLED,
    Absent,
    CycleReport,
    Fatal,
    Flow,
    Found,
    Inbound,
    Moved,
    NewDocument,
    NoChange,
    Poller,
    PollOutcome,
    ReconcileResult,
    Schedule,
    State,
    Store,
    Transmission,
    Undetermined,
    status_table,
)
from demat.transport import (
    ActesPlatform,
    ActesStatusCode,
    Credentials,
    DuplicateSubmission,
    HeliosPlatform,
    Lookup,
    S2lowClient,
    SubmitResult,
    tls_from_account,
)
from demat.transport.acte_fields import submission_from_acte
from demat.xml.schemas import SchemaRegistry, default_registry

log = logging.getLogger("demat.gateway")

FlowName = Literal["pes", "actes", "budget"]
Callback = Callable[[Transmission], Awaitable[None] | None]


class PlatformSet:
    """The platform clients of a gateway, one per configured account, opened lazily."""

    def __init__(self, settings: Settings, overrides: Mapping[str, S2lowClient] | None = None) -> None:
        self._settings = settings
        self._clients: dict[str, S2lowClient] = dict(overrides or {})
        self._owned: list[S2lowClient] = []

    def client(self, profile: Profile) -> S2lowClient:
        name = profile.platform
        if name is None:
            raise ConfigError(f"profile {profile.name!r} names no platform account")
        if name not in self._clients:
            account = self._settings.platforms.get(name)
            if account is None:
                raise ConfigError(f"profile {profile.name!r}: unknown platform account {name!r}")
            credentials = None
            if account.login:
                password = account.login_password() or ""
                credentials = Credentials(account.login, password, account.login_method)
            client = S2lowClient(account.url, tls_from_account(account), credentials=credentials)
            self._clients[name] = client
            self._owned.append(client)
        return self._clients[name]

    def helios(self, profile: Profile) -> HeliosPlatform:
        return self.client(profile).helios

    def actes(self, profile: Profile) -> ActesPlatform:
        return self.client(profile).actes

    async def close(self) -> None:
        for client in self._owned:
            await client.close()


@dataclass(frozen=True)
class SendResult:
    """What ``send_*`` did: the transmission, and whether it is new (or the same document again)."""

    transmission: Transmission
    created: bool
    warnings: tuple[str, ...] = ()


@dataclass
class _Callbacks:
    acknowledged: list[Callback] = field(default_factory=list)
    rejected: list[Callback] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _sha1_file(path: Path) -> str:
    h = hashlib.sha1()  # noqa: S324 - S²LOW identifies uploads by sha1; not a security use
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


R = TypeVar("R")


async def _off_loop(read: Callable[[bytes], R], data: bytes) -> R:
    """``read(data)`` in a thread when ``data`` is large enough to hold the loop; a small reply
    (an ARActe, most acquittals) is read at once: the thread hop would cost more."""
    if len(data) <= 256 * 1024:
        return read(data)
    return await asyncio.to_thread(read, data)


async def _submitted(submission: Awaitable[SubmitResult]) -> PollOutcome:
    """What a submission's answer means for the transmission. Other errors propagate: the
    poller decides whether the platform may have got the document (see demat.tracking.poller)."""
    try:
        result = await submission
    except DuplicateSubmission as dup:
        # The platform holds these very bytes: track that transaction rather than fail.
        if dup.existing_id:
            return Moved(State.SENT, event="already_on_platform", remote_id=dup.existing_id)
        return Moved(State.REJECTED, event="refused_duplicate", data={"message": dup.message})
    except RemoteRejected as exc:
        return Moved(State.REJECTED, event="refused_by_platform", data={"message": exc.message})
    return Moved(State.SENT, event="sent", remote_id=result.remote_id)


def _retour_info(data: bytes) -> dict[str, Any]:
    """What a PES_Retour's header says, or why it could not be read (kept all the same)."""
    try:
        return read_retour_header(data).to_dict()
    except DematError as exc:
        return {"error": exc.message, "code": exc.code}


def _letter_types(data: bytes) -> tuple[str, ...]:
    """The message types of a préfecture archive (CourrierSimple, LettreObservations…)."""
    from demat.actes.archive import open_package

    package = open_package(data)
    return tuple(m.type for m in package.messages) or ("Document",)


def _acte_description(acte: Acte, blobs: Sequence[tuple[ActeDocument, str]]) -> dict[str, Any]:
    """The acte as JSON, its documents named by spool digest: enough to send it again later."""
    docs = [{"filename": d.filename, "typology": d.typology, "sha256": digest} for d, digest in blobs]
    return {
        "nature": int(acte.nature),
        "numero": acte.numero,
        "date": acte.date.isoformat(),
        "objet": acte.objet,
        "matieres": list(acte.matieres),
        "classification_date": acte.classification_date.isoformat(),
        "document_papier": acte.document_papier,
        "precedent_id_acte": acte.precedent_id_acte,
        "documents": docs,
    }


class Gateway:
    """Send PES, actes and budget acts under a profile, track them, and keep their proof.

    >>> async with Gateway.open(settings) as gw:
    ...     sent = await gw.send_pes(Path("PES.xml"), profile="ville")
    ...     await gw.wait([sent.transmission.id])
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        platforms: PlatformSet,
        spool: Spool,
        registry: SchemaRegistry | None = None,
        schedule: Schedule | Mapping[str, Schedule] | None = None,
        lease_seconds: float = 120.0,
        concurrency: int = 8,
        batch: int = 100,
    ) -> None:
        self.settings = settings
        self.store = store
        self.platforms = platforms
        self.spool = spool
        self.registry = registry or default_registry()
        self._callbacks = _Callbacks()
        self._moved: dict[str, State] = {}
        kwargs: dict[str, Any] = {}
        if schedule is not None:
            kwargs["schedule"] = schedule
        self.poller = Poller(
            store,
            self.handle,
            reconciler=self.reconcile,
            lease_seconds=lease_seconds,
            concurrency=concurrency,
            batch=batch,
            **kwargs,
        )

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        clients: Mapping[str, S2lowClient] | None = None,
        **options: Any,
    ) -> AsyncIterator[Gateway]:
        """A gateway on the settings' store (SQLite under ``data_dir`` by default) and spool."""
        data_dir = settings.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.store_url or f"sqlite:///{(data_dir / 'demat.sqlite3').resolve()}"
        platforms = PlatformSet(settings, clients)
        registry = SchemaRegistry(official_dirs=[settings.schemas_dir]) if settings.schemas_dir else None
        options.setdefault("schedule", Schedule(settings.poll_schedule))
        options.setdefault("lease_seconds", settings.lease_seconds)
        options.setdefault("batch", settings.poll_batch)
        options.setdefault("concurrency", settings.poll_concurrency)
        async with Store.open(url) as store:
            gateway = cls(
                settings,
                store,
                platforms=platforms,
                spool=Spool(data_dir / "spool"),
                registry=registry,
                **options,
            )
            try:
                yield gateway
            finally:
                await platforms.close()

    def on_acknowledged(self, callback: Callback) -> None:
        """Call ``callback(transmission)`` when a transmission is acknowledged."""
        self._callbacks.acknowledged.append(callback)

    def on_rejected(self, callback: Callback) -> None:
        """Call ``callback(transmission)`` when a transmission is rejected or fails."""
        self._callbacks.rejected.append(callback)

    # -- sending ------------------------------------------------------------------------------

    async def send_pes(
        self,
        source: Path | bytes,
        *,
        profile: str,
        name: str | None = None,
        force: bool = False,
    ) -> SendResult:
        """Check a PES_Aller (XSD, rules, identity) and record it for sending.

        Raises :class:`~demat.errors.ValidationError` listing the errors of an invalid file and
        :class:`~demat.errors.IdentityMismatch` when its IdColl is not the profile's SIRET.
        """
        prof = self.settings.profile(profile)
        path = source if isinstance(source, Path) else None
        data = source if isinstance(source, bytes) else None
        label = name or (path.name if path else "PES.xml")
        target: Path | bytes = path if path is not None else data  # type: ignore[assignment]

        def check_and_spool() -> tuple[PesInfo, ValidationReport, tuple[str, str] | None]:
            # One pass over the file (validation reads the header and bordereaux as it goes),
            # then the spool (it fsyncs), in one worker-thread hop (each hop costs the event
            # loop a wake-up).
            report = validate_pes(target, registry=self.registry)
            info = report.info
            if info is None:  # not readable as a PES at all: the report says why
                return PesInfo(file=label), report, None
            info.file = label
            check_identity(
                info,
                siret=prof.siret,
                siren=prof.siren,
                id_post=prof.id_post,
                cod_col=prof.cod_col,
                cod_bud=prof.cod_bud,
            )
            return info, report, (self._spool_pes(path, data) if report.valid else None)

        info, report, spooled = await on_validation_thread(check_and_spool)
        if not report.valid or spooled is None:
            first = report.errors[0]
            more = f" (+{len(report.errors) - 1} autre(s))" if len(report.errors) > 1 else ""
            raise ValidationError(
                f"PES invalide : {first.message}{more}", file=label, line=first.line, code=first.code
            )
        digest, sha1 = spooled
        identifiers = {
            "nom_fic": info.nom_fic,
            "id_coll": info.id_coll,
            "cod_col": info.cod_col,
            "cod_bud": info.cod_bud,
            "bordereaux": [b.id_bord for b in info.bordereaux],
            "signed": info.signed,
            "sha1": sha1,
        }
        t, created = await self.store.record(prof.name, Flow.PES, digest, label, identifiers, force=force)
        return SendResult(t, created, tuple(w.message for w in report.warnings))

    def _spool_pes(self, path: Path | None, data: bytes | None) -> tuple[str, str]:
        """Keep the PES in the spool: (sha256, sha1) of its bytes."""
        if path is not None:
            digest = self.spool.put_file(path)
            return digest, _sha1_file(self.spool.path(digest))
        data = data or b""
        return self.spool.put_bytes(data), hashlib.sha1(data).hexdigest()  # noqa: S324 - see _sha1_file

    def _identity(self, prof: Profile) -> ActesIdentity:
        extra: dict[str, Any] = {}
        if prof.return_emails:
            extra["return_emails"] = prof.return_emails
        if prof.referent_nom:
            extra["referent_nom"] = prof.referent_nom
        if prof.referent_email:
            extra["referent_email"] = prof.referent_email
        try:
            return ActesIdentity.from_profile(prof, **extra)
        except ValueError as exc:
            raise ConfigError(f"profile {prof.name!r} lacks ACTES identity fields: {exc}") from None

    async def send_acte(self, acte: Acte, *, profile: str, force: bool = False) -> SendResult:
        """Check an acte (rules, formats, size) and record it for sending."""
        from demat.actes.package import package_acte

        prof = self.settings.profile(profile)
        identity = self._identity(prof)

        def check_and_spool() -> tuple[tuple[str, ...], list[tuple[ActeDocument, str]]]:
            # Building the package runs every rule and the schema on the message (the bytes are
            # not kept); then the documents go to the spool. One worker-thread hop.
            pkg = package_acte(identity, acte, serial=1, today=dt.date.today())
            return tuple(w.message for w in pkg.warnings), self._spool_documents(acte)

        warnings, blobs = await asyncio.to_thread(check_and_spool)
        return await self._record_acte(prof, Flow.ACTES, acte, blobs, force, warnings)

    async def send_budget(
        self,
        document: Path | bytes,
        deliberation: Path | ActeDocument,
        *,
        profile: str,
        numero: str,
        classification_date: dt.date,
        annexes: Sequence[Path | ActeDocument] = (),
        objet: str | None = None,
        force: bool = False,
    ) -> SendResult:
        """Check a sealed budget document (seal, schema, identity) and record it as a budget act
        (nature 5, matière 7.1, délibération as annex)."""
        from demat.actes.budget.act import budget_acte

        prof = self.settings.profile(profile)
        identity = self._identity(prof)

        def check_and_spool() -> tuple[Acte, list[tuple[ActeDocument, str]]]:
            acte = budget_acte(
                identity,
                document,
                deliberation,
                numero=numero,
                classification_date=classification_date,
                annexes=annexes,
                objet=objet,
                registry=self.registry,
            )
            return acte, self._spool_documents(acte)

        acte, blobs = await asyncio.to_thread(check_and_spool)
        return await self._record_acte(prof, Flow.BUDGET, acte, blobs, force, ())

    def _spool_documents(self, acte: Acte) -> list[tuple[ActeDocument, str]]:
        """Keep the acte's documents in the spool (it fsyncs: call it off the event loop)."""
        return [
            (
                d,
                self.spool.put_file(d.content)
                if isinstance(d.content, Path)
                else self.spool.put_bytes(d.content),
            )
            for d in acte.documents
        ]

    async def _record_acte(
        self,
        prof: Profile,
        flow: Flow,
        acte: Acte,
        blobs: Sequence[tuple[ActeDocument, str]],
        force: bool,
        warnings: tuple[str, ...],
    ) -> SendResult:
        description = _acte_description(acte, blobs)
        digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
        t, created = await self.store.record(
            prof.name, flow, digest, f"{acte.numero} - {acte.objet}"[:200], description, force=force
        )
        return SendResult(t, created, warnings)

    def _acte_of(self, t: Transmission) -> Acte:
        d = t.identifiers
        docs = [
            ActeDocument(filename=x["filename"], typology=x["typology"], content=self.spool.path(x["sha256"]))
            for x in d["documents"]
        ]
        return Acte(
            nature=d["nature"],
            numero=d["numero"],
            date=dt.date.fromisoformat(d["date"]),
            objet=d["objet"],
            matieres=tuple(d["matieres"]),
            classification_date=dt.date.fromisoformat(d["classification_date"]),
            document=docs[0],
            annexes=tuple(docs[1:]),
            document_papier=d.get("document_papier", False),
            precedent_id_acte=d.get("precedent_id_acte"),
        )

    async def cancel(self, transmission_id: str) -> Transmission:
        """Ask the préfecture to cancel an acknowledged acte (or cancel locally before sending)."""
        t = await self.store.get(transmission_id)
        if t.state is State.ACCEPTED:
            return await self.store.transition(t.id, State.CANCELLED, event="cancelled_before_sending")
        if t.flow not in (Flow.ACTES, Flow.BUDGET) or t.state is not State.ACKNOWLEDGED or not t.remote_id:
            raise ValidationError(
                f"transmission {t.id} ({t.flow}, {t.state.value}) cannot be cancelled", code="NOT_CANCELLABLE"
            )
        prof = self.settings.profile(t.profile)
        cancel_id = await self.platforms.actes(prof).cancel(t.remote_id)
        return await self.store.transition(
            t.id,
            State.CANCEL_REQUESTED,
            event="cancel_requested",
            data={"annulation_transaction": cancel_id},
            next_attempt_at=self.store.clock(),
        )

    # -- the poller's handler -----------------------------------------------------------------

    async def handle(self, t: Transmission) -> PollOutcome:
        """Submit a transmission in ``SENDING``; read the platform for the others."""
        prof = self.settings.profile(t.profile)
        if t.state is State.SENDING:
            outcome = await (self._submit_pes(prof, t) if t.flow == Flow.PES else self._submit_acte(prof, t))
        elif t.flow == Flow.PES:
            outcome = await self._poll_pes(prof, t)
        else:
            outcome = await self._poll_acte(prof, t)
        if isinstance(outcome, Moved) and outcome.to in SETTLED:
            self._moved[t.id] = outcome.to
        return outcome

    async def _submit_pes(self, prof: Profile, t: Transmission) -> PollOutcome:
        path = self.spool.path(t.digest)
        if not path.is_file():
            return Fatal("le document n'est plus dans le dépôt local", code="SPOOL_MISSING")
        return await _submitted(self.platforms.helios(prof).submit_pes(t.name, path))

    async def _submit_acte(self, prof: Profile, t: Transmission) -> PollOutcome:
        try:
            acte = self._acte_of(t)
        except (KeyError, ValueError) as exc:
            return Fatal(f"description de l'acte illisible : {exc}", code="SPOOL_MISSING")
        if any(not Path(str(d.content)).is_file() for d in acte.documents):
            return Fatal("un document de l'acte n'est plus dans le dépôt local", code="SPOOL_MISSING")
        return await _submitted(self.platforms.actes(prof).submit_acte(submission_from_acte(acte)))

    async def _poll_pes(self, prof: Profile, t: Transmission) -> PollOutcome:
        assert t.remote_id is not None
        helios = self.platforms.helios(prof)
        status = await helios.status(t.remote_id)
        entry = status_table(t.flow)[status.code]
        if entry.fetch == "ack":
            ack = await helios.fetch_ack(t.remote_id)
            acquit = await _off_loop(read_acquit, ack)
            to = (
                State.ACKNOWLEDGED
                if acquit.accepted and entry.state is State.ACKNOWLEDGED
                else State.REJECTED
            )
            rejected = [
                {"domaine": e.domaine_label, "bordereau": e.num_bord, "erreurs": [x.label for x in e.errors]}
                for e in acquit.rejected
            ]
            return Moved(
                to,
                event="acknowledged" if to is State.ACKNOWLEDGED else "rejected_by_dgfip",
                remote_status=status.code,
                data={"status": status.label, "accepted": acquit.accepted, "rejected": rejected},
                documents=[NewDocument("ack", ack, name=f"ACK_{t.identifiers.get('nom_fic') or t.id}.xml")],
            )
        return self._status_move(t, status.code, status.label, status.message)

    def _status_move(self, t: Transmission, code: int, label: str, message: str) -> PollOutcome:
        entry = status_table(t.flow)[code]
        if entry.state is t.state:
            if t.remote_status == str(code):
                return NoChange()
            return Moved(t.state, event="status", remote_status=code, data={"status": label})
        data = {"status": label, **({"message": message} if message else {})}
        return Moved(entry.state, event=f"status_{entry.state.value}", remote_status=code, data=data)

    async def _poll_acte(self, prof: Profile, t: Transmission) -> PollOutcome:
        from demat.actes.read import read_message

        assert t.remote_id is not None
        if t.state is State.CANCEL_REQUESTED:
            return await self._poll_cancellation(prof, t)
        status = await self.platforms.actes(prof).status(t.remote_id)
        entry = status_table(t.flow)[status.code]
        if entry.fetch == "aracte" and status.aracte:
            msg = await _off_loop(read_message, status.aracte)
            return Moved(
                State.ACKNOWLEDGED,
                event="aracte",
                remote_status=status.code,
                data={"status": status.label, "id_acte": msg.id_acte},
                documents=[NewDocument("aracte", status.aracte, name=f"ARActe_{msg.id_acte}.xml")],
            )
        if entry.state is State.REJECTED:
            # Keep the proof: the anomaly XML when the platform gives it, else its message text.
            if status.anomaly:
                docs = [NewDocument("anomalie", status.anomaly, name="anomalie.xml")]
            elif status.message:
                docs = [NewDocument("anomalie", status.message.encode("utf-8"), name="anomalie.txt")]
            else:
                docs = []
            return Moved(
                State.REJECTED,
                event="anomalie",
                remote_status=status.code,
                data={"status": status.label, "message": status.message},
                documents=docs,
            )
        return self._status_move(t, status.code, status.label, status.message)

    async def _poll_cancellation(self, prof: Profile, t: Transmission) -> PollOutcome:
        # The annulation is a transaction of its own (6-1); its AR (ARAnnulation, 6-2) closes it.
        asked = [e for e in await self.store.journal(t.id) if e.event == "cancel_requested"]
        cancel_id = asked[-1].payload.get("annulation_transaction") if asked else None
        if not cancel_id:
            return Fatal("transaction d'annulation inconnue", code="CANCEL_LOST", state=State.FAILED)
        status = await self.platforms.actes(prof).status(str(cancel_id))
        if status.code == ActesStatusCode.ACQUITTEMENT_RECU:
            docs = (
                [NewDocument("ar_annulation", status.reply, name="ARAnnulation.xml")] if status.reply else []
            )
            return Moved(State.CANCELLED, event="ar_annulation", remote_status=status.code, documents=docs)
        if status.failed:
            data = {"status": status.label, "message": status.message}
            return Moved(State.ACKNOWLEDGED, event="cancel_refused", data=data)
        return NoChange()

    async def reconcile(self, t: Transmission) -> ReconcileResult:
        """Ask the platform whether it holds a transmission whose submission outcome is unknown."""
        prof = self.settings.profile(t.profile)
        if t.flow == Flow.PES:
            sha1 = str(t.identifiers.get("sha1") or "") or await asyncio.to_thread(
                _sha1_file, self.spool.path(t.digest)
            )
            found = await self.platforms.helios(prof).find_pes(sha1)
        else:
            found = await self.platforms.actes(prof).find_acte(t.identifiers["numero"])
        if found.outcome is Lookup.FOUND:
            return Found(found.remote_id)
        if found.outcome is Lookup.ABSENT:
            return Absent()
        return Undetermined("la plateforme ne permet pas de retrouver cet envoi")

    # -- later préfecture letters ---------------------------------------------------------------

    async def collect_inbox(self) -> None:
        """Collect préfecture letters and PES_Retour files; a platform that fails is logged and
        tried again next time."""
        for what, collect in (
            ("préfecture letters", self.collect_letters),
            ("PES_Retour", self.collect_retours),
        ):
            try:
                await collect()
            except DematError as exc:  # the platform is down: the next round tries again
                log.warning("%s not collected: %s", what, exc)

    async def collect_letters(self) -> list[tuple[Transmission, tuple[str, ...]]]:
        """Fetch the unread préfecture letters (courrier simple, pièces complémentaires,
        observations, déféré) of every platform account, attach each to the acte it is about
        (journaled), and only then mark it read: a crash in between fetches it again, and the
        store keeps identical bytes once. Letters about an acte demat does not know stay unread
        for a person to handle. Returns each attached letter with its message types."""
        attached: list[tuple[Transmission, tuple[str, ...]]] = []
        for _, prof in self._accounts():
            actes = self.platforms.actes(prof)
            for ref in await actes.list_prefecture_documents():
                t = await self._acte_by_remote_id(ref.related_transaction_id)
                if t is None:
                    log.warning(
                        "préfecture letter %s: no acte with transaction %s",
                        ref.id,
                        ref.related_transaction_id,
                    )
                    continue
                data = await actes.fetch_prefecture_document(ref.id)
                types = await asyncio.to_thread(_letter_types, data)
                await self.store.add_document(
                    t.id, "prefecture", data, name=f"{'+'.join(types)}_{ref.id}.tar.gz"
                )
                await actes.mark_document_read(ref.id)
                attached.append((t, types))
        return attached

    async def collect_retours(self) -> list[Inbound]:
        """Fetch the unread PES_Retour files of every HELIOS account, keep each in the store
        (journaled, with its header and the profile whose IdColl/CodBud it names), and only
        then mark it read: a crash in between fetches it again, and the store keeps identical
        bytes once. A file no profile matches, or that cannot be read as a PES_Retour, is kept
        all the same (profile none, the reason in its ``info``). Returns the new ones."""
        kept: list[Inbound] = []
        for account, prof in self._accounts():
            helios = self.platforms.helios(prof)
            for ref in await helios.list_retours():
                data = await helios.fetch_retour(ref.id)
                info = await _off_loop(_retour_info, data)
                profile = self._retour_profile(account, info)
                if profile is None:
                    log.warning(
                        "PES_Retour %s (%s): no profile for IdColl %s", ref.id, ref.name, info.get("id_coll")
                    )
                doc, created = await self.store.add_inbound(
                    account, "pes_retour", ref.id, data, name=ref.name, profile=profile, info=info
                )
                await helios.mark_retour_read(ref.id)
                if created:
                    kept.append(doc)
        return kept

    def _accounts(self) -> list[tuple[str, Profile]]:
        """Each platform account once, with a profile that reaches it."""
        first: dict[str, Profile] = {}
        for prof in self.settings.profiles.values():
            if prof.platform is not None:
                first.setdefault(prof.platform, prof)
        return list(first.items())

    def _retour_profile(self, account: str, info: Mapping[str, Any]) -> str | None:
        """The profile a PES_Retour is about: same account, its SIRET the IdColl, and its CodBud
        when both say one; none when nothing or several match."""
        siret, cod_bud = info.get("id_coll"), info.get("cod_bud")
        found = [
            p.name
            for p in self.settings.profiles.values()
            if p.platform == account
            and siret
            and p.siret == siret
            and not (cod_bud and p.cod_bud and p.cod_bud != cod_bud)
        ]
        return found[0] if len(found) == 1 else None

    async def _acte_by_remote_id(self, remote_id: str | None) -> Transmission | None:
        if not remote_id:
            return None
        for flow in (Flow.ACTES, Flow.BUDGET):
            found = await self.store.find_remote(flow, remote_id)
            if found is not None:
                return found
        return None

    # -- tracking -----------------------------------------------------------------------------

    async def poll_once(
        self, stop: asyncio.Event | None = None, *, handed_out: asyncio.Event | None = None
    ) -> CycleReport:
        """One poller cycle: reconcile what is in doubt, then send and poll what is due (see
        :meth:`~demat.tracking.Poller.run_once` for ``stop`` and ``handed_out``)."""
        report = await self.poller.reconcile_and_run(stop, handed_out=handed_out)
        await self._fire_callbacks()
        return report

    async def run_poller(self, stop: asyncio.Event, *, letters_every: float = 600.0) -> None:
        """Poll until ``stop`` is set (finishing the work in flight, releasing what has not
        started); collect préfecture letters and PES_Retour files every ``letters_every``
        seconds. Cycles overlap (see :meth:`~demat.tracking.Poller.drive`)."""
        loop = asyncio.get_running_loop()
        letters_due = loop.time()

        async def inbox() -> None:
            nonlocal letters_due
            if loop.time() >= letters_due:
                letters_due = loop.time() + letters_every
                await self.collect_inbox()

        async def cycle(handed_out: asyncio.Event) -> CycleReport:
            return await self.poll_once(stop, handed_out=handed_out)

        await self.poller.drive(cycle, stop, between=inbox)

    async def _fire_callbacks(self) -> None:
        moved, self._moved = self._moved, {}
        if not (self._callbacks.acknowledged or self._callbacks.rejected):
            return  # nobody listens: spare a store read per settled transmission
        for tid in moved:
            t = await self.store.get(tid)
            targets = (
                self._callbacks.acknowledged if t.state is State.ACKNOWLEDGED else self._callbacks.rejected
            )
            if t.state not in SETTLED:
                continue
            for cb in targets:
                try:
                    result = cb(t)
                    if asyncio.iscoroutine(result):
                        await result
                except Exception:
                    log.exception("callback failed for %s", tid)

    async def wait(
        self, ids: Sequence[str], *, timeout: float | None = None, interval: float = 0.2
    ) -> list[Transmission]:
        """Poll until every transmission in ``ids`` is settled (or ``timeout`` passes)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            current = await self.store.get_many(ids)
            if all(t.settled for t in current):
                return current
            if deadline is not None and loop.time() > deadline:
                return current
            report = await self.poll_once()
            if not report.acquired:
                await asyncio.sleep(interval)

    async def status(self, transmission_id: str) -> Transmission:
        return await self.store.get(transmission_id)


__all__ = ["Gateway", "PlatformSet", "SendResult"]
