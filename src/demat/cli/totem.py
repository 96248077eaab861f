"""``demat totem …``: TOTEM budget documents (inspect, validate, seal, verify).

Exit codes: 0 everything good, 1 a document is invalid / unsealed / mis-sealed, 2 usage or I/O.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

from demat.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    emit_json,
    existing_dir,
    existing_file,
    exit_code,
    file_failed,
    settings_from,
)
from demat.cli.voice import INVALID, VALID, finding, tally, verdict
from demat.errors import ConfigError, DematError, SchemaError

if TYPE_CHECKING:  # the budget code loads when a command runs: not for --help
    from demat.xml.safe import XmlLimits
    from demat.xml.schemas import SchemaRegistry


def _xml_limits(args: argparse.Namespace) -> XmlLimits:
    from demat.gateway.options import xml_limits

    return xml_limits(settings_from(args))


def _registry(args: argparse.Namespace) -> SchemaRegistry:
    from demat.gateway.options import schema_registry

    if args.schemas_dir is not None:
        from demat.xml.schemas import SchemaRegistry

        return SchemaRegistry(official_dirs=[args.schemas_dir])
    return schema_registry(settings_from(args))


def _inspect(args: argparse.Namespace) -> int:
    from demat.actes.budget import inspect_budget

    limits = _xml_limits(args)
    worst = EXIT_OK
    for path in args.files:
        try:
            info = inspect_budget(path, limits=limits)
        except DematError as exc:
            worst = max(worst, file_failed(path, exc, as_json=args.json))
            continue
        if args.json:
            emit_json(info.to_dict())
            continue
        seal_text = f"scellé le {info.seal_date}" if info.sealed else "non scellé"
        print(
            f"{path}: {info.nature or info.nat_dec or '?'} {info.exercice or '?'} "
            f"{info.nomenclature or '?'} — {info.libelle_coll or '?'} (SIRET {info.siret or '?'}) — "
            f"budget {info.cod_bud or '?'} {info.libelle_etab or '?'} — {seal_text}"
        )
    return worst


def _validate(args: argparse.Namespace) -> int:
    from demat.actes.budget import validate_budget

    registry = _registry(args)
    limits = _xml_limits(args)
    worst = EXIT_OK
    for path in args.files:
        try:
            report = validate_budget(path, reference=args.reference, registry=registry, limits=limits)
        except SchemaError as exc:
            if args.reference:
                raise ConfigError(
                    f"{exc.message}: give the official schema set with --schemas-dir, "
                    "schemas_dir in the settings or DEMAT_SCHEMAS_DIR"
                ) from exc
            raise
        except DematError as exc:
            if exit_code(exc) != EXIT_INVALID:
                raise
            worst = max(worst, file_failed(path, exc, as_json=args.json))
            continue
        if not report.valid:
            worst = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
            continue
        detail = f"{report.engine}; {tally(len(report.errors), 0)}"
        print(verdict(path, VALID if report.valid else INVALID, detail))
        for issue in report.errors[: args.max_errors]:
            print(finding("error", None, issue.message, line=issue.line, where=issue.path))
        if len(report.errors) > args.max_errors:
            print(f"  … and {len(report.errors) - args.max_errors} more (--max-errors N)")
    return worst


def _verify(args: argparse.Namespace) -> int:
    from demat.actes.budget import verify_seal

    limits = _xml_limits(args)
    worst = EXIT_OK
    for path in args.files:
        try:
            report = verify_seal(path, limits=limits)
        except DematError as exc:
            worst = max(worst, file_failed(path, exc, as_json=args.json))
            continue
        if not report.seal_valid:
            worst = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
            continue
        if not report.sealed:
            print(verdict(path, "not sealed"))
        elif report.seal_valid:
            print(verdict(path, "sealed, seal valid", f"sealed {report.date}"))
        else:
            md5 = f"md5 expected {report.expected_md5}, computed {report.actual_md5}"
            print(verdict(path, "seal invalid", md5))
    return worst


def _seal(args: argparse.Namespace) -> int:
    from demat.actes.budget import seal, verify_seal
    from demat.actes.budget.seal import read_budget

    when = dt.datetime.fromisoformat(args.date) if args.date else None
    limits = _xml_limits(args)
    sealed = seal(read_budget(args.file, limits)[0], when=when, name=str(args.file), limits=limits)
    if str(args.output) == "-":
        sys.stdout.buffer.write(sealed)
    else:
        part = args.output.with_name(args.output.name + ".part")
        part.write_bytes(sealed)
        part.replace(args.output)
    if args.json:
        report = verify_seal(sealed, name=str(args.output), limits=limits)
        emit_json({**report.to_dict(), "source": str(args.file)})
    else:
        from demat.cli.pes_build import wrote

        wrote(args.output, len(sealed), f"sealed, from {args.file}")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``demat totem`` and its subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "totem", help="TOTEM budget documents: inspect, validate, seal, verify"
    )
    commands = parser.add_subparsers(dest="totem_command", required=True, metavar="COMMAND")

    p = commands.add_parser("inspect", help="nature, exercice, nomenclature, collectivité, scellement")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_inspect)

    p = commands.add_parser("validate", help="validate against the DocumentBudgetaire schema")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.add_argument(
        "--reference",
        action="store_true",
        help="use xmlschema on the official schema set (slow) instead of the bundled one",
    )
    p.add_argument("--schemas-dir", type=existing_dir, help="directory holding the official schema set")
    p.add_argument("--max-errors", type=int, default=20, help="errors shown per file (text output)")
    p.set_defaults(handler=_validate)

    p = commands.add_parser("verify", help="check the Scellement (md5 + sha1) of budget documents")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_verify)

    p = commands.add_parser("seal", help="seal a budget document as TotEM does")
    p.add_argument("file", type=existing_file, metavar="IN")
    from demat.cli._common import output_file  # refuses a link or a device

    p.add_argument(
        "-o", "--output", type=output_file, required=True, metavar="OUT", help="sealed file ('-': stdout)"
    )
    p.add_argument("--date", help="seal date (ISO 8601), default now")
    p.add_argument("--json", action="store_true", help="print the new seal as JSON")
    p.set_defaults(handler=_seal)


__all__ = [
    "register",
]
