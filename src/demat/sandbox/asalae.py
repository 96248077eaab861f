"""A server that behaves like as@lae's ``sedaMessages`` API (as Pastell's connector uses it), over TLS.

* Every call needs HTTP Basic with the login and the SHA-256 hex of the password (401 otherwise).
* ``POST /sedaMessages`` (multipart): ``seda_message`` (the bordereau) and ``attachments`` (the
  files as a ``.tar.gz``) answer ``"ok"`` (JSON); with ``send_chunked_attachments=true`` and no
  attachments, a chunk session (``chunk_session_identifier``, ``chunk_security_identifier``),
  whose chunks come to ``POST /sedaAttachmentsChunkFiles`` (``chunk_index`` from 1 to
  ``number_of_chunks``); the transfer exists once the last chunk is in. A transfer whose message
  identifier this originating agency already used answers 409; a bordereau that is not a SEDA
  2.x ArchiveTransfer, 400.
* Then, after ``ack_delay``, the ``Acknowledgement``; after ``reply_delay``, the
  ``ArchiveTransferReply``: ``000`` with the archive's identifier of each unit
  (``ArchivalAgencyArchiveUnitIdentifier``), or the SEDA reply code of what failed (``207``
  digests, ``203`` an unknown agreement, ``101`` a malformed message, ``200`` an originating
  agency it does not know) with a ``Comment``; both served at
  ``GET /sedaMessages/sequence:ArchiveTransfer/message:{kind}/originOrganizationIdentification:{org}/
  originMessageIdentifier:{id}`` (404 before).
* ``GET /ping``, ``GET /versions``.

Tests steer it through :class:`AsalaeSandbox`: ``hold`` keeps the answer to a complete transfer
back (``uploaded`` is set), ``hold_upload`` stops reading the attachments half way
(``receiving`` is set), ``chunks`` says whether it takes chunked uploads.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import secrets
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiohttp import BodyPartReader, web

from demat.gateway.offload import offload
from demat.sandbox.pki import SandboxPKI
from demat.sandbox.sae import (
    Served,
    Transfer,
    TransferRefused,
    acknowledgement,
    check_objects,
    read_transfer,
    serve,
    transfer_reply,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: The SEDA reply code each refused check gives.
_CODES = {
    "CHECK_SEDA": "101",
    "CHECK_DATAOBJECTPACKAGE": "101",
    "CHECK_DIGEST": "207",
    "CHECK_OBJECT_SIZE": "207",
    "AGREEMENT": "203",
    "ORIGINATING_AGENCY": "200",
}
#: Where as@lae serves a transfer's acknowledgement and reply (aiohttp route).
MESSAGE_PATH = (
    "/sedaMessages/sequence:ArchiveTransfer/message:{kind}"
    "/originOrganizationIdentification:{org}/originMessageIdentifier:{id}"
)


@dataclass(frozen=True)
class AsalaeConfig:
    """What the sandbox's as@lae accepts: the account, the archival agreements and originating
    agencies it knows (``None``: any), whether it takes chunks, when it acknowledges and replies."""

    login: str = "versant"
    password: str = "secret"  # noqa: S105 - the sandbox's own throwaway account
    agreements: frozenset[str] | None = None
    originating_agencies: frozenset[str] | None = None
    chunks: bool = True
    ack_delay: float = 0.0
    reply_delay: float = 0.0
    service_id: str = "SAE-ASALAE"
    max_bytes: int = 1024 * 1024 * 1024


@dataclass
class Received:
    """One transfer as@lae holds."""

    transfer: Transfer
    received: float
    acknowledgement: bytes
    reply: bytes
    code: str


@dataclass
class ChunkSession:
    """A chunked upload in progress."""

    security: str
    manifest: bytes
    transfer: Transfer
    chunks: dict[int, Path] = field(default_factory=dict)
    total: int = 0


def judge(
    manifest: bytes, transfer: Transfer, archive: Path | None, config: AsalaeConfig
) -> tuple[str, bytes]:
    """Check a transfer as as@lae does: ``(reply code, ArchiveTransferReply)``."""
    try:
        if config.agreements is not None and transfer.archival_agreement not in config.agreements:
            raise TransferRefused("AGREEMENT", f"accord de versement inconnu : {transfer.archival_agreement}")
        if (
            config.originating_agencies is not None
            and transfer.originating_agency not in config.originating_agencies
        ):
            raise TransferRefused(
                "ORIGINATING_AGENCY", f"service producteur inconnu : {transfer.originating_agency}"
            )
        if archive is None:
            raise TransferRefused("CHECK_DATAOBJECTPACKAGE", "aucune pièce jointe (attachments)")
        try:
            tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below
        except (OSError, tarfile.TarError) as exc:
            raise TransferRefused(
                "CHECK_DATAOBJECTPACKAGE", "les pièces jointes ne sont pas un tar.gz lisible"
            ) from exc
        with tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}

            def open_file(uri: str) -> IO[bytes] | None:
                member = members.get(uri)
                return tar.extractfile(member) if member is not None else None

            check_objects(transfer, open_file)
    except TransferRefused as refused:
        code = _CODES.get(refused.step, "101")
        reply = transfer_reply(
            version=transfer.version,
            message_identifier=f"ATR-{secrets.token_hex(6)}",
            reply_code=code,
            request_identifier=transfer.message_identifier,
            archival_agreement=transfer.archival_agreement,
            archival_agency=transfer.archival_agency or config.service_id,
            transferring_agency=transfer.transferring_agency or transfer.originating_agency or "inconnu",
            comment=refused.message,
            grant=False,
        )
        return code, reply
    reply = transfer_reply(
        version=transfer.version,
        message_identifier=f"ATR-{secrets.token_hex(6)}",
        reply_code="000",
        request_identifier=transfer.message_identifier,
        archival_agreement=transfer.archival_agreement,
        archival_agency=transfer.archival_agency or config.service_id,
        transferring_agency=transfer.transferring_agency or transfer.originating_agency or "inconnu",
        units=[(u, f"{config.service_id}-{secrets.token_hex(4)}") for u in transfer.units[:1]],
        comment="Versement accepté",
        unit_identifier=f"{config.service_id}/{transfer.message_identifier}",
    )
    return "000", reply


class AsalaeApp:
    """The state and handlers of one sandbox as@lae."""

    def __init__(self, config: AsalaeConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.transfers: dict[tuple[str, str], Received] = {}
        self.sessions: dict[str, ChunkSession] = {}
        self.hold = False
        self.hold_upload = False
        self.receiving = asyncio.Event()
        self.uploaded = asyncio.Event()
        self.release = asyncio.Event()
        self.posts = 0
        self.chunk_posts = 0
        self._next_session = 0
        expected = hashlib.sha256(config.password.encode()).hexdigest()
        self._auth = "Basic " + base64.b64encode(f"{config.login}:{expected}".encode()).decode()

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self.auth], client_max_size=self.config.max_bytes)
        r = app.router
        r.add_get("/ping", self.ping)
        r.add_get("/versions", self.versions)
        r.add_post("/sedaMessages", self.seda_messages)
        r.add_post("/sedaAttachmentsChunkFiles", self.chunk)
        r.add_get(MESSAGE_PATH, self.message)
        return app

    @web.middleware
    async def auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not secrets.compare_digest(request.headers.get("Authorization", ""), self._auth):
            return web.Response(status=401, text="Authentification requise")
        return await handler(request)

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response("pong")

    async def versions(self, request: web.Request) -> web.Response:
        return web.json_response({"application": "as@lae (demat sandbox)", "seda": ["2.1", "2.2", "2.3"]})

    async def _save(self, field_reader: BodyPartReader, suffix: str) -> Path:
        fd, tmp = tempfile.mkstemp(prefix="asalae-", suffix=suffix, dir=self.workdir)
        path = Path(tmp)
        try:
            with open(fd, "wb") as out:
                while block := await field_reader.read_chunk(1 << 16):
                    out.write(block)
                    if self.hold_upload and not self.receiving.is_set():
                        self.receiving.set()
                        await self.release.wait()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path

    async def seda_messages(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        manifest: bytes | None = None
        attachments: Path | None = None
        chunked = False
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "seda_message":
                    manifest = bytes(await part.read())
                elif part.name == "attachments":
                    attachments = await self._save(part, ".tar.gz")
                elif part.name == "send_chunked_attachments":
                    chunked = (await part.text()).strip().lower() == "true"
            if manifest is None:
                return web.Response(status=400, text="seda_message manquant")
            try:
                transfer = await offload(read_transfer, manifest)
            except TransferRefused as refused:
                return web.Response(status=400, text=f"bordereau refusé : {refused.message}")
            key = (transfer.originating_agency or "", transfer.message_identifier)
            if key in self.transfers:
                return web.Response(
                    status=409, text=f"le transfert {transfer.message_identifier} existe déjà"
                )
            if chunked and attachments is None:
                if not self.config.chunks:
                    return web.json_response({"success": True})  # an as@lae without chunks: no session
                self._next_session += 1
                session_id = str(self._next_session)
                self.sessions[session_id] = ChunkSession(secrets.token_hex(8), manifest, transfer)
                session = self.sessions[session_id]
                return web.json_response(
                    {"chunk_session_identifier": session_id, "chunk_security_identifier": session.security}
                )
            await self._accept(manifest, transfer, attachments)
        finally:
            if attachments is not None:
                attachments.unlink(missing_ok=True)
        return await self._answer("ok")

    async def _answer(self, body: object) -> web.Response:
        if self.hold:
            self.uploaded.set()
            await self.release.wait()
        return web.json_response(body)

    async def _accept(self, manifest: bytes, transfer: Transfer, attachments: Path | None) -> None:
        code, reply = await offload(judge, manifest, transfer, attachments, self.config)
        ack = acknowledgement(
            version=transfer.version,
            message_identifier=f"ACK-{secrets.token_hex(6)}",
            received=transfer.message_identifier,
            sender=transfer.archival_agency or self.config.service_id,
            receiver=transfer.transferring_agency or transfer.originating_agency or "inconnu",
            comment="Transfert reçu",
        )
        key = (transfer.originating_agency or "", transfer.message_identifier)
        self.transfers[key] = Received(transfer, time.monotonic(), ack, reply, code)

    async def chunk(self, request: web.Request) -> web.StreamResponse:
        self.chunk_posts += 1
        fields: dict[str, str] = {}
        content: Path | None = None
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "chunk_content":
                    content = await self._save(part, ".part")
                elif part.name:
                    fields[part.name] = (await part.text()).strip()
            session = self.sessions.get(fields.get("session_identifier", ""))
            if session is None or not secrets.compare_digest(
                session.security, fields.get("security_identifier", "")
            ):
                return web.Response(status=403, text="session d'envoi inconnue")
            try:
                index, total = int(fields["chunk_index"]), int(fields["number_of_chunks"])
            except (KeyError, ValueError):
                return web.Response(status=400, text="chunk_index / number_of_chunks manquants")
            if content is None or not 1 <= index <= total or fields.get("compression_algorithm") != "TARGZ":
                return web.Response(status=400, text="morceau invalide")
            session.total = total
            session.chunks[index], content = content, None
            if len(session.chunks) < total:
                return web.json_response({"chunk_index": index, "received": len(session.chunks)})
            whole = await offload(self._join, session)
            try:
                del self.sessions[fields["session_identifier"]]
                await self._accept(session.manifest, session.transfer, whole)
            finally:
                whole.unlink(missing_ok=True)
            return await self._answer({"chunk_index": index, "received": total, "complete": True})
        finally:
            if content is not None:
                content.unlink(missing_ok=True)

    def _join(self, session: ChunkSession) -> Path:
        fd, tmp = tempfile.mkstemp(prefix="asalae-", suffix=".tar.gz", dir=self.workdir)
        with open(fd, "wb") as out:
            for index in range(1, session.total + 1):
                part = session.chunks[index]
                out.write(part.read_bytes())
                part.unlink(missing_ok=True)
        return Path(tmp)

    async def message(self, request: web.Request) -> web.StreamResponse:
        key = (request.match_info["org"], request.match_info["id"])
        found = self.transfers.get(key)
        kind = request.match_info["kind"]
        if found is None or kind not in ("Acknowledgement", "ArchiveTransferReply"):
            return web.Response(status=404, text="message introuvable")
        elapsed = time.monotonic() - found.received
        if kind == "Acknowledgement" and elapsed >= self.config.ack_delay:
            return web.Response(body=found.acknowledgement, content_type="application/xml")
        if kind == "ArchiveTransferReply" and elapsed >= max(self.config.reply_delay, self.config.ack_delay):
            return web.Response(body=found.reply, content_type="application/xml")
        return web.Response(status=404, text="message pas encore disponible")


@dataclass
class AsalaeSandbox(Served):
    """A running sandbox as@lae: its URL, its PKI, what it holds, and the test controls.

    >>> async with AsalaeSandbox.start() as asalae:
    ...     asalae.url
    """

    app: AsalaeApp

    @property
    def transfers(self) -> dict[tuple[str, str], Received]:
        """The transfers held, by (originating agency, message identifier)."""
        return self.app.transfers

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls, config: AsalaeConfig | None = None, *, pki: SandboxPKI | None = None, port: int = 0
    ) -> AsyncIterator[AsalaeSandbox]:
        """Serve a sandbox as@lae over TLS (no client certificate asked) for the block."""
        with tempfile.TemporaryDirectory(prefix="demat-asalae-") as tmp:
            workdir = Path(tmp)
            app = AsalaeApp(config or AsalaeConfig(), workdir)
            pki = pki or SandboxPKI.create(workdir / "pki")
            async with serve(app.build(), pki, port=port, client_cert=False) as served:
                yield cls(served.url, served.pki, served.runner, app)


__all__ = ["MESSAGE_PATH", "AsalaeApp", "AsalaeConfig", "AsalaeSandbox", "ChunkSession", "Received", "judge"]
