"""The pages that read: overview, the list of transmissions, one transmission, its documents,
the electoral deposits and the archive.

A transmission a person may not see does not exist for them: its page and its documents answer
404, exactly as an id that was never recorded.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Final, cast
from urllib.parse import quote

from aiohttp import web

from demat.errors import DematError, ValidationError
from demat.gateway.offload import offload
from demat.tracking import ListQuery, NotFound, State, Transmission
from demat.web import labels
from demat.web.access import Action, may
from demat.web.app import console, not_found, profiles_scope, refuse_unless, render, session, visible

#: Rows a list page shows.
PAGE_SIZE = 50
#: A poller that has not beaten for this long is shown as stopped.
POLLER_SILENT = dt.timedelta(minutes=5)
#: The problems a package verification just found, for the detail page to show.
VERIFIED: Final[web.RequestKey[list[str]]] = web.RequestKey("verified")
#: Document kinds that name electors (shown only to a role that may read personal data).
PERSONAL_KINDS = frozenset({"control_report"})


def routes(app: web.Application) -> None:
    """Add the reading pages to ``app``."""
    app.router.add_get("/", overview)
    app.router.add_get("/transmissions", listing)
    app.router.add_get("/transmissions/{id}", detail)
    app.router.add_get("/transmissions/{id}/documents/{doc}", document)
    app.router.add_get("/transmissions/{id}/envoye", sent_file)
    app.router.add_get("/transmissions/{id}/pieces/{sha256}", piece)
    app.router.add_get("/elections", elections)
    app.router.add_get("/archives", archives)
    app.router.add_post("/archives/verification", archive_verify)
    app.router.add_post("/transmissions/{id}/archive/verification", package_verify)


# -- overview ----------------------------------------------------------------------------------


async def overview(request: web.Request) -> web.StreamResponse:
    """Counts by state × flow × collectivité, what needs a person, the pollers' health."""
    store = console(request).gateway.store
    visible_profiles = profiles_scope(request)
    tally = await store.tally(profiles=visible_profiles)
    now = store.clock()
    overdue = {flow: now - delay for flow, delay in labels.OVERDUE.items()}
    urgent = await store.needing_person(profiles=visible_profiles, overdue_before=overdue, limit=50)
    states = [s for s in State if any(t.state is s for t in tally)]
    rows: dict[tuple[str, str], dict[State, int]] = defaultdict(dict)
    totals: dict[State, int] = defaultdict(int)
    for t in tally:
        rows[(t.profile, t.flow)][t.state] = t.count
        totals[t.state] += t.count
    pollers = await store.pollers() if session(request).account.role.value != "agent" else []
    alive = [p for p in pollers if p.beat_at >= now - POLLER_SILENT]
    return render(
        request,
        "overview.html",
        title="Vue d'ensemble",
        states=states,
        rows=sorted(rows.items()),
        totals=totals,
        urgent=[(t, _why_urgent(t, now)) for t in urgent],
        pollers=pollers,
        alive=alive,
        now=now,
        show_pollers=session(request).account.role.value != "agent",
    )


def _why_urgent(t: Transmission, now: dt.datetime) -> str:
    if t.state is State.SENT:
        return f"accusé attendu depuis le {labels.when(t.created_at)}"
    return labels.hint(t, now) or labels.state(t.state)


# -- the list -----------------------------------------------------------------------------------


def _query(request: web.Request) -> tuple[ListQuery, dict[str, str]]:
    q = request.query
    kept = {k: q[k].strip() for k in ("etat", "flux", "profil", "du", "au", "q") if q.get(k, "").strip()}
    visible_profiles = profiles_scope(request)
    profiles: frozenset[str] | None = visible_profiles
    if "profil" in kept:
        wanted = frozenset({kept["profil"]})
        profiles = wanted if visible_profiles is None else wanted & visible_profiles
    try:
        states = frozenset({State(kept["etat"])}) if "etat" in kept else None
    except ValueError:
        raise ValidationError(f"état inconnu : {kept['etat']!r}", code="BAD_FILTER") from None
    return (
        ListQuery(
            states=states,
            flows=frozenset({kept["flux"]}) if "flux" in kept else None,
            profiles=profiles,
            since=_day(kept.get("du"), "du"),
            until=_day(kept.get("au"), "au", end=True),
            term=kept.get("q"),
        ),
        kept,
    )


def _day(value: str | None, what: str, *, end: bool = False) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"date « {what} » illisible : {value!r} (AAAA-MM-JJ)", code="BAD_FILTER"
        ) from None
    start = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), tzinfo=labels.PARIS)
    return start.astimezone(dt.UTC)


