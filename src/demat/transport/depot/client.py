"""Client of the deposit server (:mod:`demat.depot.server`) on aiohttp, over TLS.

The account authenticates with its client certificate (``client_cert``/``client_key`` or
``client_p12`` in ``[platforms.NAME]``) or with the token the operator issued, read from the
environment variable named by ``login_password_env`` and sent as ``Authorization: Bearer``.
The server's certificate is verified against ``ca_bundle`` (or the system's CAs).

A deposit is posted once (never retried here: a lost answer is found again by the manifest's
SHA-256 through :meth:`DepotService.find_deposit`, the :class:`DepotLookup` capability); reads
are retried with backoff on retryable failures. Failures map onto demat's error tree as the
S²LOW client's do (:func:`demat.transport.s2low.client.map_client_error`); a refusal (HTTP 4xx
with the server's reason) is :class:`~demat.errors.RemoteRejected`.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import aiohttp
from aiohttp import payload as aio_payload

from demat.config import PlatformAccount
from demat.errors import ConfigError, ProtocolError, RemoteRejected, ServerError
from demat.transport.depot.statuses import depot_status
from demat.transport.http import HttpService
from demat.transport.protocol import Lookup, LookupResult, PlatformStatus, Source
from demat.transport.s2low.client import RetryPolicy, Timeouts
from demat.transport.tls import ClientTLS, tls_from_account

#: Where the server's API lives.
API = "/api/v1"
#: Files up to this size are posted from memory; larger ones stream from disk.
_INLINE_FILE = 1 << 20


@dataclass(frozen=True)
class DepositAnswer:
    """The server's answer to a deposit: the deposit's id, its signed accusé de dépôt, and
    whether the server already held this very manifest (``already_present``)."""

    deposit_id: str
    receipt: bytes
    already_present: bool = False


@runtime_checkable
class DepotPlatform(Protocol):
    """What the elections flow needs from a deposit server."""

    async def deposit(self, manifest: bytes, files: Sequence[tuple[str, Source]]) -> DepositAnswer:
        """Post a deposit: the manifest, then each file it lists. Never retried."""
        ...

    async def status(self, deposit_id: str) -> PlatformStatus:
        """Where the deposit's control stands (its meaning from :mod:`~demat.transport.depot.statuses`)."""
        ...

    async def fetch_receipt(self, deposit_id: str) -> bytes:
        """The signed accusé de dépôt."""
        ...

    async def fetch_report(self, deposit_id: str) -> bytes:
        """The control report (once the status says it is ready)."""
        ...


@runtime_checkable
class DepotLookup(Protocol):
    """Optional capability: find a deposit by its manifest's SHA-256."""

    async def find_deposit(self, manifest_sha256: str) -> LookupResult:
        """Whether the server holds a deposit of this manifest, and under which id."""
        ...


