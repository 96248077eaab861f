"""SIPs for the SAE tests: built by demat.archive (valid, small), or spoiled on purpose."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

from demat.archive import Agency, ArchiveInput, build_package

#: The fictitious commune's SIRET (the demo profile's).
COMMUNE = "21440015200010"
AGREEMENT = "IC-DEMAT-PES"
SAE = "FRAD044"
WHEN = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def build_sip(
    out: Path,
    *,
    transmission: str = "t-0001",
    version: str = "2.2",
    agreement: str | None = AGREEMENT,
    content: bytes = b"<PES_Aller>exemple</PES_Aller>",
    extra: int = 0,
) -> Path:
    """A SIP of one transmission (a PES, its acquittal, ``extra`` bytes of annex), written to ``out``."""
    documents: list[tuple[str, bytes, str] | tuple[str, bytes, str, str]] = [
        ("PES_Aller.xml", content, "pes_aller"),
        ("ACK.xml", b"<PES_ACQUIT/>", "pes_acquit", "received"),
    ]
    if extra:
        documents.append(("annexe.bin", noise(extra), "annexe"))
    facts = ArchiveInput(
        transmission_id=transmission,
        profile="demo",
        originating_agency=Agency(COMMUNE, "Commune de démonstration"),
        flow="pes",
        name="PES_Aller.xml",
        documents=documents,
        started=WHEN,
        finished=WHEN,
        archival_agency=Agency(SAE),
        archival_agreement=agreement,
    )
    build_package(facts, seda_version=version).to_zip(out)
    return out


def noise(size: int) -> bytes:
    """``size`` bytes that do not compress (a SHA-256 chain: the same every run)."""
    out, block = bytearray(), b"demat"
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def spoil(sip: Path, out: Path, member: str | None = None) -> Path:
    """A copy of ``sip`` whose first content file (or ``member``) has one byte changed: the
    manifest's digest no longer matches it."""
    with zipfile.ZipFile(sip) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        target = member or next(n for n in src.namelist() if n.startswith("content/"))
        for info in src.infolist():
            data = src.read(info)
            if info.filename == target:
                data = bytes([data[0] ^ 0x01]) + data[1:]
            dst.writestr(info, data)
    return out


def rezip_without_manifest(sip: Path, out: Path) -> Path:
    """``sip`` with its manifest moved into a folder (Vitam finds no manifest at the root)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(sip) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            name = f"sub/{info.filename}" if info.filename == "manifest.xml" else info.filename
            dst.writestr(name, src.read(info))
    out.write_bytes(buf.getvalue())
    return out


__all__ = ["AGREEMENT", "COMMUNE", "SAE", "WHEN", "build_sip", "noise", "rezip_without_manifest", "spoil"]
