"""Operations: ``demat send|status|poll|ack|cancel|journal|init|demo``."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demat.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    emit_json,
    existing_file,
    exit_code,
    fail,
    settings_from,
)
from demat.errors import ConfigError, DematError

if TYPE_CHECKING:  # asyncio loads when a command runs: not for --help
    import asyncio
from demat.files import private_dir, write_private


def register(sub: Any) -> None:
    """Add ``demat send|status|poll|retours|ack|cancel|journal|init|demo``."""
    p = sub.add_parser("send", help="check and send documents under a profile")
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--profile", required=True, help="the collectivité's profile (settings)")
    p.add_argument("--flow", choices=["auto", *_SENDERS], default="auto")
    p.add_argument("--deliberation", type=existing_file, help="budget: the délibération PDF")
    p.add_argument("--numero", help="budget: numéro interne of the budget act")
    p.add_argument("--classification-date", help="budget: classification date (YYYY-MM-DD)")
    p.add_argument("--force", action="store_true", help="send again a document already sent")
    p.add_argument(
        "--wait",
        action="store_true",
        help="send now and wait for every acknowledgement, printing each change of state; exit 1 if "
        "one is rejected, 2 if one could not be sent, waits for a person, or --timeout passed",
    )
    p.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N seconds")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(handler=_send)

    from demat.cli import keys, track

    track.register(sub)
    keys.register(sub)

    p = sub.add_parser(
        "poll",
        help="run the poller: send what is due, read acknowledgements, collect what platforms send",
        description="Runs until SIGTERM or Ctrl-C (finishing the work in flight), printing a line per "
        "change of state; --once runs one cycle, says what it did and when each pending "
        "transmission is next checked.",
    )
    p.add_argument("--once", action="store_true", help="one cycle, then exit")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    p.add_argument("--json", action="store_true", help="with --once: one JSON object")
    p.set_defaults(handler=_poll)

    p = sub.add_parser("retours", help="PES_Retour files received from Hélios (collected by the poller)")
    p.add_argument("--profile", help="only those about this profile")
    p.add_argument("--save", type=Path, metavar="DIR", help="also write each file in DIR")
    p.add_argument("--json", action="store_true", help="JSON Lines output")
    p.set_defaults(handler=_retours)

    p = sub.add_parser("ack", help="a transmission's acknowledgement in plain words")
    p.add_argument("id", help="a transmission id, or a unique start of one")
    p.add_argument("--save", type=Path, metavar="DIR", help="also write each document received in DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_ack)

    p = sub.add_parser("cancel", help="ask the préfecture to cancel an acknowledged acte")
    p.add_argument("id")
    p.add_argument("--reason", help="why (journaled)")
    p.add_argument("--by", help="who decides (journaled; default: the user running demat)")
    p.set_defaults(handler=_cancel)

    p = sub.add_parser("journal", help="the hash-chained journal")
    jsub = p.add_subparsers(dest="journal_command", required=True, metavar="COMMAND")
    v = jsub.add_parser(
        "verify",
        help="recompute the hash chain, check the store's rows against it, report any tampering",
        description="Recompute the hash chain and check every transmission, document and inbound "
        "document against it. --head checks the chain still holds a head printed earlier by "
        "'demat journal head' (a chain rewritten with recomputed hashes only shows against one).",
    )
    v.add_argument(
        "--head",
        action="append",
        default=[],
        type=_journal_head,
        metavar="SEQ:HASH",
        help="a head printed earlier by 'demat journal head' (repeatable; a whole line may be pasted)",
    )
    v.add_argument("--json", action="store_true")
    v.set_defaults(handler=_journal_verify)
    h = jsub.add_parser(
        "head",
        help="print the journal's head (SEQ:HASH) and the time, to keep outside the database",
    )
    h.add_argument("--json", action="store_true")
    h.set_defaults(handler=_journal_head_print)

    p = sub.add_parser(
        "init",
        help="write a commented example settings file (or, with --acte, an acte description)",
        description="Write a commented demat.toml that loads as it is; --acte FILE writes a commented "
        "acte description instead, for 'demat actes package' and 'demat send'.",
    )
    p.add_argument(
        "path", nargs="?", type=Path, default=None, help="default demat.toml (acte.toml with --acte)"
    )
    p.add_argument("--acte", action="store_true", help="write an example acte description (TOML)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(handler=_init)

    p = sub.add_parser("demo", help="the whole job end to end against an in-process sandbox")
    p.add_argument("--keep", type=Path, help="keep the demo's files in this directory")
    p.add_argument(
        "--web",
        action="store_true",
        help="then leave the gateway and the operator console running; the last line printed is "
        "a JSON object with its url, user and password (SIGTERM stops it)",
    )
    p.set_defaults(handler=_demo)


def run_gateway(args: argparse.Namespace, body: Callable[[Any], Awaitable[int]]) -> int:
    """Run ``body(gateway)`` on a gateway opened on the command's settings; its exit code."""
    from demat.gateway import Gateway

    settings = settings_from(args)

    async def main() -> int:
        async with Gateway.open(settings) as gw:
            return await body(gw)

    import asyncio

    return asyncio.run(main())


