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
from typing import IO, Any, Literal, get_args, get_origin

from lxml import etree
from pydantic import BaseModel

from demat.errors import ValidationError
from demat.pes import model as m
from demat.pes.encoding import Unmappable, fit_text, is_latin1_name
from demat.pes.namespaces import PES_ALLER_NS
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

# --- layouts: element names and order come from the models ------------------------------------
#
# The models declare their fields in XSD order, each aliased to its element name. What they do not
# show is where the XSD nests a block's fields in wrapper elements of its own (a mandat's leaves sit
# in ``BlocPiece/InfoPce``) and which fields the writer streams or writes as attributes: that is
# :data:`_WRAPPERS`. A layout is compiled once per model into steps the writer walks.

#: Step kinds: a leaf ``<Name V="…"/>``, a wrapper element around the next steps (same object),
#: one sub-block (skipped when None), a list of sub-blocks.
_LEAF, _WRAP, _ONE, _MANY = range(4)

#: (kind, model field ("" for a wrapper), element written, the steps inside). A plain tuple, not a
#: NamedTuple: unpacking an exact tuple is three times faster, and this is the builder's inner loop.
_Step = tuple[int, str, str, "_Layout"]
_Layout = tuple[_Step, ...]

#: From a field on, where the model's fields go: a wrapper path ("" = straight in the block's own
#: element), or None for fields the layout does not write (an ``Id`` attribute, what the writer
#: streams, a PJ's content). Fields before the first entry go straight in the block's element.
_WRAPPERS: dict[type[BaseModel], dict[str, str | None]] = {
    m.Enveloppe: {"version": "Parametres", "emetteur": ""},
    m.PesDepenseAller: {"id_ver": "EnTeteDepense", "bordereaux": None},
    m.PesRecetteAller: {"id_ver": "EnTeteRecette", "bordereaux": None},
    m.BordereauDepense: {"id": None, "exer": "BlocBordereau", "pieces": None},
    m.BordereauRecette: {"id": None, "exer": "BlocBordereau", "pieces": None},
    m.PieceDepense: {"cod_serv": "BlocPiece/InfoPce", "dgp": "BlocPiece", "lignes": ""},
    m.PieceRecette: {"cod_serv": "BlocPiece", "lignes": ""},
    m.LigneDepense: {"id_ligne": "BlocLignePiece/InfoLignePce", "liens_ident": "BlocLignePiece", "tiers": ""},
    m.LigneRecette: {
        "id_ligne": "BlocLignePiece/InfoLignePiece",
        "liens_ident": "BlocLignePiece",
        "tiers": "",
    },
    m.PesPJ: {"id_ver": "EnTetePES_PJ", "pjs": None},
    m.PJ: {"fichier": None, "id_unique": ""},
}


def _block_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds, if any, and whether it holds a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    for arg in get_args(annotation):
        model, many = _block_of(arg)
        if model is not None:
            return model, many or get_origin(annotation) is list
    return None, False


def _nest(placed: list[tuple[tuple[str, ...], _Step]]) -> _Layout:
    """Steps with their wrapper paths → steps, consecutive fields of one wrapper grouped in it."""
    steps: list[_Step] = []
    i = 0
    while i < len(placed):
        path, step = placed[i]
        if not path:
            steps.append(step)
            i += 1
            continue
        j = i + 1
        while j < len(placed) and placed[j][0][:1] == path[:1]:
            j += 1
        steps.append((_WRAP, "", path[0], _nest([(p[1:], st) for p, st in placed[i:j]])))
        i = j
    return tuple(steps)


def _layout(model: type[BaseModel]) -> _Layout:
    """The steps that write one ``model`` block's content, in the model's (= the XSD's) order."""
    wrappers = _WRAPPERS.get(model, {})
    placed: list[tuple[tuple[str, ...], _Step]] = []
    path: tuple[str, ...] | None = ()
    for name, info in model.model_fields.items():
        if name in wrappers:
            where = wrappers[name]
            path = None if where is None else tuple(p for p in where.split("/") if p)
        if path is None:
            continue
        element = info.alias or name
        block, many = _block_of(info.annotation)
        if block is None:
            placed.append((path, (_LEAF, name, element, ())))
        else:
            placed.append((path, (_MANY if many else _ONE, name, element, _layout(block))))
    return _nest(placed)


def _alias(model: type[BaseModel], field: str) -> str:
    """The element name of one field: its alias."""
    return model.model_fields[field].alias or field


class _Domain:
    """What the writer needs to know of one domain block (dépense, recette)."""

    def __init__(
        self, field: str, section: type[BaseModel], bordereau: type[BaseModel], piece: type[BaseModel]
    ) -> None:
        self.field = field
        self.name = _alias(m.PesAller, field)
        self.section = section
        self.header = _layout(section)
        self.bordereau_name = _alias(section, "bordereaux")
        self.bordereau = _layout(bordereau)
        self.piece_name = _alias(bordereau, "pieces")
        self.piece = _layout(piece)


