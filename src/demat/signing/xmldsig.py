"""XML-DSig building blocks shared by signing and verification: names, algorithms, c14n, digests.

Canonicalisation is lxml's (libxml2's) C14N; hashing and RSA are ``cryptography``'s. Only the
algorithms PES signatures use (and their legacy SHA-1 forms) are known; anything else (XPath,
XSLT transforms, HMAC, DSA…) is refused by name rather than half supported.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from lxml import etree

from demat.errors import SignatureError

#: XML-DSig namespace.
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
#: XAdES 1.1.1 namespace.
XADES_111 = "http://uri.etsi.org/01903/v1.1.1#"
#: XAdES 1.2.2 namespace.
XADES_122 = "http://uri.etsi.org/01903/v1.2.2#"
#: XAdES 1.3.2 namespace.
XADES_132 = "http://uri.etsi.org/01903/v1.3.2#"
#: XAdES namespace → version label.
XADES_VERSIONS = {XADES_111: "1.1.1", XADES_122: "1.2.2", XADES_132: "1.3.2"}

#: Exclusive canonicalisation.
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
#: Exclusive canonicalisation, comments kept.
EXC_C14N_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
#: Inclusive canonicalisation (C14N 1.0).
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
#: Inclusive canonicalisation, comments kept.
C14N_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
#: The enveloped-signature transform.
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: Canonicalisation URI → (exclusive, with_comments).
C14N_METHODS = {
    EXC_C14N: (True, False),
    EXC_C14N_COMMENTS: (True, True),
    C14N: (False, False),
    C14N_COMMENTS: (False, True),
}

#: Digest SHA-1 (legacy).
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
#: Digest SHA-256.
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
#: Digest SHA-384.
SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
#: Digest SHA-512.
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
#: Digest URI → hashlib name.
DIGESTS = {SHA1: "sha1", SHA256: "sha256", SHA384: "sha384", SHA512: "sha512"}

#: Signature RSA with SHA-1 (legacy).
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#: Signature RSA with SHA-256.
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#: Signature RSA with SHA-384.
RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
#: Signature RSA with SHA-512.
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
#: Signature URI → hashlib name of its digest.
RSA_METHODS = {RSA_SHA1: "sha1", RSA_SHA256: "sha256", RSA_SHA384: "sha384", RSA_SHA512: "sha512"}

#: Algorithms accepted only for old signatures, with a warning.
LEGACY = {SHA1, RSA_SHA1}


def ds(tag: str) -> str:
    """Clark name of an XML-DSig element."""
    return f"{{{DS_NS}}}{tag}"


def c14n(
    element: Any,
    *,
    exclusive: bool = True,
    with_comments: bool = False,
    inclusive_prefixes: list[str] | None = None,
) -> bytes:
    """Canonical bytes of ``element``'s subtree, read in the context of its document.

    lxml canonicalises a sub-element as a document subset, so the namespaces it inherits
    from its ancestors are taken into account the way the XML-DSig rules require. What C14N
    refuses (a relative namespace URI) raises :class:`~demat.errors.SignatureError`
    ``C14N_FAILED``.
    """
    try:
        out: bytes = etree.tostring(
            element,
            method="c14n",
            exclusive=exclusive,
            with_comments=with_comments,
            inclusive_ns_prefixes=inclusive_prefixes or None,
        )
    except etree.C14NError as exc:  # libxml2 refuses e.g. a relative namespace URI
        raise SignatureError(
            f"canonicalisation C14N impossible ({exc}) : un espace de noms relatif ?", code="C14N_FAILED"
        ) from exc
    return out


def c14n_without(element: Any, signature: Any, **kwargs: Any) -> bytes:
    """C14N of ``element`` with ``signature`` (one of its descendants) left out: the enveloped transform.

    Only the Signature node and its subtree go: the text that follows it (its lxml ``tail``)
    stays in the node-set, so it is moved onto the previous node for the time of the c14n.
    """
    parent = signature.getparent()
    index = parent.index(signature)
    tail = signature.tail
    previous = signature.getprevious()
    saved = previous.tail if previous is not None else parent.text
    signature.tail = None
    parent.remove(signature)
    if tail:
        if previous is not None:
            previous.tail = (saved or "") + tail
        else:
            parent.text = (saved or "") + tail
    try:
        return c14n(element, **kwargs)
    finally:
        if previous is not None:
            previous.tail = saved
        else:
            parent.text = saved
        parent.insert(index, signature)
        signature.tail = tail


def digest(data: bytes, algorithm: str) -> bytes:
    """Raw digest of ``data`` with the XML-DSig digest ``algorithm`` URI."""
    return hashlib.new(DIGESTS[algorithm], data).digest()


def b64(data: bytes, *, wrap: int = 76) -> str:
    """Base64 wrapped at ``wrap`` columns (as the signing tools that Hélios sees write it)."""
    text = base64.b64encode(data).decode("ascii")
    if not wrap:
        return text
    return "\n".join(text[i : i + wrap] for i in range(0, len(text), wrap))


def b64decode(text: str | None) -> bytes:
    """Decode base64 that may contain whitespace; raise ValueError if it is not base64."""
    return base64.b64decode("".join((text or "").split()), validate=True)


__all__ = [
    "C14N",
    "C14N_COMMENTS",
    "C14N_METHODS",
    "DIGESTS",
    "DS_NS",
    "ENVELOPED",
    "EXC_C14N",
    "EXC_C14N_COMMENTS",
    "LEGACY",
    "RSA_METHODS",
    "RSA_SHA1",
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA1",
    "SHA256",
    "SHA384",
    "SHA512",
    "XADES_111",
    "XADES_122",
    "XADES_132",
    "XADES_VERSIONS",
    "b64",
    "b64decode",
    "c14n",
    "c14n_without",
    "digest",
    "ds",
]
