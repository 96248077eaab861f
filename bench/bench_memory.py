"""Peak RSS of every file command, on big synthetic PES and on hostile inputs, beside plain lxml.

    .venv/bin/python bench/bench_memory.py [--sizes 100 500] [--hostile-mib 1024] [--dir DIR]
                                           [--only SUBSTRING …] [--no-lxml]

Each command runs as ``demat …`` in its own process; its peak RSS is that process's own
high-water mark (``VmHWM``, which ``execve`` resets: ``ru_maxrss`` would start from the parent's
size), so figures belong to that one command. Beside each input, the same file is parsed by
plain lxml (``etree.parse`` with ``huge_tree``, what a naive reader does) in its own process: the
reference a bounded reader is compared with. The import floor (``demat --help``) is printed
first: what any command costs before it reads a byte.

Inputs (written once into ``--dir``, reused by later runs):

* ``pes-N.xml`` / ``pes-N.signed.xml``: ``demat pes build --synthetic --size NMB``, then signed
  bordereau by bordereau with a throwaway key;
* hostile, ``--hostile-mib`` each: a PES_Aller whose ``NomFic/@V`` is one huge attribute; one with
  a huge ``Fichier`` (PJ) text node; one with a huge text node where the format allows only a few
  characters; one made of millions of tiny unknown elements; a PES_ACQUIT, a TOTEM
  DocumentBudgetaire and an ACTES message of that size; a 2 GiB sparse ``.tar.gz``; a PES whose
  PJ inflates to just under the PJ cap and an ACTES archive whose member inflates to just under
  the member cap (gzip bombs inside the caps);
* a valid PES with one PJ of 46 MiB of base64 (random content), just under the PJ cap: the most
  a legitimate file makes a command hold.

The verdict column is the command's exit code and the first line it wrote on stderr. With
``--baseline-src DIR`` (``git worktree add /tmp/base COMMIT``, then ``--baseline-src
/tmp/base/src``) each command also runs on that tree, alternately, and the line ends with both
peaks and CPU times and their ratio: before and after, side by side in one run. Each command
runs under a 6 GiB address-space cap (``RLIMIT_AS``): one that needs more fails at the cap (its
peak then reads about 6 GiB, with a MemoryError or a libxml2 memory error) rather than taking the
machine with it.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import os
import resource
import subprocess
import sys
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024
PY = sys.executable
DEMAT = ["-m", "demat.cli"]
ALLER = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
ACQUIT = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour/v2"
DOCBUDG = "http://www.minefi.gouv.fr/cp/demat/docbudgetaire"
ACTES = "http://www.interieur.gouv.fr/ACTES#v1.1-20040216"


# --- inputs -----------------------------------------------------------------------------------


def _write_stream(path: Path, head: bytes, unit: bytes, total: int, tail: bytes) -> None:
    """head + unit repeated + tail, ``total`` bytes less 4 KiB (just under a cap of ``total``)."""
    total -= 4096 + len(tail)
    block = unit * max(1, MIB // len(unit))
    with path.open("wb") as out:
        out.write(head)
        written = len(head)
        while written + len(block) <= total:
            out.write(block)
            written += len(block)
        out.write(unit * ((total - written) // len(unit)))
        out.write(tail)


_PES_HEAD = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    f'<n:PES_Aller xmlns:n="{ALLER}"><Enveloppe><Parametres><Version V="2"/>'
    '<TypFic V="PESALR2"/><NomFic V="'
)
_PES_REST = (
    '"/></Parametres></Enveloppe><EnTetePES><DteStr V="2024-01-01"/><IdPost V="044001"/>'
    '<IdColl V="21440015200017"/><CodCol V="001"/><CodBud V="00"/></EnTetePES>'
)


def pes_attribute(path: Path, size: int) -> None:
    _write_stream(path, _PES_HEAD.encode(), b"A", size, (_PES_REST + "</n:PES_Aller>").encode())


def pes_pj_text(path: Path, size: int) -> None:
    head = (
        _PES_HEAD + "X" + _PES_REST + '<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ><PJ><Contenu>'
        '<Fichier MIMEType="application/pdf">H4sI'
    )
    tail = '</Fichier></Contenu><IdUnique V="PJ1"/><NomPJ V="a.pdf"/></PJ></PES_PJ></n:PES_Aller>'
    _write_stream(path, head.encode(), b"QUFB" * 19 + b"\n", size, tail.encode())


def pes_short_text(path: Path, size: int) -> None:
    head = _PES_HEAD + "X" + _PES_REST.split('<CodBud V="00"/>')[0] + "<CodBud>"
    _write_stream(path, head.encode(), b"B", size, b"</CodBud></EnTetePES></n:PES_Aller>")


def pes_elements(path: Path, size: int) -> None:
    head = _PES_HEAD + "X" + _PES_REST + "<Extra>"
    _write_stream(path, head.encode(), b"<e/>", size, b"</Extra></n:PES_Aller>")


def acquit(path: Path, size: int) -> None:
    head = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
        f'<n:PES_ACQUIT xmlns:n="{ACQUIT}"><Enveloppe><Parametres><Version V="2"/><TypFic V="PESACK"/>'
        '<NomFic V="ACK"/></Parametres></Enveloppe><EnTetePES><DteStr V="2024-01-01"/>'
        '<IdPost V="044001"/><IdColl V="21440015200017"/><CodCol V="001"/><CodBud V="00"/></EnTetePES>'
        '<ACQUIT><ElementACQUIT><DomaineAck V="5"/><EtatAck V="0"/>'
    )
    unit = b'<Erreur><NumAnoAck V="ERREUR_AUTRE"/><LibelleAnoAck V="x"/></Erreur>'
    _write_stream(path, head.encode(), unit, size, b"</ElementACQUIT></ACQUIT></n:PES_ACQUIT>")


def totem(path: Path, size: int) -> None:
    head = (
        f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<DocumentBudgetaire xmlns="{DOCBUDG}">'
        '<VersionSchema V="92"/><EnTeteDocBudgetaire><DteStr V="2024-01-01"/></EnTeteDocBudgetaire>'
        "<Budget>"
    )
    unit = b'<LigneBudget><Nature V="6411"/><MtPrev V="1.00"/></LigneBudget>'
    _write_stream(path, head.encode(), unit, size, b"</Budget></DocumentBudgetaire>")


def actes_message(path: Path, size: int) -> None:
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<actes:ARActe xmlns:actes="{ACTES}" actes:IDActe="'
    _write_stream(path, head.encode(), b"A", size, b'" actes:DateReception="2024-01-01"/>')


def sparse(path: Path, size: int) -> None:
    with path.open("wb") as out:
        out.write(b"\x1f\x8b")
        out.truncate(size)


def pes_pj_at_cap(path: Path, size: int) -> None:
    """A valid PES whose one PJ's base64 is ``size`` bytes (random, so gzip cannot shrink it)."""
    raw = size * 3 // 4 - 64
    gz = gzip.compress(os.urandom(raw), compresslevel=1)
    b64 = base64.encodebytes(gz)
    head = (
        _PES_HEAD + "X" + _PES_REST + '<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ><PJ><Contenu>'
        '<Fichier MIMEType="application/pdf">'
    )
    tail = '</Fichier></Contenu><IdUnique V="PJ1"/><NomPJ V="a.pdf"/></PJ></PES_PJ></n:PES_Aller>'
    path.write_bytes(
        head.encode() + b64[: size - len(head) - len(tail) - 4096].rstrip(b"=\n") + tail.encode()
    )


