"""Sender/poller process for the crash test: records every document, then sends and polls.

Run as ``python crash_driver.py CONFIG.json``; the test kills it with SIGKILL at random points
and starts it again. Each run records the same documents (idempotent: same transmissions),
then polls until everything is settled, printing ``SETTLED`` when done.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import sys
from pathlib import Path

from demat.actes.model import Acte, ActeDocument
from demat.config import load_settings
from demat.gateway import Gateway
from demat.tracking import PollOutcome, Schedule, Transmission

FAST = Schedule([(0.05, 2000)], jitter=0.0, error_base=0.05, error_cap=0.2)


async def main(config_path: Path) -> int:
    config = json.loads(config_path.read_text())
    settings = load_settings(Path(config["settings"]))
    async with Gateway.open(settings, schedule=FAST, lease_seconds=config["lease_seconds"]) as gw:
        seed = os.environ.get("DEMAT_CRASH_SEED")
        if seed is not None:
            _crash_inside_handler(gw, random.Random(int(seed)), config["crash_rate"])
        ids = []
        for pes in config["pes"]:
            ids.append((await gw.send_pes(Path(pes), profile="demo")).transmission.id)
        for spec in config["actes"]:
            acte = Acte(
                nature="DE",
                numero=spec["numero"],
                date=dt.date.fromisoformat(spec["date"]),
                objet="Délibération du test de pannes",
                matieres=(5, 2),
                classification_date=dt.date.fromisoformat(spec["classification_date"]),
                document=ActeDocument.from_path(Path(spec["pdf"]), "99_DE"),
            )
            ids.append((await gw.send_acte(acte, profile="demo")).transmission.id)
        final = await gw.wait(ids, timeout=config["timeout"], interval=0.05)
        if all(t.settled for t in final):
            print("SETTLED", flush=True)
            return 0
        return 3


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _crash_inside_handler(gw: Gateway, rng: random.Random, rate: float) -> None:
    """Die at the points that matter: before a platform call, during it (a timer fires while
    the upload or poll is in flight), or after the platform answered but before the store
    commits the outcome."""
    real = gw.handle

    async def handle(t: Transmission) -> PollOutcome:
        roll = rng.random()
        if roll < rate:
            _die()
        if roll < 2 * rate:
            asyncio.get_running_loop().call_later(rng.uniform(0.0, 0.08), _die)
        outcome = await real(t)
        if rng.random() < rate:
            _die()
        return outcome

    gw.poller.handler = handle


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]))))
