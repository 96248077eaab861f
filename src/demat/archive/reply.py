"""Read an SAE's replies leniently: ``ArchiveTransferReply`` and ``Acknowledgement``.

Real replies do not always follow the XSD: Vitam's KO replies lack the required agencies or
carry placeholders (``ArchivalAgencyToBeDefined``, ``MessageRequestIdentifier`` ``Unknown`` or
empty), so nothing beyond the root's name is required here. The namespace is not checked either
(SEDA 0.2, 1.0 and 2.x replies are read alike).

``ReplyCode`` is not enumerated by SEDA 2.x; two code lists are met in practice:

* Vitam writes its workflow status: ``OK`` and ``WARNING`` (archived, with warnings) are
  accepted, ``KO`` and ``FATAL`` refused; a ``BLANK_TEST`` ingest prefixes ``Test `` (then
  :attr:`ArchiveReply.test` is true: the checks passed or failed, nothing was archived);
* as@lae answers with the SEDA 0.2 numeric list: ``000``, ``001``, ``002`` accepted, anything
  else refused (:data:`NUMERIC_CODES` gives their meaning).

The reason is, for Vitam, the message of the last event that failed (else of the last event),
for as@lae the code's meaning and the ``Comment``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from demat.errors import ProtocolError, XMLSecurityError, XMLSyntaxError
from demat.xml.safe import parse_bytes

#: Meaning of the SEDA 0.2 reply codes as@lae answers with (``reference/archive.md`` §4).
NUMERIC_CODES: dict[str, str] = {
    "000": "OK",
    "001": "OK (voir les commentaires)",
    "002": "OK (autorisation de l'autorité de contrôle demandée)",
    "101": "message mal formé",
    "102": "système momentanément indisponible",
    "200": "service producteur inconnu",
    "201": "service d'archives inconnu",
    "202": "service versant inconnu",
    "203": "non conforme au profil",
    "204": "format de document non géré",
    "205": "format de document non conforme au format déclaré",
    "206": "signature du message invalide",
    "207": "empreinte(s) invalide(s)",
}
_ACCEPTED_NUMERIC = {"000", "001", "002"}
_ACCEPTED_VITAM = {"OK", "WARNING"}
_REFUSED_VITAM = {"KO", "FATAL"}
_KINDS = {"ArchiveTransferReply", "Acknowledgement", "ArchiveTransferAcceptance"}


@dataclass(frozen=True)
class ArchiveReply:
    """What an SAE answered.

    ``kind`` is ``ArchiveTransferReply`` or ``Acknowledgement``; ``reply_code`` is as written
    (``None`` when absent); ``accepted`` is true or false for a transfer reply (``None`` for an
    acknowledgement, or a reply without a code demat knows); ``reason`` says why in words.
    ``message_request_identifier`` is the transfer's ``MessageIdentifier`` the reply answers
    (``None`` when missing or a placeholder); ``system_ids`` maps each manifest ArchiveUnit id to
    the archive's own id (Vitam's ``SystemId``; as@lae's ``ArchivalAgencyArchiveUnitIdentifier``).
    """

    kind: str
    reply_code: str | None
    accepted: bool | None
    reason: str
    message_identifier: str | None = None
    message_request_identifier: str | None = None
    grant_date: str | None = None
    archival_agency: str | None = None
    transferring_agency: str | None = None
    test: bool = False
    system_ids: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The JSON contract of ``demat archive reply --json`` (plus the identifiers)."""
        return {
            "kind": self.kind,
            "reply_code": self.reply_code,
            "accepted": self.accepted,
            "reason": self.reason,
            "message_identifier": self.message_identifier,
            "message_request_identifier": self.message_request_identifier,
            "grant_date": self.grant_date,
            "test": self.test,
        }


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _text(el: etree._Element | None, *path: str) -> str | None:
    for name in path:
        if el is None:
            return None
        found = _children(el, name)
        el = found[0] if found else None
    if el is None or el.text is None:
        return None
    text = el.text.strip()
    return text or None


_PLACEHOLDERS = {"Unknown", "ArchivalAgencyToBeDefined", "TransferringAgencyToBeDefined"}


def _real(value: str | None) -> str | None:
    return None if value in _PLACEHOLDERS else value


