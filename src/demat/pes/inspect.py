"""Read what a PES_Aller declares, in one streaming pass, without loading the file.

A PES_Aller can weigh hundreds of MB, almost all of it base64 attachments (PJ). The scanner
here walks the parse events once, keeps only small summaries (header, one record per
bordereau and per PJ) and clears the tree behind it, so that at most one PJ's text is in
memory at a time. :mod:`demat.pes.validate` drives the same scanner with the XSD plugged in
and the business rules on top, so inspecting and validating never disagree on what a file
contains.
"""

from __future__ import annotations

import binascii
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from demat.errors import IdentityMismatch, XMLSecurityError, XMLSyntaxError
from demat.xml.safe import DEFAULT_LIMITS, Limits, open_checked

Source = bytes | str | os.PathLike[str] | IO[bytes]

#: Namespace of the PES_Aller root (children are unqualified).
NS_ALLER = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
NS_DSIG = "http://www.w3.org/2000/09/xmldsig#"
_SIG_TAG = f"{{{NS_DSIG}}}Signature"
_REF_TAG = f"{{{NS_DSIG}}}Reference"

#: Bytes fed to libxml2 at a time.
CHUNK_SIZE = 1 << 16

#: Domain blocks a PES_Aller may carry, by element name → short name.
DOMAIN_BLOCKS = {
    "PES_DepenseAller": "depense",
    "PES_RecetteAller": "recette",
    "PES_Facture": "facture",
    "PES_Marche": "marche",
}
_BORDEREAU_DOMAINS = {"PES_DepenseAller": "depense", "PES_RecetteAller": "recette"}
#: The bordereau total is spelled MtBordHT in dépense and MtBordHt in recette.
_MT_BORD_HT = {"MtBordHT", "MtBordHt"}
_LINE_BLOCKS = {"InfoLignePce", "InfoLignePiece"}
_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


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


PjHook = Callable[[PjInfo, str], None]