def pes_pj_bomb(path: Path, size: int) -> None:
    """A PES whose one PJ inflates to ``size`` bytes (zeros), just under the PJ cap."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = bytes(MIB)
    gz = b"".join(comp.compress(zero) for _ in range(size // MIB)) + comp.flush()
    b64 = base64.encodebytes(gz).decode()
    text = (
        _PES_HEAD + "X" + _PES_REST + '<PES_PJ><EnTetePES_PJ><IdVer V="1"/></EnTetePES_PJ><PJ><Contenu>'
        f'<Fichier MIMEType="application/pdf">{b64}</Fichier></Contenu><IdUnique V="PJ1"/>'
        '<NomPJ V="a.pdf"/></PJ></PES_PJ></n:PES_Aller>'
    )
    path.write_text(text, encoding="latin-1")


def actes_bomb(path: Path, size: int) -> None:
    """A .tar.gz whose one member inflates to ``size`` zeros (under the member cap)."""

    class Zeros(io.RawIOBase):
        def __init__(self, n: int) -> None:
            self.left = n

        def readable(self) -> bool:
            return True

        def readinto(self, b: object) -> int:
            view = memoryview(b)  # type: ignore[arg-type]
            n = min(len(view), self.left)
            view[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(path, "w:gz", compresslevel=9) as tar:
        info = tarfile.TarInfo("acte.pdf")
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size)))


def build_pes(directory: Path, mib: int) -> tuple[Path, Path]:
    plain = directory / f"pes-{mib}.xml"
    signed = directory / f"pes-{mib}.signed.xml"
    if not plain.exists():
        _check([PY, *DEMAT, "pes", "build", "--synthetic", "--size", f"{mib}MB", "-o", str(plain)])
    if not signed.exists():
        key, cert = signing_key(directory)
        _check(
            [PY, *DEMAT, "pes", "sign", str(plain), "-o", str(signed), "--key", str(key), "--cert", str(cert)]
        )
    return plain, signed


def signing_key(directory: Path) -> tuple[Path, Path]:
    key, cert = directory / "signer.key.pem", directory / "signer.cert.pem"
    if not key.exists():
        from demat.signing import devpki

        ca = devpki.make_ca("bench CA")
        devpki.issue(ca, "bench signer", kind="signing").write(directory, "signer")
    return key, cert


def _check(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Run:
    rss_mib: float
    seconds: float
    code: int
    said: str
    cpu: float = 0.0  #: user + system seconds of the child


#: Address space each measured command may take: a command that would need more fails there
#: (MemoryError, or the kernel's refusal) instead of taking the machine with it.
AS_CAP = 6 * 1024 * MIB


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_CAP, AS_CAP))


#: Runs a module or a script, then writes the high-water mark of its own address space
#: (``VmHWM``, reset by execve; ``ru_maxrss`` would start from the parent's size).
_WRAPPER = """
import runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                sys.stderr.write(f"\\nVMHWM {int(line.split()[1])}\\n")
sys.argv = sys.argv[1:]
try:
    if sys.argv[0] == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__")
    else:
        exec(compile(sys.argv[0], "<code>", "exec"), {"__name__": "__main__"})
