"""The PES signature profile: sign a PES_Aller as HELIOS receives it, and verify one.

**Where signatures go.** By default each ``Bordereau`` gets its own enveloped XAdES
signature as its last child (*signature unitaire*); a bordereau without ``Id`` is given
one first (the XSD says the Id is "obligatoire si … signature unitaire des bordereaux").
``mode="global"`` signs the whole ``PES_Aller`` instead (root ``Id`` added if missing); a
file without any bordereau (PJ only) is signed globally too.

**InfoDematerialisee.** The DGFiP rule is "InfoDematerialisee=1 iff signed": the value 1
without a signature, or 0 with one, gets the flux rejected. So signing sets
``InfoDematerialisee V="1"`` in the header of every domain (dépense, recette) whose
bordereaux it signs (all domains for a global signature), inserting the element after
``IdVer`` when absent. This is done *before* any digest, so a global signature covers it.

**Bytes.** The file is parsed once, each bordereau is canonicalised once, and the result
is written in the input's encoding (ISO-8859-1 in practice) behind the input's own XML
declaration.

**Verification** (:func:`verify_pes`) reports every ``ds:Signature`` of the file, wherever
it is, then checks the PES rules on top of :mod:`demat.signing.verify`: a signature sits
in a bordereau (at its legal place) or on the root, every bordereau is covered by a valid
signature ("NOT_SIGNED_CONTENT" otherwise, as STELA calls it), nothing else sits in a domain
block beside its header and its bordereaux (a ``Bordereau`` of another namespace, a note: no
bordereau signature covers them, also "NOT_SIGNED_CONTENT"), no bordereau hides elsewhere, and
the policy is Hélios's.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from demat.errors import SignatureError
from demat.pes.inspect import DEFAULT_MAX_PJ_TEXT
from demat.pes.namespaces import PES_ALLER_NS
from demat.signing.keys import Signer
from demat.signing.trust import TrustStore
from demat.signing.verify import (
    IdIndex,
    Issue,
    SignatureReport,
    VerifyOptions,
    VerifyReport,
    node_path,
    verify_signature,
)
from demat.signing.xades import (
    HELIOS_POLICY,
    ProductionPlace,
    SignaturePolicy,
    XadesOptions,
    XadesSigner,
    XadesVersion,
)
from demat.signing.xmldsig import ds
from demat.xml.safe import DEFAULT_LIMITS, Source, XmlLimits, local_name

#: Domain element → its header (where IdVer and InfoDematerialisee live).
DOMAINS = {"PES_DepenseAller": "EnTeteDepense", "PES_RecetteAller": "EnTeteRecette"}
#: The Hélios policy identifiers known, and the hash each is published with.
HELIOS_POLICIES = {
    "urn:oid:1.2.250.1.131.1.5.18.21.1.7": "roF9+cfRHNPtVJolhdqfIqGMVuUXX8aR4rpiquf0u5E=",
    "urn:oid:1.2.250.1.131.1.5.18.21.1.4": "Jkdb+aba0Hz6+ZPKmKNhPByzQ+Q=",
}
_OBSOLETE_POLICY = "urn:oid:1.2.250.1.131.1.5.18.21.1.4"

#: Where signatures go: one per bordereau, or one on the whole PES_Aller.
SignMode = Literal["bordereau", "global"]

#: Codes that mean a signature does not really cover the element that holds it.
_WRAPPING = {
    "REFERENCE_NOT_ENVELOPED",
    "DUPLICATE_ID",
    "REFERENCE_NOT_FOUND",
    "SIGNED_PROPERTIES_FOREIGN",
    "NO_SIGNED_CONTENT",
    "UNSUPPORTED_URI",
}


@dataclass(frozen=True)
class PesSignOptions:
    """How to sign a PES: placement, XAdES properties, and the InfoDematerialisee update."""

    mode: SignMode = "bordereau"
    xades: XadesOptions = field(default_factory=XadesOptions)
    set_info_dematerialisee: bool = True


def pes_sign_options(
    *,
    mode: SignMode = "bordereau",
    xades_version: XadesVersion = "1.2.2",
    claimed_role: str | None = None,
    city: str | None = None,
    postal_code: str | None = None,
    country: str | None = None,
    policy: SignaturePolicy | None = HELIOS_POLICY,
    signing_time: dt.datetime | None = None,
    include_chain: bool = False,
) -> PesSignOptions:
    """How to sign a PES; the ClaimedRole is ``Ordonnateur`` unless ``claimed_role`` says otherwise.

    :func:`demat.gateway.identity.pes_sign_options_for` fills these from a profile's signer.
    """
    role = claimed_role or "Ordonnateur"
    place = ProductionPlace(city=city, postal_code=postal_code, country=country)
    xades = XadesOptions(
        xades_version=xades_version,
        policy=policy,
        claimed_role=role,
        place=place,
        signing_time=signing_time,
        include_chain=include_chain,
    )
    return PesSignOptions(mode=mode, xades=xades)


# --- signing ---------------------------------------------------------------------------------


def _value(el: Any, path: str) -> str:
    found = el.find(path)
    return (found.get("V") or "") if found is not None else ""


_NOT_NCNAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _fresh_id(base: str, taken: set[str]) -> str:
    base = _NOT_NCNAME.sub("_", base)[:60] or "ID"
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"ID_{base}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def _signature_id(target_id: str, taken: set[str]) -> str:
    n = 1
    while any(f"{target_id}_SIG_{n}{s}" in taken for s in ("", "_SP", "_SV")):
        n += 1
    sig_id = f"{target_id}_SIG_{n}"
    taken.update({sig_id, f"{sig_id}_SP", f"{sig_id}_SV"})
    return sig_id


def _set_info_dematerialisee(domain: Any) -> None:
    header = domain.find(DOMAINS[local_name(domain)])
    if header is None:
        raise SignatureError(
            f"{node_path(domain)}: en-tête {DOMAINS[local_name(domain)]} absent", code="PES_STRUCTURE"
        )
    _set_header_flag(header)


def _set_header_flag(header: Any) -> None:
    """``InfoDematerialisee V="1"`` in a domain header, inserted after ``IdVer`` when absent."""
    info = header.find("InfoDematerialisee")
    if info is None:
        info = etree.Element("InfoDematerialisee")
        id_ver = header.find("IdVer")
        index = header.index(id_ver) + 1 if id_ver is not None else 0
        # Keep the file's indentation: the new element takes IdVer's place in the layout.
        if id_ver is not None:
            info.tail, id_ver.tail = id_ver.tail, header.text
        else:
            info.tail = header.text
        header.insert(index, info)
    info.set("V", "1")


def _give_bordereau_id(b: Any, taken: set[str]) -> None:
    """Give a bordereau without ``Id`` a fresh one (``BORDD2024_01_42``), not in ``taken``."""
    if not b.get("Id"):
        prefix = "BORDD" if local_name(b.getparent()) == "PES_DepenseAller" else "BORDR"
        bloc = f"{_value(b, 'BlocBordereau/Exer')}_{_value(b, 'BlocBordereau/TypBord')}"
        b.set("Id", _fresh_id(f"{prefix}{bloc}_{_value(b, 'BlocBordereau/IdBord')}", taken))


def _give_root_id(root: Any, taken: set[str]) -> None:
    """Give a PES_Aller without ``Id`` a fresh one built on its NomFic, not in ``taken``."""
    if not root.get("Id"):
        root.set("Id", _fresh_id(f"PES_{_value(root, 'Enveloppe/Parametres/NomFic')}", taken))


def _check_pes_root(root: Any, name: str | None) -> None:
    if root.tag != f"{{{PES_ALLER_NS}}}PES_Aller":
        raise SignatureError(
            f"ce n'est pas un PES_Aller (racine {root.tag})", file=name, code="NOT_PES_ALLER"
        )


def _declaration(data: bytes) -> bytes:
    """The input's XML declaration and the whitespace after it, byte for byte (empty if none)."""
    m = re.match(rb"(\xef\xbb\xbf)?<\?xml[^>]*\?>[ \t\r\n]*", data)
    return m.group(0) if m else b""


