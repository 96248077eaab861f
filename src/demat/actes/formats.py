"""File formats recognised by their content (magic bytes), never by their name.

The préfecture accepts PDF, JPEG and PNG documents, and XML for budget documents; a
``.pdf`` name on a Word file must be refused before it leaves, not by an anomaly a day later.
"""

from __future__ import annotations

from enum import StrEnum


class FileFormat(StrEnum):
    """A document format, valued by the extension ACTES file names use."""

    PDF = "pdf"
    JPEG = "jpg"
    PNG = "png"
    XML = "xml"
    UNKNOWN = "bin"

    @property
    def label(self) -> str:
        """Human name."""
        return {"pdf": "PDF", "jpg": "JPEG", "png": "PNG", "xml": "XML", "bin": "inconnu"}[self.value]


#: Bytes needed by :func:`sniff`.
SNIFF_BYTES = 1024

_UTF8_BOM = b"\xef\xbb\xbf"


def sniff(head: bytes) -> FileFormat:
    """The format of a file from its first bytes (see :data:`SNIFF_BYTES`)."""
    if head.startswith(b"%PDF-"):
        return FileFormat.PDF
    if head.startswith(b"\xff\xd8\xff"):
        return FileFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileFormat.PNG
    text = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    text = text.lstrip(b" \t\r\n")
    if text.startswith((b"<?xml", b"<!--")) or (text.startswith(b"<") and text[1:2].isalpha()):
        return FileFormat.XML
    return FileFormat.UNKNOWN


__all__ = ["SNIFF_BYTES", "FileFormat", "sniff"]
