"""Parse S²LOW replies into typed results (pure: bytes in, objects out).

S²LOW answers in three shapes: small XML documents declared ISO-8859-1 (HELIOS), plain text
``OK\\n…`` / ``KO\\n<message>`` (ACTES), and JSON (newer list endpoints). Parsing is tolerant
of encodings and line endings, strict about meaning: anything that is not one of the expected
shapes is a :class:`~demat.errors.ProtocolError`, a ``KO`` is a
:class:`~demat.errors.RemoteRejected` carrying the platform's message. Whatever else a reader
meets in a reply however malformed (``RecursionError`` on deeply nested JSON, a number too long
to read…) is a :class:`~demat.errors.ProtocolError` too (:func:`_readable`): a reply can fail
its call, never the process that made it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from demat.errors import DematError, ProtocolError, RemoteRejected, XMLSecurityError, XMLSyntaxError
from demat.transport.protocol import (
    ActeRef,
    ActesStatus,
    DuplicateSubmission,
    HeliosStatus,
    PrefectureDocumentRef,
    RetourRef,
)
from demat.transport.s2low.statuses import ACTES, HELIOS
from demat.xml.safe import local_name, parse_bytes

# S²LOW's wording for duplicates: "doublon détecté. Ce fichier a déjà été posté", NomFic reuse,
# acte number reuse ("Le numéro de l'acte est déjà utilisé").
_DUPLICATE = re.compile(
    r"doublon|d[ée]j[àa] (?:[ée]t[ée] )?(?:post[ée]|utilis[ée]|pr[ée]sent)", re.IGNORECASE
)
_MAX_MESSAGE = 2000

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _readable(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Make any failure of a reply reader other than demat's own a
    :class:`~demat.errors.ProtocolError` about ``what`` (the reply is garbage, the call fails,
    the caller goes on)."""

    def wrap(reader: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(reader)
        def read(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return reader(*args, **kwargs)
            except DematError:
                raise
            except Exception as exc:  # RecursionError, OverflowError, a bug on odd input…
                raise ProtocolError(
                    f"{what} : réponse illisible ({type(exc).__name__}: {str(exc)[:80]})",
                    code="S2LOW_GARBAGE",
                ) from exc

        return read

    return wrap


@_readable("réponse S²LOW")
def decode_text(body: bytes, charset: str | None = None) -> str:
    """Text of a reply: the declared charset, else UTF-8, else ISO-8859-1 (S²LOW's own)."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("iso-8859-1")


def is_duplicate_message(message: str) -> bool:
    """Whether a refusal message says the document is already on the platform."""
    return bool(_DUPLICATE.search(message))


def _rejected(message: str, *, what: str) -> RemoteRejected:
    message = message.strip()[:_MAX_MESSAGE] or "refus sans message"
    if is_duplicate_message(message):
        return DuplicateSubmission(f"{what} : {message}")
    return RemoteRejected(f"{what} : {message}", code="S2LOW_KO")


def _xml_fields(body: bytes, root_name: str, what: str) -> tuple[dict[str, str], Any]:
    """The text of the root's direct children, by local name (first occurrence)."""
    if _looks_ko(body):
        raise _rejected(_ko_message(body, None), what=what)
    try:
        root = parse_bytes(body, name=what).getroot()
    except (XMLSyntaxError, XMLSecurityError) as exc:
        raise ProtocolError(f"{what} : réponse illisible ({exc.message})", code="S2LOW_GARBAGE") from exc
    if local_name(root) != root_name:
        raise ProtocolError(
            f"{what} : élément racine <{local_name(root)}> inattendu (attendu <{root_name}>)",
            code="S2LOW_GARBAGE",
        )
    fields: dict[str, str] = {}
    for child in root:
        if isinstance(child.tag, str):
            fields.setdefault(local_name(child), (child.text or "").strip())
    return fields, root


def _looks_ko(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \r\n\t")[:2] == b"KO"


def _ko_message(body: bytes, charset: str | None) -> str:
    text = decode_text(body, charset).lstrip(" \r\n\t")
    return text[2:].strip()


def _check_resultat(fields: dict[str, str], what: str) -> None:
    result = fields.get("resultat", "").upper()
    if result == "KO":
        raise _rejected(fields.get("message", ""), what=what)
    if result != "OK":
        raise ProtocolError(
            f"{what} : résultat {result or 'absent'!r} (attendu OK ou KO)", code="S2LOW_GARBAGE"
        )


@_readable("import HELIOS")
def parse_helios_import(body: bytes) -> str:
    """``<import><id/><resultat/><message/></import>`` → the transaction id."""
    what = "import HELIOS"
    fields, _ = _xml_fields(body, "import", what)
    _check_resultat(fields, what)
    remote_id = fields.get("id", "")
    if not remote_id:
        raise ProtocolError(f"{what} : résultat OK sans identifiant de transaction", code="S2LOW_GARBAGE")
    return remote_id


@_readable("statut HELIOS")
def parse_helios_status(body: bytes) -> HeliosStatus:
    """``<transaction><id/><resultat/><message/><status/></transaction>`` → status."""
    what = "statut HELIOS"
    fields, _ = _xml_fields(body, "transaction", what)
    _check_resultat(fields, what)
    row = HELIOS[_int(fields.get("status"), what)]
    return HeliosStatus(row.code, row.label, row.event, row.fetch, message=fields.get("message", ""))


@_readable("liste des PES_Retour")
def parse_retour_list(body: bytes) -> list[RetourRef]:
    """``<liste>…<pes_retour><id/><nom/><date/></pes_retour>*</liste>`` → unread PES_Retour."""
    what = "liste des PES_Retour"
    fields, root = _xml_fields(body, "liste", what)
    if fields.get("resultat"):
        _check_resultat(fields, what)
    refs: list[RetourRef] = []
    for item in root:
        if isinstance(item.tag, str) and local_name(item) == "pes_retour":
            sub = {local_name(c): (c.text or "").strip() for c in item if isinstance(c.tag, str)}
            if not sub.get("id"):
                raise ProtocolError(f"{what} : pes_retour sans id", code="S2LOW_GARBAGE")
            refs.append(RetourRef(id=sub["id"], name=sub.get("nom", ""), date=sub.get("date", "")))
    return refs


@_readable("réponse S²LOW")
def ok_lines(body: bytes, what: str, charset: str | None = None) -> list[str]:
    """The lines after ``OK`` of a text reply; ``KO`` raises RemoteRejected."""
    text = decode_text(body, charset).replace("\r\n", "\n").lstrip(" \n\t")
    head, _, rest = text.partition("\n")
    head = head.strip()
    if head == "OK":
        return rest.split("\n")
    if head.startswith("KO"):
        raise _rejected((head[2:] + "\n" + rest).strip(), what=what)
    raise ProtocolError(f"{what} : réponse inattendue {text[:80]!r}", code="S2LOW_GARBAGE")


@_readable("réponse S²LOW")
def parse_ok_id(body: bytes, what: str, charset: str | None = None) -> str:
    """``OK\\n<id>`` → id (acte creation, cancellation, answer)."""
    lines = [ln.strip() for ln in ok_lines(body, what, charset)]
    remote_id = next((ln for ln in lines if ln), "")
    if not remote_id.isdigit():
        raise ProtocolError(
            f"{what} : identifiant de transaction attendu, reçu {remote_id[:40]!r}", code="S2LOW_GARBAGE"
        )
    return remote_id


@_readable("statut ACTES")
def parse_actes_status(body: bytes, charset: str | None = None) -> ActesStatus:
    """``OK\\n<status>\\n<XML or message>`` → status, with the ARActe/anomaly bytes kept as sent."""
    what = "statut ACTES"
    if _looks_ko(body):
        ok_lines(body, what, charset)  # raises
    # Split on raw bytes so that the XML after the status keeps its own encoding declaration.
    raw = body.lstrip(b"\xef\xbb\xbf \r\n\t")
    parts = re.split(rb"\r?\n", raw, maxsplit=2)
    if len(parts) < 2 or parts[0].strip() != b"OK":
        raise ProtocolError(f"{what} : réponse inattendue {raw[:80]!r}", code="S2LOW_GARBAGE")
    code = _int(decode_text(parts[1]).strip(), what)
    tail = parts[2].strip() if len(parts) > 2 else b""
    reply: bytes | None = None
    message = ""
    if tail.startswith(b"<"):
        reply = tail
        if code == -1:
            message = _anomaly_detail(tail)
    elif tail:
        message = decode_text(tail, charset).strip()[:_MAX_MESSAGE]
    row = ACTES[code]
    return ActesStatus(row.code, row.label, row.event, row.fetch, message=message, reply=reply)


def _anomaly_detail(xml: bytes) -> str:
    try:
        root = parse_bytes(xml, name="anomalie").getroot()
    except (XMLSyntaxError, XMLSecurityError):
        return ""
    for el in root.iter():
        if isinstance(el.tag, str) and local_name(el) == "Detail":
            return (el.text or "").strip()
    return local_name(root)


@_readable("document S²LOW")
def document_bytes(body: bytes, what: str) -> bytes:
    """A document download (PES_ACQUIT, PES_Retour, classification): refuse a ``KO`` reply and
    anything that does not start as XML, keep the bytes as sent. Not parsed here: the reader
    that consumes the document parses it once, off the event loop, and reports what is wrong."""
    if _looks_ko(body):
        raise _rejected(_ko_message(body, None), what=what)
    if not body.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        raise ProtocolError(f"{what} : document XML attendu, reçu {body[:40]!r}", code="S2LOW_GARBAGE")
    return body


def _json(body: bytes, what: str) -> Any:
    if _looks_ko(body):
        raise _rejected(_ko_message(body, None), what=what)
    try:
        return json.loads(decode_text(body))
    except ValueError as exc:
        raise ProtocolError(f"{what} : JSON illisible ({exc})", code="S2LOW_GARBAGE") from exc


@_readable("liste des documents préfecture")
def parse_prefecture_documents(body: bytes) -> list[PrefectureDocumentRef]:
    """``api/list_document_prefecture.php`` JSON → unread préfecture messages."""
    what = "liste des documents préfecture"
    data = _json(body, what)
    if not isinstance(data, list):
        raise ProtocolError(f"{what} : liste JSON attendue", code="S2LOW_GARBAGE")
    out: list[PrefectureDocumentRef] = []
    for item in data:
        if not isinstance(item, dict) or "id" not in item or "type" not in item:
            raise ProtocolError(f"{what} : entrée sans id ou type", code="S2LOW_GARBAGE")
        out.append(
            PrefectureDocumentRef(
                id=str(item["id"]),
                type=_int(item["type"], what),
                related_transaction_id=_opt_str(item.get("related_transaction_id")),
                unique_id=_opt_str(item.get("unique_id")),
                number=_opt_str(item.get("number")),
                last_status_id=_int(item["last_status_id"], what)
                if item.get("last_status_id") is not None
                else None,
            )
        )
    return out


@_readable("liste des actes")
def parse_actes_list(body: bytes) -> list[ActeRef]:
    """``api/list_actes.php`` JSON ``{…, transactions: [...]}`` → transactions."""
    what = "liste des actes"
    data = _json(body, what)
    items = data.get("transactions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ProtocolError(f"{what} : champ transactions absent", code="S2LOW_GARBAGE")
    out: list[ActeRef] = []
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            raise ProtocolError(f"{what} : transaction sans id", code="S2LOW_GARBAGE")
        status = item.get("last_status_id", item.get("status_id", item.get("status")))
        out.append(
            ActeRef(
                id=str(item["id"]),
                status=_int(status, what) if status is not None else -99,
                number=_opt_str(item.get("number")),
                unique_id=_opt_str(item.get("unique_id")),
                type=_int(item["type"], what) if item.get("type") is not None else None,
            )
        )
    return out


def _opt_str(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


def _int(v: Any, what: str) -> int:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        raise ProtocolError(
            f"{what} : code numérique attendu, reçu {str(v)[:40]!r}", code="S2LOW_GARBAGE"
        ) from None


@_readable("réponse S²LOW")
def parse_simple_ack(body: bytes, what: str, charset: str | None = None) -> None:
    """A reply that only says done or not: ``OK…`` text, XML with ``<resultat>``, or JSON with ``result``."""
    text = decode_text(body, charset).strip()
    if text.startswith("<"):
        fields, _ = _xml_fields(body, _root_name(body, what), what)
        if "resultat" in fields:
            _check_resultat(fields, what)
        return
    if text.startswith("{"):
        data = _json(body, what)
        verdict = str(data.get("result", data.get("status", "ok")) if isinstance(data, dict) else "ok")
        if verdict.lower() in ("ko", "error", "erreur"):
            raise _rejected(str(data.get("message", verdict)), what=what)
        return
    ok_lines(body, what, charset)


def _root_name(body: bytes, what: str) -> str:
    try:
        return local_name(parse_bytes(body, name=what).getroot())
    except (XMLSyntaxError, XMLSecurityError) as exc:
        raise ProtocolError(f"{what} : réponse illisible ({exc.message})", code="S2LOW_GARBAGE") from exc


__all__ = [
    "decode_text",
    "document_bytes",
    "ok_lines",
    "parse_actes_list",
    "parse_actes_status",
    "parse_helios_import",
    "parse_helios_status",
    "parse_ok_id",
    "parse_prefecture_documents",
    "parse_retour_list",
    "parse_simple_ack",
]
