"""Validation runs on the calling thread: each report is its own, whatever ran before, beside
or inside it, and the caller's lxml error reporting is as it was."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from lxml import etree

from demat.gateway.offload import offload
from demat.pes.validate import validate_pes, validate_xsd
from demat.xml.schemas import SchemaRegistry

from .pesgen import Bord, Pj, pes

VALID = pes(pjs=[Pj()], bords=[Bord(pjrefs=["PJ0001"])])
#: Two schema errors on known lines (an unknown element, then a bad root on line 4).
INVALID = VALID.replace(b"<EnTetePES>", b"<Inconnu/>\n<EnTetePES>", 1)
WRONG_ROOT = b'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!-- a comment -->\n\n<Nope V="1"/>\n'


def _summary(data: bytes, registry: SchemaRegistry) -> list[tuple[str, int | None]]:
    report = validate_pes(data, registry=registry, origin="official")
    return [(f.code, f.line) for f in report.errors]


def test_reports_do_not_leak_into_the_next_validation(official: SchemaRegistry) -> None:
    invalid = _summary(INVALID, official)
    assert invalid and all(code == "PES_XSD" for code, _ in invalid)
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}
    assert expected[VALID] == []
    for _ in range(3):  # the same thread validates again and again
        for data in (INVALID, VALID, WRONG_ROOT, VALID):
            assert _summary(data, official) == expected[data]
    xsd_only = validate_xsd(WRONG_ROOT, "pes_aller", registry=official, origin="official")
    assert [(f.code, f.line) for f in xsd_only.errors] == [("PES_XSD", 4)]
    assert validate_pes(VALID, registry=official, origin="official").valid


def test_concurrent_validations_keep_their_own_findings(official: SchemaRegistry) -> None:
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}
    work = [VALID, INVALID, WRONG_ROOT] * 20
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda d: _summary(d, official), work))
    assert got == [expected[d] for d in work]


async def test_concurrent_offloaded_validations_keep_their_own_findings(official: SchemaRegistry) -> None:
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}
    work = [VALID, INVALID, WRONG_ROOT] * 20
    got = await asyncio.gather(*(offload(_summary, d, official) for d in work))
    assert got == [expected[d] for d in work]


class _Log(etree.PyErrorLog):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def receive(self, entry: object) -> None:
        self.seen.append(str(entry))


def _on_a_thread(fn: Callable[[], Any]) -> Any:
    """``fn()`` on a new thread, whose lxml logs start as lxml sets them up."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def _parse_error(data: bytes) -> etree.XMLSyntaxError:
    with pytest.raises(etree.XMLSyntaxError) as caught:
        etree.fromstring(data)
    return caught.value


def test_the_callers_error_log_is_untouched(official: SchemaRegistry) -> None:
    log = _Log()

    def caller() -> list[str]:
        etree.use_global_python_log(log)
        _summary(INVALID, official)
        assert log.seen == []  # nothing of the validation reached it
        _parse_error(b"<after>")
        return log.seen

    seen = _on_a_thread(caller)
    assert len(seen) == 1 and "after" in seen[0]  # and it is the thread's log again


def test_the_callers_default_error_log_and_exceptions_keep_working(official: SchemaRegistry) -> None:
    schema = official.schema("pes", "pes_aller", version="5.17", origin="official")

    def caller() -> None:
        _parse_error(b"<before>")
        before = [e.message for e in etree.LxmlError("").error_log]  # the thread's global log
        assert len(before) == 1 and "before" in before[0]
        assert _summary(INVALID, official) != []
        # Its entries are kept, none of the validation's were added.
        assert [e.message for e in etree.LxmlError("").error_log] == before
        after = _parse_error(b"<after>")
        assert [e.message for e in after.error_log][-1:] == ["Premature end of data in tag after line 1"]
        assert not schema.validate(etree.fromstring(INVALID))
        assert any("Inconnu" in e.message for e in schema.error_log)
        parser = etree.XMLParser(recover=True)
        etree.fromstring(b"<r><x></r>", parser)
        assert len(parser.error_log) > 0

    _on_a_thread(caller)


def test_a_validation_inside_a_validation_keeps_both_reports(official: SchemaRegistry) -> None:
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}
    inner: list[list[tuple[str, int | None]]] = []

    class Nesting(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            inner.append(_summary(WRONG_ROOT, official))
            return super().read(size)

    for data in (INVALID, VALID, WRONG_ROOT):
        inner.clear()
        report = validate_pes(Nesting(data), registry=official, origin="official")
        assert [(f.code, f.line) for f in report.errors] == expected[data]
        assert inner and all(got == expected[WRONG_ROOT] for got in inner)
    assert _summary(INVALID, official) == expected[INVALID]


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork")
def test_validation_works_in_a_forked_child(official: SchemaRegistry) -> None:
    before = _summary(INVALID, official)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            ok = _summary(INVALID, official) == before and _summary(VALID, official) == []
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


async def test_validation_runs_on_the_calling_thread(official: SchemaRegistry) -> None:
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}
    readers: set[str] = set()

    class Watched(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            readers.add(threading.current_thread().name)
            return super().read(size)

    def several() -> tuple[str, list[list[tuple[str, int | None]]]]:
        got = []
        for d in (INVALID, VALID, WRONG_ROOT):
            report = validate_pes(Watched(d), registry=official, origin="official")
            got.append([(f.code, f.line) for f in report.errors])
        return threading.current_thread().name, got

    name, got = several()
    assert readers == {name} == {threading.current_thread().name}
    readers.clear()
    name, got = await offload(several)  # off the event loop: one thread hop per document
    assert readers == {name} and name.startswith("demat-offload")
    assert got == [expected[INVALID], expected[VALID], expected[WRONG_ROOT]]
    assert _summary(INVALID, official) == expected[INVALID]
