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

# --- building PES_Aller (demat.pes.model / build / pj / encoding / synthetic) ---
from demat.pes.build import PesWriter, build_pes, build_pes_bytes, write_pes
from demat.pes.encoding import declared_encoding, detect_encoding, iter_to_latin1, to_latin1
from demat.pes.model import (
    DGP,
    PJ,
    Adresse,
    BordereauDepense,
    BordereauRecette,
    CpteBancaire,
    Emetteur,
    EnTetePES,
    Enveloppe,
    InfoTiersDepense,
    InfoTiersRecette,
    LiensIdent,
    LigneDepense,
    LigneRecette,
    PesAller,
    PesDepenseAller,
    PesPJ,
    PesRecetteAller,
    PieceDepense,
    PieceRecette,
    PJRef,
    Recepteur,
    RefCompta,
    TiersDepense,
    TiersRecette,
    parse_spec,
)
from demat.pes.pj import decode_pj, encode_pj, iter_decode_pj
from demat.pes.synthetic import SyntheticStats, synthetic_pes, write_synthetic

__all__ = [
    *__all__,
    "DGP",
    "PJ",
    "Adresse",
    "BordereauDepense",
    "BordereauRecette",
    "CpteBancaire",
    "Emetteur",
    "EnTetePES",
    "Enveloppe",
    "InfoTiersDepense",
    "InfoTiersRecette",
    "LiensIdent",
    "LigneDepense",
    "LigneRecette",
    "PJRef",
    "PesAller",
    "PesDepenseAller",
    "PesPJ",
    "PesRecetteAller",
    "PesWriter",
    "PieceDepense",
    "PieceRecette",
    "Recepteur",
    "RefCompta",
    "SyntheticStats",
    "TiersDepense",
    "TiersRecette",
    "build_pes",
    "build_pes_bytes",
    "declared_encoding",
    "decode_pj",
    "detect_encoding",
    "encode_pj",
    "iter_decode_pj",
    "iter_to_latin1",
    "parse_spec",
    "synthetic_pes",
    "to_latin1",
    "write_pes",
    "write_synthetic",
]
