"""``demat depot serve|accounts``: run the deposit server for electoral lists, manage its accounts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any

from demat.cli._common import EXIT_OK, emit_json, existing_file, port
from demat.errors import ConfigError


def register(sub: Any) -> None:
    """Add ``demat depot`` to the CLI."""
    p: argparse.ArgumentParser = sub.add_parser(
        "depot",
        help="the deposit server for electoral lists (serve, accounts)",
        description="Run the deposit server communes send their electoral lists to, and manage its accounts.",
    )
    dsub = p.add_subparsers(dest="depot_command", required=True, metavar="COMMAND")

    s = dsub.add_parser(
        "serve",
        help="serve deposits over HTTPS (client certificates or tokens)",
        description="Serve the deposit API over HTTPS until SIGTERM or Ctrl-C. Prints one JSON line "
        "with the URL once it listens.",
    )
    _storage(s)
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=port, default=0, help="port (default: any free port)")
    s.add_argument("--cert", type=existing_file, help="the server's TLS certificate (PEM)")
    s.add_argument("--key", type=existing_file, help="the server's TLS key (PEM)")
    s.add_argument(
        "--client-ca", type=existing_file, help="CA bundle that issued the communes' client certificates"
    )
    s.add_argument(
        "--sign-cert", type=existing_file, help="certificate that signs the accusés de dépôt (PEM)"
    )
    s.add_argument("--sign-key", type=existing_file, help="its key (PEM)")
    s.add_argument("--sign-p12", type=existing_file, help="or both in a PKCS#12 file")
    s.add_argument("--sign-password-env", help="environment variable holding the signing key's password")
    s.add_argument(
        "--dev-pki",
        action="store_true",
        help="use (or make) a throwaway PKI under DIR/pki for whatever is not given: never in production",
    )
    s.add_argument("--retention-days", type=float, help="purge deposits older than this (default: keep)")
    s.add_argument("--purge-every", type=float, default=3600.0, help="seconds between purges (default 3600)")
    s.set_defaults(handler=_serve)

    a = dsub.add_parser("accounts", help="list, add or revoke the server's accounts")
    _storage(a)
    asub = a.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    ls = asub.add_parser("list", help="every account")
    ls.add_argument("--json", action="store_true", help="JSON Lines output")
    ls.set_defaults(handler=_accounts_list)
    add = asub.add_parser("add", help="create an account (a commune, a préfecture or an operator)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["commune", "prefecture", "operator"])
    add.add_argument("--scope", default="", help="a commune: its INSEE code; a préfecture: its département")
    add.add_argument("--label", help="a name for people")
    add.add_argument("--cert", type=existing_file, help="the account's client certificate (PEM)")
    add.add_argument("--token", action="store_true", help="issue a token (printed once, kept hashed)")
    add.add_argument(
        "--issue-cert",
        type=Path,
        metavar="DIR",
        help="make a client certificate from the throwaway PKI under DIR/pki and write it in DIR",
    )
    add.add_argument("--json", action="store_true", help="JSON output")
    add.set_defaults(handler=_accounts_add)
    rv = asub.add_parser("revoke", help="revoke an account")
    rv.add_argument("name")
    rv.set_defaults(handler=_accounts_revoke)


def _storage(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dir", type=Path, required=True, help="the server's folder (deposits, SQLite store, PKI)"
    )
    p.add_argument(
        "--store-url",
        default=os.environ.get("DEMAT_DEPOT_STORE_URL"),
        help="PostgreSQL URL instead of DIR's SQLite",
    )


def _store_url(args: argparse.Namespace) -> str:
    args.dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # deposits will live here: private
    return str(args.store_url or (args.dir / "depot.sqlite3"))


def _serve(args: argparse.Namespace) -> int:
    from demat.depot.pki import DepotPKI
    from demat.depot.server import DepotConfig, DepotServer, describe
    from demat.signing.keys import load_signer_files
    from demat.transport.tls import read_password

    directory: Path = args.dir.resolve()
    pki = DepotPKI.load_or_create(directory / "pki") if args.dev_pki else None
    cert, key = args.cert, args.key
    if cert is None or key is None:
        if pki is None:
            raise ConfigError("--cert and --key are needed (or --dev-pki to try the server out)")
        cert, key = pki.server_cert, pki.server_key
    password = read_password(env=args.sign_password_env)
    if args.sign_p12 is not None:
        signer = load_signer_files(p12=args.sign_p12, password=password)
    elif args.sign_cert is not None or args.sign_key is not None:
        signer = load_signer_files(key=args.sign_key, cert=args.sign_cert, password=password)
    elif pki is not None:
        signer = pki.signer()
    else:
        signer = load_signer_files(key=key, cert=cert)  # the TLS key signs the accusés
    config = DepotConfig(
        directory=directory,
        cert=cert,
        key=key,
        signer=signer,
        client_ca=args.client_ca or (pki.ca_cert if pki else None),
        host=args.host,
        port=args.port,
        store_url=args.store_url,
        retention_days=args.retention_days,
        purge_every=args.purge_every,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        async with DepotServer.start(config) as server:
            print(describe(server), flush=True)
            await stop.wait()

    asyncio.run(serve())
    return EXIT_OK


def _accounts_list(args: argparse.Namespace) -> int:
    from demat.depot.store import DepotStore

    async def body() -> int:
        store = await DepotStore.open(_store_url(args))
        try:
            found = await store.accounts()
        finally:
            await store.close()
        for account in found:
            if args.json:
                emit_json(account.to_dict())
            else:
                how = "+".join(
                    w for w, has in (("cert", account.has_certificate), ("token", account.has_token)) if has
                )
                state = f" revoked {account.revoked_at:%Y-%m-%d}" if account.revoked_at else ""
                print(f"{account.name:<24} {account.role:<10} {account.scope or '-':<6} {how}{state}")
        if not found and not args.json:
            print("no account yet")
        return EXIT_OK

    return asyncio.run(body())


def _accounts_add(args: argparse.Namespace) -> int:
    from demat.depot.pki import DepotPKI
    from demat.depot.server import create_account
    from demat.depot.store import DepotStore

    cert_pem = args.cert.read_bytes() if args.cert else None
    issued: tuple[Path, Path] | None = None
    if args.issue_cert is not None:
        if cert_pem is not None:
            raise ConfigError("--cert or --issue-cert, not both")
        issued = DepotPKI.load_or_create(args.dir.resolve() / "pki").issue_client(args.name, args.issue_cert)
        cert_pem = issued[1].read_bytes()

    async def body() -> int:
        store = await DepotStore.open(_store_url(args))
        try:
            account, token = await create_account(
                store,
                args.name,
                args.role,
                args.scope,
                label=args.label,
                certificate_pem=cert_pem,
                token=args.token,
            )
        finally:
            await store.close()
        out: dict[str, Any] = {"account": account.to_dict()}
        if token:
            out["token"] = token
        if issued:
            out["client_key"], out["client_cert"] = str(issued[0]), str(issued[1])
        if args.json:
            emit_json(out)
        else:
            print(f"account {account.name} ({account.role} {account.scope or '-'}) created")
            if token:
                print(f"token (shown once): {token}")
            if issued:
                print(f"client certificate: {issued[1]}  key: {issued[0]}")
        return EXIT_OK

    return asyncio.run(body())


def _accounts_revoke(args: argparse.Namespace) -> int:
    from demat.depot.store import DepotStore

    async def body() -> int:
        store = await DepotStore.open(_store_url(args))
        try:
            account = await store.revoke_account(args.name)
        finally:
            await store.close()
        print(f"account {account.name} revoked")
        return EXIT_OK

    return asyncio.run(body())


__all__ = ["register"]
