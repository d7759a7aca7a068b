"""With ``KATALOGUS_API`` set, the scheduler and ``kat objects`` read the scope from a real
gunicorn KATalogus, not from the local catalogue folder: what the API declares is
scanned, a per-organisation ``scan_level`` there holds a boefje back, and each object's
level shows where it came from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kat import config
from kat.catalogue import Catalogue
from kat.ooi import DNSARecord, Hostname, IPAddressV4, Network
from kat.store import open_store
from tests.broker import delete_queues
from tests.database import store_url
from tests.katalogus.conftest import gunicorn  # noqa: F401 (fixture)
from tests.katalogus.test_gunicorn import Http

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
NET = Network(name="internet")
HOST = Hostname(network=NET, name="example.test")
IP = IPAddressV4(network=NET, address="192.0.2.7")
A = DNSARecord(hostname=HOST, address=IP, value="192.0.2.7")


def _kat(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BOEF"))}
    return subprocess.run(
        [sys.executable, "-m", "kat", *args], env={**clean, **env}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def _sent(store, org: str) -> set[tuple[str, str]]:
    return {(j.plugin_id, j.input_ooi) for j in store.list_jobs(org=org, limit=100)}


def test_scheduler_and_objects_read_the_scope_over_katalogus_api(tmp_path, gunicorn):  # noqa: F811
    server_dir = tmp_path / "server"
    catalogue = Catalogue(server_dir / "catalogue")
    catalogue.create_organisation("acme")
    for plugin in ("dns-records", "port-scan"):
        catalogue.set_enabled("acme", plugin, True)
    (server_dir / "catalogue" / "scopes").mkdir()
    (server_dir / "catalogue" / "scopes" / "acme.yaml").write_text(
        f"objects:\n  {HOST.reference}: 2\nplugins:\n  port-scan: {{scan_level: 3}}\n"
    )
    served = {
        "KAT_CATALOGUE_DIR": str(server_dir / "catalogue"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
    }
    server = gunicorn(served, workers=1)

    # The other machine: no catalogue folder of its own, the scope comes from the API.
    env = {
        "KATALOGUS_API": server.url,
        "KAT_CATALOGUE_DIR": str(tmp_path / "not-here"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_QUEUE_PREFIX": f"kat-test-{uuid.uuid4().hex[:8]}-",
    }
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        once = _kat(env, "scheduler", "--once", "--json")
        assert once.returncode == 0, once.stderr
        assert json.loads(once.stdout)["sent"] == 1
        assert _sent(store, "acme") == {("dns-records", HOST.reference)}

        # What dns-records found: the A record and its address (no level through it).
        store.add_job("n1", "normalizer", "acme", "kat_dns_normalize", {"id": "n1"})
        store.replace_objects("n1", "acme", [o.serialize() for o in (HOST, A, IP)])
        objects = {o["primary_key"]: o for o in json.loads(_kat(env, "objects", "--org", "acme",
                                                                 "--json").stdout)}  # fmt: skip
        assert (objects[HOST.reference]["_scan_level"], objects[HOST.reference]["_level_source"]) \
            == (2, "declared")  # fmt: skip
        assert objects[A.reference]["_scan_level"] == 2
        assert objects[A.reference]["_level_source"] == (
            f"inherited (DNSARecord.hostname -> {HOST.reference})"
        )
        assert (objects[IP.reference]["_scan_level"], objects[IP.reference]["_level_source"]) \
            == (None, "not in scope")  # fmt: skip
        table = _kat(env, "objects", "--org", "acme").stdout.splitlines()
        assert table[0].split() == ["TYPE", "PRIMARY", "KEY", "LEVEL", "LEVEL", "FROM", "FOUND",
                                    "BY", "JOB"]  # fmt: skip
        [ip_row] = [line for line in table if IP.reference in line]
        assert ip_row.split()[2:6] == ["-", "not", "in", "scope"]

        # Declared at 2 through the API: port-scan needs 3 for acme, so it does not run.
        api = Http(server.url)
        body = {"reference": IP.reference, "level": 2}
        assert api.call("POST", "/v1/organisations/acme/scope/objects", body)[0] == 200
        assert _kat(env, "scheduler", "--once").returncode == 0
        assert ("port-scan", IP.reference) not in _sent(store, "acme")
        body["level"] = 3
        assert api.call("POST", "/v1/organisations/acme/scope/objects", body)[0] == 200
        assert _kat(env, "scheduler", "--once").returncode == 0
        assert ("port-scan", IP.reference) in _sent(store, "acme")
    finally:
        store.close()
        delete_queues(config.load(env))


def test_an_unreachable_katalogus_leaves_the_schedule_as_it_is(tmp_path):
    env = {
        "KATALOGUS_API": "http://127.0.0.1:9",  # nothing listens on the discard port
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_QUEUE_PREFIX": f"kat-test-{uuid.uuid4().hex[:8]}-",
    }
    store = open_store(env["KAT_DATABASE_URL"])
    store.add_job("n1", "normalizer", "acme", "kat_dns_normalize", {"id": "n1"})
    store.close()
    once = _kat(env, "scheduler", "--once", "--json")
    assert once.returncode == 0 and json.loads(once.stdout)["sent"] == 0
    assert "no scope planned" in once.stderr and "unreachable" in once.stderr
    done = _kat(env, "objects", "--org", "acme")
    assert done.returncode == 1 and "scan levels of 'acme' cannot be read" in done.stderr
