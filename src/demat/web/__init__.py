"""The operator console (``demat web``): every flow of every collectivité in a browser.

Server-rendered pages (aiohttp and Jinja2, no front-end build): an overview of what needs a
person, a searchable list of transmissions, each transmission with its journal, its documents
and its acknowledgement in plain French, the electoral deposits and the archive; actions (send,
retry, settle, cancel) behind a confirmation, journaled with the person's name; live updates by
server-sent events. Accounts with roles (:mod:`~demat.web.accounts`, :mod:`~demat.web.access`).
"""

from __future__ import annotations

from demat.web.accounts import Account, Accounts, AuthError, Role
from demat.web.app import Console, create_app
from demat.web.server import TLSFiles, run_until_stopped, serving

__all__ = [
    "Account",
    "Accounts",
    "AuthError",
    "Console",
    "Role",
    "TLSFiles",
    "create_app",
    "run_until_stopped",
    "serving",
]