_run = run_gateway


def _detect_flow(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4096)
    if b"PES_Aller" in head:
        return "pes"
    if b"DocumentBudgetaire" in head or b"CompteFinancierUnique" in head:
        return "budget"
    if path.suffix.lower() in (".toml", ".json"):
        return "actes"
    raise ConfigError(f"{path}: cannot tell the flow (PES_Aller, DocumentBudgetaire, or an acte .toml/.json)")


def _load_acte(path: Path) -> Any:
    from demat.cli import actes as actes_cli

    spec = actes_cli._load_spec(path)
    ns = argparse.Namespace(
        nature=None,
        numero=None,
        date=None,
        objet=None,
        matiere=None,
        classification_date=None,
        papier=None,
        precedent=None,
        document=None,
        annexe=None,
    )
    return actes_cli._acte(ns, spec, path.parent)


async def _send_pes(gw: Any, path: Path, args: argparse.Namespace) -> Any:
    return await gw.send_pes(path, profile=args.profile, force=args.force)


async def _send_budget(gw: Any, path: Path, args: argparse.Namespace) -> Any:
    if not args.deliberation or not args.numero or not args.classification_date:
        raise ConfigError("budget: --deliberation, --numero and --classification-date are needed")
    return await gw.send_budget(
        path,
        args.deliberation,
        profile=args.profile,
        numero=args.numero,
        classification_date=dt.date.fromisoformat(args.classification_date),
        force=args.force,
    )


async def _send_acte(gw: Any, path: Path, args: argparse.Namespace) -> Any:
    return await gw.send_acte(_load_acte(path), profile=args.profile, force=args.force)


#: How ``demat send`` hands a file of each flow to the gateway (``--flow`` chooses among them).
_SENDERS: dict[str, Callable[[Any, Path, argparse.Namespace], Awaitable[Any]]] = {
    "pes": _send_pes,
    "actes": _send_acte,
    "budget": _send_budget,
}