def _serialize(tree: Any, original: bytes) -> bytes:
    encoding = tree.docinfo.encoding or "UTF-8"
    body: bytes = etree.tostring(tree, encoding=encoding, xml_declaration=False)
    return _declaration(original) + body


def sign_pes_tree(
    tree: Any, signer: Signer, options: PesSignOptions | None = None, *, name: str | None = None
) -> list[Any]:
    """Sign a parsed PES_Aller in place; return the ``ds:Signature`` elements added."""
    options = options or PesSignOptions()
    root = tree.getroot()
    _check_pes_root(root, name)
    if root.find(ds("Signature")) is not None:
        raise SignatureError("le fichier porte déjà une signature globale", file=name, code="ALREADY_SIGNED")
    domains = [
        d for d in root if isinstance(d.tag, str) and local_name(d) in DOMAINS and d.getparent() is root
    ]
    bordereaux = [b for d in domains for b in d.findall("Bordereau")]
    mode = options.mode if bordereaux else "global"
    all_ids = [str(v) for v in root.xpath("//@Id")]
    taken = set(all_ids)
    if len(taken) != len(all_ids):
        # A signature on an Id that two elements carry could be moved from one to the other.
        dup = sorted(i for i, k in Counter(all_ids).items() if k > 1)[:5]
        raise SignatureError(
            f"Id en double dans le fichier: {', '.join(dup)}", file=name, code="DUPLICATE_ID"
        )
    signing = XadesSigner(signer, options.xades)

    if mode == "bordereau":
        for b in bordereaux:
            if b.find(ds("Signature")) is not None:
                raise SignatureError(
                    "bordereau déjà signé", file=name, path=node_path(b), code="ALREADY_SIGNED"
                )
        for b in bordereaux:
            _give_bordereau_id(b, taken)
        if options.set_info_dematerialisee:
            for d in domains:
                if d.find("Bordereau") is not None:
                    _set_info_dematerialisee(d)
        return [signing.sign(b, signature_id=_signature_id(b.get("Id"), taken)) for b in bordereaux]

    _give_root_id(root, taken)
    if options.set_info_dematerialisee:
        for d in domains:
            _set_info_dematerialisee(d)
    return [signing.sign(root, signature_id=_signature_id(root.get("Id"), taken))]


