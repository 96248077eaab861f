"""Client of as@lae's ``sedaMessages`` API (platform kind ``asalae``), on aiohttp over TLS.

as@lae is reached the way Pastell's connector reaches it (``connecteur/as@lae-rest/AsalaeREST.php``;
``../shared/reference/archive.md`` §6, ``archive-vitam.md`` §2), with one difference: the
server's certificate is verified (Pastell turns that off).

* HTTP Basic authentication with the login and the **SHA-256 hex of the password** (the password
  is read from the environment variable named by ``login_password_env``).
* :meth:`AsalaeService.transfer`: the SIP is split into its manifest (the *bordereau*, field
  ``seda_message``, file ``bordereau.xml``) and its files as one ``.tar.gz`` (field
  ``attachments``), posted to ``POST /sedaMessages``. Past ``chunk_size`` bytes, the bordereau
  goes alone with ``send_chunked_attachments=true``; as@lae answers a
  ``chunk_session_identifier`` and a ``chunk_security_identifier`` (without them this as@lae
  cannot take chunks), then each chunk goes to ``POST /sedaAttachmentsChunkFiles`` (1-based
  ``chunk_index``, ``compression_algorithm=TARGZ``). Anything but 200 is an error, its body the
  message; 409 says as@lae already holds a transfer of this message identifier.
* :meth:`AsalaeService.progress`: ``GET /sedaMessages/sequence:ArchiveTransfer/message:Acknowledgement/
  originOrganizationIdentification:{agency}/originMessageIdentifier:{id}`` for the receipt, then
  the same with ``message:ArchiveTransferReply`` (404: not there yet).
* :meth:`AsalaeService.find_transfer`: the acknowledgement is the lookup — as@lae holds a
  transfer it acknowledged; none means it holds none (and a second transfer of the same
  message identifier would be refused as a duplicate, so a wrong "absent" cannot archive twice).

A transfer is posted once, never retried here; reads are retried with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import ssl
import tempfile
import urllib.parse
from pathlib import Path
from typing import Any

import aiohttp

from demat.config import PlatformAccount
from demat.errors import ConfigError, DuplicateSubmission, ProtocolError, RemoteRejected, ServerError
from demat.transport.asalae.statuses import STATUSES, AsalaeStep
from demat.transport.http import HttpReply, HttpService, OneService
from demat.transport.protocol import (
    Lookup,
    LookupResult,
    SipTransfer,
    TransferAnswer,
    TransferProgress,
    TransferRef,
)
from demat.transport.s2low.client import RetryPolicy, Timeouts
from demat.transport.sip import split_for_asalae
from demat.transport.tls import ClientTLS, tls_from_account

#: Where transfers are posted (and their messages read).
SEDA_MESSAGES = "/sedaMessages"
#: Where the chunks of a large transfer are posted.
CHUNKS = "/sedaAttachmentsChunkFiles"


def message_path(kind: str, originating_agency: str, message_identifier: str) -> str:
    """Where as@lae serves the ``kind`` (``Acknowledgement``, ``ArchiveTransferReply``) of a transfer."""
    quote = urllib.parse.quote
    return (
        f"{SEDA_MESSAGES}/sequence:ArchiveTransfer/message:{kind}"
        f"/originOrganizationIdentification:{quote(originating_agency, safe='')}"
        f"/originMessageIdentifier:{quote(message_identifier, safe='')}"
    )


def _check(reply: HttpReply, path: str, ok: tuple[int, ...] = (200,)) -> None:
    if reply.status in ok:
        return
    message = f"{reply.text()} - code d'erreur HTTP : {reply.status}"
    if reply.status in (401, 403):
        raise RemoteRejected(f"{path}: accès refusé par as@lae ({message})", code=f"HTTP_{reply.status}")
    if reply.status >= 500:
        raise ServerError(f"{path}: erreur d'as@lae ({message})", code=f"HTTP_{reply.status}")
    if 400 <= reply.status < 500:
        raise RemoteRejected(f"{path}: refusé par as@lae ({message})", code=f"HTTP_{reply.status}")
    raise ProtocolError(f"{path}: HTTP {reply.status} inattendu ({message})", code=f"HTTP_{reply.status}")


def _json(reply: HttpReply, path: str) -> Any:
    try:
        found = json.loads(reply.body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(
            f"{path}: as@lae n'a pas renvoyé une réponse compréhensible : {reply.text()}",
            code="ASALAE_GARBAGE",
        ) from exc
    if not found:
        raise ProtocolError(f"{path}: réponse vide d'as@lae", code="ASALAE_GARBAGE")
    return found


class AsalaeService:
    """One as@lae account: transfers, their acknowledgement and reply, the lookup."""

    def __init__(
        self,
        base_url: str,
        tls: ClientTLS | ssl.SSLContext,
        *,
        login: str,
        password: str,
        chunk_size: int = 0,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        secret = f"{login}:{hashlib.sha256(password.encode()).hexdigest()}"
        headers = {"Authorization": "Basic " + base64.b64encode(secret.encode()).decode()}
        self.http = HttpService(base_url, tls, headers=headers, timeouts=timeouts, retry=retry, seed=seed)
        self.chunk_size = chunk_size

    async def close(self) -> None:
        """Release the connections."""
        await self.http.close()

    async def ping(self) -> Any:
        """``GET /ping`` (a connection test)."""
        return _json(
            await self.http.read("GET", "/ping", _check, headers={"Accept": "application/json"}), "/ping"
        )

    async def versions(self) -> Any:
        """``GET /versions``: the server's versions."""
        reply = await self.http.read("GET", "/versions", _check, headers={"Accept": "application/json"})
        return _json(reply, "/versions")

    # -- the SAE protocol ------------------------------------------------------------------------

    async def transfer(self, transfer: SipTransfer) -> TransferAnswer:
        """Post the bordereau and the files (in chunks past ``chunk_size``). Never retried."""
        with tempfile.TemporaryDirectory(prefix="demat-asalae-") as tmp:
            manifest, attachments = await asyncio.to_thread(split_for_asalae, transfer.sip, Path(tmp))
            size = attachments.stat().st_size
            name = f"{_safe(transfer.message_identifier)}.tar.gz"
            if self.chunk_size and size > self.chunk_size:
                answer = await self._post_chunked(manifest, attachments, name, size, transfer)
            else:
                with attachments.open("rb") as fh:
                    form = aiohttp.FormData()
                    form.add_field(
                        "seda_message", manifest, filename="bordereau.xml", content_type="application/xml"
                    )
                    form.add_field("attachments", fh, filename=name, content_type="application/gzip")
                    reply = await self._post(SEDA_MESSAGES, form, transfer)
                answer = _json(reply, SEDA_MESSAGES)
        message = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)[:200]
        return TransferAnswer(transfer.message_identifier, message=f"transfert reçu par as@lae : {message}")

    async def _post(self, path: str, form: aiohttp.FormData, transfer: SipTransfer) -> HttpReply:
        reply = await self.http.call("POST", path, data=form, headers={"Accept": "application/json"})
        if reply.status == 409:
            raise DuplicateSubmission(
                f"as@lae détient déjà le transfert {transfer.message_identifier} ({reply.text()})",
                existing_id=transfer.message_identifier,
            )
        _check(reply, path)
        return reply

    async def _post_chunked(
        self, manifest: bytes, attachments: Path, name: str, size: int, transfer: SipTransfer
    ) -> Any:
        form = aiohttp.FormData()
        form.add_field("seda_message", manifest, filename="bordereau.xml", content_type="application/xml")
        form.add_field("send_chunked_attachments", "true")
        session = _json(await self._post(SEDA_MESSAGES, form, transfer), SEDA_MESSAGES)
        if not (
            isinstance(session, dict)
            and session.get("chunk_session_identifier")
            and session.get("chunk_security_identifier")
        ):
            raise ProtocolError(
                "cette version d'as@lae ne permet pas l'envoi d'archive par morceaux", code="ASALAE_NO_CHUNKS"
            )
        count = math.ceil(size / self.chunk_size)
        answer: Any = session
        with attachments.open("rb") as fh:
            for index in range(1, count + 1):
                chunk = await asyncio.to_thread(fh.read, self.chunk_size)
                form = aiohttp.FormData()
                fields = {
                    "session_identifier": str(session["chunk_session_identifier"]),
                    "security_identifier": str(session["chunk_security_identifier"]),
                    "number_of_files": "1",
                    "file_index": "1",
                    "file_name": name,
                    "compression_algorithm": "TARGZ",
                    "number_of_chunks": str(count),
                    "chunk_index": str(index),
                }
                for key, value in fields.items():
                    form.add_field(key, value)
                form.add_field(
                    "chunk_content",
                    chunk,
                    filename=f"archive_part{index}",
                    content_type="application/octet-stream",
                )
                answer = _json(await self._post(CHUNKS, form, transfer), CHUNKS)
        return answer

    async def _message(self, kind: str, originating_agency: str, message_identifier: str) -> bytes | None:
        path = message_path(kind, originating_agency, message_identifier)
        reply = await self.http.read(
            "GET", path, lambda r, p: _check(r, p, (200, 404)), headers={"Accept": "application/xml"}
        )
        return reply.body if reply.status == 200 and reply.body.strip() else None

    async def fetch_acknowledgement(self, originating_agency: str, message_identifier: str) -> bytes | None:
        """The transfer's ``Acknowledgement``, or ``None`` while there is none."""
        return await self._message("Acknowledgement", originating_agency, message_identifier)

    async def fetch_reply(self, originating_agency: str, message_identifier: str) -> bytes | None:
        """The transfer's ``ArchiveTransferReply``, or ``None`` while there is none."""
        return await self._message("ArchiveTransferReply", originating_agency, message_identifier)

    async def progress(self, ref: TransferRef) -> TransferProgress:
        """The acknowledgement, then the reply, as far as they exist."""
        ack = await self.fetch_acknowledgement(ref.originating_agency, ref.message_identifier)
        if ack is None:
            return TransferProgress(STATUSES[AsalaeStep.RECEIVED])
        reply = await self.fetch_reply(ref.originating_agency, ref.message_identifier)
        if reply is None:
            return TransferProgress(STATUSES[AsalaeStep.ACKNOWLEDGED], acknowledgement=ack)
        return TransferProgress(STATUSES[AsalaeStep.REPLIED], acknowledgement=ack, reply=reply)

    async def find_transfer(self, transfer: SipTransfer) -> LookupResult:
        """Whether as@lae acknowledged a transfer of this message identifier."""
        ack = await self.fetch_acknowledgement(transfer.originating_agency, transfer.message_identifier)
        return LookupResult(Lookup.FOUND, transfer.message_identifier) if ack else LookupResult(Lookup.ABSENT)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "archive"


class AsalaeClient(OneService):
    """The ``asalae`` platform kind: one account, one service named ``"sae"``."""

    def __init__(self, service: AsalaeService) -> None:
        super().__init__("sae", service)
        self.sae = service


def open_account(account: PlatformAccount) -> AsalaeClient:
    """The ``asalae`` platform kind: a client for one account of the settings (``login`` and
    ``login_password_env`` required; ``chunk_size``; a client certificate if the server asks)."""
    password = account.login_password()
    if not account.login or password is None:
        raise ConfigError(
            f"{account.url}: an as@lae account needs login and login_password_env", code="CONFIG_MISSING"
        )
    return AsalaeClient(
        AsalaeService(
            account.url,
            tls_from_account(account),
            login=account.login,
            password=password,
            chunk_size=account.chunk_size,
        )
    )


__all__ = [
    "CHUNKS",
    "SEDA_MESSAGES",
    "AsalaeClient",
    "AsalaeService",
    "message_path",
    "open_account",
]
