"""Writing ACTES XML: qualified elements *and* attributes, ISO-8859-1, schemaLocation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lxml import etree

from demat.actes.data import ActeData, EnvelopeData, FichierSigne, Referent
from demat.actes.model import ACTES_NS, INSEE_NS

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"actes": ACTES_NS, "insee": INSEE_NS, "xsi": XSI_NS}
SCHEMA_LOCATION = f"{ACTES_NS} actesv1_1.xsd"
DECLARATION = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n'


def q(name: str) -> str:
    """Qualified name in the ACTES namespace (elements and attributes alike)."""
    return f"{{{ACTES_NS}}}{name}"


def root(tag: str, **attrs: str) -> Any:
    """A message root with the usual namespace declarations and schemaLocation."""
    el = etree.Element(q(tag), nsmap=NSMAP)
    el.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    for k, v in attrs.items():
        el.set(_attr(k), v)
    return el


def _attr(name: str) -> str:
    return f"{{{INSEE_NS}}}SIREN" if name == "SIREN" else q(name)


def sub(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    """Append an ACTES child element."""
    el = etree.SubElement(parent, q(tag))
    for k, v in attrs.items():
        el.set(_attr(k), v)
    if text is not None:
        el.text = text
    return el


def iso(day: dt.date) -> str:
    """xsd:date."""
    return day.isoformat()


def serialize(el: Any) -> bytes:
    """ISO-8859-1 with declaration; characters outside Latin-1 become character references."""
    body: bytes = etree.tostring(el, xml_declaration=False, encoding="ISO-8859-1", pretty_print=True)
    return DECLARATION + body


def fichier(parent: Any, tag: str, f: FichierSigne) -> Any:
    """A ``FichierSigne`` element."""
    el = sub(parent, tag)
    sub(el, "NomFichier", f.nom_fichier)
    if f.signature is not None:
        sub(el, "Signature", f.signature)
    return el


def donnees_acte(el: Any, data: ActeData) -> Any:
    """Fill ``el`` (Acte or ActeRecu) with a ``DonneesActe``."""
    el.set(q("Date"), iso(data.date))
    el.set(q("NumeroInterne"), data.numero_interne)
    el.set(q("CodeNatureActe"), str(data.code_nature))
    for level, code in enumerate(data.matieres, start=1):
        if code is not None:
            sub(el, f"CodeMatiere{level}", CodeMatiere=str(code))
    sub(el, "Objet", data.objet)
    if data.precedent_id_acte:
        sub(el, "PrecedentIdentifiantActe", IDActe=data.precedent_id_acte)
    sub(el, "ClassificationDateVersion", iso(data.classification_date))
    fichier(el, "Document", data.document)
    annexes = sub(el, "Annexes", Nombre=str(len(data.annexes)))
    for a in data.annexes:
        fichier(annexes, "Annexe", a)
    papier = sub(el, "DocumentPapier")
    if data.document_papier is None:
        papier.set(f"{{{XSI_NS}}}nil", "true")
    else:
        papier.text = data.document_papier
    return el


def referent(parent: Any, r: Referent | None) -> None:
    """The optional ``Referent`` block (omitted when empty)."""
    if r is None or not (r.nom or r.telephone or r.email):
        return
    el = sub(parent, "Referent")
    if r.nom:
        sub(el, "Nom", r.nom)
    if r.telephone:
        sub(el, "Telephone", r.telephone)
    if r.email:
        sub(el, "Email", r.email)


def donnees_enveloppe(el: Any, env: EnvelopeData) -> Any:
    """Fill ``el`` (EnveloppeCLMISILL or EnveloppeRecue) with a ``DonneesEnveloppeCLMISILL``."""
    emetteur = sub(el, "Emetteur")
    c = env.emetteur
    sub(
        emetteur,
        "IDCL",
        SIREN=c.siren,
        Departement=c.departement,
        Arrondissement=c.arrondissement,
        Nature=c.nature,
    )
    referent(emetteur, env.referent)
    adresses = sub(el, "AdressesRetour")
    for email in env.adresses_retour:
        sub(adresses, "Email", email)
    formulaires = sub(el, "FormulairesEnvoyes")
    for f in env.formulaires:
        fichier(formulaires, "Formulaire", f)
    return el