class PesScanner:
    """Consumes ("start"/"end", element) events of a PES_Aller and fills a :class:`PesInfo`.

    Finished subtrees are cleared as soon as their summary is taken, so memory stays flat.
    ``on_pj_content(pj, text)`` is called with each PJ's base64 text (one at a time) before
    the text is dropped; validation uses it to check the content.
    """

    def __init__(self, info: PesInfo, on_pj_content: PjHook | None = None) -> None:
        self.info = info
        self.on_pj_content = on_pj_content
        self.stack: list[str] = []
        self.ids: dict[str, list[int | None]] = {}
        self._bord: BordereauInfo | None = None
        self._pj: PjInfo | None = None
        self._ref: PjRef | None = None
        self._sig_refs: list[str] | None = None
        self._in_sig = 0
        self._line: tuple[Decimal | None, Decimal | None] | None = None
        self._domain_counts: dict[str, int] = {}

    # The two handlers run for every element: keep them flat and cheap.
    def start(self, elem: Any) -> None:
        tag = elem.tag
        if not isinstance(tag, str):
            return
        name = tag.rpartition("}")[2] if tag[0] == "{" else tag
        stack = self.stack
        ident = elem.get("Id")
        if ident is not None:
            self.ids.setdefault(ident, []).append(elem.sourceline)
        if self._in_sig:
            self._in_sig += 1
            if tag == _REF_TAG and self._sig_refs is not None:
                self._sig_refs.append(elem.get("URI") or "")
            stack.append(name)
            return
        if tag == _SIG_TAG:
            self._in_sig = 1
            self._sig_refs = []
            stack.append(name)
            return
        parent = stack[-1] if stack else None
        if parent is None:
            self.info.root = name
            self.info.root_namespace = tag[1:].partition("}")[0] if tag[0] == "{" else None
            self.info.root_id = ident
        elif parent in DOMAIN_BLOCKS and name == "Bordereau" and len(stack) == 2:
            domain = _BORDEREAU_DOMAINS.get(parent)
            if domain is not None:
                n = self._domain_counts.get(domain, 0) + 1
                self._domain_counts[domain] = n
                self._bord = BordereauInfo(domain, n, id=ident, line=elem.sourceline)
        elif len(stack) == 1 and name in DOMAIN_BLOCKS:
            self.info.domains[DOMAIN_BLOCKS[name]] = DomainInfo(DOMAIN_BLOCKS[name], line=elem.sourceline)
        elif name == "PJ" and parent == "PES_PJ":
            self._pj = PjInfo(len(self.info.pjs) + 1, line=elem.sourceline)
        elif name == "PJRef":
            self._ref = PjRef(None, None, None, elem.sourceline)
        elif name == "Piece" and self._bord is not None and parent == "Bordereau":
            self._bord.pieces += 1
        elif name in _LINE_BLOCKS and self._bord is not None:
            self._line = (None, None)
        elif name == "PES_PJ" and len(stack) == 1:
            self.info.pj_block = True
        stack.append(name)

    def end(self, elem: Any) -> None:
        stack = self.stack
        name = stack.pop()
        if self._in_sig:
            self._in_sig -= 1
            if self._in_sig == 0:
                self._signature_done()
                self._drop(elem)
            return
        parent = stack[-1] if stack else None
        value = elem.get("V")
        depth = len(stack)
        info = self.info
        if value is not None:
            self._leaf(name, parent, value, elem)
        elif name == "Fichier" and self._pj is not None:
            text = elem.text or ""
            pj = self._pj
            pj.mime_type = elem.get("MIMEType")
            pj.base64_length = len(text)
            pj.gzip = _starts_gzip(text)
            pj.inflated_size = gzip_trailer_size(text) if pj.gzip else None
            if self.on_pj_content is not None:
                self.on_pj_content(pj, text)
            del text
            elem.clear()
        elif name == "PJRef" and self._ref is not None:
            info.pj_refs.append(self._ref)
            self._ref = None
        elif name in _LINE_BLOCKS and self._bord is not None and self._line is not None:
            ht, tva = self._line
            b = self._bord
            b.lines += 1
            if ht is not None:
                b.sum_ht += ht
            if tva is not None:
                b.sum_tva += tva
                if tva > 0:
                    b.lines_with_tva += 1
            self._line = None
        elif name == "Bordereau" and depth == 2 and self._bord is not None:
            info.bordereaux.append(self._bord)
            self._bord = None
            self._drop(elem)
        elif name == "PJ" and parent == "PES_PJ" and self._pj is not None:
            info.pjs.append(self._pj)
            self._pj = None
            self._drop(elem)
        elif name == "Piece" or depth <= 2:
            self._drop(elem)

    def _leaf(self, name: str, parent: str | None, value: str, elem: Any) -> None:
        info = self.info
        b = self._bord
        if b is not None:
            if parent == "BlocBordereau":
                if name == "Exer":
                    b.exer = value
                elif name == "IdBord":
                    b.id_bord = value
                elif name == "TypBord":
                    b.typ_bord = value
                elif name == "NbrPce":
                    b.nbr_pce = value
                elif name in _MT_BORD_HT:
                    b.mt_bord_ht = value
                elif name == "MtBordTVA":
                    b.mt_bord_tva = value
                elif name == "MtCumulAnnuel":
                    b.mt_cumul_annuel = value
                return
            if parent in _LINE_BLOCKS and self._line is not None and name in ("MtHT", "MtTVA"):
                amount = _amount(value)
                if amount is None:
                    b.bad_amounts.append((name, value, elem.sourceline))
                elif name == "MtHT":
                    self._line = (amount, self._line[1])
                else:
                    self._line = (self._line[0], amount)
                return
        if self._ref is not None and parent == "PJRef":
            if name == "IdUnique":
                self._ref.id_unique = value
            elif name == "Support":
                self._ref.support = value
            elif name == "NomPJ":
                self._ref.nom_pj = value
            return
        if self._pj is not None and parent == "PJ":
            if name == "IdUnique":
                self._pj.id_unique = value
            elif name == "NomPJ":
                self._pj.nom_pj = value
            elif name == "TypePJ":
                self._pj.type_pj = value
            return
        if parent == "Parametres":
            if name == "NomFic":
                info.nom_fic = value
            elif name == "TypFic":
                info.typ_fic = value
            elif name == "Version":
                info.version = value
        elif parent == "EnTetePES":
            if name == "IdPost":
                info.id_post = value
            elif name == "IdColl":
                info.id_coll = value
            elif name == "CodCol":
                info.cod_col = value
            elif name == "CodBud":
                info.cod_bud = value
            elif name == "LibelleColBud":
                info.libelle_col_bud = value
            elif name == "DteStr":
                info.dte_str = value
        elif parent in ("EnTeteDepense", "EnTeteRecette"):
            dom = info.domains.get("depense" if parent == "EnTeteDepense" else "recette")
            if dom is not None:
                if name == "IdVer":
                    dom.id_ver = value
                elif name == "InfoDematerialisee":
                    dom.info_dematerialisee = value
        elif parent == "EnTetePES_PJ" and name == "IdVer":
            info.pj_id_ver = value

    def _signature_done(self) -> None:
        refs = self._sig_refs or []
        self._sig_refs = None
        owner = self.stack[-1] if self.stack else None
        if owner == "Bordereau" and self._bord is not None:
            self._bord.signed = True
            self._bord.signature_refs = refs
        elif owner == "PJ" and self._pj is not None:
            self._pj.signed = True
        elif len(self.stack) == 1:
            self.info.root_signed = True
            self.info.root_signature_refs = refs

    @staticmethod
    def _drop(elem: Any) -> None:
        elem.clear()
        parent = elem.getparent()
        if parent is not None:
            while elem.getprevious() is not None:
                del parent[0]


