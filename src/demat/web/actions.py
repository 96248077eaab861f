"""What a person does from the console: retry, settle a transmission in doubt, cancel.

Each action is a confirmation page (GET: what will happen, a reason to give) and a form post
that does it through :mod:`demat.gateway.actions`, the same code as ``demat retry``,
``demat resolve`` and ``demat cancel``: the journal keeps who did it (the account's name and
login) and why. A refusal (someone else moved it meanwhile, nothing to retry…) is said on the
confirmation page again, and nothing is done.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from aiohttp import web

from demat.errors import DematError
from demat.tracking import State
from demat.web.access import Action
from demat.web.app import console, not_found, refuse_unless, render, session
from demat.web.pages import visible_transmission

log = logging.getLogger("demat.web")

#: The action of each URL segment, and the French of its confirmation.
_ACTIONS: Final = {
    "relancer": (Action.RETRY, "Relancer"),
    "resoudre": (Action.RESOLVE, "Trancher une transmission incertaine"),
    "annuler": (Action.CANCEL, "Annuler"),
}


def routes(app: web.Application) -> None:
    """Add the action pages to ``app``."""
    for segment in _ACTIONS:
        app.router.add_get(f"/transmissions/{{id}}/{segment}", confirm)
        app.router.add_post(f"/transmissions/{{id}}/{segment}", act)


def _segment(request: web.Request) -> str:
    return request.path.rsplit("/", 1)[1]


def who(request: web.Request) -> str:
    """How the journal names the person: "Name (login, web)"."""
    account = session(request).account
    return f"{account.name} ({account.login}, console)"


async def confirm(request: web.Request, *, error: str | None = None, form: Any = None) -> web.StreamResponse:
    """The confirmation page of an action."""
    segment = _segment(request)
    action, title = _ACTIONS[segment]
    t = await visible_transmission(request)
    if t is None:
        return not_found(request)
    refuse_unless(request, action)
    return render(
        request,
        "confirm.html",
        status=409 if error else 200,
        title=f"{title} — {t.name}",
        heading=title,
        t=t,
        segment=segment,
        error=error,
        form=form or {},
        in_doubt=t.state in (State.UNKNOWN, State.SENDING),
    )


async def act(request: web.Request) -> web.StreamResponse:
    """Do the action the person confirmed."""
    from demat.gateway import actions

    segment = _segment(request)
    action, _ = _ACTIONS[segment]
    t = await visible_transmission(request)
    if t is None:
        return not_found(request)
    refuse_unless(request, action)
    form = await request.post()
    reason = str(form.get("reason") or "").strip() or None
    gw = console(request).gateway
    by = who(request)
    try:
        if segment == "relancer":
            done = await actions.retry(gw, t, by=by, reason=reason, confirmed=form.get("checked") == "oui")
            target, said = done.after.id, ("renvoi" if done.after.id != t.id else "relance")
        elif segment == "resoudre":
            verdict = str(form.get("verdict") or "")
            if verdict not in ("sent", "absent"):
                raise _usage("choisissez « reçu » ou « non reçu »")
            remote = str(form.get("remote_id") or "").strip() or None
            await actions.resolve(gw, t, verdict, by=by, reason=reason or "", remote_id=remote)  # type: ignore[arg-type]
            target, said = t.id, "tranche"
        else:
            await actions.cancel(gw, t, by=by, reason=reason)
            target, said = t.id, "annulation"
    except DematError as exc:
        log.info("%s %s refused: %s", segment, t.id, exc.code)
        return await confirm(request, error=exc.message, form=dict(form))
    log.info("%s %s by %s", segment, t.id, session(request).account.login)
    raise web.HTTPSeeOther(f"/transmissions/{target}?fait={said}")


def _usage(message: str) -> DematError:
    from demat.errors import ConfigError

    return ConfigError(message, code="USAGE")


__all__ = ["act", "confirm", "routes", "who"]
