"""The client of Vitam's external ingest API (platform kind ``vitam``).

* :mod:`~demat.transport.vitam.client`: the client (mutual TLS, ``X-Tenant-Id``), its ``"sae"``
  service (:class:`~demat.transport.protocol.ArchiveTransferPlatform`, with the lookup through the
  operation logbook) and the ``vitam`` platform kind;
* :mod:`~demat.transport.vitam.statuses`: what an operation's state and status mean.

The packages and the replies are :mod:`demat.archive`'s.
"""

from demat.transport.vitam.client import VitamClient, VitamService, open_account, vitam_error
from demat.transport.vitam.statuses import STATUSES, ExecutionState, ExecutionStatus, operation_status

__all__ = [
    "STATUSES",
    "ExecutionState",
    "ExecutionStatus",
    "VitamClient",
    "VitamService",
    "open_account",
    "operation_status",
    "vitam_error",
]
