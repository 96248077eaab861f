"""``demat depot serve``: the deposit server for electoral lists, an aiohttp HTTPS service.

Who connects, and what they see
-------------------------------
TLS is required. A client authenticates with a client certificate the operator registered
(its SHA-256) or with a token the operator issued (``Authorization: Bearer …``). A **commune**
account deposits and reads its own deposits only; a **préfecture** account lists, downloads
and marks read the deposits of its département's communes and nothing else; an **operator**
account manages accounts. Anything else is answered 404, as if it did not exist.

A deposit
---------
``POST /api/v1/deposits`` (multipart): the manifest first (:mod:`demat.depot.protocol`), then
each file it lists. Each file is streamed to a private staging folder (files 0600, folders
0700) and hashed as it arrives; the server checks the manifest against what came (every file,
no other, sizes, SHA-256, PDF or image where expected), signs the **accusé de dépôt**, moves
the staging folder into place with one ``rename`` and only then records the deposit in the
database (one transaction: the deposit, its files, the lists it now holds the current one of,
the journal entry), and answers the signed accusé at once. A crash at any point leaves either
nothing visible (the staging folder and an unrecorded folder are removed at the next start) or
the whole deposit. The same manifest deposited again is the same deposit (its accusé again):
a client that lost the answer finds it by the manifest's digest (``GET /api/v1/lookup``).

Then the control job checks each list (:mod:`demat.depot.control`) and publishes a **control
report** (``GET /api/v1/deposits/{id}/report``; 202 while pending). Deposits still pending
after a restart are controlled then. The last deposit of a list replaces the previous one as
the commune's current list; earlier deposits stay, as history.

Retention: deposits received more than ``retention_days`` ago are purged (files removed,
control report dropped, digests kept) with a journal entry each.

Logs carry deposit ids, communes, counts and digests: never an elector's name.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from demat.depot.control import Checker, check_list, control_deposit
from demat.depot.protocol import (
    MAX_MANIFEST_BYTES,
    Manifest,
    build_receipt,
    check_content,
    is_commune_code,
    normalise_departement,
    read_manifest,
)
from demat.depot.store import ROLES, Account, Deposit, DepotStore
from demat.errors import DematError, StoreError, ValidationError
from demat.gateway.offload import offload
from demat.signing.keys import Signer
from demat.transport.tls import server_context

log = logging.getLogger("demat.depot")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Where the API lives.
API = "/api/v1"
_CHUNK = 1 << 20
_ACCOUNT = web.RequestKey("account", Account)


@dataclass(frozen=True)
class DepotConfig:
    """What a deposit server needs.

    ``directory`` holds the deposits (``deposits/<commune>/<id>/``), the staging area and, unless
    ``store_url`` names another database, the SQLite file ``depot.sqlite3``. ``client_ca``
    verifies client certificates (without it, only tokens authenticate). ``signer`` signs the
    accusés de dépôt. ``retention_days``: purge deposits older than that (``None``: keep).
    """

    directory: Path
    cert: Path
    key: Path
    signer: Signer
    client_ca: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    store_url: str | None = None
    retention_days: float | None = None
    purge_every: float = 3600.0
    max_deposit_bytes: int = 2 * 1024 * 1024 * 1024
    checker: Checker = field(default=check_list)


class DepotApp:
    """The request handlers and background jobs of one deposit server."""

    def __init__(self, config: DepotConfig, store: DepotStore) -> None:
        self.config = config
        self.store = store
        self.root = config.directory
        self.incoming = self.root / "incoming"
        self.deposits_dir = self.root / "deposits"
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle ---------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Clear what a crash left half-done, then queue the controls still pending."""
        for folder in (self.root, self.incoming, self.deposits_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)  # made by an earlier command, perhaps with the umask's mode
        removed = await offload(self._sweep, await self.store.live_ids())
        if removed:
            log.warning("removed %d unfinished or purged deposit folder(s)", removed)
        for deposit_id in await self.store.pending():
            self._queue.put_nowait(deposit_id)

    def _sweep(self, live: set[str]) -> int:
        removed = 0
        for stage in self.incoming.iterdir():
            shutil.rmtree(stage, ignore_errors=True)
            removed += 1
        for commune in self.deposits_dir.iterdir():
            for folder in commune.iterdir():
                if folder.name not in live:  # moved in place, never recorded (or purged)
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        return removed

    def start_jobs(self) -> None:
        """Start the control worker and, with a retention, the purge."""
        self._tasks.append(asyncio.create_task(self._control_worker()))
        if self.config.retention_days is not None:
            self._tasks.append(asyncio.create_task(self._purge_loop()))

    async def stop_jobs(self) -> None:
        """Stop the background jobs (a control in progress is redone at the next start)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def build(self) -> web.Application:
        """The aiohttp application."""
        app = web.Application(middlewares=[self.auth_middleware])
        r = app.router
        r.add_get(f"{API}/whoami", self.whoami)
        r.add_post(f"{API}/deposits", self.post_deposit)
        r.add_get(f"{API}/deposits", self.list_deposits)
        r.add_get(f"{API}/deposits/{{id}}", self.get_deposit)
        r.add_get(f"{API}/deposits/{{id}}/receipt", self.get_receipt)
        r.add_get(f"{API}/deposits/{{id}}/report", self.get_report)
        r.add_get(f"{API}/deposits/{{id}}/files/{{name}}", self.get_file)
        r.add_post(f"{API}/deposits/{{id}}/read", self.mark_read)
        r.add_get(f"{API}/lookup", self.lookup)
        r.add_get(f"{API}/accounts", self.list_accounts)
        r.add_post(f"{API}/accounts", self.add_account)
        r.add_delete(f"{API}/accounts/{{name}}", self.revoke_account)
        return app

    # -- authentication -------------------------------------------------------------------------

    @web.middleware
    async def auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Find the account of the client certificate or of the bearer token; 401 without one."""
        account = None
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            account = await self.store.authenticate(certificate_der=der)
        if account is None:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                account = await self.store.authenticate(token=token.strip())
        if account is None:
            return _error(401, "certificat client ou jeton non reconnu", "DEPOT_UNAUTHENTICATED")
        request[_ACCOUNT] = account
        try:
            return await handler(request)
        except ValidationError as exc:
            return _error(400, exc.message, exc.code)

    # -- commune side ---------------------------------------------------------------------------

    async def whoami(self, request: web.Request) -> web.Response:
        """The account the request authenticated as."""
        return web.json_response(_account(request).to_dict())

    async def post_deposit(self, request: web.Request) -> web.StreamResponse:
        """Receive a deposit (see the module docstring); answer its signed accusé de dépôt."""
        account = _account(request)
        if account.role != "commune":
            return _error(403, "seul un compte de commune dépose des listes", "DEPOT_FORBIDDEN")
        reader = await request.multipart()
        first = await reader.next()
        if not isinstance(first, BodyPartReader) or first.name != "manifest":
            return _error(400, "le manifeste doit venir en premier (champ 'manifest')", "MANIFEST_MISSING")
        raw = await _read_capped(first, MAX_MANIFEST_BYTES)
        manifest = read_manifest(raw)
        if manifest.commune != account.scope:
            return _error(
                403,
                f"le compte {account.name} ne dépose pas pour la commune {manifest.commune}",
                "DEPOT_FORBIDDEN",
            )
        existing = await self.store.find(manifest.commune, manifest.sha256)
        if existing is not None:  # the same deposit again: its accusé again
            await _drain(reader, self.config.max_deposit_bytes)
            return await self._receipt_response(existing.id, 200)
        if sum(f.size for f in manifest.files) > self.config.max_deposit_bytes:
            return _error(413, "dépôt trop volumineux", "DEPOT_TOO_LARGE")
        deposit_id = self.store.new_id()
        stage = self.incoming / deposit_id
        stage.mkdir(mode=0o700)
        try:
            try:
                await self._receive(reader, manifest, stage)
            except ValidationError:
                await _drain(reader, self.config.max_deposit_bytes)  # so the client reads the refusal
                raise
            (stage / "manifest.json").write_bytes(raw)
            os.chmod(stage / "manifest.json", 0o600)
            received_at = self.store.clock()
            receipt = await offload(
                _receipt, self.config.signer, deposit_id, account.name, received_at, manifest, len(raw)
            )
            target = self.deposits_dir / manifest.commune / deposit_id
            await offload(_move_into_place, stage, target)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        try:
            deposit, created = await self.store.add(
                deposit_id,
                manifest,
                account=account.name,
                manifest_size=len(raw),
                received_at=received_at,
                receipt=receipt,
            )
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        if not created:  # another request recorded the same manifest meanwhile
            shutil.rmtree(target, ignore_errors=True)
            return await self._receipt_response(deposit.id, 200)
        log.info(
            "deposit %s: commune %s, %d file(s), %d byte(s), manifest %s",
            deposit.id,
            deposit.commune,
            len(deposit.files),
            deposit.size,
            deposit.manifest_sha256[:16],
        )
        self._queue.put_nowait(deposit.id)
        return _receipt_reply(deposit.id, receipt, 201)

    async def _receive(self, reader: Any, manifest: Manifest, stage: Path) -> None:
        """Stream each file part into ``stage``, hashing; refuse what the manifest does not say."""
        seen: set[str] = set()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ValidationError("partie imbriquée refusée", code="DEPOT_PART")
            name = part.filename or ""
            entry = manifest.file(name)
            if entry is None or name in seen:
                raise ValidationError(
                    f"fichier hors manifeste ou en double : {name!r}", code="DEPOT_UNLISTED"
                )
            seen.add(name)
            digest = hashlib.sha256()
            size = 0
            head = b""
            fd = os.open(stage / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := await part.read_chunk(_CHUNK):
                    size += len(chunk)
                    if size > entry.size:
                        raise ValidationError(
                            f"{name} : plus long que les {entry.size} octets annoncés", code="DEPOT_SIZE"
                        )
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if size != entry.size:
                raise ValidationError(
                    f"{name} : {size} octets reçus, {entry.size} annoncés", code="DEPOT_SIZE"
                )
            if digest.hexdigest() != entry.sha256:
                raise ValidationError(
                    f"{name} : l'empreinte SHA-256 ne correspond pas au manifeste", code="DEPOT_DIGEST"
                )
            check_content(entry, head)
        missing = [f.name for f in manifest.files if f.name not in seen]
        if missing:
            raise ValidationError(
                f"fichier(s) annoncé(s) non reçu(s) : {', '.join(missing)}", code="DEPOT_MISSING"
            )

    async def _receipt_response(self, deposit_id: str, status: int) -> web.Response:
        receipt = await self.store.receipt(deposit_id)
        assert receipt is not None
        return _receipt_reply(deposit_id, receipt, status)

    async def lookup(self, request: web.Request) -> web.Response:
        """A commune's deposit by its manifest's SHA-256 (404 when it holds none)."""
        account = _account(request)
        digest = request.query.get("manifest", "").lower()
        if account.role != "commune":
            return _not_found()
        found = await self.store.find(account.scope, digest)
        return _not_found() if found is None else web.json_response(found.to_dict())

    # -- reading (commune: its own; préfecture: its département's) -------------------------------

    async def _visible(self, request: web.Request) -> Deposit | None:
        deposit = await self.store.get(request.match_info["id"])
        if deposit is None or not _account(request).sees(deposit.commune):
            return None
        return deposit

    async def list_deposits(self, request: web.Request) -> web.Response:
        """Deposits by commune and date (``commune``, ``since``, ``until``, ``unread``, ``list``)."""
        account = _account(request)
        q = request.query
        commune = q.get("commune")
        if account.role == "commune":
            if commune not in (None, account.scope):
                return web.json_response({"deposits": []})
            found = await self.store.deposits(commune=account.scope, **_filters(q))
        elif account.role == "prefecture":
            if commune is not None and not account.sees(commune):
                return web.json_response({"deposits": []})
            found = await self.store.deposits(departement=account.scope, commune=commune, **_filters(q))
        else:
            return _error(403, "un compte d'opérateur ne lit pas les dépôts", "DEPOT_FORBIDDEN")
        return web.json_response({"deposits": [d.to_dict() for d in found]})

    async def get_deposit(self, request: web.Request) -> web.Response:
        """One deposit's metadata."""
        deposit = await self._visible(request)
        return _not_found() if deposit is None else web.json_response(deposit.to_dict())

    async def get_receipt(self, request: web.Request) -> web.Response:
        """A deposit's signed accusé de dépôt."""
        deposit = await self._visible(request)
        return _not_found() if deposit is None else await self._receipt_response(deposit.id, 200)

    async def get_report(self, request: web.Request) -> web.Response:
        """A deposit's control report; 202 while the control runs, 410 once purged."""
        deposit = await self._visible(request)
        if deposit is None:
            return _not_found()
        if deposit.purged_at is not None:
            return _error(410, "dépôt purgé (durée de conservation écoulée)", "DEPOT_PURGED")
        if deposit.control_status == "pending":
            return web.json_response({"control": "pending"}, status=202)
        report = await self.store.report(deposit.id)
        return web.Response(body=report, content_type="application/json")

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        """Download one file of a deposit (its name as the manifest gives it)."""
        deposit = await self._visible(request)
        name = request.match_info["name"]
        if deposit is None or not any(f.name == name for f in deposit.files):
            return _not_found()
        if deposit.purged_at is not None:
            return _error(410, "dépôt purgé (durée de conservation écoulée)", "DEPOT_PURGED")
        path = self.deposits_dir / deposit.commune / deposit.id / name
        return web.FileResponse(
            path,
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    async def mark_read(self, request: web.Request) -> web.Response:
        """A préfecture marks a deposit read."""
        account = _account(request)
        deposit = await self._visible(request)
        if deposit is None:
            return _not_found()
        if account.role != "prefecture":
            return _error(403, "seule la préfecture marque un dépôt comme lu", "DEPOT_FORBIDDEN")
        return web.json_response((await self.store.mark_read(deposit.id, account.name)).to_dict())

    # -- operator ---------------------------------------------------------------------------------

    async def list_accounts(self, request: web.Request) -> web.Response:
        """Every account (operator only)."""
        if _account(request).role != "operator":
            return _not_found()
        return web.json_response({"accounts": [a.to_dict() for a in await self.store.accounts()]})

    async def add_account(self, request: web.Request) -> web.Response:
        """Create an account (operator only): ``name``, ``role``, ``scope``, ``label``, and
        ``certificate`` (PEM) and/or ``token: true``; the token is in the answer, once."""
        if _account(request).role != "operator":
            return _not_found()
        try:
            body = await request.json()
            new, token = await create_account(
                self.store,
                str(body["name"]),
                str(body["role"]),
                str(body.get("scope", "")),
                label=body.get("label"),
                certificate_pem=body["certificate"].encode() if body.get("certificate") else None,
                token=bool(body.get("token")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return _error(400, f"demande de compte invalide : {exc}", "DEPOT_ACCOUNT")
        except StoreError as exc:
            return _error(409 if exc.code == "DEPOT_ACCOUNT_EXISTS" else 400, exc.message, exc.code)
        return web.json_response({"account": new.to_dict(), "token": token}, status=201)

    async def revoke_account(self, request: web.Request) -> web.Response:
        """Revoke an account (operator only)."""
        if _account(request).role != "operator":
            return _not_found()
        try:
            revoked = await self.store.revoke_account(request.match_info["name"])
        except StoreError as exc:
            return _error(404, exc.message, exc.code)
        return web.json_response(revoked.to_dict())

    # -- background jobs ---------------------------------------------------------------------------

    async def _control_worker(self) -> None:
        while True:
            deposit_id = await self._queue.get()
            try:
                await self.control(deposit_id)
            except Exception:  # a control that breaks is redone at the next start
                log.exception("control of deposit %s failed", deposit_id)

    async def control(self, deposit_id: str) -> None:
        """Check the lists of a deposit and publish its report."""
        deposit = await self.store.get(deposit_id)
        if deposit is None or deposit.control_status != "pending" or deposit.purged_at is not None:
            return
        folder = self.deposits_dir / deposit.commune / deposit.id
        lists = [(folder / f.name, f.list_type or "REU") for f in deposit.files if f.role == "liste"]
        now = self.store.clock()
        report = await offload(
            lambda: control_deposit(
                deposit.id,
                deposit.commune,
                lists,
                today=deposit.received_at.date(),
                now=now,
                checker=self.config.checker,
            )
        )
        findings = sum(len(c.errors) for c in report.lists)
        await self.store.set_control(
            deposit.id,
            valid=report.valid,
            report=report.to_bytes(),
            electors=report.electors,
            findings=findings,
        )
        log.info(
            "deposit %s controlled: %s, %d elector(s), %d error(s)",
            deposit.id,
            "valid" if report.valid else "invalid",
            report.electors,
            findings,
        )

    async def idle(self) -> None:
        """Wait until every queued control is done (tests)."""
        while not self._queue.empty() or await self.store.pending():
            await asyncio.sleep(0.02)

    async def purge(self) -> list[Deposit]:
        """Purge the deposits past the retention now; the purged ones."""
        if self.config.retention_days is None:
            return []
        before = self.store.clock() - dt.timedelta(days=self.config.retention_days)
        purged = await self.store.purge(before)
        for deposit in purged:
            await offload(shutil.rmtree, self.deposits_dir / deposit.commune / deposit.id, True)
        if purged:
            log.info("purged %d deposit(s) received before %s", len(purged), before.isoformat())
        return purged

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge()
            except DematError as exc:
                log.warning("purge failed: %s", exc)
            await asyncio.sleep(self.config.purge_every)


async def create_account(
    store: DepotStore,
    name: str,
    role: str,
    scope: str = "",
    *,
    label: str | None = None,
    certificate_pem: bytes | None = None,
    token: bool = False,
) -> tuple[Account, str | None]:
    """Check an account's scope against its role (a commune: its INSEE code; a préfecture: its
    département; an operator: none) and create it; ``(account, token)``."""
    if role not in ROLES:
        raise StoreError(f"rôle inconnu : {role!r} ({', '.join(ROLES)})", code="DEPOT_ROLE")
    if role == "commune" and not is_commune_code(scope):
        raise StoreError(
            f"un compte de commune a pour portée son code INSEE, pas {scope!r}", code="DEPOT_SCOPE"
        )
    if role == "prefecture":
        scope = normalise_departement(scope)
        if not is_commune_code(scope + "001"):
            raise StoreError(
                f"un compte de préfecture a pour portée son département, pas {scope!r}", code="DEPOT_SCOPE"
            )
    if role == "operator":
        scope = ""
    der = None
    if certificate_pem is not None:
        try:
            der = x509.load_pem_x509_certificate(certificate_pem).public_bytes(serialization.Encoding.DER)
        except ValueError as exc:
            raise StoreError(f"certificat illisible : {exc}", code="DEPOT_CERTIFICATE") from None
    return await store.add_account(name, role, scope, label=label, certificate_der=der, token=token)


def _account(request: web.Request) -> Account:
    return request[_ACCOUNT]


def _filters(q: Any) -> dict[str, Any]:
    def when(key: str) -> dt.datetime | None:
        value = q.get(key)
        if not value:
            return None
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

    try:
        return {
            "since": when("since"),
            "until": when("until"),
            "unread": q.get("unread") in ("1", "true", "yes"),
            "list_type": q.get("list") or None,
        }
    except ValueError as exc:
        raise ValidationError(f"date invalide : {exc}", code="DEPOT_QUERY") from None


def _error(status: int, message: str, code: str) -> web.Response:
    return web.json_response({"error": message, "code": code}, status=status)


def _not_found() -> web.Response:
    return _error(404, "introuvable", "DEPOT_NOT_FOUND")


def _receipt_reply(deposit_id: str, receipt: bytes, status: int) -> web.Response:
    return web.Response(
        body=receipt, status=status, content_type="application/xml", headers={"X-Depot-Deposit": deposit_id}
    )


async def _read_capped(part: BodyPartReader, cap: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(65536):
        data += chunk
        if len(data) > cap:
            raise ValidationError(f"manifeste de plus de {cap} octets", code="MANIFEST_TOO_LARGE")
    return bytes(data)


async def _drain(reader: Any, cap: int) -> None:
    """Read what is left of a request's parts (up to ``cap`` bytes), so that the client, still
    sending, reads the answer instead of a reset connection."""
    left = cap
    with contextlib.suppress(ValueError, AssertionError):  # a part broken off: stop reading
        while left > 0 and (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader):
                while left > 0 and (chunk := await part.read_chunk(_CHUNK)):
                    left -= len(chunk)


def _receipt(
    signer: Signer, deposit_id: str, account: str, received_at: dt.datetime, manifest: Manifest, size: int
) -> bytes:
    return build_receipt(
        signer,
        deposit_id=deposit_id,
        account=account,
        received_at=received_at,
        manifest=manifest,
        manifest_size=size,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _move_into_place(stage: Path, target: Path) -> None:
    """One ``rename`` (same file system), made durable: the deposit's folder appears whole."""
    _fsync_dir(stage)
    target.parent.mkdir(mode=0o700, exist_ok=True)
    os.rename(stage, target)
    _fsync_dir(target.parent)
    _fsync_dir(stage.parent)


class DepotServer:
    """A running deposit server (see :meth:`start`)."""

    def __init__(self, app: DepotApp, runner: web.AppRunner, url: str) -> None:
        self.app = app
        self.runner = runner
        self.url = url
        self.store = app.store

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, config: DepotConfig) -> AsyncIterator[DepotServer]:
        """Serve ``config`` over HTTPS until the block ends."""
        server = await cls.open(config)
        try:
            yield server
        finally:
            await server.close()

    @classmethod
    async def open(cls, config: DepotConfig) -> DepotServer:
        """Open the store, clear what a crash left, start listening and the background jobs."""
        config.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        url = config.store_url or str(config.directory / "depot.sqlite3")
        store = await DepotStore.open(url)
        try:
            app = DepotApp(config, store)
            await app.prepare()
            ctx = server_context(config.cert, config.key, config.client_ca, require_client_cert=False)
            if config.client_ca is None:
                ctx.verify_mode = ssl.CERT_NONE
            runner = web.AppRunner(app.build(), access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, config.host, config.port, ssl_context=ctx)
            await site.start()
        except BaseException:
            await store.close()
            raise
        port = _bound_port(runner, config.port)
        app.start_jobs()
        return cls(app, runner, f"https://{config.host}:{port}")

    async def close(self) -> None:
        """Stop serving, stop the jobs, close the store."""
        await self.runner.cleanup()
        await self.app.stop_jobs()
        await self.store.close()


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        for sock in sockets:
            return int(sock.getsockname()[1])
    return default


def describe(server: DepotServer) -> str:
    """One JSON line saying where the server listens and where it keeps its data."""
    return json.dumps({"url": server.url, "dir": str(server.app.root)})


__all__ = [
    "API",
    "DepotApp",
    "DepotConfig",
    "DepotServer",
    "create_account",
    "describe",
]
