"""``demat web`` (the operator console) and ``demat web accounts`` (who may log in)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from demat.cli._common import EXIT_OK, emit_json, existing_file, port, settings_from
from demat.errors import ConfigError


def register(sub: Any) -> None:
    """Add ``demat web`` to the CLI."""
    p: argparse.ArgumentParser = sub.add_parser(
        "web",
        help="the operator console in a browser (serve, accounts)",
        description="Serve the operator console over HTTPS until SIGTERM or Ctrl-C; manage its accounts.",
    )
    wsub = p.add_subparsers(dest="web_command", metavar="COMMAND")
    _serve_options(p)
    p.set_defaults(handler=_serve)

    a = wsub.add_parser("accounts", help="add, list, disable accounts; set a password")
    asub = a.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    add = asub.add_parser("add", help="create an account")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=["operator", "agent", "archivist", "reader"])
    add.add_argument("--name", help="the person's name, as the journal shows it (default: the login)")
    add.add_argument(
        "--profile", action="append", default=[], help="a profile it is bound to (agent: one at least)"
    )
    add.add_argument(
        "--password-env", metavar="VAR", help="read the password from this variable (default: ask)"
    )
    add.set_defaults(handler=_add)
    ls = asub.add_parser("list", help="every account")
    ls.add_argument("--json", action="store_true", help="JSON Lines output")
    ls.set_defaults(handler=_list)
    for name, help_text in (
        ("disable", "disable an account (its sessions end)"),
        ("enable", "enable it again"),
    ):
        d = asub.add_parser(name, help=help_text)
        d.add_argument("login")
        d.set_defaults(handler=_disable, disabled=name == "disable")
    pw = asub.add_parser("password", help="set an account's password (its sessions end)")
    pw.add_argument("login")
    pw.add_argument(
        "--password-env", metavar="VAR", help="read the password from this variable (default: ask)"
    )
    pw.set_defaults(handler=_password)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=port, default=8444, help="port (default 8444; 0: any free port)")
    p.add_argument("--cert", type=existing_file, help="TLS certificate chain (PEM)")
    p.add_argument("--key", type=existing_file, help="its key (PEM)")
    p.add_argument(
        "--http",
        action="store_true",
        help="plain HTTP on loopback, for a TLS-terminating proxy in front (cookies then lose 'Secure')",
    )
    p.add_argument("--poll", action="store_true", help="run the poller in the same process")
    p.add_argument(
        "--archive-dir", type=Path, help="the intermediate archive to show (default $DEMAT_ARCHIVE_DIR)"
    )
    p.add_argument(
        "--tsa-trust", type=existing_file, help="PEM roots of the archive's TSA (default $DEMAT_TSA_TRUST)"
    )
    p.add_argument("--dev-tsa", action="store_true", help="the archive's throwaway TSA (trials)")


# -- serving -----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from demat.web.server import TLSFiles

    settings = settings_from(args)
    if args.http and (args.cert or args.key):
        raise ConfigError("--http and --cert/--key: choose one", code="USAGE")
    if args.http and args.host not in ("127.0.0.1", "::1", "localhost"):
        # Passwords and session cookies would cross the network in clear.
        raise ConfigError(
            "--http only on loopback (a TLS-terminating proxy on this machine): give --cert/--key",
            code="USAGE",
        )
    if bool(args.cert) != bool(args.key):
        raise ConfigError("--cert and --key go together", code="USAGE")
    tls: TLSFiles | None = None
    if args.cert:
        tls = TLSFiles(args.cert, args.key)
    elif not args.http:
        tls = TLSFiles.throwaway(settings.data_dir / "web-tls")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def main() -> int:
        async with _console(settings, args) as console:
            users = await console.accounts.list()

            def ready(url: str) -> None:
                info: dict[str, Any] = {"url": url, "accounts": len(users)}
                if tls is not None and tls.ca is not None:
                    info["ca"] = str(tls.ca)
                emit_json(info)
                if not users:
                    print(
                        "no account yet: 'demat web accounts add NAME --role operator' creates one",
                        file=sys.stderr,
                    )

            from demat.web.server import run_until_stopped

            await run_until_stopped(
                console, host=args.host, port=args.port, tls=tls, poll=args.poll, ready=ready
            )
        return EXIT_OK

    return asyncio.run(main())


@contextlib.asynccontextmanager
async def _console(settings: Any, args: argparse.Namespace) -> AsyncIterator[Any]:
    from demat.gateway import Gateway
    from demat.web import Accounts, Console

    async with contextlib.AsyncExitStack() as stack:
        gw = await stack.enter_async_context(Gateway.open(settings))
        accounts = await Accounts.open(store_url(settings))
        stack.push_async_callback(accounts.close)
        archive = await _archive(args, stack)
        yield Console(gw, accounts, archive=archive, secure=not args.http)


async def _archive(args: argparse.Namespace, stack: contextlib.AsyncExitStack) -> Any:
    if not (args.archive_dir or os.environ.get("DEMAT_ARCHIVE_DIR")):
        return None
    from demat.cli.archive import _open
    from demat.errors import StorageError
    from demat.storage.service import LEDGER

    root = Path(args.archive_dir or os.environ["DEMAT_ARCHIVE_DIR"])
    if not (root / LEDGER).is_file():  # before --dev-tsa would make its folder there
        raise StorageError(f"no archive in {root} (no {LEDGER})", code="ARCHIVE_NOT_FOUND")

    ns = argparse.Namespace(
        archive_dir=args.archive_dir,
        tsa_url=None,
        tsa_trust=args.tsa_trust,
        dev_tsa=args.dev_tsa,
        s3_bucket=None,
        s3_endpoint=None,
    )
    # Read-only: the console reads beside the archive's writer (demat archive …), never takes
    # its lock (the writer would wait for as long as the console runs).
    return await stack.enter_async_context(_open(ns, read_only=True)())


def store_url(settings: Any) -> str:
    """The tracking database's URL (as :meth:`demat.gateway.Gateway.open` opens it)."""
    return str(settings.store_url or f"sqlite:///{(settings.data_dir / 'demat.sqlite3').resolve()}")


