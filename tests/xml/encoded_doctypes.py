"""A corpus of documents whose DTD (with an internal entity used in the content) hides behind
their encoding, or shows only once decoded: what every XML entry point of demat must refuse.

Each document declares ``<!ENTITY x …>`` and uses ``&x;`` in the root's text, the shape that
makes lxml's streaming schema validation crash (``tools/lxml_schema_entity_crash.py``). Most
of them put ``<?iso-8859-1?>`` in their first 50 bytes, which is all the sandbox's S²LOW looks
for before parsing. ``LIBXML2_CANNOT_READ`` names those this libxml2 build refuses on its own
(another build, with another iconv, may read them): demat must refuse them anyway.
"""

from __future__ import annotations

import base64
import codecs

DTD = '<!DOCTYPE a [<!ENTITY x "entity-was-expanded">]>'
BODY = "<a>&x;</a>"
#: A processing instruction that S²LOW's 50-byte check takes for an ISO-8859-1 declaration.
SANDBOX_BAIT = "<?iso-8859-1?>"


def utf7(text: str, shift: str) -> bytes:
    """UTF-7 with the characters of ``shift`` base64-shifted and the rest written directly."""
    out = b""
    for ch in text:
        if ch in shift:
            out += b"+" + base64.b64encode(ch.encode("utf-16-be")).rstrip(b"=") + b"-"
        else:
            out += ch.encode("ascii")
    return out


def _declared(encoding: str, codec: str, bom: bytes = b"", bait: bool = True) -> bytes:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>'
    return bom + (decl + (SANDBOX_BAIT if bait else "") + DTD + "\n" + BODY).encode(codec)


def _interleaved(encoding: str, noop: bytes) -> bytes:
    """An ASCII-looking encoding where a no-op escape splits ``<`` from ``!`` in the raw bytes."""
    decl = f'<?xml version="1.0" encoding="{encoding}"?>{SANDBOX_BAIT}'.encode("ascii")
    dtd = DTD.replace("<!", "<\x00!").encode("ascii").replace(b"\x00", noop)
    return decl + dtd + b"\n" + BODY.encode("ascii")


_UTF7_HEAD = b'<?xml version="1.0" encoding="UTF-7"?>' + SANDBOX_BAIT.encode("ascii")

#: Name → document. Every one declares a DTD that libxml2 would read (see the module doc).
CORPUS: dict[str, bytes] = {
    # UTF-7: "<" written directly and "!" shifted slips past a scan of the raw bytes.
    "utf7-bang-shifted": _UTF7_HEAD + utf7(DTD, "!") + b"\n" + utf7(BODY, "&"),
    "utf7-all-shifted": _UTF7_HEAD + utf7(DTD, DTD) + b"\n" + utf7(BODY, BODY),
    "utf7-lowercase-alias": (
        b"<?xml version='1.0' encoding='unicode-1-1-utf-7'?>" + utf7(DTD, "!") + utf7(BODY, "&")
    ),
    # ASCII-compatible encodings with escapes that decode to nothing.
    "iso-2022-jp-escape": _interleaved("ISO-2022-JP", b"\x1b(B"),
    "hz-line-continuation": _interleaved("HZ-GB-2312", b"~\n"),
    # UTF-16 and UCS-4 without a byte order mark, found by libxml2 from the first bytes.
    "utf16le-no-bom": _declared("UTF-16", "utf-16-le", bait=False),
    "utf16be-no-bom": _declared("UTF-16", "utf-16-be", bait=False),
    "utf32le-no-bom": _declared("UTF-32", "utf-32-le", bait=False),
    "utf32be-no-bom": _declared("ISO-10646-UCS-4", "utf-32-be", bait=False),
    "utf32le-bom": _declared("UTF-32", "utf-32-le", codecs.BOM_UTF32_LE, bait=False),
    "ebcdic-ibm037": _declared("IBM037", "cp037", bait=False),
    # Accepted encodings: the DTD shows once decoded.
    "utf16le-bom": _declared("UTF-16", "utf-16-le", codecs.BOM_UTF16_LE),
    "utf16be-bom-undeclared": codecs.BOM_UTF16_BE + (DTD + BODY).encode("utf-16-be"),
    "utf8-bom": codecs.BOM_UTF8 + (DTD + BODY).encode("utf-8"),
    "latin1-after-comment-and-pi": (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><?iso-8859-1?><!-- \xe9 -->\n' + DTD.encode() + b"\n"
    )
    + BODY.encode(),
    # A BOM and a declaration that disagree; an encoding nobody uses here.
    "utf8-bom-declares-utf16": codecs.BOM_UTF8 + _declared("UTF-16", "utf-8"),
    "utf16le-bom-declares-utf7": _declared("UTF-7", "utf-16-le", codecs.BOM_UTF16_LE),
    "windows-1252": _declared("windows-1252", "cp1252"),
}

#: Documents this libxml2 build cannot read at all (their encoding is unknown to it).
LIBXML2_CANNOT_READ = frozenset({"ebcdic-ibm037"})

#: The codes a refusal of this corpus may carry.
REFUSAL_CODES = frozenset({"XML_ENCODING_FORBIDDEN", "XML_DTD_FORBIDDEN"})
