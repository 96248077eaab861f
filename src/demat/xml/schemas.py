"""Schema registry: versioned schema sets, offline resolution, compiled schemas cached.

Two sources of schema sets:

* **bundled** sets, written by this project, shipped in the wheel (``schemas/<family>/<version>/``
  with a ``manifest.toml`` mapping each document *kind* to its entry file);
* **official** sets (DGFiP, MI, SIAF…) found under a directory given in settings or in
  ``DEMAT_SCHEMAS_DIR``, recognised by their well-known layout.

Resolution is strictly offline: any ``http(s)``/``ftp`` import is refused unless a local copy
is registered for that URL. libxml2 compiles what it can (fast path); schemas that libxml2
refuses (XSD 1.1 or UPA violations, e.g. TOTEM's official ``DocumentBudgetaire.xsd``) are
loaded with xmlschema instead via :func:`load_xmlschema`.
"""

from __future__ import annotations

import os
import re
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lxml import etree

from demat.errors import SchemaError

#: Kinds of document and where an official set keeps its entry point, per family.
OFFICIAL_LAYOUTS: dict[str, dict[str, str]] = {
    "pes": {
        "pes_aller": "PES_V2/Rev0/PES_Aller.xsd",
        "pes_acquit": "PES_V2/Rev0/PES_V2_Acquit_Autonome_V2.xsd",
        "pes_acquit_v1": "PES_V2/Rev0/PES_V2_Acquit_Autonome.xsd",
        "pes_retour": "PES_V2/RETOUR/Rev0/PES_Retour.xsd",
        "docbudg": "SchemaDocBudg/DocumentBudgetaire.xsd",
    },
    "actes": {
        "actes": "actesv1_1.xsd",
    },
    "seda": {
        "seda-2.1": "seda-2.1/seda-2.1-main.xsd",
        "seda-2.2": "seda-2.2/seda-2.2-main.xsd",
        "seda-2.3": "seda-2.3/seda-2.3-main.xsd",
    },
}

#: Marker file of each family's official layout; the version is read from it or the folder.
_MARKERS = {"pes": "PES_V2/Rev0/PES_Aller.xsd", "actes": "actesv1_1.xsd", "seda": "w3c/xml.xsd"}

#: Remote locations that official schemas import, mapped to names looked up locally.
KNOWN_REMOTE = {
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.w3.org/XML/1998/namespace": "xml.xsd",
    "http://www.w3.org/1999/xlink.xsd": "xlink.xsd",
    "http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
    "http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
}


@dataclass(frozen=True)
class SchemaSet:
    """One versioned set of schemas: where it lives and which file each kind starts from."""

    family: str
    version: str
    root: Path
    entries: dict[str, str]
    origin: str  # "bundled" or "official"

    def entry(self, kind: str) -> Path:
        """The entry file of ``kind`` (``pes_aller``, ``actes``…) in this set."""
        try:
            return self.root / self.entries[kind]
        except KeyError:
            raise SchemaError(
                f"schema set {self.family} {self.version} ({self.origin}) has no schema for {kind!r}",
                code="SCHEMA_KIND_UNKNOWN",
            ) from None


class _OfflineResolver(etree.Resolver):  # type: ignore[misc]
    """Refuse network imports; serve the few well-known ones from local copies."""

    def __init__(self, search: list[Path]) -> None:
        super().__init__()
        self._search = search

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if not system_url or not re.match(r"^(https?|ftp):", system_url, re.I):
            return None
        local = KNOWN_REMOTE.get(system_url) or system_url.rsplit("/", 1)[-1]
        for base in self._search:
            for candidate in (base / local, *base.glob(f"**/{local}")):
                if candidate.is_file():
                    return self.resolve_filename(str(candidate), context)
        raise SchemaError(
            f"schema import {system_url} refused: demat never fetches schemas from the network",
            code="SCHEMA_REMOTE_IMPORT",
        )


