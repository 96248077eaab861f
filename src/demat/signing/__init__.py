"""Keys, certificates, XAdES signatures, trust and timestamps."""

from demat.signing.keys import Signer, load_signer_files, signer_from_pem, signer_from_pkcs12
from demat.signing.trust import ChainResult, TrustStore
from demat.signing.verify import (
    CertificateInfo,
    IdIndex,
    Issue,
    SignatureReport,
    SignatureTarget,
    VerifyOptions,
    VerifyReport,
    verify_signature,
)
from demat.signing.xades import (
    HELIOS_POLICY,
    ProductionPlace,
    SignaturePolicy,
    XadesOptions,
    XadesSigner,
)

__all__ = [
    "HELIOS_POLICY",
    "CertificateInfo",
    "ChainResult",
    "IdIndex",
    "Issue",
    "ProductionPlace",
    "SignaturePolicy",
    "SignatureReport",
    "SignatureTarget",
    "Signer",
    "TrustStore",
    "VerifyOptions",
    "VerifyReport",
    "XadesOptions",
    "XadesSigner",
    "load_signer_files",
    "signer_from_pem",
    "signer_from_pkcs12",
    "verify_signature",
]
