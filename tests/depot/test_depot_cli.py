"""``demat elections send`` (registered by the ``demat elections`` group) through the gateway
to a deposit server (started in-process), with
``--wait``: exit 0 and the accusé when the lists are valid, 1 and the findings' rows when the
control refuses them, 2 for a file that is missing; output with counts, never an elector."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tests.depot.conftest import NANTES, PDF, PKIFiles, reu_list

from demat.cli import main
from demat.depot.server import DepotServer


def run(argv: list[str]) -> int:
    """``demat …`` as the command line runs it."""
    return main(argv)


def config(tmp_path: Path, server: DepotServer, pki: PKIFiles) -> Path:
    cert, key = pki.client("nantes")
    path = tmp_path / "demat.toml"
    path.write_text(
        f"""
data_dir = "{tmp_path / "state"}"
poll_schedule = [[0.05, 400]]
[platforms.depot]
kind = "depot"
url = "{server.url}"
client_cert = "{cert}"
client_key = "{key}"
ca_bundle = "{pki.ca}"
[profiles.nantes]
siren = "214401093"
departement = "044"
platform = "depot"
""",
        "utf-8",
    )
    return path


@pytest.mark.parametrize("invalid", [False, True])
async def test_elections_send_waits_for_the_control_report(
    depot: DepotServer, depot_pki: PKIFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str], invalid: bool
) -> None:
    cfg = config(tmp_path, depot, depot_pki)
    lp, pv = tmp_path / f"{NANTES}_LP.csv", tmp_path / "pv.pdf"
    lp.write_bytes(reu_list(NANTES, 12, missing_name_at=9 if invalid else None))
    pv.write_bytes(PDF)
    argv = [
        "--config",
        str(cfg),
        "elections",
        "send",
        str(lp),
        "--profile",
        "nantes",
        "--commission",
        str(pv),
    ]
    code = await asyncio.to_thread(run, [*argv, "--wait", "--timeout", "30", "--json"])
    first, final = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["accepted"], first["commune"], first["electors"]) == (True, NANTES, 12)
    if invalid:
        assert code == 1 and final["state"] == "rejected" and final["valid"] is False
        assert final["findings"] == [{"file": lp.name, "code": "NOM_MANQUANT", "row": 9}]
    else:
        assert code == 0 and final["state"] == "acknowledged" and final["deposit"]
    assert "NOM0X" not in json.dumps([first, final])


def test_elections_send_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    assert run(["elections", "send", str(tmp_path / "none.csv"), "--profile", "p", "--commission", "x"]) == 2