async def listing(request: web.Request) -> web.StreamResponse:
    """A page of transmissions, newest first, filtered; paged by cursor (no count)."""
    c = console(request)
    error = None
    try:
        query, kept = _query(request)
        page = await c.gateway.store.page(query, after=request.query.get("apres") or None, limit=PAGE_SIZE)
    except ValidationError as exc:
        error, kept = exc.message, {}
        page = None
    visible_profiles = profiles_scope(request)
    profiles = sorted(c.gateway.settings.profiles if visible_profiles is None else visible_profiles)
    return render(
        request,
        "list.html",
        status=400 if error else 200,
        title="Transmissions",
        items=page.items if page else [],
        next_url=_with(kept, apres=page.next) if page and page.next else None,
        first_url=_with(kept) if request.query.get("apres") else None,
        filters=kept,
        error=error,
        states=list(State),
        flows=sorted(labels.FLOWS),
        profiles=profiles,
    )


def _with(kept: dict[str, str], **more: str) -> str:
    from urllib.parse import urlencode

    return "/transmissions?" + urlencode({**kept, **more})


# -- one transmission -----------------------------------------------------------------------------


async def visible_transmission(request: web.Request) -> Transmission | None:
    """The transmission of the URL if the session sees it, else ``None`` (a 404 for the caller)."""
    tid = request.match_info["id"]
    try:
        t = await console(request).gateway.store.get(tid)
    except NotFound:
        return None
    return t if visible(request, t.profile) else None


async def detail(request: web.Request) -> web.StreamResponse:
    """A transmission: what it is, where it stands, what came back, its journal, its archive."""
    from demat.gateway.readings import read_document

    c = console(request)
    t = await visible_transmission(request)
    if t is None:
        return not_found(request, "Aucune transmission de ce numéro n'est visible pour vous.")
    store = c.gateway.store
    docs = await store.documents(t.id)
    personal = may(session(request).account, Action.PERSONAL)
    readings = []
    for doc in docs:
        hidden = doc.kind in PERSONAL_KINDS and not personal
        # A PES_ACQUIT may be tens of MB: parsed on a worker thread, the event loop keeps serving.
        reading = None if hidden else await offload(_read, read_document, doc, c.gateway.settings)
        readings.append((doc, reading, hidden))
    journal = await store.journal(t.id)
    generations = []
    if t.generation or t.state in (State.FAILED, State.REJECTED):
        latest = await store.find(t.profile, t.flow, t.digest)
        if latest is not None and latest.id != t.id:
            generations.append(latest)
    package = await _package(request, t)
    return render(
        request,
        "detail.html",
        title=t.name,
        t=t,
        hint=labels.hint(t, store.clock()),
        readings=readings,
        journal=[(e, _entry_details(e.payload)) for e in journal],
        identifiers=labels.identifiers(t.identifiers),
        newer=generations,
        package=package,
        verified=cast("list[str] | None", request.get(VERIFIED)),
        has_file=c.gateway.spool.has(t.digest),
        pieces=pieces(t),
        message=_MESSAGES.get(request.query.get("fait", "")),
        actions=_actions(t),
    )


def _read(read: Any, doc: Any, settings: Any) -> Any:
    try:
        return read(doc, settings)
    except DematError as exc:  # the reading has its own "illisible"; anything else is said here
        return {"error": exc.message}


_MESSAGES = {
    "relance": "Relance enregistrée.",
    "renvoi": "Renvoi enregistré : une nouvelle transmission part.",
    "tranche": "Décision enregistrée dans le journal.",
    "annulation": "Demande d'annulation enregistrée.",
    "envoye": "Document accepté : il part au prochain passage du relevé.",
    "deja": "Ce document était déjà enregistré : voici sa transmission.",
}


def _actions(t: Transmission) -> list[tuple[str, str, Action]]:
    """The buttons a transmission offers (those the role allows are shown)."""
    found: list[tuple[str, str, Action]] = []
    if t.state in (State.FAILED, State.REJECTED, State.ACCEPTED, State.SENT, State.CANCEL_REQUESTED):
        found.append(("relancer", "Relancer", Action.RETRY))
    if t.state in (State.UNKNOWN, State.SENDING):
        found.append(("resoudre", "Trancher (reçu / non reçu)", Action.RESOLVE))
    if t.state is State.ACCEPTED or (t.state is State.ACKNOWLEDGED and t.flow in ("actes", "budget")):
        found.append(
            ("annuler", "Annuler" if t.state is State.ACCEPTED else "Demander l'annulation", Action.CANCEL)
        )
    return found