def _send(args: argparse.Namespace) -> int:
    from demat.cli import progress
    from demat.cli.track import short
    from demat.gateway import Gateway, SendResult

    async def body(gw: Gateway) -> int:
        code = EXIT_OK
        names: dict[str, str] = {}
        with progress.Steps(len(args.files), "checking") as steps:
            for path in args.files:
                flow = args.flow if args.flow != "auto" else _detect_flow(path)
                try:
                    result: SendResult = await _SENDERS[flow](gw, path, args)
                except DematError as exc:
                    code = max(code, exit_code(exc))
                    if args.json:
                        refused = {"file": str(path), "accepted": False, "error": exc.message}
                        emit_json({**refused, "code": exc.code})
                    else:
                        fail(str(exc) if exc.file else f"{path}: {exc}")
                    steps.advance(path.name)
                    continue
                t = result.transmission
                if args.wait and not result.created and t.state.value == "accepted" and t.errors:
                    t = await gw.store.make_due(t.id, expect=t.state)  # asked to send now: no backoff
                names[t.id] = path.name
                if args.json:
                    emit_json(
                        {
                            "file": str(path),
                            "accepted": True,
                            "id": t.id,
                            "flow": t.flow,
                            "state": t.state.value,
                            "new": result.created,
                            "warnings": list(result.warnings),
                        }
                    )
                elif result.created:
                    print(f"{path}: accepted as {short(t.id)} ({t.flow})", flush=True)
                else:
                    print(
                        f"{path}: already recorded as {short(t.id)} ({t.flow}, {t.state.value}): same "
                        "document; --force sends it again",
                        flush=True,
                    )
                if not args.json:
                    for warning in result.warnings:
                        print(f"  warning: {warning}")
                steps.advance(path.name)
        if args.wait and names:
            code = max(code, await _wait(gw, names, args))
        return code

    return run_gateway(args, body)


async def _wait(gw: Any, names: dict[str, str], args: argparse.Namespace) -> int:
    """Wait for ``names``' transmissions (see :class:`demat.cli.track.Waiting`); the exit code."""
    import contextlib

    from demat.cli import progress
    from demat.cli.track import Waiting, short

    watch = Waiting(names, as_json=args.json)
    shown = contextlib.nullcontext() if args.json else progress.live(watch.render)
    with shown:
        final = await gw.wait(list(names), timeout=args.timeout, watch=watch)
    code = EXIT_OK
    for t in final:
        name = names.get(t.id, t.name)
        if t.state.value in ("rejected", "failed", "cancelled"):
            code = max(code, EXIT_INVALID)
            if not args.json:
                print(f"  'demat ack {short(t.id)}' says why", flush=True)
        elif not t.settled:
            why = watch.stuck(t) or f"no answer within {args.timeout:g} s (timed out); demat poll carries on"
            fail(f"{short(t.id)} {name}: still {t.state.value}: {why}")
            code = max(code, EXIT_USAGE)
    return code


def _poll(args: argparse.Namespace) -> int:
    import logging

    from demat.gateway import Gateway
    from demat.tracking import install_signal_handlers

    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
    )
    log = logging.getLogger("demat.poll")

    async def body(gw: Gateway) -> int:
        head = (await gw.store.journal_head()).seq
        if args.once:
            return await _poll_once(gw, head, args)
        import asyncio

        stop = asyncio.Event()
        undo = install_signal_handlers(stop)
        log.info("polling (SIGTERM or Ctrl-C stops it, after the work in flight)")
        tail = None if args.quiet else asyncio.create_task(_tail(gw, head, stop, log))
        try:
            await gw.run_poller(stop)
        finally:
            undo()
            if tail is not None:
                stop.set()
                await tail
        log.info("stopped")
        return EXIT_OK

    return run_gateway(args, body)


async def _changes(gw: Any, after: int) -> tuple[int, list[str]]:
    """The journal entries after ``after`` as lines, and the last ``seq`` read."""
    from demat.cli.track import short

    entries = await gw.store.journal(after=after, limit=1000)
    ids = sorted({e.transmission_id for e in entries if e.transmission_id})
    names = {t.id: t.name for t in await gw.store.get_many(ids)} if ids else {}
    lines = []
    for e in entries:
        data = dict(e.payload or {})
        if e.transmission_id is None:
            what = f"{data.get('kind', 'document')} {data.get('name') or ''} received"
            lines.append(f"{what} (profile {data.get('profile') or 'none'})")
            continue
        detail = data.get("remote_id") or data.get("error") or data.get("name") or data.get("status") or ""
        to = f" → {e.to_state}" if e.to_state and e.to_state != e.from_state else ""
        more = f" ({detail})" if detail else ""
        lines.append(f"{short(e.transmission_id)} {names.get(e.transmission_id, '')}: {e.event}{to}{more}")
    return (entries[-1].seq if entries else after), lines


