"""``demat pes build``: write a PES_Aller from a JSON/TOML specification, or a synthetic one."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from demat.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    emit_json,
    existing_file,
    fail,
    output_file,
    settings_from,
    size,
)
from demat.errors import ValidationError


def register(pes_sub: Any) -> None:
    """Add ``build`` to ``demat pes``."""
    parser: argparse.ArgumentParser = pes_sub.add_parser(
        "build",
        help="write a PES_Aller from a JSON/TOML spec, or a synthetic one",
        description=(
            "Write a PES_Aller (ISO-8859-1 by default). SPEC is the model as JSON or TOML, with the "
            "XSD element names as keys (see demat.pes.model); PJ files are given by path, relative to "
            "the spec. With --synthetic, a deterministic realistic file of about --size is written."
        ),
    )
    parser.add_argument("spec", nargs="?", type=existing_file, help="specification (.json or .toml)")
    parser.add_argument("-o", "--output", required=True, type=output_file, help="output XML file")
    parser.add_argument(
        "--encoding", default="ISO-8859-1", choices=["ISO-8859-1", "UTF-8"], help="output encoding"
    )
    parser.add_argument(
        "--unmappable",
        default="error",
        choices=["error", "replace", "charref"],
        help="characters outside ISO-8859-1: refuse (default), transliterate, or write as &#NNN;",
    )
    syn = parser.add_argument_group("synthetic files")
    syn.add_argument("--synthetic", action="store_true", help="write a synthetic PES instead of a spec")
    syn.add_argument("--size", type=size, default="10MB", help="approximate size, e.g. 500KB, 10MB, 500MB")
    syn.add_argument("--siret", default="21310555400017")
    syn.add_argument("--id-post", default="031007")
    syn.add_argument("--cod-col", default="100")
    syn.add_argument("--cod-bud", default="00")
    syn.add_argument("--recette", action="store_true", help="titres de recette instead of mandats")
    syn.add_argument("--ormc", action="store_true", help="ORMC rôles (with --recette)")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument("--wrong-totals", action="store_true", help="MtBordHT ≠ Σ lines, to be rejected")
    parser.set_defaults(handler=_build)


def register_transcode(pes_sub: Any) -> None:
    """Add ``transcode`` to ``demat pes``: S²LOW refuses anything but ISO-8859-1."""
    parser: argparse.ArgumentParser = pes_sub.add_parser(
        "transcode",
        help="rewrite a PES in ISO-8859-1 (S²LOW refuses other encodings)",
        description="Transcode a PES (e.g. UTF-8) to ISO-8859-1, streaming, rewriting its XML declaration. "
        "A character ISO-8859-1 cannot hold is an error (with its line) unless --replace is given. "
        "The input is checked like every other command's (an accepted encoding, no DTD, well-formed, "
        "within the size and depth caps of [limits]); on any error nothing is written.",
    )
    parser.add_argument("input", type=existing_file)
    parser.add_argument("-o", "--output", required=True, type=output_file)
    parser.add_argument(
        "--replace", action="store_true", help="transliterate (€→EUR, ’→') instead of failing"
    )
    parser.set_defaults(handler=_transcode)


def _transcode(args: argparse.Namespace) -> int:
    from demat.gateway.options import xml_limits
    from demat.pes.encoding import to_latin1_file

    to_latin1_file(
        args.input,
        args.output,
        errors="replace" if args.replace else "strict",
        limits=xml_limits(settings_from(args)),
    )
    return EXIT_OK


def _load_spec(path: Path) -> Any:
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(path.read_text("utf-8"))
        return json.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"spécification illisible: {exc}", file=str(path), code="PES_SPEC_SYNTAX"
        ) from exc


def _build(args: argparse.Namespace) -> int:
    from demat.pes.build import build_pes
    from demat.pes.model import parse_spec
    from demat.pes.synthetic import write_synthetic

    if args.synthetic == (args.spec is not None):
        fail("pes build: give either SPEC or --synthetic")
        return EXIT_USAGE
    if args.synthetic:
        stats = write_synthetic(
            args.output,
            args.size,
            siret=args.siret,
            id_post=args.id_post,
            cod_col=args.cod_col,
            cod_bud=args.cod_bud,
            domain="recette" if args.recette else "depense",
            ormc=args.ormc,
            seed=args.seed,
            wrong_totals=args.wrong_totals,
        )
        emit_json(
            {
                "output": str(stats.path),
                "bytes": stats.size,
                "bordereaux": stats.bordereaux,
                "pieces": stats.pieces,
                "pj": stats.pjs,
            }
        )
        return EXIT_OK
    spec_path: Path = args.spec
    pes = parse_spec(_load_spec(spec_path), base_dir=spec_path.parent, name=str(spec_path))
    build_pes(pes, args.output, encoding=args.encoding, unmappable=args.unmappable)
    sections = [s for s in (pes.depense, pes.recette) if s is not None]
    emit_json(
        {
            "output": str(args.output),
            "bytes": args.output.stat().st_size,
            "bordereaux": sum(len(s.bordereaux) for s in sections),
            "pieces": sum(len(b.pieces) for s in sections for b in s.bordereaux),
            "pj": len(pes.pj.pjs) if pes.pj else 0,
        }
    )
    return EXIT_OK


__all__ = [
    "register",
    "register_transcode",
]
