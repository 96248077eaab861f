"""Sender for the transfer crash test: records a SIP's transfer and polls until it settles.

Run as ``python archive_driver.py SETTINGS.toml SIP ACCOUNT``; the test kills it with SIGKILL
while the SAE holds its upload (half read, or read and unanswered), then reconciles in its own
process. Prints ``RECORDED <id>`` once recorded, ``SETTLED <state>`` when done.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from demat.config import load_settings
from demat.gateway import Gateway
from demat.gateway.flows.archive import FLOW, ArchiveTransferFlow
from demat.tracking import Schedule

FAST = Schedule([(0.02, 2000)], jitter=0.0, error_base=0.02, error_cap=0.1)
#: Short, so that the next process takes the dead sender's transmission over quickly.
LEASE_SECONDS = 0.5


async def main(settings: Path, sip: Path, account: str) -> int:
    async with Gateway.open(load_settings(settings), schedule=FAST, lease_seconds=LEASE_SECONDS) as gw:
        flow = gw.flow(FLOW)
        assert isinstance(flow, ArchiveTransferFlow)
        sent = await flow.send(sip, profile="demo", to=account)
        print("RECORDED", sent.transmission.id, flush=True)
        [t] = await gw.wait([sent.transmission.id], timeout=60, interval=0.02)
        print("SETTLED", t.state.value, flush=True)
        return 0 if t.settled else 3


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])))