def sign_pes(
    xml: bytes, signer: Signer, *, options: PesSignOptions | None = None, name: str | None = None
) -> bytes:
    """Sign a PES_Aller given as bytes; return the signed document's bytes (same encoding).

    Bordereau by bordereau while the document streams (:mod:`demat.pes.sign_stream`): beside
    the input and the output, memory is that of one bordereau and one PJ.
    """
    from demat.pes.sign_stream import sign_bytes

    return sign_bytes(xml, signer, options, name=name)


def sign_pes_file(
    source: Path,
    destination: Path,
    signer: Signer,
    *,
    options: PesSignOptions | None = None,
    limits: XmlLimits = DEFAULT_LIMITS,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> Path:
    """Sign the PES at ``source`` into ``destination`` (written atomically); return ``destination``.

    Streams from file to file in bounded memory (:mod:`demat.pes.sign_stream`); a file bigger
    than ``limits.max_bytes`` is refused before it is read, a PJ whose base64 passes
    ``max_pj_text`` as soon as it does.
    """
    from demat.pes.sign_stream import sign_file

    return sign_file(source, destination, signer, options, limits=limits, max_pj_text=max_pj_text)


# --- verification ----------------------------------------------------------------------------


def _legal_bordereau(el: Any, root: Any) -> bool:
    parent = el.getparent()
    return parent is not None and local_name(parent) in DOMAINS and parent.getparent() is root


def _legal_holder(el: Any, root: Any) -> bool:
    """Where the PES XSD puts signatures: the root, a bordereau, or a PJ."""
    if el is root:
        return True
    if local_name(el) == "Bordereau":
        return _legal_bordereau(el, root)
    parent = el.getparent()
    return (
        local_name(el) == "PJ"
        and parent is not None
        and local_name(parent) == "PES_PJ"
        and parent.getparent() is root
    )


def _unsignable_in_domains(root: Any) -> list[Any]:
    """Children of the domain blocks that are neither the domain's header nor a ``Bordereau``
    (unqualified, as the PES XSD writes it): a bordereau signature never covers them, so
    anything may be slipped in there (another namespace's ``Bordereau``, a note…)."""
    found = []
    for domain in root:
        header = DOMAINS.get(domain.tag) if isinstance(domain.tag, str) else None
        if header is None:
            continue
        allowed = {header, "Bordereau", ds("Signature")}  # a stray signature is reported as misplaced
        found += [c for c in domain if isinstance(c.tag, str) and c.tag not in allowed]
    return found


def _describe(el: Any) -> str:
    qname = etree.QName(el)
    where = f" de l'espace de noms {qname.namespace}" if qname.namespace else ""
    return f"{qname.localname}{where} ({node_path(el)}, ligne {el.sourceline})"


def _covers(report: SignatureReport) -> bool:
    return (
        report.crypto_valid
        and report.target is not None
        and not any(e.code in _WRAPPING for e in report.errors)
    )


def _policy_checks(report: SignatureReport, sig: Any) -> None:
    if report.policy_id is None:
        return
    if report.policy_id not in HELIOS_POLICIES:
        report.warn("POLICY_UNKNOWN", f"politique {report.policy_id} inconnue (attendue: politique Hélios)")
        return
    if report.policy_id == _OBSOLETE_POLICY:
        report.warn("POLICY_OBSOLETE", "politique de signature Hélios ancienne (…21.1.4)")
    hashes = [
        el.text.strip()
        for el in sig.iter()
        if isinstance(el.tag, str)
        and local_name(el) == "DigestValue"
        and el.text
        and local_name(el.getparent()) == "SigPolicyHash"
    ]
    if hashes and hashes[0] != HELIOS_POLICIES[report.policy_id]:
        report.warn(
            "POLICY_HASH_UNEXPECTED", f"empreinte de la politique {hashes[0]} différente de celle publiée"
        )


def verify_pes_tree(
    tree: Any,
    *,
    name: str | None = None,
    trust: TrustStore | None = None,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    require_non_repudiation: bool = False,
    verified: dict[Any, SignatureReport] | None = None,
) -> VerifyReport:
    """Verify every signature of a parsed PES_Aller; see :func:`verify_pes`.

    ``verified`` holds the reports of signatures already verified (with their policy checks)
    while the document streamed by (:mod:`demat.pes.sign_stream`): ``tree`` is then the
    skeleton of the document, and those signatures are only placed, not verified again.
    """
    root = tree.getroot()
    result = VerifyReport(file=name)
    if root.tag != f"{{{PES_ALLER_NS}}}PES_Aller":
        result.errors.append(Issue("NOT_PES_ALLER", f"racine {root.tag}: ce n'est pas un PES_Aller"))
        return result
    ids = IdIndex(root)
    for value, elements in ids.duplicates().items():
        paths = ", ".join(node_path(e) for e in elements[:4])
        result.errors.append(
            Issue("DUPLICATE_ID", f"Id {value!r} porté par {len(elements)} éléments ({paths})")
        )
    options = VerifyOptions(trust=trust, at=at, now=now, require_non_repudiation=require_non_repudiation)

    covered: set[Any] = set()
    for sig in root.iter(ds("Signature")):
        report = verified.get(sig) if verified is not None else None
        if report is None:
            report = verify_signature(sig, ids, options)
            _policy_checks(report, sig)
        holder = sig.getparent()
        if not _legal_holder(holder, root):
            report.error("SIGNATURE_MISPLACED", f"signature placée dans {node_path(holder)}")
        if _covers(report) and not any(e.code == "SIGNATURE_MISPLACED" for e in report.errors):
            covered.add(holder)
        result.signatures.append(report)

    bordereaux = [b for b in root.iter("Bordereau")]
    for b in bordereaux:
        if not _legal_bordereau(b, root):
            result.errors.append(Issue("BORDEREAU_MISPLACED", f"bordereau hors de sa place: {node_path(b)}"))
    if not result.signatures:
        result.errors.append(Issue("NO_SIGNATURE", "le fichier n'est pas signé"))
    elif root not in covered:
        for b in bordereaux:
            if _legal_bordereau(b, root) and b not in covered:
                result.errors.append(
                    Issue(
                        "NOT_SIGNED_CONTENT",
                        f"bordereau {b.get('Id') or ''} ({node_path(b)}) "
                        "non couvert par une signature valide",
                    )
                )
        for el in _unsignable_in_domains(root):
            result.errors.append(
                Issue("NOT_SIGNED_CONTENT", f"élément {_describe(el)} couvert par aucune signature")
            )

    for domain in (d for d in root if isinstance(d.tag, str) and local_name(d) in DOMAINS):
        header = domain.find(DOMAINS[local_name(domain)])
        info = header.find("InfoDematerialisee") if header is not None else None
        flag = info.get("V") in ("1", "true") if info is not None else False
        signed = root in covered or any(b in covered for b in domain.findall("Bordereau"))
        if flag != signed:
            result.warnings.append(
                Issue(
                    "INFO_DEMAT_INCONSISTENT",
                    f"{node_path(domain)}: InfoDematerialisee={'1' if flag else '0'} alors que le domaine "
                    f"{'est' if signed else 'n’est pas'} signé (rejet Hélios)",
                )
            )
    result.valid = bool(result.signatures) and not result.errors and all(s.valid for s in result.signatures)
    return result


def verify_pes(
    source: Source,
    *,
    trust_dir: Path | None = None,
    trust: TrustStore | None = None,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    require_non_repudiation: bool = False,
    limits: XmlLimits = DEFAULT_LIMITS,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> VerifyReport:
    """Verify every signature of a PES_Aller (path, bytes or stream), in bounded memory.

    The file streams by once (twice when a signature covers an element too big to hold, and
    the way it asks to be digested was not foreseen): each signature is verified as soon as
    what it covers has gone by, the rest of the document is dropped as it goes
    (:mod:`demat.pes.sign_stream`); a small file is verified as one tree, with the same report.

    ``trust_dir`` (or a ready ``trust`` store) enables the chain check; without it
    ``chain_valid`` is None. ``at`` judges certificates at that time instead of each
    signature's SigningTime (e.g. a trusted reception time); ``now`` is only used to tell
    "expired since" apart.
    """
    from demat.pes.sign_stream import verify_source

    if trust is None and trust_dir is not None:
        trust = TrustStore.from_dir(trust_dir)
    name = os.fspath(source) if isinstance(source, str | os.PathLike) else None
    options = VerifyOptions(trust=trust, at=at, now=now, require_non_repudiation=require_non_repudiation)
    return verify_source(source, options=options, name=name, limits=limits, max_pj_text=max_pj_text)


__all__ = [
    "DOMAINS",
    "HELIOS_POLICIES",
    "PES_ALLER_NS",
    "PesSignOptions",
    "SignMode",
    "pes_sign_options",
    "sign_pes",
    "sign_pes_file",
    "sign_pes_tree",
    "verify_pes",
    "verify_pes_tree",
]
