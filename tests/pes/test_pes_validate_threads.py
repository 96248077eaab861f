"""Validation runs on reused threads: each report is its own, whatever ran before or beside it."""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from lxml import etree

from demat.pes.validate import on_validation_thread, validate_pes, validate_xsd
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
    for _ in range(3):  # the same threads serve again and again
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


class _Log(etree.PyErrorLog):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def receive(self, entry: object) -> None:
        self.seen.append(str(entry))


def test_the_callers_error_log_is_untouched(official: SchemaRegistry) -> None:
    log = _Log()

    def caller() -> None:
        etree.use_global_python_log(log)
        _summary(INVALID, official)

    t = threading.Thread(target=caller)
    t.start()
    t.join()
    assert log.seen == []


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork")
def test_validation_works_in_a_forked_child(official: SchemaRegistry) -> None:
    before = _summary(INVALID, official)  # the pool's threads exist in the parent
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            ok = _summary(INVALID, official) == before and _summary(VALID, official) == []
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


async def test_validations_made_on_a_validation_thread_run_in_place(official: SchemaRegistry) -> None:
    expected = {d: _summary(d, official) for d in (VALID, INVALID, WRONG_ROOT)}

    def several() -> tuple[str, list[list[tuple[str, int | None]]]]:
        return threading.current_thread().name, [_summary(d, official) for d in (INVALID, VALID, WRONG_ROOT)]

    name, got = await on_validation_thread(several)
    assert name.startswith("demat-pes-validate")
    assert got == [expected[INVALID], expected[VALID], expected[WRONG_ROOT]]
    assert _summary(INVALID, official) == expected[INVALID]  # and the thread is clean afterwards
