"""PES pièces justificatives: gzip then base64, both ways, streaming and bomb-proof.

The DGFiP asks for every PJ "compressé avec Gzip puis converti en base 64" (Class_PJ.xsd,
``Fichier``). Encoding runs in chunks so a 400 MB attachment never sits in memory; decoding
caps the inflated size *while* inflating (``decompressobj().decompress(data, max_length)``),
so a small hostile PJ cannot expand into gigabytes before it is refused.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from demat.errors import PackagingError

#: Bytes read from a source at a time when encoding (a multiple of 3 keeps base64 aligned).
DEFAULT_CHUNK = 3 * 64 * 1024
#: Gzip magic number (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip container only, header and CRC checked by zlib
_WHITESPACE = re.compile(rb"[ \t\r\n]+")

#: What a PJ's original content is read from (not :data:`demat.xml.safe.Source`: a PJ is not parsed).
ContentSource = bytes | bytearray | memoryview | Path | Iterable[bytes]


def _iter_source(source: ContentSource, chunk_size: int) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source)
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
    elif isinstance(source, Path):
        with source.open("rb") as handle:
            while block := handle.read(chunk_size):
                yield block
    else:
        yield from source


def iter_gzip(source: ContentSource, *, level: int = 6, chunk_size: int = DEFAULT_CHUNK) -> Iterator[bytes]:
    """Gzip ``source`` in chunks. The header carries no name and mtime 0, so output is reproducible."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS)
    for block in _iter_source(source, chunk_size):
        out = compressor.compress(block)
        if out:
            yield out
    yield compressor.flush()


def iter_base64(chunks: Iterable[bytes]) -> Iterator[str]:
    """Base64 of the concatenation of ``chunks``, in pieces (no line breaks, like real PES files)."""
    carry = b""
    for block in chunks:
        data = carry + block if carry else block
        cut = len(data) - len(data) % 3
        carry = data[cut:]
        if cut:
            yield base64.b64encode(data[:cut]).decode("ascii")
    if carry:
        yield base64.b64encode(carry).decode("ascii")


def encode_pj(source: ContentSource, *, level: int = 6, chunk_size: int = DEFAULT_CHUNK) -> Iterator[str]:
    """Gzip then base64 a PJ's original content, as an iterator of ASCII text chunks.

    ``source`` is bytes, a :class:`~pathlib.Path` (read in chunks) or an iterable of byte chunks.
    Joining the chunks gives the text content of ``PES_PJ/PJ/Contenu/Fichier``.
    """
    return iter_base64(iter_gzip(source, level=level, chunk_size=chunk_size))


def encode_pj_text(source: ContentSource, *, level: int = 6) -> str:
    """The whole base64 text at once (small PJ only)."""
    return "".join(encode_pj(source, level=level))


def _b64_blocks(text_chunks: Iterable[str | bytes]) -> Iterator[bytes]:
    """Strict base64 decoding in pieces; whitespace (allowed in xs:base64Binary) is skipped."""
    carry = b""
    finished = False
    for chunk in text_chunks:
        raw = chunk.encode("ascii", "replace") if isinstance(chunk, str) else bytes(chunk)
        data = carry + _WHITESPACE.sub(b"", raw)
        if not data:
            continue
        if finished:
            raise PackagingError("base64 de la PJ invalide: données après le padding", code="PES_PJ_BASE64")
        cut = len(data) - len(data) % 4
        carry = data[cut:]
        block = data[:cut]
        if not block:
            continue
        finished = block.endswith(b"=")
        try:
            # strict_mode refuses foreign characters, misplaced padding and data after padding.
            yield binascii.a2b_base64(block, strict_mode=True)
        except binascii.Error as exc:
            raise PackagingError(f"base64 de la PJ invalide: {exc}", code="PES_PJ_BASE64") from exc
    if carry:
        raise PackagingError("base64 de la PJ tronqué (longueur non multiple de 4)", code="PES_PJ_BASE64")


