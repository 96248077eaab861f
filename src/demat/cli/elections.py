"""``demat elections …``: electoral lists (read, check, export, diff; send when the gateway's
flow is installed).

Electors are personal data: without ``--show-rows`` the commands print aggregates (counts per
list, per rule) and rows by number only, never a name. ``--json`` prints JSON Lines. Exit codes:
0 all good, 1 an extraction is invalid or unreadable, 2 usage or I/O (a missing file, a format
file that does not hold).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.cli._common import EXIT_INVALID, EXIT_OK, emit_json, existing_file, exit_code, file_failed
from demat.cli.voice import INVALID, VALID, finding, shown, tally, verdict
from demat.errors import DematError

if TYPE_CHECKING:
    from demat.elections.check import CheckReport

# demat.elections is imported by each command when it runs: `demat --help` builds every
# parser and must not load pydantic, openpyxl and the rules to do so.


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"date AAAA-MM-JJ attendue : « {value} »") from exc


def _read(args: argparse.Namespace) -> int:
    from demat.elections import read_extraction

    worst = EXIT_OK
    for path in args.files:
        try:
            extraction = read_extraction(path)
            if args.show_rows:
                for e in extraction.electors:
                    if args.json:
                        emit_json(e.to_dict())
                    else:
                        d = e.to_dict()
                        print(f"{d['file']}:{d['row']}: " + ";".join(shown(d[k]) for k in list(d)[2:]))
            summary = extraction.to_dict()
        except DematError as exc:
            if exit_code(exc) != EXIT_INVALID:
                raise
            worst = max(worst, file_failed(path, exc, as_json=args.json))
            continue
        if args.json:
            emit_json(summary)
            continue
        print(
            f"{path}: {summary['source_kind']} ({summary['container']}), {summary['electors']} électeur(s)"
            + (", réenregistré par un tableur" if summary["resaved_spreadsheet"] else "")
        )
        for li in summary["lists"]:
            when = li["extraction_date"] or "date inconnue"
            where = f"{shown(li['commune_code'], '?')} {shown(li['list_type'], '?')}"
            print(f"  {where} : {li['electors']} ({when})")
        for f in summary["files"]:
            if f["unknown_columns"]:
                print(f"  {f['name']}: colonnes ignorées : {', '.join(f['unknown_columns'])}")
            if f["encoding"] != "utf-8":
                print(f"  {f['name']}: encodage {f['encoding']}")
        for refused in summary["refused"]:
            print(f"  {refused['file']}: refusé : {refused['message']}")
    return worst


def _check(args: argparse.Namespace) -> int:
    from demat.elections import check_extractions

    reports = check_extractions(args.files, today=args.today, max_per_code=args.max_per_code)
    worst = EXIT_OK
    for report in reports:
        if not report.valid:
            worst = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
            continue
        _show_report(report, show_rows=args.show_rows)
    return worst


def _show_report(report: CheckReport, *, show_rows: bool) -> None:
    from demat.elections.check import RULES

    errors = sum(n for c, n in report.counts.items() if RULES[c][0] == "error")
    warnings = sum(n for c, n in report.counts.items() if RULES[c][0] != "error")
    print(
        verdict(
            report.file,
            VALID if report.valid else INVALID,
            f"{report.electors} électeur(s); {tally(errors, warnings)}",
        )
    )
    if show_rows:
        for f in report.errors + report.warnings:
            print(finding(RULES[f.code][0], f.code, f.message, line=f.row, where=f.file))
    else:
        for code, n in sorted(report.counts.items(), key=lambda kv: (RULES[kv[0]][0] != "error", kv[0])):
            print(finding(RULES[code][0], code, f"×{n} — {RULES[code][1]}"))


def _export(args: argparse.Namespace) -> int:
    from demat.elections import builtin_format, export_with_format, export_xml, load_format, read_extraction
    from demat.elections.formats import BUILTIN_FORMATS

    if args.format == "xml":
        fmt = None
    elif args.format in BUILTIN_FORMATS:
        fmt = builtin_format(args.format)
    else:
        fmt = load_format(Path(args.format))  # validated before anything is read
    report = None
    try:
        if args.check:  # one pass for both
            from demat.elections.pipeline import check_and_export

            report, result = check_and_export(
                args.file, args.output, fmt=fmt or "xml", today=args.today, max_per_code=args.max_per_code
            )
        else:
            extraction = read_extraction(args.file)
            result = (
                export_xml(extraction, args.output, today=args.today)
                if fmt is None
                else export_with_format(extraction, fmt, args.output, today=args.today)
            )
    except DematError as exc:
        if exit_code(exc) != EXIT_INVALID:
            raise
        return file_failed(args.file, exc, as_json=args.json)
    if args.json:
        out: dict[str, Any] = {
            "file": str(args.file),
            "format": args.format,
            "outputs": [{"path": str(p), "electors": result.counts[p]} for p in result],
            "skipped_rows": [{"file": f, "row": r} for f, r in result.skipped],
            "replaced_characters": result.replaced,
        }
        if report is not None:
            out["check"] = report.to_dict()
        emit_json(out)
    else:
        if report is not None:
            _show_report(report, show_rows=args.show_rows)
        for p in result:
            print(f"{p}: {result.counts[p]} électeur(s)")
        if result.skipped:
            rows = ", ".join(str(r) for _, r in result.skipped[:20])
            print(f"  {len(result.skipped)} ligne(s) non exportée(s) (type de liste illisible) : {rows}")
        if result.replaced:
            print(f"  {result.replaced} caractère(s) absent(s) de l'encodage, écrit(s) sans accent ou « ? »")
    return EXIT_INVALID if report is not None and not report.valid else EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from demat.elections import diff_extractions

    try:
        tableau = diff_extractions(args.old, args.new, pre2019=args.pre2019)
    except DematError as exc:
        if exit_code(exc) != EXIT_INVALID:
            raise
        return file_failed(args.new, exc, as_json=args.json)
    if args.csv:
        tableau.to_csv(args.csv)
    if args.pdf:
        tableau.to_pdf(args.pdf, place=args.place or "")
    summary = tableau.to_dict(show_rows=args.show_rows)
    if args.json:
        emit_json(summary)
        return EXIT_OK
    print(
        f"{args.old} → {args.new} (appariement par {'INE' if tableau.keyed_by == 'INE' else 'identité'}) : "
        f"{summary['added']} inscription(s), {summary['removed']} radiation(s), "
        f"{summary['changed']} modification(s)"
    )
    if args.show_rows:
        for label, entries in (("inscription", tableau.inscriptions), ("radiation", tableau.radiations)):
            for e in entries:
                who = f"{shown(e.list_type, '?')} {e.birth_name} {e.first_names} {e.birth_date}"
                print(f"  {label} ligne {e.row}: {who} {e.motif}".rstrip())
        for c in tableau.changes:
            print(f"  modification lignes {c.old.row} → {c.new.row}: {', '.join(c.fields)}")
    else:
        kinds = Counter(f for c in tableau.changes for f in c.fields)
        for kind, n in sorted(kinds.items()):
            print(f"  {kind} ×{n}")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add ``demat elections`` and its subcommands (``send`` too when the elections flow's
    command is installed)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "elections", help="electoral lists: read, check, export, diff (tableau), send"
    )
    commands = parser.add_subparsers(dest="elections_command", required=True, metavar="COMMAND")
    rows_help = "show electors (personal data); default: aggregates only"

    p = commands.add_parser("read", help="what an extraction holds: kind, encoding, lists, counts")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.add_argument("--show-rows", action="store_true", help=rows_help)
    p.set_defaults(handler=_read)

    p = commands.add_parser("check", help="check extractions (each against the others)")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.add_argument("--show-rows", action="store_true", help="list every finding (row, code, message)")
    p.add_argument("--today", type=_date, help="date ages are judged at when the file gives none")
    p.add_argument("--max-per-code", type=int, default=None, help="keep at most N findings per code")
    p.set_defaults(handler=_check)

    p = commands.add_parser("export", help="export in e-listelec, XML or a préfecture's format file")
    p.add_argument("file", type=existing_file, metavar="FILE")
    p.add_argument(
        "--format",
        default="elistelec",
        help="elistelec (default) or another shipped format (prefecture-civilite, "
        "prefecture-largeur-fixe), xml, or a format file (.toml)",
    )
    p.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="folder for the files")
    p.add_argument("--today", type=_date, help="the list's date when the file gives none")
    p.add_argument("--json", action="store_true", help="one JSON object (JSON Lines)")
    p.add_argument(
        "--check",
        action="store_true",
        help="check the extraction in the same pass (as check does; exit 1 when invalid, "
        "the export written all the same); --json adds the report under check",
    )
    p.add_argument("--show-rows", action="store_true", help="with --check: list every finding")
    p.add_argument("--max-per-code", type=int, default=None, help="with --check: at most N findings per code")
    p.set_defaults(handler=_export)

    p = commands.add_parser("diff", help="the tableau between two extractions of a commune")
    p.add_argument("old", type=existing_file, metavar="OLD")
    p.add_argument("new", type=existing_file, metavar="NEW")
    p.add_argument("--json", action="store_true", help="one JSON object (JSON Lines)")
    p.add_argument("--show-rows", action="store_true", help=rows_help)
    p.add_argument("--pre2019", action="store_true", help="a bureau change shown as an inscription")
    p.add_argument("--csv", type=Path, help="write the tableau as CSV")
    p.add_argument("--pdf", type=Path, help="write the tableau as PDF, for the commission to sign")
    p.add_argument("--place", help="where the commission signs (PDF)")
    p.set_defaults(handler=_diff)

    if importlib.util.find_spec("demat.cli.elections_send") is not None:
        from demat.cli import elections_send

        elections_send.register(commands)


__all__ = [
    "register",
]
