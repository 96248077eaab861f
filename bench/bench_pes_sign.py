"""PES signing and verification: demat vs xmlsec1, side by side on the same file.

    .venv/bin/python bench/bench_pes_sign.py [--bordereaux 200] [--repeat 3]

The file is a synthetic PES_Aller (``demat.pes.synthetic``) with N bordereaux. demat signs
every bordereau in one call (one parse, one c14n per bordereau) and verifies every signature
in one call. xmlsec1 signs or verifies one ``ds:Signature`` per invocation (``--node-id``),
which is how its command line works (S²LOW runs it that way): N invocations on the same
file. Its template is demat's output with every DigestValue and SignatureValue emptied, so
both sides produce the same signatures. A second xmlsec1 figure, on a one-bordereau file,
shows its per-signature cost with the least parsing: the fairest lower bound for xmlsec1.
Both sides use the same 2048-bit RSA key. Figures are bordereaux per second, best of
``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from demat.pes.build import build_pes_bytes
from demat.pes.sign import sign_pes, verify_pes
from demat.pes.synthetic import synthetic_pes
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.signing.xmldsig import DS_NS, XADES_122

ALLER = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
ID_ATTRS = [
    "--id-attr:Id",
    "Bordereau",
    "--id-attr:Id",
    f"{ALLER}:PES_Aller",
    "--id-attr:Id",
    f"{XADES_122}:SignedProperties",
    "--id-attr:Id",
    f"{DS_NS}:Signature",
]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def signature_ids(data: bytes) -> list[str]:
    root = etree.fromstring(data)
    return [s.get("Id") for s in root.iter(f"{{{DS_NS}}}Signature")]


def template_of(signed: bytes) -> bytes:
    """demat's output with the computed values emptied: an xmlsec1 signing template."""
    root = etree.fromstring(signed)
    for tag in ("DigestValue", "SignatureValue"):
        for el in root.iter(f"{{{DS_NS}}}{tag}"):
            el.text = None
    return etree.tostring(root.getroottree(), encoding="ISO-8859-1", xml_declaration=True)


def xmlsec_sign_all(xmlsec1: str, template: Path, out: Path, key: Path, cert: Path, ids: list[str]) -> None:
    shutil.copyfile(template, out)
    for sig_id in ids:
        subprocess.run(
            [xmlsec1, "--sign", *ID_ATTRS, "--privkey-pem", f"{key},{cert}", "--node-id", sig_id,
             "--output", str(out), str(out)],
            check=True, capture_output=True,
        )  # fmt: skip


def xmlsec_verify_all(xmlsec1: str, signed: Path, ca: Path, ids: list[str]) -> None:
    for sig_id in ids:
        subprocess.run(
            [xmlsec1, "--verify", *ID_ATTRS, "--trusted-pem", str(ca), "--node-id", sig_id, str(signed)],
            check=True, capture_output=True,
        )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bordereaux", type=int, default=200)
    parser.add_argument("--pieces", type=int, default=3, help="pièces per bordereau")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1 is None:
        print("xmlsec1 not found", file=sys.stderr)
        return 2
    n = args.bordereaux

    ca = devpki.make_ca()
    issued = devpki.issue(ca, "Bench Signataire")
    signer = Signer(issued.key, issued.cert, issued.chain)
    data = build_pes_bytes(synthetic_pes(bordereaux=n, pieces_per_bordereau=args.pieces, pj_count=0))
    one = build_pes_bytes(synthetic_pes(bordereaux=1, pieces_per_bordereau=args.pieces, pj_count=0))

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        key, cert = issued.write(d, "signer")
        ca_pem = d / "ca.pem"
        ca_pem.write_bytes(ca.cert_pem())

        signed = sign_pes(data, signer)
        signed_path = d / "signed.xml"
        signed_path.write_bytes(signed)
        ids = signature_ids(signed)
        assert len(ids) == n
        template = d / "template.xml"
        template.write_bytes(template_of(signed))
        one_signed = sign_pes(one, signer)
        one_path = d / "one.xml"
        one_path.write_bytes(one_signed)
        one_template = d / "one_template.xml"
        one_template.write_bytes(template_of(one_signed))
        one_ids = signature_ids(one_signed)

        t_sign = best(lambda: sign_pes(data, signer), args.repeat)
        t_verify = best(lambda: verify_pes(signed), args.repeat)
        # xmlsec1 runs N processes per pass: one timed pass each, whose output is also checked.
        xmlsec_out = d / "xmlsec_signed.xml"
        t_x_sign = best(lambda: xmlsec_sign_all(xmlsec1, template, xmlsec_out, key, cert, ids), 1)
        t_x_verify = best(lambda: xmlsec_verify_all(xmlsec1, signed_path, ca_pem, ids), 1)
        assert verify_pes(xmlsec_out).valid, "demat rejects xmlsec1's signatures"
        t_x1_sign = best(lambda: xmlsec_sign_all(xmlsec1, one_template, d / "o.xml", key, cert, one_ids), 5)
        t_x1_verify = best(lambda: xmlsec_verify_all(xmlsec1, one_path, ca_pem, one_ids), 5)

    print(f"file: {n} bordereaux x {args.pieces} pièces, {len(data) / 1e6:.2f} MB unsigned, "
          f"{len(signed) / 1e6:.2f} MB signed")  # fmt: skip
    rows = [
        ("sign", n / t_sign, n / t_x_sign, 1 / t_x1_sign),
        ("verify", n / t_verify, n / t_x_verify, 1 / t_x1_verify),
    ]
    print(
        f"{'':8}{'demat':>14}{'xmlsec1 same file':>20}{'xmlsec1 1-bord file':>22}{'ratio':>9}{'ratio/1':>9}"
    )
    for name, ours, theirs, theirs_one in rows:
        print(
            f"{name:8}{ours:>10.0f} b/s{theirs:>16.1f} b/s{theirs_one:>18.1f} b/s"
            f"{ours / theirs:>8.1f}x{ours / theirs_one:>8.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
