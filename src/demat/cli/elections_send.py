"""``demat elections send``: deposit a commune's electoral lists on the deposit server through
the gateway (the ``elections`` flow on a ``depot`` platform account).

The ``demat elections`` command group (:mod:`demat.cli.elections`) adds this subcommand with
:func:`register`. Output shows counts and digests, never an elector.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from demat.cli._common import EXIT_INVALID, EXIT_OK, emit_json, existing_file, settings_from


def register(sub: Any) -> None:
    """Add ``send`` to the ``demat elections`` subcommands ``sub``."""
    p: argparse.ArgumentParser = sub.add_parser(
        "send",
        help="deposit lists, tableaux and the commission's signed page on the deposit server",
        description="Check the lists of one commune, record the deposit and send it through the gateway "
        "(the profile's platform account must be of kind 'depot'). With --wait, poll until the "
        "server's control report is in: exit 0 when the lists are valid, 1 when the report refuses them.",
    )
    p.add_argument("lists", nargs="+", type=existing_file, metavar="LIST", help="electoral list files")
    p.add_argument("--profile", required=True, help="the commune's profile (settings)")
    p.add_argument("--commission", required=True, type=existing_file, help="the commission's signed page")
    p.add_argument(
        "--tableau", action="append", default=[], type=existing_file, help="a tableau (PDF); repeatable"
    )
    p.add_argument("--force", action="store_true", help="deposit again what was already deposited")
    p.add_argument("--wait", action="store_true", help="poll until the control report is in")
    p.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N seconds")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    from demat.gateway import Gateway
    from demat.gateway.flows.elections import ElectionsFlow

    settings = settings_from(args)

    async def main() -> int:
        async with Gateway.open(settings) as gw:
            flow = gw.flow("elections")
            assert isinstance(flow, ElectionsFlow)
            lists: list[Path] = args.lists
            sent = await flow.send(
                lists,
                profile=args.profile,
                commission=args.commission,
                tableaux=args.tableau,
                force=args.force,
            )
            t = sent.transmission
            row: dict[str, Any] = {
                "accepted": True,
                "id": t.id,
                "flow": t.flow,
                "state": t.state.value,
                "new": sent.created,
                "commune": t.identifiers.get("commune"),
                "electors": t.identifiers.get("electors"),
                "manifest_sha256": t.digest,
                "warnings": list(sent.warnings),
            }
            _say(
                args, row, f"{t.id} {t.state.value}: commune {row['commune']}, {row['electors']} électeur(s)"
            )
            for warning in sent.warnings:
                _say(args, None, f"  attention : {warning}")
            if not args.wait:
                return EXIT_OK
            [t] = await gw.wait([t.id], timeout=args.timeout)
            verdict = next(
                (e.payload for e in reversed(await gw.store.journal(t.id)) if e.event in _VERDICTS), {}
            )
            final = {
                "id": t.id,
                "state": t.state.value,
                "deposit": t.remote_id,
                "valid": verdict.get("valid"),
                "errors": verdict.get("errors"),
                "findings": verdict.get("findings", []),
            }
            text = f"{t.id} {t.state.value} (dépôt {t.remote_id or '-'})"
            if verdict.get("errors"):
                text += f" : {verdict['errors']} erreur(s) au contrôle"
            _say(args, final, text)
            return EXIT_INVALID if t.state.value in ("rejected", "failed") else EXIT_OK

    return asyncio.run(main())


_VERDICTS = ("ack_ok", "ack_ko", "refused")


def _say(args: argparse.Namespace, row: dict[str, Any] | None, text: str) -> None:
    if args.json:
        if row is not None:
            emit_json(row)
    else:
        print(text)


__all__ = ["register"]
