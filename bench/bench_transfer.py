"""Onward transfer: what sending a package to Vitam or as@lae costs beside reading it, side by side.

One SIP (a manifest and ``--mb`` MB of content that does not compress, in ``--files`` files) is:

* read and hashed (SHA-512) from disk: the floor for looking at every byte once;
* posted to the sandbox's Vitam over loopback mutual TLS by the ``vitam`` client (manifest
  digest, streaming upload, ``Expect: 100-continue``) until its 202, then polled until the
  ArchiveTransferReply (the sandbox re-hashes every file, as Vitam does);
* split as the ``asalae`` client does (the bordereau, and the files as a ``.tar.gz``: gzip
  level 1, the cost that dominates on content that does not compress);
* posted to the sandbox's as@lae by the ``asalae`` client, in one request and in chunks of
  ``--chunk-mb`` (split, then uploaded), until the reply;

and each is reported in MB/s and as a ratio of the floor. Client and server share the process
(and the machine's cores). MB = 10^6 bytes.

Usage: ``.venv/bin/python bench/bench_transfer.py [--mb 64] [--files 4] [--chunk-mb 8]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
import zipfile
from pathlib import Path

from demat.sandbox import SandboxPKI
from demat.sandbox.asalae import AsalaeConfig, AsalaeSandbox
from demat.sandbox.vitam import VitamSandbox
from demat.transport import ClientTLS
from demat.transport.asalae import AsalaeService
from demat.transport.protocol import SipTransfer, TransferRef
from demat.transport.sip import split_for_asalae
from demat.transport.vitam import VitamService

NS = "fr:gouv:culture:archivesdefrance:seda:v2.2"


def make_sip(path: Path, mb: int, files: int) -> None:
    """A SEDA 2.2 SIP with ``files`` files of incompressible bytes, ``mb`` MB in all."""
    size = mb * 1_000_000 // files
    objects = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for i in range(files):
            block, data = f"bench{i}".encode(), bytearray()
            while len(data) < size:
                block = hashlib.sha512(block).digest()
                data += block
            content = bytes(data[:size])
            zf.writestr(f"content/f{i}.bin", content)
            objects.append(
                f'<DataObjectGroup id="G{i}"><BinaryDataObject id="B{i}"><Uri>content/f{i}.bin</Uri>'
                f'<MessageDigest algorithm="SHA-512">{hashlib.sha512(content).hexdigest()}</MessageDigest>'
                f"<Size>{size}</Size></BinaryDataObject></DataObjectGroup>"
            )
        manifest = (
            f'<?xml version="1.0" encoding="UTF-8"?><ArchiveTransfer xmlns="{NS}">'
            "<Date>2026-01-05T10:00:00</Date>"
            "<MessageIdentifier>BENCH-1</MessageIdentifier><ArchivalAgreement>IC-1</ArchivalAgreement>"
            f"<CodeListVersions/><DataObjectPackage>{''.join(objects)}<DescriptiveMetadata>"
            '<ArchiveUnit id="AU0"><Content><DescriptionLevel>File</DescriptionLevel><Title>bench</Title>'
            "</Content></ArchiveUnit></DescriptiveMetadata><ManagementMetadata>"
            "<OriginatingAgencyIdentifier>21440015200010</OriginatingAgencyIdentifier></ManagementMetadata>"
            "</DataObjectPackage><ArchivalAgency><Identifier>FRAD044</Identifier></ArchivalAgency>"
            "<TransferringAgency><Identifier>21440015200010</Identifier></TransferringAgency></ArchiveTransfer>"
        )
        zf.writestr("manifest.xml", manifest)


def sha512_file(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def until_reply(service: VitamService | AsalaeService, ref: TransferRef) -> None:
    while (await service.progress(ref)).reply is None:
        await asyncio.sleep(0.01)


async def run(work: Path, sip: Path, chunk: int) -> dict[str, tuple[float, float]]:
    """Seconds to the receipt and to the reply, per way of sending."""
    pki = SandboxPKI.create(work / "pki")
    transfer = SipTransfer(sip, "BENCH-1", "21440015200010", "bench")
    found: dict[str, tuple[float, float]] = {}
    async with VitamSandbox.start(pki=pki) as vitam:
        cert, key = vitam.client_cert_paths()
        svc = VitamService(vitam.url, ClientTLS(cert=cert, key=key, ca_bundle=vitam.ca_path), tenant=0)
        try:
            start = time.perf_counter()
            answer = await svc.transfer(transfer)
            received = time.perf_counter() - start
            ref = TransferRef(answer.remote_id or "", "BENCH-1", "21440015200010")
            await until_reply(svc, ref)
            found["vitam"] = (received, time.perf_counter() - start)
        finally:
            await svc.close()
    for name, size in (("as@lae, one request", 0), (f"as@lae, chunks of {chunk // 1_000_000} MB", chunk)):
        async with AsalaeSandbox.start(AsalaeConfig(), pki=pki) as asalae:
            svc2 = AsalaeService(
                asalae.url,
                ClientTLS(ca_bundle=asalae.ca_path),
                login="versant",
                password="secret",
                chunk_size=size,
            )
            try:
                start = time.perf_counter()
                await svc2.transfer(transfer)
                received = time.perf_counter() - start
                await until_reply(svc2, TransferRef("BENCH-1", "BENCH-1", "21440015200010"))
                found[name] = (received, time.perf_counter() - start)
            finally:
                await svc2.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--chunk-mb", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        work = Path(tmp)
        sip = work / "sip.zip"
        make_sip(sip, args.mb, args.files)
        mb = sip.stat().st_size / 1e6
        start = time.perf_counter()
        sha512_file(sip)
        floor = time.perf_counter() - start
        start = time.perf_counter()
        split_for_asalae(sip, work)
        split = time.perf_counter() - start
        results = asyncio.run(run(work, sip, args.chunk_mb * 1_000_000))
    print(f"SIP: {mb:.1f} MB in {args.files} files (incompressible), loopback TLS, one process")
    print(f"{'read + SHA-512 (floor)':34} {floor:7.2f} s  {mb / floor:7.1f} MB/s")
    label = "as@lae split alone (tar.gz)"
    print(f"{label:34} {split:7.2f} s  {mb / split:7.1f} MB/s  {split / floor:5.1f}x floor")
    for name, (received, replied) in results.items():
        for step, seconds in (("receipt", received), ("reply", replied)):
            label = f"{name}: {step}"
            print(f"{label:34} {seconds:7.2f} s  {mb / seconds:7.1f} MB/s  {seconds / floor:5.1f}x floor")


if __name__ == "__main__":
    main()
