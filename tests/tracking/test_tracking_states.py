"""The state table: legal moves, and the events that move a transmission from state to state.

The platform status tables (S²LOW HELIOS, ACTES) live next to their client and are tested in
``tests/transport``.
"""

from __future__ import annotations

import itertools

import pytest

from demat.errors import StoreError
from demat.tracking import (
    ERROR_EVENTS,
    EVENT_TRANSITIONS,
    IN_DOUBT,
    KEEPS_COUNTERS,
    POLLED,
    SETTLED,
    TERMINAL,
    TRANSITIONS,
    Event,
    IllegalTransition,
    State,
    UnexpectedEvent,
    can_happen,
    check_transition,
    is_allowed,
    next_state,
)

S = State
E = Event

# The legal moves written out edge by edge, independently of the module, so a change to either shows.
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

# The event table written out the same way: (state, event) → next state.
EXPECTED_EVENTS = {
    (S.ACCEPTED, E.SEND_STARTED): S.SENDING,
    (S.ACCEPTED, E.CANCELLED): S.CANCELLED,
    (S.ACCEPTED, E.EXPIRED): S.FAILED,
    (S.ACCEPTED, E.FAILED): S.FAILED,
    (S.SENDING, E.SUBMITTED): S.SENT,
    (S.SENDING, E.REFUSED): S.REJECTED,
    (S.SENDING, E.NOT_SENT): S.ACCEPTED,
    (S.SENDING, E.OUTCOME_UNKNOWN): S.UNKNOWN,
    (S.SENDING, E.FOUND): S.SENT,
    (S.SENDING, E.FOUND_WITHOUT_ID): S.UNKNOWN,
    (S.SENDING, E.ABSENT): S.ACCEPTED,
    (S.SENDING, E.UNDETERMINED): S.UNKNOWN,
    (S.SENDING, E.EXPIRED): S.FAILED,
    (S.SENDING, E.FAILED): S.FAILED,
    (S.UNKNOWN, E.RESOLVED_SENT): S.SENT,
    (S.UNKNOWN, E.RESOLVED_ABSENT): S.ACCEPTED,
    (S.UNKNOWN, E.FOUND): S.SENT,
    (S.UNKNOWN, E.FOUND_WITHOUT_ID): S.UNKNOWN,
    (S.UNKNOWN, E.ABSENT): S.ACCEPTED,
    (S.UNKNOWN, E.UNDETERMINED): S.UNKNOWN,
    (S.UNKNOWN, E.FAILED): S.FAILED,
    (S.SENT, E.PROGRESS): S.SENT,
    (S.SENT, E.ACK_OK): S.ACKNOWLEDGED,
    (S.SENT, E.ACK_KO): S.REJECTED,
    (S.SENT, E.REFUSED): S.REJECTED,
    (S.SENT, E.CANCELLED): S.CANCELLED,
    (S.SENT, E.EXPIRED): S.FAILED,
    (S.SENT, E.FAILED): S.FAILED,
    (S.ACKNOWLEDGED, E.PROGRESS): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, E.ACK_KO): S.REJECTED,
    (S.ACKNOWLEDGED, E.CANCEL_REQUESTED): S.CANCEL_REQUESTED,
    (S.ACKNOWLEDGED, E.CANCELLED): S.CANCELLED,
    (S.CANCEL_REQUESTED, E.PROGRESS): S.CANCEL_REQUESTED,
    (S.CANCEL_REQUESTED, E.CANCELLED): S.CANCELLED,
    (S.CANCEL_REQUESTED, E.CANCEL_REFUSED): S.ACKNOWLEDGED,
    (S.CANCEL_REQUESTED, E.EXPIRED): S.FAILED,
    (S.CANCEL_REQUESTED, E.FAILED): S.FAILED,
}


def _table_pairs() -> list[tuple[State, Event, State]]:
    return [(state, event, to) for state, row in EVENT_TRANSITIONS.items() for event, to in row.items()]


# -- legal moves ---------------------------------------------------------------------------------


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
    assert set(EVENT_TRANSITIONS) == set(State)


