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


def _inspect(args: argparse.Namespace) -> int:
    from demat.pes.inspect import inspect_pes

    limits = xml_limits_from(args)
    status = EXIT_OK
    for path in args.files:
        try:
            info = inspect_pes(path, limits=limits)
        except DematError as exc:
            status = max(status, file_failed(path, exc, as_json=args.json))
            continue
        if args.json:
            emit_json(info.to_dict())
            continue
        print(f"{path}")
        print(
            f"  NomFic {info.nom_fic}  TypFic {info.typ_fic}  encodage {info.encoding or 'UTF-8 (implicite)'}"
        )
        print(
            f"  IdPost {info.id_post}  IdColl {info.id_coll}  CodCol {info.cod_col}  CodBud {info.cod_bud}"
            + (f"  « {info.libelle_col_bud} »" if info.libelle_col_bud else "")
        )
        blocks = ", ".join(
            f"{d.name} (IdVer {d.id_ver}, InfoDematerialisee {d.info_dematerialisee or '0'})"
            for d in info.domains.values()
        )
        print(f"  blocs: {blocks or 'aucun'}{', PES_PJ' if info.pj_block else ''}")
        print(f"  signature globale: {'oui' if info.root_signed else 'non'}")
        for b in info.bordereaux:
            print(
                f"  {b.domain} {b.label} TypBord {b.typ_bord} Id {b.id}: "
                f"NbrPce {b.nbr_pce} (compté {b.pieces}), "
                f"HT {b.mt_bord_ht} (somme {b.sum_ht}), TVA {b.mt_bord_tva} (somme {b.sum_tva}), "
                f"{b.lines} ligne(s), {'signé' if b.signed else 'non signé'}"
            )
        for pj in info.pjs:
            size = (
                f"{pj.inflated_size} octets décompressés"
                if pj.inflated_size is not None
                else "taille inconnue"
            )
            print(
                f"  PJ {pj.id_unique} « {pj.nom_pj} » TypePJ {pj.type_pj} {pj.mime_type}: "
                f"{pj.base64_length} car. base64, {size}"
            )
    return status


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
                )
        except SchemaError as exc:
            fail(f"{exc} (use --schemas DIR to point at an official PES schema set)")
            return exit_code(exc)
        if not report.valid:
            status = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
            continue
        verdict = "VALIDE" if report.valid else "NON VALIDE"
        print(f"{path}: {verdict}" + (f" [{report.schema}]" if report.schema else " [sans XSD]"))
        for f in report.errors + report.warnings:
            where = f"ligne {f.line}: " if f.line else ""
            kind = "erreur" if f.severity == "error" else "avertissement"
            print(f"  {kind} {f.code}: {where}{f.message}")
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
        verdict = "ACCEPTÉ" if acquit.accepted else "REJETÉ" if acquit.conforms else "NON CONFORME"
        print(f"{path}: {verdict} (NomFic {acquit.nom_fic})")
        for d in acquit.deviations:
            kind = "erreur" if d.severity == "error" else "avertissement"
            print(f"  {kind} {d.code}: ligne {d.line}: {d.message}")
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
