"""The ACTES flow: actes to the préfecture's contrôle de légalité, their ARActe or anomaly,
cancellations, and the préfecture's later letters.

Checked (every rule and the schema, by building the package once) and kept in the spool with a
JSON description; submitted to the account's ``"actes"`` service; polled until the ARActe or an
anomaly comes; an acknowledged acte can be cancelled (the annulation is a transaction of its
own, polled until its ARAnnulation). Reconciled by NumeroInterne where the platform can look
an acte up (:class:`~demat.transport.protocol.ActesLookup`). Budget acts reuse all of it
(:mod:`demat.gateway.flows.budget`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demat.actes.limits import ActesLimits
from demat.actes.model import Acte, ActeDocument
from demat.config import Profile
from demat.errors import ConfigError
from demat.gateway import options
from demat.gateway.flows import FlowContext, status_outcome
from demat.gateway.flows.common import SendResult, submitted
from demat.gateway.identity import actes_identity
from demat.gateway.offload import offload, read_document
from demat.tracking import (
    Absent,
    Event,
    Fatal,
    Found,
    Happened,
    NewDocument,
    NoChange,
    PollOutcome,
    ReconcileResult,
    State,
    Transmission,
    Undetermined,
)
from demat.transport.acte_fields import submission_from_acte
from demat.transport.protocol import ActesLookup, ActesPlatform, Lookup

log = logging.getLogger("demat.gateway.actes")


class ActesFlow:
    """ACTES through an ACTES service (see the module docstring)."""

    flow = "actes"

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.xml_limits = options.xml_limits(ctx.settings)  # a budget document
        self.actes_limits = options.actes_limits(ctx.settings)  # an archive and its messages

    def actes(self, profile: Profile) -> ActesPlatform:
        """The ACTES service of ``profile``'s account."""
        service = self.ctx.platforms.service(profile, "actes")
        if not isinstance(service, ActesPlatform):
            raise ConfigError(f"profile {profile.name!r}: the actes service is not an ACTES platform")
        return service

    # -- check and record ---------------------------------------------------------------------

    async def send(self, acte: Acte, *, profile: str, force: bool = False) -> SendResult:
        """Check an acte (rules, formats, size) and record it for sending."""
        from demat.actes.package import package_acte

        prof = self.ctx.profile(profile)
        identity = actes_identity(prof)

        def check_and_spool() -> tuple[tuple[str, ...], list[tuple[ActeDocument, str]]]:
            # Building the package runs every rule and the schema on the message (the bytes are
            # not kept); then the documents go to the spool. One worker-thread hop.
            pkg = package_acte(identity, acte, serial=1, today=dt.date.today(), limits=self.actes_limits)
            return tuple(w.message for w in pkg.warnings), self.spool_documents(acte)

        warnings, blobs = await offload(check_and_spool)
        return await self.record(prof, acte, blobs, force, warnings)

    def spool_documents(self, acte: Acte) -> list[tuple[ActeDocument, str]]:
        """Keep the acte's documents in the spool (it fsyncs: call it off the event loop)."""
        spool = self.ctx.spool
        return [
            (d, spool.put_file(d.content) if isinstance(d.content, Path) else spool.put_bytes(d.content))
            for d in acte.documents
        ]

    async def record(
        self,
        prof: Profile,
        acte: Acte,
        blobs: Sequence[tuple[ActeDocument, str]],
        force: bool,
        warnings: tuple[str, ...],
    ) -> SendResult:
        """Record the acte, described by its fields and its spooled documents' digests."""
        description = _acte_description(acte, blobs)
        digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()
        name = f"{acte.numero} - {acte.objet}"[:200]
        t, created = await self.ctx.store.record(prof.name, self.flow, digest, name, description, force=force)
        return SendResult(t, created, warnings)

    def acte_of(self, t: Transmission) -> Acte:
        """The acte a transmission describes, its documents read from the spool."""
        d = t.identifiers
        spool = self.ctx.spool
        docs = [
            ActeDocument(filename=x["filename"], typology=x["typology"], content=spool.path(x["sha256"]))
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

    # -- the poller's part ----------------------------------------------------------------------

    async def submit(self, t: Transmission) -> PollOutcome:
        """Create the acte transaction on the platform."""
        try:
            acte = self.acte_of(t)
        except (KeyError, ValueError) as exc:
            return Fatal(f"description de l'acte illisible : {exc}", code="SPOOL_MISSING")
        if any(not Path(str(d.content)).is_file() for d in acte.documents):
            return Fatal("un document de l'acte n'est plus dans le dépôt local", code="SPOOL_MISSING")
        prof = self.ctx.profile(t.profile)
        return await submitted(self.actes(prof).submit_acte(submission_from_acte(acte)))

    async def poll(self, t: Transmission) -> PollOutcome:
        """The transaction's status, with the ARActe or the anomaly when it comes."""
        from demat.actes.read import read_message

        assert t.remote_id is not None
        prof = self.ctx.profile(t.profile)
        if t.state is State.CANCEL_REQUESTED:
            return await self._poll_cancellation(prof, t)
        status = await self.actes(prof).status(t.remote_id)
        if status.aracte:
            read = functools.partial(read_message, limits=self.actes_limits.xml())
            msg = await read_document(read, status.aracte)
            return Happened(
                Event.ACK_OK,
                remote_status=status.code,
                data={"status": status.label, "id_acte": msg.id_acte},
                documents=[NewDocument("aracte", status.aracte, name=f"ARActe_{msg.id_acte}.xml")],
            )
        if status.fetch == "anomalie":
            # Keep the proof: the anomaly XML when the platform gives it, else its message text.
            if status.anomaly:
                docs = [NewDocument("anomalie", status.anomaly, name="anomalie.xml")]
            elif status.message:
                docs = [NewDocument("anomalie", status.message.encode("utf-8"), name="anomalie.txt")]
            else:
                docs = []
            data = {"status": status.label, "message": status.message}
            return Happened(status.event, remote_status=status.code, data=data, documents=docs)
        return status_outcome(t, status)

    async def _poll_cancellation(self, prof: Profile, t: Transmission) -> PollOutcome:
        # The annulation is a transaction of its own (6-1); its AR (ARAnnulation, 6-2) closes it.
        asked = [e for e in await self.ctx.store.journal(t.id) if e.event == Event.CANCEL_REQUESTED]
        cancel_id = asked[-1].payload.get("annulation_transaction") if asked else None
        if not cancel_id:
            return Fatal("transaction d'annulation inconnue", code="CANCEL_LOST")
        status = await self.actes(prof).status(str(cancel_id))
        if status.event is Event.ACK_OK:
            docs = (
                [NewDocument("ar_annulation", status.reply, name="ARAnnulation.xml")] if status.reply else []
            )
            return Happened(Event.CANCELLED, remote_status=status.code, documents=docs)
        if status.event in (Event.ACK_KO, Event.REFUSED):
            return Happened(Event.CANCEL_REFUSED, data={"status": status.label, "message": status.message})
        return NoChange()

    async def find(self, t: Transmission) -> ReconcileResult:
        """Ask the platform for an acte with the same NumeroInterne, where it can tell."""
        actes = self.actes(self.ctx.profile(t.profile))
        if not isinstance(actes, ActesLookup):
            return Undetermined("la plateforme ne permet pas de retrouver un acte", needs_person=True)
        found = await actes.find_acte(t.identifiers["numero"])
        if found.outcome is Lookup.FOUND:
            return Found(found.remote_id)
        if found.outcome is Lookup.ABSENT:
            return Absent()
        return Undetermined("la plateforme n'a pas pu dire si elle détient cet acte")

    # -- cancellation ---------------------------------------------------------------------------

    async def cancel(
        self, t: Transmission, *, by: str | None = None, reason: str | None = None
    ) -> Transmission:
        """Ask the préfecture to cancel an acknowledged acte; ``by`` and ``reason`` journaled."""
        from demat.errors import ValidationError
        from demat.tracking import Move

        if t.state is not State.ACKNOWLEDGED or not t.remote_id:
            raise ValidationError(
                f"transmission {t.id} ({t.flow}, {t.state.value}) cannot be cancelled", code="NOT_CANCELLABLE"
            )
        cancel_id = await self.actes(self.ctx.profile(t.profile)).cancel(t.remote_id)
        who = {k: v for k, v in (("by", by), ("reason", reason)) if v}
        store = self.ctx.store
        move = Move.of(
            t,
            Event.CANCEL_REQUESTED,
            data={"annulation_transaction": cancel_id, **who},
            next_attempt_at=store.clock(),
        )
        return await store.move(move)

    # -- later préfecture letters ---------------------------------------------------------------

    async def collect(self) -> list[tuple[Transmission, tuple[str, ...]]]:
        """Fetch the unread préfecture letters (courrier simple, pièces complémentaires,
        observations, déféré) of every ACTES account, attach each to the acte it is about
        (journaled), and only then mark it read: a crash in between fetches it again, and the
        store keeps identical bytes once. Letters about an acte demat does not know stay unread
        for a person to handle. Returns each attached letter with its message types."""
        attached: list[tuple[Transmission, tuple[str, ...]]] = []
        for _, prof in self.ctx.platforms.accounts():
            if "actes" not in self.ctx.platforms.of(prof).services:
                continue
            actes = self.actes(prof)
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
                types = await offload(_letter_types, data, self.actes_limits)
                await self.ctx.store.add_document(
                    t.id, "prefecture", data, name=f"{'+'.join(types)}_{ref.id}.tar.gz"
                )
                await actes.mark_document_read(ref.id)
                attached.append((t, types))
        return attached

    async def _acte_by_remote_id(self, remote_id: str | None) -> Transmission | None:
        if not remote_id:
            return None
        for flow in ACTES_FLOWS:
            found = await self.ctx.store.find_remote(flow, remote_id)
            if found is not None:
                return found
        return None


#: The flows whose transmissions are ACTES transactions (préfecture letters may be about any).
ACTES_FLOWS = ("actes", "budget")


def _letter_types(data: bytes, limits: ActesLimits) -> tuple[str, ...]:
    """The message types of a préfecture archive (CourrierSimple, LettreObservations…)."""
    from demat.actes.archive import open_package

    package = open_package(data, limits=limits)
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


__all__ = ["ACTES_FLOWS", "ActesFlow"]
