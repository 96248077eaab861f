"""demat.storage: where the intermediate archive keeps its packages, seals and ledger proofs.

* :mod:`~demat.storage.base`: the :class:`Storage` protocol (write-once objects, deletion only
  with a proof);
* :mod:`~demat.storage.filesystem`: :class:`FilesystemStorage`, the embedded default;
* :mod:`~demat.storage.s3`: :class:`S3Storage`, S3-compatible object storage (aiobotocore,
  conditional writes, Object Lock retention), the scale-out path;
* :mod:`~demat.storage.tsa`: RFC 3161 timestamping authorities (HTTP, or in process);
* :mod:`~demat.storage.service`: :class:`ArchiveStore`, which deposits a package (seal, store,
  ledger entry, crash-safe), verifies everything, reports DUAs due and eliminates with proof.
"""

from typing import TYPE_CHECKING

from demat._lazy import lazy_names

if TYPE_CHECKING:
    from demat.storage.base import Storage, StoredObject
    from demat.storage.filesystem import FilesystemStorage
    from demat.storage.s3 import S3Storage
    from demat.storage.service import ArchiveStore, Deposit, Problem, VerifyReport
    from demat.storage.tsa import AsyncTimestamper, HttpTimestamper, in_process

_WHERE = {
    "Storage": "demat.storage.base",
    "StoredObject": "demat.storage.base",
    "FilesystemStorage": "demat.storage.filesystem",
    "S3Storage": "demat.storage.s3",
    "ArchiveStore": "demat.storage.service",
    "Deposit": "demat.storage.service",
    "Problem": "demat.storage.service",
    "VerifyReport": "demat.storage.service",
    "AsyncTimestamper": "demat.storage.tsa",
    "HttpTimestamper": "demat.storage.tsa",
    "in_process": "demat.storage.tsa",
}

__getattr__ = lazy_names(__name__, _WHERE, globals())

__all__ = [
    "ArchiveStore",
    "AsyncTimestamper",
    "Deposit",
    "FilesystemStorage",
    "HttpTimestamper",
    "Problem",
    "S3Storage",
    "Storage",
    "StoredObject",
    "VerifyReport",
    "in_process",
]
