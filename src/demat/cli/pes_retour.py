"""``demat pes retour``: read PES_Retour files (what Hélios sends back to the collectivité)."""

from __future__ import annotations

import argparse
from typing import Any

from demat.cli._common import EXIT_OK, emit_json, existing_file, file_failed, xml_limits_from
from demat.errors import DematError


def register(pes_sub: Any) -> None:
    """Add ``retour`` to ``demat pes``."""
    p = pes_sub.add_parser(
        "retour",
        help="read PES_Retour files: who they are for and what they hold",
        description="Read the header of PES_Retour files (NomFic, TypFic, IdPost, IdColl, CodColl, "
        "CodBud, date) and count their bordereaux and pièces per block, streaming. 'demat retours' "
        "lists those the poller collected from the platform.",
    )
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_retour)


def _retour(args: argparse.Namespace) -> int:
    from demat.pes.retour import read_retour_header

    limits = xml_limits_from(args)
    status = EXIT_OK
    for path in args.files:
        try:
            info = read_retour_header(path, limits=limits)
        except DematError as exc:
            status = max(status, file_failed(path, exc, as_json=args.json))
            continue
        if args.json:
            emit_json(info.to_dict())
            continue
        print(f"{path}: PES_Retour {info.typ_fic or '?'} {info.nom_fic or '?'} of {info.dte_str or '?'}")
        print(
            f"  IdPost {info.id_post or '-'}  IdColl {info.id_coll or '-'}  CodColl {info.cod_coll or '-'}  "
            f"CodBud {info.cod_bud or '-'}"
        )
        for block in info.blocks:
            kind = f", TypRestit {info.typ_restit[block]}" if block in info.typ_restit else ""
            print(
                f"  {block}: {info.bordereaux.get(block, 0)} bordereau(x), "
                f"{info.pieces.get(block, 0)} pièce(s){kind}"
            )
        if not info.blocks:
            print("  no block")
    return status


__all__ = ["register"]
