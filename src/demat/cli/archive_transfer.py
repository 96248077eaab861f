"""``demat archive transfer``: send a package on to a definitive SAE (Vitam, as@lae) through the
gateway (the ``archive_transfer`` flow on a platform account of kind ``vitam`` or ``asalae``).

``REF`` is a SIP zip (``demat archive build -o SIP.zip``), or the id (or unique prefix) of a
settled transmission, whose package is then built from the store (and deposited in the
intermediate archive when the gateway has one) before its transfer is recorded. The SAE is
``--to``, else the profile's ``auto_archive.transfer_to``. The transfer is sent by the poller
(``demat poll``) or at once with ``--wait``, which polls until the SAE's reply: exit 0 when it
archived the package, 1 when it refused it (the reason is printed), 2 when no answer came in
time or a person must settle a transfer whose outcome is unknown.

:mod:`demat.cli.archive` adds this subcommand with :func:`register` (its ``TRANSFER_MODULE``).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.cli._common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, emit_json, settings_from

if TYPE_CHECKING:
    from demat.gateway import Gateway
    from demat.tracking import Transmission

#: The journal events that end a transfer, whose data say why.
_VERDICTS = ("ack_ok", "ack_ko", "refused", "failed", "undetermined")


def register(commands: Any) -> None:
    """Add ``transfer`` to the ``demat archive`` subcommands ``commands``."""
    p: argparse.ArgumentParser = commands.add_parser(
        "transfer",
        help="send a package on to a definitive SAE (Vitam, as@lae)",
        description="Record the transfer of a SIP (or of a settled transmission's package) to an SAE "
        "account of the settings (kind vitam or asalae). Vitam's and as@lae's receipt is not an archiving: "
        "with --wait, exit 0 only when the SAE's reply says the package was archived, 1 when it refused "
        "it, 2 when no reply came in time or a person must settle a transfer in doubt.",
    )
    p.add_argument("refs", nargs="+", metavar="SIP.zip|TRANSMISSION", help="SIP files or transmission ids")
    p.add_argument("--profile", help="the profile a SIP file is transferred under (its collectivité)")
    p.add_argument("--to", metavar="ACCOUNT", help="the SAE account (default: the profile's transfer_to)")
    p.add_argument("--force", action="store_true", help="transfer again what was already transferred")
    p.add_argument("--wait", action="store_true", help="send now and poll until the SAE's reply")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N seconds")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(handler=_transfer)


def _transfer(args: argparse.Namespace) -> int:
    from demat.gateway import Gateway

    settings = settings_from(args)

    async def main() -> int:
        async with Gateway.open(settings) as gw:
            recorded = [await _record(gw, ref, args) for ref in args.refs]
            if not args.wait:
                return EXIT_OK
            final = await gw.wait([t.id for t in recorded], timeout=args.timeout)
            worst = EXIT_OK
            for t in final:
                worst = max(worst, await _verdict(gw, t, args))
            return worst

    return asyncio.run(main())


async def _record(gw: Gateway, ref: str, args: argparse.Namespace) -> Transmission:
    from demat.errors import ConfigError
    from demat.gateway.flows.archive import FLOW, ArchiveTransferFlow

    flow = gw.flow(FLOW)
    assert isinstance(flow, ArchiveTransferFlow)
    path = Path(ref)
    if path.is_file():
        if not args.profile:
            raise ConfigError("a SIP file is transferred under a profile: give --profile", code="USAGE")
        sent = await flow.send(path, profile=args.profile, to=args.to, force=args.force)
        t, source = sent.transmission, None
    else:
        source = await gw.store.get(await gw.store.resolve_id(ref))
        archived = await gw.archiver.archive_one(source, to=args.to, force=args.force)
        if archived.transfer is None:
            raise ConfigError(f"profile {source.profile!r}: no SAE to transfer to (give --to)", code="USAGE")
        t = archived.transfer
    row = {
        "id": t.id,
        "source": source.id if source else t.identifiers.get("source"),
        "sae": t.identifiers.get("sae"),
        "message_identifier": t.identifiers.get("message_identifier"),
        "state": t.state.value,
    }
    _say(args, row, f"{t.id} {t.state.value}: {row['message_identifier']} → {row['sae']}")
    return t


async def _verdict(gw: Gateway, t: Transmission, args: argparse.Namespace) -> int:
    from demat.gateway.flows.archive import transfer_state
    from demat.tracking import State

    said = next((e for e in reversed(await gw.store.journal(t.id)) if e.event in _VERDICTS), None)
    data = said.payload if said is not None else {}
    row = {
        "id": t.id,
        "state": t.state.value,
        "remote_id": t.remote_id,
        "archived": t.state is State.ACKNOWLEDGED and bool(data.get("archived")),
        "reply_code": data.get("reply_code"),
        "reason": data.get("reason") or data.get("message") or data.get("error"),
    }
    text = f"{t.id} {transfer_state(t)}"
    if row["reply_code"] or row["reason"]:
        text += f" ({row['reply_code'] or '-'}: {row['reason'] or ''})"
    _say(args, row, text)
    if t.state in (State.REJECTED, State.FAILED):
        return EXIT_INVALID
    return EXIT_OK if t.state is State.ACKNOWLEDGED else EXIT_USAGE


def _say(args: argparse.Namespace, row: dict[str, Any], text: str) -> None:
    if args.json:
        emit_json(row)
    else:
        print(text)


__all__ = ["register"]
