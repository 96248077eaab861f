"""Timestamping authorities the archive service asks: over HTTP (RFC 3161 §3.4), or in process.

An :data:`AsyncTimestamper` takes a request's DER and returns the ``TimeStampResp`` DER; the
archive checks every reply itself (:mod:`demat.archive.timestamp`), so a TSA is trusted only as
far as its certificate chains to the configured roots.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from demat.archive.timestamp import Timestamper
from demat.errors import ConnectError, PlatformTimeout, ProtocolError, ServerError, TransportError
from demat.gateway.offload import offload

#: Something that asks a TSA, awaitable: request DER in, ``TimeStampResp`` DER out.
AsyncTimestamper = Callable[[bytes], Awaitable[bytes]]

_QUERY = "application/timestamp-query"
_REPLY = "application/timestamp-reply"


@dataclass(frozen=True)
class HttpTimestamper:
    """A TSA reached by ``POST url`` (TLS verified against ``ca_bundle`` when given, else the
    system's roots; plain ``http://`` is allowed: the token is checked, not the channel)."""

    url: str
    ca_bundle: str | None = None
    timeout: float = 30.0

    async def __call__(self, request: bytes) -> bytes:
        """Ask the TSA for one token."""
        context: ssl.SSLContext | None = None
        if self.url.startswith("https://"):
            context = ssl.create_default_context(cafile=self.ca_bundle)
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    self.url, data=request, headers={"Content-Type": _QUERY}, ssl=context or False
                ) as reply,
            ):
                body = await reply.read()
                if reply.status >= 500:
                    raise ServerError(f"TSA {self.url}: HTTP {reply.status}")
                if reply.status != 200:
                    raise ProtocolError(f"TSA {self.url}: HTTP {reply.status}: {body[:200]!r}")
                if reply.content_type != _REPLY:
                    raise ProtocolError(f"TSA {self.url}: answered {reply.content_type}, not {_REPLY}")
                return body
        except TimeoutError as exc:
            raise PlatformTimeout(f"TSA {self.url}: no answer in {self.timeout:g} s") from exc
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"TSA {self.url}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise TransportError(f"TSA {self.url}: {exc}") from exc


def in_process(timestamper: Timestamper) -> AsyncTimestamper:
    """An in-process TSA (a callable, e.g. the sandbox's) run off the event loop."""

    async def ask(request: bytes) -> bytes:
        return await offload(timestamper, request)

    return ask


__all__ = ["AsyncTimestamper", "HttpTimestamper", "in_process"]
