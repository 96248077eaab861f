"""Who may see and do what in the console: one table, read by every page and every action.

The rules, tested one by one (``tests/web/test_access.py``):

* an operator sees every collectivité and may do everything;
* an agent sees only the profiles it is bound to; a transmission of another profile does not
  exist for it (404, not 403: the page does not even confirm the id); it may send, retry and ask
  a préfecture to cancel an acte there, not settle a transmission in doubt (that needs checking
  the platform, the agency's job);
* an archivist reads every transmission and the archive, and acts on nothing;
* a reader reads (its profiles when it has some, else all) and acts on nothing;
* electors' personal data (the lists deposited, the control reports naming electors) is shown
  to operators and to the agents of the commune only.
"""

from __future__ import annotations

import enum
from typing import Final

from demat.web.accounts import Account, Role


class Action(enum.StrEnum):
    """What a person can do from the console."""

    SEND = "send"
    RETRY = "retry"
    RESOLVE = "resolve"
    CANCEL = "cancel"
    ARCHIVE = "archive"  # read the archive pages
    PERSONAL = "personal"  # read electors' personal data


_ALLOWED: Final[dict[Role, frozenset[Action]]] = {
    Role.OPERATOR: frozenset(Action),
    Role.AGENT: frozenset({Action.SEND, Action.RETRY, Action.CANCEL, Action.PERSONAL}),
    Role.ARCHIVIST: frozenset({Action.ARCHIVE}),
    Role.READER: frozenset(),
}


def may(account: Account, action: Action) -> bool:
    """Whether ``account``'s role allows ``action`` (on what it can see)."""
    return action in _ALLOWED[account.role]


def scope(account: Account) -> frozenset[str] | None:
    """The profiles ``account`` sees: ``None`` for all of them (an empty set: none)."""
    if account.role is Role.AGENT:
        return account.profiles
    if account.role is Role.READER and account.profiles:
        return account.profiles
    return None


def sees(account: Account, profile: str | None) -> bool:
    """Whether ``account`` sees what belongs to ``profile`` (``None``: to no profile)."""
    visible = scope(account)
    return visible is None or (profile is not None and profile in visible)


__all__ = ["Action", "may", "scope", "sees"]
