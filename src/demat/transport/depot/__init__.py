"""The client of demat's deposit server for electoral lists (platform kind ``depot``).

* :mod:`~demat.transport.depot.client`: the client (TLS with a client certificate or a token),
  its ``"depot"`` service and the ``depot`` platform kind;
* :mod:`~demat.transport.depot.statuses`: the control statuses and the event each means.

The documents (manifest, accusé de dépôt, control report) are :mod:`demat.depot.protocol`'s.
"""

from demat.transport.depot.client import (
    DepositAnswer,
    DepotClient,
    DepotLookup,
    DepotPlatform,
    DepotService,
    open_account,
)
from demat.transport.depot.statuses import STATUSES, DepotStatusCode, depot_status

__all__ = [
    "STATUSES",
    "DepositAnswer",
    "DepotClient",
    "DepotLookup",
    "DepotPlatform",
    "DepotService",
    "DepotStatusCode",
    "depot_status",
    "open_account",
]
