"""The deposit server's control statuses and what each means for a transmission (one table).

A deposit answered by its accusé de dépôt is ``SENT``; the control job then publishes a report:
``valid`` acknowledges the transmission, ``invalid`` rejects it (the report says why), both
with the report to fetch. A status the server adds later reads as progress. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

from demat.tracking.states import Event
from demat.transport.protocol import PlatformStatus


class DepotStatusCode(IntEnum):
    """Where a deposit's control stands, as a code (the server says it in words)."""

    PENDING = 1
    VALID = 2
    INVALID = 3
    PURGED = 4


#: The server's control statuses: code, label, the event each means, the document it makes ready.
STATUSES: Mapping[str, PlatformStatus] = {
    "pending": PlatformStatus(DepotStatusCode.PENDING, "contrôle en cours", Event.PROGRESS),
    "valid": PlatformStatus(DepotStatusCode.VALID, "listes conformes", Event.ACK_OK, fetch="report"),
    "invalid": PlatformStatus(DepotStatusCode.INVALID, "listes non conformes", Event.ACK_KO, fetch="report"),
    "purged": PlatformStatus(DepotStatusCode.PURGED, "dépôt purgé (conservation écoulée)", Event.PROGRESS),
}


def depot_status(control: str, *, purged: bool = False) -> PlatformStatus:
    """The meaning of a deposit's control status (an unknown one reads as progress)."""
    if purged and control == "pending":
        control = "purged"
    return STATUSES.get(control) or PlatformStatus(0, control, Event.PROGRESS)


__all__ = ["STATUSES", "DepotStatusCode", "depot_status"]
