"""ACTES: actes sent to the préfecture (contrôle de légalité) and what it sends back.

Pure protocol code: models, business rules, file naming, messages and envelopes
(``actesv1_1.xsd``), the ``.tar.gz`` package, the préfecture's messages (built for the
sandbox, read for tracking) and hardened reading of received archives.
"""

from demat.actes.classification import Classification, Matiere, NatureClassification, TypePJ
from demat.actes.data import (
    ActeData,
    EnvelopeData,
    FichierSigne,
    IdCL,
    MisillEnvelopeData,
    PrefEmitter,
    Referent,
)
from demat.actes.formats import FileFormat, sniff
from demat.actes.limits import ActesLimits
from demat.actes.messages import ReplyKind
from demat.actes.model import ACTES_NS, Acte, ActeDocument, ActesIdentity, Nature
from demat.actes.package import (
    ActesPackage,
    Member,
    package_acte,
    package_annulation,
    package_demande_classification,
    package_reply,
)
from demat.actes.rules import ActesRuleError, Finding, Severity, check_acte, validate_acte

__all__ = [
    "ACTES_NS",
    "Acte",
    "ActeData",
    "ActeDocument",
    "ActesIdentity",
    "ActesLimits",
    "ActesPackage",
    "ActesRuleError",
    "Classification",
    "EnvelopeData",
    "FichierSigne",
    "FileFormat",
    "Finding",
    "IdCL",
    "Matiere",
    "Member",
    "MisillEnvelopeData",
    "Nature",
    "NatureClassification",
    "PrefEmitter",
    "Referent",
    "ReplyKind",
    "Severity",
    "TypePJ",
    "check_acte",
    "package_acte",
    "package_annulation",
    "package_demande_classification",
    "package_reply",
    "sniff",
    "validate_acte",
]

# budget (TOTEM) exports: appended by the budget module's owner below this line.
