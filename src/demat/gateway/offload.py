"""The one place where the gateway layer runs work off the event loop.

Protocol code (:mod:`demat.pes`, :mod:`demat.actes`, :mod:`demat.xml`…) is synchronous and
knows nothing of threads or asyncio; parsing, validating or hashing a 100 MB file would stall
the event loop, so the gateway, the sandbox and the CLI's async commands hand such work to
:func:`offload`. A small document (an ARActe, most acquittals) is read in place by
:func:`read_document`: the thread hop would cost more than the read.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Documents up to this size are read on the event loop (a thread hop costs more).
INLINE_BYTES = 256 * 1024

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def _executor() -> ThreadPoolExecutor:
    # One pool per process: a fork starts a fresh one (threads do not survive it).
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(min(32, (os.cpu_count() or 1) + 4), thread_name_prefix="demat-offload")
        _pool_pid = os.getpid()
    return _pool


async def offload(fn: Callable[..., T], /, *args: Any) -> T:
    """Await ``fn(*args)`` run on a worker thread, off the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), functools.partial(fn, *args))


async def read_document(read: Callable[[bytes], T], data: bytes) -> T:
    """``read(data)``: in place for a small document, on a worker thread for a large one."""
    if len(data) <= INLINE_BYTES:
        return read(data)
    return await offload(read, data)


__all__ = ["INLINE_BYTES", "offload", "read_document"]
