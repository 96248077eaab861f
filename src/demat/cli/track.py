"""``demat status | retry | resolve``: find transmissions, act on them, settle those in doubt;
and what ``demat send --wait`` and ``demat poll`` show of them while they move.

A transmission is named by its id or any unique start of it, as git names a commit. What a
person does to a transmission (a resend, a verdict on one in doubt) is journaled with who
(``--by``, else the user running the command) and why (``--reason``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from demat.cli._common import EXIT_OK, emit_json
from demat.errors import ConfigError
from demat.gateway.actions import due_in as _in
from demat.gateway.actions import short

if TYPE_CHECKING:
    from demat.gateway import Gateway
    from demat.tracking import JournalEntry, Transmission

#: The states a transmission can be in, as ``--state`` takes them (demat.tracking.State's values).
STATES = (
    "accepted",
    "sending",
    "unknown",
    "sent",
    "acknowledged",
    "rejected",
    "failed",
    "cancel_requested",
    "cancelled",
)


def register(sub: Any) -> None:
    """Add ``demat status``, ``demat retry`` and ``demat resolve``."""
    p = sub.add_parser(
        "status",
        help="list transmissions (newest first), or show one with its journal",
        description="Without ID: the transmissions, newest first, filtered by state, profile, flow "
        "and date. With ID (or any unique start of it): that transmission, what to do about it, "
        "and its journal.",
    )
    p.add_argument("id", nargs="?", help="a transmission id, or a unique start of one")
    p.add_argument("--state", action="append", choices=STATES, help="only in this state (repeatable)")
    p.add_argument("--profile", help="only under this profile")
    p.add_argument("--flow", help="only this flow (pes, actes, budget…)")
    p.add_argument("--since", type=_when, metavar="DATE", help="recorded on or after (YYYY-MM-DD[THH:MM])")
    p.add_argument("--until", type=_when, metavar="DATE", help="recorded before (YYYY-MM-DD[THH:MM])")
    p.add_argument("--limit", type=int, default=50, help="at most N (default 50; 0: all)")
    p.add_argument("--counts", action="store_true", help="how many in each state, instead of the list")
    p.add_argument("--json", action="store_true", help="JSON Lines: one object per transmission")
    p.set_defaults(handler=_status)

    p = sub.add_parser(
        "retry",
        help="try a transmission again: now, or as a new transmission of the same document",
        description="failed or rejected: the same document is sent again as a new transmission "
        "(journaled 'resent', with who and why); unknown (the platform could not say whether it "
        "got it): after you confirm that it did not, it is sent again (as 'demat resolve --as "
        "absent'); accepted, sent or cancel_requested: it is due now, its retry schedule started "
        "afresh (once what failed, a setting or the platform, is fixed).",
    )
    p.add_argument("id", help="a transmission id, or a unique start of one")
    p.add_argument("--reason", help="why (journaled; required to send again or settle a doubt)")
    p.add_argument("--by", help="who decides (journaled; default: the user running demat)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(handler=_retry)

    p = sub.add_parser(
        "resolve",
        help="settle a transmission in doubt (unknown) after checking the platform",
        description="When demat cannot tell whether the platform received a document (state "
        "unknown: the connection broke during the upload and the platform has no lookup), check "
        "on the platform, then say what you found: --as sent --remote-id N (it holds it under "
        "transaction N: demat follows it from there) or --as absent (it does not: demat sends it "
        "again). Journaled with who and why.",
    )
    p.add_argument("id", help="a transmission id, or a unique start of one")
    p.add_argument("--as", dest="verdict", choices=["sent", "absent"], required=True)
    p.add_argument("--remote-id", help="with --as sent: the platform's transaction id")
    p.add_argument("--reason", required=True, help="why: what you saw on the platform (journaled)")
    p.add_argument("--by", help="who decides (journaled; default: the user running demat)")
    p.set_defaults(handler=_resolve)


# -- reading and showing --------------------------------------------------------------------------


def _when(value: str) -> dt.datetime:
    """argparse type: a date or a date and time, local unless it names its offset."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def local(at: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored (UTC) time in local time, or ``-``."""
    return "-" if at is None else at.astimezone().strftime(fmt)