async def _tail(gw: Any, head: int, stop: asyncio.Event, log: Any) -> None:
    """Log a line per journal entry while the poller runs (what it, or another poller, did)."""
    import asyncio
    import contextlib

    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        try:
            head, lines = await _changes(gw, head)
        except DematError as exc:  # the database hiccuped: the poller logs its own trouble
            log.warning("journal not read: %s", exc)
            lines = []
        for line in lines:
            log.info("%s", line)
        if stop.is_set():
            return


async def _poll_once(gw: Any, head: int, args: argparse.Namespace) -> int:
    from demat.cli.track import next_checks
    from demat.tracking import SETTLED, State

    letters = await gw.collect_letters()
    retours = await gw.collect_retours()
    report = await gw.poll_once()
    _, lines = await _changes(gw, head)
    open_states = [s for s in State if s not in SETTLED]
    pending = await gw.store.transmissions(state=open_states, limit=1000)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    pending.sort(key=lambda t: (t.next_attempt_at or far, t.id))
    if args.json:
        outcome = {
            "acquired": report.acquired,
            "outcomes": dict(report.outcomes),
            "letters": len(letters),
            "retours": len(retours),
            "changes": lines,
            "next": [
                {
                    "id": t.id,
                    "state": t.state.value,
                    "next_attempt_at": t.next_attempt_at.isoformat() if t.next_attempt_at else None,
                }
                for t in pending
            ],
        }
        emit_json(outcome)
        return EXIT_OK
    done = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(report.outcomes.items()))
    print(
        f"one cycle: {report.acquired} transmission(s) handled{f' ({done})' if done else ''}; "
        f"{len(letters)} préfecture letter(s), {len(retours)} PES_Retour collected"
    )
    for line in lines:
        print(f"  {line}")
    if pending:
        print(f"{len(pending)} pending:")
        print("\n".join(next_checks(pending[:20], gw.store.clock())))
        if len(pending) > 20:
            print(f"  … and {len(pending) - 20} more ('demat status --state STATE')")
    else:
        print("nothing pending")
    return EXIT_OK


def _retours(args: argparse.Namespace) -> int:
    from demat.gateway import Gateway

    async def body(gw: Gateway) -> int:
        found = await gw.store.inbound(kind="pes_retour", profile=args.profile)
        if args.save:
            private_dir(args.save)  # PES_Retour and acknowledgements hold personal data: 0700/0600
        for doc in found:
            saved = None
            if args.save:
                # The platform's name, stripped to a file name, prefixed by the id: never outside DIR.
                saved = args.save / f"{doc.id}_{Path(doc.name or 'PES_Retour.xml').name}"
                write_private(saved, doc.content)
            info = dict(doc.info)
            if args.json:
                row = {
                    "id": doc.id,
                    "account": doc.account,
                    "remote_id": doc.remote_id,
                    "profile": doc.profile,
                    "name": doc.name,
                    "received_at": doc.received_at.isoformat(),
                    "size": doc.size,
                    "sha256": doc.digest,
                    "info": info,
                    **({"saved": str(saved)} if saved else {}),
                }
                print(json.dumps(row, ensure_ascii=False))
            else:
                blocks = "+".join(info.get("blocks", []))
                about = (
                    info.get("error") or f"IdColl {info.get('id_coll')} CodBud {info.get('cod_bud')} {blocks}"
                )
                who = doc.profile or "(no profile)"
                print(f"{doc.id:>5} {doc.received_at:%Y-%m-%d %H:%M} {who:<16} {doc.name}  {about}")
        if not found and not args.json:
            print("no PES_Retour received yet (the poller collects them: demat poll)")
        return EXIT_OK

    return _run(args, body)


