"""Onward transfer of archive packages to a definitive SAE, and archiving of what settled.

**The ``archive_transfer`` flow.** A transfer is a transmission like any other: ``send`` reads
the SIP's manifest (its MessageIdentifier, originating agency, agreement), keeps the SIP in the
spool and records it under its SHA-256, naming the SAE account it goes to (a ``[platforms.NAME]``
of kind ``vitam`` or ``asalae``, whose service ``"sae"`` is an
:class:`~demat.transport.protocol.ArchiveTransferPlatform`). The poller posts it: the SAE's
receipt (Vitam's 202, as@lae's answer) is ``SUBMITTED`` — never "archived"; a refusal given at
once (Vitam's 503 with a KO reply) is ``REFUSED`` with that reply kept. It then polls: as@lae's
acknowledgement is kept when it comes (``PROGRESS``), and the ArchiveTransferReply decides —
accepted (``OK``/``WARNING``, ``000``…) is ``ACK_OK``, refused is ``ACK_KO`` with the reason,
a code no one knows fails the transmission for a person to read. Every reply is kept as a
document of the transmission. A submission whose outcome is unknown is looked up
(:class:`~demat.transport.protocol.ArchiveTransferLookup`: Vitam's logbook by the transmission
id sent as ``X-Application-Id``, as@lae's acknowledgement); an SAE that cannot tell leaves it to
a person (``Undetermined(needs_person=True)``), never to a resend.

**Auto-archive** (:class:`AutoArchiver`). When a transmission reaches a state its profile's
archiving names for its flow (``[auto_archive] flows``), its package is built from the store
(:func:`archive_input`: the documents sent and received, the journal excerpt), deposited in the
intermediate archive when the gateway has one, and, when ``transfer_to`` names an SAE, recorded
for transfer. The gateway calls it after each poll cycle with what settled there, and
:meth:`AutoArchiver.catch_up` at the poller's start for what settled while no poller ran
and every ``letters_every`` after (a crash between a move and its archiving, an archive that was
down, lose nothing). Transfers that settle are noted in the archive's ledger.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.archive import Agency, ArchiveDocument, ArchiveInput, ArchiveReply, build_package, read_reply
from demat.config import AutoArchive
from demat.errors import ConfigError, DematError, DuplicateSubmission, RemoteRejected
from demat.gateway.flows import FlowContext, status_outcome
from demat.gateway.flows.common import SendResult
from demat.gateway.offload import offload, read_document
from demat.tracking import (
    SETTLED,
    Absent,
    Event,
    Fatal,
    Found,
    Happened,
    NewDocument,
    PollOutcome,
    ReconcileResult,
    State,
    Transmission,
    Undetermined,
)
from demat.transport.protocol import (
    ArchiveTransferLookup,
    ArchiveTransferPlatform,
    Lookup,
    SipTransfer,
    TransferRef,
)
from demat.transport.sip import SipIdentity, manifest_sha512, read_manifest, sip_identity

if TYPE_CHECKING:
    from demat.archive import Package
    from demat.storage.service import ArchiveStore

log = logging.getLogger("demat.gateway.archive")

#: The flow's name in the store.
FLOW = "archive_transfer"
#: Kind of the document that keeps as@lae's acknowledgement of receipt.
ACKNOWLEDGEMENT = "acknowledgement"
#: Kind of the document that keeps the SAE's ArchiveTransferReply.
TRANSFER_REPLY = "transfer_reply"


class ArchiveTransferFlow:
    """SEDA packages to a definitive SAE (see the module docstring)."""

    flow = FLOW

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def sae(self, account: str) -> ArchiveTransferPlatform:
        """The ``"sae"`` service of the platform account ``account``."""
        service = self.ctx.platforms.account(account).services.get("sae")
        if not isinstance(service, ArchiveTransferPlatform):
            kind = (
                self.ctx.settings.platforms[account].kind if account in self.ctx.settings.platforms else "?"
            )
            raise ConfigError(
                f"platform account {account!r} (kind {kind}) is not an SAE (kind vitam or asalae)",
                code="NOT_AN_SAE",
            )
        return service

    # -- check and record ---------------------------------------------------------------------

    async def send(
        self,
        sip: Path,
        *,
        profile: str,
        to: str | None = None,
        source: str | None = None,
        package: str | None = None,
        force: bool = False,
    ) -> SendResult:
        """Record the transfer of the SIP at ``sip`` to the SAE account ``to`` (by default the
        profile's ``auto_archive.transfer_to``). ``source`` is the transmission the package
        archives, ``package`` its digest in the intermediate archive, when known.

        Raises :class:`~demat.errors.PackagingError` for a SIP without a SEDA 2.x manifest at its
        root, :class:`~demat.errors.ConfigError` when no SAE is named or the account is not one.
        """
        self.ctx.profile(profile)
        account = to or self.ctx.settings.archiving(profile).transfer_to
        if not account:
            raise ConfigError(
                f"profile {profile!r}: no SAE to transfer to (give one, or set auto_archive.transfer_to)",
                code="CONFIG_MISSING",
            )
        self.sae(account)  # an account that is not an SAE is refused now, not at sending
        digest, identity, manifest_digest = await offload(self._check_and_spool, sip)
        identifiers: dict[str, Any] = {
            "sae": account,
            "message_identifier": identity.message_identifier,
            "originating_agency": identity.originating_agency,
            "archival_agreement": identity.archival_agreement,
            "seda_version": identity.seda_version,
            "manifest_sha512": manifest_digest,
        }
        if source:
            identifiers["source"] = source
        if package:
            identifiers["package"] = package
        t, created = await self.ctx.store.record(
            profile, self.flow, digest, f"{identity.message_identifier}.zip", identifiers, force=force
        )
        return SendResult(t, created)

    def _check_and_spool(self, sip: Path) -> tuple[str, SipIdentity, str]:
        identity = sip_identity(read_manifest(sip))
        return self.ctx.spool.put_file(sip), identity, manifest_sha512(sip)

    # -- the poller's part ----------------------------------------------------------------------

    def _transfer(self, t: Transmission) -> SipTransfer:
        ids = t.identifiers
        return SipTransfer(
            self.ctx.spool.path(t.digest),
            str(ids["message_identifier"]),
            str(ids["originating_agency"]),
            t.id,
        )

    async def submit(self, t: Transmission) -> PollOutcome:
        """Post the SIP to the SAE: its receipt is ``SUBMITTED``, an immediate refusal ``REFUSED``."""
        if not self.ctx.spool.has(t.digest):
            return Fatal("le SIP n'est plus dans le dépôt local", code="SPOOL_MISSING")
        account = str(t.identifiers["sae"])
        try:
            answer = await self.sae(account).transfer(self._transfer(t))
        except DuplicateSubmission as dup:
            if dup.existing_id:
                return Happened(
                    Event.SUBMITTED,
                    remote_id=dup.existing_id,
                    data={"sae": account, "already_on_platform": True},
                )
            return Happened(Event.REFUSED, data={"sae": account, "message": dup.message, "duplicate": True})
        except RemoteRejected as exc:
            return Happened(Event.REFUSED, data={"sae": account, "message": exc.message, "code": exc.code})
        if answer.reply is not None:
            document = NewDocument(TRANSFER_REPLY, answer.reply, name=f"ATR_{answer.remote_id or t.id}.xml")
            data = {"sae": account, "message": answer.message, **_reply_facts(answer.reply)}
            return Happened(Event.REFUSED, remote_id=answer.remote_id, data=data, documents=[document])
        assert answer.remote_id is not None
        return Happened(
            Event.SUBMITTED, remote_id=answer.remote_id, data={"sae": account, "message": answer.message}
        )

    async def poll(self, t: Transmission) -> PollOutcome:
        """Where the transfer stands; the acknowledgement kept when it comes; the reply decides."""
        assert t.remote_id is not None
        ids = t.identifiers
        ref = TransferRef(t.remote_id, str(ids["message_identifier"]), str(ids["originating_agency"]))
        progress = await self.sae(str(ids["sae"])).progress(ref)
        documents: list[NewDocument] = []
        if progress.acknowledgement is not None and not await self.ctx.store.documents(
            t.id, kind=ACKNOWLEDGEMENT
        ):
            documents.append(
                NewDocument(ACKNOWLEDGEMENT, progress.acknowledgement, name=f"ACK_{t.remote_id}.xml")
            )
        if progress.reply is None:
            outcome = status_outcome(t, progress.status)
            if not documents:
                return outcome
            event = outcome.event if isinstance(outcome, Happened) else Event.PROGRESS
            facts = _reply_facts(progress.acknowledgement or b"")
            data = {"status": progress.status.label, "acknowledgement": facts.get("reason")}
            return Happened(event, remote_status=progress.status.code, data=data, documents=documents)
        reply = await read_document(_read_reply, progress.reply)
        documents.append(NewDocument(TRANSFER_REPLY, progress.reply, name=f"ATR_{t.remote_id}.xml"))
        data = {"status": progress.status.label, **_facts(reply)}
        if reply.kind != "ArchiveTransferReply" or reply.accepted is None:
            data["error"] = f"réponse que demat ne sait pas lire : {reply.reason}"
            return Happened(Event.FAILED, remote_status=progress.status.code, data=data, documents=documents)
        event = Event.ACK_OK if reply.accepted else Event.ACK_KO
        return Happened(event, remote_status=progress.status.code, data=data, documents=documents)

    async def find(self, t: Transmission) -> ReconcileResult:
        """Ask the SAE whether it holds this transfer."""
        sae = self.sae(str(t.identifiers["sae"]))
        if not isinstance(sae, ArchiveTransferLookup):
            return Undetermined("cet SAE ne permet pas de retrouver un transfert", needs_person=True)
        found = await sae.find_transfer(self._transfer(t))
        if found.outcome is Lookup.FOUND and found.remote_id:
            return Found(found.remote_id)
        if found.outcome is Lookup.ABSENT:
            return Absent()
        return Undetermined(
            "l'SAE ne peut pas dire s'il détient ce transfert (compte sans accès au journal)",
            needs_person=True,
        )

    async def collect(self) -> list[object]:
        """Nothing comes from an SAE on its own."""
        return []


def _read_reply(data: bytes) -> ArchiveReply:
    try:
        return read_reply(data)
    except DematError as exc:
        return ArchiveReply("unreadable", None, None, f"réponse illisible : {exc.message}")


def _facts(reply: ArchiveReply) -> dict[str, Any]:
    """What the journal says of a reply (no personal data: codes, reason, ids)."""
    return {
        "reply_code": reply.reply_code,
        "accepted": reply.accepted,
        "archived": bool(reply.accepted) and not reply.test,
        "reason": reply.reason,
        "test": reply.test,
        "grant_date": reply.grant_date,
        "units": len(reply.system_ids),
    }


def _reply_facts(data: bytes) -> dict[str, Any]:
    return _facts(_read_reply(data)) if data else {}


# -- auto-archive ---------------------------------------------------------------------------------


async def archive_input(ctx: FlowContext, t: Transmission, policy: AutoArchive) -> ArchiveInput:
    """A settled transmission as the archive sees it: the document sent (the spooled bytes, or
    what its flow lists), every document received, the journal excerpt."""
    prof = ctx.profile(t.profile)
    documents: list[ArchiveDocument] = []
    if ctx.spool.has(t.digest):
        documents.append(
            ArchiveDocument(t.name, ctx.spool.path(t.digest), f"{t.flow}_envoi", "sent", t.created_at)
        )
    for doc in await ctx.store.documents(t.id):
        name = doc.name or f"{doc.kind}_{doc.id}"
        documents.append(ArchiveDocument(name, doc.content, doc.kind, "received", doc.received_at))
    journal = await ctx.store.journal(t.id)
    entries = [
        {
            "seq": e.seq,
            "at": e.at.isoformat(),
            "event": e.event,
            "from": e.from_state,
            "to": e.to_state,
            "data": e.payload,
            "hash": e.hash,
        }
        for e in journal
    ]
    started = journal[0].at if journal else t.created_at
    finished = journal[-1].at if journal else t.updated_at
    identifiers = {k: str(v) for k, v in t.identifiers.items() if isinstance(v, str | int | float)}
    return ArchiveInput(
        transmission_id=t.id,
        profile=t.profile,
        originating_agency=Agency(prof.siret or prof.siren, prof.label or prof.name),
        flow=t.flow,
        name=t.name,
        documents=documents,
        started=_utc(started),
        finished=_utc(finished),
        journal=entries,
        identifiers=identifiers,
        state=t.state.value,
        remote_id=t.remote_id,
        archival_agency=Agency(policy.archival_agency or "SAE-INTERMEDIAIRE"),
        archival_agreement=policy.archival_agreement,
    )


def _utc(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Archived:
    """What archiving a settled transmission did: the package built (its manifest's SHA-512),
    whether the intermediate archive holds it, and the transfer recorded, if any."""

    transmission: str
    package: str
    deposited: bool
    transfer: Transmission | None = None


class AutoArchiver:
    """Archives settled transmissions as their profile's archiving says (see the module
    docstring). ``archive`` is the intermediate archive packages are deposited in (none: they
    are only built and transferred)."""

    def __init__(
        self, ctx: FlowContext, transfers: ArchiveTransferFlow, archive: ArchiveStore | None = None
    ) -> None:
        self.ctx = ctx
        self.transfers = transfers
        self.archive = archive

    def wants(self, t: Transmission) -> bool:
        """Whether ``t``, as it stands, is to be archived now."""
        if t.flow == FLOW or t.profile not in self.ctx.settings.profiles:
            return False
        return self.ctx.settings.archiving(t.profile).triggers(t.flow, t.state.value)

    async def settled(self, ids: Iterable[str]) -> list[Archived]:
        """Archive those of ``ids`` that are to be; note settled transfers in the archive's ledger.
        A failure is logged: :meth:`catch_up` (run by the poller every ``letters_every``) tries
        again."""
        done: list[Archived] = []
        for t in await self.ctx.store.get_many(sorted(set(ids))):
            try:
                if t.flow == FLOW:
                    await self._note_transfer(t)
                elif self.wants(t):
                    done.append(await self.archive_one(t))
            except DematError as exc:
                log.warning("%s: not archived now (%s); tried again later", t.id, exc)
        return done

    async def archive_one(self, t: Transmission, *, to: str | None = None, force: bool = False) -> Archived:
        """Build ``t``'s package, deposit it, record its transfer to ``to`` (default: the
        profile's ``transfer_to``). Idempotent: the same package is the same deposit and the
        same transfer."""
        policy = self.ctx.settings.archiving(t.profile)
        if to is not None:
            policy = policy.model_copy(update={"transfer_to": to})
        facts = await archive_input(self.ctx, t, policy)
        build = functools.partial(build_package, seda_version=policy.seda_version)
        package: Package = await offload(build, facts)
        deposited = False
        if self.archive is not None:
            await self.archive.deposit(package)
            deposited = True
        transfer = None
        if policy.transfer_to:
            with tempfile.TemporaryDirectory(prefix="demat-sip-") as tmp:
                sip = Path(tmp) / "sip.zip"
                await offload(package.to_zip, sip)
                sent = await self.transfers.send(
                    sip,
                    profile=t.profile,
                    to=policy.transfer_to,
                    source=t.id,
                    package=package.digest,
                    force=force,
                )
            transfer = sent.transmission
        log.info(
            "%s archived: package %s…%s", t.id, package.digest[:16], " transfer recorded" if transfer else ""
        )
        return Archived(t.id, package.digest, deposited, transfer)

    async def catch_up(self) -> list[Archived]:
        """Archive what settled while nobody archived it (a crash between a move and its
        archiving, a poller stopped): every transmission its archiving wants that neither the
        archive nor a transfer knows."""
        known = {str(t.identifiers.get("source")) for t in await self.ctx.store.transmissions(flow=FLOW)}
        if self.archive is not None:
            known |= {d.transmission_id for d in self.archive.deposits().values()}
        settings = self.ctx.settings
        policies = [
            settings.auto_archive,
            *(p.auto_archive for p in settings.profiles.values() if p.auto_archive),
        ]
        wanted: dict[str, set[State]] = {}
        for policy in policies:
            for flow, names in policy.flows.items():
                wanted.setdefault(flow, set()).update(State(s) for s in names)
        done: list[Archived] = []
        for flow, states in sorted(wanted.items()):
            for t in await self.ctx.store.transmissions(state=states, flow=flow):
                if t.id not in known and self.wants(t):
                    done.extend(await self.settled([t.id]))
        return done

    async def _note_transfer(self, t: Transmission) -> None:
        if self.archive is None or t.state not in SETTLED:
            return
        replies = await self.ctx.store.documents(t.id, kind=TRANSFER_REPLY)
        facts = _reply_facts(replies[-1].content) if replies else {}
        await self.archive.note(
            "transfer",
            {
                "transmission": t.id,
                "package": t.identifiers.get("package"),
                "source": t.identifiers.get("source"),
                "sae": t.identifiers.get("sae"),
                "remote_id": t.remote_id,
                "state": t.state.value,
                "reply_sha256": replies[-1].digest if replies else None,
                **{k: facts.get(k) for k in ("reply_code", "accepted", "archived")},
            },
        )


def transfer_state(t: Transmission) -> str:
    """In words, where a transfer stands (``archived`` only once the reply says so)."""
    if t.state is State.ACKNOWLEDGED:
        return "archived"
    if t.state is State.SENT:
        return "received by the SAE, reply awaited"
    return t.state.value


__all__ = [
    "ACKNOWLEDGEMENT",
    "FLOW",
    "TRANSFER_REPLY",
    "ArchiveTransferFlow",
    "Archived",
    "AutoArchiver",
    "archive_input",
    "transfer_state",
]