def hint(t: Transmission, now: dt.datetime) -> str | None:
    """What is going on with ``t`` and, when it needs a person, what to do, in one line."""
    from demat.tracking import State

    s, sid = t.state, short(t.id)
    if s is State.UNKNOWN and t.next_attempt_at is None:
        return (
            "the platform cannot say whether it got it: check there, then "
            f"'demat resolve {sid} --as sent --remote-id N --reason …' or '--as absent --reason …'"
        )
    if s is State.UNKNOWN:
        return (
            f"outcome unknown ({t.last_error}); demat asks the platform again {_in(t.next_attempt_at, now)}"
        )
    if s is State.ACCEPTED and t.errors:
        return (
            f"not sent: {t.last_error}; next try {_in(t.next_attempt_at, now)} "
            f"(once fixed: 'demat retry {sid}')"
        )
    if s is State.SENDING:
        if t.lease_until is not None and t.lease_until > now:
            return f"being sent by {t.lease_owner}"
        return "its sender stopped during the upload: the next 'demat poll' asks the platform"
    if s in (State.FAILED, State.REJECTED):
        why = f"{t.last_error}; " if t.last_error else ""
        return f"{why}'demat ack {sid}' says why; 'demat retry {sid} --reason …' sends it again"
    if s in (State.SENT, State.CANCEL_REQUESTED) and t.errors:
        return f"platform not read: {t.last_error}; next check {_in(t.next_attempt_at, now)}"
    if s in (State.SENT, State.CANCEL_REQUESTED, State.ACCEPTED) and t.next_attempt_at is not None:
        return f"next check {_in(t.next_attempt_at, now)}"
    return None


def _record(t: Transmission) -> dict[str, Any]:
    return {
        "id": t.id,
        "profile": t.profile,
        "flow": t.flow,
        "name": t.name,
        "state": t.state.value,
        "generation": t.generation,
        "remote_id": t.remote_id,
        "remote_status": t.remote_status,
        "attempts": t.attempts,
        "errors": t.errors,
        "last_error": t.last_error,
        "next_attempt_at": t.next_attempt_at.isoformat() if t.next_attempt_at else None,
        "created_at": t.created_at.isoformat(),
        "updated_at": t.updated_at.isoformat(),
    }


def _row(t: Transmission) -> str:
    remote = t.remote_id or "-"
    return (
        f"{short(t.id)}  {local(t.created_at, '%Y-%m-%d %H:%M')}  {t.profile:<12} {t.flow:<7} "
        f"{t.state.value:<16} {remote:<8} {t.name}"
    )


def entry_line(e: JournalEntry) -> str:
    """One journal entry as the text output shows it."""
    data = dict(e.payload or {})
    keys = ("remote_id", "by", "reason", "message", "error", "kind", "name")
    detail = [f"{k} {data[k]}" for k in keys if data.get(k)]
    to = f"→ {e.to_state}" if e.to_state else ""
    more = f"  ({'; '.join(detail)})" if detail else ""
    return f"{e.seq:>6}  {local(e.at)}  {e.event:<20} {to:<18}{more}"


def why(journal: Sequence[JournalEntry]) -> str | None:
    """What the last change of state said (a platform's refusal, an error), if anything."""
    for e in reversed(journal):
        if e.to_state is not None and e.to_state != e.from_state:
            data = dict(e.payload or {})
            said = data.get("message") or data.get("error") or data.get("status")
            return str(said) if said else None
    return None


async def find(gw: Gateway, prefix: str) -> Transmission:
    """The transmission whose id is ``prefix`` or starts with it (see
    :meth:`~demat.tracking.Store.resolve_id`)."""
    return await gw.store.get(await gw.store.resolve_id(prefix))


