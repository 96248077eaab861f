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
    (workdir / "ko.xml").write_bytes(demo_pes(None, seed=901, resend=1))  # the same bordereaux
    (workdir / "bad.xml").write_bytes(demo_pes(None, seed=902, wrong_totals=True))
    bad = run("send", "bad.xml", "--profile", "ville", "--wait", "--json", cwd=workdir)
    assert bad.returncode == 1, bad.stderr  # refused before sending, as the DGFiP would
    assert "PES_MT_BORD_HT" in bad.stdout + bad.stderr
    lines = []
    for name, code in (("ok.xml", 0), ("ko.xml", 1)):  # ko.xml once ok.xml is integrated
        sent = run("send", name, "--profile", "ville", "--wait", "--json", cwd=workdir)
        assert sent.returncode == code, sent.stdout + sent.stderr
        lines += [json.loads(x) for x in sent.stdout.splitlines()]
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
    assert "ERREUR_DOUBLON_BORDEREAU" in ack.stdout
    assert "bordereau 1/2024: KO" in ack.stdout  # what was refused is spelled out
    accepted = run("ack", ok_id, cwd=workdir, check=True).stdout
    assert ": accepted (3 of 3 element(s) OK)" in accepted  # one line, not one per bordereau

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
    assert "ERREUR_DOUBLON_BORDEREAU" in demo.stdout  # a rejection by the DGFiP, as it reads
    assert "refused before sending" in demo.stdout and "ERREUR_CUMUL_MONTANTS" in demo.stdout


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


# -- an operator's day (issue 11) ------------------------------------------------------------------


def settings_for(workdir: Path, sandbox: dict[str, str], *, url: str | None = None, extra: str = "") -> None:
    """demat.toml for the sandbox with demat's default polling schedules (``extra`` adds to it)."""
    text = (workdir / "demat.toml").read_text()
    body = text.replace("poll_schedule = [[0.1, 500]]\n", extra)
    if url is not None:
        body = body.replace(f'url = "{sandbox["url"]}"', f'url = "{url}"')
    (workdir / "demat.toml").write_text(body)


def test_send_wait_reports_an_answer_at_once_printing_each_change(
    workdir: Path, sandbox: dict[str, str]
) -> None:
    settings_for(workdir, sandbox)  # the defaults: before issue 11 the first check came after 60 s
    (workdir / "ok.xml").write_bytes(demo_pes(None, seed=911))
    sent = run("send", "ok.xml", "--profile", "ville", "--wait", "--timeout", "20", cwd=workdir)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    lines = sent.stdout.splitlines()
    assert lines[0].startswith("ok.xml: accepted as ")
    short = lines[0].split()[3]
    assert lines[1].startswith(f"{short} ok.xml: sent (remote id ")
    assert lines[2] == f"{short} ok.xml: acknowledged"
    assert sent.stderr == ""


def test_send_wait_says_when_it_times_out(workdir: Path, sandbox: dict[str, str]) -> None:
    settings_for(workdir, sandbox, extra="[poll_schedules]\nsent = [[60, 5]]\n")
    (workdir / "slow.xml").write_bytes(demo_pes(None, seed=912))
    sent = run("send", "slow.xml", "--profile", "ville", "--wait", "--timeout", "1", cwd=workdir)
    assert sent.returncode == 2
    assert "still sent" in sent.stderr
    assert "timed out" in sent.stderr


def test_platform_out_of_reach_then_fixed_and_retried(workdir: Path, sandbox: dict[str, str]) -> None:
    good = (workdir / "demat.toml").read_text()
    settings_for(workdir, sandbox, url="https://127.0.0.1:9")  # nothing listens there
    (workdir / "later.xml").write_bytes(demo_pes(None, seed=913))
    sent = run("send", "later.xml", "--profile", "ville", "--wait", "--json", cwd=workdir)
    assert sent.returncode == 2, sent.stdout + sent.stderr  # not 0 with the state 'accepted'
    assert "not sent" in sent.stderr
    assert "connexion impossible" in sent.stderr  # the reason, not only in a log
    tid = json.loads(sent.stdout.splitlines()[0])["id"]
    listed = [json.loads(x) for x in run("status", "--json", cwd=workdir, check=True).stdout.splitlines()]
    [row] = [x for x in listed if x["id"] == tid]
    assert row["state"] == "accepted"
    assert row["last_error"]
    assert row["next_attempt_at"] is not None  # backing off

    (workdir / "demat.toml").write_text(good)  # the operator fixes the URL
    retried = run("retry", tid[:8], cwd=workdir, check=True)
    assert "due now" in retried.stdout
    polled = run("poll", "--once", cwd=workdir, check=True)
    assert f"{tid[:8]} later.xml: submitted → sent" in polled.stdout
    assert "next check" in polled.stdout


