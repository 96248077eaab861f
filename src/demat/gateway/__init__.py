"""demat.gateway: the async façade that checks, records, sends and tracks documents.

* :mod:`~demat.gateway.gateway`: :class:`Gateway`, used by connectors, the CLI and the poller;
* :mod:`~demat.gateway.identity`: a profile turned into the protocol code's own types.
"""

from demat.gateway.gateway import Gateway, PlatformSet, SendResult

__all__ = ["Gateway", "PlatformSet", "SendResult"]
