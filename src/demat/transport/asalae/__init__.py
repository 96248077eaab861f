"""The client of as@lae's ``sedaMessages`` API (platform kind ``asalae``).

* :mod:`~demat.transport.asalae.client`: the client (TLS, HTTP Basic with the password's
  SHA-256), its ``"sae"`` service (:class:`~demat.transport.protocol.ArchiveTransferPlatform`,
  with the lookup by acknowledgement) and the ``asalae`` platform kind;
* :mod:`~demat.transport.asalae.statuses`: how far a transfer went, and what that means.
"""

from demat.transport.asalae.client import AsalaeClient, AsalaeService, message_path, open_account
from demat.transport.asalae.statuses import STATUSES, AsalaeStep

__all__ = ["STATUSES", "AsalaeClient", "AsalaeService", "AsalaeStep", "message_path", "open_account"]
