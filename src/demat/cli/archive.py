"""``demat archive``: build, deposit, verify, list, show, due, eliminate, reply.

The archive lives in ``--archive-dir`` (default ``$DEMAT_ARCHIVE_DIR``, else ``./archive``): the
ledger, and the packages in its filesystem storage, or in the S3 bucket ``--s3-bucket`` (at
``--s3-endpoint``; credentials from the usual ``AWS_*`` variables). Timestamps come from ``--tsa-url`` (an
RFC 3161 TSA over HTTP, trusted through ``--tsa-trust`` PEM; also ``$DEMAT_TSA_URL`` and
``$DEMAT_TSA_TRUST``) or, to try things out, ``--dev-tsa``: a throwaway TSA kept in
``ARCHIVE_DIR/dev-tsa`` (never for real archives). Packages are sealed with the key of ``--p12``
(password in the variable named by ``--password-env``) or ``--key``/``--cert``, when given.

Exit codes: 0 all good; 1 a problem found (``verify``), a refused reply (``reply``), an invalid
input; 2 usage or I/O. ``demat archive transfer`` is added by the onward-transfer module when it
is installed (:data:`TRANSFER_MODULE`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import os
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from demat.cli._common import EXIT_INVALID, EXIT_OK, emit_json, existing_file, output_file
from demat.errors import ConfigError, ValidationError

if TYPE_CHECKING:
    from demat.archive import Package
    from demat.storage import ArchiveStore

#: Module that adds ``demat archive transfer`` (the onward transfer to Vitam / as@lae) when
#: present: its ``register(commands)`` is called with this group's subparsers.
TRANSFER_MODULE = "demat.cli.archive_transfer"

T = TypeVar("T")


def register(sub: Any) -> None:
    """Add ``demat archive`` and its subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "archive", help="intermediate archive: SEDA packages, seals, ledger, retention"
    )
    commands = parser.add_subparsers(dest="archive_command", required=True, metavar="COMMAND")

    def store_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--archive-dir", type=Path, help="the archive's folder (default $DEMAT_ARCHIVE_DIR or ./archive)"
        )
        p.add_argument("--tsa-url", help="RFC 3161 TSA (default $DEMAT_TSA_URL)")
        p.add_argument(
            "--tsa-trust", type=existing_file, help="PEM roots of the TSA (default $DEMAT_TSA_TRUST)"
        )
        p.add_argument(
            "--dev-tsa", action="store_true", help="a throwaway TSA kept in ARCHIVE_DIR/dev-tsa (trials)"
        )
        p.add_argument("--s3-bucket", help="keep packages in this S3 bucket (default $DEMAT_S3_BUCKET)")
        p.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (default $DEMAT_S3_ENDPOINT)")
        p.add_argument("--json", action="store_true", help="JSON output")

    def build_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "spec", type=existing_file, metavar="SPEC.json", help="the finished transmission (JSON)"
        )
        p.add_argument(
            "--seda", choices=["2.1", "2.2", "2.3"], default="2.1", help="SEDA version (default 2.1)"
        )
        p.add_argument("--rules", type=existing_file, metavar="RULES.toml", help="per-flow rule overrides")
        p.add_argument("--archival-profile", metavar="ID", help="archival profile identifier")
        p.add_argument(
            "--profile-rng", type=existing_file, metavar="PROFILE.rng", help="RelaxNG profile to check"
        )

    p = commands.add_parser("build", help="build the SEDA SIP of a finished transmission")
    build_options(p)
    p.add_argument("-o", "--output", type=output_file, required=True, metavar="SIP.zip")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(handler=_build)

    p = commands.add_parser("deposit", help="build, seal, store and record a package in the archive")
    build_options(p)
    store_options(p)
    p.add_argument("--p12", type=existing_file, help="seal with this PKCS#12 key")
    p.add_argument("--key", type=existing_file, help="seal with this PEM key (with --cert)")
    p.add_argument("--cert", type=existing_file, help="certificate of --key (PEM)")
    p.add_argument("--password-env", metavar="VAR", help="variable holding the key's password")
    p.set_defaults(handler=_deposit)

    p = commands.add_parser("verify", help="re-hash every package, check seals, timestamps and the ledger")
    store_options(p)
    p.set_defaults(handler=_verify)

    p = commands.add_parser("list", help="the packages the archive holds")
    store_options(p)
    p.add_argument("--all", action="store_true", help="eliminated packages too")
    p.set_defaults(handler=_list)

    p = commands.add_parser("show", help="one package: its deposit, rule, seal and ledger lines")
    store_options(p)
    p.add_argument(
        "ref",
        metavar="PACKAGE|TRANSMISSION",
        help="package digest (or its first 8+ characters) or transmission id",
    )
    p.set_defaults(handler=_show)

    p = commands.add_parser("due", help="packages whose DUA has run out")
    store_options(p)
    p.add_argument("--on", type=dt.date.fromisoformat, help="as of this day (YYYY-MM-DD; default today)")
    p.set_defaults(handler=_due)

    p = commands.add_parser(
        "eliminate", help="eliminate a package whose DUA has run out (Destroy), with proof"
    )
    store_options(p)
    p.add_argument("ref", metavar="PACKAGE|TRANSMISSION")
    p.add_argument("--reason", required=True, help="why (e.g. the archives service's visa)")
    p.add_argument("--by", required=True, help="who decided it")
    p.set_defaults(handler=_eliminate)

    p = commands.add_parser("reply", help="read SAE replies (ArchiveTransferReply, Acknowledgement)")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.set_defaults(handler=_reply)

    if importlib.util.find_spec(TRANSFER_MODULE) is not None:
        importlib.import_module(TRANSFER_MODULE).register(commands)


