"""PES_Retour: read just enough of a restitution from Hélios to route it.

Retours (states of mandats and titres, stocks) can be large, so the header and the block
counts are read in one streaming pass that clears the tree as it goes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from demat.errors import ProtocolError
from demat.xml.safe import DEFAULT_LIMITS, Limits, Source, iterparse, local_name

#: Blocks of a PES_Retour, by element name → short name.
RETOUR_BLOCKS = {
    "PES_DepenseRetour": "depense",
    "PES_RecetteRetour": "recette",
    "PES_ClientRetour": "client",
}


@dataclass
class RetourInfo:
    """Header and content summary of a PES_Retour."""

    file: str | None = None
    namespace: str | None = None
    nom_fic: str | None = None
    typ_fic: str | None = None
    dte_str: str | None = None
    id_post: str | None = None
    id_coll: str | None = None
    cod_coll: str | None = None  #: spelled CodColl in retours
    cod_bud: str | None = None
    blocks: list[str] = field(default_factory=list)  #: "depense", "recette", "client"
    bordereaux: dict[str, int] = field(default_factory=dict)  #: per block
    pieces: dict[str, int] = field(default_factory=dict)  #: per block
    typ_restit: dict[str, str] = field(default_factory=dict)  #: per block, when given

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)


_HEADER = {
    ("Parametres", "NomFic"): "nom_fic",
    ("Parametres", "TypFic"): "typ_fic",
    ("EnTetePES", "DteStr"): "dte_str",
    ("EnTetePES", "IdPost"): "id_post",
    ("EnTetePES", "IdColl"): "id_coll",
    ("EnTetePES", "CodColl"): "cod_coll",
    ("EnTetePES", "CodCol"): "cod_coll",  # tolerate the aller spelling
    ("EnTetePES", "CodBud"): "cod_bud",
}


def read_retour_header(source: Source, *, limits: Limits = DEFAULT_LIMITS) -> RetourInfo:
    """Read a PES_Retour's NomFic, TypFic, IdPost, IdColl, CodColl, CodBud and block counts.

    Raises :class:`demat.errors.ProtocolError` (code ``PES_RETOUR_NOT_RETOUR``) when the root
    is not ``PES_Retour``, and the :mod:`demat.xml.safe` errors for unsafe or malformed XML.
    """
    info = RetourInfo()
    if isinstance(source, str | os.PathLike):
        info.file = os.fspath(source)
    stack: list[str] = []
    block: str | None = None
    for event, elem in iterparse(source, events=("start", "end"), limits=limits):
        name = local_name(elem)
        if event == "start":
            if not stack:
                if name != "PES_Retour":
                    raise ProtocolError(
                        f"ce document n'est pas un PES_Retour (racine {name!r})",
                        file=info.file,
                        code="PES_RETOUR_NOT_RETOUR",
                    )
                tag = elem.tag
                info.namespace = tag[1:].partition("}")[0] if tag.startswith("{") else None
            elif len(stack) == 1 and name in RETOUR_BLOCKS:
                block = RETOUR_BLOCKS[name]
                info.blocks.append(block)
                info.bordereaux.setdefault(block, 0)
                info.pieces.setdefault(block, 0)
            elif block is not None and len(stack) == 2 and name == "Bordereau":
                info.bordereaux[block] += 1
            elif block is not None and len(stack) == 3 and name == "Piece" and stack[-1] == "Bordereau":
                info.pieces[block] += 1
            stack.append(name)
            continue
        stack.pop()
        parent = stack[-1] if stack else None
        value = elem.get("V")
        if value is not None and parent is not None:
            attr = _HEADER.get((parent, name))
            if attr is not None:
                setattr(info, attr, value)
            elif block is not None and name == "TypRestit" and parent.startswith("EnTete"):
                info.typ_restit[block] = value
        if len(stack) == 1 and name in RETOUR_BLOCKS:
            block = None
        if len(stack) <= 3:
            elem.clear()
            owner = elem.getparent()
            if owner is not None:
                while elem.getprevious() is not None:
                    del owner[0]
    return info


__all__ = ["RETOUR_BLOCKS", "RetourInfo", "read_retour_header"]
