"""Fixtures of the TOTEM tests, and deterministic mutants of a small valid DocumentBudgetaire.

Each mutant is (name, bytes, expected verdict or None when only agreement matters). They are
built from the DM1 2022 sample of yatotem2scdl, trimmed to a few lines so that xmlschema stays
quick, by text substitution: every mutant is reproducible and readable in a failure message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from demat.xml.schemas import SchemaRegistry

SAMPLE = "totem/yatotem2scdl/DOCBUDG-21560046100085-056025-DM1-2022-05072022000000/totem.xml"
DS = "http://www.w3.org/2000/09/xmldsig#"

Mutant = tuple[str, bytes, bool | None]


def _sub(data: bytes, old: bytes, new: bytes, count: int = 1) -> bytes:
    assert old in data, old
    return data.replace(old, new, count)


def _attr(data: bytes, element: str, value: str) -> bytes:
    """Change the @V of the first ``element``."""
    pattern = re.compile(rb"(<" + element.encode() + rb' V=")[^"]*(")')
    assert pattern.search(data), element
    return pattern.sub(rb"\g<1>" + value.encode("latin-1") + rb"\g<2>", data, count=1)


def _delete(data: bytes, element: str) -> bytes:
    """Delete the first ``element`` (empty or with content)."""
    pattern = re.compile(
        rb"\s*<" + element.encode() + rb"\b(?:[^>]*/>|[^>]*>.*?</" + element.encode() + rb">)", re.S
    )
    assert pattern.search(data), element
    return pattern.sub(b"", data, count=1)


def _duplicate(data: bytes, element: str) -> bytes:
    pattern = re.compile(
        rb"<" + element.encode() + rb"\b(?:[^>]*/>|[^>]*>.*?</" + element.encode() + rb">)", re.S
    )
    m = pattern.search(data)
    assert m, element
    return data[: m.end()] + m.group(0) + data[m.end() :]


def _bloc(data: bytes, inner: str, attrs: str = "") -> bytes:
    m = re.search(rb"<BlocEditeur.*?</BlocEditeur>", data, re.S)
    assert m
    new = f'<BlocEditeur xmlns:x="urn:x"{attrs}>{inner}</BlocEditeur>'.encode()
    return data[: m.start()] + new + data[m.end() :]


def trimmed_sample(refdata: Path) -> bytes:
    """The DM1 sample cut down to 3 budget lines, 3 general informations, 1 annex entry."""
    tree = etree.parse(str(refdata / SAMPLE))
    ns = "{http://www.minefi.gouv.fr/cp/demat/docbudgetaire}"
    budget = tree.getroot().find(f"{ns}Budget")
    for line in budget.findall(f"{ns}LigneBudget")[3:]:
        budget.remove(line)
    infos = budget.find(f"{ns}InformationsGenerales")
    for info in list(infos)[3:]:
        infos.remove(info)
    annexes = budget.find(f"{ns}Annexes")
    for block in list(annexes)[1:]:
        annexes.remove(block)
    for entry in list(annexes[0])[1:]:
        annexes[0].remove(entry)
    data: bytes = etree.tostring(tree, xml_declaration=True, encoding="ISO-8859-1")
    return data


def cfu_signature(refdata: Path) -> bytes:
    """The first real signature of the CFU sample (XAdES 1.2.2), cut to two references."""
    cfu = etree.parse(str(refdata / "totem/yatotem2scdl/DOCBUDG-21560134500014-CFU-BP-2023/totem.xml"))
    sig = cfu.getroot().find(f".//{{{DS}}}Signature")
    signed_info = sig.find(f"{{{DS}}}SignedInfo")
    for ref in signed_info.findall(f"{{{DS}}}Reference")[2:]:
        signed_info.remove(ref)
    sig.tail = None
    data: bytes = etree.tostring(sig)
    return data


def mutants(refdata: Path) -> Iterator[Mutant]:
    """Every mutant, in a fixed order."""
    base = trimmed_sample(refdata)
    yield "original", base, True

    # -- deleted required / optional elements
    for element, ok in [
        ("VersionSchema", False),
        ("EnTeteDocBudgetaire", False),
        ("Budget", False),
        ("BlocEditeur", True),
        ("VersionOutil", True),
        ("Scellement", True),
        ("IdPost", False),
        ("IdColl", True),
        ("Departement", True),
        ("NatDec", False),
        ("Exer", False),
        ("BudgPrec", False),
        ("CodTypBud", False),
        ("Nomenclature", False),
        ("InformationsGenerales", False),
        ("LigneBudget", True),
        ("Nature", True),
    ]:
        yield f"delete {element}", _delete(base, element), ok

    # -- duplicated elements
    for element, ok in [
        ("VersionSchema", False),
        ("Scellement", False),
        ("VersionOutil", True),
        ("EnTeteDocBudgetaire", False),
        ("NatDec", False),
        ("Nature", False),
        ("MtSup", True),
        ("CodeEditeur", True),
    ]:
        yield f"duplicate {element}", _duplicate(base, element), ok

    # -- values
    for element, value, ok in [
        ("NatDec", "04", False),
        ("NatDec", "10", True),
        ("NatDec", " 02", False),
        ("Exer", "20x2", False),
        ("Exer", " 2022 ", True),
        ("Exer", "0000", True),
        ("Exer", "2022+14:30", False),
        ("Exer", "-2022", True),
        ("Exer", "12022", True),
        ("Exer", "2022Z", True),
        ("IdColl", "123", False),
        ("IdColl", "215600461", True),
        ("IdColl", "2156004610008A", False),
        ("IdColl", " 21560046100085", False),
        ("IdEtab", "2156004610008", False),
        ("DteStr", "2022-13-01", False),
        ("DteStr", "2022-02-29", False),
        ("DteStr", "2024-02-29", True),
        ("DteStr", "2022-07-05Z", True),
        ("DteStr", "2022-7-5", False),
        ("DteStr", " 2022-07-05 ", True),
        ("DteStr", "0000-02-29", True),
        ("DteStr", "1900-02-29", False),
        ("DteStr", "2000-02-29", True),
        ("CodBud", "ABC", False),
        ("CodBud", "0_", False),
        ("CodColl", "", True),
        ("CodInseeColl", "56 046", True),
        ("CodInseeColl", "560460000000", False),
        ("ProjetBudget", "yes", False),
        ("ProjetBudget", "1", True),
        ("ProjetBudget", "TRUE", False),
        ("NumDec", "12345678901", False),
        ("NumDec", "+0000000001", True),
        ("NumDec", "2147483648", False),
        ("Departement", "1234", False),
        ("Nomenclature", "", True),
        ("LibelleColl", "x" * 100, True),
        ("LibelleColl", "x" * 101, False),
        ("LibelleColl", "é" * 100, True),
        ("CodRD", "X", False),
        ("OpBudg", "T", True),
        ("Nature", "", False),
        ("Nature", "12a", False),
        ("ContNat", "0123456789012", False),
        ("MtPrev", "1.234", False),
        ("MtPrev", "123456789012.34", True),
        ("MtPrev", "1234567890123.4", True),
        ("MtPrev", "1234567890123.45", False),
        ("MtPrev", "-0.00", True),
        ("MtPrev", "+.5", True),
        ("MtPrev", "1.", True),
        ("MtPrev", "1e3", False),
        ("MtPrev", "NaN", False),
        ("MtPrev", "1.230", True),
        ("MtPrev", "00000000000000001.5", True),
        ("VersionSchema", "1.0+beta_2", True),
        ("VersionSchema", "1-0", False),
        ("DteDec", "", False),
    ]:
        yield f"value {element}={value!r}", _attr(base, element, value), ok

    # -- attributes
    yield "LigneBudget unknown attribute", _sub(base, b"<LigneBudget>", b'<LigneBudget foo="1">'), False
    yield (
        "LigneBudget calculated=true",
        _sub(base, b"<LigneBudget>", b'<LigneBudget calculated="true">'),
        True,
    )
    yield (
        "LigneBudget calculated=false",
        _sub(base, b"<LigneBudget>", b'<LigneBudget calculated="false">'),
        False,
    )
    yield "LigneBudget id", _sub(base, b"<LigneBudget>", b'<LigneBudget id="L1">'), True
    yield "LigneBudget id twice", _sub(base, b"<LigneBudget>", b'<LigneBudget id="L1">', 2), False
    yield "LigneBudget id not NCName", _sub(base, b"<LigneBudget>", b'<LigneBudget id="1L">'), False
    yield "MtSup without V", re.sub(rb'<MtSup V="[^"]*"', b"<MtSup", base, count=1), True
    yield "MtSup without Code", re.sub(rb'(<MtSup V="[^"]*") Code="[^"]*"', rb"\1", base, count=1), False
    yield "VersionOutil without outil", re.sub(rb'outil="[^"]*" ', b"", base, count=1), False
    yield (
        "VersionOutil outil too long",
        re.sub(rb'outil="[^"]*"', b'outil="' + b"o" * 31 + b'"', base, count=1),
        False,
    )
    yield "Scellement without date", re.sub(rb' date="[^"]*"', b"", base, count=1), False
    yield "Scellement date only", re.sub(rb' date="[^"]*"', b' date="2022-07-05"', base, count=1), False
    for when, ok in [
        ("2022-07-05T24:00:00", True),
        ("2022-07-05T24:00:01", False),
        (" 2022-07-05T12:00:00.5+02:00 ", True),
        ("0000-01-01T00:00:00", True),
        ("2022-07-05T12:00", False),
    ]:
        yield (
            f"Scellement date {when!r}",
            re.sub(rb' date="[^"]*"', f' date="{when}"'.encode(), base, count=1),
            ok,
        )
    yield "Scellement extra attribute", _sub(base, b"<Scellement ", b'<Scellement algo="x" '), False
    yield (
        "identifiant too long",
        _sub(base, b"<DocumentBudgetaire ", b'<DocumentBudgetaire identifiant="' + b"i" * 31 + b'" '),
        False,
    )
    yield (
        "identifiant ok",
        _sub(base, b"<DocumentBudgetaire ", b'<DocumentBudgetaire identifiant="2022-x" '),
        True,
    )
    yield "EnTeteBudget id", _sub(base, b"<EnTeteBudget>", b'<EnTeteBudget id="a b">'), True
    yield (
        "xsi:type on IdPost",
        _sub(
            base,
            b"<IdPost ",
            b'<IdPost xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true" ',
        ),
        False,
    )

    # -- content where none is allowed, order, unknown elements
    yield "text in IdPost", re.sub(rb'(<IdPost V="[^"]*")/>', rb"\1>x</IdPost>", base, count=1), False
    yield "spaces in IdPost", re.sub(rb'(<IdPost V="[^"]*")/>', rb"\1> </IdPost>", base, count=1), False
    yield (
        "comment in IdPost",
        re.sub(rb'(<IdPost V="[^"]*")/>', rb"\1><!-- c --></IdPost>", base, count=1),
        True,
    )
    yield "unknown element in BlocBudget", _sub(base, b"<BlocBudget>", b"<BlocBudget><Foo/>"), False
    yield (
        "Scellement after EnTete",
        _sub(
            _delete(base, "Scellement"),
            b"</EnTeteDocBudgetaire>",
            b'</EnTeteDocBudgetaire><Scellement md5="a" sha1="b" date="2022-07-05T12:00:00"/>',
        ),
        False,
    )
    yield (
        "VersionOutil after Scellement",
        _sub(base, b"<EnTeteDocBudgetaire>", b'<VersionOutil outil="x" version="1"/><EnTeteDocBudgetaire>'),
        False,
    )
    yield (
        "text in DocumentBudgetaire",
        _sub(base, b"<EnTeteDocBudgetaire>", b"texte<EnTeteDocBudgetaire>"),
        False,
    )
    yield (
        "wrong root namespace",
        _sub(base, b'xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"', b'xmlns="urn:autre"'),
        False,
    )
    prefixed = re.sub(rb"<(/?)(?=[A-Za-z_][\w.-]*[\s/>])", rb"<\1db:", base)
    yield (
        "prefixed document",
        _sub(
            prefixed,
            b'xmlns="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"',
            b'xmlns:db="http://www.minefi.gouv.fr/cp/demat/docbudgetaire"',
        ),
        True,
    )

    # -- open blocks: InformationsGenerales / Annexes (lax), DocumentRapport (anyType)
    yield (
        "Annexes free content",
        _sub(base, b"<Annexes>", b"<Annexes><DATA_X><X><Champ V='1'/></X></DATA_X>"),
        True,
    )
    yield "Annexes twice", _duplicate(base, "Annexes"), False
    yield "Annexes after Budget end", _sub(base, b"</Budget>", b"</Budget><Annexes/>"), False
    yield (
        "InformationsGenerales free",
        _sub(
            base,
            b"<InformationsGenerales>",
            b"<InformationsGenerales><Information Code='x' V='y'/><z:a xmlns:z='urn:z'/>",
        ),
        True,
    )
    yield (
        "InformationsGenerales nested DocumentBudgetaire",
        _sub(base, b"<InformationsGenerales>", b"<InformationsGenerales><DocumentBudgetaire/>"),
        False,
    )
    yield (
        "Annexes bad ds:KeyInfo",
        _sub(base, b"<Annexes>", f"<Annexes><ds:KeyInfo xmlns:ds='{DS}'/>".encode()),
        False,
    )
    yield (
        "Annexes good ds:KeyName",
        _sub(base, b"<Annexes>", f"<Annexes><ds:KeyName xmlns:ds='{DS}'>k</ds:KeyName>".encode()),
        True,
    )
    rapport = (
        b"</Budget><DocumentRapport xmlns='http://projets.admisource.gouv.fr/xemelios/namespaces#anomally'"
        b" a='1'><x/>t</DocumentRapport>"
    )
    yield "DocumentRapport anything", _sub(base, b"</Budget>", rapport), True

    # -- the PES signature slot at the end
    sig = (
        f"<ds:Signature xmlns:ds='{DS}' Id='S1'><ds:SignedInfo>"
        "<ds:CanonicalizationMethod Algorithm='http://www.w3.org/TR/2001/REC-xml-c14n-20010315'/>"
        "<ds:SignatureMethod Algorithm='http://www.w3.org/2000/09/xmldsig#rsa-sha1'/>"
        "<ds:Reference URI=''><ds:DigestMethod Algorithm='http://www.w3.org/2000/09/xmldsig#sha1'/>"
        "<ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>"
        "<ds:SignatureValue>AAAA</ds:SignatureValue>"
        "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "<ds:Object><Anything/></ds:Object></ds:Signature>"
    )
    end = b"</DocumentBudgetaire>"
    yield "signature", _sub(base, end, sig.encode() + end), True
    yield (
        "signature bad base64",
        _sub(base, end, sig.replace("<ds:SignatureValue>AAAA", "<ds:SignatureValue>A!A").encode() + end),
        False,
    )
    yield (
        "signature without SignedInfo",
        _sub(base, end, re.sub("<ds:SignedInfo>.*</ds:SignedInfo>", "", sig).encode() + end),
        False,
    )
    yield "signature twice", _sub(base, end, (sig + sig.replace("'S1'", "'S2'")).encode() + end), False
    yield (
        "signature duplicate Id",
        _sub(base, end, sig.replace("<ds:Object>", "<ds:Object Id='S1'>").encode() + end),
        False,
    )
    real = cfu_signature(refdata)
    yield "real CFU signature (XAdES 1.2.2)", _sub(base, end, real + end), True
    yield (
        "real CFU signature, bad Id",
        _sub(base, end, real.replace(b'Id="IDC_', b'Id="1IDC_', 1) + end),
        False,
    )
    xad = "http://uri.etsi.org/01903/v1.1.1#"
    qp = f"<xad:QualifyingProperties xmlns:xad='{xad}' Target='#S1'><xad:SignedProperties>"
    signed = (
        "<xad:SignedSignatureProperties><xad:SigningTime>2024-01-01T00:00:00Z</xad:SigningTime>"
        "<xad:SigningCertificate><xad:Cert><xad:CertDigest>"
        "<xad:DigestMethod Algorithm='http://www.w3.org/2000/09/xmldsig#sha1'/>"
        "<xad:DigestValue>AAAA</xad:DigestValue></xad:CertDigest><xad:IssuerSerial>"
        "<ds:X509IssuerName>CN=x</ds:X509IssuerName><ds:X509SerialNumber>1</ds:X509SerialNumber>"
        "</xad:IssuerSerial></xad:Cert></xad:SigningCertificate>"
        "<xad:SignaturePolicyIdentifier><xad:SignaturePolicyImplied/></xad:SignaturePolicyIdentifier>"
        "</xad:SignedSignatureProperties></xad:SignedProperties></xad:QualifyingProperties>"
    )
    with_xades = sig.replace("<Anything/>", qp + signed)
    yield "signature with XAdES 1.1.1", _sub(base, end, with_xades.encode() + end), True
    yield (
        "signature with XAdES 1.1.1, bad SigningTime",
        _sub(base, end, with_xades.replace("2024-01-01T00:00:00Z", "hier").encode() + end),
        False,
    )
    yield (
        "signature with XAdES 1.1.1, no Target",
        _sub(base, end, with_xades.replace(" Target='#S1'", "").encode() + end),
        False,
    )
    yield (
        "XAdES 1.1.1 in Annexes, no Target",
        _sub(base, b"<Annexes>", f"<Annexes><xad:QualifyingProperties xmlns:xad='{xad}'/>".encode()),
        False,
    )
    yield "signature before rapport", _sub(base, end, sig.encode() + rapport[9:] + end), False

    # -- BlocEditeur: where XSD 1.1 and the bundled schema + rule must agree
    for name, inner, attrs, ok in [
        ("empty", "", "", True),
        ("text only", "texte libre", "", True),
        ("CodeEditeur without V first", "<CodeEditeur/>", "", False),
        ("CodeEditeur too long", f'<CodeEditeur V="{"a" * 101}"/>', "", False),
        ("CodeEditeur with text", '<CodeEditeur V="x">t</CodeEditeur>', "", False),
        ("CodeEditeur with child", '<CodeEditeur V="x"><y/></CodeEditeur>', "", False),
        ("CodeEditeur extra attribute", '<CodeEditeur V="x" W="y"/>', "", False),
        ("CodeEditeur then anything", '<CodeEditeur V="x"/><CodeEditeur/><x:a/><Foo/>', "", True),
        ("foreign then CodeEditeur", '<x:a/><CodeEditeur V="x"/>', "", False),
        ("own element then CodeEditeur", '<Foo/><CodeEditeur V="x"/>', "", False),
        ("foreign only", "<x:a><x:b/></x:a><Foo/>", "", True),
        ("text then CodeEditeur", 'avant<CodeEditeur V="x"/>', "", True),
        ("comment then CodeEditeur", '<!-- c --><CodeEditeur V="x"/>', "", True),
        ("DocumentBudgetaire inside", "<DocumentBudgetaire/>", "", True),
        ("xml:lang", '<CodeEditeur V="x"/>', ' xml:lang="fr"', True),
        ("other attribute", '<CodeEditeur V="x"/>', ' foo="1"', False),
        ("CodeEditeur of another namespace", '<x:CodeEditeur/><CodeEditeur V="x"/>', "", False),
    ]:
        yield f"BlocEditeur {name}", _bloc(base, inner, attrs), ok


@pytest.fixture(scope="session")
def totem(refdata: Path) -> Path:
    """The TOTEM samples."""
    return refdata / "totem"


@pytest.fixture(scope="session")
def registry(refdata: Path) -> SchemaRegistry:
    """Bundled schema sets plus the official PES v5.17 set (holding SchemaDocBudg)."""
    return SchemaRegistry(official_dirs=[refdata / "pes" / "xsd"])


@pytest.fixture(scope="session")
def budget_mutants(refdata: Path) -> list[Mutant]:
    """All mutants, built once."""
    return list(mutants(refdata))
