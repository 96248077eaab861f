"""``demat demo``: the whole job, end to end, on embedded defaults.

Starts the sandbox platform in-process (mutual TLS, throwaway certificates), makes a profile
for a fictitious collectivité, then: builds and signs a PES (accepted), the same bordereaux
sent again in another file (the DGFiP rejects them as duplicates, to show how a rejection
reads), a PES whose totals are wrong (refused before sending: demat's rules are the DGFiP's),
an acte (acknowledged with its IDActe) and a sealed budget act; sends them through the gateway
(SQLite store, local spool), polls until every acknowledgement is in, verifies the journal and
prints a summary. Nothing to configure.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from demat.actes.budget.seal import seal
from demat.actes.budget.synthetic import synthetic_budget
from demat.actes.model import Acte, ActeDocument
from demat.config import PlatformAccount, Profile, Settings
from demat.depot.protocol import read_control_report, read_receipt
from demat.gateway import Gateway, SendResult
from demat.pes.ack import read_acquit
from demat.pes.build import build_pes_bytes
from demat.pes.sign import pes_sign_options, sign_pes, verify_pes
from demat.pes.synthetic import synthetic_pes
from demat.sandbox import Account, Sandbox, SandboxConfig
from demat.signing import devpki
from demat.signing.keys import Signer
from demat.tracking import Schedule, State, Transmission

if TYPE_CHECKING:
    from demat.storage import ArchiveStore

#: The demo collectivité's SIREN.
SIREN = "214400152"
#: The demo collectivité's SIRET.
SIRET = "21440015200011"
#: The demo collectivité's département.
DEPT = "044"

#: A one-page PDF: the délibération of the demo.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

#: Poll quickly: the sandbox answers at once.
DEMO_SCHEDULE = Schedule([(0.2, 50), (1.0, 30)], jitter=0.0, error_base=0.2, error_cap=2.0)


@dataclass
class DemoItem:
    """One document the demo sends: its row label, what sending it gave, the state it should reach."""

    label: str
    result: SendResult
    expected: State


def _out(stream: TextIO) -> Callable[[str], None]:
    def say(text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    return say


def _signer(workdir: Path) -> tuple[Signer, Path]:
    ca = devpki.make_ca("demat demo CA")
    leaf = devpki.issue(ca, "Ordonnateur de démonstration", kind="signing")
    (workdir / "trust").mkdir()
    (workdir / "trust" / "ca.pem").write_bytes(ca.cert_pem())
    return Signer(leaf.key, leaf.cert, (ca.cert,)), workdir / "trust"


def demo_acte(workdir: Path, today: dt.date, classification: dt.date, numero: str | None = None) -> Acte:
    """A délibération with a one-page PDF."""
    pdf = workdir / "deliberation.pdf"
    pdf.write_bytes(DEMO_PDF)
    return Acte(
        nature="DE",
        numero=numero or f"D{today:%Y%m%d}01",
        date=today,
        objet="Approbation du règlement intérieur du conseil municipal",
        matieres=(5, 2),
        classification_date=classification,
        document=ActeDocument.from_path(pdf, "99_DE"),
    )


def demo_budget(workdir: Path, today: dt.date) -> tuple[Path, Path]:
    """A sealed budget primitif of the demo collectivité and its délibération (paths)."""
    path = workdir / "budget_primitif.xml"
    path.write_bytes(seal(synthetic_budget(siret=SIRET, exercice=today.year)))
    delib = workdir / "deliberation_budget.pdf"
    delib.write_bytes(DEMO_PDF)
    return path, delib


def demo_profile(platform: str = "sandbox") -> Profile:
    """The fictitious collectivité of the demo (the sandbox's default account)."""
    return Profile(
        name="demo",
        siren=SIREN,
        siret=SIRET,
        label="Commune de démonstration",
        departement=DEPT,
        arrondissement="0",
        nature="31",
        id_post="044001",
        cod_col="001",
        cod_bud="00",
        platform=platform,
        return_emails=("actes@demo.example.org",),
    )


def sandbox_settings(sb: Sandbox, data_dir: Path, **options: object) -> Settings:
    """Settings with the demo profile on a running sandbox (its CA, its client certificate)."""
    cert, key = sb.client_cert_paths()
    # The sandbox kind: S²LOW's API plus the sandbox's HELIOS lookup (crash reconciliation).
    account = PlatformAccount(
        kind="s2low-sandbox", url=sb.url, client_cert=cert, client_key=key, ca_bundle=sb.ca_path
    )
    return Settings(
        data_dir=data_dir,
        profiles={"demo": demo_profile()},
        platforms={"sandbox": account},
        **options,  # type: ignore[arg-type]
    )


def demo_pes(
    signer: Signer | None, *, seed: int, wrong_totals: bool = False, siret: str = SIRET, resend: int = 0
) -> bytes:
    """A small PES dépense of the demo collectivité, signed when ``signer`` is given.
    ``resend=N`` puts the same bordereaux in another file (another NomFic): once the first is
    integrated, the DGFiP rejects them as duplicates (``ERREUR_DOUBLON_BORDEREAU``)."""
    model = synthetic_pes(
        siret=siret,
        id_post="044001",
        cod_col="001",
        cod_bud="00",
        bordereaux=2,
        pieces_per_bordereau=3,
        pj_count=1,
        pj_size=4000,
        seed=seed,
        wrong_totals=wrong_totals,
        nom_fic=f"PESALR2_{siret}_DEMO_{seed:04d}" + (f"_R{resend}" if resend else ""),
    )
    data = build_pes_bytes(model)
    if signer is None:
        return data
    options = pes_sign_options(city="Nantes", postal_code="44000", country="France")
    return sign_pes(data, signer, options=options)


def _row(t: Transmission, label: str) -> str:
    return f"{label:<34} {t.flow:<9} {t.state.value:<13} {t.remote_id or '-'}"


def demo_retour(siret: str, cod_bud: str) -> bytes:
    """A small PES_Retour (one bordereau of dépenses) as Hélios sends it to the collectivité."""
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<n:PES_Retour xmlns:n="http://www.minefi.gouv.fr/cp/helios/pes_v2/Rev0/retour">
<Enveloppe><Parametres><Version V="2"/><TypFic V="PESRETOUR_DEP"/>
<NomFic V="PES2R_DEP_demo.xml"/></Parametres></Enveloppe>
<EnTetePES><DteStr V="{dt.date.today():%Y-%m-%d}"/><IdPost V="044001"/><IdColl V="{siret}"/>
<CodColl V="001"/><CodBud V="{cod_bud}"/></EnTetePES>
<PES_DepenseRetour><EnTeteDepense/><Bordereau><Piece/></Bordereau></PES_DepenseRetour>
</n:PES_Retour>""".encode("iso-8859-1")


async def run_demo(stream: TextIO = sys.stdout, *, keep: Path | None = None, web: bool = False) -> int:
    """Run the demo; return 0 when every transmission ended as expected and the journal verifies.
    With ``web``, then leave the gateway, its poller and the operator console running (see
    :func:`serve_console`) until SIGTERM or SIGINT."""
    say = _out(stream)
    with tempfile.TemporaryDirectory(prefix="demat-demo-") as tmp:
        workdir = keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        today = dt.date.today()
        classification = dt.date(2024, 1, 15)
        say("demat demo: PES, acte and budget act through a sandbox S²LOW over mutual TLS")
        say(f"  working directory: {workdir}")
        account = Account(siren=SIREN, departement=DEPT)
        sandbox = Sandbox.start(SandboxConfig(account=account, classification_date=classification))
        async with sandbox as sb, demo_depot(workdir / "depot") as depot:
            say(f"  sandbox platform:  {sb.url} (client certificate required)")
            settings = with_depot(sandbox_settings(sb, workdir / "state"), depot)
            signer, trust = _signer(workdir)
            good = demo_pes(signer, seed=1)
            again = demo_pes(signer, seed=1, resend=1)
            bad = demo_pes(signer, seed=2, wrong_totals=True)
            report = verify_pes(good, trust_dir=trust)
            n = len(report.signatures)
            say(f"  PES built and signed: {n} XAdES signature(s), verified={report.valid}")
            async with Gateway.open(settings, schedule=DEMO_SCHEDULE) as gw:
                first = await gw.send_pes(good, profile="demo", name="PES_OK.xml")
                # The same bordereaux again, once the DGFiP has integrated them: a duplicate.
                await gw.wait([first.transmission.id], timeout=60)
                items = [
                    DemoItem("PES dépense (signé)", first, State.ACKNOWLEDGED),
                    DemoItem(
                        "PES renvoyé (mêmes bordereaux)",
                        await gw.send_pes(again, profile="demo", name="PES_RENVOI.xml"),
                        State.REJECTED,
                    ),
                    DemoItem(
                        "Délibération (ACTES)",
                        await gw.send_acte(demo_acte(workdir, today, classification), profile="demo"),
                        State.ACKNOWLEDGED,
                    ),
                ]
                budget, delib = demo_budget(workdir, today)
                sent = await gw.send_budget(
                    budget,
                    delib,
                    profile="demo",
                    numero=f"BP{today:%Y%m%d}",
                    classification_date=classification,
                )
                items.append(DemoItem("Budget primitif scellé (TOTEM)", sent, State.ACKNOWLEDGED))
                items.append(
                    DemoItem(
                        "Listes électorales (dépôt)", await send_demo_lists(gw, workdir), State.ACKNOWLEDGED
                    )
                )
                say(f"  {len(items)} transmissions recorded; polling until every acknowledgement is in…")
                final = await gw.wait([i.result.transmission.id for i in items], timeout=60)
                say("")
                say(f"{'document':<34} {'flow':<9} {'state':<13} {'remote id':<10}")
                say("-" * 72)
                ok = True
                for item, t in zip(items, final, strict=True):
                    say(_row(t, item.label))
                    ok &= t.state is item.expected
                    await _explain(gw, t, say)
                ok &= await _refused_before_sending(gw, bad, "PES aux totaux faux (signé)", say)
                # Later, the DGFiP sends a PES_Retour on its own; the poller collects it.
                prof = settings.profile("demo")
                sb.add_retour("PES2R_DEP_demo.xml", demo_retour(prof.siret or SIRET, prof.cod_bud or "00"))
                kept = await gw.collect_retours()
                for doc in kept:
                    blocks = ", ".join(
                        f"{n} bordereau(x) de {b}" for b, n in doc.info.get("bordereaux", {}).items()
                    )
                    say(f"PES_Retour {doc.name}: kept for profile {doc.profile} ({blocks})")
                ok &= [d.profile for d in kept] == ["demo"]
                journal = await gw.store.verify_journal()
                say("")
                say(
                    f"journal: {journal.entries} entries, hash chain {'verified' if journal.ok else 'BROKEN'}"
                )
                ok &= journal.ok
                opened: list[ArchiveStore] = []
                ok &= await archive_demo(
                    gw, final, workdir / "archive", signer, say, keep=opened if web else None
                )
                say("demo " + ("succeeded: every transmission ended as expected" if ok else "FAILED"))
                if web and ok:
                    try:
                        await serve_console(gw, sb, opened[0], stream)
                    finally:
                        await opened[0].close()
        return 0 if ok else 1


async def archive_demo(
    gw: Gateway,
    settled: list[Transmission],
    directory: Path,
    signer: Signer,
    say: Callable[[str], None],
    *,
    keep: list[ArchiveStore] | None = None,
) -> bool:
    """Deposit each settled transmission in an intermediate archive (SEDA 2.1 package sealed with
    the demo's key and a sandbox TSA's timestamp), the tracking journal's head anchored in the
    ledger's seals; verify the archive and the journal against those anchors. With ``keep``, the
    archive is left open and appended to it (the caller closes it)."""
    from demat.archive import build_package
    from demat.gateway.flows.archive import archive_input
    from demat.sandbox.tsa import SandboxTSA
    from demat.storage import ArchiveStore, in_process

    tsa = SandboxTSA.create()
    store = await ArchiveStore.open(
        directory,
        timestamper=in_process(tsa),
        trust=tsa.trust,
        signer=signer,
        journal_head=gw.store.journal_head,
    )
    try:
        for t in settled:
            facts = await archive_input(gw.context, t, gw.settings.archiving(t.profile))
            await store.deposit(build_package(facts))
        report = await store.verify()
        anchors = store.journal_anchors()
        anchored = await gw.store.verify_journal(anchors=anchors)
    finally:
        if keep is None:
            await store.close()
        else:
            keep.append(store)
    say(
        f"archive: {report.packages} SEDA packages sealed (signature + RFC 3161 timestamp) and"
        f" deposited, ledger of {report.ledger_entries} entries sealed,"
        f" {'verified' if report.ok else f'{len(report.problems)} PROBLEM(S)'};"
        f" journal head anchored {len(anchors)} time(s), {'holds' if anchored.ok else 'BROKEN'}"
    )
    return report.ok and anchored.ok and report.packages == len(settled)


async def _refused_before_sending(gw: Gateway, pes: bytes, label: str, say: Callable[[str], None]) -> bool:
    """Send a PES that breaks a rule: the gateway refuses it before anything is recorded, and
    says which acquittal error the DGFiP would have answered. Whether it was refused."""
    from demat.errors import ValidationError
    from demat.pes.rules import RULES

    try:
        await gw.send_pes(pes, profile="demo", name="PES_KO.xml")
    except ValidationError as exc:
        rule = RULES.get(exc.code)
        dgfip = f" (the DGFiP would answer {rule.dgfip})" if rule is not None and rule.dgfip else ""
        say(f"{label:<34} {'pes':<9} refused before sending")
        say(f"    {exc.code}: {exc.message}{dgfip}")
        return True
    say(f"{label:<34} {'pes':<9} NOT refused")
    return False


async def _explain(gw: Gateway, t: Transmission, say: Callable[[str], None]) -> None:
    docs = await gw.store.documents(t.id)
    for doc in docs:
        if doc.kind == "ack":
            acquit = read_acquit(doc.content)
            if acquit.accepted:
                say(f"    PES_ACQUIT: accepted ({len(acquit.elements)} element(s) OK)")
            for e in acquit.rejected:
                what = f"bordereau {e.num_bord}" if e.num_bord else e.domaine_label
                for err in e.errors:
                    say(f"    PES_ACQUIT: {what} refused: {err.code} {err.label}")
        elif doc.kind == "aracte":
            entry = [j for j in await gw.store.journal(t.id) if j.event == "ack_ok"]
            id_acte = entry[-1].payload.get("id_acte") if entry else None
            say(f"    ARActe received: IDActe {id_acte}")
        elif doc.kind == "receipt":
            receipt = read_receipt(doc.content)
            say(
                f"    accusé de dépôt signé: {receipt.received_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{len(receipt.files)} fichier(s)"
            )
        elif doc.kind == "control_report":
            report = read_control_report(doc.content)
            verdict = "listes conformes" if report.valid else "listes refusées"
            say(f"    rapport de contrôle: {verdict} ({report.electors} électeurs)")
        elif doc.kind == "anomalie":
            say(f"    anomaly: {doc.content[:200]!r}")


#: The demo commune's INSEE code (its electoral lists go to the deposit server).
DEMO_COMMUNE = "44109"


def demo_list(commune: str, electors: int, *, seed: int = 0, missing_name_at: int | None = None) -> bytes:
    """A REU extraction (liste principale) of ``electors`` fictitious electors of ``commune``;
    with ``missing_name_at``, the elector on that line (header = 1) has no birth name."""
    header = (
        "code du l'ugle;libellé de l'ugle;libellé du type de liste;nom de naissance;nom d'usage;prénoms;"
        "sexe;date de naissance;code de la commune de naissance;libellé commune de naissance;"
        "code du département de naissance;pays de naissance;identifiant nationalité;numéro de voie;"
        "libellé de voie;complément 1;complément 2;lieu-dit;code postal;commune;pays;code du bureau de vote;"
        "libellé du bureau de vote;numéro d'ordre dans le bureau de vote"
    )
    lines = [header]
    for i in range(electors):
        name = "" if len(lines) + 1 == missing_name_at else f"NOM{seed}X{i:05d}"
        born = f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50}"
        lines.append(
            f'"{commune}";"VILLE";"liste principale";"{name}";"";"PRENOM{i}";"{"MF"[i % 2]}";"{born}";'
            f'"{commune}";"VILLE";"{commune[:2]}";"FRANCE";"FR";"{i + 1}";"RUE DE LA PAIX";"";"";"";'
            f'"44000";"VILLE";"FRANCE";"1";"BUREAU 1";{i + 1}'
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass(frozen=True)
class DemoDepot:
    """The demo's deposit server and the demo commune's account on it."""

    url: str
    account: PlatformAccount


@contextlib.asynccontextmanager
async def demo_depot(directory: Path) -> AsyncIterator[DemoDepot]:
    """A deposit server in-process (throwaway PKI) with an account for the demo commune."""
    from demat.depot.pki import DepotPKI
    from demat.depot.server import DepotConfig, DepotServer, create_account

    pki = DepotPKI.load_or_create(directory / "pki")
    config = DepotConfig(
        directory=directory,
        cert=pki.server_cert,
        key=pki.server_key,
        signer=pki.signer(),
        client_ca=pki.ca_cert,
    )
    async with DepotServer.start(config) as server:
        key, cert = pki.issue_client("mairie-demo", directory / "client")
        await create_account(
            server.store, "mairie-demo", "commune", DEMO_COMMUNE, certificate_pem=cert.read_bytes()
        )
        account = PlatformAccount(
            kind="depot", url=server.url, client_cert=cert, client_key=key, ca_bundle=pki.ca_cert
        )
        yield DemoDepot(server.url, account)


def with_depot(settings: Settings, depot: DemoDepot) -> Settings:
    """``settings`` plus the deposit server's account and a profile of the demo commune on it."""
    profile = demo_profile("depot").model_copy(update={"name": "demo-listes"})
    return settings.model_copy(
        update={
            "platforms": {**settings.platforms, "depot": depot.account},
            "profiles": {**settings.profiles, "demo-listes": profile},
        }
    )


async def send_demo_lists(gw: Gateway, workdir: Path) -> SendResult:
    """Deposit the demo commune's liste principale, its tableau and the commission's page."""
    from demat.gateway.flows.elections import ElectionsFlow

    lp = workdir / f"{DEMO_COMMUNE}_LP.csv"
    lp.write_bytes(demo_list(DEMO_COMMUNE, 25))
    tableau, commission = workdir / "tableau_rectificatif.pdf", workdir / "commission_signee.pdf"
    tableau.write_bytes(DEMO_PDF)
    commission.write_bytes(DEMO_PDF)
    flow = gw.flow("elections")
    assert isinstance(flow, ElectionsFlow)
    return await flow.send([lp], profile="demo-listes", commission=commission, tableaux=[tableau])


async def serve_console(gw: Gateway, sb: Sandbox, archive: ArchiveStore, stream: TextIO) -> None:
    """Leave the demo running for a browser: the operator console over HTTPS (the sandbox's
    throwaway CA issued its certificate), the gateway's poller, a throwaway operator account.
    The last line printed is one JSON object (``url``, ``user``, ``password``, ``ca``,
    ``data_dir``: where the demo's store is, to add accounts with ``demat web accounts``); SIGTERM
    or SIGINT stops everything cleanly."""
    import json
    import secrets

    from demat.cli.web import store_url
    from demat.web import Accounts, Console, Role, TLSFiles, run_until_stopped

    accounts = await Accounts.open(store_url(gw.settings))
    try:
        password = secrets.token_urlsafe(18)
        made = await accounts.add(
            "operateur", password, role=Role.OPERATOR, name="Opérateur de démonstration"
        )
        fact: dict[str, object] = {
            "login": made.login,
            "name": made.name,
            "role": made.role.value,
            "profiles": [],
            "by": "demo",
        }
        await gw.store.record_fact("account_added", fact)
        tls = TLSFiles(sb.pki.server_cert, sb.pki.server_key, sb.pki.ca_cert)
        console = Console(gw, accounts, archive=archive)

        def ready(url: str) -> None:
            line = {
                "url": url,
                "user": "operateur",
                "password": password,
                "ca": str(tls.ca),
                "data_dir": str(gw.settings.data_dir),
            }
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
            stream.flush()

        await run_until_stopped(console, host="127.0.0.1", port=0, tls=tls, poll=True, ready=ready)
    finally:
        await accounts.close()


def main() -> int:
    """``demat demo``: run the demo, return its exit code."""
    return asyncio.run(run_demo())


__all__ = [
    "DEMO_COMMUNE",
    "DEMO_PDF",
    "DEMO_SCHEDULE",
    "DEPT",
    "SIREN",
    "SIRET",
    "DemoDepot",
    "DemoItem",
    "demo_acte",
    "demo_budget",
    "demo_depot",
    "demo_list",
    "demo_pes",
    "demo_profile",
    "demo_retour",
    "main",
    "run_demo",
    "sandbox_settings",
    "send_demo_lists",
    "serve_console",
    "with_depot",
]