def bundled_root() -> Path:
    """Where the project's own schema sets are: inside the wheel, or the source tree."""
    packaged = resources.files("demat").joinpath("_schemas")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "schemas"


def _version_of_official(family: str, root: Path) -> str:
    if family == "pes":
        for marker in sorted(root.glob("v*.txt")):
            return marker.stem
        m = re.search(r"v?(\d+\.\d+)", root.name)
        return f"v{m.group(1)}" if m else root.name
    if family == "actes":
        return "1.1"
    return root.name


def discover_official(base: Path) -> list[SchemaSet]:
    """Find official schema sets at or below ``base`` (two levels deep)."""
    found: list[SchemaSet] = []
    candidates = [
        base,
        *[p for p in base.glob("*") if p.is_dir()],
        *[p for p in base.glob("*/*") if p.is_dir()],
    ]
    for root in candidates:
        for family, marker in _MARKERS.items():
            if (root / marker).is_file():
                entries = {k: v for k, v in OFFICIAL_LAYOUTS[family].items() if (root / v).is_file()}
                found.append(SchemaSet(family, _version_of_official(family, root), root, entries, "official"))
    return found


def discover_bundled(root: Path | None = None) -> list[SchemaSet]:
    """The project's own schema sets under ``root`` (default: :func:`bundled_root`)."""
    root = root or bundled_root()
    sets: list[SchemaSet] = []
    for manifest in sorted(root.glob("*/*/manifest.toml")):
        data = tomllib.loads(manifest.read_text("utf-8"))
        family, version = manifest.parent.parent.name, manifest.parent.name
        sets.append(SchemaSet(family, version, manifest.parent, dict(data.get("entries", {})), "bundled"))
    return sets


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)) or (0,)


@dataclass
class SchemaRegistry:
    """Finds schema sets by family and version and caches their compiled form.

    ``official_dirs`` defaults to ``DEMAT_SCHEMAS_DIR`` (``os.pathsep``-separated) when set.
    ``origins`` names, per family, the origin (``"bundled"`` or ``"official"``) a lookup uses
    when its caller names none, e.g. ``{"pes": "official"}`` for the settings'
    ``pes_schema = "official"``; a family it does not name gets the newest bundled set.
    """

    official_dirs: list[Path] = field(default_factory=list)
    bundled_dir: Path | None = None
    origins: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[Path, etree.XMLSchema] = field(default_factory=dict, repr=False)
    #: Compiled schema per (family, kind, version, origin) asked for, and per path as given:
    #: the hot path (a schema per document validated) skips the lookup and ``Path.resolve``.
    _by_kind: dict[tuple[str, str, str | None, str | None], etree.XMLSchema] = field(
        default_factory=dict, repr=False
    )
    _by_given_path: dict[Path, etree.XMLSchema] = field(default_factory=dict, repr=False)
    _sets: list[SchemaSet] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.official_dirs and os.environ.get("DEMAT_SCHEMAS_DIR"):
            self.official_dirs = [Path(p) for p in os.environ["DEMAT_SCHEMAS_DIR"].split(os.pathsep) if p]

    def sets(self, family: str | None = None) -> list[SchemaSet]:
        """Every known set, bundled first, each group newest first (folders scanned once, on
        first use)."""
        everything = self._sets
        if everything is None:
            everything = discover_bundled(self.bundled_dir)
            for d in self.official_dirs:
                everything += discover_official(Path(d))
            self._sets = everything
        chosen = [s for s in everything if family is None or s.family == family]
        return sorted(
            chosen, key=lambda s: (s.origin != "bundled", tuple(-x for x in _version_key(s.version)))
        )

    def find(
        self, family: str, kind: str, version: str | None = None, origin: str | None = None
    ) -> SchemaSet:
        """The set that serves ``kind``: the given version and origin (else the family's origin
        in ``origins``), else the newest bundled one."""
        if origin is None:
            origin = self.origins.get(family)
        for s in self.sets(family):
            if kind not in s.entries:
                continue
            if version is not None and s.version.lstrip("v") != version.lstrip("v"):
                continue
            if origin is not None and s.origin != origin:
                continue
            return s
        what = (
            f"{family}/{kind}"
            + (f" version {version}" if version else "")
            + (f" ({origin})" if origin else "")
        )
        raise SchemaError(f"no schema set found for {what}", code="SCHEMA_NOT_FOUND")

    def compile(self, path: Path) -> etree.XMLSchema:
        """Compile (once) the XSD at ``path`` with libxml2, offline."""
        given = path if path.is_absolute() else None  # a relative path depends on the cwd
        known = self._by_given_path.get(given) if given is not None else None
        if known is not None:
            return known
        path = path.resolve()
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None:
                if given is not None:
                    self._by_given_path[given] = cached
                return cached
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            parser.resolvers.add(_OfflineResolver([path.parent, *self._local_roots()]))
            try:
                doc = etree.parse(str(path), parser)
                schema = etree.XMLSchema(doc)
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
                raise SchemaError(f"cannot compile schema {path}: {exc}", code="SCHEMA_COMPILE") from exc
            self._cache[path] = schema
            if given is not None:
                self._by_given_path[given] = schema
            return schema

    def schema(
        self, family: str, kind: str, version: str | None = None, origin: str | None = None
    ) -> etree.XMLSchema:
        """The compiled libxml2 schema for one kind of document."""
        key = (family, kind, version, origin)
        known = self._by_kind.get(key)
        if known is None:
            known = self.compile(self.find(family, kind, version, origin).entry(kind))
            self._by_kind[key] = known  # threads racing here store the same object (compile caches it)
        return known

    def _local_roots(self) -> list[Path]:
        return [self.bundled_dir or bundled_root(), *[Path(d) for d in self.official_dirs]]


