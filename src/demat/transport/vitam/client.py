"""Client of Vitam's external API for ingests (platform kind ``vitam``), on aiohttp over mutual TLS.

Vitam authenticates the client by its certificate only (each endpoint needs a permission of the
certificate's security profile); every call carries ``X-Tenant-Id``. What the client does, as
Vitam's own Java client and code do it (``IngestExternalClientRest``, ``IngestExternalResource``,
``AdminManagementExternalResource``; ``../shared/reference/archive-vitam.md`` §1):

* :meth:`VitamService.transfer`: ``POST /ingest-external/v1/ingests`` with the SIP as the raw
  body (streamed from disk, ``Expect: 100-continue``), ``X-Context-Id`` (the workflow),
  ``X-Action: RESUME``, ``X-Application-Id`` (demat's id for the transfer: Vitam keeps it as the
  operation's ``evIdAppSession``) and the manifest's SHA-512 (``X-Manifest-Digest-Algo`` /
  ``-Value``). **202** means Vitam stored the stream, nothing more: the operation id comes in
  ``X-Request-Id``. **503** whose body is an ArchiveTransferReply (an unknown workflow) is a
  refusal, the KO reply given at once. **500** (or 400) carries a JSON ``VitamError``
  (``{httpCode, code, context, state, message, description, errors}``; ``code`` six digits,
  ``0401xx`` for ingest-external), whose code and message the error keeps.
* :meth:`VitamService.progress`: ``HEAD /admin-external/v1/operations/{id}`` and the table of
  :mod:`~demat.transport.vitam.statuses` (200/202 with the state and status headers, 204 for an
  operation it does not know, 412 for a malformed id, 404 as the RAML says); once completed,
  ``GET /ingest-external/v1/ingests/{id}/archivetransferreply``.
* :meth:`VitamService.find_transfer` (the :class:`~demat.transport.protocol.ArchiveTransferLookup`
  capability): ``GET /access-external/v1/logbookoperations`` with a query on ``evIdAppSession``
  — it needs an access contract (``access_contract`` in the account, sent as
  ``X-Access-Contract-Id``); without one the answer is ``UNKNOWN`` and a person settles it.

A transfer is posted once, never retried here; reads are retried with backoff.
"""

from __future__ import annotations

import asyncio
import json
import ssl

from demat.config import PlatformAccount
from demat.errors import ConfigError, ProtocolError, RemoteRejected, ServerError
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
from demat.transport.sip import manifest_sha512
from demat.transport.tls import ClientTLS, tls_from_account
from demat.transport.vitam.statuses import MALFORMED_ID, UNKNOWN_OPERATION, operation_status

#: Where SIPs are posted (and their replies and manifests read).
INGESTS = "/ingest-external/v1/ingests"
#: Where an operation's state is asked (HEAD).
OPERATIONS = "/admin-external/v1/operations"
#: The operation logbook, searched to find a transfer again.
LOGBOOK = "/access-external/v1/logbookoperations"
#: The ingest workflows Vitam knows (``X-Context-Id``): a real ingest, and a dry run whose reply
#: code is prefixed ``Test``.
WORKFLOWS = ("DEFAULT_WORKFLOW", "BLANK_TEST", "FILING_SCHEME", "HOLDING_SCHEME")


def vitam_error(reply: HttpReply) -> tuple[str, str]:
    """``(code, message)`` of a ``VitamError`` body, or the HTTP status and the body's start."""
    try:
        found = json.loads(reply.body)
        code = str(found.get("code") or found.get("httpCode") or reply.status)
        parts = [str(found[k]) for k in ("message", "description") if found.get(k)]
        message = " : ".join(dict.fromkeys(parts)) or reply.text()
    except (ValueError, AttributeError, TypeError, RecursionError):
        return f"HTTP_{reply.status}", reply.text() or f"HTTP {reply.status}"
    return f"VITAM_{code}", message


def _is_reply(body: bytes) -> bool:
    head = body[:4096].lstrip()
    return head.startswith(b"<") and b"ArchiveTransferReply" in head


def _check(reply: HttpReply, path: str, ok: tuple[int, ...] = (200,)) -> None:
    """Raise what a reply outside ``ok`` means."""
    if reply.status in ok:
        return
    if reply.status in (401, 403):
        raise RemoteRejected(
            f"{path}: accès refusé par Vitam (HTTP {reply.status}) — certificat sans la permission voulue",
            code=f"HTTP_{reply.status}",
        )
    code, message = vitam_error(reply)
    if reply.status >= 500:
        raise ServerError(f"{path}: erreur de Vitam (HTTP {reply.status}) : {message}", code=code)
    if reply.status in (400, 206, 409, 413, 415, 422):
        raise RemoteRejected(f"{path}: refusé par Vitam (HTTP {reply.status}) : {message}", code=code)
    raise ProtocolError(f"{path}: HTTP {reply.status} inattendu : {message}", code=code)


