"""``demat pes sign | verify``: XAdES signatures of PES_Aller files.

Key passwords are never taken on the command line (they would end up in shell history and
``ps``): ``--password-env VAR`` or ``--password-file FILE`` name where to read them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from demat.cli._common import (
    EXIT_INVALID,
    EXIT_OK,
    emit_json,
    existing_dir,
    existing_file,
    exit_code,
    settings_from,
)
from demat.errors import ConfigError, DematError

if TYPE_CHECKING:  # the settings (pydantic) load when a command runs: not for --help
    from pathlib import Path

    from demat.config import SignerConfig


def register(pes_sub: Any) -> None:
    """Add this module's subcommands to ``demat pes``."""
    p = pes_sub.add_parser(
        "sign",
        help="sign a PES_Aller (XAdES-EPES, one signature per bordereau, or --global)",
        description="Sign a PES_Aller as HELIOS receives it. "
        "Sets InfoDematerialisee=1 in the signed domains. The key: HELIOS accepts a signature "
        "certificate of the ordonnateur at RGS** level (or eIDAS qualified) from a certification "
        "authority, delivered on a token or smart card or as a PKCS#12 file; demat reads it from "
        "a PKCS#12 file (--p12, e.g. exported from the authority's delivery) or PEM files (--key, "
        "--cert); keys kept on a token (PKCS#11) are not supported yet. For trials, 'demat keys "
        "dev' makes a throwaway one (NOT for production).",
    )
    p.add_argument("input", type=existing_file, metavar="IN")
    from demat.cli._common import output_file  # refuses a link or a device

    p.add_argument("-o", "--output", type=output_file, required=True, metavar="OUT")
    p.add_argument("--profile", help="take the signer (key, role, place) from this settings profile")
    p.add_argument("--key", type=existing_file, metavar="KEY.pem", help="private key (PEM)")
    p.add_argument(
        "--cert", type=existing_file, metavar="CERT.pem", help="certificate (PEM, may hold the chain)"
    )
    p.add_argument("--p12", type=existing_file, metavar="FILE.p12", help="PKCS#12 bundle (key + certificate)")
    p.add_argument("--password-env", metavar="VAR", help="environment variable holding the key password")
    p.add_argument(
        "--password-file", type=existing_file, metavar="FILE", help="file holding the key password"
    )
    p.add_argument("--role", help="ClaimedRole (default: profile's, else Ordonnateur)")
    p.add_argument("--city", help="SignatureProductionPlace/City")
    p.add_argument("--postal-code", help="SignatureProductionPlace/PostalCode")
    p.add_argument("--country", help="SignatureProductionPlace/CountryName")
    p.add_argument(
        "--xades", choices=["1.1.1", "1.2.2"], default="1.2.2", help="XAdES namespace (default 1.2.2)"
    )
    p.add_argument(
        "--global", dest="global_", action="store_true", help="one signature on the whole PES_Aller"
    )
    p.add_argument("--include-chain", action="store_true", help="put the issuer chain in KeyInfo too")
    p.set_defaults(handler=_sign)

    p = pes_sub.add_parser(
        "verify",
        help="verify every signature of PES_Aller files",
        description="Verify every signature of each file and say, per file: VALIDE (signatures intact, "
        "every signer's certificate chains to the trust store of --trust or the settings' trust_dir), "
        "SIGNATURES INTACTES, SIGNATAIRE NON VÉRIFIÉ (no trust store was given: anyone holding a key may "
        "have signed), or INVALIDE. Exit 0 when every file is VALIDE, or only intact with "
        "--integrity-only; 1 otherwise; 2 for usage and I/O errors.",
    )
    p.add_argument("files", nargs="+", type=existing_file, metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines)")
    p.add_argument(
        "--trust", type=existing_dir, metavar="DIR", help="directory of trusted CA certificates (PEM/DER)"
    )
    p.add_argument(
        "--integrity-only",
        action="store_true",
        help="exit 0 for intact signatures even though no trust store says who signed",
    )
    p.add_argument(
        "--require-non-repudiation", action="store_true", help="reject certificates without non-repudiation"
    )
    p.set_defaults(handler=_verify)


def _signer_config(args: argparse.Namespace) -> SignerConfig:
    """The profile's signer (if any) with what the command line says over it."""
    from demat.config import SignerConfig

    given = {
        "key": args.key,
        "cert": args.cert,
        "p12": args.p12,
        "password_env": args.password_env,
        "password_file": args.password_file,
        "claimed_role": args.role or None,
        "city": args.city or None,
        "postal_code": args.postal_code or None,
        "country": args.country or None,
    }
    if args.profile:
        base = settings_from(args).profile(args.profile).signer
        if base is None:
            raise ConfigError(f"profile {args.profile!r} has no signer")
        if args.key or args.cert or args.p12:
            base = base.model_copy(update={"key": None, "cert": None, "p12": None})
        update = {k: v for k, v in given.items() if v is not None}
        return base.model_copy(update=update)
    if not (args.p12 or (args.key and args.cert)):
        raise ConfigError("give --key and --cert, or --p12 (or --profile)")
    return SignerConfig(**{k: v for k, v in given.items() if v is not None})


