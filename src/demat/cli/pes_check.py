"""``demat pes inspect | validate | ack``: look into PES files and acknowledgements."""

from __future__ import annotations

import argparse
from typing import Any

from demat.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    emit_json,
    existing_dir,
    existing_file,
    exit_code,
    fail,
    file_failed,
    settings_from,
    xml_limits_from,
)
from demat.cli.voice import ACCEPTED, INVALID, REJECTED, VALID, finding, shown, tally, verdict
from demat.errors import DematError, SchemaError


def register(pes_sub: Any) -> None:
    """Add this module's subcommands to ``demat pes``."""
    p = pes_sub.add_parser("inspect", help="show what a PES_Aller declares (header, bordereaux, PJ)")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_inspect)

    p = pes_sub.add_parser("validate", help="validate PES_Aller files: XSD, business rules, PJ content")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.add_argument(
        "--schemas", type=existing_dir, metavar="DIR", help="directory holding an official schema set"
    )
    p.add_argument("--official", action="store_true", help="use the official schema set, not the bundled one")
    p.add_argument("--schema-version", metavar="V", help="schema set version, e.g. v5.17")
    p.add_argument("--no-schema", action="store_true", help="business rules only, no XSD")
    p.set_defaults(handler=_validate)

    p = pes_sub.add_parser(
        "ack",
        help="read PES_ACQUIT acknowledgements: accepted or rejected, and why",
        description="Read each PES_ACQUIT and check it against its schema. ACCEPTÉ (exit 0): it "
        "conforms and every element is OK; REJETÉ (exit 1): some element is KO; NON CONFORME (exit 1): "
        "the acquittal departs from its schema in a way that could hide a rejection (each deviation "
        "is listed with its line; the known harmless ones, such as CodCol 000, are warnings).",
    )
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_ack)


def _max_pj_text(args: argparse.Namespace) -> int:
    from demat.gateway.options import max_pj_text

    return max_pj_text(settings_from(args))


def _inspect(args: argparse.Namespace) -> int:
    from demat.pes.inspect import inspect_pes

    limits = xml_limits_from(args)
    status = EXIT_OK
    for path in args.files:
        try:
            info = inspect_pes(path, limits=limits, max_pj_text=_max_pj_text(args))
        except DematError as exc:
            status = max(status, file_failed(path, exc, as_json=args.json))
            continue
        if args.json:
            emit_json(info.to_dict())
            continue
        _print_info(path, info)
    return status


def _print_info(path: Any, info: Any) -> None:
    v = shown
    print(
        f"{path}: PES_Aller {v(info.typ_fic)} {v(info.nom_fic)}, "
        f"encoding {v(info.encoding, 'UTF-8 (implicit)')}"
    )
    about = f"  « {info.libelle_col_bud} »" if info.libelle_col_bud else ""
    print(
        f"  IdPost {v(info.id_post)}  IdColl {v(info.id_coll)}  CodCol {v(info.cod_col)}  "
        f"CodBud {v(info.cod_bud)}{about}"
    )
    blocks = ", ".join(
        f"{d.name} (IdVer {v(d.id_ver)}, InfoDematerialisee {d.info_dematerialisee or '0'})"
        for d in info.domains.values()
    )
    print(f"  blocks: {blocks or 'none'}{', PES_PJ' if info.pj_block else ''}")
    print(f"  signature of the whole file: {'yes' if info.root_signed else 'no'}")
    for b in info.bordereaux:
        print(
            f"  {b.domain} {v(b.label)} TypBord {v(b.typ_bord)} Id {v(b.id)}: "
            f"NbrPce {v(b.nbr_pce)} (counted {b.pieces}), "
            f"HT {v(b.mt_bord_ht)} (sum {v(b.sum_ht)}), TVA {v(b.mt_bord_tva)} (sum {v(b.sum_tva)}), "
            f"{b.lines} line(s), {'signed' if b.signed else 'not signed'}"
        )
    for pj in info.pjs:
        size = f"{pj.inflated_size} bytes inflated" if pj.inflated_size is not None else "size unknown"
        name = f" « {pj.nom_pj} »" if pj.nom_pj else ""
        print(
            f"  PJ {v(pj.id_unique)}{name} TypePJ {v(pj.type_pj)} {v(pj.mime_type)}: "
            f"{pj.base64_length} base64 characters, {size}"
        )


def _validate(args: argparse.Namespace) -> int:
    from demat.cli import progress
    from demat.gateway import options
    from demat.pes.validate import validate_pes
    from demat.xml.schemas import SchemaRegistry

    settings = settings_from(args)
    registry = (
        SchemaRegistry(official_dirs=[args.schemas]) if args.schemas else options.schema_registry(settings)
    )
    origin = "official" if args.official or args.schemas else None
    status = EXIT_OK
    for path in args.files:
        try:
            with progress.reading(path, f"validating {path.name}") as source:
                report = validate_pes(
                    source,
                    registry=registry,
                    origin=origin,
                    version=args.schema_version,
                    schema=not args.no_schema,
                    limits=options.xml_limits(settings),
                    max_pj_inflated=options.max_pj_inflated(settings),
                    max_pj_text=options.max_pj_text(settings),
                )
        except SchemaError as exc:
            fail(f"{exc} (use --schemas DIR to point at an official PES schema set)")
            return exit_code(exc)
        if not report.valid:
            status = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
            continue
        against = f"schema {report.schema}" if report.schema else "rules only, no schema"
        detail = f"{against}; {tally(len(report.errors), len(report.warnings))}"
        print(verdict(path, VALID if report.valid else INVALID, detail))
        for f in report.errors + report.warnings:
            print(finding(f.severity, f.code, f.message, line=f.line))
    return status


def _ack(args: argparse.Namespace) -> int:
    from demat.gateway import options
    from demat.pes.ack import read_acquit

    settings = settings_from(args)
    limits, registry = options.xml_limits(settings), options.schema_registry(settings)
    status = EXIT_OK
    for path in args.files:
        try:
            acquit = read_acquit(path, limits=limits, registry=registry)
        except DematError as exc:
            status = max(status, file_failed(path, exc, as_json=args.json))
            continue
        if not acquit.accepted:
            status = EXIT_INVALID
        if args.json:
            emit_json(acquit.to_dict())
            continue
        word = ACCEPTED if acquit.accepted else REJECTED if acquit.conforms else INVALID
        detail = f"NomFic {shown(acquit.nom_fic)}"
        if not acquit.conforms:
            detail += "; not a PES_ACQUIT as its schema defines it"
        print(verdict(path, word, detail))
        for d in acquit.deviations:
            print(finding(d.severity, d.code, d.message, line=d.line))
        for e in acquit.elements:
            print(f"  {'OK' if e.ok else 'KO'} {e.domaine_label}: {e.subject}")
            for err in e.errors:
                print(f"      {err}")
            for piece in e.pieces:
                for err in piece.errors:
                    print(f"      pièce {piece.num}: {err}")
                for ligne in piece.lignes:
                    for err in ligne.errors:
                        print(f"      pièce {piece.num} ligne {ligne.num}: {err}")
    return status


__all__ = [
    "register",
]
