"""The sandbox's multipart reader: fields, charsets, files in memory or spilled to disk."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from demat.sandbox.forms import read_form


async def _post(
    tmp_path: Path, data: aiohttp.FormData | bytes, memory_limit: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    async def handler(request: web.Request) -> web.Response:
        form = await read_form(request, tmp_path, 1 << 20, memory_limit=memory_limit)
        files = {
            name: [
                {
                    "filename": u.filename,
                    "size": u.size,
                    "sha1": u.sha1,
                    "on_disk": u.path is not None,
                    "head": u.head(4).decode(),
                    "content": (u.data if u.data is not None else Path(u.content).read_bytes()).decode(),  # type: ignore[arg-type]
                }
                for u in ups
            ]
            for name, ups in form.files.items()
        }
        form.discard()
        return web.json_response({"fields": form.fields, "files": files})

    app = web.Application()
    app.router.add_post("/", handler)
    async with TestClient(TestServer(app)) as client:
        reply = await client.post("/", data=data, headers=headers)
        assert reply.status == 200
        result: dict[str, Any] = await reply.json()
        return result


def _form() -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field("api", "1")
    data.add_field("type_pj[]", "99_AU")
    data.add_field("type_pj[]", "41_NC")
    data.add_field("acte_pdf_file", b"%PDF acte", filename="acte.pdf", content_type="application/pdf")
    data.add_field("acte_attachments[]", b"%PDF annexe 1", filename="a1.pdf")
    data.add_field("acte_attachments[]", b"%PDF annexe 2", filename="a2.pdf")
    return data


async def test_fields_and_files_in_order(tmp_path: Path) -> None:
    for limit in (1 << 20, 4):  # in memory, then every file spilled to disk
        got = await _post(tmp_path, _form(), limit)
        assert got["fields"] == {"api": ["1"], "type_pj[]": ["99_AU", "41_NC"]}
        [acte] = got["files"]["acte_pdf_file"]
        assert acte == {
            "filename": "acte.pdf",
            "size": 9,
            "sha1": hashlib.sha1(b"%PDF acte").hexdigest(),
            "on_disk": limit == 4,
            "head": "%PDF",
            "content": "%PDF acte",
        }
        assert [f["content"] for f in got["files"]["acte_attachments[]"]] == [
            "%PDF annexe 1",
            "%PDF annexe 2",
        ]
        assert list(tmp_path.iterdir()) == []  # discarded


async def test_charset_field_sets_the_fields_charset(tmp_path: Path) -> None:
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="_charset_"\r\n\r\n'
        b"iso-8859-1\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="subject"\r\n\r\n'
        + "Délibération".encode("iso-8859-1")
        + b"\r\n--XyZ\r\n"
        b'Content-Disposition: form-data; name="number"\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "n°1".encode() + b"\r\n--XyZ--\r\n"
    )
    got = await _post(tmp_path, body, 1 << 20, {"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert got["fields"] == {"subject": ["Délibération"], "number": ["n°1"]}
