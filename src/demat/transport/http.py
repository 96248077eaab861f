"""What the SAE clients share: one aiohttp session over TLS, calls mapped onto demat's errors,
idempotent reads retried with backoff.

A call returns the whole :class:`HttpReply` (status, body, headers); what a status means is the
client's to say (:mod:`demat.transport.vitam`, :mod:`demat.transport.asalae`). Failures below
HTTP (refused connection, TLS, timeout, cut connection) are mapped as the S²LOW client maps them
(:func:`demat.transport.s2low.client.map_client_error`).
"""

from __future__ import annotations

import asyncio
import builtins
import random
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from multidict import CIMultiDictProxy

from demat.errors import DematError
from demat.transport.s2low.client import RetryPolicy, Timeouts, map_client_error
from demat.transport.tls import ClientTLS, client_context


@dataclass(frozen=True)
class HttpReply:
    """An HTTP reply read in full."""

    status: int
    body: bytes
    headers: Mapping[str, str]

    def text(self, limit: int = 300) -> str:
        """The start of the body as text (for an error message)."""
        return self.body[:limit].decode("utf-8", "replace").strip()


Check = Callable[[HttpReply, str], None]
"""Raises the error a reply means (``check(reply, path)``), or returns when it is one to read."""


class HttpService:
    """One account on an HTTPS service: a lazily opened session with ``headers`` on every call."""

    def __init__(
        self,
        base_url: str,
        tls: ClientTLS | ssl.SSLContext,
        *,
        headers: Mapping[str, str] | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ssl = tls if isinstance(tls, ssl.SSLContext) else client_context(tls)
        self._headers = dict(headers or {})
        self._timeouts = timeouts or Timeouts()
        self._retry = retry or RetryPolicy()
        self._rng = random.Random(seed)  # jitter only
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Release the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=8),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.read
                ),
                headers=self._headers,
            )
        return self._session

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        expect100: bool = False,
    ) -> HttpReply:
        """One request, never retried; failures below HTTP become demat errors."""
        url = f"{self.base_url}{path}"
        try:
            async with self._get_session().request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                allow_redirects=False,
                expect100=expect100,
            ) as resp:
                body = await resp.read()
                found: CIMultiDictProxy[str] = resp.headers
                return HttpReply(resp.status, body, found)
        except (aiohttp.ClientError, ssl.SSLError, OSError, builtins.TimeoutError) as exc:
            raise map_client_error(exc, path) from exc

    async def read(
        self,
        method: str,
        path: str,
        check: Check,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        data: bytes | None = None,
    ) -> HttpReply:
        """An idempotent request, retried with backoff while the failure is retryable."""
        for attempt in range(self._retry.attempts):
            try:
                reply = await self.call(method, path, headers=headers, params=params, data=data)
                check(reply, path)
                return reply
            except DematError as exc:
                if not exc.retryable or attempt + 1 >= self._retry.attempts:
                    raise
                await asyncio.sleep(self._retry.delay(attempt, self._rng))
        raise AssertionError("unreachable")  # pragma: no cover


class Closable(Protocol):
    """A service holding connections."""

    async def close(self) -> None:
        """Release the connections."""
        ...


class OneService:
    """An opened account offering one service (:class:`~demat.transport.protocol.Platform`):
    the SAE kinds offer ``"sae"``."""

    def __init__(self, name: str, service: Closable) -> None:
        self.name = name
        self.service = service

    @property
    def services(self) -> Mapping[str, object]:
        """``{name: service}``."""
        return {self.name: self.service}

    async def close(self) -> None:
        """Release the connections."""
        await self.service.close()


__all__ = ["Check", "Closable", "HttpReply", "HttpService", "OneService"]
