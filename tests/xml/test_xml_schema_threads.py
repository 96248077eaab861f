"""A compiled schema shared by threads: each validation gets its own errors."""

from __future__ import annotations

import threading

from lxml import etree

from demat.xml.schemas import schema_errors

SCHEMA = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
<xs:element name="r"><xs:complexType><xs:sequence>
<xs:element name="n" type="xs:int" maxOccurs="unbounded"/>
</xs:sequence></xs:complexType></xs:element></xs:schema>"""


def test_threads_validating_with_one_schema_get_their_own_errors() -> None:
    # Straight lxml (schema.validate, then schema.error_log) mixes the threads' errors up:
    # about 2 % of these validations saw another thread's error, or none.
    schema = etree.XMLSchema(etree.XML(SCHEMA))
    wrong: list[str] = []

    def work(k: int) -> None:
        doc = etree.XML(("<r>" + "<n>1</n>" * 2000 + f"<n>bad{k}</n></r>").encode())
        for _ in range(150):
            found = [e.message for e in schema_errors(schema, doc)]
            if len(found) != 1 or f"bad{k}" not in found[0]:
                wrong.append(f"thread {k}: {found}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert schema_errors(schema, etree.XML(b"<r><n>1</n></r>")) == []
