"""What a person does to a transmission: try it again, settle a doubt, cancel it.

One API for the CLI (``demat retry | resolve | cancel``) and the operator console: each action
checks that it makes sense in the transmission's state, refuses with an error carrying a
``code`` when it does not, and journals who decided (``by``) and why (``reason``) in the move
it makes. The CLI asks its questions (a confirmation, ``--reason``) before calling here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from demat.errors import ConfigError, ValidationError

if TYPE_CHECKING:  # the store loads when an action runs: the CLI imports this module to start
    from demat.gateway.gateway import Gateway
    from demat.tracking import Transmission

#: What :func:`retry` did: a new generation recorded, a doubt settled as "absent", or made due.
RetryKind = Literal["resent", "sent_again", "due_now"]


@dataclass(frozen=True)
class Retried:
    """What :func:`retry` did to ``before``: ``kind`` (see :data:`RetryKind`), ``after`` the new
    generation (``resent``) or the transmission as moved, and what to tell the person:
    ``message_fr`` (one French sentence, for the console) and ``message`` (the CLI's line)."""

    kind: RetryKind
    before: Transmission
    after: Transmission
    message_fr: str
    message: str


def short(id: str) -> str:
    """The first 8 characters of an id: what people are shown (any unique start names it)."""
    return id[:8]


def due_in(at: dt.datetime | None, now: dt.datetime) -> str:
    """When ``at`` comes, from ``now``, in a few English words: ``now``, ``in 12 s``, ``in 5 min``,
    ``at 2024-05-07 14:00`` (local time); ``-`` for none."""
    if at is None:
        return "-"
    seconds = (at - now).total_seconds()
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"in {seconds:.0f} s" if seconds >= 10 else f"in {seconds:.1f} s"
    if seconds < 5400:
        return f"in {seconds / 60:.0f} min"
    return f"at {at.astimezone().strftime('%Y-%m-%d %H:%M')}"


def _required(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise ConfigError(f"{what}: say why with --reason (it is journaled)", code="USAGE")
    return reason.strip()


async def retry(
    gw: Gateway, t: Transmission, *, by: str, reason: str | None, confirmed: bool = False
) -> Retried:
    """Try ``t`` again, as its state allows.

    * ``failed`` or ``rejected``: the same document is recorded again as a new generation,
      journaled ``resent`` with ``by`` and ``reason`` (required); refused (``ALREADY_RESENT``)
      when a newer generation exists.
    * ``unknown`` or ``sending`` (the platform may hold it): settled "absent", so sent again
      (:func:`resolve`); ``reason`` required, and the person must have confirmed having
      checked that the platform does not hold it (``NOT_CONFIRMED`` otherwise).
    * ``accepted``, ``sent`` or ``cancel_requested``: due now, its retry schedule started afresh
      (the store's :meth:`~demat.tracking.Store.make_due`, journaled as ``retry_requested``).
    * anything else: ``NOTHING_TO_RETRY``.

    Missing reason: :class:`~demat.errors.ConfigError` ``USAGE``; the others
    :class:`~demat.errors.ValidationError`.
    """
    from demat.tracking import State

    sid = short(t.id)
    store = gw.store
    if t.state in (State.FAILED, State.REJECTED):
        latest = await store.find(t.profile, t.flow, t.digest)
        if latest is not None and latest.id != t.id:
            raise ValidationError(
                f"{sid} was already sent again as {short(latest.id)} ({latest.state.value})",
                code="ALREADY_RESENT",
            )
        note = {"by": by, "reason": _required(reason, "retry")}
        new, _ = await store.record(t.profile, t.flow, t.digest, t.name, t.identifiers, force=True, note=note)
        return Retried(
            "resent",
            t,
            new,
            f"{t.name} est renvoyé : nouvelle transmission {short(new.id)} (génération "
            f"{new.generation}), envoyée au prochain passage.",
            f"{sid} {t.name}: {t.state.value}; sent again as {short(new.id)} "
            f"(generation {new.generation}), accepted and due now",
        )
    if t.state in (State.UNKNOWN, State.SENDING):
        why = _required(reason, "retry")
        if not confirmed:
            raise ValidationError(
                f"{sid} {t.name}: the platform could not say whether it received it; sending it "
                "again is right only once a person checked that it did not (confirm first)",
                code="NOT_CONFIRMED",
            )
        moved = await resolve(gw, t, "absent", by=by, reason=why)
        return Retried(
            "sent_again",
            t,
            moved,
            f"{t.name} sera envoyé de nouveau : la plateforme ne l'a pas reçu, d'après votre vérification.",
            f"{sid} {t.name}: {t.state.value} → {moved.state.value} (sent again by the poller)",
        )
    if t.state in (State.ACCEPTED, State.SENT, State.CANCEL_REQUESTED):
        was = due_in(t.next_attempt_at, store.clock()) if t.next_attempt_at else "never"
        note = {"by": by, **({"reason": reason} if reason else {})}
        moved = await store.make_due(t.id, expect=t.state, note=note)
        error = f"; last error: {t.last_error}" if t.last_error else ""
        what = "envoyé" if t.state is State.ACCEPTED else "consulté sur la plateforme"
        return Retried(
            "due_now",
            t,
            moved,
            f"{t.name} sera {what} au prochain passage, sans attendre.",
            f"{sid} {t.name}: {t.state.value}, due now (was due {was}){error}",
        )
    raise ValidationError(
        f"{sid} is {t.state.value}: nothing to retry ('demat send --force FILE' sends the "
        "document again as a new transmission)",
        code="NOTHING_TO_RETRY",
    )


async def resolve(
    gw: Gateway,
    t: Transmission,
    verdict: Literal["sent", "absent"],
    *,
    by: str,
    reason: str,
    remote_id: str | None = None,
) -> Transmission:
    """Apply a person's verdict on ``t``, in doubt: ``sent`` (the platform holds it as
    ``remote_id``: followed from there) or ``absent`` (it does not: sent again), journaled with
    ``by`` and ``reason`` (required: ``USAGE``). A ``sending`` row whose sender died (its lease
    expired) is first marked undetermined; one whose lease is live is refused
    (:class:`~demat.tracking.LeaseHeld`): someone is sending it. Refused: not in doubt
    (``NOT_IN_DOUBT``), ``sent`` without ``remote_id`` (``USAGE``), or a ``remote_id`` another
    transmission of the flow already has (``REMOTE_ID_TAKEN``)."""
    from demat.tracking import Event, Move, State

    store = gw.store
    who = {"by": by, "reason": _required(reason, "resolve")}
    if verdict == "sent" and not remote_id:
        raise ConfigError("--as sent needs --remote-id: the platform's transaction id", code="USAGE")
    if t.state is State.SENDING:
        gone = {"error": "the sender stopped during the upload; settled by a person", "needs_person": True}
        t = await store.move(Move.of(t, Event.UNDETERMINED, data={**gone, "by": by}, unleased=True))
    if t.state is not State.UNKNOWN:
        raise ValidationError(
            f"{short(t.id)} is {t.state.value}: only a transmission in doubt (unknown) is resolved",
            code="NOT_IN_DOUBT",
        )
    if verdict == "sent":
        assert remote_id is not None  # checked above
        other = await store.find_remote(t.flow, remote_id)
        if other is not None and other.id != t.id:
            raise ValidationError(
                f"remote id {remote_id} is already {short(other.id)}'s ({other.name}): check it",
                code="REMOTE_ID_TAKEN",
            )
        move = Move.of(t, Event.RESOLVED_SENT, data=who, remote_id=remote_id, unleased=True)
    else:
        move = Move.of(t, Event.RESOLVED_ABSENT, data=who, unleased=True)
    now = store.clock()  # due at once: the poller follows it, or sends it, at its next cycle
    return await store.move(dataclasses.replace(move, next_attempt_at=now, now=now))


async def cancel(gw: Gateway, t: Transmission, *, by: str, reason: str | None = None) -> Transmission:
    """Cancel ``t`` (:meth:`Gateway.cancel <demat.gateway.Gateway.cancel>`): at once when it is
    not sent yet, else by asking the platform (a flow that can: ACTES, budget acts); ``by`` and
    ``reason`` journaled in the move. ``NOT_CANCELLABLE`` otherwise."""
    return await gw.cancel(t.id, by=by, reason=reason.strip() if reason and reason.strip() else None)


__all__ = ["Retried", "RetryKind", "cancel", "due_in", "resolve", "retry", "short"]