# -- status ------------------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from demat.cli.ops import run_gateway

    async def body(gw: Gateway) -> int:
        if args.id is not None:
            return await _one(gw, args)
        if args.counts:
            from demat.tracking import State

            states = [State(s) for s in args.state] if args.state else None
            counts = await gw.store.counts_by_state(profile=args.profile, states=states)
            if args.json:
                emit_json({"counts": {s.value: n for s, n in counts.items()}})
            else:
                for state, n in sorted(counts.items(), key=lambda kv: kv[0].value):
                    print(f"{state.value:<17} {n}")
                if not counts:
                    print("no transmission yet")
            return EXIT_OK
        from demat.tracking import State

        found = await gw.store.transmissions(
            state=[State(s) for s in args.state] if args.state else None,
            profile=args.profile,
            flow=args.flow,
            since=args.since,
            until=args.until,
            limit=args.limit or None,
            newest_first=True,
        )
        if args.json:
            for t in found:
                emit_json(_record(t))
            return EXIT_OK
        if not found:
            print("no transmission matches" if _filtered(args) else "no transmission yet")
            return EXIT_OK
        now = gw.store.clock()
        print(f"{'id':<8}  {'recorded':<16}  {'profile':<12} {'flow':<7} {'state':<16} {'remote':<8} name")
        for t in found:
            print(_row(t))
            note = hint(t, now)
            if note and t.state.value in ("unknown", "accepted", "sending", "failed", "rejected"):
                print(f"          {note}")
        if args.limit and len(found) == args.limit:
            print(f"(the {args.limit} newest shown: --limit 0 for all, or filter)")
        return EXIT_OK

    return run_gateway(args, body)


def _filtered(args: argparse.Namespace) -> bool:
    return any((args.state, args.profile, args.flow, args.since, args.until))


async def _one(gw: Gateway, args: argparse.Namespace) -> int:
    t = await find(gw, args.id)
    journal = await gw.store.journal(t.id)
    now = gw.store.clock()
    if args.json:
        entries = [
            {"seq": e.seq, "at": e.at.isoformat(), "event": e.event, "to": e.to_state, "data": e.payload}
            for e in journal
        ]
        emit_json({**_record(t), "hint": hint(t, now), "journal": entries})
        return EXIT_OK
    print(f"{t.id}  {t.flow}  {t.name}")
    remote = f"  remote id {t.remote_id}" if t.remote_id else ""
    print(f"  profile {t.profile}  state {t.state.value}{remote}  recorded {local(t.created_at)}")
    said = why(journal) if t.state.value in ("rejected", "failed", "unknown") else None
    if said:
        print(f"  {t.state.value}: {said}")
    note = hint(t, now)
    if note:
        print(f"  {note}")
    print("  journal:")
    for e in journal:
        print(f"  {entry_line(e)}")
    return EXIT_OK


# -- retry and resolve ---------------------------------------------------------------------------------


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "unknown user"


def _reason(args: argparse.Namespace, what: str) -> str:
    if not args.reason or not args.reason.strip():
        raise ConfigError(f"{what}: say why with --reason (it is journaled)", code="USAGE")
    return str(args.reason).strip()


