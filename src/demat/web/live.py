"""Live updates: the journal, tailed once for every open page, pushed as server-sent events.

One task per console reads the journal entries appended since the last read (an indexed range
on ``seq``: cheap whoever writes them, this process's poller or another host's) every
``interval`` seconds and hands each browser the changes of the transmissions its account sees.
A page that cannot keep up (a full queue) is dropped: the browser reconnects and reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from demat.tracking import State, Store
from demat.web import labels
from demat.web.access import sees
from demat.web.accounts import Account
from demat.web.app import console, session

log = logging.getLogger("demat.web")


@dataclass(eq=False)
class _Listener:
    account: Account
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=lambda: asyncio.Queue(maxsize=500))


class Hub:
    """Tails the store's journal and fans the changes out to the open pages."""

    def __init__(self, store: Store, *, interval: float = 0.5) -> None:
        self.store = store
        self.interval = interval
        self._listeners: set[_Listener] = set()
        self._task: asyncio.Task[None] | None = None
        self.seq = 0

    async def start(self) -> None:
        """Start tailing from the journal's head now."""
        self.seq = (await self.store.journal_head()).seq
        self._task = asyncio.create_task(self._run(), name="demat-web-live")

    async def stop(self) -> None:
        """Stop tailing; every open stream ends."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for listener in list(self._listeners):
            with contextlib.suppress(asyncio.QueueFull):
                listener.queue.put_nowait(None)

    def listen(self, account: Account) -> _Listener:
        """A new page's queue of changes."""
        listener = _Listener(account)
        self._listeners.add(listener)
        return listener

    def leave(self, listener: _Listener) -> None:
        """A page closed."""
        self._listeners.discard(listener)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the database hiccuped: the next tick tries again
                log.exception("live: journal not read")
            await asyncio.sleep(self.interval)

    async def tick(self) -> int:
        """Read what the journal gained and hand it out; how many entries were read."""
        entries = await self.store.journal(after=self.seq, limit=500)
        if not entries:
            return 0
        self.seq = entries[-1].seq
        if not self._listeners:
            return len(entries)
        ids = sorted({e.transmission_id for e in entries if e.transmission_id})
        found = {t.id: t for t in await self.store.get_many(ids)} if ids else {}
        for e in entries:
            t = found.get(e.transmission_id or "")
            if t is None:
                continue
            change = {
                "seq": e.seq,
                "id": t.id,
                "name": t.name,
                "flow": t.flow,
                "profile": t.profile,
                "event": e.event,
                "event_label": labels.event(e.event),
                "state": e.to_state or t.state.value,
                "state_label": labels.state(e.to_state or t.state.value),
                "tone": labels.TONES.get(State(e.to_state or t.state.value), "neutral"),
                "at": labels.when(e.at, seconds=True),
            }
            for listener in list(self._listeners):
                if not sees(listener.account, t.profile):
                    continue
                try:
                    listener.queue.put_nowait(change)
                except asyncio.QueueFull:  # a page that does not read: it reconnects and reloads
                    self.leave(listener)
        return len(entries)


def routes(app: web.Application) -> None:
    """Add the event stream to ``app`` and start/stop the hub with it."""
    app.router.add_get("/evenements", stream)

    async def start(app: web.Application) -> None:
        c = console_of(app)
        if c.hub is None:
            c.hub = Hub(c.gateway.store)
        await c.hub.start()

    async def stop(app: web.Application) -> None:
        hub = console_of(app).hub
        if hub is not None:
            await hub.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


def console_of(app: web.Application) -> Any:
    from demat.web.app import CONSOLE

    return app[CONSOLE]


async def stream(request: web.Request) -> web.StreamResponse:
    """``text/event-stream`` of the changes the session's account may see."""
    hub = console(request).hub
    if hub is None:
        raise web.HTTPServiceUnavailable(text="mises à jour en direct indisponibles")
    listener = hub.listen(session(request).account)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    try:
        await response.write(b"retry: 2000\n\n")
        while True:
            try:
                change = await asyncio.wait_for(listener.queue.get(), timeout=15)
            except TimeoutError:
                await response.write(b": ping\n\n")  # keeps proxies from closing an idle stream
                continue
            if change is None:
                break
            data = json.dumps(change, ensure_ascii=False)
            await response.write(f"id: {change['seq']}\nevent: change\ndata: {data}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.leave(listener)
    return response


__all__ = ["Hub", "routes", "stream"]
