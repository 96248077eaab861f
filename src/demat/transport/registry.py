"""Platform kinds: how an account of the settings (``[platforms.NAME] kind = "…"``) is opened.

A kind maps to an opener, ``opener(account) -> Platform``: the services the account offers
(:class:`~demat.transport.protocol.Platform`). The kinds demat ships are named here by import
path, so none is imported before it is used; others register at run time
(:func:`register_platform_kind`), the way the deposit server and the SAE clients slot in.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable

from demat.config import PlatformAccount
from demat.errors import ConfigError
from demat.transport.protocol import Platform

PlatformOpener = Callable[[PlatformAccount], Platform]
"""Opens one account of a platform kind."""

_KINDS: dict[str, PlatformOpener | str] = {
    "s2low": "demat.transport.s2low.client:open_account",
    "s2low-sandbox": "demat.sandbox.platform:open_account",
    "depot": "demat.transport.depot.client:open_account",
    "vitam": "demat.transport.vitam.client:open_account",
    "asalae": "demat.transport.asalae.client:open_account",
}


def register_platform_kind(kind: str, opener: PlatformOpener) -> None:
    """Make ``kind`` usable in ``[platforms.NAME] kind = "…"`` (replaces an earlier opener)."""
    _KINDS[kind] = opener


def unregister_platform_kind(kind: str) -> None:
    """Forget a kind registered with :func:`register_platform_kind`."""
    _KINDS.pop(kind, None)


def platform_kinds() -> list[str]:
    """The kinds known now, sorted."""
    return sorted(_KINDS)


def platform_opener(kind: str) -> PlatformOpener:
    """The opener of ``kind``; :class:`ConfigError` naming the closest known kind otherwise."""
    found = _KINDS.get(kind)
    if found is None:
        close = difflib.get_close_matches(kind, _KINDS, n=1)
        hint = f" (vouliez-vous dire {close[0]!r} ?)" if close else ""
        raise ConfigError(
            f"type de plateforme inconnu : {kind!r}{hint} ; connus : {', '.join(platform_kinds())}",
            code="UNKNOWN_PLATFORM_KIND",
        )
    if isinstance(found, str):
        module, _, name = found.partition(":")
        opener: PlatformOpener = getattr(importlib.import_module(module), name)
        _KINDS[kind] = found = opener
    return found


def open_platform(account: PlatformAccount) -> Platform:
    """Open ``account`` with the opener of its kind."""
    return platform_opener(account.kind)(account)


__all__ = [
    "PlatformOpener",
    "open_platform",
    "platform_kinds",
    "platform_opener",
    "register_platform_kind",
    "unregister_platform_kind",
]
