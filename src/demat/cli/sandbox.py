"""``demat sandbox``: run an S²LOW-like server (mutual TLS) for demos and manual tests."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
from typing import Any

from demat.cli._common import EXIT_OK, emit_json, port


def register(sub: Any) -> None:
    """Add ``demat sandbox`` to the CLI."""
    p: argparse.ArgumentParser = sub.add_parser(
        "sandbox",
        help="run a local S²LOW-like platform (HELIOS + ACTES) over mutual TLS",
        description="Serve S²LOW's HELIOS and ACTES APIs on loopback, with a throwaway PKI. "
        "Prints the URL and the paths of the CA and of a client certificate and key (one JSON line).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=0, help="port (default: any free port)")
    p.add_argument("--dir", type=Path, default=None, help="keep PKI, uploads and state here across runs")
    p.add_argument(
        "--delay", type=_seconds, default=0.0, help="seconds from posted to acknowledged (default 0)"
    )
    p.add_argument("--error-rate", type=_share, default=0.0, help="share of HTTP 500 answers (0..1)")
    p.add_argument("--drop-rate", type=_share, default=0.0, help="share of dropped connections (0..1)")
    p.add_argument("--malformed-rate", type=_share, default=0.0, help="share of malformed replies (0..1)")
    p.add_argument(
        "--latency", type=_seconds, default=0.0, help="up to this many seconds added to each answer"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    p.add_argument(
        "--sae",
        action="store_true",
        help="also serve a sandbox Vitam (same PKI) and as@lae (login versant, password secret)",
    )
    p.set_defaults(handler=_run)


def _share(value: str) -> float:
    """argparse type: a share of answers, 0 to 1 (a usage error otherwise, exit 2)."""
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a share between 0 and 1 (0.05: one answer in 20)")
    return share


def _seconds(value: str) -> float:
    """argparse type: a number of seconds, 0 or more."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (0 or more)")
    return seconds


def _run(args: argparse.Namespace) -> int:
    from demat.sandbox import Faults, Sandbox, SandboxConfig

    config = SandboxConfig(
        host=args.host,
        port=args.port,
        directory=args.dir.resolve() if args.dir else None,
        delay=args.delay,
        faults=Faults(
            error_rate=args.error_rate,
            drop_rate=args.drop_rate,
            malformed_rate=args.malformed_rate,
            latency=(0.0, args.latency),
            seed=args.seed,
        ),
    )

    async def serve() -> None:
        async with Sandbox.start(config) as sb, contextlib.AsyncExitStack() as stack:
            cert, key = sb.client_cert_paths()
            shown = {
                "url": sb.url,
                "ca": str(sb.ca_path),
                "client_cert": str(cert),
                "client_key": str(key),
                "admin": sb.url + "/_sandbox/receipts",
            }
            if args.sae:
                from demat.sandbox.asalae import AsalaeSandbox
                from demat.sandbox.vitam import VitamSandbox

                vitam = await stack.enter_async_context(VitamSandbox.start(pki=sb.pki))
                asalae = await stack.enter_async_context(AsalaeSandbox.start(pki=sb.pki))
                shown |= {"vitam": vitam.url, "asalae": asalae.url}
            emit_json(shown)
            await asyncio.Event().wait()  # until interrupted

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return EXIT_OK


__all__ = [
    "register",
]
