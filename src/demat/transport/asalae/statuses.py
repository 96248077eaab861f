"""Where an as@lae transfer stands, and what each step means (one table).

as@lae has no status call: what it has produced says where a transfer is. It first answers the
posted transfer, then makes an ``Acknowledgement`` (receipt) available, then the
``ArchiveTransferReply`` (accepted or refused, with the SEDA reply code: ``000`` accepted…),
each fetched by the transfer's message identifier and the originating agency (Pastell's
``SAEVerifier`` and ``SAEValider``). Taking the transfer and acknowledging it are progress;
only the reply decides (``fetch == "reply"``). Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

from demat.tracking.states import Event
from demat.transport.protocol import PlatformStatus


class AsalaeStep(IntEnum):
    """How far a transfer went, as a code."""

    RECEIVED = 1
    ACKNOWLEDGED = 2
    REPLIED = 3


#: Each step: code, label, the event it means, the document it makes ready.
STATUSES: Mapping[AsalaeStep, PlatformStatus] = {
    AsalaeStep.RECEIVED: PlatformStatus(
        AsalaeStep.RECEIVED, "transfert reçu, accusé de réception attendu", Event.PROGRESS
    ),
    AsalaeStep.ACKNOWLEDGED: PlatformStatus(
        AsalaeStep.ACKNOWLEDGED,
        "accusé de réception reçu, réponse au transfert attendue",
        Event.PROGRESS,
        fetch="acknowledgement",
    ),
    AsalaeStep.REPLIED: PlatformStatus(
        AsalaeStep.REPLIED, "réponse au transfert reçue", Event.PROGRESS, fetch="reply"
    ),
}

__all__ = ["STATUSES", "AsalaeStep"]
