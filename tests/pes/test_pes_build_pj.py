"""PJ codec: gzip + base64 round trips; bombs, bad base64 and non-gzip refused with clear codes."""

from __future__ import annotations

import base64
import gzip
import random
import struct
import zlib
from pathlib import Path

import pytest

from demat.errors import PackagingError
from demat.pes.pj import decode_pj, encode_pj, encode_pj_text, iter_decode_pj

MB = 1024 * 1024


def _content(size: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    return b"%PDF-1.4\n" + rng.randbytes(size // 2) + b"stream " * (size // 14)


def test_round_trip_from_bytes_path_and_chunks(tmp_path: Path) -> None:
    data = _content(300_000)
    path = tmp_path / "facture.pdf"
    path.write_bytes(data)
    from_bytes = encode_pj_text(data)
    assert from_bytes.startswith("H4sI")
    assert "".join(encode_pj(path)) == from_bytes  # same bytes whatever the source
    assert "".join(encode_pj(iter([data[:1000], data[1000:]]))) == from_bytes
    assert gzip.decompress(base64.b64decode(from_bytes)) == data  # plain gzip, readable by anyone
    assert decode_pj(from_bytes, max_inflated=len(data)) == data


def test_encoding_is_deterministic_and_chunked() -> None:
    data = _content(1_000_000, seed=3)
    chunks = list(encode_pj(data, chunk_size=3 * 1024))
    assert len(chunks) > 1
    assert "".join(chunks) == encode_pj_text(data)


def test_streaming_decode_of_wrapped_base64() -> None:
    data = _content(200_000, seed=5)
    text = encode_pj_text(data)
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))  # xs:base64Binary allows it
    pieces = [wrapped[i : i + 1001] for i in range(0, len(wrapped), 1001)]
    assert b"".join(iter_decode_pj(pieces, max_inflated=len(data))) == data


def test_empty_pj_round_trip() -> None:
    assert decode_pj(encode_pj_text(b""), max_inflated=0) == b""


def test_multi_member_gzip_is_accepted() -> None:
    payload = gzip.compress(b"part one, ", mtime=0) + gzip.compress(b"part two", mtime=0)
    assert decode_pj(base64.b64encode(payload), max_inflated=100) == b"part one, part two"


def _zero_bomb(total: int, block: int = MB, *, real_crc: bool = True) -> bytes:
    """A single gzip member inflating to ``total`` zero bytes, built without compressing it all.

    After a full flush deflate restarts from a clean state, so every further block of zeros
    compresses to the same bytes; repeat them and write the real CRC and size.
    """
    zeros = bytes(block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH) == repeated
    end = deflate.flush(zlib.Z_FINISH)
    count = total // block
    crc = 0
    for _ in range(count if real_crc else 0):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * block) & 0xFFFFFFFF)
    return header + first + repeated * (count - 1) + end + trailer


def test_bomb_builder_makes_real_gzip() -> None:
    small = _zero_bomb(8 * MB)
    assert gzip.decompress(small) == bytes(8 * MB)


def test_gzip_bomb_of_one_gigabyte_is_refused_at_the_cap() -> None:
    # The CRC is left at 0 to save a second: a decoder that inflated to the end would then
    # answer PES_PJ_CORRUPT, not PES_PJ_BOMB, so the assertion below still tells them apart.
    bomb = base64.b64encode(_zero_bomb(1024 * MB, real_crc=False))
    assert len(bomb) < 2 * MB  # ~1.4 MB of base64 for 1 GiB of zeros
    with pytest.raises(PackagingError) as info:
        decode_pj(bomb, max_inflated=16 * MB)
    assert info.value.code == "PES_PJ_BOMB"
    produced: list[int] = []

    def consume() -> None:
        chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
        for block in iter_decode_pj(chunks, max_inflated=4 * MB):
            produced.append(len(block))

    with pytest.raises(PackagingError, match="dépasserait"):
        consume()
    assert sum(produced) <= 4 * MB


def test_cap_is_exact() -> None:
    text = encode_pj_text(b"a" * 1000)
    assert len(decode_pj(text, max_inflated=1000)) == 1000
    with pytest.raises(PackagingError) as info:
        decode_pj(text, max_inflated=999)
    assert info.value.code == "PES_PJ_BOMB"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("H4sI!!!!", "PES_PJ_BASE64"),  # foreign character
        ("H4sIAAA", "PES_PJ_BASE64"),  # truncated quartet
        ("QQ==QUJD", "PES_PJ_BASE64"),  # data after padding
        (base64.b64encode(b"%PDF-1.4 not compressed").decode(), "PES_PJ_NOT_GZIP"),
        ("", "PES_PJ_NOT_GZIP"),
        (base64.b64encode(gzip.compress(b"x" * 5000)[:-20]).decode(), "PES_PJ_CORRUPT"),  # truncated
        (base64.b64encode(gzip.compress(b"abc") + b"garbage").decode(), "PES_PJ_CORRUPT"),
        (base64.b64encode(b"\x1f\x8b\x08\x00" + b"\x00" * 30).decode(), "PES_PJ_CORRUPT"),
    ],
)
def test_bad_pj_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(PackagingError) as info:
        decode_pj(text, max_inflated=MB)
    assert info.value.code == code


def test_corrupted_crc_is_refused() -> None:
    raw = bytearray(gzip.compress(b"hello world" * 100))
    raw[-8] ^= 0xFF  # CRC32 of the trailer
    with pytest.raises(PackagingError) as info:
        decode_pj(base64.b64encode(bytes(raw)), max_inflated=MB)
    assert info.value.code == "PES_PJ_CORRUPT"