def declared_encoding(head: bytes) -> str | None:
    """The encoding named in the XML declaration, upper-cased (None when not declared)."""
    m = _DECL_ENCODING.match(head[:512])
    return m.group(1).decode("ascii").upper() if m else None


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


def pull_events(
    stream: IO[bytes],
    name: str | None,
    *,
    schema: Any = None,
    limits: Limits = DEFAULT_LIMITS,
    on_chunk: Callable[[int, bytes], None] | None = None,
    close_errors: list[tuple[str, int | None]] | None = None,
) -> Iterator[tuple[str, Any]]:
    """Feed ``stream`` to a hardened pull parser and yield (event, element), depth-capped.

    ``on_chunk(index, data)`` is told about each chunk before it is fed (validation uses it
    to place XSD errors). Schema invalidity is *not* raised here: libxml2 keeps parsing after
    a validity error and the caller reads the verdict from its error probe.
    """
    parser = etree.XMLPullParser(events=("start", "end"), **parser_options(schema))
    depth = 0
    index = 0
    max_depth = limits.max_depth
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if on_chunk is not None:
            on_chunk(index, chunk)
        index += 1
        try:
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
        except etree.XMLSyntaxError as exc:
            if close_errors is None or chunk:
                raise XMLSyntaxError(str(exc.msg), file=name, line=exc.lineno, code="XML_SYNTAX") from exc
            # close() raises for schema invalidity too; the caller's probe knows which.
            close_errors.append((str(exc.msg), exc.lineno))
        for event, elem in parser.read_events():
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise XMLSecurityError(
                        f"nesting deeper than {max_depth} levels",
                        file=name,
                        line=elem.sourceline,
                        code="XML_TOO_DEEP",
                    )
            else:
                depth -= 1
            yield event, elem
        if not chunk:
            return


def scan(
    source: Source,
    *,
    schema: Any = None,
    limits: Limits = DEFAULT_LIMITS,
    on_pj_content: PjHook | None = None,
    on_chunk: Callable[[int, bytes], None] | None = None,
    close_errors: list[tuple[str, int | None]] | None = None,
    scanner: PesScanner | None = None,
) -> tuple[PesInfo, PesScanner]:
    """Run the scanner over a whole source; the building block of inspect and validate.

    Pass your own ``scanner`` to keep what was read when a security or syntax error aborts
    the pass; pass ``close_errors`` to collect (instead of raising) the error that libxml2
    reports when the document ends (validation decides whether it is a schema verdict).
    """
    stream, name, owned = open_checked(source, limits)
    if scanner is None:
        scanner = PesScanner(PesInfo(), on_pj_content)
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
        start, end = scanner.start, scanner.end
        events = pull_events(
            stream, name, schema=schema, limits=limits, on_chunk=chunk_seen, close_errors=close_errors
        )
        for event, elem in events:
            if event == "start":
                start(elem)
            else:
                end(elem)
    finally:
        if owned:
            stream.close()
            getattr(stream, "_demat_owned", stream).close()
    return info, scanner


def inspect_pes(source: Source, *, limits: Limits = DEFAULT_LIMITS) -> PesInfo:
    """Read a PES_Aller's header, bordereaux and PJ summaries in one bounded-memory pass.

    Raises :class:`demat.errors.XMLSecurityError` / :class:`demat.errors.XMLSyntaxError` for
    input that is not acceptable XML (DTD, too deep, too big, malformed).
    """
    info, _ = scan(source, limits=limits)
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
