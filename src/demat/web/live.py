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
        for change in await self.changes(entries):
            for listener in list(self._listeners):
                if not sees(listener.account, change["profile"]):
                    continue
                try:
                    listener.queue.put_nowait(change)
                except asyncio.QueueFull:  # a page that does not read: it reconnects and reloads
                    self.leave(listener)
        return len(entries)

    async def since(self, account: Account, seq: int) -> list[dict[str, Any]]:
        """The changes ``account`` may see after journal entry ``seq`` up to what the hub has
        handed out (what happened between a page's rendering and its stream's start)."""
        if seq >= self.seq:
            return []
        entries = [e for e in await self.store.journal(after=seq, limit=500) if e.seq <= self.seq]
        return [c for c in await self.changes(entries) if sees(account, c["profile"])]

    async def changes(self, entries: list[Any]) -> list[dict[str, Any]]:
        """What the pages are told of journal ``entries`` about transmissions."""
        ids = sorted({e.transmission_id for e in entries if e.transmission_id})
        found = {t.id: t for t in await self.store.get_many(ids)} if ids else {}
        told = []
        for e in entries:
            t = found.get(e.transmission_id or "")
            if t is None:
                continue
            state = e.to_state or t.state.value
            told.append(
                {
                    "seq": e.seq,
                    "id": t.id,
                    "name": t.name,
                    "flow": t.flow,
                    "profile": t.profile,
                    "event": e.event,
                    "event_label": labels.event(e.event),
                    "state": state,
                    "state_label": labels.state(state),
                    "tone": labels.TONES.get(State(state), "neutral"),
                    "at": labels.when(e.at, seconds=True),
                }
            )
        return told


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
    account = session(request).account
    listener = hub.listen(account)  # first: nothing handed out from now on is missed
    try:
        # The page says the journal entry it was rendered at: what came since is told first.
        missed = await hub.since(account, int(request.query.get("depuis", "")))
    except ValueError:
        missed = []
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    try:
        await response.write(b"retry: 2000\n\n")
        told = 0
        for past in missed:
            await response.write(_event(past))
            told = past["seq"]
        while True:
            try:
                change = await asyncio.wait_for(listener.queue.get(), timeout=15)
            except TimeoutError:
                await response.write(b": ping\n\n")  # keeps proxies from closing an idle stream
                continue
            if change is None:
                break
            if change["seq"] > told:  # not already told from the journal above
                await response.write(_event(change))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        hub.leave(listener)
    return response


def _event(change: dict[str, Any]) -> bytes:
    data = json.dumps(change, ensure_ascii=False)
    return f"id: {change['seq']}\nevent: change\ndata: {data}\n\n".encode()


__all__ = ["Hub", "routes", "stream"]
