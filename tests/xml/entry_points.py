"""Run one of demat's XML entry points over files and print one JSON line per file.

``python tests/xml/entry_points.py NAME[,NAME…] FILE…`` — run by ``test_xml_hostile_entry_points.py``
in a child process, so that a crash of the parser fails that test instead of the test run.
A ``start`` line is printed (and flushed) before each call, so a crash names its entry point
and its file.

Each outcome is ``refused`` (a typed demat error, or a report whose first error is a
refusal: the code travels along) or ``accepted`` (what was read, for the failure message).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demat.errors import DematError

Outcome = dict[str, Any]
_TINY_SCHEMA = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
<xs:element name="a" type="xs:string"/></xs:schema>"""


def _refused(exc: DematError) -> Outcome:
    return {"outcome": "refused", "type": type(exc).__name__, "code": exc.code, "message": exc.message}


def _from_findings(codes: list[str], what: Any) -> Outcome:
    if codes:
        return {"outcome": "refused", "type": "report", "code": codes[0]}
    return {"outcome": "accepted", "read": repr(what)[:300]}


def _xml_parse_bytes(path: Path) -> Any:
    from demat.xml import parse_bytes

    return parse_bytes(path.read_bytes()).getroot().text


def _xml_iterparse_schema(path: Path) -> Any:
    from lxml import etree

    from demat.xml import iterparse

    schema = etree.XMLSchema(etree.XML(_TINY_SCHEMA))
    return [e.text for _, e in iterparse(path, schema=schema)]


def _pes_validate(path: Path) -> Outcome:
    from demat.pes.validate import validate_pes

    report = validate_pes(path)
    return _from_findings([f.code for f in report.errors], report.info)


def _pes_validate_no_schema(path: Path) -> Outcome:
    from demat.pes.validate import validate_pes

    report = validate_pes(path, schema=False)
    return _from_findings([f.code for f in report.errors], report.info)


def _pes_inspect(path: Path) -> Any:
    from demat.pes.inspect import inspect_pes

    return inspect_pes(path)


def _pes_ack(path: Path) -> Any:
    from demat.pes.ack import read_acquit

    return read_acquit(path)


def _pes_retour(path: Path) -> Any:
    from demat.pes.retour import read_retour_header

    return read_retour_header(path.read_bytes())


def _pes_verify(path: Path) -> Any:
    from demat.pes.sign import verify_pes

    return verify_pes(path)


@functools.cache
def _signer() -> Any:
    from demat.signing import devpki
    from demat.signing.keys import Signer

    leaf = devpki.issue(devpki.make_ca("hostile CA"), "hostile signer")
    return Signer(leaf.key, leaf.cert)


def _pes_sign(path: Path) -> Any:
    from demat.pes.sign import sign_pes

    return sign_pes(path.read_bytes(), _signer())[:300]


def _pes_transcode(path: Path) -> Any:
    from demat.pes.encoding import to_latin1

    return to_latin1(path.read_bytes(), name=str(path))[:300]


def _budget_inspect(path: Path) -> Any:
    from demat.actes.budget import inspect_budget

    return inspect_budget(path)


def _budget_validate(path: Path) -> Outcome:
    from demat.actes.budget import validate_budget

    report = validate_budget(path)
    return _from_findings([e.code for e in report.errors], report)


def _budget_verify(path: Path) -> Any:
    from demat.actes.budget import verify_seal

    return verify_seal(path)


def _budget_seal(path: Path) -> Any:
    from demat.actes.budget import seal

    return seal(path.read_bytes())[:300]


def _actes_read(path: Path) -> Any:
    from demat.actes.read import read_message

    return read_message(path.read_bytes(), name=path.name)


def _s2low_reply(path: Path) -> Any:
    from demat.transport.s2low.replies import parse_helios_import

    return parse_helios_import(path.read_bytes())


def _sandbox_upload(path: Path) -> Outcome:
    from demat.sandbox import dgfip

    try:
        received = dgfip.receive(path.read_bytes(), path.name)
    except dgfip.PesRefused as exc:
        return {"outcome": "refused", "type": "PesRefused", "code": None, "message": str(exc)}
    return {"outcome": "accepted", "read": repr(received)[:300]}


def _command(*argv: str) -> Callable[[Path], Outcome]:
    """A ``demat`` command run on one file (``{}`` stands for it), through the CLI's ``main``."""

    def run_command(path: Path) -> Outcome:
        import contextlib
        import io

        import demat.cli
        from demat.cli import main

        # One parser for every call: building it costs more than most commands here.
        if not hasattr(demat.cli.build_parser, "cache_info"):
            demat.cli.build_parser = functools.cache(demat.cli.build_parser)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([str(path) if a == "{}" else a for a in argv])
        said = out.getvalue() + err.getvalue()
        if status == 1:
            return {"outcome": "refused", "type": "exit 1", "code": None, "message": said}
        return {"outcome": f"exit {status}", "read": said[-300:]}

    return run_command


#: Entry point name → function of a file.
ENTRY_POINTS: dict[str, Callable[[Path], Any]] = {
    "xml.parse_bytes": _xml_parse_bytes,
    "xml.iterparse+schema": _xml_iterparse_schema,
    "pes.validate_pes": _pes_validate,
    "pes.validate_pes(schema=False)": _pes_validate_no_schema,
    "pes.inspect_pes": _pes_inspect,
    "pes.read_acquit": _pes_ack,
    "pes.read_retour_header": _pes_retour,
    "pes.verify_pes": _pes_verify,
    "pes.sign_pes": _pes_sign,
    "pes.to_latin1": _pes_transcode,
    "budget.inspect_budget": _budget_inspect,
    "budget.validate_budget": _budget_validate,
    "budget.verify_seal": _budget_verify,
    "budget.seal": _budget_seal,
    "actes.read_message": _actes_read,
    "s2low.parse_helios_import": _s2low_reply,
    "sandbox.dgfip.receive": _sandbox_upload,
    "demat pes inspect": _command("pes", "inspect", "{}"),
    "demat pes validate": _command("pes", "validate", "{}"),
    "demat pes ack": _command("pes", "ack", "{}"),
    "demat pes verify": _command("pes", "verify", "{}"),
    "demat pes transcode": _command("pes", "transcode", "{}", "-o", "transcoded.xml"),
    "demat totem inspect": _command("totem", "inspect", "{}"),
    "demat totem validate": _command("totem", "validate", "{}"),
    "demat totem verify": _command("totem", "verify", "{}"),
    "demat actes inspect": _command("actes", "inspect", "{}"),
}


def run(names: list[str], files: list[str]) -> None:
    """Run each entry point of ``names`` over every file, printing a line before and after each."""
    for name in names:
        call = ENTRY_POINTS[name]
        for file in files:
            print(json.dumps({"entry": name, "file": file, "event": "start"}), flush=True)
            try:
                result = call(Path(file))
            except DematError as exc:
                outcome = _refused(exc)
            else:
                is_outcome = isinstance(result, dict) and "outcome" in result
                outcome = result if is_outcome else {"outcome": "accepted", "read": repr(result)[:300]}
            record = {"entry": name, "file": file, "event": "done", **outcome}
            print(json.dumps(record, default=str), flush=True)


if __name__ == "__main__":
    run(sys.argv[1].split(","), sys.argv[2:])