def _events(root: etree._Element) -> list[dict[str, str | None]]:
    found = []
    for op in _children(root, "Operation"):
        for ev in _children(op, "Event"):
            found.append(
                {
                    "code": _text(ev, "EventTypeCode"),
                    "outcome": _text(ev, "Outcome"),
                    "detail": _text(ev, "OutcomeDetail"),
                    "message": _text(ev, "OutcomeDetailMessage"),
                }
            )
    return found


def _system_ids(root: etree._Element) -> dict[str, str]:
    ids: dict[str, str] = {}
    for unit in root.iter():
        if _local(unit) != "ArchiveUnit" or unit.get("id") is None:
            continue
        content = _children(unit, "Content")
        own = _text(content[0] if content else None, "SystemId") or _text(
            content[0] if content else None, "ArchivalAgencyArchiveUnitIdentifier"
        )
        if own:
            ids[str(unit.get("id"))] = own
    return ids


def _verdict(code: str | None, root: etree._Element) -> tuple[bool | None, bool, str]:
    comment = _text(root, "Comment")
    if code is None:
        return None, False, "la réponse ne porte pas de ReplyCode" + (f" : {comment}" if comment else "")
    test = code.startswith("Test ")
    bare = code[5:].strip() if test else code
    if bare.upper() in _ACCEPTED_VITAM | _REFUSED_VITAM:
        accepted = bare.upper() in _ACCEPTED_VITAM
        events = _events(root)
        failed = [e for e in events if (e["outcome"] or "").upper() in _REFUSED_VITAM | {"WARNING"}]
        chosen = (failed or events)[-1:] if events else []
        said = "; ".join(
            f"{e['code'] or '?'} : {e['message'] or e['detail'] or e['outcome']}" for e in chosen
        )
        reason = f"{code}" + (f" — {said}" if said else "") + (f" ({comment})" if comment else "")
        if test:
            reason += " — versement à blanc (BLANK_TEST) : rien n'a été archivé"
        return accepted, test, reason
    if bare.isdigit():
        meaning = NUMERIC_CODES.get(bare, "code inconnu")
        reason = f"{bare} {meaning}" + (f" : {comment}" if comment else "")
        return bare in _ACCEPTED_NUMERIC, test, reason
    return None, test, f"code de réponse inconnu {code!r}" + (f" : {comment}" if comment else "")


def read_reply(data: bytes) -> ArchiveReply:
    """Read an ``ArchiveTransferReply`` or ``Acknowledgement`` (any SEDA version), leniently.

    :class:`~demat.errors.ProtocolError` when ``data`` is not XML or is another message.
    """
    try:
        root = parse_bytes(data, name="reply").getroot()
    except (XMLSyntaxError, XMLSecurityError) as exc:
        raise ProtocolError(f"SAE reply unreadable: {exc}", code="ARCHIVE_REPLY") from exc
    kind = _local(root)
    if kind not in _KINDS:
        raise ProtocolError(
            f"SAE reply: expected ArchiveTransferReply or Acknowledgement, got {kind!r}", code="ARCHIVE_REPLY"
        )
    message_id = _text(root, "MessageIdentifier")
    if kind == "Acknowledgement":
        received = _text(root, "MessageReceivedIdentifier")
        comment = _text(root, "Comment")
        return ArchiveReply(
            kind,
            None,
            None,
            f"accusé de réception du message {received or '?'}" + (f" : {comment}" if comment else ""),
            message_identifier=message_id,
            message_request_identifier=_real(received),
            archival_agency=_real(_text(root, "Sender", "Identifier")),
            transferring_agency=_real(_text(root, "Receiver", "Identifier")),
        )
    if kind == "ArchiveTransferAcceptance":  # SEDA 0.2: acceptance is its own message
        code: str | None = _text(root, "ReplyCode") or "000"
        kind = "ArchiveTransferReply"
    else:
        code = _text(root, "ReplyCode")
    accepted, test, reason = _verdict(code, root)
    return ArchiveReply(
        kind,
        code,
        accepted,
        reason,
        message_identifier=message_id,
        message_request_identifier=_real(
            _text(root, "MessageRequestIdentifier") or _text(root, "TransferIdentifier")
        ),
        grant_date=_text(root, "GrantDate"),
        archival_agency=_real(_text(root, "ArchivalAgency", "Identifier")),
        transferring_agency=_real(_text(root, "TransferringAgency", "Identifier")),
        test=test,
        system_ids=_system_ids(root),
    )


__all__ = ["NUMERIC_CODES", "ArchiveReply", "read_reply"]