def test_status_lists_newest_first_with_filters_and_prefixes(workdir: Path) -> None:
    for seed in (921, 922):
        (workdir / f"p{seed}.xml").write_bytes(demo_pes(None, seed=seed))
    run("send", "p921.xml", "p922.xml", "--profile", "ville", "--wait", cwd=workdir, check=True)
    rows = [json.loads(x) for x in run("status", "--json", cwd=workdir, check=True).stdout.splitlines()]
    assert [r["name"] for r in rows][:2] == ["p922.xml", "p921.xml"]  # newest first
    text = run("status", "--state", "acknowledged", "--flow", "pes", cwd=workdir, check=True).stdout
    assert "p921.xml" in text
    assert text.splitlines()[0].split()[:3] == ["id", "recorded", "profile"]
    none = run("status", "--state", "rejected", "--since", "2999-01-01", cwd=workdir, check=True)
    assert none.stdout.strip() == "no transmission matches"
    one = run("status", rows[0]["id"][:6], cwd=workdir, check=True).stdout
    assert one.startswith(rows[0]["id"])
    assert "journal:" in one


def test_retry_resends_a_rejected_document_journaled_with_who_and_why(workdir: Path) -> None:
    (workdir / "ok.xml").write_bytes(demo_pes(None, seed=931))
    (workdir / "ko.xml").write_bytes(demo_pes(None, seed=931, resend=1))  # rejected as a duplicate
    run("send", "ok.xml", "--profile", "ville", "--wait", cwd=workdir, check=True)
    sent = run("send", "ko.xml", "--profile", "ville", "--wait", "--json", cwd=workdir)
    assert sent.returncode == 1
    tid = json.loads(sent.stdout.splitlines()[0])["id"]
    without = run("retry", tid, cwd=workdir)
    assert without.returncode == 2
    assert "--reason" in without.stderr
    again = run("retry", tid[:8], "--reason", "rules fixed at the DGFiP", "--by", "alice", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert "sent again as" in again.stdout
    new_short = again.stdout.split("sent again as ")[1].split()[0]
    new = json.loads(run("status", new_short, "--json", cwd=workdir, check=True).stdout)
    first = new["journal"][0]
    assert (first["event"], first["data"]["resend_of"]) == ("resent", tid)
    assert (first["data"]["by"], first["data"]["reason"]) == ("alice", "rules fixed at the DGFiP")
    twice = run("retry", tid, "--reason", "again", cwd=workdir)
    assert twice.returncode == 1
    assert "already sent again" in twice.stderr


def _in_doubt(workdir: Path, name: str) -> str:
    """Send ``name`` without waiting, then play a sender that died mid-upload on a platform that
    cannot be asked (the transmission is unknown, waiting for a person)."""
    import asyncio

    from demat.tracking import Event, Move, Store

    sent = run("send", name, "--profile", "ville", "--json", cwd=workdir, check=True)
    tid: str = json.loads(sent.stdout)["id"]

    async def doubt() -> None:
        async with Store.open(f"sqlite:///{workdir / 'state' / 'demat.sqlite3'}") as store:
            [t] = [x for x in await store.acquire_due("dead", 10, 60) if x.id == tid]
            t = await store.move(Move.of(t, Event.SEND_STARTED, owner="dead", keep_lease=True))
            t = await store.move(Move.of(t, Event.OUTCOME_UNKNOWN, data={"error": "reset"}, owner="dead"))
            await store.move(
                Move.of(t, Event.UNDETERMINED, data={"error": "no lookup", "needs_person": True})
            )

    asyncio.run(doubt())
    return tid


def test_resolve_settles_a_transmission_in_doubt(workdir: Path) -> None:
    (workdir / "lost.xml").write_bytes(demo_pes(None, seed=941))
    tid = _in_doubt(workdir, "lost.xml")
    shown = json.loads(run("status", tid[:8], "--json", cwd=workdir, check=True).stdout)
    assert (shown["state"], shown["next_attempt_at"]) == ("unknown", None)
    assert "demat resolve" in shown["hint"]
    no_reason = run("resolve", tid[:8], "--as", "absent", cwd=workdir)
    assert no_reason.returncode == 2
    no_id = run("resolve", tid[:8], "--as", "sent", "--reason", "seen", cwd=workdir)
    assert no_id.returncode == 2
    assert "--remote-id" in no_id.stderr
    unconfirmed = run("retry", tid[:8], "--reason", "not on S2LOW", cwd=workdir)  # no terminal, no --yes
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr
    done = run(
        "resolve", tid[:8], "--as", "absent", "--reason", "not in S2LOW's list", "--by", "bob", cwd=workdir
    )
    assert done.returncode == 0, done.stderr
    assert "unknown → accepted" in done.stdout
    journal = json.loads(run("status", tid, "--json", cwd=workdir, check=True).stdout)["journal"]
    assert journal[-1]["event"] == "resolved_absent"
    assert journal[-1]["data"] == {"by": "bob", "reason": "not in S2LOW's list"}
    polled = run("poll", "--once", cwd=workdir, check=True).stdout
    assert "submitted → sent" in polled


def test_resolve_as_sent_follows_the_transaction_and_ack_reads_an_acte(workdir: Path) -> None:
    from demat.demo import DEMO_PDF

    (workdir / "deliberation.pdf").write_bytes(DEMO_PDF)
    (workdir / "acte.toml").write_text(
        """
[acte]
nature = "DE"
numero = "CLI2024_11"
date = 2024-05-07
objet = "Tarifs du centre de loisirs"
matieres = "5.2"
classification_date = 2024-01-15
document = { path = "deliberation.pdf", typology = "99_DE" }
"""
    )
    sent = run("send", "acte.toml", "--profile", "ville", "--wait", "--json", cwd=workdir, check=True)
    tid = json.loads(sent.stdout.splitlines()[0])["id"]
    ack = run("ack", tid[:8], "--save", "acks", cwd=workdir, check=True).stdout
    assert "ARActe: received by the préfecture on" in ack
    assert "IDActe 044-214400152-20240507-CLI2024_11-DE" in ack
    assert list((workdir / "acks").iterdir())


def test_poll_says_what_it_does_and_stops_cleanly(workdir: Path) -> None:
    import signal
    import time

    (workdir / "bg.xml").write_bytes(demo_pes(None, seed=951))
    run("send", "bg.xml", "--profile", "ville", cwd=workdir, check=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    poller = subprocess.Popen([*DEMAT, "poll"], cwd=workdir, env=env, stderr=subprocess.PIPE, text=True)
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        assert poller.stderr is not None
        while time.monotonic() < deadline:
            line = poller.stderr.readline()
            seen.append(line)
            if "submitted → sent" in line:
                break
        assert any("bg.xml: send_started → sending" in x for x in seen), seen
        assert "bg.xml: submitted → sent" in seen[-1]  # a line per change, as it happens
    finally:
        poller.send_signal(signal.SIGTERM)
        assert poller.wait(timeout=20) == 0
    quiet = run("poll", "--once", "-q", cwd=workdir, check=True)
    assert quiet.stderr == ""


def test_the_readme_gateway_example_runs_as_written(workdir: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    [example] = [b for b in blocks if "Gateway.open" in b]
    (workdir / "PES.xml").write_bytes(demo_pes(None, seed=961))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ran = subprocess.run(
        [sys.executable, "-c", example], cwd=workdir, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "acknowledged"