def _ack(args: argparse.Namespace) -> int:
    from demat.cli.track import find, short, why
    from demat.gateway import Gateway

    async def body(gw: Gateway) -> int:
        t = await find(gw, args.id)
        docs = await gw.store.documents(t.id)
        out: dict[str, Any] = {"id": t.id, "state": t.state.value, "documents": []}
        lines = [f"{short(t.id)} {t.name}: {t.state.value}"]
        if args.save:
            private_dir(args.save)  # PES_Retour and acknowledgements hold personal data: 0700/0600
        for doc in docs:
            record, said = _received(doc, gw.settings)
            if args.save:
                # The platform's name, stripped to a file name, prefixed by the id: never outside DIR.
                saved = args.save / f"{short(t.id)}_{Path(doc.name or doc.kind).name}"
                write_private(saved, doc.content)
                record["saved"] = str(saved)
                said.append(f"  saved as {saved}")
            out["documents"].append(record)
            lines += said
        if not docs:
            refusal = why(await gw.store.journal(t.id)) if t.settled else None
            said_so = f"no document received; the platform said: {refusal}"
            lines.append(said_so if refusal else "no document yet")
        if args.json:
            emit_json(out)
        else:
            print("\n".join(lines))
        return EXIT_INVALID if t.state.value == "rejected" else EXIT_OK

    return run_gateway(args, body)


def _received(doc: Any, settings: Any) -> tuple[dict[str, Any], list[str]]:
    """What a document received for a transmission says: a JSON record and text lines, both
    from its one reading (:func:`demat.gateway.readings.read_document`)."""
    from demat.gateway.readings import read_document

    reading = read_document(doc, settings)
    return reading.record, _said(reading, doc)


def _said(reading: Any, doc: Any) -> list[str]:
    """A reading as ``demat ack`` prints it (English, from its JSON record)."""
    record = reading.record
    if "error" in record:
        return [f"{doc.kind} {doc.name}: unreadable: {record['error']}"]
    if doc.kind == "ack":
        from demat.pes.ack import AckError

        elements = record["elements"]
        ok = sum(1 for e in elements if e["ok"])
        word = "accepted" if record["accepted"] else "rejected"
        lines = [f"PES_ACQUIT {doc.name}: {word} ({ok} of {len(elements)} element(s) OK)"]
        for e in elements:
            if e["ok"]:  # only what was refused is spelled out
                continue
            what = f"bordereau {e['num_bord']}/{e['exercice_bord']}" if e["num_bord"] else e["domaine_label"]
            lines.append(f"  {what}: KO")
            lines += [f"    {AckError(**err)}" for err in e["errors"]]
        return lines
    if "message" in record:
        return [f"anomaly: {record['message']}"]
    kind = record.get("type")
    if kind == "ARActe":
        return [
            f"ARActe: received by the préfecture on {record['date_reception']}, IDActe {record['id_acte']}"
        ]
    if kind in ("AnomalieActe", "AnomalieEnveloppe"):
        detail = record["detail"]
        return [f"{kind}: refused (nature {record['nature']})" + (f": {detail}" if detail else "")]
    if kind is not None:
        return [f"{kind}" + (f", IDActe {record['id_acte']}" if record["id_acte"] else "")]
    if doc.kind == "prefecture":
        return [f"préfecture letter {doc.name} ({doc.size} bytes)"]
    return [f"{doc.kind}: {doc.name} ({doc.size} bytes)"]


def _cancel(args: argparse.Namespace) -> int:
    from demat.cli.track import _who
    from demat.gateway import Gateway
    from demat.gateway.actions import cancel

    async def body(gw: Gateway) -> int:
        t = await gw.store.get(await gw.store.resolve_id(args.id))
        moved = await cancel(gw, t, by=_who(args), reason=args.reason)
        print(f"{moved.id}: {moved.state.value}")
        return EXIT_OK

    return run_gateway(args, body)