class DepotService:
    """One account on a deposit server: the commune's side (deposit, status, receipt, report,
    lookup) and the préfecture's (list, download, mark read)."""

    def __init__(
        self,
        base_url: str,
        tls: ClientTLS | ssl.SSLContext,
        *,
        token: str | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = HttpService(
            self.base_url + API, tls, headers=headers, timeouts=timeouts, retry=retry, seed=seed
        )

    async def close(self) -> None:
        """Release the connections."""
        await self.http.close()

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, data: Any = None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        reply = await self.http.call(method, path, params=params, data=data)
        return reply.status, reply.body, reply.headers

    async def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, ok: tuple[int, ...] = (200,)
    ) -> tuple[int, bytes]:
        """GET, retried on retryable failures; the status must be one of ``ok``."""
        reply = await self.http.read("GET", path, lambda r, p: _check(r.status, r.body, p, ok), params=params)
        return reply.status, reply.body

    async def _json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        _, body = await self._get(path, params)
        return _decode(body, path)

    # -- commune side -------------------------------------------------------------------------

    async def whoami(self) -> dict[str, Any]:
        """The account the server sees (a connection test)."""
        found: dict[str, Any] = await self._json("/whoami")
        return found

    async def deposit(self, manifest: bytes, files: Sequence[tuple[str, Source]]) -> DepositAnswer:
        """Post a deposit (multipart: ``manifest``, then a ``file`` part per file). Never retried."""
        with contextlib.ExitStack() as stack:
            writer = aiohttp.MultipartWriter("form-data")
            part = writer.append_payload(aio_payload.BytesPayload(manifest, content_type="application/json"))
            part.set_content_disposition("form-data", name="manifest", filename="manifest.json")
            for name, source in files:
                payload: aio_payload.Payload
                if isinstance(source, Path) and source.stat().st_size > _INLINE_FILE:
                    fh: IO[bytes] = stack.enter_context(source.open("rb"))
                    payload = aio_payload.BufferedReaderPayload(fh, content_type="application/octet-stream")
                else:
                    data = source.read_bytes() if isinstance(source, Path) else source
                    payload = aio_payload.BytesPayload(data, content_type="application/octet-stream")
                part = writer.append_payload(payload)
                part.set_content_disposition("form-data", name="file", filename=name)
            status, body, headers = await self._call("POST", "/deposits", data=writer)
        _check(status, body, "/deposits", (200, 201))
        deposit_id = headers.get("X-Depot-Deposit")
        if not deposit_id:
            raise ProtocolError("/deposits: réponse sans identifiant de dépôt", code="DEPOT_GARBAGE")
        return DepositAnswer(deposit_id, body, already_present=status == 200)

    async def deposit_info(self, deposit_id: str) -> dict[str, Any]:
        """A deposit's metadata as the server gives it."""
        found: dict[str, Any] = await self._json(f"/deposits/{deposit_id}")
        return found

    async def status(self, deposit_id: str) -> PlatformStatus:
        """Where the deposit's control stands."""
        info = await self.deposit_info(deposit_id)
        return depot_status(str(info.get("control")), purged=bool(info.get("purged_at")))

    async def fetch_receipt(self, deposit_id: str) -> bytes:
        """The signed accusé de dépôt."""
        return (await self._get(f"/deposits/{deposit_id}/receipt"))[1]

    async def fetch_report(self, deposit_id: str) -> bytes:
        """The control report (:class:`~demat.errors.ProtocolError` while it is pending)."""
        status, body = await self._get(f"/deposits/{deposit_id}/report", ok=(200, 202))
        if status == 202:
            raise ProtocolError("le contrôle du dépôt n'est pas terminé", code="DEPOT_PENDING")
        return body

    async def find_deposit(self, manifest_sha256: str) -> LookupResult:
        """The deposit of this manifest, if the server holds one for this account's commune."""
        status, body = await self._get("/lookup", {"manifest": manifest_sha256}, ok=(200, 404))
        if status == 404:
            return LookupResult(Lookup.ABSENT)
        return LookupResult(Lookup.FOUND, str(_decode(body, "/lookup")["id"]))

    # -- préfecture side ------------------------------------------------------------------------

    async def list_deposits(self, **filters: str) -> list[dict[str, Any]]:
        """Deposits the account may see (``commune``, ``since``, ``until``, ``unread``, ``list``)."""
        found: list[dict[str, Any]] = (await self._json("/deposits", filters))["deposits"]
        return found

    async def fetch_file(self, deposit_id: str, name: str) -> bytes:
        """One file of a deposit."""
        return (await self._get(f"/deposits/{deposit_id}/files/{name}"))[1]

    async def mark_read(self, deposit_id: str) -> dict[str, Any]:
        """Mark a deposit read (préfecture)."""
        status, body, _ = await self._call("POST", f"/deposits/{deposit_id}/read")
        _check(status, body, "/read", (200,))
        found: dict[str, Any] = _decode(body, "/read")
        return found


def _decode(body: bytes, path: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"{path}: réponse JSON illisible", code="DEPOT_GARBAGE") from exc


def _check(status: int, body: bytes, path: str, ok: tuple[int, ...]) -> None:
    if status in ok:
        return
    if status >= 500:
        raise ServerError(f"{path}: erreur serveur HTTP {status}", code=f"HTTP_{status}")
    try:
        reason = json.loads(body)
        message, code = str(reason["error"]), str(reason["code"])
    except (ValueError, KeyError, TypeError):
        message, code = body[:200].decode("utf-8", "replace").strip(), f"HTTP_{status}"
    if 400 <= status < 500:
        raise RemoteRejected(f"{path}: {message} (HTTP {status})", code=code)
    raise ProtocolError(f"{path}: HTTP {status} inattendu", code=f"HTTP_{status}")


class DepotClient:
    """The ``depot`` platform kind: one account, one service named ``"depot"``."""

    def __init__(self, service: DepotService) -> None:
        self.depot = service

    @property
    def services(self) -> Mapping[str, object]:
        """``{"depot": …}`` (see :class:`~demat.transport.protocol.Platform`)."""
        return {"depot": self.depot}

    async def close(self) -> None:
        """Release the connections."""
        await self.depot.close()


def open_account(account: PlatformAccount) -> DepotClient:
    """The ``depot`` platform kind: a client for one account of the settings."""
    token = account.login_password()
    if token is None and account.client_cert is None and account.client_p12 is None:
        raise ConfigError(
            f"{account.url}: a depot account needs a client certificate or a token (login_password_env)"
        )
    return DepotClient(DepotService(account.url, tls_from_account(account), token=token))


__all__ = [
    "API",
    "DepositAnswer",
    "DepotClient",
    "DepotLookup",
    "DepotPlatform",
    "DepotService",
    "open_account",
]