def _entry_details(payload: Any) -> list[tuple[str, str]]:
    names = {
        "by": "par",
        "reason": "motif",
        "message": "message",
        "error": "erreur",
        "status": "statut",
        "remote_id": "identifiant distant",
        "id_acte": "IDActe",
        "kind": "document",
        "name": "nom",
    }
    data = dict(payload or {})
    return [(label, str(data[key])) for key, label in names.items() if data.get(key) not in (None, "")]


async def _package(request: web.Request, t: Transmission) -> dict[str, Any] | None:
    deposit = await _deposit(request, t)
    return None if deposit is None else deposit.as_dict()


async def _deposit(request: web.Request, t: Transmission) -> Any:
    archive = console(request).archive
    if archive is None:
        return None
    from demat.errors import StorageError

    await archive.refresh()
    try:
        return await offload(archive.find, t.id)
    except StorageError:
        return None


async def package_verify(request: web.Request) -> web.StreamResponse:
    """Verify this transmission's archive package now (digests, manifest, seal, timestamp)."""
    refuse_unless(request, Action.ARCHIVE)
    t = await visible_transmission(request)
    deposit = None if t is None else await _deposit(request, t)
    if t is None or deposit is None:
        return not_found(request, "Aucun paquet d'archive pour cette transmission.")
    problems = await console(request).archive.verify_deposit(deposit)  # type: ignore[union-attr]
    request[VERIFIED] = [p.message for p in problems]
    return await detail(request)


async def document(request: web.Request) -> web.StreamResponse:
    """A document received for a transmission, as the platform sent it."""
    t = await visible_transmission(request)
    if t is None:
        return not_found(request)
    docs = await console(request).gateway.store.documents(t.id)
    wanted = request.match_info["doc"]
    doc = next((d for d in docs if str(d.id) == wanted), None)
    if doc is None:
        return not_found(request, "Ce document n'existe pas.")
    if doc.kind in PERSONAL_KINDS:
        refuse_unless(request, Action.PERSONAL)
    return web.Response(
        body=doc.content,
        content_type="application/octet-stream",
        headers={"Content-Disposition": attachment(doc.name or f"{doc.kind}.bin")},
    )


def pieces(t: Transmission) -> list[tuple[str, str, str]]:
    """The files a transmission sent, each kept in the spool: (name, SHA-256, what it is); an
    acte's or budget act's documents, an electoral deposit's lists, tableaux and page."""
    found = []
    for item in [*(t.identifiers.get("documents") or ()), *(t.identifiers.get("files") or ())]:
        if isinstance(item, dict) and isinstance(item.get("sha256"), str):
            name = str(item.get("filename") or item.get("name") or "document")
            found.append((name, item["sha256"], str(item.get("typology") or item.get("kind") or "")))
    return found


async def piece(request: web.Request) -> web.StreamResponse:
    """One of the files a transmission sent, from the spool."""
    c = console(request)
    t = await visible_transmission(request)
    wanted = request.match_info["sha256"]
    found = next((p for p in pieces(t) if p[1] == wanted), None) if t is not None else None
    if t is None or found is None:
        return not_found(request)
    if t.flow == "elections":  # the lists themselves: electors' personal data
        refuse_unless(request, Action.PERSONAL)
    path = c.gateway.spool.path(wanted)
    if not path.is_file():
        return not_found(request, "Ce fichier n'est plus dans le dépôt local.")
    return web.FileResponse(
        path,
        headers={"Content-Disposition": attachment(found[0]), "Content-Type": "application/octet-stream"},
    )


async def sent_file(request: web.Request) -> web.StreamResponse:
    """The document as it was sent (the signed PES, the acte's package…), from the spool."""
    c = console(request)
    t = await visible_transmission(request)
    if t is None:
        return not_found(request)
    if t.flow == "elections":  # the lists themselves: electors' personal data
        refuse_unless(request, Action.PERSONAL)
    path = c.gateway.spool.path(t.digest)
    if not path.is_file():
        return not_found(request, "Le document envoyé n'est plus dans le dépôt local.")
    return web.FileResponse(
        path,
        headers={
            "Content-Disposition": attachment(t.name),
            "Content-Type": "application/octet-stream",
        },
    )


