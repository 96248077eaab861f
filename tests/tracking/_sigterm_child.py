"""Child process for test_tracking_sigterm: polls a SQLite store until SIGTERM.

Each submission writes its id to the marker file, then stays in flight until the stop event is
set (by SIGTERM through install_signal_handlers), so the signal always lands mid-work.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from demat.tracking import Event, Happened, Poller, PollOutcome, Store, Transmission, install_signal_handlers


async def main(db: str, marker: str) -> int:
    stop = asyncio.Event()
    undo = install_signal_handlers(stop)

    async def submit(t: Transmission) -> PollOutcome:
        with Path(marker).open("a") as out:
            out.write(t.id + "\n")
        await stop.wait()
        return Happened(Event.SUBMITTED, remote_id="r-" + t.id[:8])

    async with Store.open(db) as store:
        poller = Poller(store, submit, owner="child", batch=10, concurrency=2, idle_seconds=0.05)
        await poller.run_forever(stop)
    undo()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
