"""An aiohttp server that behaves like S²LOW (HELIOS and ACTES APIs) over mutual TLS.

Same paths, same reply formats as :mod:`demat.transport.s2low` expects from the real platform.
Behind the API, :mod:`demat.sandbox.dgfip` plays the DGFiP (PES_ACQUIT) and
:mod:`demat.sandbox.prefecture` the préfecture (ARActe, anomalies, letters, classification),
both with demat's own validators. Statuses move along S²LOW's codes over ``config.delay``.

Paths under ``/_sandbox/`` are not S²LOW's: they let tests and demos look inside (receipts,
lookup by sha1) and play the préfecture (post a letter) or the DGFiP (drop a PES_Retour).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import random
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

from demat.gateway.offload import offload
from demat.sandbox import dgfip, prefecture, tls_alerts
from demat.sandbox.config import SandboxConfig
from demat.sandbox.forms import UploadTooLarge, read_form
from demat.sandbox.pki import SandboxPKI
from demat.sandbox.state import ActesTx, Blobs, Changed, HeliosTx, Receipt, RetourFile, State, StateFile
from demat.transport.tls import server_context

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Where the sandbox's own paths start (not S²LOW's: receipts, lookups, the préfecture's and
#: the DGFiP's side); injected faults spare them.
ADMIN_PREFIX = "/_sandbox/"
LATIN1 = "ISO-8859-1"

#: Intermediate statuses a transaction shows before its final one, spread over ``delay``.
HELIOS_PATH = (1, 2, 3)
ACTES_PATH = (1, 2, 3)


def _progress(
    created: float, delay: float, path: tuple[int, ...], final: int, now: float | None = None
) -> int:
    """The status shown ``now``: the steps of ``path`` spread over ``delay``, then ``final``."""
    if delay <= 0:
        return final
    elapsed = (time.time() if now is None else now) - created
    step = int(elapsed / delay * len(path))
    return final if step >= len(path) else path[step]


def _xml(body: str) -> web.Response:
    data = f'<?xml version="1.0" encoding="{LATIN1}"?>\n{body}\n'.encode("iso-8859-1", "xmlcharrefreplace")
    return web.Response(body=data, content_type="text/xml", charset=LATIN1)


def _text(body: str) -> web.Response:
    return web.Response(body=body.encode("iso-8859-1", "replace"), content_type="text/plain", charset=LATIN1)


def _ko(message: str) -> web.Response:
    return _text(f"KO\n{message}")


def _e(value: object) -> str:
    return escape(str(value))


class SandboxApp:
    """The state and request handlers of one sandbox."""

    def __init__(self, config: SandboxConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.blobs = Blobs(workdir / "blobs")
        self.spool = workdir / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.state_file = StateFile(workdir) if config.directory is not None else None
        self.state = self.state_file.load() if self.state_file else State()
        self.rng = random.Random(config.faults.seed)
        self.faults_injected = 0
        #: Calls to the sandbox-only HELIOS lookup (real S²LOW has none).
        self.lookups = 0
        self._lock = asyncio.Lock()
        #: TLS versions clients negotiated (to check that TLS 1.2 can be forced).
        self.tls_versions: set[str] = set()
        self.prefecture = prefecture.Prefecture(config)

    # -- plumbing ----------------------------------------------------------------------------

    def today(self) -> dt.date:
        return self.config.today or dt.date.today()

    def save(self, *changed: Changed) -> None:
        """Persist a change: the objects it created or modified (one journal line)."""
        if self.state_file is not None:
            self.state_file.append(self.state, changed)

    def receipt(
        self, endpoint: str, form_sha1: str, size: int, filename: str, outcome: str, **kw: Any
    ) -> Receipt:
        r = Receipt(endpoint, form_sha1, size, filename, outcome, **kw)
        self.state.receipts.append(r)
        return r

    def build(self) -> web.Application:
        app = web.Application(
            middlewares=[self.fault_middleware, self.auth_middleware], client_max_size=64 * 1024 * 1024
        )
        r = app.router
        r.add_get("/api/test-connexion.php", self.test_connexion)
        r.add_get("/api/get-nounce.php", self.get_nonce)
        r.add_post("/modules/helios/api/helios_importer_fichier.php", self.helios_import)
        r.add_get("/modules/helios/api/helios_transac_get_status.php", self.helios_status)
        r.add_get("/modules/helios/helios_download_acquit.php", self.helios_ack)
        r.add_get("/modules/helios/api/helios_get_list.php", self.helios_retour_list)
        r.add_get("/modules/helios/api/helios_get_retour.php", self.helios_retour_get)
        r.add_get("/modules/helios/api/helios_change_status.php", self.helios_retour_read)
        r.add_post("/modules/actes/actes_transac_create.php", self.actes_create)
        r.add_get("/modules/actes/actes_transac_get_status.php", self.actes_status)
        r.add_post("/modules/actes/actes_transac_cancel.php", self.actes_cancel)
        r.add_get("/modules/actes/actes_classification_fetch.php", self.actes_classification)
        r.add_get("/modules/actes/actes_classification_request.php", self.actes_classification_request)
        r.add_get("/modules/actes/api/list_document_prefecture.php", self.actes_pref_list)
        r.add_get("/modules/actes/actes_transac_get_document.php", self.actes_pref_get)
        r.add_get("/modules/actes/api/document_prefecture_mark_as_read.php", self.actes_pref_read)
        r.add_post("/modules/actes/actes_transac_reponse_create.php", self.actes_answer)
        r.add_get("/modules/actes/api/list_actes.php", self.actes_list)
        r.add_get(ADMIN_PREFIX + "receipts", self.admin_receipts)
        r.add_get(ADMIN_PREFIX + "helios/find", self.admin_helios_find)
        r.add_post(ADMIN_PREFIX + "helios/retour", self.admin_add_retour)
        r.add_post(ADMIN_PREFIX + "actes/letter", self.admin_letter)
        return app

    @web.middleware
    async def fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Seeded faults before the handler runs: nothing is processed when a fault is injected."""
        faults = self.config.faults
        if not faults.active or request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        if faults.paths and not any(request.path.startswith(p) for p in faults.paths):
            return await handler(request)
        low, high = faults.latency
        if high > 0:
            await asyncio.sleep(self.rng.uniform(low, high))
        draw = self.rng.random()
        if draw >= faults.error_rate + faults.drop_rate + faults.malformed_rate:
            return await handler(request)
        self.faults_injected += 1
        # Consume the body first so that the client reads our answer rather than a reset.
        async for _ in request.content.iter_chunked(1 << 16):
            pass
        if draw < faults.error_rate:
            return web.Response(status=500, text="Internal Server Error (sandbox fault)")
        if draw < faults.error_rate + faults.drop_rate:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return web.Response(
            body=b"<html><body>Warning: mysql_connect(): Too many connections", content_type="text/html"
        )

    @web.middleware
    async def auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The TLS layer already required a client certificate; add login/password when configured."""
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_object is not None:
            self.tls_versions.add(str(ssl_object.version()))
        acct = self.config.account
        if (
            acct.login is None
            or request.path in ("/api/get-nounce.php",)
            or request.path.startswith(ADMIN_PREFIX)
        ):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                login, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                login, password = "", ""
            if login == acct.login and password == acct.password:
                return await handler(request)
        nonce = request.query.get("nounce")
        if nonce and nonce in self.state.nonces and request.query.get("login") == acct.login:
            expected = hashlib.sha256(f"{acct.password}:{nonce}".encode()).hexdigest()
            self.state.nonces.remove(nonce)
            if secrets.compare_digest(expected, request.query.get("hash", "")):
                return await handler(request)
        return web.Response(status=403, text="KO\nAuthentification refusée")

    # -- common -----------------------------------------------------------------------------

    async def test_connexion(self, request: web.Request) -> web.Response:
        return _text("OK\n")

    async def get_nonce(self, request: web.Request) -> web.Response:
        nonce = secrets.token_hex(16)
        self.state.nonces = [*self.state.nonces[-99:], nonce]
        return web.json_response({"nounce": nonce})

    # -- HELIOS -----------------------------------------------------------------------------

    async def helios_import(self, request: web.Request) -> web.Response:
        try:
            form = await read_form(request, self.spool, self.config.max_helios_bytes)
        except UploadTooLarge as exc:
            return _xml(f"<import><id/><resultat>KO</resultat><message>{_e(exc)}</message></import>")
        upload = form.file("enveloppe")
        if upload is None:
            form.discard()
            return _xml("<import><id/><resultat>KO</resultat><message>Aucun fichier reçu</message></import>")
        endpoint = "helios"

        def refuse(message: str, outcome: str = "rejected") -> web.Response:
            form.discard()
            self.save(
                self.receipt(endpoint, upload.sha1, upload.size, upload.filename, outcome, message=message)
            )
            return _xml(f"<import><id/><resultat>KO</resultat><message>{_e(message)}</message></import>")

        if self.state.helios_with_sha1(upload.sha1) is not None:
            return refuse("doublon détecté. Ce fichier a déjà été posté", "duplicate")
        try:
            # S²LOW's checks and the DGFiP's acquittal in one read of the file, off the loop.
            received = await offload(dgfip.receive, upload.content, upload.filename)
        except dgfip.PesRefused as exc:
            return refuse(str(exc))
        async with self._lock:
            if self.state.helios_with_sha1(upload.sha1) is not None:  # posted meanwhile
                return refuse("doublon détecté. Ce fichier a déjà été posté", "duplicate")
            facts = received.facts
            if self.state.helios_named(facts.nom_fic, facts.cod_col) is not None:
                return refuse(
                    f"Le nom de fichier {facts.nom_fic} a déjà été utilisé (doublon détecté)", "duplicate"
                )
            # What only the DGFiP knows: the bordereaux it has already integrated.
            received = dgfip.with_duplicates(received, self.state.is_integrated)
            tx_id = self.state.new_id()
            blob = f"helios-{tx_id}.xml"
            upload.save_as(self.blobs.path(blob))
            tx = HeliosTx(
                tx_id,
                upload.filename,
                upload.sha1,
                upload.size,
                facts.nom_fic,
                facts.cod_col,
                blob,
                time.time(),
            )
            if received.ack is None:
                tx.final_status, tx.message = -1, received.error or ""
            else:
                tx.ack_blob = self.blobs.put(f"helios-{tx.id}-ack.xml", received.ack)
                tx.accepted = received.accepted
                tx.final_status = 4 if received.accepted else 6
                tx.integrated = received.integrated
            self.state.add_helios(tx)
            receipt = self.receipt(
                endpoint, upload.sha1, upload.size, upload.filename, "accepted", transaction_id=tx_id
            )
            self.save(tx, receipt)
        # The acquittal is ready; the status shows it once the configured delay has passed.
        return _xml(
            f"<import><id>{tx_id}</id><resultat>OK</resultat><message>Fichier bien reçu</message></import>"
        )

    def _helios_code(self, tx: HeliosTx) -> int:
        return _progress(tx.created, self.config.delay, HELIOS_PATH, tx.final_status)

    async def helios_status(self, request: web.Request) -> web.Response:
        tx = self.state.helios.get(request.query.get("transaction", ""))
        if tx is None:
            return _xml(
                "<transaction><id/><resultat>KO</resultat>"
                "<message>Transaction inconnue</message></transaction>"
            )
        code = self._helios_code(tx)
        return _xml(
            f"<transaction><id>{tx.id}</id><resultat>OK</resultat><message>{_e(tx.message)}</message>"
            f"<status>{code}</status></transaction>"
        )

    async def helios_ack(self, request: web.Request) -> web.Response:
        tx = self.state.helios.get(request.query.get("id", ""))
        if tx is None or self._helios_code(tx) not in (4, 6, 8) or tx.ack_blob is None:
            return _ko("Acquittement non disponible")
        return web.Response(body=self.blobs.get(tx.ack_blob), content_type="text/xml", charset=LATIN1)

    async def helios_retour_list(self, request: web.Request) -> web.Response:
        items = "".join(
            f"<pes_retour><id>{r.id}</id><nom>{_e(r.name)}</nom><date>{r.date}</date></pes_retour>"
            for r in self.state.retours.values()
            if not r.read
        )
        return _xml(
            f"<liste><idColl>{self.config.account.siren}</idColl><dateDemande>{self.today()}</dateDemande>"
            f"<resultat>OK</resultat><message/>{items}</liste>"
        )

    async def helios_retour_get(self, request: web.Request) -> web.Response:
        r = self.state.retours.get(request.query.get("id", ""))
        if r is None:
            return _ko("PES_Retour inconnu")
        return web.Response(body=self.blobs.get(r.blob), content_type="text/xml", charset=LATIN1)

    async def helios_retour_read(self, request: web.Request) -> web.Response:
        r = self.state.retours.get(request.query.get("id", ""))
        if r is None:
            return _xml("<change><resultat>KO</resultat><message>PES_Retour inconnu</message></change>")
        r.read = True
        self.save(r)
        return _xml("<change><resultat>OK</resultat><message/></change>")

    # -- ACTES ------------------------------------------------------------------------------

    def _actes_code(self, tx: ActesTx) -> int:
        if tx.status_override is not None:
            return tx.status_override
        return _progress(tx.created, self.config.delay, ACTES_PATH, tx.final_status)

    async def actes_create(self, request: web.Request) -> web.Response:
        try:
            form = await read_form(request, self.spool, self.config.max_actes_bytes)
        except UploadTooLarge as exc:
            return _ko(str(exc))
        acte_file = form.file("acte_pdf_file")
        sha1 = acte_file.sha1 if acte_file else ""
        size, name = form.total_size, acte_file.filename if acte_file else ""
        async with self._lock:
            number = form.get("number")
            if self.state.acte_numbered(number) is not None:
                form.discard()
                self.save(self.receipt("actes", sha1, size, name, "duplicate", message=number))
                return _ko(f"Le numéro de l'acte {number} est déjà utilisé (doublon)")
            tx_id = self.state.new_id()
            archive = self.blobs.path(f"actes-{tx_id}.tar.gz")
            try:
                received = await offload(self.prefecture.receive, form, self.today(), archive)
            except prefecture.ActeRefused as exc:
                form.discard()
                archive.unlink(missing_ok=True)
                self.save(self.receipt("actes", sha1, size, name, "rejected", message=str(exc)))
                return _ko(str(exc))
            tx = ActesTx(
                tx_id, 1, time.time(), number=number, nature=received.nature, subject=received.subject
            )
            tx.package_blob = archive.name
            receipt = self.receipt("actes", sha1, size, name, "accepted", transaction_id=tx_id)
            verdict = received.verdict
            tx.final_status = 4 if verdict.id_acte else -1
            tx.unique_id = verdict.id_acte
            tx.message = verdict.message
            tx.reply_blob = self.blobs.put(f"actes-{tx_id}-reply.xml", verdict.reply)
            self.state.add_actes(tx)
            form.discard()
            self.save(tx, receipt)
        return _text(f"OK\n{tx_id}")

    def _find_acte(self, request: web.Request) -> ActesTx | None:
        if "unique_id" in request.query:
            uid = request.query["unique_id"]
            return next((t for t in self.state.actes.values() if t.unique_id == uid and t.type == 1), None)
        return self.state.actes.get(request.query.get("transaction", ""))

    async def actes_status(self, request: web.Request) -> web.Response:
        tx = self._find_acte(request)
        if tx is None:
            return _ko("Transaction inconnue")
        code = self._actes_code(tx)
        if tx.type == 6 and code == 4:
            self._apply_cancellation(tx)
        if code in (4, 11) and tx.reply_blob:
            return web.Response(
                body=f"OK\n{code}\n".encode() + self.blobs.get(tx.reply_blob),
                content_type="text/plain",
                charset=LATIN1,
            )
        if code == -1:
            return _text(f"OK\n-1\n{tx.message}")
        return _text(f"OK\n{code}\n")

    def _apply_cancellation(self, cancel_tx: ActesTx) -> None:
        original = self.state.actes.get(cancel_tx.related_id or "")
        if original is not None and original.status_override != 0:
            # Sandbox choice: once the ARAnnulation is in, the cancelled acte shows status 0.
            original.status_override = 0
            self.save(original)

    async def actes_cancel(self, request: web.Request) -> web.Response:
        form = await read_form(request, self.spool, 64 * 1024)
        tx = self.state.actes.get(form.get("id"))
        if tx is None or tx.type != 1:
            return _ko("Transaction inconnue")
        if self._actes_code(tx) != 4 or not tx.unique_id:
            return _ko("L'annulation n'est possible que pour un acte dont l'accusé de réception a été reçu")
        if any(t.type == 6 and t.related_id == tx.id for t in self.state.actes.values()):
            return _ko("Une annulation a déjà été envoyée pour cet acte (doublon)")
        reply = await offload(self.prefecture.ar_annulation, tx.unique_id, self.today())
        cancel_id = self.state.new_id()
        ctx = ActesTx(cancel_id, 6, time.time(), number=tx.number, unique_id=tx.unique_id, related_id=tx.id)
        ctx.reply_blob = self.blobs.put(f"actes-{cancel_id}-reply.xml", reply)
        self.state.add_actes(ctx)
        self.save(ctx)
        return _text(f"OK\n{cancel_id}")

    async def actes_classification(self, request: web.Request) -> web.Response:
        data = await offload(self.prefecture.classification_xml)
        return web.Response(body=data, content_type="text/xml", charset=LATIN1)

    async def actes_classification_request(self, request: web.Request) -> web.Response:
        tx_id = self.state.new_id()
        tx = ActesTx(tx_id, 7, time.time(), final_status=4)
        self.state.add_actes(tx)
        self.save(tx)
        return _text(f"OK\n{tx_id}")

    async def actes_pref_list(self, request: web.Request) -> web.Response:
        items = [
            {
                "id": t.id,
                "type": t.type,
                "unique_id": t.unique_id,
                "number": t.number,
                "related_transaction_id": t.related_id,
                "last_status_id": self._actes_code(t),
            }
            for t in self.state.actes.values()
            if t.type in (2, 3, 4, 5)
            and t.package_blob
            and not t.read
            and t.related_id is not None
            and t.final_status in (7, 21)
        ]
        return web.json_response(items)

    async def actes_pref_get(self, request: web.Request) -> web.Response:
        tx = self.state.actes.get(request.query.get("id", ""))
        if tx is None or tx.package_blob is None:
            return _ko("Document inconnu")
        return web.Response(body=self.blobs.get(tx.package_blob), content_type="application/x-gzip")

    async def actes_pref_read(self, request: web.Request) -> web.Response:
        tx = self.state.actes.get(request.query.get("transaction_id", ""))
        if tx is None:
            return _ko("Document inconnu")
        tx.read = True
        self.save(tx)
        return web.json_response({"result": "ok", "message": "Document marqué comme lu"})

    async def actes_answer(self, request: web.Request) -> web.Response:
        try:
            form = await read_form(request, self.spool, self.config.max_actes_bytes)
        except UploadTooLarge as exc:
            return _ko(str(exc))
        try:
            letter = self.state.actes.get(form.get("id"))
            if letter is None or letter.type not in (2, 3, 4):
                return _ko("Courrier de la préfecture inconnu")
            type_envoie = form.get("type_envoie")
            if type_envoie not in ("2", "3", "4"):
                return _ko("type_envoie invalide (3 : refus, 4 : envoi)")
            acte_file = form.file("acte_pdf_file")
            if acte_file is None and type_envoie != "2":
                return _ko("Aucun document joint à la réponse")
            if acte_file is not None and not acte_file.head(5).startswith(b"%PDF"):
                return _ko("Le document de réponse doit être un PDF")
            if any(
                t.related_id == letter.id and t.type == letter.type and t.package_blob is None
                for t in self.state.actes.values()
            ):
                return _ko("Une réponse a déjà été envoyée pour ce courrier (doublon)")
            reply_id = self.state.new_id()
            reply = ActesTx(
                reply_id,
                letter.type,
                time.time(),
                number=letter.number,
                unique_id=letter.unique_id,
                related_id=letter.id,
                final_status=11 if letter.type in (3, 4) else 4,
                read=True,
            )
            self.state.add_actes(reply)
            letter.status_override = 8  # "Acquittement envoyé": the letter has been answered
            receipt = self.receipt(
                "actes-reponse",
                acte_file.sha1 if acte_file else "",
                form.total_size,
                acte_file.filename if acte_file else "",
                "accepted",
                transaction_id=reply_id,
            )
            self.save(reply, letter, receipt)
            return _text(f"OK\n{reply_id}")
        finally:
            form.discard()

    async def actes_list(self, request: web.Request) -> web.Response:
        try:
            offset = int(request.query.get("offset", "0"))
            limit = min(int(request.query.get("limit", "100")), 1000)
        except ValueError:
            return _ko("offset/limit invalides")
        wanted = request.query.get("status_id")
        rows = [
            {
                "id": t.id,
                "type": t.type,
                "number": t.number,
                "unique_id": t.unique_id,
                "last_status_id": self._actes_code(t),
                "subject": t.subject,
            }
            for t in self.state.actes.values()
            if not wanted or str(self._actes_code(t)) == wanted
        ]
        return web.json_response(
            {
                "status_id": wanted,
                "authority_id": 1,
                "offset": offset,
                "limit": limit,
                "transactions": rows[offset : offset + limit],
            }
        )

    # -- admin (not S²LOW) ------------------------------------------------------------------

    async def admin_receipts(self, request: web.Request) -> web.Response:
        endpoint = request.query.get("endpoint")
        rows = [vars(r) for r in self.state.receipts if endpoint is None or r.endpoint == endpoint]
        return web.json_response({"receipts": rows, "faults_injected": self.faults_injected})

    async def admin_helios_find(self, request: web.Request) -> web.Response:
        self.lookups += 1
        sha1 = request.query.get("sha1", "").lower()
        tx = next((t for t in self.state.helios.values() if t.sha1 == sha1), None)
        return web.json_response({"id": tx.id if tx else None})

    async def admin_add_retour(self, request: web.Request) -> web.Response:
        data = await request.read()
        return web.json_response({"id": self.add_retour(request.query.get("name", "PES2R.xml"), data)})

    def add_retour(self, name: str, data: bytes) -> str:
        rid = self.state.new_id()
        blob = self.blobs.put(f"retour-{rid}.xml", data)
        retour = RetourFile(rid, name, blob, self.today().isoformat())
        self.state.retours[rid] = retour
        self.save(retour)
        return rid

    async def admin_letter(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            letter_id = await self.post_letter(str(body["transaction_id"]), int(body.get("type", 2)))
        except (KeyError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"id": letter_id})

    async def post_letter(self, transaction_id: str, kind: int) -> str:
        """Play the préfecture: send a letter of ``kind`` (2..5) about an acknowledged acte."""
        acte = self.state.actes.get(transaction_id)
        if acte is None or acte.type != 1 or not acte.unique_id:
            raise ValueError(f"transaction {transaction_id} is not an acknowledged acte")
        if kind not in (2, 3, 4, 5):
            raise ValueError("letter type must be 2, 3, 4 or 5")
        archive = await offload(self.prefecture.letter, kind, acte.unique_id, self.today())
        letter_id = self.state.new_id()
        tx = ActesTx(
            letter_id,
            kind,
            time.time(),
            number=acte.number,
            unique_id=acte.unique_id,
            related_id=acte.id,
            final_status=21 if kind in (2, 5) else 7,
        )
        tx.status_override = tx.final_status
        tx.package_blob = self.blobs.put(f"actes-{letter_id}-letter.tar.gz", archive)
        self.state.add_actes(tx)
        self.save(tx)
        return letter_id


class Sandbox:
    """A running sandbox: its URL, its PKI, and what it received.

    >>> async with Sandbox.start(SandboxConfig()) as sb:
    ...     cert, key = sb.client_cert_paths()
    """

    def __init__(self, app: SandboxApp, runner: web.AppRunner, url: str, pki: SandboxPKI) -> None:
        self.app = app
        self._runner = runner
        self.url = url
        self.pki = pki

    @property
    def ca_path(self) -> Path:
        """The CA that signed the server's certificate (and the client's)."""
        return self.pki.ca_cert

    def client_cert_paths(self) -> tuple[Path, Path]:
        """(certificate, key) of a client the sandbox accepts."""
        return self.pki.client_cert, self.pki.client_key

    def received(self, endpoint: str | None = None) -> list[Receipt]:
        """Uploads received (``helios``, ``actes``, ``actes-reponse``), whatever their outcome."""
        return [r for r in self.app.state.receipts if endpoint is None or r.endpoint == endpoint]

    @property
    def faults_injected(self) -> int:
        """Faults injected so far (see :class:`~demat.sandbox.config.Faults`)."""
        return self.app.faults_injected

    @property
    def lookups(self) -> int:
        """Calls to the sandbox-only HELIOS lookup (``/_sandbox/helios/find``)."""
        return self.app.lookups

    async def post_letter(self, transaction_id: str, kind: int = 2) -> str:
        """Send a préfecture letter: 2 courrier simple, 3 pièces complémentaires, 4 observations, 5 déféré."""
        return await self.app.post_letter(transaction_id, kind)

    def update_classification(self, date: dt.date) -> None:
        """The ministry publishes a new classification: actes stamped with the older one get
        AnomalieActe 002 until the collectivité fetches it (``actes_classification_fetch.php``)."""
        self.app.prefecture.update_classification(date)

    def add_retour(self, name: str, data: bytes) -> str:
        """Make a PES_Retour available to ``helios_get_list.php``."""
        return self.app.add_retour(name, data)

    @classmethod
    @contextlib.asynccontextmanager
    async def start(cls, config: SandboxConfig | None = None) -> AsyncIterator[Sandbox]:
        """Run a sandbox for the duration of the ``async with`` block."""
        config = config or SandboxConfig()
        with contextlib.ExitStack() as stack:
            if config.directory is not None:
                workdir = config.directory
                workdir.mkdir(parents=True, exist_ok=True)
            else:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="demat-sandbox-")))
            sandbox = await cls.open(config, workdir)
            try:
                yield sandbox
            finally:
                await sandbox.close()

    @classmethod
    async def open(cls, config: SandboxConfig, workdir: Path) -> Sandbox:
        """Start serving (prefer :meth:`start`); call :meth:`close` when done."""
        tls_alerts.install()
        pki = config.pki or SandboxPKI.load_or_create(workdir / "pki")
        app = SandboxApp(config, workdir)
        ctx = server_context(pki.server_cert, pki.server_key, pki.ca_cert, require_client_cert=True)
        runner = web.AppRunner(app.build(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port, ssl_context=ctx)
        await site.start()
        port = _bound_port(runner, config.port)
        host = f"[{config.host}]" if ":" in config.host else config.host
        return cls(app, runner, f"https://{host}:{port}", pki)

    async def close(self) -> None:
        """Stop serving (the requests in progress are finished first)."""
        await self._runner.cleanup()
        if self.app.state_file is not None:
            self.app.state_file.close()


def _bound_port(runner: web.AppRunner, default: int) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or ()
        for sock in sockets:
            return int(sock.getsockname()[1])
    return default


__all__ = [
    "ADMIN_PREFIX",
    "Sandbox",
    "SandboxApp",
]
