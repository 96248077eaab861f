"""The console's aiohttp application: who is asking (session cookie), CSRF on every form, the
security headers, the templates; the pages themselves are in :mod:`~demat.web.pages`,
:mod:`~demat.web.actions`, :mod:`~demat.web.send` and :mod:`~demat.web.live`.

Every page but the login page and the static files needs a session. A request whose session is
missing or over is sent to the login page (a form post or the live stream get a 401). Every
``POST`` carries the session's CSRF token in a hidden field and comes from this console's
origin (checked on ``Origin`` when the browser sends it), or it is refused with a 403 and
nothing done. The login form has its own token, in a cookie and in the form (a login CSRF would
log a person into someone else's account).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote, urlsplit

import jinja2
from aiohttp import web

from demat.errors import DematError
from demat.web import labels
from demat.web.access import Action, may, scope, sees
from demat.web.accounts import ROLE_LABELS, Accounts, AuthError, Session, csrf_ok

if TYPE_CHECKING:
    from demat.gateway import Gateway
    from demat.storage import ArchiveStore
    from demat.web.live import Hub

log = logging.getLogger("demat.web")
#: One line per request: the account, the method, the path, the status.
access = logging.getLogger("demat.web.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """What the pages work with: the gateway (store, spool, flows), the accounts, the archive."""

    gateway: Gateway
    accounts: Accounts
    archive: ArchiveStore | None = None
    #: Cookies only over HTTPS (``False`` only behind a TLS-terminating proxy on loopback, or tests).
    secure: bool = True
    #: Largest upload accepted by the send form, in bytes.
    max_upload: int = 200 * 1024 * 1024
    hub: Hub | None = field(default=None, repr=False)
    templates: jinja2.Environment = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.templates = _environment()

    @property
    def cookie(self) -> str:
        """The session cookie's name (``__Host-`` pins it to this origin, HTTPS only)."""
        return "__Host-demat" if self.secure else "demat"

    @property
    def login_cookie(self) -> str:
        """The login form's CSRF cookie."""
        return "__Host-demat-login" if self.secure else "demat-login"


#: Where the application keeps its :class:`Console`.
CONSOLE: Final = web.AppKey("console", Console)
#: Where a request keeps its session (``None``: nobody logged in).
SESSION: Final[web.RequestKey[Session | None]] = web.RequestKey("session")
_PUBLIC: Final = ("/connexion", "/static/", "/sante", "/favicon.ico")
#: The pages that take a file upload (multipart): each checks the CSRF token itself.
UPLOADS: Final = frozenset({"/envoyer"})


def console(request: web.Request) -> Console:
    """The console serving ``request``."""
    return request.app[CONSOLE]


def session(request: web.Request) -> Session:
    """The session of ``request`` (every page but the public ones has one)."""
    found = cast("Session | None", request.get(SESSION))
    if found is None:
        raise web.HTTPUnauthorized(text="session requise")
    return found


def render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """``template`` rendered with ``context`` and what every page shows (who is logged in…)."""
    c = console(request)
    s = cast("Session | None", request.get(SESSION))
    page = c.templates.get_template(template).render(
        me=s.account if s else None,
        role_label=ROLE_LABELS.get(s.account.role) if s else None,
        csrf=s.csrf if s else "",
        may=(lambda action: may(s.account, Action(action))) if s else (lambda action: False),
        path=request.path,
        has_archive=c.archive is not None,
        live_seq=c.hub.seq if c.hub is not None else 0,
        **context,
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def not_found(request: web.Request, what: str = "Cette page n'existe pas.") -> web.Response:
    """The 404 page (also what a transmission of another collectivité is)."""
    return render(request, "error.html", status=404, title="Introuvable", message=what)


def refuse_unless(request: web.Request, action: Action) -> None:
    """A 403 page unless the session's role allows ``action``."""
    if not may(session(request).account, action):
        raise web.HTTPForbidden(
            text=render(
                request, "error.html", title="Action non permise", message="Votre rôle ne le permet pas."
            ).text,
            content_type="text/html",
        )


def visible(request: web.Request, profile: str | None) -> bool:
    """Whether the session's account sees what belongs to ``profile``."""
    return sees(session(request).account, profile)


def profiles_scope(request: web.Request) -> frozenset[str] | None:
    """The profiles the session's account sees (``None``: all)."""
    return scope(session(request).account)


# -- middlewares -----------------------------------------------------------------------------


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:  # no such page: said in French
        title = "Introuvable" if exc.status == 404 else "Action impossible ici"
        response = render(request, "error.html", status=exc.status, title=title, message=exc.reason)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    except web.HTTPException as exc:
        response = exc
    except DematError as exc:  # the store or a platform is down: said, not a traceback
        log.warning("%s %s: %s", request.method, request.path, exc)
        response = render(request, "error.html", status=503, title="Indisponible", message=exc.message)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        response = render(
            request,
            "error.html",
            status=500,
            title="Erreur interne",
            message="Une erreur inattendue : rien n'a été modifié. Elle est inscrite au journal du serveur.",
        )
    h = response.headers
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "no-store")
    if console(request).secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        # Who asked what, and the answer: the path only (ids), never a query (a search term may
        # name someone) nor a form.
        who = cast("Session | None", request.get(SESSION))
        access.info(
            "%s %s %s %d", who.account.login if who else "-", request.method, request.path, response.status
        )
    if isinstance(response, web.HTTPException):
        raise response
    return response


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    c = console(request)
    if _control_characters(request):
        # No page takes one, and PostgreSQL refuses NUL in text: said here, never a 500 later.
        return render(
            request,
            "error.html",
            status=400,
            title="Requête invalide",
            message="Caractère de contrôle dans l'adresse.",
        )
    token = request.cookies.get(c.cookie)
    found = await c.accounts.session(token) if token else None
    request[SESSION] = found
    if request.path.startswith(_PUBLIC):
        return await handler(request)
    if found is None:
        if request.method == "GET" and not request.path.startswith("/evenements"):
            target = quote(request.path_qs, safe="")
            raise web.HTTPSeeOther(f"/connexion?suite={target}")
        raise web.HTTPUnauthorized(text="session requise : reconnectez-vous")
    if request.method == "POST":
        await _check_csrf(request, found)
    return await handler(request)


