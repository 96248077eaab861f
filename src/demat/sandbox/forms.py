"""Streaming multipart/form-data reading for the sandbox (uploads go to disk, never to memory)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import BodyPartReader, web

_CHUNK = 1 << 16
_MAX_FIELD = 64 * 1024


class UploadTooLarge(Exception):
    """The request carries more bytes than the endpoint accepts."""


@dataclass(frozen=True)
class Upload:
    """One file part written to the spool directory."""

    field: str
    filename: str
    content_type: str
    path: Path
    size: int
    sha1: str

    def head(self, n: int = 64) -> bytes:
        with self.path.open("rb") as fh:
            return fh.read(n)


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
                u.path.unlink(missing_ok=True)


async def read_form(request: web.Request, spool: Path, max_bytes: int) -> Form:
    """Read a form body: urlencoded into fields, multipart streamed with file parts to ``spool``."""
    form = Form()
    if request.content_type != "multipart/form-data":
        data = await request.post()
        for key, value in data.items():
            form.fields.setdefault(key, []).append(str(value))
        return form
    reader = await request.multipart()
    total = 0
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            if part.filename is None:
                raw = await part.read()
                if len(raw) > _MAX_FIELD:
                    raise UploadTooLarge(f"champ {part.name} trop long")
                form.fields.setdefault(part.name, []).append(_decode(raw, part.get_charset("utf-8")))
                continue
            target = spool / uuid.uuid4().hex
            h = hashlib.sha1()  # noqa: S324 - S²LOW's duplicate key
            size = 0
            try:
                with target.open("wb") as out:
                    while chunk := await part.read_chunk(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if total > max_bytes:
                            raise UploadTooLarge(f"envoi de plus de {max_bytes} octets")
                        h.update(chunk)
                        out.write(chunk)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            upload = Upload(
                part.name,
                part.filename,
                part.headers.get("Content-Type", "application/octet-stream"),
                target,
                size,
                h.hexdigest(),
            )
            form.files.setdefault(part.name, []).append(upload)
    except BaseException:
        form.discard()
        raise
    return form


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("iso-8859-1")
