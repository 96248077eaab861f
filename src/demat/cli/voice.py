"""One vocabulary for what demat's commands conclude, in one language.

Every command that judges a file says so on one line, the file named once: ``FILE: WORD`` and,
in brackets, what the word rests on; then one line per finding, ``  error CODE line N: message``
or ``  warning …``. The words: a document is ``valid`` or ``invalid``; signatures are ``valid``,
``intact, signer not checked`` or ``invalid``; a budget document's seal is ``sealed, seal valid``,
``not sealed`` or ``seal invalid``; an acquittal is ``accepted`` or ``rejected``. Messages quoted
from an official source (a DGFiP error label, a rule's text) stay as that source words them. No
Python value is ever shown as its repr: a missing one is ``-``.
"""

from __future__ import annotations

#: A document that passes every check.
VALID = "valid"
#: A document that fails at least one check (an error, not a warning).
INVALID = "invalid"
#: An acquittal (PES_ACQUIT) that accepts every element.
ACCEPTED = "accepted"
#: An acquittal that rejects at least one element.
REJECTED = "rejected"

_ERRORS = {"error", "erreur", "fatal"}


def verdict(subject: object, word: str, detail: str | None = None) -> str:
    """``SUBJECT: WORD (detail)``: the one line a judged file gets."""
    return f"{subject}: {word}" + (f" ({detail})" if detail else "")


def finding(
    severity: object,
    code: str | None,
    message: str,
    *,
    line: int | None = None,
    where: str | None = None,
    indent: str = "  ",
) -> str:
    """``  error CODE line N, WHERE: message`` (``warning`` for anything not an error)."""
    kind = "error" if str(severity).lower() in _ERRORS else "warning"
    place = [f"line {line}"] if line is not None else []
    if where:
        place.append(where)
    head = " ".join([kind, *([code] if code else []), *([", ".join(place)] if place else [])])
    return f"{indent}{head}: {message}"


def tally(errors: int, warnings: int) -> str:
    """``2 errors, 1 warning``."""
    return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"


def shown(value: object, missing: str = "-") -> str:
    """A value for text output: ``missing`` for ``None``, never a repr."""
    return missing if value is None or value == "" else str(value)


__all__ = ["ACCEPTED", "INVALID", "REJECTED", "VALID", "finding", "shown", "tally", "verdict"]
