"""Hardened XML parsing and the schema registry."""

from demat.xml.safe import (
    DEFAULT_LIMITS,
    XmlLimits,
    check_prolog,
    element_path,
    iterparse,
    local_name,
    make_parser,
    parse,
    parse_bytes,
    read_source,
)
from demat.xml.schemas import SchemaRegistry, SchemaSet, default_registry, load_xmlschema

__all__ = [
    "DEFAULT_LIMITS",
    "SchemaRegistry",
    "SchemaSet",
    "XmlLimits",
    "check_prolog",
    "default_registry",
    "element_path",
    "iterparse",
    "load_xmlschema",
    "local_name",
    "make_parser",
    "parse",
    "parse_bytes",
    "read_source",
]
