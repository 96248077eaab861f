"""The budget flow: sealed TOTEM ``DocumentBudgetaire`` files sent as ACTES budget acts
(nature 5, matière 7.1) with their délibération. Everything after the check is the ACTES flow's:
same platform service, same acknowledgements, same letters (collected by the ACTES flow)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from demat.actes.model import Acte, ActeDocument
from demat.gateway.flows.actes import ActesFlow
from demat.gateway.flows.common import SendResult
from demat.gateway.identity import actes_identity
from demat.gateway.offload import offload
from demat.tracking import Transmission


class BudgetFlow(ActesFlow):
    """Budget acts (see the module docstring)."""

    flow = "budget"

    async def send(  # type: ignore[override]
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

        prof = self.ctx.profile(profile)
        identity = actes_identity(prof)

        def check_and_spool() -> tuple[Acte, list[tuple[ActeDocument, str]]]:
            acte = budget_acte(
                identity,
                document,
                deliberation,
                numero=numero,
                classification_date=classification_date,
                annexes=annexes,
                objet=objet,
                registry=self.ctx.registry,
                xml_limits=self.xml_limits,
            )
            return acte, self.spool_documents(acte)

        acte, blobs = await offload(check_and_spool)
        return await self.record(prof, acte, blobs, force, ())

    async def collect(self) -> list[tuple[Transmission, tuple[str, ...]]]:
        """Nothing of its own: the ACTES flow collects the letters about budget acts too."""
        return []


__all__ = ["BudgetFlow"]
