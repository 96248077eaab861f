"""The ``s2low-sandbox`` platform kind: S²LOW's client, plus the sandbox's HELIOS lookup.

Real S²LOW cannot search HELIOS transactions, so a PES whose submission outcome was lost stays
``UNKNOWN`` for a person to settle. The sandbox answers ``/_sandbox/helios/find?sha1=…`` (a
path real S²LOW lacks); this kind declares that capability
(:class:`~demat.transport.protocol.HeliosLookup`) so the gateway reconciles such a PES by
itself. Accounts name it with ``kind = "s2low-sandbox"``; the demo and the tests do.
"""

from __future__ import annotations

import json

from demat.config import PlatformAccount
from demat.errors import ProtocolError
from demat.transport.protocol import Lookup, LookupResult
from demat.transport.s2low.client import S2lowClient, S2lowConnection, S2lowHelios, credentials_of
from demat.transport.tls import tls_from_account

#: Not in S²LOW: the sandbox's lookup of a HELIOS upload by sha1.
SANDBOX_HELIOS_FIND = "/_sandbox/helios/find"


class SandboxHelios(S2lowHelios):
    """S²LOW's HELIOS service with the sandbox's lookup: implements
    :class:`~demat.transport.protocol.HeliosLookup`."""

    async def find_pes(self, sha1: str) -> LookupResult:
        """The sandbox's transaction holding exactly these bytes, or ABSENT."""
        try:
            reply = await self.conn.get(SANDBOX_HELIOS_FIND, {"sha1": sha1})
        except ProtocolError as exc:
            if exc.code == "HTTP_404":  # not a sandbox after all
                return LookupResult(Lookup.UNKNOWN)
            raise
        try:
            data = json.loads(reply.body)
        except ValueError:
            return LookupResult(Lookup.UNKNOWN)
        found = data.get("id") if isinstance(data, dict) else None
        return LookupResult(Lookup.FOUND, str(found)) if found else LookupResult(Lookup.ABSENT)

    async def _lookup(self, sha1: str) -> LookupResult:
        return await self.find_pes(sha1)


class SandboxClient(S2lowClient):
    """An S²LOW client whose HELIOS service is :class:`SandboxHelios`."""

    def _helios(self, conn: S2lowConnection) -> S2lowHelios:
        return SandboxHelios(conn)


def open_account(account: PlatformAccount) -> SandboxClient:
    """The ``s2low-sandbox`` platform kind: a client for one account of the settings."""
    return SandboxClient(account.url, tls_from_account(account), credentials=credentials_of(account))


__all__ = ["SANDBOX_HELIOS_FIND", "SandboxClient", "SandboxHelios", "open_account"]
