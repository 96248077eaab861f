"""Sign a PES_Aller of any size in bounded memory: the signer behind :func:`demat.pes.sign.sign_pes_file`.

The file is walked once (:mod:`demat.xml.walk`). A file that fits in the walk's hold (a few
MB of source) arrives whole and is signed as a tree, exactly as before. A bigger one arrives in
pieces and is written as it goes: each complete bordereau is signed on its own subtree, then
serialised and dropped; a bordereau too big to hold is digested from its pieces
(:class:`demat.signing.stream.PieceDigest`) and its signature written after its last piece; the
PJ are copied through. Under a global signature the whole PES_Aller is digested from its pieces
the same way. Memory is that of one bordereau (or of ``hold`` bytes of it) and one PJ, whatever
the file's size; the bytes written are those the tree signer writes.

What a single pass cannot know in advance is settled afterwards, and the file signed again with
that knowledge (a second pass, only for such files): an ``Id`` the signer made up that the rest
of the file turns out to use, a PES with no bordereau in its first MB that has some later (it
was signed globally), a domain whose header came before any sign of a bordereau.
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from lxml import etree

from demat.errors import ProtocolError, SignatureError, XMLSecurityError
from demat.pes.encoding import declared_encoding
from demat.pes.inspect import DEFAULT_MAX_PJ_TEXT, pj_text_cap
from demat.pes.namespaces import PES_ALLER_NS
from demat.pes.sign import (
    DOMAINS,
    PesSignOptions,
    _declaration,
    _give_bordereau_id,
    _give_root_id,
    _policy_checks,
    _serialize,
    _set_header_flag,
    _signature_id,
    sign_pes_tree,
    verify_pes_tree,
)
from demat.signing.keys import Signer
from demat.signing.stream import PieceDigest
from demat.signing.trust import TrustStore
from demat.signing.verify import (
    IdIndex,
    Issue,
    SignatureReport,
    SignatureTarget,
    VerifyOptions,
    VerifyReport,
    node_path,
    verify_signature,
)
from demat.signing.xades import XadesSigner
from demat.signing.xmldsig import DS_NS, SHA1, SHA256, ds
from demat.xml.safe import DEFAULT_LIMITS, Source, XmlLimits, local_name
from demat.xml.walk import CHUNK, DEFAULT_HOLD, walk
from demat.xml.writer import PieceWriter

#: Clark name of the PES_Aller root.
ROOT = f"{{{PES_ALLER_NS}}}PES_Aller"
_HEADERS = set(DOMAINS.values())
_IDS = etree.XPath("descendant-or-self::*/@Id")
#: Pieces a signing walk takes at most: a real PES comes as a few per bordereau, PJ or pièce (a
#: 500 MB one, some 300,000); millions of tiny elements cost seconds each 250,000 in Python.
MAX_PIECES = 2_000_000
#: Elements signing needs whole: the domain headers (InfoDematerialisee is set in them) and
#: signatures. Each is a few hundred bytes in a real PES.
KEEP_WHOLE = frozenset({*_HEADERS, ds("Signature")})


@dataclass
class _Knowledge:
    """What a first pass learnt that a second one needs from the start."""

    taken: set[str] = field(default_factory=set)
    mode: str | None = None  # forced "bordereau" or "global"
    flagged_domains: set[int] | None = None  # indices of domains whose header gets the flag
    #: Verification: for each streamed holder (by place), how each of its signatures (by
    #: index among the holder's children) digests it.
    recipes: dict[tuple[int, ...], list[tuple[Any, int]]] = field(default_factory=dict)


class _Retry(Exception):
    """The pass made a guess the rest of the file contradicts; sign again knowing ``what``."""

    def __init__(self, what: _Knowledge) -> None:
        super().__init__("second pass")
        self.what = what


class _Signer:
    """The walk handler: signs and writes, piece by piece."""

    def __init__(
        self,
        out: IO[bytes],
        head: bytes,
        signer: Signer,
        options: PesSignOptions,
        name: str | None,
        known: _Knowledge,
    ) -> None:
        self.out = out
        self.head = head
        self.signer = signer
        self.options = options
        self.name = name
        self.known = known
        self.xades = XadesSigner(signer, options.xades)
        self.taken = set(known.taken)
        self.census: Counter[str] = Counter()
        self.made: set[str] = set()  # Ids this pass made up
        self.writer: PieceWriter | None = None
        self.mode = "bordereau"
        self.depth = 0
        self.digests: list[tuple[int, PieceDigest]] = []  # (depth opened at, digest)
        self.domain_index = -1
        self.domain_flagged: dict[int, bool] = {}
        self.domain_bordereaux: set[int] = set()
        self.in_domain = False
        self.path: list[str] = []  # local names of the opened elements
        self.root_mismatch = ""  # what the root was, when it is not a PES_Aller
        self.pieces = 0

    # -- the small file: a tree, as before ----------------------------------------------------

    def whole(self, tree: Any) -> None:
        sign_pes_tree(tree, self.signer, self.options, name=self.name)
        self.out.write(_serialize(tree, self.head))

    # -- a big one, in pieces ----------------------------------------------------------------

    def _take(self, ident: str) -> None:
        self.census[ident] += 1
        self.taken.add(ident)

    def _give_id(self, elem: Any, root: bool = False) -> None:
        if elem.get("Id") is None:
            (_give_root_id if root else _give_bordereau_id)(elem, self.taken)
            self.made.add(elem.get("Id"))

    def _signature_id(self, target: Any) -> str:
        sig_id = _signature_id(target.get("Id"), self.taken)
        self.made.update({sig_id, f"{sig_id}_SP", f"{sig_id}_SV"})
        return sig_id

    def open(self, elem: Any) -> None:
        depth = self.depth
        self.depth += 1
        self.path.append(local_name(elem))
        if elem.get("Id") is not None:
            self._take(elem.get("Id"))
        if depth == 0:
            self._open_root(elem)
        elif depth == 1 and local_name(elem) in DOMAINS:
            self.domain_index += 1
            self.in_domain = True
        elif depth == 2 and self.in_domain and local_name(elem) == "Bordereau":
            self.domain_bordereaux.add(self.domain_index)
            if self.mode == "bordereau":
                self._give_id(elem)
                self.digests.append((depth, PieceDigest([SHA256])))
        for _, digest in self.digests:
            digest.open(elem)
        assert self.writer is not None
        self.writer.open(elem)

    def _open_root(self, root: Any) -> None:
        if root.tag != ROOT:
            raise SignatureError(
                f"ce n'est pas un PES_Aller (racine {root.tag})", file=self.name, code="NOT_PES_ALLER"
            )
        if self.known.mode is not None:
            self.mode = self.known.mode
        elif self.options.mode == "global" or root.find("*/Bordereau") is None:
            self.mode = "global"
        if self.mode == "global":
            self._give_id(root, root=True)
            self.digests.append((0, PieceDigest([SHA256])))
        encoding = declared_encoding(self.head) or "UTF-8"
        self.writer = PieceWriter(self.out, encoding)
        self.out.write(_declaration(self.head))
        self.writer.prolog(root)

    def text(self, text: str) -> None:
        for _, digest in self.digests:
            digest.text(text)
        assert self.writer is not None
        self.writer.text(text)

    def piece(self, node: Any) -> None:
        depth = self.depth  # the piece's own depth (its parent is at depth - 1)
        self.pieces += 1
        if self.pieces > MAX_PIECES:
            raise SignatureError(
                f"document refusé : plus de {MAX_PIECES} éléments hors des bordereaux à signer un à un",
                file=self.name,
                code="PES_TOO_MANY_ELEMENTS",
            )
        if isinstance(node.tag, str):
            if len(node):
                for ident in _IDS(node):
                    self._take(str(ident))
            elif node.get("Id") is not None:
                self._take(node.get("Id"))
            self._sign_in(node, depth)
        for _, digest in self.digests:
            digest.piece(node)
        assert self.writer is not None
        self.writer.piece(node)

    def _sign_in(self, node: Any, depth: int) -> None:
        """Sign what a complete piece holds, and set the InfoDematerialisee it holds."""
        tag = local_name(node)
        if depth == 1 and node.tag == ds("Signature"):
            raise SignatureError(
                "le fichier porte déjà une signature globale", file=self.name, code="ALREADY_SIGNED"
            )
        in_bordereau = self.in_domain and self.path[-1] == "Bordereau"
        if depth == 3 and in_bordereau and self.mode == "bordereau" and node.tag == ds("Signature"):
            raise SignatureError("bordereau déjà signé", file=self.name, code="ALREADY_SIGNED")
        if depth == 1 and tag in DOMAINS:
            self.domain_index += 1
            bordereaux = node.findall("Bordereau")
            if bordereaux:
                self.domain_bordereaux.add(self.domain_index)
            header = node.find(DOMAINS[tag])
            if (
                header is None
                and (bordereaux or self.mode == "global")
                and self.options.set_info_dematerialisee
            ):
                raise SignatureError(
                    f"{node_path(node)}: en-tête {DOMAINS[tag]} absent", file=self.name, code="PES_STRUCTURE"
                )
            if header is not None:
                self._flag(header, bool(bordereaux))
            if self.mode == "bordereau":
                for b in bordereaux:
                    self._sign_whole(b)
        elif depth == 2 and self.in_domain and tag in _HEADERS:
            following = any(local_name(s) == "Bordereau" for s in node.itersiblings())
            self._flag(node, following)
        elif depth == 2 and self.in_domain and tag == "Bordereau":
            self.domain_bordereaux.add(self.domain_index)
            if self.mode == "bordereau":
                self._sign_whole(node)

    def _flag(self, header: Any, has_bordereaux: bool) -> None:
        if self.known.flagged_domains is not None:
            flag = self.domain_index in self.known.flagged_domains
        else:
            flag = self.mode == "global" or has_bordereaux
        self.domain_flagged[self.domain_index] = flag
        if flag and self.options.set_info_dematerialisee:
            _set_header_flag(header)

    def _sign_whole(self, b: Any) -> None:
        if b.find(ds("Signature")) is not None:
            raise SignatureError(
                "bordereau déjà signé", file=self.name, path=node_path(b), code="ALREADY_SIGNED"
            )
        self._give_id(b)
        self.xades.sign(b, signature_id=self._signature_id(b))

    def close(self, elem: Any) -> None:
        self.depth -= 1
        depth = self.depth
        assert self.writer is not None
        self.path.pop()
        if self.digests and self.digests[-1][0] == depth:
            _, digest = self.digests.pop()
            digest.close(elem)
            sig = self.xades.sign(
                elem, signature_id=self._signature_id(elem), content_digest=digest.digests()[SHA256]
            )
            for _, outer in self.digests:
                outer.piece(sig)
            self.writer.piece(sig)
        for _, digest in self.digests:
            digest.close(elem)
        self.writer.close(elem)
        if depth == 1 and self.in_domain and local_name(elem) in DOMAINS:
            self.in_domain = False
            wanted = self.mode == "global" or self.domain_index in self.domain_bordereaux
            if (
                wanted
                and self.domain_index not in self.domain_flagged
                and self.options.set_info_dematerialisee
            ):
                raise SignatureError(
                    f"en-tête {DOMAINS[local_name(elem)]} absent", file=self.name, code="PES_STRUCTURE"
                )
        if depth == 0:
            self.writer.epilog(elem)

    def settle(self) -> None:
        """After the walk: refuse duplicates, or ask for a second pass if a guess was wrong."""
        dup = sorted(i for i, k in self.census.items() if k > 1)[:5]
        if dup:
            raise SignatureError(
                f"Id en double dans le fichier: {', '.join(dup)}", file=self.name, code="DUPLICATE_ID"
            )
        if self.writer is None:
            return  # signed whole
        knowledge = replace(self.known, taken=set(self.census))
        retry = False
        if self.made & set(self.census):
            retry = True
        if self.options.mode != "global" and self.known.mode is None:
            wanted = "bordereau" if self.domain_bordereaux else "global"
            if wanted != self.mode:
                knowledge.mode = wanted
                retry = True
        if self.mode == "bordereau":
            flagged = {i for i, f in self.domain_flagged.items() if f}
            if flagged != self.domain_bordereaux and self.known.flagged_domains is None:
                knowledge.flagged_domains = set(self.domain_bordereaux)
                retry = True
        if retry:
            raise _Retry(knowledge)


def _head(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source[:4096]
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            return f.read(4096)
    raise TypeError("sign_stream signs a path or bytes")


def sign_to(
    source: Source,
    out: IO[bytes],
    signer: Signer,
    options: PesSignOptions | None = None,
    *,
    name: str | None = None,
    hold: int = DEFAULT_HOLD,
    limits: XmlLimits = DEFAULT_LIMITS,
    chunk_size: int = CHUNK,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> None:
    """Sign the PES_Aller ``source`` (a path or bytes) and write the result to ``out``.

    ``out`` must be seekable (it is rewritten from its start if a second pass is needed).
    Raises :class:`~demat.errors.SignatureError` as :func:`demat.pes.sign.sign_pes_tree` does,
    and the :mod:`demat.xml.safe` errors for unacceptable XML.
    """
    options = options or PesSignOptions()
    head = _head(source)
    name = name or (os.fspath(source) if isinstance(source, str | os.PathLike) else None)
    known = _Knowledge()
    start = out.tell()
    for _ in range(3):
        handler = _Signer(out, head, signer, options, name, known)
        how: dict[str, Any] = {"hold": hold, "limits": limits, "chunk_size": chunk_size}
        if not _walk_pes(source, handler, max_pj_text=max_pj_text, **how):
            raise SignatureError("ce n'est pas un PES_Aller", file=name, code="NOT_PES_ALLER")
        try:
            handler.settle()
            return
        except _Retry as again:
            known = again.what
            out.seek(start)
            out.truncate()
    raise SignatureError(
        "signature impossible en trois passes", file=name, code="SIGN_STREAM"
    )  # pragma: no cover


def sign_bytes(
    xml: bytes,
    signer: Signer,
    options: PesSignOptions | None = None,
    *,
    name: str | None = None,
    hold: int = DEFAULT_HOLD,
    limits: XmlLimits = DEFAULT_LIMITS,
    chunk_size: int = CHUNK,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> bytes:
    """:func:`sign_to` into bytes."""
    out = io.BytesIO()
    sign_to(
        xml,
        out,
        signer,
        options,
        name=name,
        hold=hold,
        limits=limits,
        chunk_size=chunk_size,
        max_pj_text=max_pj_text,
    )
    return out.getvalue()


def sign_file(
    source: Path,
    destination: Path,
    signer: Signer,
    options: PesSignOptions | None = None,
    *,
    hold: int = DEFAULT_HOLD,
    limits: XmlLimits = DEFAULT_LIMITS,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> Path:
    """:func:`sign_to` from the file ``source`` into ``destination``, written through a temporary
    file renamed at the end (nothing is left behind on error)."""
    tmp = destination.with_name(f".{destination.name}.tmp")
    try:
        with tmp.open("wb") as out:
            sign_to(
                source,
                out,
                signer,
                options,
                name=str(source),
                hold=hold,
                limits=limits,
                max_pj_text=max_pj_text,
            )
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)
    return destination


# --- verification ------------------------------------------------------------------------------

#: Digests taken on speculation for a big bordereau or PJ (the profile Hélios receives):
#: exclusive C14N without comments, SHA-256, or SHA-1 for the old signatures.
_SPECULATE = (SHA1, SHA256)
#: Elements kept in the skeleton at most (each a few hundred bytes): a real PES keeps about
#: five per bordereau and one per PJ.
MAX_KEPT = 300_000
_KEEP = etree.XPath(
    "descendant::*[@Id] | descendant::ds:Signature | descendant::Bordereau",
    namespaces={"ds": DS_NS},
)
#: What else a root child keeps: its children (the final placing looks at every child of a
#: domain block) and its domain header whole.
_KEEP_ROOT_CHILD = etree.XPath(
    "child::* | child::EnTeteDepense/descendant::* | child::EnTeteRecette/descendant::*"
)

#: How a reference digests its target: (exclusive, with_comments, inclusive prefixes), digest URI.
_Recipe = tuple[tuple[bool, bool, tuple[str, ...]], str]
#: A holder's place in the document: the index of each of its ancestors among their siblings.
_Key = tuple[int, ...]


@dataclass
class _Job:
    """A digest taken on an opened element while it streams by."""

    holder: Any
    recipe: _Recipe
    digest: PieceDigest
    skip: int | None  # index of the child signature left out; None: every ds:Signature child


class _Index(IdIndex):
    """The ids of one piece, and digests taken while an opened holder streamed by."""

    def __init__(self, root: Any, scope: Any, jobs: list[_Job], streamed: list[Any]) -> None:
        self.root = root
        self.by_id = {}
        for el in scope.xpath("descendant-or-self::*[@Id]"):
            self.by_id.setdefault(el.get("Id"), []).append(el)
        self.jobs = jobs
        self.streamed = streamed

    def digest(self, target: Any, signature: Any, c14n_args: dict[str, Any], algorithm: str) -> bytes:
        recipe = (_recipe_args(c14n_args), algorithm)
        for job in self.jobs:
            if job.holder is target and job.recipe == recipe:
                return job.digest.digests()[algorithm]
        if any(target is el for el in self.streamed):
            raise _NoDigest(recipe)  # its content is gone: digest it on the second pass
        return super().digest(target, signature, c14n_args, algorithm)


class _NoDigest(Exception):
    """A streamed holder was not digested the way its signature asks: a second pass will."""

    def __init__(self, recipe: _Recipe) -> None:
        super().__init__("recipe")
        self.recipe = recipe


def _recipe_args(c14n_args: dict[str, Any]) -> tuple[bool, bool, tuple[str, ...]]:
    return (
        bool(c14n_args["exclusive"]),
        bool(c14n_args["with_comments"]),
        tuple(c14n_args.get("inclusive_prefixes") or ()),
    )


class _Verifier:
    """The walk handler: verifies each signature as soon as what it covers has gone by, and
    prunes the document to the skeleton :func:`demat.pes.sign.verify_pes_tree` then places
    the signatures in."""

    def __init__(
        self,
        options: VerifyOptions,
        name: str | None,
        speculate_root: bool,
        exact: dict[_Key, list[tuple[_Recipe, int]]],
    ) -> None:
        self.options = options
        self.name = name
        self.speculate_root = speculate_root
        self.exact = exact
        self.tree: Any = None
        self.whole_tree = False
        self.opened: list[Any] = []
        self.keys: list[_Key] = []
        self.counts: list[int] = []  # children seen so far at each opened level
        self.jobs: list[_Job] = []
        self.pending: dict[Any, list[tuple[Any, int]]] = {}  # holder -> [(signature, index)]
        self.verified: dict[Any, SignatureReport] = {}
        self.needed: dict[_Key, list[tuple[_Recipe, int]]] = {}
        self.kept = 0
        self.root_mismatch = ""  # what the root was, when it is not a PES_Aller

    def whole(self, tree: Any) -> None:
        self.tree = tree
        self.whole_tree = True

    # -- where things are --------------------------------------------------------------------

    def _child_key(self) -> tuple[_Key, int]:
        index = self.counts[-1]
        self.counts[-1] += 1
        return (*self.keys[-1], index), index

    def _speculate(self, elem: Any) -> bool:
        """Whether to digest ``elem`` on speculation as it streams by: a bordereau (each is
        signed), or the root when its signature seems to close the file. A PJ is seldom
        signed: digesting every big one would cost more than a second pass for the rare one."""
        depth = len(self.opened)
        if depth == 0:
            return self.speculate_root
        return depth == 2 and local_name(elem) == "Bordereau" and local_name(self.opened[1]) in DOMAINS

    # -- events ------------------------------------------------------------------------------

    def open(self, elem: Any) -> None:
        if self.opened:
            key, _ = self._child_key()
        else:
            key = ()
            self.tree = elem.getroottree()
            if elem.tag != ROOT:  # pragma: no cover - walk() checks the root tag
                raise ProtocolError(f"racine {elem.tag}", code="XML_ROOT")
        for job in self.jobs:
            job.digest.open(elem)
        recipes = self.exact.get(key)
        if recipes is not None:
            for recipe, index in recipes:
                self._start(elem, recipe, index)
        elif self._speculate(elem):
            job_digest = PieceDigest(_SPECULATE)
            job_digest.open(elem)
            self.jobs.append(_Job(elem, ((True, False, ()), ""), job_digest, None))
        self.opened.append(elem)
        self.keys.append(key)
        self.counts.append(0)

    def _start(self, elem: Any, recipe: _Recipe, index: int) -> None:
        (exclusive, _, prefixes), algorithm = recipe
        if not exclusive:
            return  # inclusive C14N is not taken in pieces: the signature says so when verified
        job_digest = PieceDigest([algorithm], list(prefixes) or None)
        job_digest.open(elem)
        self.jobs.append(_Job(elem, recipe, job_digest, index))

    def text(self, text: str) -> None:
        for job in self.jobs:
            job.digest.text(text)

    def piece(self, node: Any) -> None:
        parent = self.opened[-1]
        _, index = self._child_key()
        is_signature = node.tag == ds("Signature")
        for job in self.jobs:
            if job.holder is parent and is_signature and job.skip in (None, index):
                continue
            job.digest.piece(node)
        if not isinstance(node.tag, str):
            return
        if is_signature:
            # Its holder is opened: verified when the holder closes and its digest is known.
            self.pending.setdefault(parent, []).append((node, index))
            return
        signatures = list(node.iter(ds("Signature")))
        if signatures:
            ids = _Index(self.tree.getroot(), node, [], self.opened)
            for sig in signatures:
                try:
                    self._verify(sig, ids)
                except _NoDigest:  # a reference to an opened ancestor: not where a PES puts it
                    self._verify(sig, _Index(self.tree.getroot(), node, [], []))
        self._prune(node)

    def close(self, elem: Any) -> None:
        mine = [job for job in self.jobs if job.holder is elem]
        self.jobs = [job for job in self.jobs if job.holder is not elem]
        for job in mine:
            job.digest.close(elem)
        for sig, index in self.pending.pop(elem, []):
            self._verify_streamed(elem, sig, index, mine)
        for job in self.jobs:
            job.digest.close(elem)
        self.opened.pop()
        self.keys.pop()
        self.counts.pop()

    # -- verifying ---------------------------------------------------------------------------

    def _verify(self, sig: Any, index: _Index) -> None:
        report = verify_signature(sig, index, self.options)
        _policy_checks(report, sig)
        self.verified[sig] = report

    def _verify_streamed(self, holder: Any, sig: Any, index: int, jobs: list[_Job]) -> None:
        speculative = [
            _Job(job.holder, ((True, False, ()), algorithm), job.digest, None)
            for job in jobs
            if job.skip is None
            for algorithm in _SPECULATE
        ]
        exact = [job for job in jobs if job.skip == index]
        holder.append(sig)  # back in place (the holder is complete): enveloped, as signed
        try:
            self._verify(sig, _Index(self.tree.getroot(), holder, exact or speculative, self.opened))
        except _NoDigest as missing:
            if self.exact:  # already the second pass: a recipe not taken in pieces
                report = verify_signature(sig, _Index(self.tree.getroot(), holder, [], []), self.options)
                report.errors = [e for e in report.errors if e.code != "DIGEST_MISMATCH"]
                report.error(
                    "C14N_STREAM_UNSUPPORTED",
                    "canonicalisation inclusive d'un élément trop gros pour être lu d'un bloc : non vérifiée",
                )
                report.crypto_valid = False
                self.verified[sig] = report
            else:
                self.needed.setdefault(self.keys[-1], []).append((missing.recipe, index))
        self._prune(sig)

    def _prune(self, node: Any) -> None:
        """Cut ``node`` down to what the final placing reads: elements with an Id, signatures,
        bordereaux, the path to them, and the domain headers whole."""
        if local_name(node) in _HEADERS:
            self._count(sum(1 for _ in node.iter()))
            return
        keep = {node}
        found = _KEEP(node)
        if len(self.opened) == 1:
            found += _KEEP_ROOT_CHILD(node)
        for el in found:
            while el is not None and el not in keep:
                keep.add(el)
                el = el.getparent()
        self._count(len(keep))
        for el in keep:
            el.text = None  # never read again: the skeleton is read for its tags and attributes
            for child in list(el):
                if child not in keep:
                    el.remove(child)

    def _count(self, n: int) -> None:
        self.kept += n
        if self.kept > MAX_KEPT:
            raise XMLSecurityError(
                f"document refusé : plus de {MAX_KEPT} éléments à suivre pour vérifier ses signatures",
                file=self.name,
                code="XML_TOO_MANY_ELEMENTS",
            )

    def report(self, trust: TrustStore | None) -> VerifyReport:
        """The verdict, once the walk is over (``_Retry`` when a second pass must digest more)."""
        if self.needed:
            raise _Retry(_Knowledge(recipes=self.needed))
        opts = self.options
        if self.whole_tree:
            return verify_pes_tree(
                self.tree,
                name=self.name,
                trust=trust,
                at=opts.at,
                now=opts.now,
                require_non_repudiation=opts.require_non_repudiation,
            )
        for sig, report in self.verified.items():
            report.path = node_path(sig)
            holder = sig.getparent()
            if report.target is not None and holder is not None and report.target.id == holder.get("Id"):
                report.target = SignatureTarget(report.target.id, node_path(holder))
        return verify_pes_tree(
            self.tree,
            name=self.name,
            trust=trust,
            at=opts.at,
            now=opts.now,
            require_non_repudiation=opts.require_non_repudiation,
            verified=self.verified,
        )


def _walk_pes(
    source: Source, handler: Any, *, max_pj_text: int, keep_pieces: bool = False, **how: Any
) -> bool:
    """Walk a PES_Aller with ``handler``; False (the reason in ``handler.root_mismatch``) when
    its root is something else."""
    try:
        walk(
            source,
            handler,
            root_tag=ROOT,
            keep_whole=KEEP_WHOLE,
            keep_pieces=keep_pieces,
            long_text=pj_text_cap(max_pj_text),
            **how,
        )
    except ProtocolError as exc:
        if exc.code != "XML_ROOT":
            raise
        handler.root_mismatch = exc.message
        return False
    return True


def _root_signature_at_end(source: Source) -> bool:
    """Whether the document seems to end with a signature of the root (looked at in its last
    64 KiB): then the root is digested on speculation as it streams by, saving a second pass."""
    if isinstance(source, bytes):
        tail = source[-65536:]
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 65536))
            tail = f.read()
    else:
        return False
    return re.search(rb"</(?:[\w.-]+:)?Signature>\s*</(?:[\w.-]+:)?PES_Aller>\s*$", tail) is not None


def verify_source(
    source: Source,
    *,
    options: VerifyOptions,
    name: str | None = None,
    hold: int = DEFAULT_HOLD,
    limits: XmlLimits = DEFAULT_LIMITS,
    chunk_size: int = CHUNK,
    max_pj_text: int = DEFAULT_MAX_PJ_TEXT,
) -> VerifyReport:
    """Verify every signature of the PES_Aller ``source`` in bounded memory (see the module
    docstring); the report is the one :func:`demat.pes.sign.verify_pes_tree` gives."""
    speculate = _root_signature_at_end(source)
    exact: dict[_Key, list[tuple[_Recipe, int]]] = {}
    start: int | None = 0
    if not isinstance(source, bytes | str | os.PathLike):
        start = source.tell() if source.seekable() else None
    for _ in range(2):
        handler = _Verifier(options, name, speculate, exact)
        how: dict[str, Any] = {"hold": hold, "limits": limits, "chunk_size": chunk_size}
        found = _walk_pes(source, handler, max_pj_text=max_pj_text, keep_pieces=True, **how)
        if not found:
            result = VerifyReport(file=name)
            result.errors.append(
                Issue("NOT_PES_ALLER", f"{handler.root_mismatch}: ce n'est pas un PES_Aller")
            )
            return result
        try:
            return handler.report(options.trust)
        except _Retry as again:
            if start is None:
                raise SignatureError(
                    "ce flux ne peut pas être relu pour une seconde passe de vérification",
                    file=name,
                    code="VERIFY_NEEDS_SEEK",
                ) from None
            if not isinstance(source, bytes | str | os.PathLike):
                source.seek(start)
            exact = again.what.recipes
    raise SignatureError(
        "vérification impossible en deux passes", file=name, code="VERIFY_STREAM"
    )  # pragma: no cover


__all__ = [
    "KEEP_WHOLE",
    "MAX_KEPT",
    "MAX_PIECES",
    "ROOT",
    "sign_bytes",
    "sign_file",
    "sign_to",
    "verify_source",
]
