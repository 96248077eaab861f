"""demat.depot: the deposit server for electoral lists (``demat depot serve``).

* :mod:`~demat.depot.protocol`: the manifest, the signed accusé de dépôt and the control
  report, read and written the same way by the server and the client (no I/O);
* :mod:`~demat.depot.store`: accounts, deposits and the hash-chained journal, on SQLite or
  PostgreSQL;
* :mod:`~demat.depot.control`: the control job (each list checked by :mod:`demat.elections`);
* :mod:`~demat.depot.server`: the aiohttp HTTPS service;
* :mod:`~demat.depot.pki`: a throwaway PKI for trying the server out.

The client is :mod:`demat.transport.depot` (platform kind ``depot``); the flow that sends
through it is :mod:`demat.gateway.flows.elections`. Nothing is imported here, so the client
reads the protocol without loading the server.
"""

#: The package exports nothing itself: import its modules.
__all__: list[str] = []
