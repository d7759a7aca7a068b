"""The boefjes as the runtime runs them: settings checked against schema.json, the job
forked with a clean environment (``kat run``), raws handed on to the normalizers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kat.catalogue.plugins import discover
from kat.runtime.environment import InvalidSettings, boefje_environment
from tests.plugins.helpers import PLUGINS_DIR, input_ooi

BOEFJES = [
    "dns-records",
    "rdns",
    "dns-zone",
    "dns-sec",
    "ssl-certificates",
    "webpage-analysis",
    "security_txt_downloader",
    "service_banner",
    "port-scan",
]


@pytest.fixture(scope="module")
def plugins():
    found, problems = discover(PLUGINS_DIR)
    assert problems == []
    return found


@pytest.mark.parametrize("boefje_id", BOEFJES)
def test_every_boefje_takes_a_timeout_and_describes_itself(plugins, boefje_id):
    plugin = plugins[boefje_id]
    assert plugin.type == "boefje"
    properties = plugin.schema["properties"]
    assert properties["TIMEOUT"]["type"] == "number"
    assert all(spec.get("description") for spec in properties.values())
    description = plugin.asset("description.md").read_text()
    assert "Sends over the network" in description and "TIMEOUT" in description
    assert boefje_environment(plugin, {"TIMEOUT": "2.5"}, {}) == {"TIMEOUT": "2.5"}
    for bad in ("0", "-1", "soon"):
        with pytest.raises(InvalidSettings, match="TIMEOUT"):
            boefje_environment(plugin, {}, {"TIMEOUT": bad})


def test_port_scan_schema_refuses_letters_in_ports(plugins):
    with pytest.raises(InvalidSettings, match="PORTS"):
        boefje_environment(plugins["port-scan"], {}, {"PORTS": "22;rm -rf /"})


def _kat_run(tmp_path: Path, boefje_id: str, reference: str, defaults: dict[str, str]) -> str:
    """``kat run boefje`` on one job, with ``BOEFJE_*`` worker defaults; its output."""
    catalogue = tmp_path / "catalogue"
    (catalogue / "organisations").mkdir(parents=True)
    (catalogue / "organisations" / "acme.yaml").write_text(
        f"id: acme\nname: Acme\nplugins:\n  {boefje_id}:\n    enabled: true\n"
    )
    job = tmp_path / "job.json"
    job.write_text(
        json.dumps(
            {
                "id": "0b5c6a4e-4a63-4c1b-9e2e-8d7c1f0a1b2c",
                "organization": "acme",
                "boefje": {"id": boefje_id, "version": None},
                "input_ooi": reference,
                "arguments": {"input": input_ooi(reference)},
                "environment": {},
            }
        )
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KAT_PLUGINS_DIR": str(PLUGINS_DIR),
        "KAT_CATALOGUE_DIR": str(catalogue),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_JOB_TIMEOUT": "30",
        **{f"BOEFJE_{key}": value for key, value in defaults.items()},
    }
    done = subprocess.run(
        [sys.executable, "-m", "kat", "run", "boefje", "--job", str(job)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PLUGINS_DIR.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.timeout(90)
def test_dns_records_in_the_sandbox(tmp_path, dns_server):
    out = _kat_run(
        tmp_path,
        "dns-records",
        "Hostname|internet|example.test",
        {"REMOTE_NS": dns_server.address, "TIMEOUT": "5"},
    )
    assert "boefje job 0b5c6a4e-4a63-4c1b-9e2e-8d7c1f0a1b2c: completed" in out
    assert "normalizer kat_dns_normalize job" in out and "completed" in out
    objects = [int(line.split(":")[1]) for line in out.splitlines() if "objects:" in line]
    assert objects and objects[0] >= 15


@pytest.mark.timeout(90)
def test_service_banner_in_the_sandbox_finds_the_cve(tmp_path, ssh_server):
    out = _kat_run(
        tmp_path,
        "service_banner",
        f"IPPort|internet|127.0.0.1|tcp|{ssh_server.port}",
        {"TIMEOUT": "5"},
    )
    assert "kat_cve_2024_6387_normalize" in out
    assert "objects: 2" in out


@pytest.mark.parametrize("boefje_id", ["dns-records", "rdns", "dns-zone", "dns-sec"])
def test_remote_ns_forms(plugins, boefje_id):
    plugin = plugins[boefje_id]
    for good in ("1.1.1.1", "127.0.0.1:5353", "[::1]:5353", "2001:db8::53"):
        assert boefje_environment(plugin, {}, {"REMOTE_NS": good}) == {"REMOTE_NS": good}
    for bad in ("dns.example", "1.1.1.1:x", "[::1]:", "1.1.1.1 ; rm"):
        with pytest.raises(InvalidSettings, match="REMOTE_NS"):
            boefje_environment(plugin, {}, {"REMOTE_NS": bad})
