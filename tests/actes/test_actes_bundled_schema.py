"""The project's own ACTES schema gives the official ``actesv1_1.xsd``'s verdict.

Checked on every real sample, on every message demat builds (both directions), and on
mutations that each break one rule of the official schema (or stay just inside it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from demat.actes import ActeDocument, ActesIdentity, PrefEmitter, ReplyKind, package_acte, package_reply
from demat.actes import prefecture as pref
from demat.actes.envelope import envelope_data
from demat.actes.package import package_annulation, package_demande_classification
from demat.actes.read import RetourClassificationMessage, read_message
from demat.xml.schemas import SchemaRegistry

from .conftest import PDF, make_acte

DAY = dt.date(2024, 5, 13)
ID = "006-210600730-20240507-DEL2024_012-DE"


@pytest.fixture(scope="module")
def both(actes_registry: SchemaRegistry) -> tuple[Any, Any]:
    bundled = actes_registry.find("actes", "actes")
    assert bundled.origin == "bundled"
    assert bundled.version == "1.1"
    return (
        actes_registry.schema("actes", "actes", origin="bundled"),
        actes_registry.schema("actes", "actes", origin="official"),
    )


def verdicts(both: tuple[Any, Any], data: bytes) -> tuple[bool, bool]:
    tree = etree.fromstring(data).getroottree()
    return bool(both[0].validate(tree)), bool(both[1].validate(tree))


def built_messages(identity: ActesIdentity, refdata: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    sent = package_acte(identity, make_acte(matieres="1.2.3.4.5", precedent_id_acte=ID), serial=1, today=DAY)
    out["acte"], out["envelope"] = sent.message, sent.envelope
    for kind in ReplyKind:
        docs = [ActeDocument(filename="r.pdf", typology="99_AU", content=PDF)] * kind.documents_expected[0]
        out[kind.value] = package_reply(identity, kind, ID, DAY, docs, serial=2, today=DAY).message
    out["annulation"] = package_annulation(identity, ID, serial=3, today=DAY).message
    out["classif"] = package_demande_classification(identity, serial=4, today=DAY, current=DAY).message
    out["classif-empty"] = package_demande_classification(identity, serial=5, today=DAY).message
    assert sent.acte_data is not None
    data = sent.acte_data
    out["aracte"] = pref.build_aracte(data, id_acte=ID, date_reception=DAY, classification_date_en_cours=DAY)
    out["anomalie"] = pref.build_anomalie_acte(data, date=DAY, detail="x", classification_date_en_cours=DAY)
    env = envelope_data(identity, [sent.message_name])
    out["anomalie-env"] = pref.build_anomalie_enveloppe(env, date=DAY, nature="100")
    out["ar-annulation"] = pref.build_ar_annulation(ID, date_reception=DAY)
    out["courrier"] = pref.build_courrier_simple(ID, date_courrier=DAY, document="c.pdf")
    out["dpc"] = pref.build_demande_piece_complementaire(
        ID, date_courrier=DAY, description="d", document="d.pdf"
    )
    out["lo"] = pref.build_lettre_observations(ID, date_courrier=DAY, motif="m", document="l.pdf")
    out["ta"] = pref.build_defere_ta(ID, date_depot=DAY, nature_illegalite="n")
    out["ar-pc"] = pref.build_ar_reponse("ARPieceComplementaire", ID, date_courrier=DAY, date_reception=DAY)
    out["sans-changement"] = pref.build_reponse_classification_sans_changement(DAY)
    out["misill"] = pref.build_enveloppe_misillcl(
        PrefEmitter(kind="IDPref", departement="974"), destinataire_siren="210600730", formulaires=["a.xml"]
    )
    retour = read_message((refdata / "actes/stela/exemple_codes_matieres_typologie.xml").read_bytes())
    assert isinstance(retour, RetourClassificationMessage)
    out["retour"] = pref.build_retour_classification(retour.classification)
    return out


def test_same_verdict_on_real_samples(both: tuple[Any, Any], refdata: Path) -> None:
    files = sorted((refdata / "actes").rglob("*.xml"))
    assert len(files) == 13
    seen = set()
    for f in files:
        b, o = verdicts(both, f.read_bytes())
        assert b == o, f.name
        seen.add(o)
    assert seen == {True, False}  # both verdicts are exercised


def test_same_verdict_on_what_demat_builds(
    both: tuple[Any, Any], identity: ActesIdentity, refdata: Path
) -> None:
    for name, data in built_messages(identity, refdata).items():
        assert verdicts(both, data) == (True, True), name


ARACTE = (
    '<a:ARActe xmlns:a="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" a:IDActe="{id}" a:DateReception="2024-05-13">'
    '<a:ActeRecu a:Date="2024-05-07" a:NumeroInterne="{num}" a:CodeNatureActe="{nat}">'
    '<a:CodeMatiere1 a:CodeMatiere="1"/><a:CodeMatiere2 a:CodeMatiere="2"/>{m3}'
    "<a:Objet>{objet}</a:Objet><a:ClassificationDateVersion>2024-01-01</a:ClassificationDateVersion>"
    "<a:Document><a:NomFichier>f.pdf</a:NomFichier>{sig}</a:Document>"
    '<a:Annexes a:Nombre="{nombre}">{annexes}</a:Annexes>{papier}</a:ActeRecu>'
    "<a:ClassificationDateVersionEnCours>2024-01-01</a:ClassificationDateVersionEnCours></a:ARActe>"
)
BASE = {
    "id": ID,
    "num": "DEL2024_012",
    "nat": "1",
    "m3": "",
    "objet": "o",
    "sig": "",
    "nombre": "0",
    "annexes": "",
    "papier": "<a:DocumentPapier>N</a:DocumentPapier>",
}
MUTATIONS: list[tuple[str, dict[str, str]]] = [
    ("base", {}),
    ("idacte 2A", {"id": "02A-210600730-20240507-X-DE"}),
    ("idacte pipe in class", {"id": "|2A-210600730-20240507-X-DE"}),
    ("idacte bad dept", {"id": "12A-210600730-20240507-X-DE"}),
    ("idacte lower type", {"id": "006-210600730-20240507-X-de"}),
    ("idacte accented upper type", {"id": "006-210600730-20240507-X-ÉA"}),
    ("idacte 16-char numero", {"id": "006-210600730-20240507-ABCDEFGHIJKLMNOP-DE"}),
    ("idacte dash in numero", {"id": "006-210600730-20240507-A-B-DE"}),
    ("numero 15", {"num": "A" * 15}),
    ("numero 16", {"num": "A" * 16}),
    ("nature text", {"nat": "DE"}),
    ("nature negative", {"nat": "-3"}),
    ("matiere 3", {"m3": '<a:CodeMatiere3 a:CodeMatiere="7"/>'}),
    ("matiere 3 non-integer", {"m3": '<a:CodeMatiere3 a:CodeMatiere="7.1"/>'}),
    ("matiere 4 without 3", {"m3": '<a:CodeMatiere4 a:CodeMatiere="7"/>'}),
    ("matiere 6", {"m3": '<a:CodeMatiere6 a:CodeMatiere="7"/>'}),
    ("objet 500", {"objet": "é" * 500}),
    ("objet 501", {"objet": "é" * 501}),
    ("signature any", {"sig": "<a:Signature><x>y</x></a:Signature>"}),
    ("annexes wrong count still valid", {"nombre": "3"}),
    ("annexes negative", {"nombre": "-1"}),
    ("annexe", {"annexes": "<a:Annexe><a:NomFichier>g.pdf</a:NomFichier></a:Annexe>"}),
    ("annexe without name", {"annexes": "<a:Annexe/>"}),
    ("papier nil", {"papier": '<a:DocumentPapier xsi:nil="true"/>'}),
    ("papier empty", {"papier": "<a:DocumentPapier/>"}),
    ("papier absent", {"papier": ""}),
    ("papier nil with text", {"papier": '<a:DocumentPapier xsi:nil="true">O</a:DocumentPapier>'}),
]


@pytest.mark.parametrize(("label", "change"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_same_verdict_on_aracte_mutations(both: tuple[Any, Any], label: str, change: dict[str, str]) -> None:
    data = ARACTE.format(**{**BASE, **change}).encode("utf-8")
    b, o = verdicts(both, data)
    assert b == o, label


ENV = (
    '<a:EnveloppeCLMISILL xmlns:a="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
    'xmlns:insee="http://xml.insee.fr/schema"><a:Emetteur>'
    '<a:IDCL insee:SIREN="{siren}" a:Departement="{dept}" a:Arrondissement="{arr}" a:Nature="{nat}"/>{ref}'
    "</a:Emetteur><a:AdressesRetour>{emails}</a:AdressesRetour>"
    "<a:FormulairesEnvoyes>{forms}</a:FormulairesEnvoyes></a:EnveloppeCLMISILL>"
)
ENV_BASE = {
    "siren": "210600730",
    "dept": "006",
    "arr": "2",
    "nat": "02",
    "ref": "",
    "emails": "<a:Email>a@b.fr</a:Email>",
    "forms": "<a:Formulaire><a:NomFichier>x.xml</a:NomFichier></a:Formulaire>",
}
ENV_MUTATIONS: list[tuple[str, dict[str, str]]] = [
    ("base", {}),
    ("siren 8", {"siren": "21060073"}),
    ("siren letters", {"siren": "21060073A"}),
    ("siren padded", {"siren": " 210600730 "}),
    ("dept 974", {"dept": "974"}),
    ("dept 2B", {"dept": "02B"}),
    ("dept 2 chars", {"dept": "06"}),
    ("dept 4 chars", {"dept": "0066"}),
    ("arr 10", {"arr": "10"}),
    ("nature 1 digit", {"nat": "2"}),
    ("referent empty", {"ref": "<a:Referent/>"}),
    ("referent order", {"ref": "<a:Referent><a:Email>a@b.fr</a:Email><a:Nom>n</a:Nom></a:Referent>"}),
    ("referent bad email", {"ref": "<a:Referent><a:Email>a@b</a:Email></a:Referent>"}),
    ("no email", {"emails": ""}),
    ("two emails", {"emails": "<a:Email>a@b.fr</a:Email><a:Email>c.d@e-f.example.com</a:Email>"}),
    ("email long tld", {"emails": "<a:Email>a@b.abcdefg</a:Email>"}),
    ("no formulaire", {"forms": ""}),
]


@pytest.mark.parametrize(("label", "change"), ENV_MUTATIONS, ids=[m[0] for m in ENV_MUTATIONS])
def test_same_verdict_on_envelope_mutations(
    both: tuple[Any, Any], label: str, change: dict[str, str]
) -> None:
    data = ENV.format(**{**ENV_BASE, **change}).encode("utf-8")
    b, o = verdicts(both, data)
    assert b == o, label


ANO_ENV_NATURES = ["001", "1", "005", "006", "100", "0100", "999", "abc"]


@pytest.mark.parametrize("nature", ANO_ENV_NATURES)
def test_same_verdict_on_anomalie_enveloppe_nature(
    both: tuple[Any, Any], identity: ActesIdentity, nature: str
) -> None:
    env = envelope_data(identity, ["x.xml"])
    data = pref.build_anomalie_enveloppe(env, date=DAY, nature="001").replace(
        b"<actes:Nature>001</actes:Nature>", f"<actes:Nature>{nature}</actes:Nature>".encode()
    )
    b, o = verdicts(both, data)
    assert b == o, nature


@pytest.mark.parametrize(
    "fragment",
    [
        b"<actes:Matiere2",  # a Matiere1 without Matiere2 (tested by renaming them away)
        b"<actes:TypePJNatureActe",
    ],
)
def test_same_verdict_on_classification_mutations(
    both: tuple[Any, Any], identity: ActesIdentity, refdata: Path, fragment: bytes
) -> None:
    retour = built_messages(identity, refdata)["retour"]
    tag = fragment[1:]
    broken = retour.replace(fragment, b"<actes:Other").replace(b"</" + tag, b"</actes:Other")
    assert broken != retour
    b, o = verdicts(both, broken)
    assert b == o
    assert o is False


def test_default_registry_finds_the_bundled_schema() -> None:
    registry = SchemaRegistry()
    s = registry.find("actes", "actes")
    assert (s.origin, s.version) == ("bundled", "1.1")
    msg = read_message(
        b'<actes:Annulation xmlns:actes="http://www.interieur.gouv.fr/ACTES#v1.1-20040216" '
        b'actes:IDActe="bad"/>',
        registry=registry,
    )
    assert msg.schema_checked
    assert [f.code for f in msg.findings] == ["ACTES_XSD"]