# -- accounts ----------------------------------------------------------------------------------


def _with_accounts(
    args: argparse.Namespace, body: Callable[[Any], Awaitable[int]], *, fact: str | None = None
) -> int:
    """Run ``body(accounts)``; with ``fact``, journal the change once done (the account, what
    changed, who made it: the OS user), so the journal also proves who could act."""
    from demat.files import private_dir
    from demat.tracking import Store
    from demat.web import Accounts

    settings = settings_from(args)
    if not settings.store_url:
        private_dir(settings.data_dir)

    async def main() -> int:
        url = store_url(settings)
        accounts = await Accounts.open(url)
        try:
            code = await body(accounts)
        finally:
            await accounts.close()
        if fact is not None:
            account = await _account_record(url, args.login)
            async with Store.open(url) as store:
                await store.record_fact(fact, {**account, "by": _os_user()})
        return code

    return asyncio.run(main())


async def _account_record(url: str, login: str) -> dict[str, Any]:
    from demat.web import Accounts

    accounts = await Accounts.open(url)
    try:
        found = await accounts.get(login)
    finally:
        await accounts.close()
    if found is None:
        return {"login": login}
    return {
        "login": found.login,
        "name": found.name,
        "role": found.role.value,
        "profiles": sorted(found.profiles),
    }


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "unknown user"


def _ask_password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise ConfigError(f"${args.password_env} is empty or not set", code="USAGE")
        return value
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask the password: give --password-env VAR", code="USAGE")
    first = getpass.getpass("password (12 characters at least): ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ", code="USAGE")
    return first


def _add(args: argparse.Namespace) -> int:
    from demat.web import Role

    password = _ask_password(args)

    async def body(accounts: Any) -> int:
        made = await accounts.add(
            args.login, password, role=Role(args.role), name=args.name, profiles=args.profile
        )
        bound = f", profiles {', '.join(sorted(made.profiles))}" if made.profiles else ""
        print(f"account {made.login} ({made.role.value}{bound}) created")
        return EXIT_OK

    return _with_accounts(args, body, fact="account_added")


def _list(args: argparse.Namespace) -> int:
    async def body(accounts: Any) -> int:
        found = await accounts.list()
        for a in found:
            record = {
                "login": a.login,
                "name": a.name,
                "role": a.role.value,
                "profiles": sorted(a.profiles),
                "disabled": a.disabled,
            }
            if args.json:
                emit_json(record)
            else:
                off = "  (disabled)" if a.disabled else ""
                bound = ",".join(sorted(a.profiles)) or "*"
                print(f"{a.login:<20} {a.role.value:<10} {bound:<20} {a.name}{off}")
        if not found and not args.json:
            print("no account yet")
        return EXIT_OK

    return _with_accounts(args, body)


def _disable(args: argparse.Namespace) -> int:
    async def body(accounts: Any) -> int:
        await accounts.set_disabled(args.login, args.disabled)
        print(f"account {args.login} {'disabled' if args.disabled else 'enabled'}")
        return EXIT_OK

    return _with_accounts(args, body, fact="account_disabled" if args.disabled else "account_enabled")


def _password(args: argparse.Namespace) -> int:
    password = _ask_password(args)

    async def body(accounts: Any) -> int:
        await accounts.set_password(args.login, password)
        print(f"password of {args.login} changed; its sessions are closed")
        return EXIT_OK

    return _with_accounts(args, body, fact="account_password_set")


__all__ = ["register", "store_url"]
