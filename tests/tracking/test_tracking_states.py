"""The state table and the platform status tables."""

from __future__ import annotations

import itertools

import pytest

from demat.errors import ProtocolError, StoreError
from demat.tracking import (
    ACTES,
    HELIOS,
    IN_DOUBT,
    POLLED,
    SETTLED,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    State,
    check_transition,
    is_allowed,
    status_table,
)

S = State

# The table written out edge by edge, independently of the module, so a change to either shows.
EXPECTED = {
    (S.ACCEPTED, S.SENDING),
    (S.ACCEPTED, S.CANCELLED),
    (S.ACCEPTED, S.FAILED),
    (S.SENDING, S.SENT),
    (S.SENDING, S.ACCEPTED),
    (S.SENDING, S.UNKNOWN),
    (S.SENDING, S.REJECTED),
    (S.SENDING, S.FAILED),
    (S.UNKNOWN, S.SENT),
    (S.UNKNOWN, S.ACCEPTED),
    (S.UNKNOWN, S.UNKNOWN),
    (S.UNKNOWN, S.REJECTED),
    (S.UNKNOWN, S.FAILED),
    (S.SENT, S.SENT),
    (S.SENT, S.ACKNOWLEDGED),
    (S.SENT, S.REJECTED),
    (S.SENT, S.FAILED),
    (S.SENT, S.CANCELLED),
    (S.ACKNOWLEDGED, S.ACKNOWLEDGED),
    (S.ACKNOWLEDGED, S.REJECTED),
    (S.ACKNOWLEDGED, S.CANCEL_REQUESTED),
    (S.ACKNOWLEDGED, S.CANCELLED),
    (S.CANCEL_REQUESTED, S.CANCEL_REQUESTED),
    (S.CANCEL_REQUESTED, S.CANCELLED),
    (S.CANCEL_REQUESTED, S.ACKNOWLEDGED),
    (S.CANCEL_REQUESTED, S.FAILED),
}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(State, State)))
def test_every_pair_is_allowed_or_refused_as_tabled(src: State, dst: State) -> None:
    allowed = (src, dst) in EXPECTED
    assert is_allowed(src, dst) is allowed
    if allowed:
        check_transition(src, dst)
    else:
        with pytest.raises(IllegalTransition) as caught:
            check_transition(src, dst, transmission="t-1")
        assert isinstance(caught.value, StoreError)
        assert caught.value.code == "ILLEGAL_TRANSITION"
        assert caught.value.path == "t-1"
        assert f"{src.value} → {dst.value}" in caught.value.message


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(State)


def test_terminal_and_settled_sets() -> None:
    assert {S.REJECTED, S.FAILED, S.CANCELLED} == TERMINAL
    assert TERMINAL | {S.ACKNOWLEDGED} == SETTLED
    assert not POLLED & SETTLED
    assert not IN_DOUBT & (POLLED | SETTLED)


def test_nothing_goes_from_doubt_to_a_new_submission() -> None:
    # A submission in doubt must be reconciled (→ SENT or back to ACCEPTED) before a resend.
    for state in IN_DOUBT:
        assert not is_allowed(state, S.SENDING)


def test_every_non_terminal_state_can_reach_a_terminal_one() -> None:
    for start in set(State) - TERMINAL:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & TERMINAL, start


# Codes from reference/pes.md §4 (S²LOW HeliosStatus) and reference/actes.md §3.
HELIOS_CODES = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 19, 20, 22, 24}
ACTES_CODES = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22}


def test_status_tables_cover_the_documented_codes() -> None:
    from demat.transport.protocol import ACTES_LABELS, HELIOS_LABELS

    assert set(HELIOS.statuses) == HELIOS_CODES == set(HELIOS_LABELS)
    assert set(ACTES.statuses) == ACTES_CODES == set(ACTES_LABELS)


@pytest.mark.parametrize(
    ("table", "code", "state", "fetch"),
    [
        (HELIOS, -1, S.REJECTED, None),
        (HELIOS, 0, S.CANCELLED, None),
        (HELIOS, 1, S.SENT, None),
        (HELIOS, 2, S.SENT, None),
        (HELIOS, 3, S.SENT, None),
        (HELIOS, 4, S.ACKNOWLEDGED, "ack"),
        (HELIOS, 6, S.REJECTED, "ack"),
        (HELIOS, 7, S.SENT, None),
        (HELIOS, 8, S.ACKNOWLEDGED, "ack"),
        (ACTES, -1, S.REJECTED, "anomalie"),
        (ACTES, 1, S.SENT, None),
        (ACTES, 3, S.SENT, None),
        (ACTES, 4, S.ACKNOWLEDGED, "aracte"),
        (ACTES, 6, S.REJECTED, None),
        (ACTES, 17, S.SENT, None),
        (ACTES, 21, S.ACKNOWLEDGED, None),
    ],
)
def test_status_mapping(table: object, code: int, state: State, fetch: str | None) -> None:
    from demat.tracking import StatusTable

    assert isinstance(table, StatusTable)
    assert table[code].state is state
    assert table[code].fetch == fetch


def test_helios_ack_statuses_leave_the_verdict_to_the_ack() -> None:
    # A PES_ACQUIT under status 4 may carry EtatAck=0: the document decides.
    assert HELIOS[4].verdict_in_document
    assert not HELIOS[6].verdict_in_document


def test_every_mapped_state_is_reachable_from_sent() -> None:
    for table in (HELIOS, ACTES):
        for status in table.statuses.values():
            assert status.state == S.SENT or is_allowed(S.SENT, status.state), status


def test_target_reports_moves_and_no_change() -> None:
    assert HELIOS.target(S.SENT, 3) is None
    assert HELIOS.target(S.SENT, 4) is S.ACKNOWLEDGED
    assert ACTES.target(S.SENT, -1) is S.REJECTED
    assert ACTES.target(S.ACKNOWLEDGED, 13) is None
    with pytest.raises(IllegalTransition):
        ACTES.target(S.ACKNOWLEDGED, 1)  # "posted" after the AR: refused, not silently applied
    with pytest.raises(IllegalTransition):
        HELIOS.target(S.REJECTED, 4)


def test_unknown_code_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError) as caught:
        HELIOS.target(S.SENT, 99)
    assert caught.value.code == "UNKNOWN_STATUS"


def test_status_table_per_flow() -> None:
    assert status_table("pes") is HELIOS
    assert status_table("actes") is ACTES
    assert status_table("budget") is ACTES  # TOTEM travels as an ACTES budgetary act
    with pytest.raises(StoreError):
        status_table("elections")
