"""demat.pes."""

# --- inspect, validate, acknowledgements (demat.pes.inspect / validate / ack / retour) ---
from demat.pes.ack import (
    AckElement,
    AckError,
    Acquit,
    DetailLigne,
    DetailPiece,
    acquit_elements_for,
    build_acquit,
    build_acquit_for,
    read_acquit,
)
from demat.pes.inspect import (
    BordereauInfo,
    PesInfo,
    PjInfo,
    PjRef,
    check_identity,
    identity_problems,
    inspect_pes,
)
from demat.pes.retour import RetourInfo, read_retour_header
from demat.pes.rules import Finding
from demat.pes.validate import ValidationReport, check_pj_text, validate_pes, validate_xsd

__all__ = [
    *globals().get("__all__", []),
    "AckElement",
    "AckError",
    "Acquit",
    "BordereauInfo",
    "DetailLigne",
    "DetailPiece",
    "Finding",
    "PesInfo",
    "PjInfo",
    "PjRef",
    "RetourInfo",
    "ValidationReport",
    "acquit_elements_for",
    "build_acquit",
    "build_acquit_for",
    "check_identity",
    "check_pj_text",
    "identity_problems",
    "inspect_pes",
    "read_acquit",
    "read_retour_header",
    "validate_pes",
    "validate_xsd",
]

# --- signature profile (demat.pes.sign) ---
from demat.pes.sign import (
    PesSignOptions,
    pes_sign_options,
    sign_pes,
    sign_pes_file,
    sign_pes_tree,
    verify_pes,
    verify_pes_tree,
)

__all__ = [
    *__all__,
    "PesSignOptions",
    "pes_sign_options",
    "sign_pes",
    "sign_pes_file",
    "sign_pes_tree",
    "verify_pes",
    "verify_pes_tree",
]