def iter_inflate(
    blocks: Iterable[bytes], *, max_inflated: int, out_chunk: int = 1024 * 1024
) -> Iterator[bytes]:
    """Gunzip ``blocks`` (one or more gzip members), never producing more than ``max_inflated`` bytes.

    Raises :class:`~demat.errors.PackagingError` with code ``PES_PJ_NOT_GZIP`` (no gzip magic),
    ``PES_PJ_CORRUPT`` (bad deflate data, CRC, truncation, trailing garbage) or ``PES_PJ_BOMB``
    (the inflated size would exceed the cap).
    """
    if max_inflated < 0:
        raise ValueError("max_inflated must be >= 0")
    total = 0
    inflater: zlib._Decompress | None = None
    started = False
    pending = b""

    def refuse_bomb() -> PackagingError:
        return PackagingError(
            f"PJ refusée: une fois décompressée elle dépasserait {max_inflated} octets (bombe gzip ?)",
            code="PES_PJ_BOMB",
        )

    def feed(data: bytes) -> Iterator[bytes]:
        nonlocal total, inflater, started, pending
        while data:
            if inflater is None:
                # A new gzip member must start here; check its magic number ourselves so a
                # non-gzip PJ gets a clear code rather than zlib's generic message.
                data = pending + data
                if len(data) < 2:
                    pending = data
                    return
                pending = b""
                if data[:2] != GZIP_MAGIC:
                    if not started:
                        raise PackagingError(
                            "PJ non compressée en gzip (le format PES exige gzip puis base64)",
                            code="PES_PJ_NOT_GZIP",
                        )
                    raise PackagingError("données inattendues après la fin du gzip", code="PES_PJ_CORRUPT")
                inflater = zlib.decompressobj(_GZIP_WBITS)
                started = True
            try:
                while data:
                    room = max_inflated - total
                    # Ask for one byte more than the room left: getting it proves the cap is exceeded.
                    out = inflater.decompress(data, min(out_chunk, room + 1))
                    total += len(out)
                    if total > max_inflated:
                        raise refuse_bomb()
                    if out:
                        yield out
                    data = inflater.unconsumed_tail
                    if inflater.eof:
                        break
            except zlib.error as exc:
                raise PackagingError(f"gzip de la PJ corrompu: {exc}", code="PES_PJ_CORRUPT") from exc
            if inflater.eof:
                data = inflater.unused_data + data
                inflater = None

    for block in blocks:
        yield from feed(block)
    if not started:
        raise PackagingError("PJ vide ou non compressée en gzip", code="PES_PJ_NOT_GZIP")
    if inflater is not None:
        # Input ended inside a member: drain what zlib buffered, then it must have reached eof.
        try:
            while not inflater.eof:
                room = max_inflated - total
                out = inflater.decompress(b"", min(out_chunk, room + 1))
                total += len(out)
                if total > max_inflated:
                    raise refuse_bomb()
                if not out:
                    break
                yield out
        except zlib.error as exc:
            raise PackagingError(f"gzip de la PJ corrompu: {exc}", code="PES_PJ_CORRUPT") from exc
        if not inflater.eof:
            raise PackagingError("gzip de la PJ tronqué", code="PES_PJ_CORRUPT")
    if pending:
        raise PackagingError("données inattendues après la fin du gzip", code="PES_PJ_CORRUPT")


def iter_decode_pj(b64_chunks: Iterable[str | bytes] | str | bytes, *, max_inflated: int) -> Iterator[bytes]:
    """Stream-decode a PJ: base64 text chunks in, original bytes out, capped at ``max_inflated``."""
    chunks: Iterable[str | bytes] = [b64_chunks] if isinstance(b64_chunks, str | bytes) else b64_chunks
    return iter_inflate(_b64_blocks(chunks), max_inflated=max_inflated)


def decode_pj(b64_text: str | bytes, *, max_inflated: int) -> bytes:
    """Decode the text of a ``Fichier`` element into the original file, refusing gzip bombs.

    Raises :class:`~demat.errors.PackagingError` with code ``PES_PJ_BASE64``, ``PES_PJ_NOT_GZIP``,
    ``PES_PJ_CORRUPT`` or ``PES_PJ_BOMB``.
    """
    return b"".join(iter_decode_pj(b64_text, max_inflated=max_inflated))


__all__ = [
    "DEFAULT_CHUNK",
    "GZIP_MAGIC",
    "decode_pj",
    "encode_pj",
    "encode_pj_text",
    "iter_base64",
    "iter_decode_pj",
    "iter_gzip",
    "iter_inflate",
]
