"""PES_ACQUIT: read the DGFiP's acknowledgement of a PES_Aller, and write one (sandbox).

The reader takes the current v2 namespace (nested ``DetailPiece``/``DetailLigne``) or the old
flat one; a ``PES_ACQUIT`` in any other namespace is no acquittal. Each acquittal is checked
against its schema (the bundled or official ``PES_ACQUIT`` XSD) and every deviation is
reported with its line. Real ACKs break their own XSD in known, harmless ways (CodCol "000"
in the STELA fixtures, no ``Emetteur`` in S²LOW's): those are warnings. Any other deviation (a
missing NomFic, an element block the reader does not know…) is an error, and an acquittal
with an error is not *accepted*, whatever its elements say: what the reader skipped could be
a rejection. A file is accepted only if it conforms and every ``ElementACQUIT`` is OK
(``EtatAck`` = 1): a single ACK mixes per-element outcomes.

Reading streams, one ``ElementACQUIT`` at a time, within caps that keep memory bounded
whatever the file (:data:`MAX_ACK_BYTES`, refused from its size; :data:`MAX_ACK_NODES`,
refused as soon as it is passed; the text caps of :mod:`demat.xml.safe`); the schema check
streams too.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from lxml import etree

from demat.errors import ProtocolError
from demat.pes.inspect import PesInfo
from demat.pes.namespaces import PES_ACQUIT_NS, PES_RETOUR_NS
from demat.pes.rules import ERROR, WARNING, Finding
from demat.xml.safe import DEFAULT_LIMITS, Limits, Source, iterparse, local_name, read_source
from demat.xml.schemas import SchemaRegistry

#: DomaineAck codes (CommunAck.xsd).
DOMAINE_LABELS = {
    "0": "Technique",
    "1": "Signature technique",
    "2": "Signature globale",
    "3": "Signature Bordereau",
    "4": "PJ",
    "5": "Dépense",
    "6": "Recette",
    "7": "Rôle",
    "8": "Budget",
    "9": "Etat Actif",
    "10": "Etat Passif",
    "11": "Marché",
    "12": "Facture",
    "99": "Paramétrage",
}
#: DomaineAck of a technical verdict on the whole file (schema, envelope).
DOMAINE_TECHNIQUE = "0"
#: DomaineAck of a PJ's verdict.
DOMAINE_PJ = "4"
#: DomaineAck of a dépense bordereau's verdict.
DOMAINE_DEPENSE = "5"
#: DomaineAck of a recette bordereau's verdict.
DOMAINE_RECETTE = "6"

#: NumAnoAck codes the v5.17 schema allows.
NUM_ANO_ACK = frozenset(
    {
        "ERREUR_CONNECTION_IMPOSSIBLE_A_LA_BASE",
        "ERREUR_ENCODING",
        "ERREUR_FLUX_VIDE",
        "ERREUR_SCHEMA_INCOMPLET",
        "ERREUR_CODIFICATION",
        "ERREUR_CODIQUE",
        "ERREUR_SIRET",
        "ERREUR_CODE_COLLECTIVITE_BUDGET",
        "ERREUR_VERSION_PES",
        "ERREUR_VERSION_PJ",
        "ERREUR_SIGNATURE_INVALIDE",
        "ERREUR_SIGNATURE_ILLISIBLE",
        "ERREUR_SIGNATURE_INCOMPLETE",
        "ERREUR_DOUBLON_BORDEREAU",
        "ERREUR_DOUBLON_PIECE",
        "ERREUR_DOUBLON_LIGNE",
        "ERREUR_DOUBLON_PJ",
        "ERREUR_PES_PARAM",
        "ERREUR_PES_SIGNATURE",
        "ERREUR_PES_PARAM_SIGNATURE",
        "ERREUR_CERTIFICAT",
        "ERREUR_TIMEOUT",
        "ERREUR_TAILLE_BORDEREAUX",
        "ERREUR_TAILLE_PIECE",
        "ERREUR_TAILLE_LIGNE",
        "ERREUR_PJ_SIGNEE",
        "ERREUR_SIGNATURE_EXTERNE",
        "ERREUR_AUTRE",
        "ERREUR_SIGNATURE_BORDEREAU_INVALIDE",
        "ERREUR_MONTANT_TVA_ZERO_NEGATIF",
        "ERREUR_PJ",
        "ERREUR_CUMUL_MONTANTS",
        "ERREUR_SIGNATURE_BORDEREAU_ILLISIBLE",
        "ERREUR_SIGNATURE_BORDEREAU_INCOMPLETE",
    }
)

_DOMAIN_OF_BLOCK = {"depense": DOMAINE_DEPENSE, "recette": DOMAINE_RECETTE}


@dataclass
class AckError:
    """One anomaly: ``code`` is NumAnoAck (e.g. ERREUR_AUTRE), ``label`` LibelleAnoAck."""

    code: str | None = None
    label: str | None = None

    def __str__(self) -> str:
        return " - ".join(x for x in (self.code, self.label) if x) or "erreur sans libellé"


@dataclass
class DetailLigne:
    """Errors on one line of a pièce."""

    num: str | None
    errors: list[AckError] = field(default_factory=list)


@dataclass
class DetailPiece:
    """Errors on one pièce (mandat or titre) and its lines."""

    num: str | None
    errors: list[AckError] = field(default_factory=list)
    lignes: list[DetailLigne] = field(default_factory=list)


@dataclass
class AckElement:
    """The outcome for one element of the PES: a bordereau, a PJ, a marché, or the file."""

    domaine: str
    ok: bool
    domaine_label: str = ""
    num_bord: str | None = None
    exercice_bord: str | None = None
    id_unique: str | None = None
    id_marche: str | None = None
    errors: list[AckError] = field(default_factory=list)
    pieces: list[DetailPiece] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.domaine_label:
            self.domaine_label = DOMAINE_LABELS.get(self.domaine, f"domaine {self.domaine}")

    def all_errors(self) -> list[AckError]:
        """Every error of this element, its pièces and their lines."""
        out = list(self.errors)
        for p in self.pieces:
            out += p.errors
            for line in p.lignes:
                out += line.errors
        return out

    @property
    def subject(self) -> str:
        """What the element is about, in words: "bordereau 5 (2019)", "PJ TI00064567"…"""
        if self.num_bord:
            return f"bordereau {self.num_bord}" + (f" ({self.exercice_bord})" if self.exercice_bord else "")
        if self.id_unique:
            return f"PJ {self.id_unique}"
        if self.id_marche:
            return f"marché {self.id_marche}"
        return "fichier"


@dataclass
class Acquit:
    """A PES_ACQUIT read back: ``accepted`` only if it conforms and every element is OK."""

    nom_fic: str | None
    accepted: bool
    elements: list[AckElement]
    namespace: str | None
    version: str  #: "v2" (nested details) or "v1" (old flat form)
    typ_fic: str | None = None
    dte_str: str | None = None
    id_post: str | None = None
    id_coll: str | None = None
    cod_col: str | None = None
    cod_bud: str | None = None
    file: str | None = None
    #: Where the acquittal departs from its schema (code ``PES_ACK_XSD``), each an error or,
    #: for the deviations real acquittals are known to make, a warning.
    deviations: list[Finding] = field(default_factory=list)

    @property
    def rejected(self) -> list[AckElement]:
        """The elements refused."""
        return [e for e in self.elements if not e.ok]

    @property
    def schema_errors(self) -> list[Finding]:
        """The deviations that keep the acquittal from being trusted as read."""
        return [d for d in self.deviations if d.severity == ERROR]

    @property
    def conforms(self) -> bool:
        """Whether the acquittal follows its schema, known harmless deviations aside."""
        return not self.schema_errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        out = asdict(self)
        out["conforms"] = self.conforms
        return out


# --- reading -----------------------------------------------------------------------------


def _v(elem: Any, name: str) -> str | None:
    child = elem.find(name)
    if child is None:
        return None
    value: str | None = child.get("V")
    if value is None and child.text is not None:
        value = child.text.strip() or None  # lenient: some producers write text
    return value


def _errors(elem: Any) -> list[AckError]:
    return [AckError(_v(e, "NumAnoAck"), _v(e, "LibelleAnoAck")) for e in elem.findall("Erreur")]


def _ok(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


#: Header leaves whose values real acquittals write outside the XSD's facets (CodCol "000").
_LENIENT_VALUES = frozenset({"DteStr", "IdPost", "IdColl", "CodCol", "CodBud", "LibelleColBud"})
_XSD_PREFIX = "non conforme au schéma XSD : "
_FACET = re.compile(r"^Element '(?:\{[^}]*\})?(\w+)', attribute 'V': \[facet ")
_NO_EMITTER = "Element 'Enveloppe': Missing child element(s). Expected is ( Emetteur )."


def _deviation(finding: Finding) -> Finding:
    """A schema finding of an acquittal, as an error or (known in the wild) a warning."""
    message = finding.message.removeprefix(_XSD_PREFIX)
    facet = _FACET.match(message)
    lenient = (facet is not None and facet.group(1) in _LENIENT_VALUES) or message == _NO_EMITTER
    return Finding(
        "PES_ACK_XSD",
        f"acquittement non conforme à son schéma : {message}",
        finding.line,
        severity=WARNING if lenient else ERROR,
    )


def schema_deviations(
    data: Source, version: str, *, registry: SchemaRegistry | None = None, limits: Limits = DEFAULT_LIMITS
) -> list[Finding]:
    """How an acquittal (``version`` "v2" or "v1") departs from its schema; see :class:`Acquit`."""
    from demat.pes.validate import validate_xsd

    kind = "pes_acquit_v1" if version == "v1" else "pes_acquit"
    report = validate_xsd(data, kind, registry=registry, limits=limits)
    return [_deviation(f) for f in report.errors]


def read_acquit(
    source: Source, *, limits: Limits = DEFAULT_LIMITS, registry: SchemaRegistry | None = None
) -> Acquit:
    """Read a PES_ACQUIT (v2 or old flat namespace) and check it against its schema.

    ``registry`` gives the schema set (default: the process one, bundled unless official
    sets are configured). Raises :class:`demat.errors.ProtocolError` (code
    ``PES_ACK_NOT_ACQUIT``) when the document is not a PES_ACQUIT of either namespace, and the
    :mod:`demat.xml.safe` errors for unsafe or malformed XML.
    """
    name = getattr(source, "name", None) if not isinstance(source, bytes | str | os.PathLike) else None
    file = os.fspath(source) if isinstance(source, str | os.PathLike) else name
    limits = replace(limits, max_bytes=min(limits.max_bytes, MAX_ACK_BYTES))
    if not isinstance(source, bytes | str | os.PathLike):
        source = read_source(source, limits=limits)  # read twice below: the stream once
    read = _read_streaming(source, file, limits)
    deviations = schema_deviations(source, read.version, registry=registry, limits=limits)
    elements = _merge_flat(read.elements) if read.version == "v1" else read.elements
    conforms = not any(d.severity == ERROR for d in deviations)
    head, params = read.header, read.params
    return Acquit(
        nom_fic=params.get("NomFic"),
        accepted=conforms and bool(elements) and all(e.ok for e in elements),
        elements=elements,
        namespace=read.namespace,
        version=read.version,
        typ_fic=params.get("TypFic"),
        dte_str=head.get("DteStr"),
        id_post=head.get("IdPost"),
        id_coll=head.get("IdColl"),
        cod_col=head.get("CodCol"),
        cod_bud=head.get("CodBud"),
        file=file,
        deviations=deviations,
    )


_HEADER_BLOCKS = ("Enveloppe", "EnTetePES")
#: Bytes an acquittal may weigh (one answers a whole PES in a few hundred KB).
MAX_ACK_BYTES = 64 * 1024 * 1024
#: Elements an acquittal may hold: enough for an ElementACQUIT per bordereau and PJ of a big
#: PES and some 80,000 errors on its pièces and lines. What is read costs memory (one
#: ElementACQUIT is read as a tree, the report keeps every error: about 300 bytes an element
#: at worst), so past this the document is refused rather than read on.
MAX_ACK_NODES = 250_000


@dataclass
class _Read:
    namespace: str | None = None
    version: str = "v2"
    params: dict[str, str | None] = field(default_factory=dict)
    header: dict[str, str | None] = field(default_factory=dict)
    elements: list[AckElement] = field(default_factory=list)
    outside: list[AckElement] = field(default_factory=list)  # not under ACQUIT
    acquit_block: bool = False  # an ACQUIT child of the root was seen: only its elements count


def _read_streaming(source: Source, file: str | None, limits: Limits) -> _Read:
    """The acquittal's header and elements, read element by element: each ``ElementACQUIT``
    is turned into its report and dropped, everything else dropped as it ends."""
    read = _Read()
    depth = 0
    nodes = 0
    inside = 0  # depth of the ElementACQUIT or header block being read (0: none)
    under_acquit = False
    for event, elem in iterparse(source, events=("start", "end"), limits=limits):
        if event == "start":
            depth += 1
            nodes += 1
            if depth == 1:
                _check_root(elem, file)
                read.namespace = etree.QName(elem).namespace
                read.version = "v1" if read.namespace == PES_RETOUR_NS else "v2"
            if nodes > MAX_ACK_NODES:
                raise ProtocolError(
                    f"acquittement refusé : plus de {MAX_ACK_NODES} éléments",
                    file=file,
                    code="PES_ACK_TOO_BIG",
                )
            if not inside and (elem.tag == "ElementACQUIT" or (depth == 2 and elem.tag in _HEADER_BLOCKS)):
                inside = depth
            elif depth == 2 and elem.tag == "ACQUIT" and not read.acquit_block:
                read.acquit_block = under_acquit = True
            continue
        depth -= 1
        tag = elem.tag
        if inside and depth + 1 > inside:
            continue  # part of the ElementACQUIT or header being read: read with it
        if depth + 1 == inside:
            inside = 0
        if tag == "ElementACQUIT":
            element = _read_element_v1(elem) if read.version == "v1" else _read_element_v2(elem)
            (read.elements if under_acquit else read.outside).append(element)
        elif tag == "ACQUIT" and depth == 1:
            under_acquit = False
        elif tag == "Enveloppe" and depth == 1:
            params = elem.find("Parametres")
            read.params = {k: _v(params, k) for k in ("NomFic", "TypFic")} if params is not None else {}
        elif tag == "EnTetePES" and depth == 1:
            read.header = {k: _v(elem, k) for k in ("DteStr", "IdPost", "IdColl", "CodCol", "CodBud")}
        if depth:
            elem.clear()
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    if not read.acquit_block:  # no ACQUIT block: the elements are wherever they are
        read.elements = read.outside
    return read


def _check_root(root: Any, file: str | None) -> None:
    ns = etree.QName(root).namespace
    if local_name(root) != "PES_ACQUIT":
        raise ProtocolError(
            f"ce document n'est pas un acquittement PES_ACQUIT (racine {local_name(root)!r})",
            file=file,
            code="PES_ACK_NOT_ACQUIT",
        )
    if ns not in (PES_ACQUIT_NS, PES_RETOUR_NS):
        raise ProtocolError(
            f"ce document n'est pas un acquittement : PES_ACQUIT dans l'espace de noms {ns!r} "
            f"(attendu {PES_ACQUIT_NS}, ou {PES_RETOUR_NS} pour l'ancien format)",
            file=file,
            code="PES_ACK_NOT_ACQUIT",
        )


def _read_element_v2(e: Any) -> AckElement:
    pieces = [
        DetailPiece(
            _v(p, "NumPiece"),
            _errors(p),
            [DetailLigne(_v(li, "NumLigne"), _errors(li)) for li in p.findall("DetailLigne")],
        )
        for p in e.findall("DetailPiece")
    ]
    return AckElement(
        domaine=_v(e, "DomaineAck") or "",
        ok=_ok(_v(e, "EtatAck")),
        num_bord=_v(e, "NumBord"),
        exercice_bord=_v(e, "ExerciceBord"),
        id_unique=_v(e, "IdUnique"),
        id_marche=_v(e, "IdMarche"),
        errors=_errors(e),
        pieces=pieces,
    )


def _read_element_v1(e: Any) -> AckElement:
    err = AckError(_v(e, "NumAnoAck"), _v(e, "LibelleAnoAck"))
    errors = [err] if err.code or err.label else []
    num_piece, num_ligne = _v(e, "NumPiece"), _v(e, "NumLigne")
    pieces: list[DetailPiece] = []
    if num_piece is not None:
        if num_ligne is not None:
            pieces = [DetailPiece(num_piece, [], [DetailLigne(num_ligne, errors)])]
        else:
            pieces = [DetailPiece(num_piece, errors)]
        errors = []
    return AckElement(
        domaine=_v(e, "DomaineAck") or "",
        ok=_ok(_v(e, "EtatAck")),
        num_bord=_v(e, "NumBord"),
        exercice_bord=_v(e, "ExerciceBord"),
        id_unique=_v(e, "IdUnique"),
        errors=errors,
        pieces=pieces,
    )


def _merge_flat(elements: list[AckElement]) -> list[AckElement]:
    """The flat form repeats ElementACQUIT per piece/line; group them per bordereau."""
    merged: list[AckElement] = []
    by_key: dict[tuple[str, str | None, str | None], AckElement] = {}
    for e in elements:
        if e.num_bord is None or not e.pieces:
            merged.append(e)
            continue
        key = (e.domaine, e.num_bord, e.exercice_bord)
        if key in by_key:
            into = by_key[key]
            into.ok = into.ok and e.ok
            into.errors += e.errors
            into.pieces += e.pieces
        else:
            by_key[key] = e
            merged.append(e)
    return merged


# --- writing -----------------------------------------------------------------------------


def _leaf(parent: Any, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, name, V=value)


def _write_errors(parent: Any, errors: Sequence[AckError]) -> None:
    for err in errors:
        if err.code is not None and err.code not in NUM_ANO_ACK:
            raise ValueError(f"NumAnoAck inconnu du schéma : {err.code!r}")
        node = etree.SubElement(parent, "Erreur")
        _leaf(node, "NumAnoAck", err.code)
        _leaf(node, "LibelleAnoAck", err.label[:500] if err.label is not None else None)


def build_acquit(
    *,
    nom_fic: str,
    id_post: str,
    id_coll: str,
    cod_col: str,
    cod_bud: str,
    elements: Iterable[AckElement],
    typ_fic: str = "PESALR2",
    libelle_col_bud: str | None = None,
    dte_str: str | None = None,
    emetteur: tuple[str, str] = ("DGFIP", "HELIOS"),
) -> bytes:
    """Write a PES_ACQUIT (v2 namespace, ISO-8859-1) that the official acquit XSD accepts.

    ``nom_fic`` repeats the PES_Aller's NomFic (that is how ACKs are matched to files); the
    header values are the aller's. Raises ValueError for an element that cannot be written
    (no element, unknown DomaineAck or NumAnoAck).
    """
    items = list(elements)
    if not items:
        raise ValueError("un acquittement contient au moins un ElementACQUIT")
    root = etree.Element(f"{{{PES_ACQUIT_NS}}}PES_ACQUIT", nsmap={"n": PES_ACQUIT_NS})
    env = etree.SubElement(root, "Enveloppe")
    params = etree.SubElement(env, "Parametres")
    _leaf(params, "Version", "2")
    _leaf(params, "TypFic", typ_fic)
    _leaf(params, "NomFic", nom_fic)
    emitter = etree.SubElement(env, "Emetteur")
    _leaf(emitter, "Sigle", emetteur[0])
    _leaf(emitter, "Adresse", emetteur[1])
    head = etree.SubElement(root, "EnTetePES")
    _leaf(head, "DteStr", dte_str or dt.date.today().isoformat())
    _leaf(head, "IdPost", id_post)
    _leaf(head, "IdColl", id_coll)
    _leaf(head, "CodCol", cod_col)
    _leaf(head, "CodBud", cod_bud)
    _leaf(head, "LibelleColBud", libelle_col_bud)
    acquit = etree.SubElement(root, "ACQUIT")
    _leaf(etree.SubElement(acquit, "EnTeteAcquit"), "IdVer", "2")
    for item in items:
        if item.domaine not in DOMAINE_LABELS:
            raise ValueError(f"DomaineAck inconnu : {item.domaine!r}")
        node = etree.SubElement(acquit, "ElementACQUIT")
        _leaf(node, "DomaineAck", item.domaine)
        _leaf(node, "EtatAck", "1" if item.ok else "0")
        if item.num_bord is not None or item.exercice_bord is not None:
            _leaf(node, "NumBord", item.num_bord)
            _leaf(node, "ExerciceBord", item.exercice_bord)
        elif item.id_marche is not None:
            _leaf(node, "IdMarche", item.id_marche)
        elif item.id_unique is not None:
            _leaf(node, "IdUnique", item.id_unique)
        _write_errors(node, item.errors)
        for piece in item.pieces:
            pnode = etree.SubElement(node, "DetailPiece")
            _leaf(pnode, "NumPiece", piece.num)
            _write_errors(pnode, piece.errors)
            for ligne in piece.lignes:
                lnode = etree.SubElement(pnode, "DetailLigne")
                _leaf(lnode, "NumLigne", ligne.num)
                _write_errors(lnode, ligne.errors)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1"))


def acquit_elements_for(
    info: PesInfo,
    *,
    rejected_bordereaux: Mapping[tuple[str, str], Sequence[AckError]] | None = None,
    rejected_pjs: Mapping[str, Sequence[AckError]] | None = None,
    rejected_pieces: Mapping[tuple[str, str], Sequence[DetailPiece]] | None = None,
) -> list[AckElement]:
    """One outcome per bordereau and per PJ of an inspected PES_Aller, OK unless rejected.

    ``rejected_bordereaux`` is keyed by (domain, IdBord) with domain "depense" or "recette";
    ``rejected_pieces`` (same keys) rejects a bordereau with per-pièce details;
    ``rejected_pjs`` is keyed by the PJ's IdUnique.
    """
    bad_b = rejected_bordereaux or {}
    bad_p = rejected_pieces or {}
    bad_pj = rejected_pjs or {}
    out: list[AckElement] = []
    for b in info.bordereaux:
        key = (b.domain, b.id_bord or "")
        errors = list(bad_b.get(key, ()))
        pieces = list(bad_p.get(key, ()))
        out.append(
            AckElement(
                _DOMAIN_OF_BLOCK[b.domain],
                ok=not errors and not pieces,
                num_bord=b.id_bord,
                exercice_bord=b.exer,
                errors=errors,
                pieces=pieces,
            )
        )
    for pj in info.pjs:
        errors = list(bad_pj.get(pj.id_unique or "", ()))
        out.append(AckElement(DOMAINE_PJ, ok=not errors, id_unique=pj.id_unique, errors=errors))
    return out


def build_acquit_for(
    info: PesInfo,
    *,
    rejected_bordereaux: Mapping[tuple[str, str], Sequence[AckError]] | None = None,
    rejected_pjs: Mapping[str, Sequence[AckError]] | None = None,
    rejected_pieces: Mapping[tuple[str, str], Sequence[DetailPiece]] | None = None,
    technical_error: AckError | None = None,
    dte_str: str | None = None,
) -> bytes:
    """Answer an inspected PES_Aller the way Hélios does.

    With ``technical_error`` the whole file is refused (one DomaineAck 0 element, as the
    DGFiP gateway does for an XSD failure); otherwise one element per bordereau and per PJ.
    """
    if technical_error is not None:
        elements = [AckElement(DOMAINE_TECHNIQUE, ok=False, errors=[technical_error])]
    else:
        elements = acquit_elements_for(
            info,
            rejected_bordereaux=rejected_bordereaux,
            rejected_pjs=rejected_pjs,
            rejected_pieces=rejected_pieces,
        )
        if not elements:
            elements = [
                AckElement(
                    DOMAINE_TECHNIQUE,
                    ok=False,
                    errors=[AckError("ERREUR_FLUX_VIDE", "Le flux ne contient aucun élément à intégrer")],
                )
            ]
    return build_acquit(
        nom_fic=info.nom_fic or "",
        id_post=info.id_post or "",
        id_coll=info.id_coll or "",
        cod_col=info.cod_col or "",
        cod_bud=info.cod_bud or "",
        typ_fic=info.typ_fic or "PESALR2",
        libelle_col_bud=info.libelle_col_bud,
        dte_str=dte_str,
        elements=elements,
    )


__all__ = [
    "DOMAINE_DEPENSE",
    "DOMAINE_LABELS",
    "DOMAINE_PJ",
    "DOMAINE_RECETTE",
    "DOMAINE_TECHNIQUE",
    "MAX_ACK_BYTES",
    "MAX_ACK_NODES",
    "NUM_ANO_ACK",
    "AckElement",
    "AckError",
    "Acquit",
    "DetailLigne",
    "DetailPiece",
    "acquit_elements_for",
    "build_acquit",
    "build_acquit_for",
    "read_acquit",
    "schema_deviations",
]