def _confirm(question: str, args: argparse.Namespace) -> None:
    """Ask ``question`` on the terminal; a refusal, or no terminal and no ``--yes``, stops."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} — give --yes to confirm without a terminal", code="USAGE")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes", "o", "oui"):
        raise ConfigError("nothing done", code="NOT_CONFIRMED")


def _resolve(args: argparse.Namespace) -> int:
    from demat.cli.ops import run_gateway
    from demat.gateway.actions import resolve

    reason = _reason(args, "resolve")  # before opening anything: a usage error is said at once
    if args.verdict == "sent" and not args.remote_id:
        raise ConfigError("--as sent needs --remote-id: the platform's transaction id", code="USAGE")

    async def body(gw: Gateway) -> int:
        t = await find(gw, args.id)
        moved = await resolve(gw, t, args.verdict, by=_who(args), reason=reason, remote_id=args.remote_id)
        then = "followed from there" if args.verdict == "sent" else "sent again"
        print(f"{short(t.id)} {t.name}: {t.state.value} → {moved.state.value} ({then} by the poller)")
        return EXIT_OK

    return run_gateway(args, body)


def _retry(args: argparse.Namespace) -> int:
    from demat.cli.ops import run_gateway
    from demat.gateway.actions import retry
    from demat.tracking import IN_DOUBT

    async def body(gw: Gateway) -> int:
        t = await find(gw, args.id)
        confirmed = False
        if t.state in IN_DOUBT:  # sending it again could make a duplicate: the person confirms
            _reason(args, "retry")
            _confirm(
                f"{short(t.id)} {t.name}: the platform could not say whether it received it. Sending "
                "it again is right only if you checked that it did NOT. Send it again?",
                args,
            )
            confirmed = True
        done = await retry(gw, t, by=_who(args), reason=args.reason, confirmed=confirmed)
        print(done.message)
        return EXIT_OK

    return run_gateway(args, body)


# -- what send --wait and poll show ------------------------------------------------------------------


class Waiting:
    """What ``demat send --wait`` shows while it waits: a line for each change of state (JSON
    Lines with ``--json``), a live line per transmission still pending on a terminal, and when
    to stop early: every transmission settled, or stuck where waiting will not help (not sent:
    the platform is out of reach or refuses the connection; in doubt, waiting for a person)."""

    def __init__(self, names: Mapping[str, str], *, as_json: bool) -> None:
        self.names = dict(names)
        self.as_json = as_json
        self._seen: dict[str, tuple[Any, ...]] = {}
        self.current: list[Transmission] = []
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self, current: list[Transmission]) -> bool:
        self.current = current
        self.now = dt.datetime.now(dt.UTC)
        for t in current:
            key = (t.state, t.errors, t.remote_id)
            if self._seen.get(t.id) != key:
                first = t.id not in self._seen
                self._seen[t.id] = key
                if not first or t.state.value != "accepted":
                    self._changed(t)
        return all(t.settled or self.stuck(t) for t in current)

    def stuck(self, t: Transmission) -> str | None:
        """Why waiting longer for ``t`` will not help, or None."""
        from demat.tracking import State

        if t.state is State.ACCEPTED and t.errors:
            return f"not sent: {t.last_error}"
        if t.state is State.UNKNOWN and t.next_attempt_at is None:
            return "the platform cannot say whether it received it: a person must check (demat resolve)"
        return None

    def _changed(self, t: Transmission) -> None:
        if self.as_json:
            emit_json({"id": t.id, "state": t.state.value, "remote_id": t.remote_id, "error": t.last_error})
            return
        detail = ""
        if t.state.value == "sent" and t.remote_id:
            detail = f" (remote id {t.remote_id})"
        elif t.errors and t.last_error:
            detail = f", not sent: {t.last_error}" if t.state.value == "accepted" else f" ({t.last_error})"
        print(f"{short(t.id)} {self.names.get(t.id, t.name)}: {t.state.value}{detail}", flush=True)

    def render(self) -> str:
        """The live lines: each transmission still pending and what it waits for."""
        now = dt.datetime.now(dt.UTC)
        lines = []
        for t in self.current:
            if t.settled:
                continue
            what = {
                "accepted": "to be sent",
                "sending": "being sent",
                "sent": "waiting for the acknowledgement",
                "unknown": "in doubt",
                "cancel_requested": "waiting for the annulation",
            }.get(t.state.value, t.state.value)
            when = f", next check {_in(t.next_attempt_at, now)}" if t.next_attempt_at else ""
            lines.append(f"… {short(t.id)} {self.names.get(t.id, t.name)}: {what}{when}")
        return "\n".join(lines)


def next_checks(pending: Sequence[Transmission], now: dt.datetime) -> list[str]:
    """A line per pending transmission: when demat next looks at it (``poll --once``)."""
    lines = []
    for t in pending:
        when = _in(t.next_attempt_at, now) if t.next_attempt_at else "never: waits for a person"
        lines.append(f"  {short(t.id)} {t.name}: {t.state.value}, next check {when}")
    return lines


__all__ = [
    "STATES",
    "Waiting",
    "entry_line",
    "find",
    "hint",
    "local",
    "next_checks",
    "register",
    "short",
    "why",
]
