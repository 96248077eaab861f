"""TOTEM ``Scellement``: the integrity fingerprint a budget document carries to the préfecture.

A seal is not a signature: it only shows that the flux was not altered after the collectivité
sealed it in TotEM. The algorithm is TotEM's (DSC code, also in SICTIAM Stela; see
``reference/actes.md`` §4): drop ``/DocumentBudgetaire/Scellement`` together with the whitespace
that follows it, canonicalise the whole document with inclusive C14N 1.0 without comments,
and take the MD5 and SHA-1 of the result. TotEM writes the hex digests in upper case, other
tools in lower case, so they are compared case-insensitively. For a compte financier unique
the seal sits in the wrapped DocumentBudgetaire but covers the whole CFU document.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from lxml import etree

from demat.actes.budget._doc import ENTETE_DOC, SCELLEMENT, find_docbudg
from demat.errors import ValidationError
from demat.xml.safe import DEFAULT_LIMITS, XmlLimits, parse_bytes, read_source

#: A budget document: its bytes or its path.
BudgetSource = bytes | str | os.PathLike[str]


@dataclass(frozen=True)
class SealReport:
    """What :func:`verify_seal` found. ``seal_valid`` is False when there is no seal."""

    file: str | None
    sealed: bool
    seal_valid: bool
    date: str | None
    expected_md5: str | None
    expected_sha1: str | None
    actual_md5: str
    actual_sha1: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON output."""
        return asdict(self)


#: Bytes a budget document may weigh: the biggest real ones (a city's CA with its annexes)
#: are a few MB, and one is read whole, as a tree (see :data:`demat.xml.safe.DEFAULT_MAX_MARKUP`).
MAX_BUDGET_BYTES = 24 * 1024 * 1024


def budget_limits(limits: XmlLimits) -> XmlLimits:
    """``limits`` with the byte cap of a budget document (:data:`MAX_BUDGET_BYTES`) at most."""
    return replace(limits, max_bytes=min(limits.max_bytes, MAX_BUDGET_BYTES))


def read_budget(source: BudgetSource, limits: XmlLimits) -> tuple[bytes, str | None]:
    """The bytes of a budget document and its file name (``None`` for bytes), within ``limits``
    and :data:`MAX_BUDGET_BYTES` (a file over it is refused from its size, before it is read);
    :class:`~demat.errors.FileMissing` when the file does not exist."""
    data = read_source(source, limits=budget_limits(limits))
    return data, None if isinstance(source, bytes) else os.fspath(source)


def _not_budget(name: str | None) -> ValidationError:
    return ValidationError(
        "ce document n'est pas un DocumentBudgetaire TOTEM (ni un compte financier unique)",
        file=name,
        code="TOTEM_NOT_DOCBUDG",
    )


def digests_without_seal(tree: etree._ElementTree) -> tuple[str, str]:
    """MD5 and SHA-1 (upper-case hex) of ``tree`` once its Scellement is removed.

    The tree is modified: its Scellement (and the whitespace after it, which lxml keeps as
    the element's tail) is taken out.
    """
    doc = find_docbudg(tree.getroot())
    if doc is not None:
        existing = doc.find(SCELLEMENT)
        if existing is not None:
            doc.remove(existing)  # removes its tail too: the whitespace after it
    # One C14N string costs about the file's size in memory (the tree costs several times
    # more) and is twice as fast as streaming C14N chunks to a Python sink.
    try:
        canonical = etree.tostring(tree, method="c14n", exclusive=False, with_comments=False)
    except etree.C14NError as exc:  # e.g. a relative namespace URI, which C14N refuses
        raise ValidationError(
            f"document budgétaire impossible à canonicaliser pour son scellement ({exc})",
            code="TOTEM_C14N",
        ) from exc
    md5 = hashlib.md5(canonical, usedforsecurity=False).hexdigest().upper()
    sha1 = hashlib.sha1(canonical, usedforsecurity=False).hexdigest().upper()
    return md5, sha1


def verify_seal(
    source: BudgetSource, *, name: str | None = None, limits: XmlLimits = DEFAULT_LIMITS
) -> SealReport:
    """Recompute the seal of a budget document and compare it with the one it carries."""
    data, path = read_budget(source, limits)
    name = name or path
    tree = parse_bytes(data, name=name, limits=limits)
    doc = find_docbudg(tree.getroot())
    if doc is None:
        raise _not_budget(name)
    existing = doc.find(SCELLEMENT)
    md5, sha1 = digests_without_seal(tree)
    if existing is None:
        return SealReport(name, False, False, None, None, None, md5, sha1)
    want_md5, want_sha1 = existing.get("md5"), existing.get("sha1")
    valid = (want_md5 or "").upper() == md5 and (want_sha1 or "").upper() == sha1
    return SealReport(name, True, valid, existing.get("date"), want_md5, want_sha1, md5, sha1)