_xmlschema_cache: dict[Path, Any] = {}
_xmlschema_lock = threading.Lock()


_VALIDATING: dict[int, threading.Lock] = {}
_VALIDATING_GUARD = threading.Lock()


def schema_errors(schema: etree.XMLSchema, doc: Any) -> list[Any]:
    """Validate ``doc`` (tree or element) against a compiled ``schema``; its errors (lxml log
    entries, none if valid).

    A compiled schema keeps one error log, which threads validating at the same time fill
    together (observed: wrong or missing errors under six threads). The schemas are shared
    (compiled once per process), so each is used by one thread at a time, the log copied
    before the next one starts.
    """
    with _VALIDATING_GUARD:
        lock = _VALIDATING.setdefault(id(schema), threading.Lock())
    with lock:
        if schema.validate(doc):
            return []
        return list(schema.error_log)


def load_xmlschema(path: Path, *, version: str = "1.1") -> Any:
    """Load an XSD with xmlschema (XSD 1.0/1.1), offline, cached. For schemas libxml2 refuses."""
    import xmlschema

    path = path.resolve()
    with _xmlschema_lock:
        if path in _xmlschema_cache:
            return _xmlschema_cache[path]
        cls = xmlschema.XMLSchema11 if version == "1.1" else xmlschema.XMLSchema10
        try:
            schema = cls(str(path), allow="local", defuse="always")
        except Exception as exc:
            raise SchemaError(f"cannot load schema {path}: {exc}", code="SCHEMA_COMPILE") from exc
        _xmlschema_cache[path] = schema
        return schema


_default: SchemaRegistry | None = None


def default_registry() -> SchemaRegistry:
    """The process-wide registry (bundled sets plus ``DEMAT_SCHEMAS_DIR``)."""
    global _default
    if _default is None:
        _default = SchemaRegistry()
    return _default


__all__ = [
    "KNOWN_REMOTE",
    "OFFICIAL_LAYOUTS",
    "SchemaRegistry",
    "SchemaSet",
    "bundled_root",
    "default_registry",
    "discover_bundled",
    "discover_official",
    "load_xmlschema",
    "schema_errors",
]