async def _check_csrf(request: web.Request, found: Session) -> None:
    if not _same_origin(request):
        log.warning("POST %s refused: origin %s", request.path, request.headers.get("Origin"))
        raise web.HTTPForbidden(text="requête refusée : origine étrangère à la console")
    if request.content_type == "multipart/form-data":
        # An upload is streamed to disk: its handler reads the token from the form's first part
        # before any file (:func:`demat.web.send.upload`); no other page takes one.
        if request.path not in UPLOADS:
            raise web.HTTPForbidden(text="requête refusée : envoi de fichier inattendu")
        return
    given = str((await request.post()).get("csrf") or "") or None
    if not csrf_ok(found, given):
        log.warning("POST %s refused: CSRF token missing or wrong", request.path)
        raise web.HTTPForbidden(text="requête refusée : jeton CSRF manquant ou invalide (rechargez la page)")


def _control_characters(request: web.Request) -> bool:
    text = request.path + "".join(f"{k}{v}" for k, v in request.query.items())
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None  # an opaque origin ("null") is never ours
    return urlsplit(origin).netloc == request.host


# -- login ------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    # Only a path of this console: never another site (an open redirect would help phishing).
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(request: web.Request) -> web.StreamResponse:
    """The login form (with its own CSRF token)."""
    c = console(request)
    # One token per browser: a second tab (or a favicon fetched through this redirect) must not
    # invalidate the form already shown.
    token = request.cookies.get(c.login_cookie) or ""
    if not 20 <= len(token) <= 64:
        token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        title="Connexion",
        login_csrf=token,
        suite=_safe_next(request.query.get("suite")),
        error=None,
    )
    response.set_cookie(
        c.login_cookie, token, secure=c.secure, httponly=True, samesite="Strict", path="/", max_age=3600
    )
    return response


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password; open a session."""
    c = console(request)
    form = await request.post()
    expected = request.cookies.get(c.login_cookie)
    given = str(form.get("login_csrf") or "")
    if (
        not expected
        or not secrets.compare_digest(expected.encode(), given.encode())
        or not _same_origin(request)
    ):
        raise web.HTTPForbidden(
            text="requête refusée : jeton de connexion manquant ou invalide (rechargez la page)"
        )
    suite = _safe_next(str(form.get("suite") or ""))
    try:
        account = await c.accounts.authenticate(str(form.get("login") or ""), str(form.get("password") or ""))
    except AuthError as exc:
        log.info("login refused for %r", str(form.get("login") or "")[:100])
        return render(
            request,
            "login.html",
            status=401,
            title="Connexion",
            login_csrf=expected,
            suite=suite,
            error=exc.message,
        )
    token, _ = await c.accounts.open_session(account)
    log.info("login: %s (%s)", account.login, account.role.value)
    response = web.HTTPSeeOther(suite)
    response.set_cookie(c.cookie, token, secure=c.secure, httponly=True, samesite="Strict", path="/")
    response.del_cookie(c.login_cookie, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session."""
    c = console(request)
    s = session(request)
    await c.accounts.close_session(s)
    log.info("logout: %s", s.account.login)
    response = web.HTTPSeeOther("/connexion")
    response.del_cookie(c.cookie, path="/")
    raise response


async def health(request: web.Request) -> web.StreamResponse:
    """For a load balancer: the console answers (nothing about the data)."""
    return web.json_response({"ok": True})


async def _no_content(request: web.Request) -> web.StreamResponse:
    """No icon: answered here so a browser's request does not go through the login redirect."""
    return web.Response(status=204)


# -- the application ---------------------------------------------------------------------------


def create_app(c: Console) -> web.Application:
    """The console's application on ``c`` (its live hub starts and stops with it)."""
    from demat.web.actions import routes as action_routes
    from demat.web.live import routes as live_routes
    from demat.web.pages import routes as page_routes
    from demat.web.send import routes as send_routes

    app = web.Application(middlewares=[_headers, _authenticate], client_max_size=c.max_upload)
    app[CONSOLE] = c
    app.router.add_get("/connexion", login_page)
    app.router.add_post("/connexion", login)
    app.router.add_post("/deconnexion", logout)
    app.router.add_get("/sante", health)
    app.router.add_get("/favicon.ico", _no_content)
    static = Path(str(resources.files("demat.web") / "static"))
    app.router.add_static("/static/", static, append_version=False)
    page_routes(app)
    action_routes(app)
    send_routes(app)
    live_routes(app)
    return app


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("demat.web", "templates"),
        autoescape=jinja2.select_autoescape(("html",), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        state_label=labels.state,
        flow_label=labels.flow,
        event_label=labels.event,
        tone=lambda s: labels.TONES.get(s, "neutral"),
        when=labels.when,
        when_text=labels.when_text,
        iso=labels.iso,
        size=labels.size,
        identifier_labels=labels.IDENTIFIERS,
    )
    return env


__all__ = [
    "CONSOLE",
    "SESSION",
    "UPLOADS",
    "Console",
    "console",
    "create_app",
    "not_found",
    "profiles_scope",
    "refuse_unless",
    "render",
    "session",
    "visible",
]
