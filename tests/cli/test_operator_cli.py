"""The operator's command line without a platform: a throwaway key for trials, help that says
where a real one comes from, ``--help`` that loads no more than it needs, progress drawn on a
terminal and nothing of it in a pipe (issue 11)."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
from pathlib import Path

from demat.pes.synthetic import write_synthetic

DEMAT = [sys.executable, "-m", "demat.cli"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([*DEMAT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run demat with its standard output and error on a pseudo-terminal, as a person sees it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TERM": "xterm", "COLUMNS": "100"}
    main, child = pty.openpty()
    proc = subprocess.Popen([*DEMAT, *args], cwd=cwd, env=env, stdin=child, stdout=child, stderr=child)
    os.close(child)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(main)
    return proc.wait(timeout=60), seen.decode("utf-8", "replace")


def test_keys_dev_makes_a_throwaway_signer_that_pes_sign_and_verify_accept(workdir: Path) -> None:
    made = run("keys", "dev", "--dir", "keys", cwd=workdir)
    assert made.returncode == 0, made.stderr
    assert "NOT FOR PRODUCTION" in made.stdout
    p12 = workdir / "keys" / "signer.p12"
    assert stat.S_IMODE(p12.stat().st_mode) == 0o600
    assert "NOT FOR PRODUCTION" in (workdir / "keys" / "README.txt").read_text()
    again = run("keys", "dev", "--dir", "keys", cwd=workdir)
    assert again.returncode == 2
    assert "--force" in again.stderr

    write_synthetic(workdir / "PES.xml", "20KB")
    signed = run("pes", "sign", "PES.xml", "-o", "PES.signed.xml", "--p12", str(p12), cwd=workdir)
    assert signed.returncode == 0, signed.stderr
    verified = run("pes", "verify", "PES.signed.xml", "--trust", "keys/trust", cwd=workdir)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_pes_sign_help_says_where_a_real_key_comes_from(workdir: Path) -> None:
    text = " ".join(run("pes", "sign", "--help", cwd=workdir).stdout.split())
    assert "RGS**" in text
    assert "PKCS#12" in text
    assert "demat keys dev" in text


def test_help_loads_neither_the_settings_nor_the_gateway(workdir: Path) -> None:
    probe = (
        "import sys\n"
        "from demat.cli import build_parser\n"
        "build_parser()\n"
        "heavy = ['pydantic', 'sqlalchemy', 'aiohttp', 'cryptography', 'demat.gateway.gateway', "
        "'demat.actes.read', 'demat.pes.sign', 'rich']\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    loaded = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert loaded.stdout.split() == []


def test_pes_inspect_loads_no_signature_code(workdir: Path) -> None:
    write_synthetic(workdir / "PES.xml", "20KB")
    probe = (
        "import sys\n"
        "from demat.cli import main\n"
        "main(['pes', 'inspect', 'PES.xml'])\n"
        "heavy = ['cryptography', 'demat.signing.keys', 'demat.actes.read', 'demat.pes.build', "
        "'sqlalchemy', 'aiohttp']\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=workdir, env=env, capture_output=True, text=True, check=True
    )
    assert loaded.stderr.split() == []


def test_validate_shows_progress_on_a_terminal_and_nothing_in_a_pipe(workdir: Path) -> None:
    write_synthetic(workdir / "PES.xml", "3MB")
    code, screen = on_a_terminal("pes", "validate", "PES.xml", cwd=workdir)
    assert code == 0, screen
    assert "validating PES.xml" in screen  # the bar, drawn then erased
    assert "\x1b[" in screen
    piped = run("pes", "validate", "PES.xml", cwd=workdir)
    assert piped.returncode == 0
    assert "\x1b" not in piped.stdout + piped.stderr
    assert "validating" not in piped.stdout + piped.stderr


def test_init_writes_an_acte_description_that_packages_under_the_profile(workdir: Path) -> None:
    from demat.demo import DEMO_PDF

    assert run("init", cwd=workdir).returncode == 0
    made = run("init", "--acte", cwd=workdir)
    assert made.returncode == 0, made.stderr
    assert "# numéro interne" in (workdir / "acte.toml").read_text()
    for name in ("deliberation.pdf", "grille-tarifaire.pdf"):
        (workdir / name).write_bytes(DEMO_PDF)
    # The identity (return e-mails included) comes from the profile; -o names a folder not made yet.
    packaged = run("actes", "package", "acte.toml", "-o", "out/", "--json", cwd=workdir)
    assert packaged.returncode == 0, packaged.stderr
    archive = Path(json.loads(packaged.stdout)["archive"])
    assert archive.parent == Path("out")
    assert (workdir / archive).is_file()
    named = run("actes", "package", "acte.toml", "-o", "sub/acte.tar.gz", cwd=workdir)
    assert named.returncode == 0, named.stderr
    assert (workdir / "sub" / "acte.tar.gz").is_file()
    assert named.stdout.startswith("sub/acte.tar.gz: written, ")
    assert "IDActe 044-214400152-20240507-DEL2024_042-DE" in named.stdout
    # A synthetic PES of the profile's collectivité: what `demat send --profile ville` accepts.
    built = run(
        "pes", "build", "--synthetic", "--size", "30KB", "--profile", "ville", "-o", "v.xml", cwd=workdir
    )
    assert built.returncode == 0, built.stderr
    inspected = json.loads(run("pes", "inspect", "v.xml", "--json", cwd=workdir).stdout)
    assert (inspected["id_coll"], inspected["id_post"], inspected["cod_col"]) == (
        "21440015200011",
        "044001",
        "001",
    )


def test_pes_retour_reads_a_file(workdir: Path) -> None:
    from demat.demo import demo_pes, demo_retour

    (workdir / "retour.xml").write_bytes(demo_retour("21440015200011", "00"))
    (workdir / "aller.xml").write_bytes(demo_pes(None, seed=5))
    read = run("pes", "retour", "retour.xml", cwd=workdir)
    assert read.returncode == 0, read.stderr
    assert "PES_Retour PESRETOUR_DEP PES2R_DEP_demo.xml" in read.stdout
    assert "IdColl 21440015200011" in read.stdout
    assert "depense: 1 bordereau(x), 1 pièce(s)" in read.stdout
    both = run("pes", "retour", "retour.xml", "aller.xml", "--json", cwd=workdir)
    assert both.returncode == 1  # a PES_Aller is not a PES_Retour
    first, second = (json.loads(x) for x in both.stdout.splitlines())
    assert first["cod_bud"] == "00"
    assert second["file"] == "aller.xml"
    assert "error" in second


def test_a_quick_look_reads_no_settings_unless_there_are_some(workdir: Path) -> None:
    import argparse

    from demat.cli._common import xml_limits_from
    from demat.config import Settings
    from demat.gateway.options import xml_limits
    from demat.xml.safe import DEFAULT_LIMITS

    assert xml_limits(Settings()) == DEFAULT_LIMITS  # the shortcut gives what the settings would
    assert xml_limits_from(argparse.Namespace(config=None)) == DEFAULT_LIMITS
    (workdir / "demat.toml").write_text("[limits]\nmax_xml_depth = 12\n")
    assert xml_limits_from(argparse.Namespace(config=None)).max_depth == 12
    (workdir / "deep.xml").write_text("<a>" * 20 + "</a>" * 20)
    refused = run("pes", "inspect", "deep.xml", cwd=workdir)
    assert refused.returncode == 1
    assert "12" in refused.stderr


def test_o_dash_is_standard_output_and_each_writer_confirms(workdir: Path) -> None:
    made = run("pes", "build", "--synthetic", "--size", "50KB", "-o", "PES.xml", cwd=workdir)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("PES.xml: written, ")  # text, not JSON
    assert made.stdout.rstrip().endswith("ISO-8859-1, 1 bordereau(x), 20 pièce(s), 1 PJ")
    utf8 = run("pes", "build", "--synthetic", "--encoding", "UTF-8", "-o", "U.xml", cwd=workdir)
    assert utf8.returncode == 2  # refused, not silently ignored
    assert "--encoding" in utf8.stderr
    run("keys", "dev", "--dir", "keys", cwd=workdir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    signed = subprocess.run(
        [*DEMAT, "pes", "sign", "PES.xml", "-o", "-", "--p12", "keys/signer.p12"],
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')  # the document: bytes
    assert b"SignatureValue" in signed.stdout
    assert b"wrote" in signed.stderr and b"standard output" in signed.stderr
    assert not (workdir / "-").exists()
    converted = run("pes", "transcode", "PES.xml", "-o", "latin1.xml", cwd=workdir)
    assert converted.returncode == 0, converted.stderr
    assert converted.stdout.startswith("latin1.xml: written, ")


def test_sandbox_options_out_of_range_are_refused(workdir: Path) -> None:
    for option, value in (
        ("--error-rate", "5"),
        ("--drop-rate", "-0.1"),
        ("--delay", "-3"),
        ("--latency", "nan"),
    ):
        refused = run("sandbox", option, value, cwd=workdir)
        assert refused.returncode == 2, (option, value)
        assert option in refused.stderr


def test_a_utf8_pes_is_refused_by_sign_as_by_validate_naming_transcode(workdir: Path) -> None:
    write_synthetic(workdir / "latin1.xml", "20KB")
    text = (workdir / "latin1.xml").read_bytes().decode("latin-1")
    (workdir / "utf8.xml").write_bytes(
        text.replace('encoding="ISO-8859-1"', 'encoding="UTF-8"', 1).encode("utf-8")
    )
    run("keys", "dev", "--dir", "keys", cwd=workdir)
    signed = run("pes", "sign", "utf8.xml", "-o", "s.xml", "--p12", "keys/signer.p12", cwd=workdir)
    assert signed.returncode == 1
    assert "demat pes transcode utf8.xml" in signed.stderr
    assert not (workdir / "s.xml").exists()
    validated = run("pes", "validate", "utf8.xml", cwd=workdir)
    assert validated.returncode == 1
    assert "demat pes transcode" in validated.stdout
    assert "demat.pes.encoding" not in validated.stdout  # a command, not a Python function

    # An empty, non-XML or hostile file is refused as what it is, not sent to transcode.
    (workdir / "empty.xml").write_bytes(b"")
    (workdir / "junk.xml").write_bytes(b"not xml at all")
    (workdir / "dtd.xml").write_bytes(b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    for name in ("empty.xml", "junk.xml", "dtd.xml"):
        refused = run("pes", "sign", name, "-o", "s.xml", "--p12", "keys/signer.p12", cwd=workdir)
        assert refused.returncode == 1, name
        assert "transcode" not in refused.stderr and len(refused.stderr.splitlines()) == 1, name
