"""Hostile or broken input: a typed error from the readers, an error finding from validate."""

from __future__ import annotations

import base64
import gzip
import tracemalloc
import zlib
from typing import Any

import pytest

from demat.errors import FileMissing, ProtocolError, XMLSecurityError, XMLSyntaxError
from demat.pes.ack import read_acquit
from demat.pes.inspect import inspect_pes
from demat.pes.retour import read_retour_header
from demat.pes.validate import validate_pes

from .pesgen import Pj, pes

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>"""
DEEP = b'<?xml version="1.0" encoding="ISO-8859-1"?>' + b"<a>" * 3000 + b"</a>" * 3000
HOSTILE = {
    "billion_laughs": (LAUGHS, "XML_DTD_FORBIDDEN"),
    "external_entity": (EXTERNAL, "XML_DTD_FORBIDDEN"),
    "not_xml": (b"PK\x03\x04 this is a zip, not XML", "XML_NOT_XML"),
    "empty": (b"", "XML_EMPTY"),
    "deep": (DEEP, "XML_TOO_DEEP"),
    "truncated": (pes()[:-60], "XML_SYNTAX"),
    "undefined_entity": (pes().replace(b'V="achat"', b'V="&boom;"'), "XML_SYNTAX"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validate_reports_hostile_input_as_a_finding(case: str) -> None:
    data, code = HOSTILE[case]
    report = validate_pes(data, schema=False)
    assert not report.valid
    assert [f.code for f in report.errors] == [code]
    assert report.errors[0].message


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_validate_with_xsd_reports_hostile_input_too(case: str, official: object) -> None:
    data, code = HOSTILE[case]
    report = validate_pes(data, registry=official, origin="official")  # type: ignore[arg-type]
    if case == "deep":  # the validator stops the parser at the unknown root, before any depth
        assert [f.code for f in report.errors] == ["PES_XSD"]
        assert report.errors[0].line == 1

    else:
        assert [f.code for f in report.errors] == [code]


def test_wrong_root_on_a_later_line_is_placed_exactly(official: object) -> None:
    data = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- a comment -->\n\n<Nope V="1"/>\n'
    report = validate_pes(data, registry=official, origin="official")  # type: ignore[arg-type]
    assert ("PES_XSD", 4) in [(f.code, f.line) for f in report.errors]
    assert {f.code for f in report.errors} <= {"PES_XSD", "PES_ROOT"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("reader", [inspect_pes, read_acquit, read_retour_header])
def test_readers_raise_typed_errors(case: str, reader: object) -> None:
    data, code = HOSTILE[case]
    with pytest.raises((XMLSecurityError, XMLSyntaxError, ProtocolError)) as caught:
        reader(data)  # type: ignore[operator]
    if isinstance(caught.value, ProtocolError):  # well-formed enough to see it is no retour/ACK
        assert reader in (read_retour_header, read_acquit)  # both stream: the root is seen first
    elif case == "deep" and reader is read_acquit:
        # demat.xml.safe.parse reports libxml2's own depth cap as a syntax error.
        assert caught.value.code in {code, "XML_SYNTAX"}
    else:
        assert caught.value.code == code


def test_syntax_error_carries_its_line() -> None:
    data = pes().replace(b"<Piece>", b"<Piece><oops>", 1)
    report = validate_pes(data, schema=False)
    [f] = report.errors
    assert f.code == "XML_SYNTAX"
    assert f.line == 7


def test_missing_file_raises(tmp_path: object) -> None:
    with pytest.raises(FileMissing) as caught:
        validate_pes(f"{tmp_path}/absent.xml", schema=False)
    assert caught.value.file == f"{tmp_path}/absent.xml"


class _CountingInflaters:
    """Stands for ``zlib.decompressobj``: the inflaters it makes add what they produce to ``total``."""

    def __init__(self) -> None:
        self.total = 0
        self._make = zlib.decompressobj

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return _CountingInflater(self, self._make(*args, **kw))


class _CountingInflater:
    def __init__(self, counter: _CountingInflaters, inner: Any) -> None:
        self._counter, self._inner = counter, inner

    def decompress(self, *args: Any) -> bytes:
        out: bytes = self._inner.decompress(*args)
        self._counter.total += len(out)
        return out

    def flush(self, *args: Any) -> bytes:
        out: bytes = self._inner.flush(*args)
        self._counter.total += len(out)
        return out

    def __getattr__(self, name: str) -> Any:  # eof, unconsumed_tail, unused_data
        return getattr(self._inner, name)


def test_gzip_bomb_in_pj_is_refused_in_bounded_memory_and_work(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = base64.b64encode(gzip.compress(b"\0" * (64 << 20), 9)).decode()  # 64 MiB from ~64 KiB
    data = pes(pjs=[Pj("BOMB", content=bomb), Pj("BOMB2", content=bomb), Pj("OK")])
    inflated = _CountingInflaters()
    monkeypatch.setattr(zlib, "decompressobj", inflated)
    tracemalloc.start()
    try:
        report = validate_pes(data, schema=False, max_pj_inflated=8 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(f.code, f.message.split(" :")[0]) for f in report.errors] == [("PES_PJ_BOMB", "PJ BOMB")]
    assert peak < 16 << 20, peak
    # The first bomb is inflated a little past the 8 MiB cap, where it is stopped; after it the
    # next PJs are only decoded, not inflated: far from 2 x 64 MiB of work.
    assert 8 << 20 < inflated.total <= 10 << 20, inflated.total


def test_default_cap_lets_real_pjs_through() -> None:
    report = validate_pes(pes(pjs=[Pj(content=base64.b64encode(gzip.compress(b"%PDF" * 100_000)).decode())]))
    assert report.valid
