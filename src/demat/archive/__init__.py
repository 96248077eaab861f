"""demat.archive: the intermediate archive's protocol code (pure, synchronous).

* :mod:`~demat.archive.seda`: SEDA 2.1/2.2/2.3 ``ArchiveTransfer`` packages from a finished
  transmission (:func:`build_package`, :class:`Package`), deterministic SIP zips;
* :mod:`~demat.archive.rules`: retention rules as data (DUA, final action, access), per flow,
  overridable per profile;
* :mod:`~demat.archive.formats`: format identification by content (Siegfried, PRONOM ids);
* :mod:`~demat.archive.reply`: SAE replies read leniently (:func:`read_reply`);
* :mod:`~demat.archive.seal`: a package's seal (CMS signature over the manifest, RFC 3161
  timestamp), verified at issuance and later;
* :mod:`~demat.archive.ledger`: the hash-chained ledger of archive operations, sealed as Vitam
  seals its logbooks (canonical JSON leaves, SHA-512 Merkle tree, chained timestamps);
* :mod:`~demat.archive.sip`: re-reading a SIP zip and checking it against its manifest.

Storage, the TSA over HTTP and the service that ties them together live in :mod:`demat.storage`.
"""

from typing import TYPE_CHECKING

from demat._lazy import lazy_names

if TYPE_CHECKING:
    from demat.archive.formats import FormatInfo, identify
    from demat.archive.ledger import Ledger, LedgerEntry, LedgerProblem
    from demat.archive.model import Agency, ArchivalProfileRef, ArchiveDocument, ArchiveInput
    from demat.archive.reply import ArchiveReply, read_reply
    from demat.archive.rules import DEFAULT_RULES, RetentionRule, RuleSet
    from demat.archive.seal import PackageSeal, seal_package, verify_seal
    from demat.archive.seda import Package, PackageObject, build_package
    from demat.archive.sip import SipReport, check_sip
    from demat.archive.timestamp import TimestampToken, TsaTrust

_WHERE = {
    "FormatInfo": "demat.archive.formats",
    "identify": "demat.archive.formats",
    "Agency": "demat.archive.model",
    "ArchivalProfileRef": "demat.archive.model",
    "ArchiveDocument": "demat.archive.model",
    "ArchiveInput": "demat.archive.model",
    "ArchiveReply": "demat.archive.reply",
    "read_reply": "demat.archive.reply",
    "DEFAULT_RULES": "demat.archive.rules",
    "RetentionRule": "demat.archive.rules",
    "RuleSet": "demat.archive.rules",
    "Package": "demat.archive.seda",
    "PackageObject": "demat.archive.seda",
    "build_package": "demat.archive.seda",
    "SipReport": "demat.archive.sip",
    "check_sip": "demat.archive.sip",
    "Ledger": "demat.archive.ledger",
    "LedgerEntry": "demat.archive.ledger",
    "LedgerProblem": "demat.archive.ledger",
    "PackageSeal": "demat.archive.seal",
    "seal_package": "demat.archive.seal",
    "verify_seal": "demat.archive.seal",
    "TimestampToken": "demat.archive.timestamp",
    "TsaTrust": "demat.archive.timestamp",
}

__getattr__ = lazy_names(__name__, _WHERE, globals())

__all__ = [
    "DEFAULT_RULES",
    "Agency",
    "ArchivalProfileRef",
    "ArchiveDocument",
    "ArchiveInput",
    "ArchiveReply",
    "FormatInfo",
    "Ledger",
    "LedgerEntry",
    "LedgerProblem",
    "Package",
    "PackageObject",
    "PackageSeal",
    "RetentionRule",
    "RuleSet",
    "SipReport",
    "TimestampToken",
    "TsaTrust",
    "build_package",
    "check_sip",
    "identify",
    "read_reply",
    "seal_package",
    "verify_seal",
]
