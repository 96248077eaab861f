"""What the flows share: the result of ``send``, and reading a submission's answer."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from demat.errors import DuplicateSubmission, RemoteRejected
from demat.tracking import Event, Happened, PollOutcome, Transmission
from demat.transport.protocol import SubmitResult


@dataclass(frozen=True)
class SendResult:
    """What ``send`` did: the transmission, and whether it is new (or the same document again)."""

    transmission: Transmission
    created: bool
    warnings: tuple[str, ...] = ()


async def submitted(submission: Awaitable[SubmitResult]) -> PollOutcome:
    """What a submission's answer means for the transmission. Other errors propagate: their
    class tells the poller whether the platform may have got the document."""
    try:
        result = await submission
    except DuplicateSubmission as dup:
        # The platform holds these very bytes: track that transaction rather than fail.
        if dup.existing_id:
            return Happened(Event.SUBMITTED, remote_id=dup.existing_id, data={"already_on_platform": True})
        return Happened(Event.REFUSED, data={"message": dup.message, "duplicate": True})
    except RemoteRejected as exc:
        return Happened(Event.REFUSED, data={"message": exc.message})
    return Happened(Event.SUBMITTED, remote_id=result.remote_id)


__all__ = ["SendResult", "submitted"]
