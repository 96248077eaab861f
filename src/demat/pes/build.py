"""Write PES_Aller XML from the model, incrementally and with bounded memory.

The file is produced with :class:`lxml.etree.xmlfile`: the root and each section are open
elements on the output stream, every bordereau is serialised piece by piece, and PJ content is
read, gzip-compressed and base64-encoded chunk by chunk straight into ``Fichier``. Memory use
therefore depends on the largest *piece* (mandat/titre), never on the file size.

:class:`PesWriter` is the streaming primitive (bordereaux and PJ may come from generators);
:func:`build_pes` and :func:`build_pes_bytes` write a complete :class:`~demat.pes.model.PesAller`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from lxml import etree

from demat.errors import ValidationError
from demat.pes import model as m
from demat.pes.encoding import Unmappable, fit_text, is_latin1_name
from demat.pes.pj import encode_pj

Encoding = Literal["ISO-8859-1", "UTF-8"]

_SECTIONS = ("depense", "recette", "pj")
#: Largest text handed to lxml at once. lxml/libxml2 keep buffers sized to the largest write
#: (1 MB writes grew a 100 MB file's RSS by ~280 MB, 64 KB writes by nothing), so slice.
_TEXT_SLICE = 64 * 1024


def _v(value: Any) -> str:
    """The ``V`` attribute text of one non-text leaf value."""
    if type(value) is int:
        return str(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


_sub_element = etree.SubElement


class _Leaves:
    """Builds small subtrees (one piece, one header…) with values checked against the encoding."""

    def __init__(self, encoding: str, unmappable: Unmappable) -> None:
        self._latin1 = is_latin1_name(encoding)
        self._unmappable = unmappable
        self.where = ""

    def text(self, name: str, value: str) -> str:
        if not self._latin1:
            return value
        return fit_text(value, unmappable=self._unmappable, where=f"{self.where}/{name}")

    def leaf(self, parent: etree._Element, name: str, value: Any) -> None:
        # Hot path (millions of calls for a large file): cheap checks first.
        if value is None:
            return
        if type(value) is str:
            text = value
            if self._latin1 and not value.isascii():
                text = fit_text(value, unmappable=self._unmappable, where=f"{self.where}/{name}")
        else:
            text = _v(value)
        _sub_element(parent, name, {"V": text})

    # -- shared blocks -------------------------------------------------------------------------

    def pj_refs(self, parent: etree._Element, refs: list[m.PJRef]) -> None:
        for ref in refs:
            el = etree.SubElement(parent, "PJRef")
            self.leaf(el, "Support", ref.support)
            self.leaf(el, "IdUnique", ref.id_unique)
            self.leaf(el, "NomPJ", ref.nom_pj)
            self.leaf(el, "TypePJ", ref.type_pj)

    def adresse(self, parent: etree._Element, a: m.Adresse | None) -> None:
        if a is None:
            return
        el = etree.SubElement(parent, "Adresse")
        self.leaf(el, "TypAdr", a.typ_adr)
        self.leaf(el, "Adr1", a.adr1)
        self.leaf(el, "Adr2", a.adr2)
        self.leaf(el, "Adr3", a.adr3)
        self.leaf(el, "CP", a.cp)
        self.leaf(el, "Ville", a.ville)
        self.leaf(el, "CodRes", a.cod_res)
        self.leaf(el, "CodPays", a.cod_pays)
        self.leaf(el, "DteAdr", a.dte_adr)

    def cpte_bancaire(self, parent: etree._Element, c: m.CpteBancaire | None) -> None:
        if c is None:
            return
        el = etree.SubElement(parent, "CpteBancaire")
        self.leaf(el, "BIC", c.bic)
        self.leaf(el, "IBAN", c.iban)
        self.leaf(el, "LibBanc", c.lib_banc)
        self.leaf(el, "TitCpte", c.tit_cpte)
        self.leaf(el, "DteBanc", c.dte_banc)

    def liens_ident(self, parent: etree._Element, li: m.LiensIdent | None) -> None:
        if li is None:
            return
        el = etree.SubElement(parent, "LiensIdent")
        self.leaf(el, "IdConv", li.id_conv)
        self.leaf(el, "IdMarche", li.id_marche)
        self.leaf(el, "IdEmpruntOrdo", li.id_emprunt_ordo)
        self.leaf(el, "IdActif", li.id_actif)
        self.leaf(el, "IdRegie", li.id_regie)

    # -- envelope and header -------------------------------------------------------------------

    def enveloppe(self, e: m.Enveloppe) -> etree._Element:
        self.where = "Enveloppe"
        el = etree.Element("Enveloppe")
        par = etree.SubElement(el, "Parametres")
        self.leaf(par, "Version", e.version)
        self.leaf(par, "TypFic", e.typ_fic)
        self.leaf(par, "NomFic", e.nom_fic)
        em = etree.SubElement(el, "Emetteur")
        self.leaf(em, "Sigle", e.emetteur.sigle)
        self.leaf(em, "Adresse", e.emetteur.adresse)
        if e.recepteur is not None:
            rc = etree.SubElement(el, "Recepteur")
            self.leaf(rc, "Sigle", e.recepteur.sigle)
            self.leaf(rc, "Adresse", e.recepteur.adresse)
        return el

    def en_tete(self, h: m.EnTetePES) -> etree._Element:
        self.where = "EnTetePES"
        el = etree.Element("EnTetePES")
        self.leaf(el, "DteStr", h.dte_str)
        self.leaf(el, "IdPost", h.id_post)
        self.leaf(el, "LibellePoste", h.libelle_poste)
        self.leaf(el, "IdColl", h.id_coll)
        self.leaf(el, "FinJur", h.fin_jur)
        self.leaf(el, "CodCol", h.cod_col)
        self.leaf(el, "CodBud", h.cod_bud)
        self.leaf(el, "LibelleColBud", h.libelle_col_bud)
        return el

    def section_header(self, name: str, id_ver: int, info_demat: bool | None) -> etree._Element:
        el = etree.Element(name)
        self.leaf(el, "IdVer", id_ver)
        self.leaf(el, "InfoDematerialisee", info_demat)
        return el

    # -- dépense -------------------------------------------------------------------------------

    def bloc_bordereau_depense(self, b: m.BordereauDepense) -> etree._Element:
        self.where = f"Bordereau[@Id='{b.id}']"
        el = etree.Element("BlocBordereau")
        self.leaf(el, "Exer", b.exer)
        self.leaf(el, "IdBord", b.id_bord)
        self.leaf(el, "DteBordEm", b.dte_bord_em)
        self.leaf(el, "TypBord", b.typ_bord)
        self.leaf(el, "NbrPce", b.nbr_pce)
        self.leaf(el, "MtCumulAnnuel", b.mt_cumul_annuel)
        self.leaf(el, "MtBordHT", b.mt_bord_ht)
        self.leaf(el, "MtBordTVA", b.mt_bord_tva)
        return el

    def piece_depense(self, p: m.PieceDepense) -> etree._Element:
        piece = etree.Element("Piece")
        bloc = etree.SubElement(piece, "BlocPiece")
        info = etree.SubElement(bloc, "InfoPce")
        self.leaf(info, "CodServ", p.cod_serv)
        self.leaf(info, "Affect", p.affect)
        self.leaf(info, "IdPce", p.id_pce)
        self.leaf(info, "TypPce", p.typ_pce)
        self.leaf(info, "NatPce", p.nat_pce)
        self.leaf(info, "Obj", p.obj)
        self.leaf(info, "DteEch", p.dte_ech)
        self.pj_refs(info, p.pj_refs)
        self.leaf(info, "PJ", p.pj)
        self.leaf(info, "CarteAchatNiveau1", p.carte_achat_niveau1)
        if p.dgp is not None:
            d = etree.SubElement(bloc, "DGP")
            self.leaf(d, "Dgp", p.dgp.dgp)
            self.leaf(d, "DteDebDgp", p.dgp.dte_deb_dgp)
            self.leaf(d, "DteFinDgp", p.dgp.dte_fin_dgp)
            self.leaf(d, "DureeDgp", p.dgp.duree_dgp)
            self.leaf(d, "CodIntMor", p.dgp.cod_int_mor)
            self.leaf(d, "TxIntMor", p.dgp.tx_int_mor)
        for ligne in p.lignes:
            self.ligne_depense(piece, ligne)
        return piece

    def ligne_depense(self, parent: etree._Element, li: m.LigneDepense) -> None:
        ldp = etree.SubElement(parent, "LigneDePiece")
        bloc = etree.SubElement(ldp, "BlocLignePiece")
        info = etree.SubElement(bloc, "InfoLignePce")
        self.leaf(info, "IdLigne", li.id_ligne)
        self.leaf(info, "Nature", li.nature)
        self.leaf(info, "Fonction", li.fonction)
        self.leaf(info, "Operation", li.operation)
        self.leaf(info, "CptAna", li.cpt_ana)
        self.leaf(info, "Facture", li.facture)
        self.leaf(info, "LibVir1", li.lib_vir1)
        self.leaf(info, "LibVir2", li.lib_vir2)
        self.leaf(info, "ModRegl", li.mod_regl)
        self.leaf(info, "TVAIntraCom", li.tva_intra_com)
        self.leaf(info, "CpteTiers", li.cpte_tiers)
        self.leaf(info, "MtHT", li.mt_ht)
        self.leaf(info, "MtTVA", li.mt_tva)
        self.leaf(info, "MtFactHT", li.mt_fact_ht)
        self.pj_refs(info, li.pj_refs)
        self.liens_ident(bloc, li.liens_ident)
        if li.tiers is not None:
            t = li.tiers
            tiers = etree.SubElement(ldp, "Tiers")
            it = etree.SubElement(tiers, "InfoTiers")
            i = t.info_tiers
            self.leaf(it, "IdTiers", i.id_tiers)
            self.leaf(it, "NatIdTiers", i.nat_id_tiers)
            self.leaf(it, "DteIdTiers", i.dte_id_tiers)
            self.leaf(it, "RefTiers", i.ref_tiers)
            self.leaf(it, "CatTiers", i.cat_tiers)
            self.leaf(it, "NatJur", i.nat_jur)
            self.leaf(it, "Civilite", i.civilite)
            self.leaf(it, "Nom", i.nom)
            self.leaf(it, "ComplNom", i.compl_nom)
            self.leaf(it, "Prenom", i.prenom)
            self.adresse(tiers, t.adresse)
            self.cpte_bancaire(tiers, t.cpte_bancaire)

    # -- recette -------------------------------------------------------------------------------

    def bloc_bordereau_recette(self, b: m.BordereauRecette) -> etree._Element:
        self.where = f"Bordereau[@Id='{b.id}']"
        el = etree.Element("BlocBordereau")
        self.leaf(el, "Exer", b.exer)
        self.leaf(el, "IdBord", b.id_bord)
        self.leaf(el, "DteBordEm", b.dte_bord_em)
        self.leaf(el, "TypBord", b.typ_bord)
        self.leaf(el, "NbrPce", b.nbr_pce)
        self.leaf(el, "MtCumulAnnuel", b.mt_cumul_annuel)
        self.leaf(el, "MtBordHt", b.mt_bord_ht)
        self.leaf(el, "MtBordTVA", b.mt_bord_tva)
        self.leaf(el, "DteAsp", b.dte_asp)
        self.leaf(el, "Objet", b.objet)
        return el

    def piece_recette(self, p: m.PieceRecette) -> etree._Element:
        piece = etree.Element("Piece")
        bloc = etree.SubElement(piece, "BlocPiece")
        self.leaf(bloc, "CodServ", p.cod_serv)
        self.leaf(bloc, "Affect", p.affect)
        self.leaf(bloc, "IdPce", p.id_pce)
        self.leaf(bloc, "TypPce", p.typ_pce)
        self.leaf(bloc, "NatPce", p.nat_pce)
        self.leaf(bloc, "IdRol", p.id_rol)
        self.leaf(bloc, "DteAsp", p.dte_asp)
        self.leaf(bloc, "Edition", p.edition)
        self.leaf(bloc, "ObjPce", p.obj_pce)
        self.leaf(bloc, "NumDette", p.num_dette)
        self.leaf(bloc, "Per", p.per)
        self.leaf(bloc, "Cle1", p.cle1)
        self.leaf(bloc, "Cle2", p.cle2)
        self.pj_refs(bloc, p.pj_refs)
        for ligne in p.lignes:
            self.ligne_recette(piece, ligne)
        return piece

    def ligne_recette(self, parent: etree._Element, li: m.LigneRecette) -> None:
        ldp = etree.SubElement(parent, "LigneDePiece")
        bloc = etree.SubElement(ldp, "BlocLignePiece")
        info = etree.SubElement(bloc, "InfoLignePiece")
        self.leaf(info, "IdLigne", li.id_ligne)
        self.leaf(info, "ObjLignePce", li.obj_ligne_pce)
        self.leaf(info, "CodProdLoc", li.cod_prod_loc)
        self.leaf(info, "Nature", li.nature)
        self.leaf(info, "Fonction", li.fonction)
        self.leaf(info, "Operation", li.operation)
        self.leaf(info, "TxTva", li.tx_tva)
        self.leaf(info, "Majo", li.majo)
        self.leaf(info, "CpteTiers", li.cpte_tiers)
        self.leaf(info, "TvaIntraCom", li.tva_intra_com)
        self.leaf(info, "MtHT", li.mt_ht)
        self.leaf(info, "MtTVA", li.mt_tva)
        self.leaf(info, "MtNonMajo", li.mt_non_majo)
        self.pj_refs(info, li.pj_refs)
        self.liens_ident(bloc, li.liens_ident)
        for t in li.tiers:
            tiers = etree.SubElement(ldp, "Tiers")
            it = etree.SubElement(tiers, "InfoTiers")
            i = t.info_tiers
            self.leaf(it, "IdTiers", i.id_tiers)
            self.leaf(it, "DteNaissance", i.dte_naissance)
            self.leaf(it, "NatIdTiers", i.nat_id_tiers)
            self.leaf(it, "DteIdTiers", i.dte_id_tiers)
            self.leaf(it, "RefTiers", i.ref_tiers)
            self.leaf(it, "CatTiers", i.cat_tiers)
            self.leaf(it, "NatJur", i.nat_jur)
            self.leaf(it, "TypTiers", i.typ_tiers)
            self.leaf(it, "Civilite", i.civilite)
            self.leaf(it, "Nom", i.nom)
            self.leaf(it, "ComplNom", i.compl_nom)
            self.leaf(it, "Prenom", i.prenom)
            self.adresse(tiers, t.adresse)
            self.cpte_bancaire(tiers, t.cpte_bancaire)

    # -- PJ ------------------------------------------------------------------------------------

    def pj_tail(self, parent: etree._Element, pj: m.PJ) -> None:
        """Everything after ``Contenu`` in one ``PJ``."""
        self.where = f"PES_PJ/PJ[IdUnique='{pj.id_unique}']"
        self.leaf(parent, "IdUnique", pj.id_unique)
        self.leaf(parent, "ServeurId", pj.serveur_id)
        self.leaf(parent, "NomPJ", pj.nom_pj)
        self.leaf(parent, "TypePJ", pj.type_pj)
        self.leaf(parent, "Description", pj.description)
        for ref in pj.ref_compta:
            el = etree.SubElement(parent, "RefCompta")
            self.leaf(el, "Domaine", ref.domaine)
            self.leaf(el, "Exercice", ref.exercice)
            self.leaf(el, "TypeObjet", ref.type_objet)
            self.leaf(el, "Identifiant", ref.identifiant)
            self.leaf(el, "ComplementIdentifiant", ref.complement_identifiant)
            self.leaf(el, "IdTiers", ref.id_tiers)


def _pj_chunks(pj: m.PJ, level: int) -> Iterator[str]:
    if pj.fichier is not None:
        return encode_pj(pj.fichier, level=level)
    if pj.donnees is not None:
        return encode_pj(pj.donnees, level=level)
    assert pj.source is not None  # guaranteed by the model
    return encode_pj(pj.source(), level=level)


class PesWriter:
    """Streaming writer of one PES_Aller on a binary stream.

    Use as a context manager; call :meth:`write_depense`, :meth:`write_recette` and
    :meth:`write_pjs` at most once each and in that order (the schema's order). Each accepts an
    iterable, consumed lazily: pass a generator to write files far larger than memory.

    ``unmappable`` decides what happens to a character the target encoding cannot hold
    (ISO-8859-1 only): ``"error"`` (default) raises :class:`~demat.errors.ValidationError`
    (code ``PES_ENCODING``) naming the element; ``"replace"`` transliterates (``€`` → ``EUR``,
    ``’`` → ``'``, ``œ`` → ``oe``…) and puts ``?`` for the rest; ``"charref"`` keeps the
    character as an XML character reference (``&#8364;``), which is valid XML but may not survive
    Hélios.

    If an error interrupts the writing, the stream holds a partial document.
    """

    def __init__(
        self,
        out: IO[bytes],
        enveloppe: m.Enveloppe,
        en_tete: m.EnTetePES,
        *,
        root_id: str | None = None,
        encoding: Encoding | str = "ISO-8859-1",
        unmappable: Unmappable = "error",
        pj_level: int = 6,
    ) -> None:
        if is_latin1_name(encoding):
            encoding = "ISO-8859-1"  # the exact spelling S²LOW looks for in the declaration
        self._out = out
        self._enveloppe = enveloppe
        self._en_tete = en_tete
        self._root_id = root_id
        self._encoding = encoding
        self._leaves = _Leaves(encoding, unmappable)
        self._pj_level = pj_level
        self._stack = contextlib.ExitStack()
        self._xf: Any = None
        self._next_section = 0
        self._ids: set[str] = set()
        self._pj_ids: set[str] = set()
        self.bordereaux = 0
        self.pieces = 0
        self.pjs = 0
        if root_id is not None:
            self._claim_id(root_id)

    # -- context -------------------------------------------------------------------------------

    def __enter__(self) -> PesWriter:
        # Our own declaration, double-quoted like the files Hélios receives from other editors.
        self._out.write(f'<?xml version="1.0" encoding="{self._encoding}"?>\n'.encode("ascii"))
        self._xf = self._stack.enter_context(etree.xmlfile(self._out, encoding=self._encoding))
        attrib = {"Id": self._root_id} if self._root_id else {}
        self._stack.enter_context(
            self._xf.element(f"{{{m.PES_ALLER_NS}}}PES_Aller", attrib, nsmap={"n": m.PES_ALLER_NS})
        )
        self._xf.write(self._leaves.enveloppe(self._enveloppe))
        self._xf.write(self._leaves.en_tete(self._en_tete))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None and self.bordereaux == 0 and self.pjs == 0:
            self._stack.close()
            raise ValidationError("PES vide: ni bordereau ni PJ (S²LOW refuse un tel flux)", code="PES_EMPTY")
        if exc_type is not None:
            # Hand the failure to lxml's contexts too; the stream keeps a partial document.
            with contextlib.suppress(Exception):
                self._stack.__exit__(exc_type, exc, tb)
            return
        self._stack.close()
        self._out.write(b"\n")

    # -- sections ------------------------------------------------------------------------------

    def _enter_section(self, name: str) -> None:
        index = _SECTIONS.index(name)
        if self._xf is None:
            raise RuntimeError("PesWriter must be used as a context manager")
        if index < self._next_section:
            raise ValueError(f"section {name} written out of order or twice")
        self._next_section = index + 1

    def _claim_id(self, ident: str) -> None:
        if ident in self._ids:
            raise ValidationError(f"identifiant XML {ident!r} utilisé deux fois", code="PES_DUPLICATE_ID")
        self._ids.add(ident)

    def write_depense(
        self, bordereaux: Iterable[m.BordereauDepense], *, info_dematerialisee: bool | None = None
    ) -> None:
        """Write ``PES_DepenseAller`` with the given bordereaux (at least one)."""
        self._enter_section("depense")
        xf = self._xf
        count = 0
        with xf.element("PES_DepenseAller"):
            xf.write(self._leaves.section_header("EnTeteDepense", 2, info_dematerialisee))
            for b in bordereaux:
                assert b.id is not None  # filled by the model
                self._claim_id(b.id)
                with xf.element("Bordereau", Id=b.id):
                    xf.write(self._leaves.bloc_bordereau_depense(b))
                    for piece in b.pieces:
                        xf.write(self._leaves.piece_depense(piece))
                        self.pieces += 1
                count += 1
            if count == 0:
                raise ValidationError("PES_DepenseAller sans bordereau", code="PES_EMPTY_SECTION")
        self.bordereaux += count

    def write_recette(
        self, bordereaux: Iterable[m.BordereauRecette], *, info_dematerialisee: bool | None = None
    ) -> None:
        """Write ``PES_RecetteAller`` with the given bordereaux (at least one)."""
        self._enter_section("recette")
        xf = self._xf
        count = 0
        with xf.element("PES_RecetteAller"):
            xf.write(self._leaves.section_header("EnTeteRecette", 2, info_dematerialisee))
            for b in bordereaux:
                assert b.id is not None
                self._claim_id(b.id)
                with xf.element("Bordereau", Id=b.id):
                    xf.write(self._leaves.bloc_bordereau_recette(b))
                    for piece in b.pieces:
                        xf.write(self._leaves.piece_recette(piece))
                        self.pieces += 1
                count += 1
            if count == 0:
                raise ValidationError("PES_RecetteAller sans bordereau", code="PES_EMPTY_SECTION")
        self.bordereaux += count

    def write_pjs(self, pjs: Iterable[m.PJ]) -> None:
        """Write ``PES_PJ``; each PJ's content is streamed through gzip and base64."""
        self._enter_section("pj")
        xf = self._xf
        with xf.element("PES_PJ"):
            header = etree.Element("EnTetePES_PJ")
            etree.SubElement(header, "IdVer", V="1")
            xf.write(header)
            for pj in pjs:
                if pj.id_unique in self._pj_ids:
                    raise ValidationError(
                        f"IdUnique de PJ {pj.id_unique!r} en double", code="PES_DUPLICATE_PJ"
                    )
                self._pj_ids.add(pj.id_unique)
                with xf.element("PJ"):
                    with xf.element("Contenu"), xf.element("Fichier", MIMEType=pj.mime_type):
                        for chunk in _pj_chunks(pj, self._pj_level):
                            for start in range(0, len(chunk), _TEXT_SLICE):
                                xf.write(chunk[start : start + _TEXT_SLICE])
                    tail = etree.Element("PJ")
                    self._leaves.pj_tail(tail, pj)
                    for child in tail:
                        xf.write(child)
                self.pjs += 1

    def flush(self) -> None:
        """Push what lxml buffered to the stream (e.g. to measure the size written so far)."""
        if self._xf is not None:
            self._xf.flush()


def write_pes(
    pes: m.PesAller,
    out: IO[bytes],
    *,
    encoding: Encoding | str = "ISO-8859-1",
    unmappable: Unmappable = "error",
    pj_level: int = 6,
) -> None:
    """Write ``pes`` on a binary stream (see :class:`PesWriter` for ``unmappable``)."""
    with PesWriter(
        out,
        pes.enveloppe,
        pes.en_tete,
        root_id=pes.id,
        encoding=encoding,
        unmappable=unmappable,
        pj_level=pj_level,
    ) as writer:
        if pes.depense is not None:
            writer.write_depense(pes.depense.bordereaux, info_dematerialisee=pes.depense.info_dematerialisee)
        if pes.recette is not None:
            writer.write_recette(pes.recette.bordereaux, info_dematerialisee=pes.recette.info_dematerialisee)
        if pes.pj is not None:
            writer.write_pjs(pes.pj.pjs)


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A file opened for writing next to ``path`` that replaces ``path`` only on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def build_pes(
    pes: m.PesAller,
    out: IO[bytes] | Path | str,
    *,
    encoding: Encoding | str = "ISO-8859-1",
    unmappable: Unmappable = "error",
    pj_level: int = 6,
) -> None:
    """Write ``pes`` to a binary stream, or to a path (atomically: no partial file is left)."""
    if isinstance(out, str | os.PathLike):
        with atomic_output(Path(out)) as handle:
            write_pes(pes, handle, encoding=encoding, unmappable=unmappable, pj_level=pj_level)
    else:
        write_pes(pes, out, encoding=encoding, unmappable=unmappable, pj_level=pj_level)


def build_pes_bytes(
    pes: m.PesAller, *, encoding: Encoding | str = "ISO-8859-1", unmappable: Unmappable = "error"
) -> bytes:
    """The whole PES as bytes (for small files, tests and signing in memory)."""
    import io

    buffer = io.BytesIO()
    write_pes(pes, buffer, encoding=encoding, unmappable=unmappable)
    return buffer.getvalue()


__all__ = ["PesWriter", "atomic_output", "build_pes", "build_pes_bytes", "write_pes"]
