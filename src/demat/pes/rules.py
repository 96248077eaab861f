"""Business rules of a PES_Aller beyond its XSD (reference/pes.md §2 and §5).

Each rule reads the summaries the streaming scanner kept (:class:`demat.pes.inspect.PesInfo`)
and returns :class:`Finding` objects with a stable code and a message a finance agent can act
on. :data:`RULES` is the one table of rules: for each code its severity, what it costs the file
(refused by S²LOW at import, the whole flux or one element rejected by the DGFiP), the
acquittal error (NumAnoAck) the DGFiP answers and the source that states the rule. ``pes
validate`` takes each finding's severity from it, and the sandbox playing the DGFiP
(:mod:`demat.sandbox.dgfip`) rejects exactly what it calls an error: demat never says "valid"
of a file its own DGFiP refuses. A warning the DGFiP may still act on says so in its message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from demat.pes.encoding import is_latin1_name
from demat.pes.inspect import BordereauInfo, PesInfo
from demat.pes.namespaces import PES_ALLER_NS

#: Severity of a finding that gets the file refused.
ERROR = "error"
#: Severity of a finding worth a look, which does not stop the file.
WARNING = "warning"
#: Severity of a finding that only informs.
INFO = "info"

#: Longest NomFic accepted, in characters.
NOMFIC_MAX = 100
#: Longest NomPJ accepted, in characters.
NOMPJ_MAX = 100
_NOMPJ = re.compile(r".+\.[A-Za-z0-9]{2,4}", re.S)
_TRUE = {"1", "true"}
#: TypBord 06 in recette is the ORMC (ordre de recette multi-créanciers).
TYPBORD_ORMC = "06"

#: S²LOW refuses the upload: the DGFiP never sees the file.
AT_IMPORT = "import"
#: The DGFiP rejects the whole flux (one ElementACQUIT, DomaineAck 0).
FLUX = "flux"
#: The DGFiP rejects the element the finding points at (its bordereau or its PJ; the whole flux
#: when it points at neither).
ELEMENT = "element"

_DOC = "documentation of the DGFiP's PES V2 XSD (reference/pes.md §2)"
_S2LOW = "S²LOW's checks at import, HeliosEnvoiControler (reference/pes.md §2)"
_XSD = "PES V2 XSD (the DGFiP's schema gateway: reference/pes.md §3)"


@dataclass(frozen=True)
class Rule:
    """One rule of :data:`RULES`: ``severity`` (:data:`ERROR` or :data:`WARNING`), ``scope``
    (:data:`AT_IMPORT`, :data:`FLUX` or :data:`ELEMENT`), ``dgfip`` the acquittal error
    (NumAnoAck) the DGFiP answers when it rejects, and ``source``: which document states the
    rule, or why demat chose its severity where none does."""

    code: str
    severity: str
    scope: str
    dgfip: str | None
    source: str

    @property
    def rejects(self) -> bool:
        """Whether the file (or the element) is refused: what the sandbox's DGFiP does."""
        return self.severity == ERROR


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {r.code: r for r in rules}