# -- building ------------------------------------------------------------------------------


def _package(args: argparse.Namespace) -> Package:
    from demat.archive import ArchivalProfileRef, RuleSet, build_package
    from demat.archive.model import archive_input_from_json

    try:
        spec = json.loads(Path(args.spec).read_text(encoding="utf-8"))
        facts = archive_input_from_json(spec, Path(args.spec).resolve().parent)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(f"{args.spec}: {exc}", code="ARCHIVE_SPEC") from exc
    rules = RuleSet()
    if args.rules:
        rules = rules.with_overrides(tomllib.loads(Path(args.rules).read_text(encoding="utf-8")))
    profile = None
    if args.archival_profile or args.profile_rng:
        if not args.archival_profile:
            raise ConfigError("--profile-rng needs --archival-profile (the profile's identifier)")
        rng = Path(args.profile_rng).read_bytes() if args.profile_rng else None
        profile = ArchivalProfileRef(args.archival_profile, rng)
    return build_package(facts, seda_version=args.seda, rules=rules, profile=profile)


def _summary(package: Package) -> dict[str, Any]:
    return {
        "package": package.digest,
        "transmission": package.transmission_id,
        "seda_version": package.seda_version,
        "files": [
            {"uri": o.uri, "size": o.size, "format": o.format.pronom, "mime": o.format.mime}
            for o in package.objects
        ],
        "rule": package.rule.as_dict(),
        "due": package.due.isoformat(),
    }