def require_valid_seal(
    source: BudgetSource, *, name: str | None = None, limits: XmlLimits = DEFAULT_LIMITS
) -> SealReport:
    """Like :func:`verify_seal`, but refuse (ValidationError) an unsealed or mis-sealed document."""
    report = verify_seal(source, name=name, limits=limits)
    if not report.sealed:
        raise ValidationError(
            "document budgétaire non scellé : scellez-le dans TotEM avant de le transmettre",
            file=report.file,
            code="TOTEM_UNSEALED",
        )
    if not report.seal_valid:
        raise ValidationError(
            "scellement invalide : le document a été modifié après son scellement "
            f"(empreinte MD5 attendue {report.expected_md5}, calculée {report.actual_md5})",
            file=report.file,
            code="TOTEM_SEAL_MISMATCH",
        )
    return report


_NEWLINE = re.compile(r"\r\n|\r|\n")


def _line_offset(text: str, line: int) -> int:
    """Offset in ``text`` of the start of 1-based ``line``."""
    if line <= 1:
        return 0
    for count, m in enumerate(_NEWLINE.finditer(text), start=2):
        if count == line:
            return m.end()
    return len(text)


#: Markup that may contain a literal "<Name" without it being a tag (no DTD: refused upstream).
_NOT_TAGS = r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"


def _tag_span(text: str, elem: etree._Element, *, with_element: bool) -> tuple[int, int]:
    """Where ``elem``'s start tag is in ``text``; with_element: up to the end of its whitespace tail.

    The scan starts at the top of the document so that comments, CDATA sections and processing
    instructions are stepped over whole, then takes the first tag on or after the element's line.
    """
    qname = re.escape(f"{elem.prefix}:" if elem.prefix else "") + etree.QName(elem).localname
    if with_element:
        tag = rf"<{qname}(?=[\s/>])[^>]*?(?:/>|>\s*</{qname}\s*>)[ \t\r\n]*"
    else:
        tag = rf"<{qname}(?=[\s/>])"
    line_start = _line_offset(text, elem.sourceline or 1)
    for m in re.compile(rf"{_NOT_TAGS}|(?P<tag>{tag})", re.S).finditer(text):
        if m.group("tag") is not None and m.start() >= line_start:
            return m.start(), m.end()
    raise ValidationError(  # pragma: no cover - the parser saw it on that line
        f"élément {elem.tag} introuvable dans le texte", code="TOTEM_SEAL_INTERNAL"
    )


def _format_date(when: datetime | None) -> str:
    moment = when or datetime.now().astimezone()
    return moment.isoformat(timespec="seconds")


def seal(
    data: bytes, *, when: datetime | None = None, name: str | None = None, limits: XmlLimits = DEFAULT_LIMITS
) -> bytes:
    """Seal a budget document as TotEM does; return the new bytes, in the document's encoding.

    The ``Scellement`` goes just before ``EnTeteDocBudgetaire`` followed by the same
    indentation, so removing it again gives back the input byte for byte. An existing seal is
    replaced. The result is verified before it is returned.
    """
    limits = budget_limits(limits)
    tree = parse_bytes(data, name=name, limits=limits)
    doc = find_docbudg(tree.getroot())
    if doc is None:
        raise _not_budget(name)
    entete = doc.find(ENTETE_DOC)
    if entete is None:
        raise ValidationError(
            "EnTeteDocBudgetaire absent : impossible de placer le Scellement",
            file=name,
            code="TOTEM_NO_ENTETE",
        )
    encoding = tree.docinfo.encoding or "UTF-8"
    text = data.decode(encoding)
    insert_at, _ = _tag_span(text, entete, with_element=False)
    old = doc.find(SCELLEMENT)
    if old is not None:
        cut_from, cut_to = _tag_span(text, old, with_element=True)
        if not cut_to <= insert_at:
            raise ValidationError(
                "Scellement mal placé (après EnTeteDocBudgetaire)", file=name, code="TOTEM_SEAL_PLACE"
            )
        text, insert_at = text[:cut_from] + text[cut_to:], insert_at - (cut_to - cut_from)
    md5, sha1 = digests_without_seal(tree)
    indent = re.search(r"[ \t\r\n]*\Z", text[:insert_at])
    assert indent is not None  # the pattern matches the empty string
    prefix = f"{entete.prefix}:" if entete.prefix else ""
    element = f'<{prefix}Scellement md5="{md5}" sha1="{sha1}" date="{_format_date(when)}"/>'
    sealed = (text[:insert_at] + element + indent.group(0) + text[insert_at:]).encode(encoding)
    if not verify_seal(sealed, name=name, limits=limits).seal_valid:  # pragma: no cover - guards it
        raise ValidationError(
            "le scellement produit ne se vérifie pas", file=name, code="TOTEM_SEAL_INTERNAL"
        )
    return sealed


__all__ = [
    "MAX_BUDGET_BYTES",
    "BudgetSource",
    "SealReport",
    "budget_limits",
    "digests_without_seal",
    "read_budget",
    "require_valid_seal",
    "seal",
    "verify_seal",
]
