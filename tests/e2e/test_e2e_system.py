"""The whole system as an operator runs it: ``honcho start`` of the Procfile (gunicorn,
two Dramatiq workers, RabbitMQ), configured through the KATalogus API, scanning DNS,
HTTPS and TCP servers on 127.0.0.1; then SIGTERM, a restart, 200 inputs, and --inline."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from e2e_harness import Honcho, delete_queues, environment, kat, messages_waiting

from kat import config
from kat.jobs import JobStatus
from kat.scheduling import planner as scan
from kat.store import open_store

ORG = "e2e"
#: A setting value that must never be stored in plaintext.
SECRET = "e2e-secret-user-agent-5d1f"


def _inputs(https_port: int) -> list[str]:
    return [
        "Hostname|internet|example.test",
        "IPAddressV4|internet|127.0.0.1",
        f"Website|internet|127.0.0.1|tcp|{https_port}|https|internet|example.test",
    ]


def _configure(api: str, dns_port: int, ports: list[int]) -> None:
    """An organisation, its boefjes and their settings, all through the API."""
    with httpx.Client(base_url=f"{api}/v1/organisations", timeout=10) as client:
        assert client.post("", json={"id": ORG, "name": "End to end"}).status_code == 201
        for boefje in ("dns-records", "port-scan", "service_banner", "ssl-certificates",
                       "security_txt_downloader"):  # fmt: skip
            response = client.patch(f"/{ORG}/plugins/{boefje}", json={"enabled": True})
            assert response.status_code == 200, response.text
        for plugin, key, value in (
            ("dns-records", "REMOTE_NS", f"127.0.0.1:{dns_port}"),
            ("dns-records", "RECORD_TYPES", "A,AAAA,MX,NS,SOA,TXT"),
            ("port-scan", "PORTS", ",".join(map(str, ports))),
            ("security_txt_downloader", "USERAGENT", SECRET),
        ):
            response = client.put(f"/{ORG}/{plugin}/settings/{key}", json={"value": value})
            assert response.status_code in (200, 201, 204), response.text
        # The API gives the value back decrypted.
        assert client.get(f"/{ORG}/security_txt_downloader/settings").json()["USERAGENT"] == SECRET


def _scan(env, *args: str) -> tuple[int, dict]:
    done = kat(env, "scan", "--org", ORG, "--wait", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _keys(env, scan_id: str) -> list[str]:
    found = json.loads(kat(env, "objects", "--org", ORG, "--scan", scan_id, "--json").stdout)
    return sorted(o["primary_key"] for o in found)


def _settled(env: dict[str, str]) -> dict[str, int]:
    store = open_store(config.load(env).database_url)
    counts = {str(s): store.count_jobs(status=str(s)) for s in JobStatus}
    store.close()
    return {status: n for status, n in counts.items() if n}


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_system_under_honcho(tmp_path, dns_server, https_server, ssh_server):
    env = environment(tmp_path)
    system = Honcho(tmp_path, env)
    try:
        _configure(system.api, dns_server.port, [ssh_server.port, https_server.port])
        catalogue_file = tmp_path / "catalogue" / "organisations" / f"{ORG}.yaml"
        text = catalogue_file.read_text()
        assert SECRET not in text and f"127.0.0.1:{dns_server.port}" not in text
        assert text.count("sealed:") == 4

        # One scan, two levels deep, through RabbitMQ and the workers.
        code, first = _scan(env, "--depth", "2", *_inputs(https_server.port))
        assert code == 0, first["failed"]
        keys = _keys(env, first["scan"])
        ssh = f"IPPort|internet|127.0.0.1|tcp|{ssh_server.port}"
        for expected in (
            "DNSARecord|internet|example.test|127.0.0.1",
            "IPAddressV4|internet|127.0.0.1",
            ssh,
            "Finding|IPPort|internet|127.0.0.1|tcp|"
            f"{ssh_server.port}|CVE-2024-6387",  # level 2: the banner of a found port
        ):
            assert expected in keys, keys
        assert any(k.startswith("X509Certificate|") for k in keys)
        assert any(k.startswith("SecurityTXT|") for k in keys)
        tasks = json.loads(kat(env, "tasks", "--json", "--limit", "1000").stdout)
        assert len(tasks) == sum(first["jobs"].values())
        assert {t["status"] for t in tasks} == {"completed"}
        banner = [t for t in tasks if t["plugin"] == "service_banner"]
        https = f"IPPort|internet|127.0.0.1|tcp|{https_server.port}"
        assert sorted(t["input_ooi"] for t in banner) == sorted([ssh, https])  # each once
        metrics = httpx.get(f"http://127.0.0.1:{env['KAT_METRICS_PORT']}/metrics").text
        scans = sum(t["plugin"] == "port-scan" for t in tasks)  # 127.0.0.1, and ::1 (AAAA)
        line = f'kat_jobs_total{{plugin="port-scan",status="completed",type="boefje"}} {scans}.0'
        assert line in metrics
        assert "katalogus_requests_total" in httpx.get(f"{system.api}/metrics").text

        # 200 inputs, and SIGTERM while they run: nothing lost, nothing left running.
        many = [f"IPAddressV4|internet|127.0.{i // 250}.{i % 250 + 1}" for i in range(200)]
        (tmp_path / "many.txt").write_text("\n".join(many))
        queued = kat(env, "scan", "--org", ORG, "--boefje", "port-scan", f"@{tmp_path}/many.txt")
        big = queued.stdout.split()[1].rstrip(":")
        assert queued.stdout.endswith("200 jobs queued\n"), queued.stdout
        time.sleep(1.0)
        took = system.sigterm()
        grace = int(env["KAT_SHUTDOWN_GRACE"])
        assert took < grace + 5, f"stopped after {took:.1f} s"
        counts = _settled(env)
        assert counts.get("running", 0) == 0, counts
        # Every queued job has its message in RabbitMQ (which takes back the messages of
        # closed connections on its own time: a moment's patience).
        deadline = time.monotonic() + 5
        while (waiting := messages_waiting(env)) != counts.get("queued", 0):
            assert time.monotonic() < deadline, (counts, waiting)
            time.sleep(0.1)
        assert counts.get("queued", 0) > 0, "nothing left to show a restart picks up"

        system = Honcho(tmp_path, env, "honcho-2.log")
        store = open_store(config.load(env).database_url)
        deadline = time.monotonic() + 120
        while not scan.finished(progress := store.scan_progress(big)):
            assert time.monotonic() < deadline, progress
            time.sleep(0.2)
        assert progress["completed"] + progress["failed"] == 400  # 200 boefjes + normalizers
        for entry in store.scan_jobs(big):
            assert entry.job.status == "completed" or entry.job.reason, entry.job
        store.close()
        assert messages_waiting(env) == 0
        system.sigterm()
    finally:
        system.kill()
        delete_queues(env)

    # The same scan inline, with no broker at all, finds the same objects.
    offline = {**env, "KAT_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}
    code, inline = _scan(offline, "--inline", "--depth", "2", *_inputs(https_server.port))
    assert code == 0, inline["failed"]
    assert _keys(offline, inline["scan"]) == keys
    assert inline["jobs"] == first["jobs"]
