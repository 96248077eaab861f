"""The elections flow: electoral lists deposited on demat's deposit server (platform kind
``depot``), with the tableau and the commission's signed page.

``send`` reads and checks each list (:func:`demat.elections.check_extraction`: the same rules
the server's control applies, so a list the server will refuse is said at once, as a warning),
copies every file into the spool, writes the deposit's manifest (the SHA-256 of every file,
:mod:`demat.depot.protocol`) and records the transmission under the manifest's digest. The
poller posts the deposit to the account's ``"depot"`` service; the server's signed accusé de
dépôt is verified and kept, and the transmission is ``SENT``. It then polls the control:
``ACK_OK`` when the control report says every list is valid, ``ACK_KO`` with the findings
(code, file, row) when not; the report is kept. A deposit whose answer was lost is found again
by the manifest's digest (:class:`~demat.transport.depot.DepotLookup`), never posted twice.

Personal data: the store holds the manifest's and the files' digests, counts, and the
findings' codes and rows; the control report kept as a document holds the checks' messages.
No elector row is journaled or logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demat.config import Profile
from demat.depot.protocol import (
    Manifest,
    ManifestFile,
    check_content,
    check_manifest,
    departement_of,
    normalise_departement,
    read_control_report,
    read_manifest,
    read_receipt,
)
from demat.errors import (
    ConfigError,
    DematError,
    FileUnreadable,
    IdentityMismatch,
    RemoteRejected,
    ValidationError,
)
from demat.gateway.flows import FlowContext, status_outcome
from demat.gateway.flows.common import SendResult
from demat.gateway.offload import offload, read_document
from demat.signing.trust import TrustStore, load_certificates
from demat.tracking import (
    Absent,
    Event,
    Fatal,
    Found,
    Happened,
    NewDocument,
    PollOutcome,
    ReconcileResult,
    Transmission,
    Undetermined,
)
from demat.transport.depot import DepotLookup, DepotPlatform
from demat.transport.protocol import Lookup

log = logging.getLogger("demat.gateway.elections")

#: Findings journaled with a rejection, at most (the control report, kept, has them all).
MAX_JOURNALED_FINDINGS = 50


class ElectionsFlow:
    """Electoral lists through a deposit server (see the module docstring)."""

    flow = "elections"

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def depot(self, profile: Profile) -> DepotPlatform:
        """The ``"depot"`` service of ``profile``'s account."""
        service = self.ctx.platforms.service(profile, "depot")
        if not isinstance(service, DepotPlatform):
            raise ConfigError(f"profile {profile.name!r}: the depot service is not a deposit server")
        return service

    # -- check and record ---------------------------------------------------------------------

    async def send(
        self,
        lists: Sequence[Path],
        *,
        profile: str,
        commission: Path,
        tableaux: Sequence[Path] = (),
        force: bool = False,
    ) -> SendResult:
        """Check the lists of one commune, keep them with the tableaux and the commission's
        signed page (PDF or image), and record the deposit for sending.

        Raises :class:`~demat.errors.ValidationError` for a file that is not an electoral list
        (or holds several communes), a tableau that is not a PDF, and
        :class:`~demat.errors.IdentityMismatch` when the lists' commune is not in the
        profile's département. Rule violations are warnings: the server's control decides.
        """
        prof = self.ctx.profile(profile)
        manifest, digest, warnings, electors = await offload(
            self._check_and_spool, list(lists), commission, list(tableaux), prof
        )
        identifiers: dict[str, Any] = {
            "commune": manifest.commune,
            "manifest_sha256": digest,
            "electors": electors,
            "files": [f.to_dict() for f in manifest.files],
        }
        t, created = await self.ctx.store.record(
            prof.name, self.flow, digest, f"listes_electorales_{manifest.commune}", identifiers, force=force
        )
        return SendResult(t, created, tuple(warnings))

    def _check_and_spool(
        self, lists: list[Path], commission: Path, tableaux: list[Path], prof: Profile
    ) -> tuple[Manifest, str, list[str], int]:
        from demat.elections import check_extraction

        if not lists:
            raise ValidationError("aucune liste électorale à déposer", code="ELECTIONS_NO_LIST")
        entries: list[ManifestFile] = []
        warnings: list[str] = []
        communes: set[str] = set()
        electors = 0
        for path in lists:
            report = check_extraction(path)
            held = {(li["commune_code"], li["list_type"]) for li in report.lists}
            if not held:
                first = report.errors[0] if report.errors else None
                raise ValidationError(
                    f"{path.name} : pas une liste électorale lisible"
                    + (f" ({first.message})" if first else ""),
                    file=path.name,
                    code=first.code if first else "ELECTIONS_UNREADABLE",
                )
            codes = {c for c, _ in held}
            if len(codes) != 1:
                raise ValidationError(
                    f"{path.name} : {len(codes)} communes dans un fichier ; un dépôt est celui d'une commune",
                    file=path.name,
                    code="ELECTIONS_SEVERAL_COMMUNES",
                )
            communes |= codes
            types = {lt for _, lt in held}
            list_type = str(types.pop()) if len(types) == 1 and None not in types else "REU"
            electors += report.electors
            if not report.valid:
                warnings.append(
                    f"{path.name} : {len(report.errors)} erreur(s) (première ligne {report.errors[0].row}, "
                    f"{report.errors[0].code}) : le contrôle du serveur refusera cette liste"
                )
            entries.append(self._spool(path, "liste", list_type))
        if len(communes) != 1:
            raise ValidationError(
                f"les listes sont de plusieurs communes ({', '.join(sorted(communes))})",
                code="ELECTIONS_SEVERAL_COMMUNES",
            )
        commune = communes.pop()
        if prof.departement and departement_of(commune) != normalise_departement(prof.departement):
            raise IdentityMismatch(
                f"la commune {commune} n'est pas du département du profil ({prof.departement})",
                path=prof.name,
            )
        for path in tableaux:
            entries.append(self._spool(path, "tableau"))
        entries.append(self._spool(commission, "commission"))
        manifest = check_manifest(Manifest(commune, tuple(entries)))
        for entry in manifest.files:
            with self.ctx.spool.path(entry.sha256).open("rb") as fh:
                check_content(entry, fh.read(16))
        digest = self.ctx.spool.put_bytes(manifest.to_bytes())
        return manifest, digest, warnings, electors

    def _spool(self, path: Path, role: str, list_type: str | None = None) -> ManifestFile:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise FileUnreadable.from_os_error(exc, path) from None
        digest = self.ctx.spool.put_file(path)
        return ManifestFile(path.name, role, digest, size, list_type)

    # -- the poller's part ----------------------------------------------------------------------

    async def submit(self, t: Transmission) -> PollOutcome:
        """Post the deposit: the spooled manifest, then each file it lists."""
        spool = self.ctx.spool
        if not spool.has(t.digest):
            return Fatal("le manifeste n'est plus dans le dépôt local", code="SPOOL_MISSING")
        manifest_bytes = spool.path(t.digest).read_bytes()
        manifest = read_manifest(manifest_bytes)
        if not all(spool.has(f.sha256) for f in manifest.files):
            return Fatal("un fichier du dépôt n'est plus dans le dépôt local", code="SPOOL_MISSING")
        depot = self.depot(self.ctx.profile(t.profile))
        try:
            answer = await depot.deposit(
                manifest_bytes, [(f.name, spool.path(f.sha256)) for f in manifest.files]
            )
        except RemoteRejected as exc:
            return Happened(Event.REFUSED, data={"message": exc.message, "code": exc.code})
        facts = self._receipt_facts(answer.receipt, manifest, self.ctx.profile(t.profile))
        data: dict[str, Any] = {"deposit": answer.deposit_id, **facts}
        if answer.already_present:
            data["already_on_platform"] = True
        receipt = NewDocument("receipt", answer.receipt, name=f"accuse_depot_{answer.deposit_id}.xml")
        return Happened(Event.SUBMITTED, remote_id=answer.deposit_id, data=data, documents=[receipt])

    def _receipt_facts(self, data: bytes, manifest: Manifest, prof: Profile) -> dict[str, Any]:
        """What the journal says of an accusé de dépôt: when, signed by whom, whether it
        verifies and acknowledges exactly this manifest, and whether its signer chains to the
        account's ``ca_bundle`` (``None`` without one)."""
        try:
            receipt = read_receipt(data)
        except DematError as exc:
            log.warning("accusé de dépôt not verified: %s", exc.message)
            return {"receipt_valid": False, "receipt_problem": exc.message}
        facts: dict[str, Any] = {
            "receipt_valid": receipt.matches(manifest),
            "receipt_trusted": self._trusted(data, prof),
            "received_at": receipt.received_at.isoformat(),
            "signer": receipt.signer,
        }
        if not facts["receipt_valid"]:
            facts["receipt_problem"] = "l'accusé ne décrit pas ce qui a été déposé"
        return facts

    def _trusted(self, data: bytes, prof: Profile) -> bool | None:
        account = self.ctx.settings.platforms.get(prof.platform or "")
        bundle = account.ca_bundle if account is not None else None
        if bundle is None or not bundle.is_file():
            return None
        try:
            read_receipt(data, trust=TrustStore(load_certificates(bundle.read_bytes())))
        except (DematError, ValueError):
            return False
        return True

    async def poll(self, t: Transmission) -> PollOutcome:
        """The deposit's control; once the report is out, its verdict."""
        assert t.remote_id is not None
        depot = self.depot(self.ctx.profile(t.profile))
        status = await depot.status(t.remote_id)
        if status.fetch != "report":
            return status_outcome(t, status)
        data = await depot.fetch_report(t.remote_id)
        report = await read_document(read_control_report, data)
        documents = [NewDocument("control_report", data, name=f"controle_{t.remote_id}.json")]
        if not await self.ctx.store.documents(t.id, kind="receipt"):  # found after a crash: fetch it
            receipt = await depot.fetch_receipt(t.remote_id)
            documents.insert(0, NewDocument("receipt", receipt, name=f"accuse_depot_{t.remote_id}.xml"))
        findings = [{"file": c.name, "code": f.code, "row": f.row} for c in report.lists for f in c.errors][
            :MAX_JOURNALED_FINDINGS
        ]
        valid = report.valid and status.event is Event.ACK_OK
        return Happened(
            Event.ACK_OK if valid else Event.ACK_KO,
            remote_status=status.code,
            data={
                "status": status.label,
                "valid": report.valid,
                "electors": report.electors,
                "errors": sum(len(c.errors) for c in report.lists),
                "findings": findings,
            },
            documents=documents,
        )

    async def find(self, t: Transmission) -> ReconcileResult:
        """Ask the server for a deposit of this manifest (its digest is the transmission's)."""
        depot = self.depot(self.ctx.profile(t.profile))
        if not isinstance(depot, DepotLookup):
            return Undetermined("le serveur de dépôt ne permet pas de retrouver un dépôt", needs_person=True)
        found = await depot.find_deposit(t.digest)
        if found.outcome is Lookup.FOUND:
            return Found(found.remote_id)
        if found.outcome is Lookup.ABSENT:
            return Absent()
        return Undetermined("le serveur de dépôt n'a pas pu dire s'il détient ce dépôt")

    async def collect(self) -> list[object]:
        """Nothing comes from the deposit server on its own."""
        return []


__all__ = ["MAX_JOURNALED_FINDINGS", "ElectionsFlow"]