class VitamService:
    """One Vitam tenant reached with one certificate: transfers, their progress, the lookup."""

    def __init__(
        self,
        base_url: str,
        tls: ClientTLS | ssl.SSLContext,
        *,
        tenant: int,
        context_id: str = "DEFAULT_WORKFLOW",
        access_contract: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        headers = {"X-Tenant-Id": str(tenant)}
        if access_contract:
            headers["X-Access-Contract-Id"] = access_contract
        self.http = HttpService(base_url, tls, headers=headers, timeouts=timeouts, retry=retry, seed=seed)
        self.tenant = tenant
        self.context_id = context_id
        self.access_contract = access_contract

    async def close(self) -> None:
        """Release the connections."""
        await self.http.close()

    async def check_status(self) -> None:
        """Vitam's smoke test (``GET /ingest-external/v1/status``: 204 when up)."""
        await self.http.read("GET", "/ingest-external/v1/status", lambda r, p: _check(r, p, (200, 204)))

    # -- the SAE protocol ------------------------------------------------------------------------

    async def transfer(self, transfer: SipTransfer) -> TransferAnswer:
        """Post the SIP (see the module docstring). Never retried."""
        digest = await asyncio.to_thread(manifest_sha512, transfer.sip)
        headers = {
            "X-Context-Id": self.context_id,
            "X-Action": "RESUME",
            "X-Application-Id": transfer.session,
            "X-Manifest-Digest-Algo": "SHA-512",
            "X-Manifest-Digest-Value": digest,
            "Content-Type": "application/octet-stream",
            "Accept": "application/xml",
        }
        with transfer.sip.open("rb") as body:
            reply = await self.http.call("POST", INGESTS, headers=headers, data=body, expect100=True)
        operation = reply.headers.get("X-Request-Id") or None
        if reply.status == 503 and _is_reply(reply.body):
            return TransferAnswer(operation, reply=reply.body, message="Vitam a refusé l'entrée (ATR KO)")
        _check(reply, INGESTS, (202,))
        if not operation:
            raise ProtocolError(f"{INGESTS}: 202 sans X-Request-Id", code="VITAM_NO_OPERATION")
        state = reply.headers.get("X-Global-Execution-State", "")
        return TransferAnswer(operation, message=f"SIP reçu par Vitam ({state or 'PAUSE'})")

    async def progress(self, ref: TransferRef) -> TransferProgress:
        """The operation's state; its ArchiveTransferReply once completed."""
        path = f"{OPERATIONS}/{ref.remote_id}"
        reply = await self.http.read(
            "HEAD",
            path,
            lambda r, p: _check(r, p, (200, 202, 204, 404, 412)),
            headers={"Accept": "application/json"},
        )
        if reply.status == 412:
            return TransferProgress(MALFORMED_ID)
        if reply.status in (204, 404):
            atr = await self.fetch_reply(ref.remote_id)
            if atr is None:
                raise ProtocolError(
                    f"{path}: Vitam ne connaît pas cette opération (HTTP {reply.status}) et n'en a pas d'ATR",
                    code="VITAM_UNKNOWN_OPERATION",
                )
            return TransferProgress(UNKNOWN_OPERATION, reply=atr)
        state = reply.headers.get("X-Global-Execution-State")
        said = reply.headers.get("X-Global-Execution-Status")
        status = operation_status(state, said)
        if status is None:
            raise ProtocolError(
                f"{path}: état {state!r} / statut {said!r} inconnus",
                code="VITAM_GARBAGE",
            )
        if status.fetch != "reply":
            return TransferProgress(status)
        atr = await self.fetch_reply(ref.remote_id)
        return TransferProgress(status, reply=atr)  # no reply yet: asked again next time

    async def fetch_reply(self, operation: str) -> bytes | None:
        """The operation's ArchiveTransferReply, or ``None`` while there is none."""
        path = f"{INGESTS}/{operation}/archivetransferreply"
        reply = await self.http.read(
            "GET", path, lambda r, p: _check(r, p, (200, 404)), headers={"Accept": "application/octet-stream"}
        )
        return reply.body if reply.status == 200 and reply.body else None

    async def find_transfer(self, transfer: SipTransfer) -> LookupResult:
        """The ingest operation Vitam logged for this transfer (by ``evIdAppSession``)."""
        if not self.access_contract:
            return LookupResult(Lookup.UNKNOWN)
        query = {
            "$query": {"$eq": {"evIdAppSession": transfer.session}},
            "$filter": {"$orderby": {"evDateTime": 1}},
            "$projection": {},
        }
        reply = await self.http.read(
            "GET",
            LOGBOOK,
            _check,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            data=json.dumps(query).encode(),
        )
        try:
            results = json.loads(reply.body)["$results"]
            ids = [
                str(r.get("evIdProc") or r["_id"])
                for r in results
                if r.get("evTypeProc", "INGEST") == "INGEST"
            ]
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ProtocolError(f"{LOGBOOK}: réponse illisible", code="VITAM_GARBAGE") from exc
        return LookupResult(Lookup.FOUND, ids[0]) if ids else LookupResult(Lookup.ABSENT)


class VitamClient(OneService):
    """The ``vitam`` platform kind: one account, one service named ``"sae"``."""

    def __init__(self, service: VitamService) -> None:
        super().__init__("sae", service)
        self.sae = service


def open_account(account: PlatformAccount) -> VitamClient:
    """The ``vitam`` platform kind: a client for one account of the settings (``tenant``
    required; ``context_id``, ``access_contract``; a client certificate)."""
    if account.tenant is None:
        raise ConfigError(
            f"{account.url}: a vitam account needs its tenant (tenant = 0…)", code="CONFIG_MISSING"
        )
    if account.client_cert is None and account.client_p12 is None:
        raise ConfigError(
            f"{account.url}: Vitam authenticates by client certificate"
            " (client_cert and client_key, or client_p12)",
            code="CONFIG_MISSING",
        )
    return VitamClient(
        VitamService(
            account.url,
            tls_from_account(account),
            tenant=account.tenant,
            context_id=account.context_id or "DEFAULT_WORKFLOW",
            access_contract=account.access_contract,
        )
    )


__all__ = [
    "INGESTS",
    "LOGBOOK",
    "OPERATIONS",
    "WORKFLOWS",
    "VitamClient",
    "VitamService",
    "open_account",
    "vitam_error",
]
