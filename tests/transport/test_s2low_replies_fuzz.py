"""Every S²LOW reply parser, fed garbage: a result or a typed demat error, never anything else.

A reply the client cannot read, however it is malformed, must become an error of demat's tree
for that call (a :class:`~demat.errors.ProtocolError`, or a :class:`~demat.errors.RemoteRejected`
for a ``KO``), so the poller retries that transmission and keeps running. Deeply nested JSON
used to raise ``RecursionError`` and kill ``demat poll``. Seeded (``derandomize``) and bounded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demat.errors import DematError, ProtocolError
from demat.transport.s2low import replies

#: Each parser, called on one body.
PARSERS: dict[str, Callable[[bytes], Any]] = {
    "parse_helios_import": replies.parse_helios_import,
    "parse_helios_status": replies.parse_helios_status,
    "parse_retour_list": replies.parse_retour_list,
    "parse_actes_status": replies.parse_actes_status,
    "parse_prefecture_documents": replies.parse_prefecture_documents,
    "parse_actes_list": replies.parse_actes_list,
    "parse_ok_id": lambda body: replies.parse_ok_id(body, "création de l'acte"),
    "ok_lines": lambda body: replies.ok_lines(body, "demande de classification"),
    "parse_simple_ack": lambda body: replies.parse_simple_ack(body, "marquage"),
    "document_bytes": lambda body: replies.document_bytes(body, "PES_ACQUIT"),
    "decode_text": replies.decode_text,
}


def test_every_public_parser_is_fuzzed() -> None:
    public = {name for name in replies.__all__ if name.startswith(("parse_", "ok_", "document_", "decode_"))}
    assert public == set(PARSERS)


def _calls(parser: Callable[[bytes], Any], body: bytes) -> None:
    with contextlib.suppress(DematError):  # typed: the caller knows what to do with it
        parser(body)


DEEP = 200_000

#: Replies built to hit each parser where it is weakest.
NASTY: list[bytes] = [
    b"[" * DEEP + b"]" * DEEP,
    b'{"transactions":' + b"[" * DEEP + b"]" * DEEP + b"}",
    b"{" + b'"a":{' * DEEP + b"}" * DEEP + b"}",
    b"<a>" * 50_000 + b"</a>" * 50_000,
    b"<?xml version='1.0'?><import>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</import>",
    b"OK\n" + b"9" * 5000,
    b"OK\n" + b"9" * 5000 + b"\n<ARActe/>",
    b"OK\n-1\n" + b"<a>" * 50_000,
    b"<transaction><resultat>OK</resultat><status>" + b"9" * 5000 + b"</status></transaction>",
    b'[{"id": 1, "type": "' + b"9" * 5000 + b'"}]',
    b'[{"id": 1, "type": 1e999999}]',
    b'{"transactions": [{"id": 1, "status": NaN}]}',
    b'{"transactions": [{"id": 1, "status": [1]}]}',
    b'{"transactions": {"id": 1}}',
    b'[{"id": {"x": 1}, "type": {}}]',
    b'{"result": {"a": 1}}',
    b'{"result": ["ko"]}',
    b"\xef\xbb\xbfKO",
    b"KO\xff\xfe",
    b"\xff\xfe<\x00a\x00/\x00>\x00",
    b'<?xml version="1.0" encoding="UTF-7"?><import/>',
    b'<?xml version="1.0" encoding="no-such-charset"?><import/>',
    b"<!DOCTYPE a [<!ENTITY e 'x'>]><import>&e;</import>",
    b"\x00" * 100,
    b"",
]


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_nasty_replies_give_a_result_or_a_typed_error(name: str) -> None:
    for body in NASTY:
        _calls(PARSERS[name], body)


def test_deep_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        replies.parse_prefecture_documents(NASTY[0])
    assert caught.value.code == "S2LOW_GARBAGE"


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)
_fields = st.sampled_from(
    ["id", "type", "status", "status_id", "last_status_id", "number", "unique_id", "transactions", "result"]
)
_shaped_json = st.one_of(
    _json_values,
    st.lists(st.dictionaries(_fields, _json_values, max_size=6), max_size=4),
    st.fixed_dictionaries({"transactions": st.lists(st.dictionaries(_fields, _json_values), max_size=4)}),
)
_tags = st.sampled_from(
    ["import", "transaction", "liste", "pes_retour", "id", "resultat", "status", "message"]
)


@st.composite
def _xml(draw: st.DrawFn) -> bytes:
    def element(depth: int) -> str:
        tag = draw(_tags)
        if depth > 3 or draw(st.booleans()):
            text = draw(st.sampled_from(["OK", "KO", "", "12", "-1", "x", "é", "&amp;", "9" * 30]))
            return f"<{tag}>{text}</{tag}>"
        children = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 3))))
        return f"<{tag}>{children}</{tag}>"

    encoding = draw(st.sampled_from(["UTF-8", "ISO-8859-1"]))
    return f'<?xml version="1.0" encoding="{encoding}"?>{element(0)}'.encode(encoding, "replace")


_text_reply = st.builds(
    lambda head, lines, enc: (head + "\n".join(lines)).encode(enc, "replace"),
    st.sampled_from(["OK\n", "KO\n", "OK\r\n", " OK\n", "KO", "", "\ufeffOK\n"]),
    st.lists(st.text(max_size=30), max_size=4),
    st.sampled_from(["utf-8", "iso-8859-1", "utf-16"]),
)

REPLIES = st.one_of(
    st.binary(max_size=300),
    _shaped_json.map(lambda v: json.dumps(v).encode()),
    _xml(),
    _text_reply,
)


@settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(body=REPLIES)
def test_random_and_structured_garbage_gives_a_result_or_a_typed_error(body: bytes) -> None:
    for parser in PARSERS.values():  # every parser on each reply: generating costs more than parsing
        _calls(parser, body)