finally:
    _hwm()
"""


def measure(args: list[str], src: Path | None = None) -> Run:
    """Run ``python args`` (``-m module …`` or ``code …``); its own peak RSS, CPU time and
    verdict. ``src`` runs another tree's ``demat`` (``PYTHONPATH``)."""
    env = dict(os.environ, PYTHONPATH=str(src)) if src is not None else None
    started = time.perf_counter()
    child = subprocess.Popen(
        [PY, "-c", _WRAPPER, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_cap_memory,
        env=env,
    )
    assert child.stderr is not None
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    err, _, hwm = stderr.rpartition("\nVMHWM ")
    peak = int(hwm.split()[0]) / 1024 if hwm.strip() else float("nan")  # killed: no measure
    lines = [ln for ln in err.splitlines() if ln.strip()]
    said = lines[0] if lines else ""
    if any(ln.startswith("Traceback") for ln in lines):
        said = "TRACEBACK " + lines[-1]
    code = os.waitstatus_to_exitcode(status)
    return Run(peak, seconds, code, said[:90], usage.ru_utime + usage.ru_stime)


LXML = (
    "import sys\nfrom lxml import etree\n"
    "p = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)\n"
    "try:\n    etree.parse(sys.argv[1], p)\n"
    "except Exception as e:\n    print(type(e).__name__, e, file=sys.stderr)\n"
)


@dataclass
class Case:
    label: str
    make: Callable[[Path, int], None] | None
    file: str
    size: int
    commands: list[list[str]]


def cases(directory: Path, sizes: list[int], hostile: int, trust: Path | None) -> list[Case]:
    out: list[Case] = []
    for mib in sizes:
        key, cert = signing_key(directory)
        sign = [
            "pes",
            "sign",
            "{f}",
            "-o",
            str(directory / "out.xml"),
            "--key",
            str(key),
            "--cert",
            str(cert),
        ]
        out.append(
            Case(
                f"synthetic PES {mib} MB",
                None,
                f"pes-{mib}.xml",
                mib,
                [["pes", "inspect", "{f}"], ["pes", "validate", "{f}"], sign],
            )
        )
        out.append(
            Case(f"signed PES {mib} MB", None, f"pes-{mib}.signed.xml", mib, [["pes", "verify", "{f}"]])
        )
    h = hostile * MIB
    key, cert = signing_key(directory)
    sign = ["pes", "sign", "{f}", "-o", str(directory / "out.xml"), "--key", str(key), "--cert", str(cert)]
    out += [
        Case("PES, one huge attribute", pes_attribute, "h-pes-attribute.xml", h, _pes_all(sign)),
        Case("PES, one huge PJ text", pes_pj_text, "h-pes-pj-text.xml", h, _pes_all(sign)),
        Case("PES, huge text in CodBud", pes_short_text, "h-pes-short-text.xml", h, _pes_all(sign)),
        Case("PES, millions of elements", pes_elements, "h-pes-elements.xml", h, _pes_all(sign)),
        Case("PES_ACQUIT", acquit, "h-acquit.xml", h, [["pes", "ack", "{f}"]]),
        Case(
            "TOTEM DocumentBudgetaire",
            totem,
            "h-totem.xml",
            h,
            [["totem", "inspect", "{f}"], ["totem", "validate", "{f}"], ["totem", "verify", "{f}"]],
        ),
        Case("ACTES message", actes_message, "h-actes.xml", h, [["actes", "inspect", "{f}"]]),
        Case("sparse .tar.gz (2 GiB)", sparse, "h-sparse.tar.gz", 2048 * MIB, [["actes", "inspect", "{f}"]]),
        Case("PES, PJ bomb (250 MiB)", pes_pj_bomb, "h-pj-bomb.xml", 250 * MIB, [["pes", "validate", "{f}"]]),
        Case(
            "PES, one PJ of 46 MiB (under its cap)",
            pes_pj_at_cap,
            "pes-pj-46.xml",
            46 * MIB,
            [["pes", "inspect", "{f}"], ["pes", "validate", "{f}"], sign],
        ),
        Case(
            "ACTES .tar.gz bomb (199 MiB member)",
            actes_bomb,
            "h-actes-bomb.tar.gz",
            199 * MIB,
            [["actes", "inspect", "{f}"]],
        ),
    ]
    return out


def _pes_all(sign: list[str]) -> list[list[str]]:
    return [["pes", "inspect", "{f}"], ["pes", "validate", "{f}"], sign, ["pes", "verify", "{f}"]]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 500], metavar="MB")
    ap.add_argument("--hostile-mib", type=int, default=1024)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/demat-bench-memory"))
    ap.add_argument("--only", nargs="*", default=[], help="run the cases whose label holds one of these")
    ap.add_argument("--no-lxml", action="store_true", help="skip the plain lxml column")
    ap.add_argument(
        "--baseline-src",
        type=Path,
        metavar="DIR",
        help="another tree's src/ (e.g. a worktree of an older commit): each command runs there "
        "too, alternately, best CPU time of --repeat runs each, and the ratio is printed",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per command and tree (best CPU time)")
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)

    floor = measure([*DEMAT, "--help"])
    print(f"import floor (demat --help): {floor.rss_mib:.0f} MiB")
    print(
        f"{'input':38} {'MiB':>6} {'command':22} {'peak RSS':>9} {'exit':>4} {'time':>7}"
        "  first line on stderr"
    )
    for case in cases(args.dir, args.sizes, args.hostile_mib, None):
        if args.only and not any(o.lower() in case.label.lower() for o in args.only):
            continue
        path = args.dir / case.file
        if case.make is None:
            build_pes(args.dir, case.size)
        elif not path.exists() or abs(path.stat().st_size - case.size) > MIB:
            case.make(path, case.size)
        size = path.stat().st_size / MIB
        for command in case.commands:
            cmd = [*DEMAT, *[c.replace("{f}", str(path)) for c in command]]
            runs: dict[str, list[Run]] = {"base": [], "this": []}
            for _ in range(args.repeat):
                if args.baseline_src is not None:
                    runs["base"].append(measure(cmd, args.baseline_src))
                runs["this"].append(measure(cmd))
            r = min(runs["this"], key=lambda run: run.cpu)
            name = " ".join(command[:2])
            line = f"{case.label:38} {size:6.0f} {name:22} {r.rss_mib:7.0f}Mi {r.code:4} {r.seconds:6.1f}s"
            if runs["base"]:
                b = min(runs["base"], key=lambda run: run.cpu)
                ratio = r.cpu / b.cpu if b.cpu else float("nan")
                line += f"  baseline {b.rss_mib:.0f}Mi {b.cpu:.2f}s CPU, this {r.cpu:.2f}s: {ratio:.2f}x"
            print(f"{line}  {r.said}", flush=True)
        if not args.no_lxml and path.suffix == ".xml":
            r = measure([LXML, str(path)])
            print(
                f"{case.label:38} {size:6.0f} {'plain lxml parse':22} {r.rss_mib:7.0f}Mi {r.code:4} "
                f"{r.seconds:6.1f}s  {r.said}",
                flush=True,
            )


if __name__ == "__main__":
    main()
