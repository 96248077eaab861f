"""demat.pes: PES V2 (HELIOS) files: inspect, validate, build, sign and verify PES_Aller, read
PES_ACQUIT and PES_Retour.

Every name below loads its module on first use (as :mod:`demat.tracking` does), so that a
command needing one reader (``demat pes inspect``) does not pay for the builder, the signature
code and their models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from demat.pes.build import (
        PesWriter,
        build_pes,
        build_pes_bytes,
        write_pes,
    )
    from demat.pes.encoding import (
        declared_encoding,
        detect_encoding,
        iter_to_latin1,
        to_latin1,
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
    from demat.pes.pj import (
        decode_pj,
        encode_pj,
        iter_decode_pj,
    )
    from demat.pes.retour import (
        RetourInfo,
        read_retour_header,
    )
    from demat.pes.rules import (
        Finding,
    )
    from demat.pes.sign import (
        PesSignOptions,
        pes_sign_options,
        sign_pes,
        sign_pes_file,
        sign_pes_tree,
        verify_pes,
        verify_pes_tree,
    )
    from demat.pes.synthetic import (
        SyntheticStats,
        synthetic_pes,
        write_synthetic,
    )
    from demat.pes.validate import (
        ValidationReport,
        check_pj_text,
        validate_pes,
        validate_xsd,
    )

#: The module each public name comes from (imported on first use).
_WHERE = {
    "AckElement": "demat.pes.ack",
    "AckError": "demat.pes.ack",
    "Acquit": "demat.pes.ack",
    "DetailLigne": "demat.pes.ack",
    "DetailPiece": "demat.pes.ack",
    "acquit_elements_for": "demat.pes.ack",
    "build_acquit": "demat.pes.ack",
    "build_acquit_for": "demat.pes.ack",
    "read_acquit": "demat.pes.ack",
    "BordereauInfo": "demat.pes.inspect",
    "PesInfo": "demat.pes.inspect",
    "PjInfo": "demat.pes.inspect",
    "PjRef": "demat.pes.inspect",
    "check_identity": "demat.pes.inspect",
    "identity_problems": "demat.pes.inspect",
    "inspect_pes": "demat.pes.inspect",
    "RetourInfo": "demat.pes.retour",
    "read_retour_header": "demat.pes.retour",
    "Finding": "demat.pes.rules",
    "ValidationReport": "demat.pes.validate",
    "check_pj_text": "demat.pes.validate",
    "validate_pes": "demat.pes.validate",
    "validate_xsd": "demat.pes.validate",
    "PesSignOptions": "demat.pes.sign",
    "pes_sign_options": "demat.pes.sign",
    "sign_pes": "demat.pes.sign",
    "sign_pes_file": "demat.pes.sign",
    "sign_pes_tree": "demat.pes.sign",
    "verify_pes": "demat.pes.sign",
    "verify_pes_tree": "demat.pes.sign",
    "PesWriter": "demat.pes.build",
    "build_pes": "demat.pes.build",
    "build_pes_bytes": "demat.pes.build",
    "write_pes": "demat.pes.build",
    "declared_encoding": "demat.pes.encoding",
    "detect_encoding": "demat.pes.encoding",
    "iter_to_latin1": "demat.pes.encoding",
    "to_latin1": "demat.pes.encoding",
    "DGP": "demat.pes.model",
    "PJ": "demat.pes.model",
    "Adresse": "demat.pes.model",
    "BordereauDepense": "demat.pes.model",
    "BordereauRecette": "demat.pes.model",
    "CpteBancaire": "demat.pes.model",
    "Emetteur": "demat.pes.model",
    "EnTetePES": "demat.pes.model",
    "Enveloppe": "demat.pes.model",
    "InfoTiersDepense": "demat.pes.model",
    "InfoTiersRecette": "demat.pes.model",
    "LiensIdent": "demat.pes.model",
    "LigneDepense": "demat.pes.model",
    "LigneRecette": "demat.pes.model",
    "PesAller": "demat.pes.model",
    "PesDepenseAller": "demat.pes.model",
    "PesPJ": "demat.pes.model",
    "PesRecetteAller": "demat.pes.model",
    "PieceDepense": "demat.pes.model",
    "PieceRecette": "demat.pes.model",
    "PJRef": "demat.pes.model",
    "Recepteur": "demat.pes.model",
    "RefCompta": "demat.pes.model",
    "TiersDepense": "demat.pes.model",
    "TiersRecette": "demat.pes.model",
    "parse_spec": "demat.pes.model",
    "decode_pj": "demat.pes.pj",
    "encode_pj": "demat.pes.pj",
    "iter_decode_pj": "demat.pes.pj",
    "SyntheticStats": "demat.pes.synthetic",
    "synthetic_pes": "demat.pes.synthetic",
    "write_synthetic": "demat.pes.synthetic",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'demat.pes' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DGP",
    "PJ",
    "AckElement",
    "AckError",
    "Acquit",
    "Adresse",
    "BordereauDepense",
    "BordereauInfo",
    "BordereauRecette",
    "CpteBancaire",
    "DetailLigne",
    "DetailPiece",
    "Emetteur",
    "EnTetePES",
    "Enveloppe",
    "Finding",
    "InfoTiersDepense",
    "InfoTiersRecette",
    "LiensIdent",
    "LigneDepense",
    "LigneRecette",
    "PJRef",
    "PesAller",
    "PesDepenseAller",
    "PesInfo",
    "PesPJ",
    "PesRecetteAller",
    "PesSignOptions",
    "PesWriter",
    "PieceDepense",
    "PieceRecette",
    "PjInfo",
    "PjRef",
    "Recepteur",
    "RefCompta",
    "RetourInfo",
    "SyntheticStats",
    "TiersDepense",
    "TiersRecette",
    "ValidationReport",
    "acquit_elements_for",
    "build_acquit",
    "build_acquit_for",
    "build_pes",
    "build_pes_bytes",
    "check_identity",
    "check_pj_text",
    "declared_encoding",
    "decode_pj",
    "detect_encoding",
    "encode_pj",
    "identity_problems",
    "inspect_pes",
    "iter_decode_pj",
    "iter_to_latin1",
    "parse_spec",
    "pes_sign_options",
    "read_acquit",
    "read_retour_header",
    "sign_pes",
    "sign_pes_file",
    "sign_pes_tree",
    "synthetic_pes",
    "to_latin1",
    "validate_pes",
    "validate_xsd",
    "verify_pes",
    "verify_pes_tree",
    "write_pes",
    "write_synthetic",
]
