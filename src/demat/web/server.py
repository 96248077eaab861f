"""Running the console: ``demat web`` and ``demat demo --web``.

HTTPS by default: the certificate and key named by ``--cert``/``--key``, else a throwaway CA
and a ``localhost`` certificate made on first start under the data directory (``web-tls/``; the
CA to import in a browser is ``web-tls/ca.cert.pem``). Plain HTTP only when asked (``--http``),
for a TLS-terminating proxy in front. SIGTERM and SIGINT stop it cleanly: the live streams end,
the poller (``--poll``) finishes what it started and gives back the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from demat.errors import ConfigError
from demat.web.app import Console, create_app

log = logging.getLogger("demat.web")


@dataclass(frozen=True)
class TLSFiles:
    """The console's certificate chain and key (PEM), and the CA a browser must trust, if
    it is a throwaway one."""

    cert: Path
    key: Path
    ca: Path | None = None

    @classmethod
    def throwaway(cls, directory: Path) -> TLSFiles:
        """A CA and a ``localhost`` certificate under ``directory`` (made once, then reused)."""
        from demat.sandbox.pki import SandboxPKI

        pki = SandboxPKI.load_or_create(directory)
        return cls(pki.server_cert, pki.server_key, pki.ca_cert)

    def context(self) -> ssl.SSLContext:
        """A server TLS context (TLS 1.2 at least) on these files."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(str(self.cert), str(self.key))
        except ssl.SSLError as exc:  # OpenSSL names neither file: say which pair it refused
            raise ConfigError(
                f"{self.cert}, {self.key}: not a PEM certificate chain and its key ({exc.reason or exc})",
                code="TLS_FILES",
            ) from None
        return ctx


@contextlib.asynccontextmanager
async def serving(
    console: Console, *, host: str = "127.0.0.1", port: int = 8444, tls: TLSFiles | None = None
) -> AsyncIterator[str]:
    """Serve ``console`` while the block runs; yields its URL (port 0: a free one)."""
    app = create_app(console)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=tls.context() if tls else None)
    await site.start()
    bound = port
    sockets = getattr(site._server, "sockets", None)  # the port the OS chose when asked for 0
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    shown = "localhost" if host in ("127.0.0.1", "::1", "localhost") else host
    url = f"{'https' if tls else 'http'}://{shown}:{bound}"
    try:
        yield url
    finally:
        await runner.cleanup()


async def run_until_stopped(
    console: Console,
    *,
    host: str,
    port: int,
    tls: TLSFiles | None,
    poll: bool,
    ready: Callable[[str], None],
) -> None:
    """Serve (and poll, with ``poll``) until SIGTERM or SIGINT; ``ready(url)`` once listening."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform/thread
            loop.add_signal_handler(sig, stop.set)
    async with serving(console, host=host, port=port, tls=tls) as url:
        ready(url)
        poller = asyncio.create_task(console.gateway.run_poller(stop)) if poll else None
        await stop.wait()
        log.info("stopping the console")
        if poller is not None:
            await poller


__all__ = ["TLSFiles", "run_until_stopped", "serving"]