def attachment(name: str) -> str:
    """A ``Content-Disposition`` for a download named ``name`` (a platform's or a person's
    choice): the name without control characters, quotes or slashes, in ASCII for old clients
    and whole in ``filename*`` (RFC 6266); never a header break."""
    cleaned = "".join(ch for ch in name if ch.isprintable() and ch not in '"\\/').strip()
    cleaned = cleaned[:200] or "document"
    fallback = "".join(ch if ch.isascii() else "_" for ch in cleaned)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


# -- electoral deposits --------------------------------------------------------------------------


async def elections(request: web.Request) -> web.StreamResponse:
    """The electoral lists deposited: receipts and control verdicts (findings by role)."""
    c = console(request)
    store = c.gateway.store
    try:
        page = await store.page(
            ListQuery(flows=frozenset({"elections"}), profiles=profiles_scope(request)),
            after=request.query.get("apres") or None,
            limit=PAGE_SIZE,
        )
    except ValidationError as exc:  # a cursor edited by hand
        return render(request, "error.html", status=400, title="Adresse invalide", message=exc.message)
    personal = may(session(request).account, Action.PERSONAL)
    rows = []
    for t in page.items:
        docs = await store.documents(t.id)
        receipt = next((d for d in docs if d.kind == "receipt"), None)
        control = next((d for d in docs if d.kind == "control_report"), None)
        rows.append((t, receipt, _control_summary(control.content) if control else None))
    return render(
        request,
        "elections.html",
        title="Listes électorales",
        rows=rows,
        personal=personal,
        next_url=f"/elections?apres={page.next}" if page.next else None,
    )


def _control_summary(content: bytes) -> dict[str, Any]:
    """The counts of a control report (no elector named: safe for every role)."""
    from demat.depot.protocol import read_control_report

    try:
        report = read_control_report(content)
    except (DematError, ValueError, KeyError, TypeError):
        return {"valid": None, "lists": []}
    lists = [
        {
            "name": c.name,
            "list_type": c.list_type,
            "electors": c.electors,
            "valid": c.valid,
            "errors": len(c.errors),
            "warnings": len(c.warnings),
        }
        for c in report.lists
    ]
    return {"valid": report.valid, "lists": lists}


# -- the archive ----------------------------------------------------------------------------------


async def archives(request: web.Request) -> web.StreamResponse:
    """The intermediate archive: packages, ledger seals anchoring the journal, DUAs due."""
    refuse_unless(request, Action.ARCHIVE)
    return await _archive_page(request)


async def archive_verify(request: web.Request) -> web.StreamResponse:
    """Verify every package, seal and the ledger now; show the report."""
    refuse_unless(request, Action.ARCHIVE)
    c = console(request)
    if c.archive is None:
        return not_found(request, "Aucune archive n'est configurée.")
    report = await c.archive.verify()
    anchored = await c.gateway.store.verify_journal(anchors=c.archive.journal_anchors())
    return await _archive_page(request, report=report.as_dict(), journal_ok=anchored.ok)


async def _archive_page(request: web.Request, **verified: Any) -> web.Response:
    archive = console(request).archive
    if archive is None:
        return render(request, "archives.html", title="Archives", archive=None)
    await archive.refresh()
    # The ledger is read from its file: on a worker thread, the event loop keeps serving.
    found = await offload(archive.deposits)
    deposits = sorted(found.values(), key=lambda d: d.seq, reverse=True)
    today = dt.date.today()
    due = [d for d in deposits if d.eliminated is None and d.due <= today]
    return render(
        request,
        "archives.html",
        title="Archives",
        archive=archive,
        deposits=[d.as_dict() for d in deposits[:200]],
        total=len(deposits),
        due=[d.as_dict() for d in sorted(due, key=lambda d: (d.due, d.seq))],
        anchors=_anchors(archive),
        **{"report": None, **verified},
    )


def _anchors(archive: Any) -> list[str]:
    """The journal heads the ledger's seals vouch for, newest first (20 at most)."""
    shown = []
    for anchor in reversed(archive.journal_anchors()[-20:]):
        try:
            head = anchor.vouched_head()
        except ValueError as exc:
            shown.append(f"preuve invalide : {exc}")
            continue
        shown.append(f"journal jusqu'à l'entrée n° {head.seq}, empreinte {head.hash[:16]}…")
    return shown


__all__ = [
    "PAGE_SIZE",
    "PERSONAL_KINDS",
    "VERIFIED",
    "archive_verify",
    "archives",
    "attachment",
    "detail",
    "document",
    "elections",
    "listing",
    "overview",
    "package_verify",
    "piece",
    "pieces",
    "routes",
    "sent_file",
    "visible_transmission",
]
