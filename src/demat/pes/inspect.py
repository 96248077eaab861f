"""Read what a PES_Aller declares, in one streaming pass, without loading the file.

A PES_Aller can weigh hundreds of MB, almost all of it base64 attachments (PJ). The scanner
here walks the parse events once, keeps only small summaries (header, one record per
bordereau and per PJ) and clears the tree behind it, so that at most one PJ's text is in
memory at a time. :mod:`demat.pes.validate` drives the same scanner with the XSD plugged in
and the business rules on top, so inspecting and validating never disagree on what a file
contains.

Hardening is that of :mod:`demat.xml.safe` (prolog checked: any DOCTYPE refused, in any
encoding; byte cap; no network; nesting capped at ``Limits.max_depth``). Only the elements the
scanner reads are handed to Python (lxml filters the others in C), so depth is not counted
element by element: every subtree is checked, by an XPath libxml2 runs in C, just before the
scanner drops it, and what remains is checked at the end (:meth:`PesScanner.check_depth`).
"""

from __future__ import annotations

import binascii
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from demat.errors import IdentityMismatch, ProtocolError, XMLSecurityError, XMLSyntaxError
from demat.pes.encoding import declared_encoding
from demat.pes.namespaces import PES_ALLER_NS
from demat.signing.xmldsig import DS_NS
from demat.xml.safe import DEFAULT_LIMITS, Limits, Source, open_checked

_SIG_TAG = f"{{{DS_NS}}}Signature"
_REF_TAG = f"{{{DS_NS}}}Reference"

#: Bytes fed to libxml2 at a time.
CHUNK_SIZE = 1 << 20
#: Default cap on the base64 text of one PJ (``Fichier``), the one text of a PES_Aller that
#: may exceed the XML text cap: 48 MiB of base64 is a 36 MB gzip. Inspecting it costs about
#: twice that (libxml2's text node, then Python's string), validating it three times (the
#: streaming schema validator keeps its own copy). ``[limits] max_pj_base64_bytes``.
DEFAULT_MAX_PJ_TEXT = 48 * 1024 * 1024

#: Domain blocks a PES_Aller may carry, by element name → short name.
DOMAIN_BLOCKS = {
    "PES_DepenseAller": "depense",
    "PES_RecetteAller": "recette",
    "PES_Facture": "facture",
    "PES_Marche": "marche",
}
_BORDEREAU_DOMAINS = {"PES_DepenseAller": "depense", "PES_RecetteAller": "recette"}


@dataclass
class PjRef:
    """A piece or line pointing at an attachment (``PJRef``)."""

    id_unique: str | None
    support: str | None
    nom_pj: str | None
    line: int | None