#: The one table of PES_Aller rules, read by ``pes validate`` and by the sandbox's DGFiP.
RULES: dict[str, Rule] = _rules(
    Rule("PES_ROOT", ERROR, AT_IMPORT, None, _S2LOW),
    Rule("PES_ENCODING", ERROR, AT_IMPORT, None, _S2LOW + ": ISO-8859-1 declared in the first 50 bytes"),
    Rule("PES_NOMFIC_MISSING", ERROR, AT_IMPORT, None, _S2LOW),
    Rule("PES_EMPTY", ERROR, AT_IMPORT, None, _S2LOW + ": an empty flux would get no acquittal"),
    Rule("PES_NOMFIC_LENGTH", ERROR, FLUX, "ERREUR_AUTRE", _XSD + ": NomFic is Texte100"),
    Rule("PES_XSD", ERROR, FLUX, "ERREUR_AUTRE", _XSD + ': "Erreur de validation XSD en boite 1"'),
    Rule("PES_IDVER", ERROR, FLUX, "ERREUR_VERSION_PES", _DOC + ': IdVer "= 2, sinon rejet du flux"'),
    Rule("PES_PJ_IDVER", ERROR, FLUX, "ERREUR_VERSION_PJ", _DOC + ": EnTetePES_PJ/IdVer is 1"),
    Rule("PES_VALUE_FORMAT", ERROR, ELEMENT, "ERREUR_AUTRE", _XSD + ": amounts and counts are decimals"),
    Rule(
        "PES_NBRPCE",
        ERROR,
        ELEMENT,
        "ERREUR_CUMUL_MONTANTS",
        "not stated by the documentation (NbrPce is only Num5 ≥ 1); demat's choice, as for "
        "PES_MT_BORD_HT: a bordereau's count holds in every real sample (reference/pes.md §5) and "
        "is what the DGFiP's cumul check reads",
    ),
    Rule(
        "PES_MT_BORD_HT",
        ERROR,
        ELEMENT,
        "ERREUR_CUMUL_MONTANTS",
        _DOC + " states MtBordHt = Σ MtHT of the lines for the ORMC only (Class_BordereauRecetteAller"
        ".xsd); demat's choice for every other bordereau: an error too, because the DGFiP's "
        "acquittal has a code for exactly this mismatch (ERREUR_CUMUL_MONTANTS), the sum holds in "
        "every real sample (reference/pes.md §5), and a file refused here is fixed before the DGFiP "
        "refuses it days later, where a warning would let it go",
    ),
    Rule(
        "PES_MT_BORD_HT_ZERO", ERROR, FLUX, "ERREUR_AUTRE", _DOC + ': MtBordHt "> 0,00 sinon rejet du flux"'
    ),
    Rule(
        "PES_MT_BORD_TVA",
        ERROR,
        ELEMENT,
        "ERREUR_CUMUL_MONTANTS",
        _DOC + ": MtBordTVA > 0 needs a line with MtTVA > 0",
    ),
    Rule(
        "PES_MT_BORD_TVA_SUM",
        WARNING,
        ELEMENT,
        "ERREUR_CUMUL_MONTANTS",
        "not stated by the documentation and not verified on real samples (reference/pes.md §5 "
        "verifies the HT sum and NbrPce only): a warning, since the DGFiP may reject the bordereau",
    ),
    Rule(
        "PES_MT_CUMUL_ANNUEL",
        ERROR,
        ELEMENT,
        "ERREUR_AUTRE",
        _DOC + ": MtCumulAnnuel > 0, mandatory when InfoDematerialisee is 1 (except ORMC)",
    ),
    Rule(
        "PES_INFO_DEMAT_SIGNATURE",
        ERROR,
        FLUX,
        "ERREUR_PES_PARAM_SIGNATURE",
        _DOC + ': InfoDematerialisee 1 "uniquement avec une signature", 0 and a signature '
        '"aboutissent au rejet du flux"',
    ),
    Rule(
        "PES_ID_MISSING",
        ERROR,
        ELEMENT,
        "ERREUR_SIGNATURE_BORDEREAU_INCOMPLETE",
        _DOC + ": @Id of a signed bordereau",
    ),
    Rule(
        "PES_SIGNATURE_REF",
        ERROR,
        ELEMENT,
        "ERREUR_SIGNATURE_BORDEREAU_INVALIDE",
        "XAdES profile of the PES (reference/pes.md §4): a signature references its bordereau's Id",
    ),
    Rule(
        "PES_ID_DUPLICATE",
        ERROR,
        FLUX,
        "ERREUR_AUTRE",
        _XSD + ": Id attributes are xs:ID, unique in the file",
    ),
    Rule(
        "PES_PJ_NAME",
        ERROR,
        ELEMENT,
        "ERREUR_PJ",
        _DOC + ": NomPJ, 100 characters at most, with an extension",
    ),
    Rule(
        "PES_PJ_IDUNIQUE_MISSING",
        ERROR,
        ELEMENT,
        "ERREUR_PJ",
        _DOC + ": IdUnique identifies the PJ in Hélios",
    ),
    Rule(
        "PES_PJ_IDUNIQUE_DUPLICATE",
        ERROR,
        ELEMENT,
        "ERREUR_DOUBLON_PJ",
        "acquittal labels of the DGFiP (reference/pes.md §3): IdUnique is unique across Hélios",
    ),
    Rule("PES_PJ_CONTENT", ERROR, ELEMENT, "ERREUR_PJ", _DOC + ": Contenu/Fichier is a gzip in base64"),
    Rule(
        "PES_PJ_BOMB",
        ERROR,
        ELEMENT,
        "ERREUR_PJ",
        "demat's limit on a PJ's inflated size (no official source)",
    ),
    Rule(
        "PES_PJREF_UNKNOWN",
        WARNING,
        ELEMENT,
        "ERREUR_PJ",
        "real files reference PJs sent in an earlier flux (IdUnique is unique across Hélios): a "
        "warning, since only the DGFiP knows whether it holds the PJ",
    ),
)

