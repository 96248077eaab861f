"""Minimal reproducer of an lxml/libxml2 crash, to report upstream (not shipped, not imported).

A parser with an XML schema plugged in (``XMLParser(schema=…)``, ``XMLPullParser(schema=…)``
or ``iterparse(…, schema=…)``) dies with a segmentation fault in ``xmlParseReference`` as soon
as the document uses an internal entity its DTD declares, whatever ``resolve_entities`` says
except ``False``. Seen with lxml 6.1 and its bundled libxml2 2.14 (Linux x86_64 wheel)::

    python tools/lxml_schema_entity_crash.py           # crashes the interpreter (exit -11)
    python tools/lxml_schema_entity_crash.py --check   # runs that in a child process, says what happened

demat never reaches it: :mod:`demat.xml.prolog` refuses every DOCTYPE (in any encoding)
before a parser sees the document. ``--check`` exits 0 when this lxml still crashes, 1 when
it no longer does (time to tell the README), 2 on anything else.
"""

from __future__ import annotations

import subprocess
import sys

from lxml import etree

SCHEMA = b'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="a"/></xs:schema>'
DOCUMENT = b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'


def crash() -> None:
    """Parse DOCUMENT with SCHEMA plugged into the parser: the process dies here."""
    schema = etree.XMLSchema(etree.XML(SCHEMA))
    etree.fromstring(DOCUMENT, etree.XMLParser(schema=schema))


def versions() -> str:
    """lxml's and libxml2's versions, as a bug report wants them."""
    lxml = ".".join(map(str, etree.LXML_VERSION))
    libxml2 = ".".join(map(str, etree.LIBXML_VERSION))
    return f"lxml {lxml}, libxml2 {libxml2}, Python {sys.version.split()[0]} on {sys.platform}"


def check() -> int:
    """Run :func:`crash` in a child process and report how it ended."""
    child = subprocess.run([sys.executable, __file__], capture_output=True, text=True, check=False)
    if child.returncode < 0:
        print(f"crashes (signal {-child.returncode}) with {versions()}")
        return 0
    if child.returncode == 0:
        print(f"no longer crashes with {versions()}")
        return 1
    print(f"unexpected exit {child.returncode} with {versions()}:\n{child.stderr}")
    return 2


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        return check()
    print(versions(), flush=True)
    crash()
    print("parsed without crashing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