@dataclass
class BordereauInfo:
    """What one bordereau declares, and what its pièces actually add up to."""

    domain: str  #: "depense" or "recette"
    index: int  #: 1-based position in its domain block
    id: str | None = None
    line: int | None = None
    exer: str | None = None
    id_bord: str | None = None
    typ_bord: str | None = None
    nbr_pce: str | None = None  #: declared, as written
    mt_bord_ht: str | None = None  #: declared MtBordHT / MtBordHt, as written
    mt_bord_tva: str | None = None
    mt_cumul_annuel: str | None = None
    pieces: int = 0  #: counted
    lines: int = 0
    sum_ht: Decimal = Decimal(0)  #: Σ MtHT of the lines
    sum_tva: Decimal = Decimal(0)  #: Σ MtTVA of the lines
    lines_with_tva: int = 0  #: lines with MtTVA > 0
    bad_amounts: list[tuple[str, str, int | None]] = field(default_factory=list)
    signed: bool = False
    signature_refs: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How a finance agent names it: "bordereau 2372 (exercice 2015)"."""
        num = self.id_bord or f"n°{self.index}"
        return f"bordereau {num}" + (f" (exercice {self.exer})" if self.exer else "")


@dataclass
class PjInfo:
    """One attachment of the ``PES_PJ`` block."""

    index: int
    line: int | None = None
    id_unique: str | None = None
    nom_pj: str | None = None
    type_pj: str | None = None
    mime_type: str | None = None
    base64_length: int = 0  #: characters of base64 text, whitespace included
    gzip: bool | None = None  #: the content starts with the gzip magic number
    inflated_size: int | None = None  #: gzip trailer ISIZE (size mod 2³²), when readable
    signed: bool = False


@dataclass
class DomainInfo:
    """A domain block (dépense, recette, facture, marché) and its header."""

    name: str
    line: int | None = None
    id_ver: str | None = None
    info_dematerialisee: str | None = None  #: as written; absent means 0


@dataclass
class PesInfo:
    """Everything :func:`inspect_pes` reads from a PES_Aller."""

    file: str | None = None
    root: str | None = None
    root_namespace: str | None = None
    encoding: str | None = None  #: as declared in the XML declaration (None: UTF-8 by default)
    version: str | None = None
    nom_fic: str | None = None
    typ_fic: str | None = None
    dte_str: str | None = None
    id_post: str | None = None
    id_coll: str | None = None
    cod_col: str | None = None
    cod_bud: str | None = None
    libelle_col_bud: str | None = None
    root_id: str | None = None
    root_signed: bool = False
    root_signature_refs: list[str] = field(default_factory=list)
    domains: dict[str, DomainInfo] = field(default_factory=dict)
    bordereaux: list[BordereauInfo] = field(default_factory=list)
    pj_block: bool = False
    pj_id_ver: str | None = None
    pjs: list[PjInfo] = field(default_factory=list)
    pj_refs: list[PjRef] = field(default_factory=list)

    @property
    def signed(self) -> bool:
        """Whether any signature (global or per bordereau) is present."""
        return self.root_signed or any(b.signed for b in self.bordereaux)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        from dataclasses import asdict

        out = asdict(self)
        out["signed"] = self.signed
        return out


def _amount(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def gzip_trailer_size(text: str) -> int | None:
    """ISIZE of a base64-encoded gzip stream, read from its last characters only (cheap)."""
    tail: list[str] = []
    for ch in reversed(text):
        if not ch.isspace():
            tail.append(ch)
            if len(tail) == 12:
                break
    if len(tail) < 12:
        return None
    try:
        raw = binascii.a2b_base64("".join(reversed(tail)))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw[-4:], "little") if len(raw) >= 4 else None


def _starts_gzip(text: str) -> bool | None:
    head = text.lstrip()[:4]
    if len(head) < 4:
        return None
    try:
        return binascii.a2b_base64(head)[:2] == b"\x1f\x8b"
    except (binascii.Error, ValueError):
        return False


#: ``on_pj_content(pj, text)``: told each PJ's base64 text before it is dropped.
PjHook = Callable[[PjInfo, str], None]

#: The containers the scanner summarises; with the leaves of :data:`LEAF_SETTERS`, only these
#: elements reach Python (lxml filters the rest in C), which keeps the pass close to the
#: speed of libxml2 alone on bordereau-heavy files.
_CONTAINERS = [
    "Fichier",
    "InfoLignePce",
    "InfoLignePiece",
    "PJRef",
    "Piece",
    "Bordereau",
    "PJ",
    "PES_PJ",
    *DOMAIN_BLOCKS,
    _SIG_TAG,
    _REF_TAG,
]
#: Elements of a signature that carry an Id (checked for uniqueness with the others).
_ID_HOLDERS = [
    "{*}SignedProperties",
    "{*}Object",
    "{*}KeyInfo",
    "{*}SignatureValue",
    "{*}QualifyingProperties",
]
#: Big subtrees cleared as soon as they end, when nothing else needs to see them.
BULK_TAGS = ["Bordereau", "Piece", "PJ", "Fichier", *DOMAIN_BLOCKS]


#: Pièces kept in the tree before they are checked and dropped together (bounded memory).
_PIECES_PER_CHECK = 32
# A PES nests about 12 levels: a first look this deep below an element settles almost every
# call cheaply (the cost of the XPath grows with the levels it asks for).
_QUICK_DEPTH = 16


@functools.cache
def _below(levels: int, first: bool) -> Any:
    """An XPath over the elements ``levels`` below the context node (1: its children):
    whether there is one, or the first."""
    path = "/".join(["*"] * levels)
    return etree.XPath(f"({path})[1]" if first else f"boolean({path})")


def _depth_of(elem: Any) -> int:
    depth = 1
    parent = elem.getparent()
    while parent is not None:
        depth += 1
        parent = parent.getparent()
    return depth


def too_deep(elem: Any, max_depth: int) -> Any:
    """The first element of ``elem``'s subtree (``elem`` included) that lies deeper than
    ``max_depth`` in its document (the root at 1), or None.

    libxml2 walks the subtree level by level in C: only the levels below ``elem`` are read,
    a shallow look first, and the exact one only when something is that deep.
    """
    allowed = max_depth - _depth_of(elem)  # levels allowed below elem
    if allowed < 0:
        return elem
    if allowed + 1 > _QUICK_DEPTH and not _below(_QUICK_DEPTH, False)(elem):
        return None
    found = _below(allowed + 1, True)(elem)
    return found[0] if found else None


class PesScanner:
    """Consumes the end events of :data:`SCAN_TAGS` of a PES_Aller and fills a :class:`PesInfo`.

    Finished subtrees are cleared as soon as their summary is taken, so memory stays flat.
    ``on_pj_content(pj, text)`` is called with each PJ's base64 text (one at a time) before
    the text is dropped; validation uses it to check the content.
    """

    def __init__(self, info: PesInfo, on_pj_content: PjHook | None = None) -> None:
        self.info = info
        self.on_pj_content = on_pj_content
        self.ids: dict[str, list[int | None]] = {}
        self._root_seen = False
        self._bord: BordereauInfo | None = None
        self._pj: PjInfo | None = None
        self._ref: PjRef | None = None
        self._refs: list[str] = []
        self._line_ht: Decimal | None = None
        self._line_tva: Decimal | None = None
        self._counts: dict[str, int] = {}
        #: The nesting cap, checked on every subtree before it is dropped (set by :func:`scan`).
        self.max_depth = DEFAULT_LIMITS.max_depth
        self.file: str | None = None
        self._handlers: dict[str, Callable[[Any], None]] = {leaf: self._leaf for _, leaf in LEAF_SETTERS}
        self._handlers.update(
            {
                "Fichier": self._fichier,
                "InfoLignePce": self._ligne,
                "InfoLignePiece": self._ligne,
                "PJRef": self._pjref,
                "Piece": self._piece,
                "Bordereau": self._bordereau,
                "PJ": self._pj_end,
                "PES_PJ": self._pes_pj,
                _SIG_TAG: self._signature,
                _REF_TAG: self._reference,
            }
        )
        for block in DOMAIN_BLOCKS:
            self._handlers[block] = self._domain_block

    def end(self, elem: Any) -> None:
        """Take what is needed from a finished element."""
        if not self._root_seen:
            self.root(elem.getroottree().getroot())
        tag = elem.tag
        handler = self._handlers.get(tag)
        if handler is not None:
            handler(elem)
        else:  # an Id holder of a signature
            self._note_id(elem)

    def root(self, root: Any) -> None:
        """Record the root element (also called at close for a document with no scanned tag)."""
        if self._root_seen or root is None or not isinstance(root.tag, str):
            return
        self._root_seen = True
        tag = root.tag
        self.info.root = tag.rpartition("}")[2]
        self.info.root_namespace = tag[1:].partition("}")[0] if tag[0] == "{" else None
        self.info.root_id = root.get("Id")
        self._note_id(root)

    def _note_id(self, elem: Any) -> None:
        ident = elem.get("Id")
        if ident is not None:
            self.ids.setdefault(ident, []).append(elem.sourceline)

    def _current_bord(self, bloc: Any) -> BordereauInfo:
        if self._bord is None:
            bordereau = bloc.getparent()
            block = bordereau.getparent() if bordereau is not None else None
            domain = _BORDEREAU_DOMAINS.get(block.tag if block is not None else "", "depense")
            n = self._counts[domain] = self._counts.get(domain, 0) + 1
            self._bord = BordereauInfo(domain, n)
        return self._bord

    def _current_pj(self, pj_elem: Any) -> PjInfo:
        if self._pj is None:
            self._pj = PjInfo(
                len(self.info.pjs) + 1, line=pj_elem.sourceline if pj_elem is not None else None
            )
        return self._pj

    def _leaf(self, elem: Any) -> None:
        value = elem.get("V")
        if value is None:
            return
        parent = elem.getparent()
        if parent is None:
            return
        setter = LEAF_SETTERS.get((parent.tag, elem.tag))
        if setter is not None:
            setter(self, parent, elem, value)

    # -- leaves, through LEAF_SETTERS: each takes the leaf's parent, the leaf and its V ---------

    def _version(self, parent: Any, elem: Any, value: str) -> None:
        self.info.version = value

    def _typ_fic(self, parent: Any, elem: Any, value: str) -> None:
        self.info.typ_fic = value

    def _nom_fic(self, parent: Any, elem: Any, value: str) -> None:
        self.info.nom_fic = value

    def _dte_str(self, parent: Any, elem: Any, value: str) -> None:
        self.info.dte_str = value

    def _id_post(self, parent: Any, elem: Any, value: str) -> None:
        self.info.id_post = value

    def _id_coll(self, parent: Any, elem: Any, value: str) -> None:
        self.info.id_coll = value

    def _cod_col(self, parent: Any, elem: Any, value: str) -> None:
        self.info.cod_col = value

    def _cod_bud(self, parent: Any, elem: Any, value: str) -> None:
        self.info.cod_bud = value

    def _libelle_col_bud(self, parent: Any, elem: Any, value: str) -> None:
        self.info.libelle_col_bud = value

    def _domain(self, header: Any) -> DomainInfo:
        key = _HEADER_DOMAINS[header.tag]
        return self.info.domains.setdefault(key, DomainInfo(key))

    def _domain_id_ver(self, parent: Any, elem: Any, value: str) -> None:
        self._domain(parent).id_ver = value

    def _info_dematerialisee(self, parent: Any, elem: Any, value: str) -> None:
        self._domain(parent).info_dematerialisee = value

    def _pj_id_ver(self, parent: Any, elem: Any, value: str) -> None:
        self.info.pj_id_ver = value

    def _exer(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).exer = value

    def _id_bord(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).id_bord = value

    def _typ_bord(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).typ_bord = value

    def _nbr_pce(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).nbr_pce = value

    def _mt_bord_ht(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).mt_bord_ht = value

    def _mt_bord_tva(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).mt_bord_tva = value

    def _mt_cumul_annuel(self, parent: Any, elem: Any, value: str) -> None:
        self._current_bord(parent).mt_cumul_annuel = value

    def _line_amount(self, elem: Any, value: str) -> Decimal | None:
        amount = _amount(value)
        if amount is None and self._bord is not None:
            self._bord.bad_amounts.append((elem.tag, value, elem.sourceline))
        return amount

    def _mt_ht(self, parent: Any, elem: Any, value: str) -> None:
        amount = self._line_amount(elem, value)
        if amount is not None:
            self._line_ht = amount

    def _mt_tva(self, parent: Any, elem: Any, value: str) -> None:
        amount = self._line_amount(elem, value)
        if amount is not None:
            self._line_tva = amount

    def _current_ref(self, parent: Any) -> PjRef:
        if self._ref is None:
            self._ref = PjRef(None, None, None, parent.sourceline)
        return self._ref

    def _ref_id_unique(self, parent: Any, elem: Any, value: str) -> None:
        self._current_ref(parent).id_unique = value

    def _ref_support(self, parent: Any, elem: Any, value: str) -> None:
        self._current_ref(parent).support = value

    def _ref_nom_pj(self, parent: Any, elem: Any, value: str) -> None:
        self._current_ref(parent).nom_pj = value

    def _pj_id_unique(self, parent: Any, elem: Any, value: str) -> None:
        self._current_pj(parent).id_unique = value

    def _pj_nom_pj(self, parent: Any, elem: Any, value: str) -> None:
        self._current_pj(parent).nom_pj = value

    def _pj_type_pj(self, parent: Any, elem: Any, value: str) -> None:
        self._current_pj(parent).type_pj = value

    def _fichier(self, elem: Any) -> None:
        contenu = elem.getparent()
        owner = contenu.getparent() if contenu is not None else None
        if owner is None or owner.tag != "PJ":
            return
        pj = self._current_pj(owner)
        text = elem.text or ""
        pj.mime_type = elem.get("MIMEType")
        pj.base64_length = len(text)
        pj.gzip = _starts_gzip(text)
        pj.inflated_size = gzip_trailer_size(text) if pj.gzip else None
        if self.on_pj_content is not None:
            self.on_pj_content(pj, text)
        del text
        self.check_depth(elem)
        elem.clear()

    def _ligne(self, elem: Any) -> None:
        b = self._bord
        if b is not None:
            b.lines += 1
            if self._line_ht is not None:
                b.sum_ht += self._line_ht
            tva = self._line_tva
            if tva is not None:
                b.sum_tva += tva
                if tva > 0:
                    b.lines_with_tva += 1
        self._line_ht = self._line_tva = None

    def _pjref(self, elem: Any) -> None:
        ref = self._ref or PjRef(None, None, None, elem.sourceline)
        ref.line = elem.sourceline
        self.info.pj_refs.append(ref)
        self._ref = None

    def _piece(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is not None and parent.tag == "Bordereau" and self._bord is not None:
            self._bord.pieces += 1
            # Pièces are dropped (and their depth checked, in one look at the bordereau) by
            # batches: one check per pièce would cost a tenth of the scan.
            if self._bord.pieces % _PIECES_PER_CHECK == 0:
                self.check_depth(parent)
                self._drop(elem)

    def _bordereau(self, elem: Any) -> None:
        parent = elem.getparent()
        domain = _BORDEREAU_DOMAINS.get(parent.tag if parent is not None else "")
        if domain is None:
            return
        b = self._bord
        if b is None:  # no BlocBordereau: the XSD says why; count it anyway
            n = self._counts[domain] = self._counts.get(domain, 0) + 1
            b = BordereauInfo(domain, n)
        b.id = elem.get("Id")
        b.line = elem.sourceline
        self._note_id(elem)
        self.info.bordereaux.append(b)
        self._bord = None
        self._release(elem)

    def _pj_end(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.tag != "PES_PJ":
            return  # InfoPce/PJ, a reference text
        pj = self._current_pj(elem)
        pj.line = elem.sourceline
        self._note_id(elem)
        self.info.pjs.append(pj)
        self._pj = None
        self._release(elem)

    def _pes_pj(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is not None and parent.getparent() is None:
            self.info.pj_block = True

    def _domain_block(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.getparent() is not None:
            return
        key = DOMAIN_BLOCKS[elem.tag]
        self.info.domains.setdefault(key, DomainInfo(key)).line = elem.sourceline
        self._release(elem)

    def _reference(self, elem: Any) -> None:
        self._refs.append(elem.get("URI") or "")

    def _signature(self, elem: Any) -> None:
        refs, self._refs = self._refs, []
        self._note_id(elem)
        owner = elem.getparent()
        if owner is None:
            return
        if owner.tag == "Bordereau":
            b = self._bord
            if b is not None:
                b.signed = True
                b.signature_refs = refs
        elif owner.tag == "PJ":
            self._current_pj(owner).signed = True
        elif owner.getparent() is None:
            self.info.root_signed = True
            self.info.root_signature_refs = refs
        self._release(elem)

    def check_depth(self, elem: Any, *, with_preceding: bool = False) -> None:
        """Refuse the document if ``elem``'s subtree (and, ``with_preceding``, those of the
        siblings before it) reaches deeper than ``max_depth``.

        Called on every subtree before the scanner drops it, and on the root at the end, so
        each element is looked at while it is still in the tree: only the elements the
        scanner reads reach Python, and counting every element would cost more than the scan.
        """
        nodes = [elem]
        if with_preceding:  # dropped ones are empty: only what the scanner never read counts
            nodes += [sibling for sibling in elem.itersiblings(preceding=True) if len(sibling)]
        for node in nodes:
            deepest = too_deep(node, self.max_depth)
            if deepest is not None:
                raise XMLSecurityError(
                    f"nesting deeper than {self.max_depth} levels",
                    file=self.file,
                    line=deepest.sourceline,
                    code="XML_TOO_DEEP",
                )

    def _release(self, elem: Any) -> None:
        self.check_depth(elem, with_preceding=True)
        self._drop(elem)

    @staticmethod
    def _drop(elem: Any) -> None:
        elem.clear()
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]


#: What the scanner does with a leaf's ``V``: called with the scanner, the leaf's parent, the
#: leaf and the value.
LeafSetter = Callable[[PesScanner, Any, Any, str], None]
_BLOC_BORDEREAU: dict[str, LeafSetter] = {
    "Exer": PesScanner._exer,
    "IdBord": PesScanner._id_bord,
    "TypBord": PesScanner._typ_bord,
    "NbrPce": PesScanner._nbr_pce,
    "MtBordHT": PesScanner._mt_bord_ht,  # dépense
    "MtBordHt": PesScanner._mt_bord_ht,  # recette
    "MtBordTVA": PesScanner._mt_bord_tva,
    "MtCumulAnnuel": PesScanner._mt_cumul_annuel,
}
_LIGNE: dict[str, LeafSetter] = {"MtHT": PesScanner._mt_ht, "MtTVA": PesScanner._mt_tva}
_DOMAIN_HEADER: dict[str, LeafSetter] = {
    "IdVer": PesScanner._domain_id_ver,
    "InfoDematerialisee": PesScanner._info_dematerialisee,
}
#: Domain header → domain short name.
_HEADER_DOMAINS = {"EnTeteDepense": "depense", "EnTeteRecette": "recette"}
_BY_PARENT: dict[str, dict[str, LeafSetter]] = {
    "Parametres": {
        "Version": PesScanner._version,
        "TypFic": PesScanner._typ_fic,
        "NomFic": PesScanner._nom_fic,
    },
    "EnTetePES": {
        "DteStr": PesScanner._dte_str,
        "IdPost": PesScanner._id_post,
        "IdColl": PesScanner._id_coll,
        "CodCol": PesScanner._cod_col,
        "CodBud": PesScanner._cod_bud,
        "LibelleColBud": PesScanner._libelle_col_bud,
    },
    **dict.fromkeys(_HEADER_DOMAINS, _DOMAIN_HEADER),
    "EnTetePES_PJ": {"IdVer": PesScanner._pj_id_ver},
    "BlocBordereau": _BLOC_BORDEREAU,
    "InfoLignePce": _LIGNE,  # dépense
    "InfoLignePiece": _LIGNE,  # recette
    "PJRef": {
        "IdUnique": PesScanner._ref_id_unique,
        "Support": PesScanner._ref_support,
        "NomPJ": PesScanner._ref_nom_pj,
    },
    "PJ": {
        "IdUnique": PesScanner._pj_id_unique,
        "NomPJ": PesScanner._pj_nom_pj,
        "TypePJ": PesScanner._pj_type_pj,
    },
}
#: Every leaf the scanner reads, by (parent element, leaf element).
LEAF_SETTERS: dict[tuple[str, str], LeafSetter] = {
    (parent, leaf): setter for parent, leaves in _BY_PARENT.items() for leaf, setter in leaves.items()
}
#: Every element the pull parser hands to the scanner.
SCAN_TAGS = [*sorted({leaf for _, leaf in LEAF_SETTERS}), *_CONTAINERS, *_ID_HOLDERS]


def parser_options(schema: Any = None) -> dict[str, Any]:
    """Options of the hardened pull parser, with or without a schema plugged in.

    ``resolve_entities=False`` is left out when a schema is plugged in: with lxml 6.1 that
    combination silently accepts a truncated document (the well-formedness error at close is
    lost). It is safe to leave out because :func:`demat.xml.safe.open_checked` refuses any
    DOCTYPE up front, so no entity can be declared and an undefined one is a syntax error.
    """
    options: dict[str, Any] = {"no_network": True, "load_dtd": False, "huge_tree": True}
    if schema is None:
        options["resolve_entities"] = False
    else:
        options["schema"] = schema
    return options


def _syntax_error(exc: Any, name: str | None) -> XMLSyntaxError | XMLSecurityError:
    msg = str(exc.msg)
    if "Excessive depth" in msg:
        # libxml2 caps nesting (2048 levels with huge_tree) before any Python sees it.
        return XMLSecurityError(f"nesting too deep: {msg}", file=name, line=exc.lineno, code="XML_TOO_DEEP")
    return XMLSyntaxError(msg, file=name, line=exc.lineno, code="XML_SYNTAX")


def pull_events(
    stream: IO[bytes],
    name: str | None,
    *,
    schema: Any = None,
    tag: list[str] | None = None,
    on_chunk: Callable[[int, bytes], None] | None = None,
    close_errors: list[tuple[str, int | None]] | None = None,
) -> Iterator[tuple[str, Any]]:
    """Feed ``stream`` to a hardened pull parser and yield ("end", element) for ``tag``.

    The last event is ("close", root) with the document's root (None when unknown).
    ``on_chunk(index, data)`` is told about each chunk before it is fed (validation uses it
    to place XSD errors). Schema invalidity is *not* raised here: libxml2 keeps parsing after
    a validity error and reports it at close; when ``close_errors`` is given, the error at
    close is appended to it instead of raised (the caller's probe tells schema from syntax).
    Nesting is capped by libxml2 itself (2048 levels), reported as ``XML_TOO_DEEP``.

    Memory stays bounded whatever the elements: once the events of a chunk are consumed,
    every element that is complete and is not on the path being parsed is deleted
    (:func:`trim`), including those no event names (a million unknown elements cost one
    chunk's worth). A document with no element of ``tag`` in its first
    :data:`UNRECOGNISED_AFTER` bytes is refused (``XML_UNRECOGNISED``): nothing of it was
    read, and until something is, it cannot be trimmed.
    """
    parser = etree.XMLPullParser(events=("end",), tag=tag, **parser_options(schema))
    index = 0
    fed = 0
    root = None
    seen: Any = None
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if on_chunk is not None:
            on_chunk(index, chunk)
        index += 1
        try:
            if chunk:
                parser.feed(chunk)
            else:
                root = parser.close()
        except etree.XMLSyntaxError as exc:
            if close_errors is None or chunk:
                raise _syntax_error(exc, name) from exc
            close_errors.append((str(exc.msg), exc.lineno))
        for event in parser.read_events():
            if seen is None:
                seen = event[1].getroottree().getroot()
            yield event
        if not chunk:
            yield "close", root
            return
        fed += len(chunk)
        if seen is not None:
            trim(seen)
        elif fed > UNRECOGNISED_AFTER:
            raise XMLSecurityError(
                f"document refusé : aucun élément attendu dans ses {UNRECOGNISED_AFTER} premiers octets",
                file=name,
                code="XML_UNRECOGNISED",
            )


#: Bytes a pull parse reads without meeting any element it looks for before giving up.
UNRECOGNISED_AFTER = 8 * 1024 * 1024


def trim(root: Any) -> None:
    """Delete every element of a tree being parsed that is complete and off the current path:
    at each level from ``root`` down, all children but the last (which may still be growing)."""
    node = root
    while True:
        count = len(node)
        if not count:
            return
        if count > 1:
            del node[: count - 1]
        node = node[0]


def scan(
    source: Source,
    *,
    schema: Any = None,
    limits: Limits = DEFAULT_LIMITS,
    on_pj_content: PjHook | None = None,
    on_chunk: Callable[[int, bytes], None] | None = None,
    close_errors: list[tuple[str, int | None]] | None = None,
    scanner: PesScanner | None = None,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> tuple[PesInfo, PesScanner]:
    """Run the scanner over a whole source; the building block of inspect and validate.

    Pass your own ``scanner`` to keep what was read when a security or syntax error aborts
    the pass; pass ``close_errors`` to collect (instead of raising) the error that libxml2
    reports when the document ends (validation decides whether it is a schema verdict).
    Text nodes, attribute values, comments and PIs are capped at ``limits.max_text``, a PJ's
    base64 (``Fichier``) at ``max_pj_text``, before libxml2 holds them (``XML_TEXT_TOO_LONG``).
    """
    stream, name, owned = open_checked(source, limits, long_text=pj_text_cap(max_pj_text))
    if scanner is None:
        scanner = PesScanner(PesInfo(), on_pj_content)
    scanner.max_depth = limits.max_depth
    scanner.file = name
    info = scanner.info
    info.file = name
    first = True

    def chunk_seen(index: int, data: bytes) -> None:
        nonlocal first
        if first:
            info.encoding = declared_encoding(data)
            first = False
        if on_chunk is not None:
            on_chunk(index, data)

    try:
        end = scanner.end
        events = pull_events(
            stream, name, schema=schema, tag=SCAN_TAGS, on_chunk=chunk_seen, close_errors=close_errors
        )
        for event, elem in events:
            if event == "end":
                end(elem)
            else:
                if elem is not None:
                    scanner.check_depth(elem)
                scanner.root(elem)
    finally:
        if owned:
            stream.close()
            getattr(stream, "_demat_owned", stream).close()
    return info, scanner


def pj_text_cap(max_pj_text: int = DEFAULT_MAX_PJ_TEXT) -> dict[str, int]:
    """The ``long_text`` of :func:`demat.xml.safe.open_checked` for a PES_Aller: a PJ's
    ``Fichier`` is the one text allowed past the XML text cap."""
    return {"Fichier": max_pj_text}


def inspect_pes(
    source: Source, *, limits: Limits = DEFAULT_LIMITS, max_pj_text: int = DEFAULT_MAX_PJ_TEXT
) -> PesInfo:
    """Read a PES_Aller's header, bordereaux and PJ summaries in one bounded-memory pass.

    Raises :class:`demat.errors.XMLSecurityError` / :class:`demat.errors.XMLSyntaxError` for
    input that is not acceptable XML (DTD, too deep, too big, malformed), and
    :class:`demat.errors.ProtocolError` (code ``PES_ROOT``) when it is not a PES_Aller.
    """
    info, _ = scan(source, limits=limits, max_pj_text=max_pj_text)
    if info.root != "PES_Aller" or info.root_namespace != PES_ALLER_NS:
        raise ProtocolError(
            f"ce document n'est pas un PES_Aller (racine {info.root!r})", file=info.file, code="PES_ROOT"
        )
    return info


def identity_problems(
    info: PesInfo,
    *,
    siret: str | None = None,
    siren: str | None = None,
    id_post: str | None = None,
    cod_col: str | None = None,
    cod_bud: str | None = None,
) -> list[str]:
    """French sentences describing each way the file's identity differs from a profile's."""
    problems: list[str] = []
    id_coll = (info.id_coll or "").strip()
    if siret is not None and id_coll != siret.strip():
        problems.append(f"IdColl {id_coll or '(absent)'} ne correspond pas au SIRET du profil {siret}")
    if siren is not None and id_coll[:9] != siren.strip():
        problems.append(f"IdColl {id_coll or '(absent)'} n'appartient pas au SIREN du profil {siren}")
    pairs = (
        ("IdPost", info.id_post, id_post),
        ("CodCol", info.cod_col, cod_col),
        ("CodBud", info.cod_bud, cod_bud),
    )
    for label, found, wanted in pairs:
        if wanted is not None and (found or "").strip() != wanted.strip():
            problems.append(f"{label} {found or '(absent)'} ne correspond pas à celui du profil ({wanted})")
    return problems


def check_identity(
    info: PesInfo,
    *,
    siret: str | None,
    siren: str | None,
    id_post: str | None = None,
    cod_col: str | None = None,
    cod_bud: str | None = None,
) -> None:
    """Refuse a PES sent under the wrong collectivité.

    Compares the file's EnTetePES (IdColl = SIRET, IdPost, CodCol, CodBud) with the profile's
    values; a value the profile leaves as None is not checked. Raises
    :class:`demat.errors.IdentityMismatch` listing every difference.
    """
    problems = identity_problems(
        info, siret=siret, siren=siren, id_post=id_post, cod_col=cod_col, cod_bud=cod_bud
    )
    if problems:
        raise IdentityMismatch(
            "; ".join(problems), file=info.file, path="/PES_Aller/EnTetePES", code="PES_IDENTITY"
        )


__all__ = [
    "BULK_TAGS",
    "CHUNK_SIZE",
    "DEFAULT_MAX_PJ_TEXT",
    "DOMAIN_BLOCKS",
    "LEAF_SETTERS",
    "SCAN_TAGS",
    "UNRECOGNISED_AFTER",
    "BordereauInfo",
    "DomainInfo",
    "LeafSetter",
    "PesInfo",
    "PesScanner",
    "PjHook",
    "PjInfo",
    "PjRef",
    "check_identity",
    "gzip_trailer_size",
    "identity_problems",
    "inspect_pes",
    "parser_options",
    "pj_text_cap",
    "pull_events",
    "scan",
    "too_deep",
    "trim",
]