_DEPENSE = _Domain("depense", m.PesDepenseAller, m.BordereauDepense, m.PieceDepense)
_RECETTE = _Domain("recette", m.PesRecetteAller, m.BordereauRecette, m.PieceRecette)
_ENVELOPPE = (_alias(m.PesAller, "enveloppe"), _layout(m.Enveloppe))
_EN_TETE = (_alias(m.PesAller, "en_tete"), _layout(m.EnTetePES))
_PES_PJ = _alias(m.PesAller, "pj")
_PJ_HEADER = _layout(m.PesPJ)
_PJ = _alias(m.PesPJ, "pjs")
_PJ_TAIL = _layout(m.PJ)


class _Leaves:
    """Builds small subtrees (one piece, one header…) with values checked against the encoding."""

    def __init__(self, encoding: str, unmappable: Unmappable) -> None:
        self._latin1 = is_latin1_name(encoding)
        self._unmappable = unmappable
        self.where = ""

    def fill(self, parent: etree._Element, obj: BaseModel, layout: _Layout) -> None:
        """Write ``obj``'s fields into ``parent`` following ``layout``."""
        # Hot path (millions of leaves for a large file): the leaf is written inline, cheap checks first.
        for kind, attr, name, sub in layout:
            if kind == _LEAF:
                value = getattr(obj, attr)
                if value is None:
                    continue
                if type(value) is str:
                    text = value
                    if self._latin1 and not value.isascii():
                        text = fit_text(value, unmappable=self._unmappable, where=f"{self.where}/{name}")
                else:
                    text = _v(value)
                _sub_element(parent, name, {"V": text})
            elif kind == _WRAP:
                self.fill(_sub_element(parent, name), obj, sub)
            elif kind == _ONE:
                value = getattr(obj, attr)
                if value is not None:
                    self.fill(_sub_element(parent, name), value, sub)
            else:
                for item in getattr(obj, attr):
                    self.fill(_sub_element(parent, name), item, sub)

    def element(self, name: str, obj: BaseModel, layout: _Layout) -> etree._Element:
        """A new element ``name`` holding ``obj``'s fields."""
        el = etree.Element(name)
        self.fill(el, obj, layout)
        return el


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
            self._xf.element(f"{{{PES_ALLER_NS}}}PES_Aller", attrib, nsmap={"n": PES_ALLER_NS})
        )
        for (name, layout), block in ((_ENVELOPPE, self._enveloppe), (_EN_TETE, self._en_tete)):
            self._leaves.where = name
            self._xf.write(self._leaves.element(name, block, layout))
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

    def _write_domain(
        self,
        domain: _Domain,
        bordereaux: Iterable[m.BordereauDepense] | Iterable[m.BordereauRecette],
        info_dematerialisee: bool | None,
    ) -> None:
        self._enter_section(domain.field)
        xf = self._xf
        leaves = self._leaves
        count = 0
        with xf.element(domain.name):
            header = domain.section.model_construct(info_dematerialisee=info_dematerialisee)
            for el in leaves.element(domain.name, header, domain.header):
                xf.write(el)
            for b in bordereaux:
                assert b.id is not None  # filled by the model
                self._claim_id(b.id)
                with xf.element(domain.bordereau_name, Id=b.id):
                    leaves.where = f"Bordereau[@Id='{b.id}']"
                    for el in leaves.element(domain.bordereau_name, b, domain.bordereau):
                        xf.write(el)
                    for piece in b.pieces:
                        xf.write(leaves.element(domain.piece_name, piece, domain.piece))
                        self.pieces += 1
                count += 1
            if count == 0:
                raise ValidationError(f"{domain.name} sans bordereau", code="PES_EMPTY_SECTION")
        self.bordereaux += count

    def write_depense(
        self, bordereaux: Iterable[m.BordereauDepense], *, info_dematerialisee: bool | None = None
    ) -> None:
        """Write ``PES_DepenseAller`` with the given bordereaux (at least one)."""
        self._write_domain(_DEPENSE, bordereaux, info_dematerialisee)

    def write_recette(
        self, bordereaux: Iterable[m.BordereauRecette], *, info_dematerialisee: bool | None = None
    ) -> None:
        """Write ``PES_RecetteAller`` with the given bordereaux (at least one)."""
        self._write_domain(_RECETTE, bordereaux, info_dematerialisee)

    def write_pjs(self, pjs: Iterable[m.PJ]) -> None:
        """Write ``PES_PJ``; each PJ's content is streamed through gzip and base64."""
        self._enter_section("pj")
        xf = self._xf
        leaves = self._leaves
        with xf.element(_PES_PJ):
            for el in leaves.element(_PES_PJ, m.PesPJ.model_construct(), _PJ_HEADER):
                xf.write(el)
            for pj in pjs:
                if pj.id_unique in self._pj_ids:
                    raise ValidationError(
                        f"IdUnique de PJ {pj.id_unique!r} en double", code="PES_DUPLICATE_PJ"
                    )
                self._pj_ids.add(pj.id_unique)
                with xf.element(_PJ):
                    with xf.element("Contenu"), xf.element("Fichier", MIMEType=pj.mime_type):
                        for chunk in _pj_chunks(pj, self._pj_level):
                            for start in range(0, len(chunk), _TEXT_SLICE):
                                xf.write(chunk[start : start + _TEXT_SLICE])
                    leaves.where = f"PES_PJ/PJ[IdUnique='{pj.id_unique}']"
                    for el in leaves.element(_PJ, pj, _PJ_TAIL):
                        xf.write(el)
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