def test_terminal_and_settled_sets() -> None:
    assert {S.REJECTED, S.FAILED, S.CANCELLED} == TERMINAL
    assert TERMINAL | {S.ACKNOWLEDGED} == SETTLED
    assert not POLLED & SETTLED
    assert not IN_DOUBT & (POLLED | SETTLED)


def test_nothing_goes_from_doubt_to_a_new_submission() -> None:
    # A submission in doubt must be reconciled (→ SENT or back to ACCEPTED) before a resend.
    for state in IN_DOUBT:
        assert not is_allowed(state, S.SENDING)
        assert S.SENDING not in EVENT_TRANSITIONS[state].values()
        assert not can_happen(state, E.SEND_STARTED)


def test_unknown_is_never_rejected_directly() -> None:
    # Nothing the platform could say about a submission in doubt makes it REJECTED: it is
    # found (then its status says) or absent (then it is sent again).
    assert not is_allowed(S.UNKNOWN, S.REJECTED)


def test_every_non_terminal_state_can_reach_a_terminal_one() -> None:
    for start in set(State) - TERMINAL:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & TERMINAL, start


def test_every_non_terminal_state_can_reach_a_terminal_one_by_events() -> None:
    for start in set(State) - TERMINAL:
        seen, todo = {start}, [start]
        while todo:
            for nxt in EVENT_TRANSITIONS[todo.pop()].values():
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & TERMINAL, start


# -- events ----------------------------------------------------------------------------------------


def test_the_event_table_is_the_one_written_out() -> None:
    assert {(s, e): to for s, e, to in _table_pairs()} == EXPECTED_EVENTS


def test_every_event_leads_to_a_legal_move() -> None:
    for state, event, to in _table_pairs():
        assert is_allowed(state, to), (state, event, to)
        assert (state, to) in EXPECTED, (state, event, to)


def test_every_legal_move_is_made_by_some_event() -> None:
    # No dead legal move: each edge of TRANSITIONS is reachable through the event table.
    by_events = {(state, to) for state, _, to in _table_pairs()}
    legal = {(state, to) for state, targets in TRANSITIONS.items() for to in targets}
    assert legal - by_events == set()
    assert by_events == legal


def test_terminal_states_have_no_events() -> None:
    for state in TERMINAL:
        assert EVENT_TRANSITIONS[state] == {}
        assert not any(can_happen(state, event) for event in Event)
    assert {s for s, row in EVENT_TRANSITIONS.items() if not row} == TERMINAL


def test_every_event_can_happen_somewhere() -> None:
    assert {event for _, event, _ in _table_pairs()} == set(Event)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(State, Event)))
def test_next_state_follows_the_table_or_refuses(state: State, event: Event) -> None:
    expected = EXPECTED_EVENTS.get((state, event))
    assert can_happen(state, event) is (expected is not None)
    if expected is not None:
        assert next_state(state, event, transmission="t-1") is expected
        return
    with pytest.raises(UnexpectedEvent) as caught:
        next_state(state, event, transmission="t-1")
    assert isinstance(caught.value, IllegalTransition)
    assert isinstance(caught.value, StoreError)
    assert caught.value.code == "UNEXPECTED_EVENT"
    assert caught.value.path == "t-1"
    assert event.value in caught.value.message
    assert state.value in caught.value.message


def test_event_values_are_the_journal_names() -> None:
    assert E.SEND_STARTED.value == "send_started"
    assert E.SUBMITTED.value == "submitted"
    assert E.ACK_OK.value == "ack_ok"
    assert all(event.value == event.name.lower() for event in Event)


def test_counter_rules() -> None:
    assert ERROR_EVENTS <= KEEPS_COUNTERS
    assert {E.SEND_STARTED} == KEEPS_COUNTERS - ERROR_EVENTS
    assert {E.NOT_SENT, E.OUTCOME_UNKNOWN, E.UNDETERMINED} == ERROR_EVENTS
    # An error event leaves a submission in doubt or sends it back: never to a settled state.
    for state, event, to in _table_pairs():
        if event in ERROR_EVENTS:
            assert to in IN_DOUBT | {S.ACCEPTED}, (state, event, to)
