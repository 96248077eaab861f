"""demat.gateway: the async façade that checks, records, sends and tracks documents.

* :mod:`~demat.gateway.gateway`: :class:`Gateway`, used by connectors, the CLI and the poller;
* :mod:`~demat.gateway.flows`: the :class:`~demat.gateway.flows.FlowHandler` protocol, the flow
  registry, and one handler per flow (PES, ACTES, budget acts);
* :mod:`~demat.gateway.platforms`: the platform accounts, opened through the registry of kinds;
* :mod:`~demat.gateway.offload`: the one helper that runs work off the event loop;
* :mod:`~demat.gateway.identity`, :mod:`~demat.gateway.options`: a profile and the settings
  turned into the protocol code's own types.
"""

# Names are imported on first use (PEP 562): the sandbox and the CLI's protocol commands use
# the offload helper or the options without loading the store and the platform clients.
from typing import TYPE_CHECKING

from demat._lazy import lazy_names

if TYPE_CHECKING:
    from demat.gateway.flows import FlowContext, FlowHandler, register_flow, unregister_flow
    from demat.gateway.flows.common import SendResult
    from demat.gateway.gateway import Gateway
    from demat.gateway.platforms import Platforms

_WHERE = {
    "FlowContext": "demat.gateway.flows",
    "FlowHandler": "demat.gateway.flows",
    "register_flow": "demat.gateway.flows",
    "unregister_flow": "demat.gateway.flows",
    "SendResult": "demat.gateway.flows.common",
    "Gateway": "demat.gateway.gateway",
    "Platforms": "demat.gateway.platforms",
}

__getattr__ = lazy_names(__name__, _WHERE, globals())


__all__ = [
    "FlowContext",
    "FlowHandler",
    "Gateway",
    "Platforms",
    "SendResult",
    "register_flow",
    "unregister_flow",
]
