"""demat: the dematerialised flows of French local authorities, sent with proof.

PES V2 to HELIOS, ACTES and TOTEM budget documents to the préfecture, electoral lists,
and sealed SEDA packages of everything sent and received.
"""

from demat.errors import (
    ConfigError,
    DematError,
    PackagingError,
    ProtocolError,
    RemoteRejected,
    SchemaError,
    SignatureError,
    StoreError,
    TransportError,
    ValidationError,
    XMLSecurityError,
    XMLSyntaxError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DematError",
    "PackagingError",
    "ProtocolError",
    "RemoteRejected",
    "SchemaError",
    "SignatureError",
    "StoreError",
    "TransportError",
    "ValidationError",
    "XMLSecurityError",
    "XMLSyntaxError",
    "__version__",
]
