"""demat: the dematerialised flows of French local authorities, sent with proof.

PES V2 to HELIOS, ACTES and TOTEM budget documents to the préfecture, electoral lists,
and sealed SEDA packages of everything sent and received.

>>> import demat
>>> async with demat.Gateway.open(demat.load_settings()) as gw:
...     await gw.send_pes(Path("PES.xml"), profile="ville")

The error tree (:mod:`demat.errors`) is imported with the package; :class:`Gateway`,
:class:`Settings` and :func:`load_settings` on first use, so that ``import demat.xml`` or
``demat --help`` do not pay for the tracking store, the transport and pydantic-settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from demat.errors import (
    ConfigError,
    ConnectError,
    CredentialsError,
    DematError,
    Disconnected,
    DuplicateSubmission,
    FileMissing,
    FileUnreadable,
    FileUnwritable,
    IdentityMismatch,
    JournalError,
    ObjectExists,
    ObjectMissing,
    PackagingError,
    PlatformTimeout,
    ProtocolError,
    RemoteRejected,
    SchemaError,
    ServerError,
    SignatureError,
    StorageError,
    StoreError,
    TimestampError,
    TLSError,
    TransportError,
    ValidationError,
    XMLSecurityError,
    XMLSyntaxError,
)

if TYPE_CHECKING:
    from demat.config import Settings, load_settings
    from demat.gateway import Gateway

#: The version of this package.
__version__ = "0.1.0"

#: Public names imported on first use, and the module each comes from.
_LAZY = {"Gateway": "demat.gateway", "Settings": "demat.config", "load_settings": "demat.config"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'demat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ConfigError",
    "ConnectError",
    "CredentialsError",
    "DematError",
    "Disconnected",
    "DuplicateSubmission",
    "FileMissing",
    "FileUnreadable",
    "FileUnwritable",
    "Gateway",
    "IdentityMismatch",
    "JournalError",
    "ObjectExists",
    "ObjectMissing",
    "PackagingError",
    "PlatformTimeout",
    "ProtocolError",
    "RemoteRejected",
    "SchemaError",
    "ServerError",
    "Settings",
    "SignatureError",
    "StorageError",
    "StoreError",
    "TLSError",
    "TimestampError",
    "TransportError",
    "ValidationError",
    "XMLSecurityError",
    "XMLSyntaxError",
    "__version__",
    "load_settings",
]
