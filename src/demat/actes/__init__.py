"""ACTES: actes sent to the préfecture (contrôle de légalité) and what it sends back.

Pure protocol code: models, business rules, file naming, messages and envelopes
(``actesv1_1.xsd``), the ``.tar.gz`` package, the préfecture's messages (built for the
sandbox, read for tracking) and hardened reading of received archives.
"""

from demat.actes.archive import ReceivedMember, ReceivedPackage, open_package
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
from demat.actes.read import (
    ActeMessage,
    ActesMessage,
    AnomalieActeMessage,
    AnomalieEnveloppeMessage,
    ARActeMessage,
    ARAnnulationMessage,
    CourrierPrefMessage,
    RetourClassificationMessage,
    read_message,
)
from demat.actes.rules import ActesRuleError, Finding, Severity, check_acte, validate_acte

__all__ = [
    "ACTES_NS",
    "ARActeMessage",
    "ARAnnulationMessage",
    "Acte",
    "ActeData",
    "ActeDocument",
    "ActeMessage",
    "ActesIdentity",
    "ActesLimits",
    "ActesMessage",
    "ActesPackage",
    "ActesRuleError",
    "AnomalieActeMessage",
    "AnomalieEnveloppeMessage",
    "Classification",
    "CourrierPrefMessage",
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
    "ReceivedMember",
    "ReceivedPackage",
    "Referent",
    "ReplyKind",
    "RetourClassificationMessage",
    "Severity",
    "TypePJ",
    "check_acte",
    "open_package",
    "package_acte",
    "package_annulation",
    "package_demande_classification",
    "package_reply",
    "read_message",
    "sniff",
    "validate_acte",
]

# budget (TOTEM) exports: appended by the budget module's owner below this line.
from demat.actes import budget as budget  # TOTEM: demat.actes.budget.package_budget, seal, verify_seal…
