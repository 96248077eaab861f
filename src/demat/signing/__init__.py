"""Keys, certificates, XAdES signatures, trust and timestamps.

Each name loads its module on first use, so that reading a PES does not pay for the
signature code and cryptography.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from demat._lazy import lazy_names

if TYPE_CHECKING:
    from demat.signing.keys import (
        Signer,
        load_signer_files,
        signer_from_pem,
        signer_from_pkcs12,
    )
    from demat.signing.trust import (
        ChainResult,
        TrustStore,
    )
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

#: The module each public name comes from (imported on first use).
_WHERE = {
    "Signer": "demat.signing.keys",
    "load_signer_files": "demat.signing.keys",
    "signer_from_pem": "demat.signing.keys",
    "signer_from_pkcs12": "demat.signing.keys",
    "ChainResult": "demat.signing.trust",
    "TrustStore": "demat.signing.trust",
    "CertificateInfo": "demat.signing.verify",
    "IdIndex": "demat.signing.verify",
    "Issue": "demat.signing.verify",
    "SignatureReport": "demat.signing.verify",
    "SignatureTarget": "demat.signing.verify",
    "VerifyOptions": "demat.signing.verify",
    "VerifyReport": "demat.signing.verify",
    "verify_signature": "demat.signing.verify",
    "HELIOS_POLICY": "demat.signing.xades",
    "ProductionPlace": "demat.signing.xades",
    "SignaturePolicy": "demat.signing.xades",
    "XadesOptions": "demat.signing.xades",
    "XadesSigner": "demat.signing.xades",
}

__getattr__ = lazy_names(__name__, _WHERE, globals())


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
