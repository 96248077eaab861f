"""The operator's commands, as a shell user runs them: a standalone sandbox, then
``demat send --wait``, ``status``, ``ack``, ``journal verify``, ``init`` and ``demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demat.demo import demo_pes

DEMAT = [sys.executable, "-m", "demat.cli"]


def run(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run(
        [*DEMAT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=check
    )


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    workdir = tmp_path_factory.mktemp("sandbox")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [*DEMAT, "sandbox", "--dir", str(workdir)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def workdir(tmp_path: Path, sandbox: dict[str, str]) -> Path:
    (tmp_path / "demat.toml").write_text(
        f"""
data_dir = "state"
poll_schedule = [[0.1, 500]]
[platforms.sandbox]
kind = "s2low-sandbox"
url = "{sandbox["url"]}"
client_cert = "{sandbox["client_cert"]}"
client_key = "{sandbox["client_key"]}"
ca_bundle = "{sandbox["ca"]}"
[profiles.ville]
siren = "214400152"
siret = "21440015200011"
departement = "044"
nature = "31"
id_post = "044001"
cod_col = "001"
cod_bud = "00"
platform = "sandbox"
return_emails = ["actes@ville.example.org"]
"""
    )
    return tmp_path


def test_send_wait_status_ack_and_journal(workdir: Path) -> None:
    (workdir / "ok.xml").write_bytes(demo_pes(None, seed=901))
    (workdir / "ko.xml").write_bytes(demo_pes(None, seed=902, wrong_totals=True))
    sent = run("send", "ok.xml", "ko.xml", "--profile", "ville", "--wait", "--json", cwd=workdir)
    assert sent.returncode == 1, sent.stderr  # one of them was rejected
    lines = [json.loads(x) for x in sent.stdout.splitlines()]
    recorded = [x for x in lines if "accepted" in x]
    assert [x["accepted"] for x in recorded] == [True, True]
    final = {x["id"]: x["state"] for x in lines if "accepted" not in x}
    ok_id, ko_id = (x["id"] for x in recorded)
    assert final == {ok_id: "acknowledged", ko_id: "rejected"}

    status = run("status", "--counts", "--json", cwd=workdir, check=True)
    assert json.loads(status.stdout)["counts"] == {"acknowledged": 1, "rejected": 1}
    one = json.loads(run("status", ko_id, "--json", cwd=workdir, check=True).stdout)
    assert [e["event"] for e in one["journal"]][:2] == ["recorded", "send_started"]

    ack = run("ack", ko_id, cwd=workdir)
    assert ack.returncode == 1
    assert "ERREUR_CUMUL_MONTANTS" in ack.stdout
    assert run("ack", ok_id, cwd=workdir, check=True).stdout.count("OK") >= 1

    verify = run("journal", "verify", "--json", cwd=workdir, check=True)
    assert json.loads(verify.stdout)["valid"] is True

    again = run("send", "ok.xml", "--profile", "ville", "--json", cwd=workdir, check=True)
    assert json.loads(again.stdout) | {"warnings": []} == json.loads(again.stdout) | {
        "id": ok_id,
        "new": False,
        "warnings": [],
    }


def test_send_an_acte_described_in_toml(workdir: Path) -> None:
    from demat.demo import DEMO_PDF

    (workdir / "deliberation.pdf").write_bytes(DEMO_PDF)
    (workdir / "acte.toml").write_text(
        """
[acte]
nature = "DE"
numero = "CLI2024_01"
date = 2024-05-07
objet = "Tarifs de la cantine scolaire"
matieres = "5.2"
classification_date = 2024-01-15
document = { path = "deliberation.pdf", typology = "99_DE" }
"""
    )
    sent = run("send", "acte.toml", "--profile", "ville", "--wait", "--json", cwd=workdir)
    assert sent.returncode == 0, sent.stderr
    lines = [json.loads(x) for x in sent.stdout.splitlines()]
    assert lines[0]["flow"] == "actes"
    assert lines[-1]["state"] == "acknowledged"


def test_send_refuses_wrong_collectivite_and_unknown_profile(workdir: Path) -> None:
    (workdir / "other.xml").write_bytes(demo_pes(None, seed=903, siret="21750001600019"))
    refused = run("send", "other.xml", "--profile", "ville", cwd=workdir)
    assert refused.returncode == 1
    assert "21750001600019" in refused.stderr
    unknown = run("send", "other.xml", "--profile", "nope", cwd=workdir)
    assert unknown.returncode == 2
    assert "unknown profile" in unknown.stderr
    missing = run("send", "absent.xml", "--profile", "ville", cwd=workdir)
    assert missing.returncode == 2


def test_init_writes_settings_that_load(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert run("init", cwd=tmp_path).returncode == 2  # no silent overwrite
    from demat.config import load_settings

    settings = load_settings(tmp_path / "demat.toml")
    assert settings.profile("ville").siret == "21440015200011"


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    demo = run("demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "hash chain verified" in demo.stdout
    assert "ERREUR_CUMUL_MONTANTS" in demo.stdout


def test_poll_collects_pes_retours_listed_and_saved(workdir: Path, sandbox: dict[str, str]) -> None:
    import ssl
    import urllib.request

    retour = (
        b'<?xml version="1.0" encoding="ISO-8859-1"?><n:PES_Retour xmlns:n="urn:r"><EnTetePES>'
        b'<IdColl V="21440015200011"/><CodColl V="001"/><CodBud V="00"/></EnTetePES></n:PES_Retour>'
    )
    ctx = ssl.create_default_context(cafile=sandbox["ca"])
    ctx.load_cert_chain(sandbox["client_cert"], sandbox["client_key"])
    url = sandbox["url"] + "/_sandbox/helios/retour?name=PES2R_DEP_CLI.xml"
    with urllib.request.urlopen(urllib.request.Request(url, data=retour), context=ctx) as reply:
        rid = json.loads(reply.read())["id"]

    polled = json.loads(run("poll", "--once", "--json", cwd=workdir, check=True).stdout)
    assert polled["retours"] >= 1
    listed = run("retours", "--json", "--profile", "ville", "--save", "out", cwd=workdir, check=True)
    [row] = [json.loads(x) for x in listed.stdout.splitlines() if json.loads(x)["remote_id"] == rid]
    assert (row["profile"], row["name"], row["info"]["id_coll"]) == (
        "ville",
        "PES2R_DEP_CLI.xml",
        "21440015200011",
    )
    assert Path(workdir / row["saved"]).read_bytes() == retour
    assert "PES2R_DEP_CLI.xml" in run("retours", cwd=workdir, check=True).stdout