_MAY_REJECT = {
    FLUX: "la DGFiP peut rejeter le flux",
    ELEMENT: "la DGFiP peut rejeter ce bordereau",
}


def rule_severity(finding: Finding) -> Finding:
    """``finding`` with the severity :data:`RULES` gives its code; a warning the DGFiP may act
    on says so plainly, with the acquittal error it would answer."""
    rule = RULES.get(finding.code)
    if rule is None:
        return finding
    message = finding.message
    if not rule.rejects and rule.dgfip:
        what = _MAY_REJECT.get(rule.scope, "la DGFiP peut rejeter ce bordereau")
        if "/PJ[" in (finding.path or "") or finding.code == "PES_PJREF_UNKNOWN":
            what = "la DGFiP peut rejeter la pièce qui la référence"
        message = f"{message} ; {what} ({rule.dgfip})"
    return replace(finding, severity=rule.severity, message=message)


@dataclass(frozen=True)
class Finding:
    """One problem (or remark) found in a document."""

    code: str
    message: str
    line: int | None = None
    path: str | None = None
    severity: str = ERROR

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "line": self.line,
            "path": self.path,
            "severity": self.severity,
        }


def _dec(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _fmt(d: Decimal) -> str:
    return f"{d:.2f}"


_BLOCK = {"depense": "PES_DepenseAller", "recette": "PES_RecetteAller"}


def _bpath(b: BordereauInfo) -> str:
    return f"/PES_Aller/{_BLOCK[b.domain]}/Bordereau[{b.index}]"


def check_envelope(info: PesInfo) -> list[Finding]:
    """Root, encoding, NomFic, presence of content."""
    out: list[Finding] = []
    if info.root != "PES_Aller" or info.root_namespace != PES_ALLER_NS:
        out.append(
            Finding(
                "PES_ROOT",
                "ce fichier n'est pas un PES_Aller"
                + (
                    f" (élément racine {info.root}, espace de noms {info.root_namespace})"
                    if info.root
                    else ""
                ),
                line=1,
            )
        )
        return out
    enc = info.encoding
    if enc is None or not is_latin1_name(enc):
        out.append(
            Finding(
                "PES_ENCODING",
                f"le fichier est encodé en {enc or 'UTF-8 (pas de déclaration)'} ; Hélios et S²LOW exigent "
                "ISO-8859-1 (« demat pes transcode FICHIER -o SORTIE » le convertit)",
                line=1,
            )
        )
    if not info.nom_fic:
        out.append(
            Finding(
                "PES_NOMFIC_MISSING", "Enveloppe/Parametres/NomFic est absent", path="/PES_Aller/Enveloppe"
            )
        )
    elif len(info.nom_fic) > NOMFIC_MAX:
        out.append(
            Finding(
                "PES_NOMFIC_LENGTH",
                f"NomFic fait {len(info.nom_fic)} caractères ; le maximum est {NOMFIC_MAX}",
                path="/PES_Aller/Enveloppe/Parametres/NomFic",
            )
        )
    has_pj = info.pj_block and bool(info.pjs)
    if not info.domains and not has_pj:
        out.append(
            Finding(
                "PES_EMPTY",
                "le PES ne contient ni dépense, ni recette, ni facture, ni marché, ni pièce jointe : "
                "un flux vide est refusé (aucun acquittement ne serait produit)",
            )
        )
    return out


def check_versions(info: PesInfo) -> list[Finding]:
    """IdVer of the domain blocks (2) and of PES_PJ (1)."""
    out: list[Finding] = []
    for dom in info.domains.values():
        if dom.name in _BLOCK and dom.id_ver != "2":
            out.append(
                Finding(
                    "PES_IDVER",
                    f"IdVer de l'en-tête {dom.name} vaut {dom.id_ver!r} ; "
                    "il doit valoir 2, sinon le flux est rejeté",
                    line=dom.line,
                    path=f"/PES_Aller/{_BLOCK[dom.name]}",
                )
            )
    if info.pj_block and info.pj_id_ver is not None and info.pj_id_ver != "1":
        out.append(
            Finding(
                "PES_PJ_IDVER",
                f"IdVer de EnTetePES_PJ vaut {info.pj_id_ver!r} ; seule la valeur 1 est admise",
                path="/PES_Aller/PES_PJ/EnTetePES_PJ/IdVer",
            )
        )
    return out


def check_bordereau(b: BordereauInfo, info_demat: bool) -> list[Finding]:
    """Counts and totals of one bordereau against its pièces and lignes."""
    out: list[Finding] = []
    path, line, label = _bpath(b), b.line, b.label
    for name, value, vline in b.bad_amounts:
        out.append(
            Finding("PES_VALUE_FORMAT", f"{label} : montant {name} illisible ({value!r})", vline, path)
        )
    if b.nbr_pce is not None:
        try:
            declared = int(b.nbr_pce)
        except ValueError:
            out.append(Finding("PES_VALUE_FORMAT", f"{label} : NbrPce illisible ({b.nbr_pce!r})", line, path))
        else:
            if declared != b.pieces:
                out.append(
                    Finding(
                        "PES_NBRPCE",
                        f"{label} : NbrPce annonce {declared} pièce(s) "
                        f"mais le bordereau en contient {b.pieces}",
                        line,
                        path,
                    )
                )
    ht = _dec(b.mt_bord_ht)
    ht_name = "MtBordHt" if b.domain == "recette" else "MtBordHT"
    if b.mt_bord_ht is not None and ht is None:
        out.append(
            Finding("PES_VALUE_FORMAT", f"{label} : {ht_name} illisible ({b.mt_bord_ht!r})", line, path)
        )
    if ht is not None:
        if ht != b.sum_ht:
            ormc = b.domain == "recette" and b.typ_bord == TYPBORD_ORMC
            out.append(
                Finding(
                    "PES_MT_BORD_HT",
                    f"{label} : {ht_name} déclaré {_fmt(ht)} ≠ "
                    f"somme des montants HT des lignes {_fmt(b.sum_ht)}"
                    + (" (obligatoire pour un ORMC)" if ormc else ""),
                    line,
                    path,
                )
            )
        if b.domain == "recette" and ht <= 0:
            out.append(
                Finding(
                    "PES_MT_BORD_HT_ZERO",
                    f"{label} : MtBordHt vaut {_fmt(ht)} ; "
                    "il doit être supérieur à 0,00, sinon le flux est rejeté",
                    line,
                    path,
                )
            )
    tva = _dec(b.mt_bord_tva)
    if b.mt_bord_tva is not None and tva is None:
        out.append(
            Finding("PES_VALUE_FORMAT", f"{label} : MtBordTVA illisible ({b.mt_bord_tva!r})", line, path)
        )
    if tva is not None and tva > 0 and b.lines_with_tva == 0:
        out.append(
            Finding(
                "PES_MT_BORD_TVA",
                f"{label} : MtBordTVA vaut {_fmt(tva)} mais aucune ligne n'a de MtTVA supérieur à 0",
                line,
                path,
            )
        )
    elif (tva or Decimal(0)) != b.sum_tva:
        out.append(
            Finding(
                "PES_MT_BORD_TVA_SUM",
                f"{label} : MtBordTVA déclaré {_fmt(tva or Decimal(0))} ≠ "
                f"somme des TVA des lignes {_fmt(b.sum_tva)}",
                line,
                path,
                WARNING,
            )
        )
    cumul = _dec(b.mt_cumul_annuel)
    # The schema's documentation exempts ORMC rôles (recette TypBord 06) from MtCumulAnnuel.
    ormc = b.domain == "recette" and b.typ_bord == TYPBORD_ORMC
    if b.mt_cumul_annuel is None:
        if info_demat and not ormc:
            out.append(
                Finding(
                    "PES_MT_CUMUL_ANNUEL",
                    f"{label} : MtCumulAnnuel est obligatoire quand InfoDematerialisee vaut 1",
                    line,
                    path,
                )
            )
    elif cumul is None or cumul <= 0:
        out.append(
            Finding(
                "PES_MT_CUMUL_ANNUEL",
                f"{label} : MtCumulAnnuel vaut {b.mt_cumul_annuel!r} ; il doit être supérieur à 0",
                line,
                path,
            )
        )
    return out


def check_signatures(info: PesInfo) -> list[Finding]:
    """InfoDematerialisee ⇔ signature, and the Ids a signature needs."""
    out: list[Finding] = []
    for dom in info.domains.values():
        if dom.name not in _BLOCK:
            continue
        demat = (dom.info_dematerialisee or "0").strip() in _TRUE
        bords = [b for b in info.bordereaux if b.domain == dom.name]
        signed = info.root_signed or (bool(bords) and all(b.signed for b in bords))
        some_signed = info.root_signed or any(b.signed for b in bords)
        where = f"/PES_Aller/{_BLOCK[dom.name]}"
        if demat and not signed:
            unsigned = [b.label for b in bords if not b.signed]
            out.append(
                Finding(
                    "PES_INFO_DEMAT_SIGNATURE",
                    "InfoDematerialisee vaut 1 mais "
                    + (
                        "le fichier n'est pas signé"
                        if not some_signed
                        else f"ces bordereaux ne sont pas signés : {', '.join(unsigned)}"
                    )
                    + " ; la valeur 1 n'est autorisée qu'avec une signature électronique",
                    dom.line,
                    where,
                )
            )
        elif not demat and some_signed:
            out.append(
                Finding(
                    "PES_INFO_DEMAT_SIGNATURE",
                    "le fichier est signé mais InfoDematerialisee vaut 0 (ou est absent) : "
                    "cette combinaison aboutit au rejet du flux",
                    dom.line,
                    where,
                )
            )
    for b in info.bordereaux:
        if b.signed:
            out += _signed_needs_id(b.id, b.signature_refs, b.label, b.line, _bpath(b))
    if info.root_signed:
        out += _signed_needs_id(info.root_id, info.root_signature_refs, "le PES_Aller", 1, "/PES_Aller")
    return out


def _signed_needs_id(
    ident: str | None, refs: list[str], label: str, line: int | None, path: str
) -> list[Finding]:
    if not ident:
        return [
            Finding(
                "PES_ID_MISSING",
                f"{label} est signé mais n'a pas d'attribut Id : la signature ne peut pas le désigner",
                line,
                path,
            )
        ]
    if f"#{ident}" not in refs:
        return [
            Finding(
                "PES_SIGNATURE_REF",
                f"la signature de {label} ne référence pas son Id (#{ident}) ; références trouvées : "
                + (", ".join(refs) or "aucune"),
                line,
                path,
            )
        ]
    return []


def check_ids(ids: dict[str, list[int | None]]) -> list[Finding]:
    """Every Id attribute must be unique in the file."""
    return [
        Finding(
            "PES_ID_DUPLICATE",
            f"l'identifiant Id={ident!r} apparaît {len(lines)} fois ; il doit être unique dans le fichier",
            lines[1],
        )
        for ident, lines in ids.items()
        if len(lines) > 1
    ]


def check_pjs(info: PesInfo) -> list[Finding]:
    """PJ names and IdUnique, and PJRef targets."""
    out: list[Finding] = []
    seen: dict[str, int] = {}
    for pj in info.pjs:
        path = f"/PES_Aller/PES_PJ/PJ[{pj.index}]"
        who = f"PJ {pj.id_unique or f'n°{pj.index}'}"
        name = pj.nom_pj
        if not name:
            out.append(Finding("PES_PJ_NAME", f"{who} : NomPJ est absent", pj.line, path))
        elif len(name) > NOMPJ_MAX or not _NOMPJ.fullmatch(name):
            out.append(
                Finding(
                    "PES_PJ_NAME",
                    f"{who} : le nom {name!r} doit faire au plus {NOMPJ_MAX} caractères et finir par une "
                    "extension de 2 à 4 lettres ou chiffres (ex. « facture.pdf »)",
                    pj.line,
                    path,
                )
            )
        if not pj.id_unique:
            out.append(
                Finding("PES_PJ_IDUNIQUE_MISSING", f"PJ n°{pj.index} : IdUnique est absent", pj.line, path)
            )
        elif pj.id_unique in seen:
            out.append(
                Finding(
                    "PES_PJ_IDUNIQUE_DUPLICATE",
                    f"{who} : IdUnique déjà utilisé par la PJ n°{seen[pj.id_unique]} de ce fichier",
                    pj.line,
                    path,
                )
            )
        else:
            seen[pj.id_unique] = pj.index
    for ref in info.pj_refs:
        # A PJ may have been sent in an earlier flux (IdUnique is unique across Hélios, and real
        # files reference PJs they do not carry), so a dangling PJRef is only a warning.
        if (ref.support or "").strip() == "01" and ref.id_unique and ref.id_unique not in seen:
            out.append(
                Finding(
                    "PES_PJREF_UNKNOWN",
                    f"PJRef vers la PJ {ref.id_unique} ({ref.nom_pj or 'sans nom'}) : "
                    "cette PJ n'est pas dans ce fichier ; vérifiez qu'elle a déjà été transmise à Hélios",
                    ref.line,
                    severity=WARNING,
                )
            )
    return out


def check_all(info: PesInfo, ids: dict[str, list[int | None]]) -> list[Finding]:
    """Every business rule, in document order of concern, each finding's severity from
    :data:`RULES` (see :func:`rule_severity`)."""
    out = check_envelope(info)
    if out and out[0].code == "PES_ROOT":
        return out
    out += check_versions(info)
    demat = {d.name: (d.info_dematerialisee or "0").strip() in _TRUE for d in info.domains.values()}
    for b in info.bordereaux:
        out += check_bordereau(b, demat.get(b.domain, False))
    out += check_signatures(info)
    out += check_ids(ids)
    out += check_pjs(info)
    return [rule_severity(f) for f in out]


__all__ = [
    "AT_IMPORT",
    "ELEMENT",
    "ERROR",
    "FLUX",
    "INFO",
    "NOMFIC_MAX",
    "NOMPJ_MAX",
    "RULES",
    "TYPBORD_ORMC",
    "WARNING",
    "Finding",
    "Rule",
    "check_all",
    "check_bordereau",
    "check_envelope",
    "check_ids",
    "check_pjs",
    "check_signatures",
    "check_versions",
    "rule_severity",
]