def _build(args: argparse.Namespace) -> int:
    package = _package(args)
    out = Path(args.output)
    tmp = out.with_name(f".{out.name}.part")
    try:
        package.to_zip(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if args.json:
        emit_json({"output": str(out), **_summary(package)})
    else:
        print(
            f"{out}: SEDA {package.seda_version}, {len(package.objects)} file(s),"
            f" manifest {package.digest[:16]}…"
        )
        print(
            f"  rule {package.rule.appraisal_rule}: DUA {package.rule.dua}, {package.rule.final_action},"
            f" due {package.due}"
        )
    return EXIT_OK


# -- the archive ---------------------------------------------------------------------------


def _archive_dir(args: argparse.Namespace) -> Path:
    return Path(args.archive_dir or os.environ.get("DEMAT_ARCHIVE_DIR") or "archive")


async def _no_tsa(request: bytes) -> bytes:
    raise ConfigError("no TSA configured: give --tsa-url and --tsa-trust, or --dev-tsa for trials")


def _open(
    args: argparse.Namespace, *, signer: Any = None, read_only: bool = False
) -> Callable[[], contextlib.AbstractAsyncContextManager[ArchiveStore]]:
    from demat.archive import TsaTrust
    from demat.storage import ArchiveStore, HttpTimestamper, in_process

    root = _archive_dir(args)
    url = args.tsa_url or os.environ.get("DEMAT_TSA_URL")
    trust_file = args.tsa_trust or os.environ.get("DEMAT_TSA_TRUST")
    if args.dev_tsa:
        from demat.sandbox.tsa import SandboxTSA

        dev = SandboxTSA.load_or_create(root / "dev-tsa")
        timestamper, trust = in_process(dev), dev.trust
    elif trust_file:
        trust = TsaTrust.from_pem(Path(trust_file).read_bytes())
        timestamper = HttpTimestamper(url) if url else _no_tsa
    else:
        raise ConfigError("no TSA trust: give --tsa-trust (and --tsa-url to seal), or --dev-tsa for trials")

    bucket = args.s3_bucket or os.environ.get("DEMAT_S3_BUCKET")
    endpoint = args.s3_endpoint or os.environ.get("DEMAT_S3_ENDPOINT")

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[ArchiveStore]:
        async with contextlib.AsyncExitStack() as stack:
            storage = None
            if bucket:
                from demat.storage import S3Storage

                storage = await stack.enter_async_context(S3Storage.open(bucket, endpoint_url=endpoint))
            store = await ArchiveStore.open(
                root,
                timestamper=timestamper,
                trust=trust,
                signer=signer,
                storage=storage,
                read_only=read_only,
            )
            try:
                yield store
            finally:
                await store.close()

    return opened


def _with_store(
    args: argparse.Namespace, body: Callable[[ArchiveStore], Awaitable[T]], *, signer: Any = None
) -> T:
    opener = _open(args, signer=signer)

    async def run() -> T:
        async with opener() as store:
            return await body(store)

    return asyncio.run(run())


def _signer(args: argparse.Namespace) -> Any:
    if not (args.p12 or args.key or args.cert):
        return None
    from demat.signing.keys import load_signer_files

    password = None
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise ConfigError(f"environment variable {args.password_env} is not set")
        password = value.encode()
    return load_signer_files(key=args.key, cert=args.cert, p12=args.p12, password=password)


def _deposit(args: argparse.Namespace) -> int:
    package = _package(args)
    deposit = _with_store(
        args, lambda store: store.deposit(package, by="demat archive deposit"), signer=_signer(args)
    )
    if args.json:
        emit_json(deposit.as_dict())
    else:
        print(f"deposited {deposit.digest[:16]}… ({deposit.transmission_id}), ledger entry {deposit.seq}")
        print(
            f"  sealed {deposit.data['sealed_at']}, due {deposit.data['due']}"
            f" ({deposit.data['rule']['final_action']})"
        )
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    report = _with_store(args, lambda store: store.verify())
    if args.json:
        emit_json(report.as_dict())
    else:
        for p in report.problems:
            where = f"package {p.package[:16]}…" if p.package else f"ledger entry {p.ledger_seq}"
            print(f"{p.kind:16} {where}: {p.message}")
        verdict = "archive verified" if report.ok else f"{len(report.problems)} problem(s)"
        print(
            f"{verdict}: {report.packages} package(s), {report.ledger_entries} ledger entries"
            + (f", {report.unsealed_entries} not yet sealed" if report.unsealed_entries else "")
        )
    return EXIT_OK if report.ok else EXIT_INVALID


def _print_deposits(args: argparse.Namespace, deposits: list[Any]) -> None:
    for d in deposits:
        if args.json:
            emit_json(d.as_dict())
        else:
            state = " ELIMINATED" if d.eliminated else ""
            print(
                f"{d.digest[:16]}  {d.transmission_id:14} {d.data.get('flow', ''):9} {d.at[:19]}  due {d.due}"
                f" {d.data.get('rule', {}).get('final_action', '')}{state}"
            )


def _list(args: argparse.Namespace) -> int:
    async def body(store: ArchiveStore) -> list[Any]:
        return [d for d in store.deposits().values() if args.all or d.eliminated is None]

    _print_deposits(args, _with_store(args, body))
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    async def body(store: ArchiveStore) -> dict[str, Any]:
        deposit = store.find(args.ref)
        lines = [
            e.as_dict()
            for e in store.ledger.entries()
            if e.data.get("package") == deposit.digest
            or e.data.get("transmission") == deposit.transmission_id
        ]
        return {**deposit.as_dict(), "ledger": lines}

    shown = _with_store(args, body)
    if args.json:
        emit_json(shown)
    else:
        for key in (
            "package",
            "transmission",
            "profile",
            "flow",
            "seda_version",
            "files",
            "sealed_at",
            "signer",
            "due",
        ):
            print(f"{key:14} {shown.get(key)}")
        rule = shown.get("rule", {})
        print(
            f"{'rule':14} {rule.get('appraisal_rule')} DUA {rule.get('dua')} {rule.get('final_action')},"
            f" access {rule.get('access_rule')}"
        )
        for line in shown["ledger"]:
            print(f"  ledger {line['seq']:>6} {line['at'][:19]} {line['op']}")
    return EXIT_OK


def _due(args: argparse.Namespace) -> int:
    async def body(store: ArchiveStore) -> list[Any]:
        return store.due(args.on)

    _print_deposits(args, _with_store(args, body))
    return EXIT_OK


def _eliminate(args: argparse.Namespace) -> int:
    entry = _with_store(args, lambda store: store.eliminate(args.ref, reason=args.reason, by=args.by))
    if args.json:
        emit_json(entry.as_dict())
    else:
        print(
            f"eliminated {entry.data['package'][:16]}… ({entry.data['transmission']}):"
            f" ledger entry {entry.seq}"
        )
    return EXIT_OK


# -- replies -------------------------------------------------------------------------------


def _reply(args: argparse.Namespace) -> int:
    from demat.archive import read_reply
    from demat.cli._common import file_failed
    from demat.errors import DematError

    worst = EXIT_OK
    for path in args.files:
        try:
            reply = read_reply(Path(path).read_bytes())
        except DematError as exc:
            worst = max(worst, file_failed(Path(path), exc, as_json=args.json))
            continue
        refused = reply.kind == "ArchiveTransferReply" and reply.accepted is not True
        if refused:
            worst = max(worst, EXIT_INVALID)
        if args.json:
            emit_json({"file": str(path), **reply.as_dict()})
        else:
            verdict = {
                True: "accepted",
                False: "refused",
                None: "acknowledged" if reply.kind == "Acknowledgement" else "unknown",
            }
            print(f"{path}: {reply.kind} {verdict[reply.accepted]}: {reply.reason}")
    return worst


__all__ = ["TRANSFER_MODULE", "register"]
