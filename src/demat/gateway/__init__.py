"""demat.gateway: the async façade that checks, records, sends and tracks documents.

* :mod:`~demat.gateway.gateway`: :class:`Gateway`, used by connectors, the CLI and the poller;
* :mod:`~demat.gateway.flows`: the :class:`~demat.gateway.flows.FlowHandler` protocol, the flow
  registry, and one handler per flow (PES, ACTES, budget acts);
* :mod:`~demat.gateway.platforms`: the platform accounts, opened through the registry of kinds;
* :mod:`~demat.gateway.offload`: the one helper that runs work off the event loop;
* :mod:`~demat.gateway.identity`: a profile turned into the protocol code's own types.
"""

from demat.gateway.flows import FlowContext, FlowHandler, register_flow, unregister_flow
from demat.gateway.flows.common import SendResult
from demat.gateway.gateway import Gateway
from demat.gateway.platforms import Platforms

__all__ = [
    "FlowContext",
    "FlowHandler",
    "Gateway",
    "Platforms",
    "SendResult",
    "register_flow",
    "unregister_flow",
]
