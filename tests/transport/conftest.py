"""Fixtures for the transport tests: the sandbox ones (a throwaway PKI, a running sandbox, a
client on it) live in tests/conftest.py, shared with the sandbox tests."""

from __future__ import annotations

from tests.conftest import PDF, client_tls, deliberation

__all__ = ["PDF", "client_tls", "deliberation"]
