"""``demat actes …``: package an acte, inspect and validate ACTES messages and archives."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tomllib
from pathlib import Path
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
from demat.errors import ConfigError, DematError, FileMissing, ValidationError

if TYPE_CHECKING:  # pydantic loads when a command runs: not for --help
    import pydantic


def register(sub: Any) -> None:
    """Add ``demat actes package|inspect|validate``."""
    parser: argparse.ArgumentParser = sub.add_parser("actes", help="ACTES (contrôle de légalité)")
    actes_sub = parser.add_subparsers(dest="actes_command", required=True, metavar="COMMAND")
    _register_package(actes_sub)
    _register_inspect(actes_sub)
    _register_validate(actes_sub)


# --- package ------------------------------------------------------------------------------


def _register_package(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "package",
        help="build the .tar.gz of an acte (1-1)",
        description="Build the archive of an acte from a TOML/JSON description and/or flags "
        "(flags win). Document paths in a description are relative to it.",
    )
    p.add_argument("spec", nargs="?", type=existing_file, help="description (.toml or .json)")
    who = p.add_argument_group("collectivité (or --profile)")
    who.add_argument("--profile", help="profile name in the settings")
    who.add_argument("--siren")
    who.add_argument("--dept", dest="departement", help="département (034, 02A, 974)")
    who.add_argument("--arrondissement")
    who.add_argument("--nature-collectivite", dest="nature_cl", help="nature de la collectivité (2 digits)")
    who.add_argument("--email", action="append", dest="return_emails", help="return address (repeatable)")
    who.add_argument("--referent-nom")
    who.add_argument("--referent-telephone")
    who.add_argument("--referent-email")
    what = p.add_argument_group("acte")
    what.add_argument("--nature", help="1-6 or DE, AR, AI, CC, BF, AU")
    what.add_argument("--numero", help="numéro interne")
    what.add_argument("--date", help="decision date YYYY-MM-DD")
    what.add_argument("--objet")
    what.add_argument("--matiere", help="e.g. 7.1")
    what.add_argument("--classification-date", help="date of the classification used (YYYY-MM-DD)")
    what.add_argument("--document", help="acte file[:TYPOLOGY] (default typology by nature, e.g. 99_DE)")
    what.add_argument("--annexe", action="append", default=None, help="annex file[:TYPOLOGY] (repeatable)")
    what.add_argument("--papier", action="store_true", default=None, help="paper documents sent by post")
    what.add_argument("--precedent", help="IDActe of the acte this one replaces")
    out = p.add_argument_group("package")
    out.add_argument("--classification", type=existing_file, help="RetourClassification XML to check against")
    out.add_argument("--serial", type=int, help="envelope serial number (default 1)")
    out.add_argument("--today", help="sending date (default: today)")
    out.add_argument("--trigram", help="tiers de télétransmission trigram (default: profile's, else SLO)")
    out.add_argument(
        "--max-archive-bytes", type=int, help="archive size cap (default from settings: 150 MiB)"
    )
    from demat.cli._common import output_target  # refuses a link or a device

    out.add_argument(
        "-o", "--output", type=output_target, default=".", help="output directory or file (default: .)"
    )
    out.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(handler=_package)


def _load_spec(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    text = path.read_bytes()
    try:
        data: dict[str, Any] = (
            json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text.decode())
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: description illisible : {exc}") from exc
    return data


def _doc_arg(value: str, base: Path, default_typology: str) -> dict[str, Any]:
    # "file.pdf:99_AU" — the typology is 5 characters after the last colon.
    if len(value) > 6 and value[-6] == ":" and not value.endswith(("/", "\\")):
        return {"path": value[:-6], "typology": value[-5:]}
    return {"path": value, "typology": default_typology}


def _document(spec: dict[str, Any] | str, base: Path, default_typology: str) -> Any:
    from demat.actes import ActeDocument

    d = _doc_arg(spec, base, default_typology) if isinstance(spec, str) else dict(spec)
    path = Path(d["path"])
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise FileMissing("document introuvable", file=str(path))
    return ActeDocument(filename=path.name, typology=d.get("typology") or default_typology, content=path)


def _date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{what} : date illisible {value!r} (attendu AAAA-MM-JJ)") from None


def _pydantic_error(exc: pydantic.ValidationError, what: str) -> ValidationError:
    detail = "; ".join(f"{'.'.join(str(x) for x in e['loc'])} : {e['msg']}" for e in exc.errors())
    return ValidationError(f"{what} invalide : {detail}", code="ACTES_MODELE")


def _identity(args: argparse.Namespace, spec: dict[str, Any]) -> Any:
    from demat.actes import ActesIdentity

    data: dict[str, Any] = dict(spec.get("identity", {}))
    flags = {
        "siren": args.siren,
        "departement": args.departement,
        "arrondissement": args.arrondissement,
        "nature": args.nature_cl,
        "return_emails": args.return_emails,
        "referent_nom": args.referent_nom,
        "referent_telephone": args.referent_telephone,
        "referent_email": args.referent_email,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    profile_name = args.profile or spec.get("profile")
    if profile_name:
        from demat.gateway.identity import actes_identity_fields

        # The profile says who the collectivité is; the spec and the flags say more or otherwise.
        data = {**actes_identity_fields(settings_from(args).profile(profile_name)), **data}
    import pydantic

    try:
        return ActesIdentity(**data)
    except pydantic.ValidationError as exc:
        raise _pydantic_error(exc, "identité de la collectivité") from None


def _acte(args: argparse.Namespace, spec: dict[str, Any], base: Path) -> Any:
    from demat.actes import Acte, Nature
    from demat.actes.model import LEGACY_ANNEX_TYPOLOGY

    data: dict[str, Any] = dict(spec.get("acte", {}))
    flags = {
        "nature": args.nature,
        "numero": args.numero,
        "date": args.date,
        "objet": args.objet,
        "matieres": args.matiere,
        "classification_date": args.classification_date,
        "document_papier": args.papier,
        "precedent_id_acte": args.precedent,
    }
    data.update({k: v for k, v in flags.items() if v is not None})
    data.setdefault("matieres", data.pop("matiere", None))
    missing = [
        k for k in ("nature", "numero", "date", "objet", "matieres", "classification_date") if not data.get(k)
    ]
    document: dict[str, Any] | str | None = args.document or data.get("document")
    if document is None:
        missing.append("document")
    if missing or document is None:
        raise ConfigError(f"acte incomplet, manquent : {', '.join(missing)}")
    try:
        nature = Nature.parse(data["nature"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    data["date"] = _date(data["date"], "date de décision")
    data["classification_date"] = _date(data["classification_date"], "date de classification")
    data["document"] = _document(document, base if not args.document else Path.cwd(), nature.default_typology)
    annexes = (
        [_document(a, Path.cwd(), LEGACY_ANNEX_TYPOLOGY) for a in args.annexe]
        if args.annexe is not None
        else [_document(a, base, LEGACY_ANNEX_TYPOLOGY) for a in data.get("annexes", [])]
    )
    data["annexes"] = tuple(annexes)
    import pydantic

    try:
        return Acte(**data)
    except pydantic.ValidationError as exc:
        raise _pydantic_error(exc, "acte") from None


def _limits(args: argparse.Namespace) -> Any:
    import dataclasses

    from demat.actes import ActesLimits
    from demat.gateway.options import actes_limits

    limits = actes_limits(settings_from(args))
    given = getattr(args, "max_archive_bytes", None)
    if given is None:
        return limits
    # The flag stands for the settings' max_actes_archive_bytes; the XML caps stay the settings'.
    return dataclasses.replace(
        ActesLimits.from_settings(given),
        max_message_bytes=limits.max_message_bytes,
        max_xml_depth=limits.max_xml_depth,
    )


def _classification(path: Path | None) -> Any:
    if path is None:
        return None
    from demat.actes.read import RetourClassificationMessage, read_message

    msg = read_message(path, name=str(path), check_schema=False)
    if not isinstance(msg, RetourClassificationMessage):
        raise ConfigError(f"{path} n'est pas une RetourClassification ({msg.type})")
    return msg.classification


def _package(args: argparse.Namespace) -> int:
    from demat.actes import package_acte

    spec = _load_spec(args.spec)
    base = args.spec.parent if args.spec else Path.cwd()
    identity = _identity(args, spec)
    acte = _acte(args, spec, base)
    trigram = args.trigram or spec.get("trigram")
    if trigram is None and (args.profile or spec.get("profile")):
        trigram = settings_from(args).profile(args.profile or spec["profile"]).trigram
    pkg = package_acte(
        identity,
        acte,
        serial=args.serial or int(spec.get("serial", 1)),
        today=_date(args.today, "--today") if args.today else dt.date.today(),
        trigram=trigram or "SLO",
        limits=_limits(args),
        classification=_classification(args.classification),
    )
    dest = _destination(Path(args.output), pkg.filename)
    size = pkg.write(dest)
    if args.json:
        emit_json(
            {
                "archive": str(dest),
                "size": size,
                "id_acte": pkg.id_acte,
                "members": list(pkg.members),
                "warnings": [str(w) for w in pkg.warnings],
            }
        )
    else:
        print(f"{dest}: written, {size} bytes, IDActe {pkg.id_acte}")
        for w in pkg.warnings:
            print(f"warning: {w}", file=sys.stderr)
    return EXIT_OK


def _destination(target: Path, filename: str) -> Path:
    """Where ``-o`` puts the archive: a name ending in ``.tar.gz`` is the file itself; anything
    else is a folder (created when missing: ``-o out/`` never writes a file called ``out``)."""
    if target.name.endswith((".tar.gz", ".tgz")) and not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    target.mkdir(parents=True, exist_ok=True)
    return target / filename


# --- inspect / validate -------------------------------------------------------------------


def _is_archive(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(512)
    return head[:2] == b"\x1f\x8b" or (len(head) >= 262 and head[257:262] == b"ustar")


def _registry(args: argparse.Namespace) -> Any:
    from demat.gateway.options import schema_registry
    from demat.xml.schemas import SchemaRegistry

    if getattr(args, "schemas", None):
        return SchemaRegistry(official_dirs=[args.schemas])
    return schema_registry(settings_from(args))


def _details(msg: Any) -> dict[str, Any]:
    skip = {"type", "id_acte", "name", "schema_checked", "findings", "classification"}
    out: dict[str, Any] = msg.model_dump(mode="json", exclude=skip)
    c = getattr(msg, "classification", None)
    if c is not None:
        out["classification"] = {
            "date": c.date.isoformat(),
            "natures": len(c.natures),
            "matieres": sum(1 for _ in c.paths()),
        }
    return out


def _message_record(file: Path, member: str | None, msg: Any) -> dict[str, Any]:
    return {
        "file": str(file),
        "member": member,
        "type": msg.type,
        "id_acte": msg.id_acte,
        "schema_checked": msg.schema_checked,
        "valid": msg.valid if msg.schema_checked else None,
        "findings": [_finding(f) for f in msg.findings],
        "details": _details(msg),
    }


def _finding(f: Any) -> dict[str, Any]:
    return {"code": f.code, "severity": str(f.severity), "field": f.field, "message": f.message}


def _read_any(
    path: Path, registry: Any, limits: Any, *, keep_documents: bool = True
) -> tuple[Any, list[tuple[str | None, Any]]]:
    """(package or None, [(member name, message)]); without ``keep_documents`` an archive's
    documents only go through their digest (inspecting needs no more)."""
    from demat.actes import open_package
    from demat.actes.read import read_message

    if _is_archive(path):
        pkg = open_package(path, registry=registry, limits=limits, keep_documents=keep_documents)
        msgs = [(m.name, m) for m in (pkg.envelope, *pkg.messages) if m is not None]
        return pkg, msgs
    return None, [(None, read_message(path, name=path.name, registry=registry, limits=limits.xml()))]


def _register_inspect(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "inspect", help="show the type and IDActe of ACTES messages (lone XML or .tar.gz)"
    )
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--schemas", type=existing_dir, help="directory holding the official actesv1_1.xsd")
    p.add_argument("--json", action="store_true", help="JSON Lines output (one line per message)")
    p.set_defaults(handler=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    registry = _registry(args)
    limits = _limits(args)
    status = EXIT_OK
    for path in args.files:
        try:
            pkg, msgs = _read_any(path, registry, limits, keep_documents=False)
        except DematError as exc:
            status = max(status, file_failed(path, exc))
            continue
        for member, msg in msgs:
            rec = _message_record(path, member, msg)
            if args.json:
                emit_json(rec)
            else:
                where = f"{path}:{member}" if member else str(path)
                ida = f"  IDActe={msg.id_acte}" if msg.id_acte else ""
                print(f"{where}  {msg.type}{ida}")
        if pkg is not None and not args.json:
            for d in pkg.documents:
                print(f"{path}:{d.name}  document {d.format.label} {d.size} bytes")
    return status


def _register_validate(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "validate", help="check ACTES messages or archives against the schema and the business rules"
    )
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--schemas", type=existing_dir, help="directory holding the official actesv1_1.xsd")
    p.add_argument("--classification", type=existing_file, help="RetourClassification XML to check against")
    p.add_argument("--today", help="reference date for the rules (default: today)")
    p.add_argument("--max-archive-bytes", type=int, help="archive size cap (default from settings: 150 MiB)")
    p.add_argument("--json", action="store_true", help="JSON Lines output (one line per file)")
    p.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    from demat.actes.check import check_package
    from demat.actes.rules import Finding, Severity

    registry = _registry(args)
    limits = _limits(args)
    classification = _classification(args.classification)
    today = _date(args.today, "--today") if args.today else dt.date.today()
    status = EXIT_OK
    for path in args.files:
        findings: list[Finding] = []
        try:
            pkg, msgs = _read_any(path, registry, limits)
        except DematError as exc:
            if exit_code(exc) != EXIT_INVALID:  # not the file's fault: settings, I/O
                raise
            findings.append(Finding(exc.code, exc.message, exc.path))
            pkg, msgs = None, []
        schema_checked = all(m.schema_checked for _, m in msgs) if msgs else False
        if msgs and not schema_checked:
            findings.append(
                Finding(
                    "ACTES_XSD_ABSENT",
                    "schéma ACTES introuvable : contrôle XSD non fait (--schemas DIR)",
                    None,
                    Severity.WARNING,
                )
            )
        if pkg is not None:
            findings += pkg.all_findings()
            findings += check_package(
                pkg,
                today=today,
                archive_size=path.stat().st_size,
                classification=classification,
                limits=limits,
            )
        else:
            for _member, m in msgs:
                findings += [Finding(f.code, f.message, f.field, f.severity) for f in m.findings]
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if errors:
            status = EXIT_INVALID
        if args.json:
            emit_json(
                {
                    "file": str(path),
                    "valid": not errors,
                    "types": [m.type for _, m in msgs],
                    "findings": [_finding(f) for f in findings],
                }
            )
        else:
            warnings = len(findings) - len(errors)
            print(verdict(path, INVALID if errors else VALID, tally(len(errors), warnings)))
            for f in findings:
                print(finding(f.severity, f.code, f.message, where=f.field))
    return status


__all__ = [
    "register",
]
