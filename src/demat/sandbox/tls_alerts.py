"""Make the sandbox's TLS server send its fatal alert when it refuses a handshake.

Apache (S²LOW's front) tells a client why it refuses it: "unknown ca", "certificate required".
asyncio's TLS layer (CPython < the fix of gh-98078, PR #153620) force-closes the connection
without flushing the alert OpenSSL prepared, so the client only sees a reset and cannot tell a
refused certificate from a network failure. This backports that fix for server-side
connections only: the pending outgoing TLS bytes (the alert) are written before the close.
"""

from __future__ import annotations

from asyncio import sslproto
from typing import Any

_INSTALLED = False


def install() -> None:
    """Patch once per process; harmless where CPython already flushes (nothing left to send)."""
    global _INSTALLED
    if _INSTALLED:
        return
    original = sslproto.SSLProtocol._on_handshake_complete

    def on_handshake_complete(self: Any, handshake_exc: BaseException | None) -> None:
        if handshake_exc is not None and getattr(self, "_server_side", False):
            try:
                pending = self._outgoing.read()
                if pending and self._transport is not None:
                    self._transport.write(pending)
            except Exception:  # noqa: S110 - best effort: the close below happens anyway
                pass
        original(self, handshake_exc)

    sslproto.SSLProtocol._on_handshake_complete = on_handshake_complete  # type: ignore[method-assign]
    _INSTALLED = True


__all__ = [
    "install",
]
