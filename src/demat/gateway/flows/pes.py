"""The PES flow: PES_Aller files to the DGFiP's HELIOS, their PES_ACQUIT, and PES_Retour files.

Checked (XSD, rules, identity against the profile) and kept in the spool in one read of the
file; submitted to the account's ``"helios"`` service; polled until the PES_ACQUIT is in, whose
own verdict decides between acknowledged and rejected; reconciled after a crash by sha1 where
the platform can look a file up (:class:`~demat.transport.protocol.HeliosLookup`), left to a
person where it cannot. Collects the PES_Retour files Hélios sends, routed to their profile.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from demat.config import Profile
from demat.errors import ConfigError, DematError, IdentityMismatch, ValidationError
from demat.gateway import options
from demat.gateway.flows import FlowContext, status_outcome
from demat.gateway.flows.common import SendResult, submitted
from demat.gateway.offload import offload, read_document
from demat.pes.ack import read_acquit
from demat.pes.inspect import PesInfo, check_identity
from demat.pes.retour import read_retour_header
from demat.pes.rules import Finding
from demat.pes.validate import ValidationReport, validate_pes
from demat.spool import sha1_file
from demat.tracking import (
    Absent,
    Event,
    Fatal,
    Found,
    Happened,
    Inbound,
    NewDocument,
    PollOutcome,
    ReconcileResult,
    Transmission,
    Undetermined,
)
from demat.transport.protocol import HeliosLookup, HeliosPlatform, Lookup
from demat.xml.safe import XmlLimits

log = logging.getLogger("demat.gateway.pes")


class PesFlow:
    """PES V2 through a HELIOS service (see the module docstring)."""

    flow = "pes"

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.limits = options.xml_limits(ctx.settings)
        self.max_pj_inflated = options.max_pj_inflated(ctx.settings)
        self.max_pj_text = options.max_pj_text(ctx.settings)

    def helios(self, profile: Profile) -> HeliosPlatform:
        """The HELIOS service of ``profile``'s account."""
        service = self.ctx.platforms.service(profile, "helios")
        if not isinstance(service, HeliosPlatform):
            raise ConfigError(f"profile {profile.name!r}: the helios service is not a HELIOS platform")
        return service

    # -- check and record ---------------------------------------------------------------------

    async def send(
        self, source: Path | bytes, *, profile: str, name: str | None = None, force: bool = False
    ) -> SendResult:
        """Check a PES_Aller (XSD, rules, identity) and record it for sending.

        Raises :class:`~demat.errors.ValidationError` listing the errors of an invalid file and
        :class:`~demat.errors.IdentityMismatch` when its IdColl is not the profile's SIRET.
        """
        prof = self.ctx.profile(profile)
        label = name or (source.name if isinstance(source, Path) else "PES.xml")
        info, report, hashes = await offload(self._check_and_spool, source, prof, label)
        if not report.valid or hashes is None:
            first = report.errors[0]
            more = f" (+{len(report.errors) - 1} autre(s))" if len(report.errors) > 1 else ""
            raise ValidationError(
                f"PES invalide : {first.message}{more}", file=label, line=first.line, code=first.code
            )
        digest, sha1 = hashes
        identifiers = {
            "nom_fic": info.nom_fic,
            "id_coll": info.id_coll,
            "cod_col": info.cod_col,
            "cod_bud": info.cod_bud,
            "bordereaux": [b.id_bord for b in info.bordereaux],
            "signed": info.signed,
            "sha1": sha1,
        }
        t, created = await self.ctx.store.record(
            prof.name, self.flow, digest, label, identifiers, force=force
        )
        return SendResult(t, created, tuple(w.message for w in report.warnings))

    def _check_and_spool(
        self, source: Path | bytes, prof: Profile, label: str
    ) -> tuple[PesInfo, ValidationReport, tuple[str, str] | None]:
        # One read of the file: the validator reads it through the spool's intake, which keeps
        # a copy and hashes it (sha256 for the spool, sha1 for S²LOW) as it goes.
        if isinstance(source, bytes):
            report = self._validate(source, prof, label)
            spooled = (self.ctx.spool.put_bytes(source), _sha1(source)) if report.valid else None
            return report.info or PesInfo(file=label), report, spooled
        with self.ctx.spool.intake(source) as intake:
            report = self._validate(intake.reader, prof, label)
            return report.info or PesInfo(file=label), report, intake.commit() if report.valid else None

    def _validate(self, source: Any, prof: Profile, label: str) -> ValidationReport:
        report = validate_pes(
            source,
            registry=self.ctx.registry,
            limits=self.limits,
            max_pj_inflated=self.max_pj_inflated,
            max_pj_text=self.max_pj_text,
        )
        if report.info is None:  # not readable as a PES at all: the report says why
            return report
        report.info.file = label
        try:  # its identity must be the profile's
            check_identity(
                report.info,
                siret=prof.siret,
                siren=prof.siren,
                id_post=prof.id_post,
                cod_col=prof.cod_col,
                cod_bud=prof.cod_bud,
            )
        except IdentityMismatch as exc:
            if report.valid:
                raise
            # Refused for its own errors first (a file cut short by a cap reads as another
            # collectivité's); the identity mismatch is listed after them.
            report.errors.append(Finding(exc.code, exc.message))
        return report

    # -- the poller's part ----------------------------------------------------------------------

    async def submit(self, t: Transmission) -> PollOutcome:
        """Upload the spooled PES."""
        path = self.ctx.spool.path(t.digest)
        if not path.is_file():
            return Fatal("le document n'est plus dans le dépôt local", code="SPOOL_MISSING")
        prof = self.ctx.profile(t.profile)
        return await submitted(self.helios(prof).submit_pes(t.name, path))

    async def poll(self, t: Transmission) -> PollOutcome:
        """The transaction's status; once the PES_ACQUIT is ready, its verdict."""
        assert t.remote_id is not None
        helios = self.helios(self.ctx.profile(t.profile))
        status = await helios.status(t.remote_id)
        if status.fetch != "ack":
            return status_outcome(t, status)
        ack = await helios.fetch_ack(t.remote_id)
        acquit = await read_document(functools.partial(read_acquit, limits=self.limits), ack)
        accepted = acquit.accepted and status.event is Event.ACK_OK
        rejected = [
            {"domaine": e.domaine_label, "bordereau": e.num_bord, "erreurs": [x.label for x in e.errors]}
            for e in acquit.rejected
        ]
        return Happened(
            Event.ACK_OK if accepted else Event.ACK_KO,
            remote_status=status.code,
            data={
                "status": status.label,
                "accepted": acquit.accepted,
                "rejected": rejected,
                "non_conforme": [f"ligne {d.line}: {d.message}" for d in acquit.schema_errors],
            },
            documents=[NewDocument("ack", ack, name=f"ACK_{t.identifiers.get('nom_fic') or t.id}.xml")],
        )

    async def find(self, t: Transmission) -> ReconcileResult:
        """Ask the platform for a file with the same sha1, where it can tell."""
        helios = self.helios(self.ctx.profile(t.profile))
        if not isinstance(helios, HeliosLookup):
            return Undetermined(
                "la plateforme ne permet pas de retrouver un envoi HELIOS : "
                "vérifier sur la plateforme puis régler l'envoi à la main",
                needs_person=True,
            )
        sha1 = str(t.identifiers.get("sha1") or "") or await offload(sha1_file, self.ctx.spool.path(t.digest))
        found = await helios.find_pes(sha1)
        if found.outcome is Lookup.FOUND:
            return Found(found.remote_id)
        if found.outcome is Lookup.ABSENT:
            return Absent()
        return Undetermined("la plateforme n'a pas pu dire si elle détient ce fichier")

    # -- PES_Retour -----------------------------------------------------------------------------

    async def collect(self) -> list[Inbound]:
        """Fetch the unread PES_Retour files of every HELIOS account, keep each in the store
        (journaled, with its header and the profile whose IdColl/CodBud it names), and only
        then mark it read: a crash in between fetches it again, and the store keeps identical
        bytes once. A file no profile matches, or that cannot be read as a PES_Retour, is kept
        all the same (profile none, the reason in its ``info``). Returns the new ones."""
        kept: list[Inbound] = []
        for account, prof in self.ctx.platforms.accounts():
            if "helios" not in self.ctx.platforms.of(prof).services:
                continue
            helios = self.helios(prof)
            for ref in await helios.list_retours():
                data = await helios.fetch_retour(ref.id)
                info = await read_document(functools.partial(_retour_info, limits=self.limits), data)
                profile = self._retour_profile(account, info)
                if profile is None:
                    log.warning(
                        "PES_Retour %s (%s): no profile for IdColl %s", ref.id, ref.name, info.get("id_coll")
                    )
                doc, created = await self.ctx.store.add_inbound(
                    account, "pes_retour", ref.id, data, name=ref.name, profile=profile, info=info
                )
                await helios.mark_retour_read(ref.id)
                if created:
                    kept.append(doc)
        return kept

    def _retour_profile(self, account: str, info: Mapping[str, Any]) -> str | None:
        """The profile a PES_Retour is about: same account, its SIRET the IdColl, and its CodBud
        when both say one; none when nothing or several match."""
        siret, cod_bud = info.get("id_coll"), info.get("cod_bud")
        found = [
            p.name
            for p in self.ctx.settings.profiles.values()
            if p.platform == account
            and siret
            and p.siret == siret
            and not (cod_bud and p.cod_bud and p.cod_bud != cod_bud)
        ]
        return found[0] if len(found) == 1 else None


def _retour_info(data: bytes, *, limits: XmlLimits) -> dict[str, Any]:
    """What a PES_Retour's header says, or why it could not be read (kept all the same)."""
    try:
        return read_retour_header(data, limits=limits).to_dict()
    except DematError as exc:
        return {"error": exc.message, "code": exc.code}


def _sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - S²LOW identifies uploads by sha1


__all__ = ["PesFlow"]
