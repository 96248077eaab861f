"""XML namespaces of the PES V2 documents (DGFiP XSD set), each written once for the package."""

#: ``PES_Aller``: the root element only; its children are unqualified.
PES_ALLER_NS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
#: ``PES_Retour``, and the old flat ``PES_ACQUIT`` (v1).
PES_RETOUR_NS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour"
#: ``PES_ACQUIT`` v2 (``PES_V2_Acquit_Autonome_V2.xsd``, nested ``DetailPiece``/``DetailLigne``).
PES_ACQUIT_NS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour/v2"

__all__ = ["PES_ACQUIT_NS", "PES_ALLER_NS", "PES_RETOUR_NS"]