def _journal_head(value: str) -> Any:
    """argparse type: a head token ``SEQ:HASH`` (a usage error otherwise, exit 2)."""
    from demat.tracking.journal import JournalHead

    try:
        return JournalHead.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _journal_verify(args: argparse.Namespace) -> int:
    from demat.gateway import Gateway

    async def body(gw: Gateway) -> int:
        report = await gw.store.verify_journal(anchors=args.head)
        if args.json:
            emit_json(
                {
                    "valid": report.ok,
                    "entries": report.entries,
                    "head_seq": report.head_seq,
                    "head_hash": report.head_hash,
                    "heads_checked": [h.token for h in args.head],
                    "problems": [
                        {"seq": p.seq, "kind": p.kind, "message": p.message} for p in report.problems
                    ],
                }
            )
        else:
            verdict = "verified" if report.ok else "BROKEN"
            against = f", against {len(args.head)} exported head(s)" if args.head else ""
            print(f"{report.entries} entries, head {report.head_hash[:16]}…{against}: {verdict}")
            for p in report.problems:
                print(f"  [{p.kind}] {p.message}")
        return EXIT_OK if report.ok else EXIT_INVALID

    return _run(args, body)


def _journal_head_print(args: argparse.Namespace) -> int:
    from demat.gateway import Gateway

    async def body(gw: Gateway) -> int:
        head = await gw.store.journal_head()
        now = dt.datetime.now(dt.UTC)
        last = head.at.isoformat(timespec="seconds") if head.at else None
        if args.json:
            emit_json(
                {
                    "head": head.token,
                    "seq": head.seq,
                    "hash": head.hash,
                    "last_entry_at": last,
                    "printed_at": now.isoformat(timespec="seconds"),
                }
            )
        else:
            print(f"{head.token}  printed {now.isoformat(timespec='seconds')} (last entry {last or 'none'})")
        return EXIT_OK

    return _run(args, body)


#: What ``demat init`` writes: a commented settings file that loads as it is.
EXAMPLE_SETTINGS = """\
# demat settings. Environment variables override (DEMAT_STORE_URL, DEMAT_DATA_DIR, …).

# Where demat keeps its SQLite store and the spool of documents waiting to be sent.
data_dir = ".demat"
# PostgreSQL for several gateways/pollers: store_url = "postgresql+asyncpg://user@host/db"
# Official schema sets (DGFiP, MI) to validate against instead of the bundled ones:
# schemas_dir = "/opt/schemas"
# When the poller looks again at a transmission, per state: see [poll_schedules] at the end.
# lease_seconds = 120     # a crashed poller's work is taken over after this
# poll_batch = 100
# poll_concurrency = 8
# Validate PES against the official DGFiP set under schemas_dir rather than demat's bundled one:
# pes_schema = "official"

# One block per tiers de télétransmission account.
[platforms.s2low]
kind = "s2low"                          # the wire API (s2low; s2low-sandbox for `demat sandbox`)
url = "https://s2low.example.org"       # https:// only (documents and passwords must not go in clear)
# allow_plain_http_loopback = true     # only for demat's sandbox on http://127.0.0.1
client_cert = "certs/client.pem"       # or client_p12 = "certs/client.p12"
client_key = "certs/client.key"
password_env = "DEMAT_S2LOW_KEY_PASSWORD"  # key password, read from the environment
# ca_bundle = "certs/ca.pem"
# force_tls12 = true

# One block per collectivité.
[profiles.ville]
siren = "214400152"
siret = "21440015200011"
label = "Commune exemple"
departement = "044"
arrondissement = "0"
nature = "31"                 # nature de la collectivité (ACTES)
id_post = "044001"            # poste comptable (PES)
cod_col = "001"
cod_bud = "00"
platform = "s2low"
return_emails = ["actes@ville.example.org"]

[profiles.ville.signer]
p12 = "certs/ordonnateur.p12"
password_env = "DEMAT_SIGNER_PASSWORD"
claimed_role = "Ordonnateur"
city = "Nantes"
postal_code = "44000"

# Caps on what demat reads (the defaults shown):
# [limits]
# max_xml_bytes = 1073741824           # one XML document
# max_xml_depth = 256                  # how deep its elements nest
# max_pj_inflated_bytes = 268435456    # one PES attachment (PJ) once inflated
# max_pj_base64_bytes = 50331648       # one PJ's base64 in the PES (reading it costs ~3x)
# max_actes_archive_bytes = 157286400  # one ACTES .tar.gz

# When the poller looks again at a transmission, by state: [every_seconds, times] stages, the
# last without times goes on for ever. A state left out keeps its default (shown):
# [poll_schedules]
# sent = [[0.5, 1], [1, 2], [5, 6], [30, 10], [60, 10], [600, 6], [3600]]
# accepted = [[60, 10], [600, 6], [3600]]      # retries of an upload that failed (+ error backoff)
# unknown = [[60, 10], [600, 6], [3600]]       # asking the platform whether it got an upload
# cancel_requested = [[5, 6], [60, 10], [600, 6], [3600]]
"""


