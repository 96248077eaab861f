"""Streaming multipart/form-data reading for the sandbox.

A file part is hashed as it streams in. Small parts (up to ``memory_limit`` bytes, 1 MiB by
default) stay in memory; a larger one is spilled to a file in the spool directory as soon as it
exceeds the limit, so a 150 MB upload never sits in memory. The part headers are parsed once
each (identical headers, e.g. ``form-data; name="api"``, are parsed once per process).
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiohttp import BodyPartReader, hdrs, web
from aiohttp.helpers import MimeType, parse_mimetype
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

_CHUNK = 1 << 16
_MAX_FIELD = 64 * 1024
#: File parts up to this size stay in memory (larger ones go to the spool directory).
MEMORY_LIMIT = 1 << 20


class UploadTooLarge(Exception):
    """The request carries more bytes than the endpoint accepts."""


@dataclass(frozen=True)
class Upload:
    """One file part: in memory (``data``) when small, else written to ``path`` in the spool."""

    field: str
    filename: str
    content_type: str
    path: Path | None
    size: int
    sha1: str
    data: bytes | None = None

    @property
    def content(self) -> bytes | Path:
        """The bytes, or the file holding them."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path

    def head(self, n: int = 64) -> bytes:
        if self.data is not None:
            return self.data[:n]
        assert self.path is not None
        with self.path.open("rb") as fh:
            return fh.read(n)

    def save_as(self, target: Path) -> None:
        """Keep the part as ``target`` (moved there when it is already a file)."""
        if self.data is not None:
            target.write_bytes(self.data)
        else:
            assert self.path is not None
            shutil.move(self.path, target)

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


@dataclass
class Form:
    """Text fields (each may repeat, e.g. ``type_pj[]``) and file parts, in arrival order."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[Upload]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def file(self, name: str) -> Upload | None:
        files = self.files.get(name)
        return files[0] if files else None

    @property
    def total_size(self) -> int:
        return sum(u.size for ups in self.files.values() for u in ups)

    def discard(self) -> None:
        for ups in self.files.values():
            for u in ups:
                u.discard()


@functools.lru_cache(maxsize=256)
def _disposition(header: str | None) -> tuple[str | None, str | None]:
    """(name, filename) of a part's Content-Disposition, as aiohttp's ``BodyPartReader.name``
    and ``.filename`` read it (each of those parses the header again, and slowly)."""
    _, params = parse_content_disposition(header)
    return content_disposition_filename(params, "name"), content_disposition_filename(params, "filename")


def _mime(request: web.Request) -> str:
    """``request.content_type`` without its email-parser cost (multipart boundaries differ per
    request, so aiohttp's cache of it never hits)."""
    m = parse_mimetype(request.headers.get(hdrs.CONTENT_TYPE, ""))
    return f"{m.type}/{m.subtype}" if m.type else ""


async def read_form(
    request: web.Request, spool: Path, max_bytes: int, *, memory_limit: int | None = None
) -> Form:
    """Read a form body: urlencoded into fields, multipart streamed (file parts over
    ``memory_limit`` bytes, default :data:`MEMORY_LIMIT`, to ``spool``)."""
    if memory_limit is None:
        memory_limit = MEMORY_LIMIT
    form = Form()
    if _mime(request) != "multipart/form-data":
        data = await request.post()
        for key, value in data.items():
            form.fields.setdefault(key, []).append(str(value))
        return form
    reader = await request.multipart()
    # aiohttp looks for a ``_charset_`` part (RFC 7578, 4.6) before every part, not just the
    # first, parsing each Content-Disposition again at ~0.1 ms a time: more than the rest of
    # a small acte's form. It only does so for "form-data"; the charset is honoured below.
    m = reader._mimetype
    reader._mimetype = MimeType(type=m.type, subtype="mixed", suffix=m.suffix, parameters=m.parameters)
    charset = "utf-8"
    total = 0
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue
            name, filename = _disposition(part.headers.get(hdrs.CONTENT_DISPOSITION))
            if not name:
                continue
            if filename is None:
                raw = await part.read()
                if len(raw) > _MAX_FIELD:
                    raise UploadTooLarge(f"champ {name} trop long")
                if name == "_charset_":  # the default charset of the text fields
                    charset = raw.strip().decode("ascii", "replace") or charset
                    continue
                form.fields.setdefault(name, []).append(_decode(raw, part.get_charset(charset)))
                continue
            h = hashlib.sha1()  # noqa: S324 - S²LOW's duplicate key
            size = 0
            chunks: list[bytes] = []
            target: Path | None = None
            out: IO[bytes] | None = None
            try:
                while chunk := await part.read_chunk(_CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if total > max_bytes:
                        raise UploadTooLarge(f"envoi de plus de {max_bytes} octets")
                    h.update(chunk)
                    if out is not None:
                        out.write(chunk)
                    elif size > memory_limit:
                        target = spool / uuid.uuid4().hex
                        out = target.open("wb")
                        out.writelines(chunks)
                        out.write(chunk)
                        chunks = []
                    else:
                        chunks.append(chunk)
                if out is not None:
                    out.close()
            except BaseException:
                if out is not None:
                    out.close()
                if target is not None:
                    target.unlink(missing_ok=True)
                raise
            upload = Upload(
                name,
                filename,
                part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream"),
                target,
                size,
                h.hexdigest(),
                None if target is not None else b"".join(chunks),
            )
            form.files.setdefault(name, []).append(upload)
    except BaseException:
        form.discard()
        raise
    return form


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("iso-8859-1")


__all__ = [
    "MEMORY_LIMIT",
    "Form",
    "Upload",
    "UploadTooLarge",
    "read_form",
]
