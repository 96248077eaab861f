"""``demat keys dev``: a throwaway signing key and certificate for trials. NOT for production.

HELIOS accepts PES signed with a real signature certificate only: an RGS** (or eIDAS qualified)
certificate issued to the ordonnateur by a certification authority, delivered on a token or
smart card, or as a PKCS#12 file. ``demat keys dev`` makes a self-made CA and a signing
certificate under it, so that ``pes sign`` and ``pes verify`` can be tried end to end (and the
sandbox, which trusts anything, accepts the result); the DGFiP would reject it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from demat.cli._common import EXIT_OK, EXIT_USAGE, fail

#: What every file and message of ``demat keys dev`` says about itself.
WARNING = "THROWAWAY KEY FOR TRIALS: NOT FOR PRODUCTION (HELIOS rejects it)"


def register(sub: Any) -> None:
    """Add ``demat keys dev``."""
    parser: argparse.ArgumentParser = sub.add_parser("keys", help="signing keys: a throwaway one for trials")
    keys_sub = parser.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    p = keys_sub.add_parser(
        "dev",
        help="make a throwaway signing key and certificate for trials (NOT for production)",
        description="Write a self-made CA and a signing certificate under it, as a PKCS#12 file and "
        "as PEM, to try 'demat pes sign' and 'demat pes verify --trust DIR/trust'. NOT for "
        "production: HELIOS accepts only a real RGS** (or eIDAS qualified) signature certificate "
        "of the ordonnateur, from a certification authority (on a token or as a PKCS#12 file).",
    )
    p.add_argument("--dir", type=Path, default=Path("dev-keys"), help="where to write (default dev-keys/)")
    p.add_argument("--name", default="Ordonnateur (essai)", help="the certificate's common name")
    p.add_argument(
        "--password-env", metavar="VAR", help="encrypt the PKCS#12 and the key with the password in $VAR"
    )
    p.add_argument("--force", action="store_true", help="overwrite keys already in --dir")
    p.set_defaults(handler=_dev)


def _dev(args: argparse.Namespace) -> int:
    from demat.signing import devpki

    folder: Path = args.dir
    p12 = folder / "signer.p12"
    if p12.exists() and not args.force:
        fail(f"{p12} exists (--force to replace it)")
        return EXIT_USAGE
    password = None
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            fail(f"environment variable {args.password_env} (the password) is not set")
            return EXIT_USAGE
        password = value.encode()
    ca = devpki.make_ca("demat throwaway CA (NOT FOR PRODUCTION)")
    leaf = devpki.issue(ca, args.name, kind="signing", org="demat throwaway PKI (NOT FOR PRODUCTION)")
    leaf = devpki.Issued(leaf.key, leaf.cert, (ca.cert,))
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    (folder / "trust").mkdir(exist_ok=True)
    (folder / "trust" / "ca.pem").write_bytes(ca.cert_pem())
    _private(p12, leaf.p12(password))
    key, cert = leaf.write(folder, "signer", password)
    (folder / "README.txt").write_text(
        f"{WARNING}\n\nsigner.p12: key and certificate (PKCS#12); signer.key.pem + signer.cert.pem: the same "
        "as PEM;\ntrust/ca.pem: the CA to verify with (demat pes verify --trust trust/).\n",
        encoding="utf-8",
    )
    secret = f" --password-env {args.password_env}" if args.password_env else ""
    print(WARNING)
    print(f"wrote {p12} ({args.name}), {key}, {cert} and {folder / 'trust' / 'ca.pem'}")
    print(f"try: demat pes sign PES.xml -o PES.signed.xml --p12 {p12}{secret}")
    print(f"     demat pes verify PES.signed.xml --trust {folder / 'trust'}")
    return EXIT_OK


def _private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only, whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


__all__ = ["WARNING", "register"]
