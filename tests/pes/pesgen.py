"""A tiny hand-written PES_Aller writer for the tests of inspect/validate.

Defaults give a file that is valid against the v5.17 XSD and every business rule; each
keyword bends one thing so a test can break exactly one rule.
"""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

NS = "http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/aller"
DS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass
class Bord:
    lines: list[list[tuple[str, str | None]]] = field(default_factory=lambda: [[("100.00", None)]])
    id: str | None = "BORD1"
    id_bord: str = "1"
    exer: str = "2024"
    typ_bord: str = "01"
    nbr_pce: str | None = None  # None: the right count
    mt_ht: str | None = None  # None: the right sum
    mt_tva: str | None = None
    mt_cumul: str | None = "1000.00"
    signed: bool = False
    sig_ref: str | None = None  # None: "#<id>"
    pjrefs: list[str] = field(default_factory=list)


def gz_b64(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data)).decode("ascii")


@dataclass
class Pj:
    id_unique: str = "PJ0001"
    nom_pj: str = "facture.pdf"
    content: str | None = None  # base64 text; None: gzip of a small PDF-ish payload


def _signature(ref: str, sig_id: str) -> str:
    return (
        f'<ds:Signature xmlns:ds="{DS}" Id="{sig_id}"><ds:SignedInfo>'
        f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        f'<ds:Reference URI="{ref}"><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        f"<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        f"<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
    )


def pes(
    *,
    bords: list[Bord] | None = None,
    domain: str = "depense",
    encoding: str = "ISO-8859-1",
    nom_fic: str = "TEST_PES_001",
    id_ver: str = "2",
    info_demat: str | None = None,
    pjs: list[Pj] | None = None,
    pj_id_ver: str = "1",
    root_id: str | None = "PES1",
    root_signed: bool = False,
    id_coll: str = "21310555400017",
    no_domain: bool = False,
) -> bytes:
    """Build a PES_Aller as bytes."""
    bords = [Bord()] if bords is None else bords
    rid = f" Id={quoteattr(root_id)}" if root_id else ""
    out = [
        f'<?xml version="1.0" encoding="{encoding}"?>\n',
        f'<n:PES_Aller xmlns:n="{NS}"{rid}>\n',
        '<Enveloppe><Parametres><Version V="2"/><TypFic V="PESALR2"/>',
        f"<NomFic V={quoteattr(nom_fic)}/></Parametres>",
        '<Emetteur><Sigle V="DEMAT"/><Adresse V="tests"/></Emetteur></Enveloppe>\n',
        '<EnTetePES><DteStr V="2024-03-01"/><IdPost V="031007"/>',
        f'<IdColl V="{id_coll}"/><CodCol V="100"/><CodBud V="00"/>',
        '<LibelleColBud V="COMMUNE"/></EnTetePES>\n',
    ]
    if not no_domain:
        block = "PES_DepenseAller" if domain == "depense" else "PES_RecetteAller"
        head = "EnTeteDepense" if domain == "depense" else "EnTeteRecette"
        demat = f'<InfoDematerialisee V="{info_demat}"/>' if info_demat is not None else ""
        out.append(f'<{block}><{head}><IdVer V="{id_ver}"/>{demat}</{head}>\n')
        for b in bords:
            out.append(_bordereau(b, domain))
        out.append(f"</{block}>\n")
    if pjs is not None:
        out.append(f'<PES_PJ><EnTetePES_PJ><IdVer V="{pj_id_ver}"/></EnTetePES_PJ>\n')
        for pj in pjs:
            content = pj.content if pj.content is not None else gz_b64(b"%PDF-1.4 test " * 20)
            out.append(
                f'<PJ><Contenu><Fichier MIMEType="application/pdf">{content}</Fichier></Contenu>'
                f"<IdUnique V={quoteattr(pj.id_unique)}/><NomPJ V={quoteattr(pj.nom_pj)}/>"
                f'<TypePJ V="003"/><Description V="piece"/></PJ>\n'
            )
        out.append("</PES_PJ>\n")
    if root_signed:
        out.append(_signature(f"#{root_id}" if root_id else "", "SIGROOT"))
    out.append("</n:PES_Aller>\n")
    return "".join(out).encode(encoding if encoding.upper() != "UTF-16" else "utf-16")


def _bordereau(b: Bord, domain: str) -> str:
    ht = b.mt_ht
    if ht is None:
        ht = f"{sum(float(v) for lines in b.lines for v, _ in lines):.2f}"
    nbr = b.nbr_pce if b.nbr_pce is not None else str(len(b.lines))
    bid = f" Id={quoteattr(b.id)}" if b.id else ""
    ht_name = "MtBordHT" if domain == "depense" else "MtBordHt"
    parts = [
        f'<Bordereau{bid}><BlocBordereau><Exer V="{b.exer}"/><IdBord V="{b.id_bord}"/>',
        f'<DteBordEm V="2024-03-01"/><TypBord V="{b.typ_bord}"/><NbrPce V="{nbr}"/>',
    ]
    if b.mt_cumul is not None:
        parts.append(f'<MtCumulAnnuel V="{b.mt_cumul}"/>')
    parts.append(f'<{ht_name} V="{ht}"/>')
    if b.mt_tva is not None:
        parts.append(f'<MtBordTVA V="{b.mt_tva}"/>')
    parts.append("</BlocBordereau>\n")
    for n, lines in enumerate(b.lines, 1):
        refs = "".join(
            f'<PJRef><Support V="01"/><IdUnique V="{r}"/><NomPJ V="facture.pdf"/></PJRef>' for r in b.pjrefs
        )
        if domain == "depense":
            parts.append(
                f'<Piece><BlocPiece><InfoPce><IdPce V="{n}"/><TypPce V="01"/><NatPce V="01"/>'
                f'<Obj V="achat"/>{refs}</InfoPce></BlocPiece>'
            )
        else:
            parts.append(
                f'<Piece><BlocPiece><IdPce V="{n}"/><TypPce V="01"/><NatPce V="01"/>'
                f'<ObjPce V="cantine"/>{refs}</BlocPiece>'
            )
        for k, (mt_ht, mt_tva) in enumerate(lines, 1):
            tva = f'<MtTVA V="{mt_tva}"/>' if mt_tva is not None else ""
            if domain == "depense":
                parts.append(
                    f'<LigneDePiece><BlocLignePiece><InfoLignePce><IdLigne V="{k}"/><Nature V="60632"/>'
                    f'<ModRegl V="01"/><TVAIntraCom V="0"/><MtHT V="{mt_ht}"/>{tva}</InfoLignePce>'
                    "</BlocLignePiece>"
                    '<Tiers><InfoTiers><CatTiers V="01"/><NatJur V="01"/><Nom V="DUPONT"/>'
                    "</InfoTiers></Tiers>"
                    "</LigneDePiece>"
                )
            else:
                parts.append(
                    f'<LigneDePiece><BlocLignePiece><InfoLignePiece><IdLigne V="{k}"/>'
                    f'<CodProdLoc V="CANT"/><Nature V="7066"/><Majo V="0"/><TvaIntraCom V="0"/>'
                    f'<MtHT V="{mt_ht}"/>{tva}</InfoLignePiece>'
                    "</BlocLignePiece></LigneDePiece>"
                )
        parts.append("</Piece>\n")
    if b.signed:
        ref = b.sig_ref if b.sig_ref is not None else f"#{b.id}"
        parts.append(_signature(ref, f"SIG_{b.id_bord}"))
    parts.append("</Bordereau>\n")
    return "".join(parts)
