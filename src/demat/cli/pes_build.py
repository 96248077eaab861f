"""``demat pes build``: write a PES_Aller from a JSON/TOML specification, or a synthetic one."""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import tomllib
from collections.abc import Iterator
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
        "--encoding",
        default=None,
        choices=["ISO-8859-1", "UTF-8"],
        help="output encoding of a SPEC's PES (default ISO-8859-1, what S²LOW takes; synthetic files are "
        "always ISO-8859-1)",
    )
    parser.add_argument("--json", action="store_true", help="say what was written as one JSON object")
    parser.add_argument(
        "--unmappable",
        default="error",
        choices=["error", "replace", "charref"],
        help="characters outside ISO-8859-1: refuse (default), transliterate, or write as &#NNN;",
    )
    syn = parser.add_argument_group("synthetic files")
    syn.add_argument("--synthetic", action="store_true", help="write a synthetic PES instead of a spec")
    syn.add_argument("--size", type=size, default="10MB", help="approximate size, e.g. 500KB, 10MB, 500MB")
    syn.add_argument(
        "--profile", help="the collectivité of this settings profile (SIRET, IdPost, CodCol, CodBud)"
    )
    syn.add_argument("--siret", help="default 21310555400017, or the profile's")
    syn.add_argument("--id-post", help="default 031007, or the profile's")
    syn.add_argument("--cod-col", help="default 100, or the profile's")
    syn.add_argument("--cod-bud", help="default 00, or the profile's")
    syn.add_argument("--recette", action="store_true", help="titres de recette instead of mandats")
    syn.add_argument("--ormc", action="store_true", help="ORMC rôles (with --recette)")
    syn.add_argument("--seed", type=int, default=0)
    syn.add_argument(
        "--wrong-totals",
        action="store_true",
        help="MtBordHT ≠ Σ lines: pes validate and send refuse it (the DGFiP would)",
    )
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
    from demat.cli import progress
    from demat.gateway.options import xml_limits
    from demat.pes.encoding import to_latin1_file

    total = args.input.stat().st_size
    with output_path(args.output) as out:
        with progress.writing(out, f"transcoding {args.input.name}", total):
            to_latin1_file(
                args.input,
                out,
                errors="replace" if args.replace else "strict",
                limits=xml_limits(settings_from(args)),
            )
        size = out.stat().st_size
    wrote(args.output, size, f"ISO-8859-1, from {args.input}")
    return EXIT_OK


@contextlib.contextmanager
def output_path(output: Path) -> Iterator[Path]:
    """Where a command writes its document: ``output`` itself, or for ``-`` a private temporary
    file whose bytes go to standard output once it is complete (never a file called ``-``)."""
    if str(output) != "-":
        yield output
        return
    with tempfile.TemporaryDirectory(prefix="demat-") as tmp:
        path = Path(tmp) / "document.xml"
        yield path
        with path.open("rb") as document:
            shutil.copyfileobj(document, sys.stdout.buffer, 1 << 20)
        sys.stdout.buffer.flush()


def wrote(output: Path, size: int, what: str) -> None:
    """Confirm what was written, ``size`` bytes: on standard output, or on standard error when
    the document itself went there (``-o -``)."""
    amount = f"{size:,}".replace(",", " ")
    if str(output) == "-":
        print(f"demat: wrote {amount} bytes to standard output, {what}", file=sys.stderr)
    else:
        print(f"{output}: written, {amount} bytes, {what}")


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
    if args.synthetic == (args.spec is not None):
        fail("pes build: give either SPEC or --synthetic")
        return EXIT_USAGE
    if args.synthetic and args.encoding not in (None, "ISO-8859-1"):
        fail("pes build: synthetic files are ISO-8859-1 (what S²LOW takes); --encoding is for a SPEC")
        return EXIT_USAGE
    with output_path(args.output) as out:
        made, encoding = _write(args, out, f"building {args.output.name}")
        size = out.stat().st_size
    if args.json:
        emit_json({"output": str(args.output), "bytes": size, "encoding": encoding, **made})
    else:
        counts = f"{made['bordereaux']} bordereau(x), {made['pieces']} pièce(s), {made['pj']} PJ"
        wrote(args.output, size, f"{encoding}, {counts}")
    return EXIT_OK


#: Who a synthetic PES is from when neither a profile nor a flag says (a real commune's SIRET).
_SYNTHETIC = {"siret": "21310555400017", "id_post": "031007", "cod_col": "100", "cod_bud": "00"}


def _collectivite(args: argparse.Namespace) -> dict[str, str]:
    """SIRET, IdPost, CodCol, CodBud of a synthetic PES: the flags, else the profile's, else
    :data:`_SYNTHETIC`."""
    found = dict(_SYNTHETIC)
    if args.profile:
        prof = settings_from(args).profile(args.profile)
        found.update(
            {
                k: v
                for k, v in (
                    ("siret", prof.siret),
                    ("id_post", prof.id_post),
                    ("cod_col", prof.cod_col),
                    ("cod_bud", prof.cod_bud),
                )
                if v
            }
        )
    found.update({k: getattr(args, k) for k in _SYNTHETIC if getattr(args, k)})
    return found


def _write(args: argparse.Namespace, out: Path, label: str) -> tuple[dict[str, int], str]:
    """Write the PES ``args`` describe to ``out``; what it holds, and its encoding."""
    from demat.cli import progress
    from demat.pes.build import build_pes
    from demat.pes.model import parse_spec
    from demat.pes.synthetic import write_synthetic

    if args.synthetic:
        who = _collectivite(args)
        with progress.writing(out, label, args.size):
            stats = write_synthetic(
                out,
                args.size,
                siret=who["siret"],
                id_post=who["id_post"],
                cod_col=who["cod_col"],
                cod_bud=who["cod_bud"],
                domain="recette" if args.recette else "depense",
                ormc=args.ormc,
                seed=args.seed,
                wrong_totals=args.wrong_totals,
            )
        return {"bordereaux": stats.bordereaux, "pieces": stats.pieces, "pj": stats.pjs}, "ISO-8859-1"
    spec_path: Path = args.spec
    pes = parse_spec(_load_spec(spec_path), base_dir=spec_path.parent, name=str(spec_path))
    encoding = args.encoding or "ISO-8859-1"
    with progress.writing(out, label):
        build_pes(pes, out, encoding=encoding, unmappable=args.unmappable)
    sections = [s for s in (pes.depense, pes.recette) if s is not None]
    made = {
        "bordereaux": sum(len(s.bordereaux) for s in sections),
        "pieces": sum(len(b.pieces) for s in sections for b in s.bordereaux),
        "pj": len(pes.pj.pjs) if pes.pj else 0,
    }
    return made, encoding


__all__ = [
    "output_path",
    "register",
    "register_transcode",
    "wrote",
]
