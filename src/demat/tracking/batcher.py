"""Batching concurrent writes: one transaction for all the writes that queue while the
previous one is being written."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from demat.errors import StoreError

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """Writes that arrive while a batch is being written wait and go together in the next one.

    Each write costs a few statements whatever its batch's size (one read of the rows, one
    multi-row insert or update, one journal append), so under load the cost per write falls
    with the number of concurrent callers, and a lone caller is written at once. ``run`` gets a
    batch and returns one result per item, an error for an item it refused; if the whole batch
    fails (a database error), each item is tried alone so that only the culprit fails. A caller
    cancelled before its batch starts is left out of it.
    """

    def __init__(self, run: Callable[[Sequence[Item]], Awaitable[Sequence[Result | StoreError]]]) -> None:
        self._run = run
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._task: asyncio.Task[None] | None = None
        self.limit = 256
        self.batches = 0  # batches written, and the items in them: the mean batch size
        self.items = 0

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def drained(self) -> None:
        """Wait for the batch being written, if any."""
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._queue:
                taken, self._queue = self._queue[: self.limit], self._queue[self.limit :]
                batch = [(item, future) for item, future in taken if not future.done()]
                if batch:
                    self.batches += 1
                    self.items += len(batch)
                    await self._write(batch)
        except BaseException as exc:  # cancelled (loop closing): nobody may wait forever
            for _, future in self._queue:
                if not future.done():
                    future.set_exception(StoreError(f"écriture abandonnée : {exc!r}", code="STORE_ABORTED"))
            self._queue.clear()
            raise
        finally:
            self._task = None

    async def _write(self, batch: Sequence[tuple[Item, asyncio.Future[Result]]]) -> None:
        outcomes: Sequence[Result | BaseException]
        try:
            outcomes = await self._run([item for item, _ in batch])
        except Exception as exc:
            outcomes = [exc] if len(batch) == 1 else [await self._alone(item) for item, _ in batch]
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(StoreError(f"écriture abandonnée : {exc!r}", code="STORE_ABORTED"))
            raise
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _alone(self, item: Item) -> Result | BaseException:
        try:
            return (await self._run([item]))[0]
        except Exception as exc:
            return exc


__all__ = [
    "Batcher",
]
