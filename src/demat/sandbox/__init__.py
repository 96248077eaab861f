"""Servers that behave like the platforms demat talks to, for demos, tests and benchmarks.

:class:`Sandbox` plays S²LOW (HELIOS and ACTES APIs) over mutual TLS, with a DGFiP and a
préfecture behind it that judge what they receive with demat's own validators.
"""

from demat.sandbox.config import Account, Faults, SandboxConfig
from demat.sandbox.pki import SandboxPKI
from demat.sandbox.server import ADMIN_PREFIX, Sandbox, SandboxApp
from demat.sandbox.state import Receipt

__all__ = [
    "ADMIN_PREFIX",
    "Account",
    "Faults",
    "Receipt",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxPKI",
]
