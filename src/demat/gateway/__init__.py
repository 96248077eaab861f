"""demat.gateway: the async façade that checks, records, sends and tracks documents.

* :mod:`~demat.gateway.gateway`: :class:`Gateway`, used by connectors, the CLI and the poller;
* :mod:`~demat.gateway.flows`: the :class:`~demat.gateway.flows.FlowHandler` protocol, the flow
  registry, and one handler per flow (PES, ACTES, budget acts);
* :mod:`~demat.gateway.platforms`: the platform accounts, opened through the registry of kinds;
* :mod:`~demat.gateway.offload`: the one helper that runs work off the event loop;
* :mod:`~demat.gateway.identity`, :mod:`~demat.gateway.options`: a profile and the settings
  turned into the protocol code's own types;
* :mod:`~demat.gateway.actions`: what a person does to a transmission (retry, resolve,
  cancel), journaled with who and why; :mod:`~demat.gateway.readings`: a received document
  said in plain French.
"""

# Names are imported on first use (PEP 562): the sandbox and the CLI's protocol commands use
# the offload helper or the options without loading the store and the platform clients.
from typing import TYPE_CHECKING

from demat._lazy import lazy_names

if TYPE_CHECKING:
    from demat.gateway.actions import Retried
    from demat.gateway.flows import FlowContext, FlowHandler, register_flow, unregister_flow
    from demat.gateway.flows.common import SendResult
    from demat.gateway.gateway import Gateway
    from demat.gateway.platforms import Platforms
    from demat.gateway.readings import Reading, ReadingItem, read_document

_WHERE = {
    "FlowContext": "demat.gateway.flows",
    "FlowHandler": "demat.gateway.flows",
    "register_flow": "demat.gateway.flows",
    "unregister_flow": "demat.gateway.flows",
    "SendResult": "demat.gateway.flows.common",
    "Gateway": "demat.gateway.gateway",
    "Platforms": "demat.gateway.platforms",
    "Reading": "demat.gateway.readings",
    "ReadingItem": "demat.gateway.readings",
    "Retried": "demat.gateway.actions",
    "read_document": "demat.gateway.readings",
}

__getattr__ = lazy_names(__name__, _WHERE, globals())


__all__ = [
    "FlowContext",
    "FlowHandler",
    "Gateway",
    "Platforms",
    "Reading",
    "ReadingItem",
    "Retried",
    "SendResult",
    "read_document",
    "register_flow",
    "unregister_flow",
]