def _sign(args: argparse.Namespace) -> int:
    from demat.gateway.identity import load_signer, pes_sign_options_for
    from demat.gateway.options import max_pj_text, xml_limits
    from demat.pes.sign import sign_pes_file

    _refuse_unless_latin1(args.input)
    config = _signer_config(args)
    signer = load_signer(config)
    options = pes_sign_options_for(
        config,
        mode="global" if args.global_ else "bordereau",
        xades_version=args.xades,
        include_chain=args.include_chain,
    )
    from demat.cli import progress
    from demat.cli.pes_build import output_path, wrote

    with output_path(args.output) as out:
        settings = settings_from(args)
        with progress.working(f"signing {args.input.name}"):
            sign_pes_file(
                args.input,
                out,
                signer,
                options=options,
                limits=xml_limits(settings),
                max_pj_text=max_pj_text(settings),
            )
        size = out.stat().st_size
    how = "one signature on the whole PES" if args.global_ else "one signature per bordereau"
    wrote(args.output, size, f"signed ({how}) by {signer.cert.subject.rfc4514_string()}")
    return EXIT_OK


def _refuse_unless_latin1(path: Path) -> None:
    """A PES in another encoding than ISO-8859-1 is refused before signing, as ``pes validate``
    and ``send`` refuse it: Hélios and S²LOW take nothing else, and transcoding a signed file
    would break its signatures."""
    from demat.errors import ValidationError
    from demat.pes.encoding import is_latin1_name
    from demat.xml.prolog import PROLOG_SCAN, check_prolog

    # Through the XML gate first: an empty, non-XML or hostile file is refused as such, not
    # sent to `pes transcode`.
    with path.open("rb") as f:
        found = check_prolog(f.read(PROLOG_SCAN), str(path)).encoding
    if not is_latin1_name(found):
        raise ValidationError(
            f"encoded in {found}; Hélios and S²LOW take ISO-8859-1 only, and a signed file cannot be "
            f"converted afterwards: run 'demat pes transcode {path} -o OUT' first, then sign OUT",
            file=str(path),
            code="PES_ENCODING",
        )


def _verify(args: argparse.Namespace) -> int:
    from demat.gateway.options import max_pj_text, xml_limits
    from demat.pes.sign import verify_pes
    from demat.signing.trust import TrustStore
    from demat.signing.verify import Issue, VerifyReport

    settings = settings_from(args)
    trust_dir = args.trust or settings.trust_dir
    trust = TrustStore.from_dir(trust_dir) if trust_dir else None
    status = EXIT_OK
    for path in args.files:
        try:
            report = verify_pes(
                path,
                trust=trust,
                require_non_repudiation=args.require_non_repudiation,
                limits=xml_limits(settings),
                max_pj_text=max_pj_text(settings),
            )
        except DematError as exc:
            if exit_code(exc) != EXIT_INVALID:  # not the file's fault: settings, I/O
                raise
            report = VerifyReport(file=str(path), errors=[Issue(exc.code, exc.message)])
        if report.verdict == "invalid" or (report.verdict == "intact" and not args.integrity_only):
            status = EXIT_INVALID
        if args.json:
            emit_json(report.to_dict())
        else:
            _print_report(report)
    return status


_VERDICTS = {
    "valid": "signatures valid",
    "intact": "signatures intact, signer not checked",
    "invalid": "signatures invalid",
}


def _print_report(report: Any) -> None:
    from demat.cli.voice import finding, verdict

    print(verdict(report.file, _VERDICTS[report.verdict]))
    if report.verdict == "intact":
        print(
            "  no authority checked the signers' certificates (no trust store: --trust DIR, or "
            "trust_dir in the settings): nothing says who signed"
        )
    for issue in report.errors:
        print(finding("error", issue.code, issue.message))
    for issue in report.warnings:
        print(finding("warning", issue.code, issue.message))
    for sig in report.signatures:
        target = sig.target.id or sig.target.path if sig.target else "?"
        cert = sig.certificate
        crypto = "ok" if sig.crypto_valid else "KO"
        print(
            f"  signature {sig.signature_id or sig.path} -> {target}: "
            f"{'valid' if sig.valid else 'invalid'} (cryptography {crypto})"
        )
        if cert is not None:
            print(f"    signer {cert.subject} (issued by {cert.issuer}, serial {cert.serial})")
            print(
                f"    valid {cert.not_before:%Y-%m-%d} → {cert.not_after:%Y-%m-%d}, "
                f"signed at {sig.signing_time}"
            )
        for issue in sig.errors:
            print(finding("error", issue.code, issue.message, indent="    "))
        for issue in sig.warnings:
            print(finding("warning", issue.code, issue.message, indent="    "))


__all__ = [
    "register",
]
