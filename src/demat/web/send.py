"""Sending a document from the console: the same checks as ``demat send``, through the gateway.

The form is read as a stream: its first part must be the session's CSRF token (checked before
a byte of any file is written), each file goes to a private temporary folder under the data
directory, never wholly into memory, and is removed once the gateway has taken its copy (or
refused it). A refusal (schema, rules, identity of the collectivité…) is shown on the form
again, with the gateway's own message; nothing is recorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import BodyPartReader, web

from demat.errors import ConfigError, DematError
from demat.files import private_dir
from demat.web.access import Action
from demat.web.accounts import csrf_ok
from demat.web.app import console, profiles_scope, refuse_unless, render, session

log = logging.getLogger("demat.web")

#: What the form can send, and how it names it.
KINDS: Final = {
    "pes": "PES (Hélios)",
    "budget": "Budget TOTEM scellé",
    "actes": "Acte",
    "elections": "Listes électorales (dépôt)",
}
_FIELDS: Final = frozenset(
    {"profile", "kind", "numero", "date", "objet", "matieres", "nature", "classification_date", "force"}
)
_FILES: Final = frozenset({"document", "deliberation", "annexes", "listes", "commission", "tableaux"})


def routes(app: web.Application) -> None:
    """Add the send form to ``app``."""
    app.router.add_get("/envoyer", form_page)
    app.router.add_post("/envoyer", upload)


def _profiles(request: web.Request) -> list[str]:
    visible = profiles_scope(request)
    known = console(request).gateway.settings.profiles
    return sorted(p for p in known if visible is None or p in visible)


async def form_page(
    request: web.Request, *, error: str | None = None, form: Any = None
) -> web.StreamResponse:
    """The send form."""
    refuse_unless(request, Action.SEND)
    return render(
        request,
        "send.html",
        status=422 if error else 200,
        title="Envoyer un document",
        profiles=_profiles(request),
        kinds=KINDS,
        error=error,
        form=form or {},
        max_upload=console(request).max_upload,
    )


@dataclass
class _Upload:
    folder: Path
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)
    size: int = 0


async def upload(request: web.Request) -> web.StreamResponse:
    """Read the form, check it, hand it to the gateway."""
    refuse_unless(request, Action.SEND)
    c = console(request)
    with _folder(c.gateway.settings.data_dir) as folder:
        got = _Upload(folder)
        try:
            await _read(request, got, c.max_upload)
            result = await _send(request, got)
        except DematError as exc:
            log.info("send refused: %s", exc.code)
            return await form_page(request, error=exc.message, form=got.fields)
    t = result.transmission
    log.info("sent from the console: %s (%s) by %s", t.id, t.flow, session(request).account.login)
    if result.warnings:  # said once, here: the transmission's page does not keep them
        return render(request, "sent.html", title="Document accepté", t=t, created=result.created,
                      warnings=list(result.warnings))  # fmt: skip
    raise web.HTTPSeeOther(f"/transmissions/{t.id}?fait={'envoye' if result.created else 'deja'}")


@contextlib.contextmanager
def _folder(data_dir: Path) -> Iterator[Path]:
    root = private_dir(data_dir / "web-uploads")
    folder = Path(tempfile.mkdtemp(dir=root, prefix="up-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _read(request: web.Request, got: _Upload, limit: int) -> None:
    if request.content_type != "multipart/form-data":
        raise ConfigError("formulaire attendu en multipart/form-data", code="USAGE")
    reader = await request.multipart()
    first = await reader.next()
    token = await first.text() if isinstance(first, BodyPartReader) and first.name == "csrf" else None
    if not csrf_ok(session(request), token):
        raise web.HTTPForbidden(text="requête refusée : jeton CSRF manquant ou invalide (rechargez la page)")
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.name in _FIELDS:
            got.fields[part.name] = (await part.text())[:2000].strip()
        elif part.name in _FILES and part.filename:
            name = _safe_name(part.filename)
            got.files.setdefault(part.name, []).append((name, await _save(part, got, limit, name)))
        # anything else is ignored, unread


async def _save(part: BodyPartReader, got: _Upload, limit: int, name: str) -> Path:
    # Under its own name (an electoral list's says which list it is), one folder per file.
    folder = got.folder / f"{sum(len(v) for v in got.files.values()):03d}"
    folder.mkdir()
    path = folder / name
    with path.open("wb") as out:
        while chunk := await part.read_chunk(1 << 20):
            got.size += len(chunk)
            if got.size > limit:
                raise ConfigError(f"envoi trop gros : {limit // (1024 * 1024)} Mo au plus", code="TOO_LARGE")
            out.write(chunk)
    return path


def _safe_name(name: str) -> str:
    # The browser's file name is informative only: no folder, no control character.
    base = re.split(r"[\\/]", name)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:200] if cleaned not in ("", ".", "..") else "document"


def _one(got: _Upload, name: str, what: str) -> tuple[str, Path]:
    files = got.files.get(name) or []
    if not files:
        raise ConfigError(f"{what} manquant", code="USAGE")
    return files[0]


def _needed(got: _Upload, name: str, what: str) -> str:
    value = got.fields.get(name, "")
    if not value:
        raise ConfigError(f"{what} manquant", code="USAGE")
    return value


def _date(got: _Upload, name: str, what: str) -> dt.date:
    value = _needed(got, name, what)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{what} illisible : {value!r} (AAAA-MM-JJ)", code="USAGE") from None


async def _send(request: web.Request, got: _Upload) -> Any:
    gw = console(request).gateway
    profile = got.fields.get("profile", "")
    if profile not in _profiles(request):
        raise ConfigError("choisissez une collectivité (profil) parmi les vôtres", code="USAGE")
    kind = got.fields.get("kind", "")
    force = got.fields.get("force") == "oui"
    if kind == "pes":
        name, path = _one(got, "document", "fichier PES")
        return await gw.send_pes(path, profile=profile, name=name, force=force)
    if kind == "budget":
        _, path = _one(got, "document", "document budgétaire (XML scellé)")
        delib_name, delib = _one(got, "deliberation", "délibération (PDF)")
        from demat.actes import ActeDocument
        from demat.actes.budget.act import DELIBERATION_TYPOLOGY

        return await gw.send_budget(
            path,
            ActeDocument(filename=delib_name, typology=DELIBERATION_TYPOLOGY, content=delib),
            profile=profile,
            numero=_needed(got, "numero", "numéro"),
            classification_date=_date(got, "classification_date", "date de classification"),
            force=force,
        )
    if kind == "actes":
        return await gw.send_acte(_acte(got), profile=profile, force=force)
    if kind == "elections":
        refuse_unless(request, Action.PERSONAL)  # the lists name electors
        from demat.gateway.flows.elections import ElectionsFlow

        lists = [path for _, path in got.files.get("listes", [])]
        if not lists:
            raise ConfigError(
                "listes électorales (CSV ou ZIP de l'extraction du REU) manquantes", code="USAGE"
            )
        _, commission = _one(got, "commission", "page signée de la commission (PDF ou image)")
        flow = gw.flow("elections")
        assert isinstance(flow, ElectionsFlow)
        return await flow.send(
            lists,
            profile=profile,
            commission=commission,
            tableaux=[path for _, path in got.files.get("tableaux", [])],
            force=force,
        )
    raise ConfigError("choisissez le type de document", code="USAGE")


def _acte(got: _Upload) -> Any:
    import pydantic

    from demat.actes import Acte, ActeDocument, Nature
    from demat.actes.model import LEGACY_ANNEX_TYPOLOGY

    try:
        nature = Nature.parse(_needed(got, "nature", "nature de l'acte"))
    except ValueError as exc:
        raise ConfigError(str(exc), code="USAGE") from None
    name, path = _one(got, "document", "document de l'acte (PDF)")
    annexes = [
        ActeDocument(filename=n, typology=LEGACY_ANNEX_TYPOLOGY, content=p)
        for n, p in got.files.get("annexes", [])
    ]
    try:
        return Acte(
            nature=nature,
            numero=_needed(got, "numero", "numéro"),
            date=_date(got, "date", "date de décision"),
            objet=_needed(got, "objet", "objet"),
            matieres=_needed(got, "matieres", "matière (p. ex. 7.1)"),
            classification_date=_date(got, "classification_date", "date de classification"),
            document=ActeDocument(filename=name, typology=nature.default_typology, content=path),
            annexes=tuple(annexes),
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"acte invalide : {where} : {first.get('msg')}", code="USAGE") from None


__all__ = ["KINDS", "form_page", "routes", "upload"]
