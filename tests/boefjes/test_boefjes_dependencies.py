"""Binary-backed boefjes in the runtime: a missing program fails the job as
``missing-dependency`` naming it and its Debian package; ``kat plugins`` tells which
plugins can run here; a program that ignores signals is killed with the job's process
group at the deadline."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.plugins.helpers import PLUGINS_DIR

pytestmark = pytest.mark.timeout(120)

JOB_ID = "7d1f8b1e-2b7a-4c55-9a53-0d6a1c2e3f40"


def kat(tmp_path: Path, path: str, *args: str, plugins: Path = PLUGINS_DIR, **extra: str):
    """``python -m kat …`` with ``PATH=path`` (and nothing of this host's settings)."""
    env = {
        "PATH": path,
        "KAT_PLUGINS_DIR": str(plugins),
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "kat", *args], env=env, capture_output=True, text=True,
        timeout=90, cwd=PLUGINS_DIR.parent,
    )  # fmt: skip


def boefje_job(tmp_path: Path, boefje_id: str, reference: str, input_: dict) -> Path:
    organisations = tmp_path / "catalogue" / "organisations"
    organisations.mkdir(parents=True, exist_ok=True)
    (organisations / "acme.yaml").write_text(
        f"id: acme\nname: Acme\nplugins:\n  {boefje_id}:\n    enabled: true\n"
    )
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "id": JOB_ID,
                "organization": "acme",
                "boefje": {"id": boefje_id},
                "input_ooi": reference,
                "arguments": {"input": input_},
            }
        )
    )
    return job


def ip_service(port: int) -> tuple[str, dict]:
    from kat.ooi import input_dict

    reference = f"IPService|internet|127.0.0.1|tcp|{port}|https"
    return reference, input_dict(reference)


@pytest.mark.parametrize(
    ("boefje_id", "program", "package", "reference"),
    [
        ("nmap", "nmap", "nmap", "IPAddressV4|internet|127.0.0.1"),
        ("nmap-udp", "nmap", "nmap", "IPAddressV4|internet|127.0.0.1"),
        (
            "testssl-sh-ciphers",
            "testssl",
            "testssl.sh",
            "IPService|internet|127.0.0.1|tcp|443|https",
        ),
        ("ssl-version", "testssl", "testssl.sh", "IPService|internet|127.0.0.1|tcp|443|https"),
    ],
)
def test_a_missing_program_fails_the_job_as_missing_dependency(
    tmp_path, boefje_id, program, package, reference
):
    from kat.ooi import input_dict

    empty = tmp_path / "bin"
    empty.mkdir()
    job = boefje_job(tmp_path, boefje_id, reference, input_dict(reference))
    done = kat(tmp_path, str(empty), "run", "boefje", "--job", str(job))
    assert done.returncode != 0, done.stdout + done.stderr
    assert f"boefje job {JOB_ID}: failed (missing-dependency)" in done.stdout
    assert f"{program} (Debian: apt-get install {package})" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("boefje_id", ["nmap-ip-range", "masscan"])
def test_a_missing_program_fails_a_range_scan_too(tmp_path, boefje_id):
    empty = tmp_path / "bin"
    empty.mkdir()
    reference = "IPAddressV4|internet|127.0.0.1"
    job = boefje_job(tmp_path, boefje_id, reference, {"object_type": "IPV4NetBlock"})
    done = kat(tmp_path, str(empty), "run", "boefje", "--job", str(job))
    assert "failed (missing-dependency)" in done.stdout, done.stdout + done.stderr


def test_kat_plugins_tells_what_runs_here(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    hidden = json.loads(kat(tmp_path, str(empty), "plugins", "--json").stdout)["plugins"]
    rows = {row["id"]: row for row in hidden}
    assert rows["nmap"]["runnable"] is False and rows["nmap"]["missing"] == ["nmap"]
    assert rows["masscan"]["missing"] == ["masscan"]
    assert rows["dns-records"]["runnable"] is True  # pure Python: needs nothing

    text = kat(tmp_path, str(empty), "plugins").stdout
    assert "install testssl: apt-get install testssl.sh" in text

    found = json.loads(kat(tmp_path, os.environ["PATH"], "plugins", "--json").stdout)["plugins"]
    assert all(row["runnable"] for row in found), [r["id"] for r in found if not r["runnable"]]


def test_a_program_that_ignores_signals_is_killed_with_the_job(tmp_path):
    """A stand-in ``nmap`` that traps TERM/INT/HUP and sleeps is gone after the deadline."""
    plugins = tmp_path / "plugins"
    shutil.copytree(PLUGINS_DIR / "kat_nmap_tcp", plugins / "kat_nmap_tcp")
    manifest = json.loads((plugins / "kat_nmap_tcp" / "boefje.json").read_text())
    (plugins / "kat_nmap_tcp" / "boefje.json").write_text(json.dumps({**manifest, "timeout": 3}))
    # Jobs run as nobody under root: the stand-in and its pid file live where it reaches.
    shared = Path(tempfile.mkdtemp(prefix="kat-test-jobs-"))
    shared.chmod(0o777)
    bin_dir = shared / "bin"
    bin_dir.mkdir()
    bin_dir.chmod(0o755)
    pid_file = shared / "nmap.pid"
    fake = bin_dir / "nmap"
    fake.write_text(
        f"#!/bin/sh\ntrap '' TERM INT HUP\necho $$ > {pid_file}\nwhile :; do sleep 1; done\n"
    )
    fake.chmod(0o755)

    reference = "IPAddressV4|internet|127.0.0.1"
    from kat.ooi import input_dict

    job = boefje_job(tmp_path, "nmap", reference, input_dict(reference))
    done = kat(
        tmp_path, f"{bin_dir}:/usr/bin:/bin", "run", "boefje", "--job", str(job), plugins=plugins
    )
    assert "failed (timeout)" in done.stdout, done.stdout + done.stderr
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            break  # a zombie waiting for init: already dead
        time.sleep(0.1)
    alive = (
        Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    )
    assert not alive, f"the stand-in nmap {pid} survived the job's deadline"
