"""S²LOW, the tiers de télétransmission API for HELIOS (PES) and ACTES.

* :mod:`~demat.transport.s2low.client`: the client (mutual TLS, retries, streaming uploads) and
  the ``s2low`` platform kind;
* :mod:`~demat.transport.s2low.statuses`: S²LOW's status codes, one table per module, with the
  event each means and the document it makes available;
* :mod:`~demat.transport.s2low.replies`: S²LOW's replies parsed into typed results (pure).
"""

from demat.transport.s2low.client import (
    Credentials,
    RetryPolicy,
    S2lowActes,
    S2lowClient,
    S2lowConnection,
    S2lowHelios,
    Timeouts,
    map_client_error,
    open_account,
    sha1_of,
)
from demat.transport.s2low.statuses import ACTES, HELIOS, ActesStatusCode, HeliosStatusCode, StatusRow

__all__ = [
    "ACTES",
    "HELIOS",
    "ActesStatusCode",
    "Credentials",
    "HeliosStatusCode",
    "RetryPolicy",
    "S2lowActes",
    "S2lowClient",
    "S2lowConnection",
    "S2lowHelios",
    "StatusRow",
    "Timeouts",
    "map_client_error",
    "open_account",
    "sha1_of",
]