#: What ``demat init --acte`` writes: a commented acte description, as ``demat actes package``
#: and ``demat send`` read it (the README shows the same).
EXAMPLE_ACTE = """\
# An acte for the préfecture (contrôle de légalité), as `demat actes package` and `demat send`
# read it. Paths are relative to this file. Flags of `demat actes package` override any field.

# The collectivité's profile in demat.toml: SIREN, département, arrondissement, nature, return
# e-mails and referent come from it (or give them under [identity] below).
profile = "ville"

[acte]
nature = "DE"                  # DE délibération, AR arrêté réglementaire, AI arrêté individuel,
                               # CC contrat/convention, BF budget, AU autre (or 1 to 6)
numero = "DEL2024_042"         # numéro interne: 15 characters at most, unique per collectivité
date = 2024-05-07              # date of the decision
objet = "Tarifs de la cantine scolaire pour l'année 2024-2025"
matieres = "9.1"               # classification code (matière), as the préfecture's classification lists it
classification_date = 2024-01-15   # date of the classification used (RetourClassification)
document = { path = "deliberation.pdf", typology = "99_DE" }   # the acte itself (PDF), its typology
annexes = [
  { path = "grille-tarifaire.pdf", typology = "99_AU" },
]
# document_papier = true       # paper documents follow by post
# precedent_id_acte = "044-214400152-20240401-DEL2024_031-DE"   # the acte this one replaces

# Without a profile, say who sends (these win over the profile's too):
# [identity]
# siren = "214400152"
# departement = "044"
# arrondissement = "0"
# nature = "31"                # nature de la collectivité (2 digits)
# return_emails = ["actes@ville.example.org"]
# referent_nom = "Service des assemblées"
# referent_email = "assemblees@ville.example.org"
# referent_telephone = "0240000000"
"""


def _init(args: argparse.Namespace) -> int:
    path: Path = args.path or Path("acte.toml" if args.acte else "demat.toml")
    if path.exists() and not args.force:
        fail(f"{path} exists (use --force to overwrite)")
        return EXIT_USAGE
    path.write_text(EXAMPLE_ACTE if args.acte else EXAMPLE_SETTINGS, encoding="utf-8")
    what = "an example acte description" if args.acte else "example settings"
    print(
        f"wrote {path}: {what}, commented; edit it, then "
        + (
            "'demat actes package " + str(path) + " -o out/'"
            if args.acte
            else "'demat send FILE --profile ville'"
        )
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    import asyncio

    from demat.demo import run_demo

    return asyncio.run(run_demo(keep=args.keep, web=args.web))


__all__ = [
    "EXAMPLE_ACTE",
    "EXAMPLE_SETTINGS",
    "register",
]
