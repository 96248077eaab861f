"""A poller process stops cleanly on SIGTERM: work in flight finishes, the rest is released."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from demat.tracking import IN_DOUBT, State, Store

CHILD = Path(__file__).with_name("_sigterm_child.py")


async def test_sigterm_finishes_in_flight_work_and_releases_leases(tmp_path: Path) -> None:
    db, marker = tmp_path / "store.db", tmp_path / "started.txt"
    async with Store.open(db) as store:
        for i in range(10):
            await store.record("ville", "pes", hashlib.sha256(bytes([i])).hexdigest(), f"PES_{i}.xml")

    child = subprocess.Popen([sys.executable, str(CHILD), str(db), str(marker)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (marker.exists() and len(marker.read_text().split()) >= 2):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the child never started its submissions"
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err.decode()

    started = set(marker.read_text().split())
    assert len(started) == 2  # concurrency 2: the others never began
    async with Store.open(db) as store:
        rows = await store.transmissions()
        assert {t.id for t in rows if t.state is State.SENT} == started
        assert {t.state for t in rows if t.id not in started} == {State.ACCEPTED}
        assert all(t.lease_owner is None and t.lease_until is None for t in rows)
        assert await store.counts_by_state(states=IN_DOUBT) == {}  # no submission left in doubt
        events = Counter(e.event for e in await store.journal())
        assert events == Counter(recorded=10, send_started=2, submitted=2)  # nothing else moved
        assert (await store.verify_journal()).ok
