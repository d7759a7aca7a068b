"""Three machines: a central server (gunicorn with the KATalogus and the data API on
PostgreSQL, RabbitMQ) and two worker machines that hold no database, no catalogue and no
key, only the broker's URL, the KATalogus API and the data API with their tokens. As
root with ``ip netns``, each worker machine is a network namespace of its own, linked
to the central one by a veth pair (tests/multimachine/network.py); otherwise they are
separate processes with folders of their own.

A depth-2 scan runs with the boefjes on one machine and the normalizers on the other;
the boefje machine is SIGKILLed mid-scan and restarted; then the data API is cut for
10 s while jobs run. Nothing is lost and nothing is stored twice."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from kat import config
from kat.scheduling import planner
from kat.store import open_store
from tests import broker
from tests.database import store_url
from tests.e2e.e2e_harness import ROOT, free_port, kat
from tests.multimachine import network
from tests.multimachine.machines import gunicorn, leftovers, worker
from tests.servers.dns_server import DNSServer
from tests.servers.tcp import BannerServer

ORG = "multi"
DATA_TOKEN = f"data-{uuid.uuid4().hex}"
CATALOGUE_TOKEN = f"catalogue-{uuid.uuid4().hex}"
#: Extra inputs so the scan is still running when a machine goes down.
EXTRA = 40


def _central_env(tmp_path) -> dict[str, str]:
    keys = kat({}, "keys", "generate")
    assert keys.returncode == 0, keys.stderr
    env = dict(line.split("=", 1) for line in keys.stdout.splitlines() if "=" in line)
    (tmp_path / "catalogue").mkdir(parents=True)
    return {
        **env,
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATABASE_URL": store_url(tmp_path, "postgres"),
        "KAT_QUEUE_PREFIX": f"kat-mm-{uuid.uuid4().hex[:8]}-",
        "KATALOGUS_BIND": f"127.0.0.1:{free_port()}",
        "KATALOGUS_API_TOKEN": CATALOGUE_TOKEN,
        "KAT_DATA_API_TOKEN": DATA_TOKEN,
        "WEB_CONCURRENCY": "2",
    }


def _configure(api: str, dns: str, ports: list[int]) -> None:
    headers = {"Authorization": f"Bearer {CATALOGUE_TOKEN}"}
    with httpx.Client(base_url=f"{api}/v1/organisations", timeout=10, headers=headers) as c:
        assert c.post("", json={"id": ORG, "name": "Several machines"}).status_code == 201
        for boefje in ("dns-records", "port-scan", "service_banner"):
            assert c.patch(f"/{ORG}/plugins/{boefje}", json={"enabled": True}).status_code == 200
        for plugin, key, value in (
            ("dns-records", "REMOTE_NS", dns),
            ("dns-records", "RECORD_TYPES", "A,AAAA,NS,SOA,TXT"),
            ("port-scan", "PORTS", ",".join(map(str, ports))),
        ):
            response = c.put(f"/{ORG}/{plugin}/settings/{key}", json={"value": value})
            assert response.status_code in (200, 201, 204), response.text


def _wait(store, scan_id: str, until, timeout: float, what: str) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while not until(progress := store.scan_progress(scan_id)):
        assert time.monotonic() < deadline, f"{what}: {progress}; {_open_jobs(store, scan_id)}"
        time.sleep(0.2)
    return progress


def _open_jobs(store, scan_id: str) -> list[tuple]:
    """The scan's jobs that have not ended, with the boefje job of a normalizer's raw."""
    found = []
    for job in (entry.job for entry in store.scan_jobs(scan_id)):
        if not job.ended:
            raw = store.get_raw(job.raw_id, with_data=False) if job.raw_id else None
            source = store.get_job(raw.job_id) if raw else None
            found.append((job.type, job.plugin_id, job.id, str(job.status), job.attempts,
                          job.worker, source and (source.id, str(source.status))))  # fmt: skip
    return found


@pytest.mark.e2e
@pytest.mark.timeout(420)
def test_a_scan_over_three_machines_survives_a_killed_worker_and_a_cut_api(tmp_path):
    central_env = _central_env(tmp_path / "central")
    api = f"http://{central_env['KATALOGUS_BIND']}"
    port = central_env["KATALOGUS_BIND"].rsplit(":", 1)[1]
    net = network.Network() if network.available() else None
    machines, servers, store = [], [], None
    try:
        if net:  # each worker machine in a namespace; central = the host end of the links
            a_ns, a_host, _ = net.machine(1)
            b_ns, b_host, _ = net.machine(2)
            rabbit = free_port()
            for host in (a_host, b_host):
                net.relay(host, rabbit, ("127.0.0.1", 5672))
            binds = (f"127.0.0.1:{port}", f"{a_host}:{port}", f"{b_host}:{port}")
            central_env["GUNICORN_CMD_ARGS"] = " ".join(f"--bind {b}" for b in binds)
            reach = {
                "a": (f"http://{a_host}:{port}", f"amqp://guest:guest@{a_host}:{rabbit}/%2F",
                      ["ip", "netns", "exec", a_ns]),
                "b": (f"http://{b_host}:{port}", f"amqp://guest:guest@{b_host}:{rabbit}/%2F",
                      ["ip", "netns", "exec", b_ns]),
            }  # fmt: skip
            target = a_host  # the scanned servers, reached from machine A over its link
        else:
            same = (api, config.Settings.broker_url, [])
            reach, target = {"a": same, "b": same}, "127.0.0.1"
        dns_server, ssh_server = DNSServer(host=target), BannerServer(host=target)
        servers += [dns_server, ssh_server]

        def worker_env(machine: str) -> dict[str, str]:  # all a worker machine gets
            url, broker_url, _prefix = reach[machine]
            return {
                "KAT_BROKER_URL": broker_url,
                "KATALOGUS_API": url,
                "KATALOGUS_API_TOKEN": DATA_TOKEN,  # the worker token: its jobs' reads only
                "KAT_DATA_API": url,
                "KAT_DATA_API_TOKEN": DATA_TOKEN,
                "KAT_QUEUE_PREFIX": central_env["KAT_QUEUE_PREFIX"],
                "KAT_PLUGINS_DIR": str(ROOT / "plugins"),  # the code, as in the image
                "KAT_SHUTDOWN_GRACE": "1",
            }

        central = gunicorn(tmp_path / "central", central_env)
        boefjes = worker("boefje-machine", tmp_path / "machine-a", worker_env("a"), "boefje",
                         reach["a"][2])  # fmt: skip
        normalizers = worker("normalizer-machine", tmp_path / "machine-b", worker_env("b"),
                             "normalizer", reach["b"][2])  # fmt: skip
        machines += [central, boefjes, normalizers]
        central.start().wait_healthy(api)
        if net:  # a worker machine reaches the central one over its link, not loopback
            probe = (
                "import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3)"
            )
            for host, ok in (("127.0.0.1", False), (reach["a"][0][7:].split(":")[0], True)):
                done = subprocess.run([*reach["a"][2], sys.executable, "-c", probe, host, port],
                                      capture_output=True, timeout=30)  # fmt: skip
                assert (done.returncode == 0) is ok, (host, done.stderr)
        _configure(api, f"{target}:{dns_server.port}", [ssh_server.port])
        for machine in (boefjes, normalizers):
            machine.start().wait_for("Worker process is ready for action")

        inputs = ["Hostname|internet|example.test", f"IPAddressV4|internet|{target}"]
        inputs += [f"IPAddressV4|internet|127.0.9.{i + 1}" for i in range(EXTRA)]
        queued = kat(central_env, "scan", "--org", ORG, "--depth", "2", "--json", *inputs)
        assert queued.returncode == 0, queued.stderr
        scan_id = json.loads(queued.stdout)["scan"]
        store = open_store(central_env["KAT_DATABASE_URL"])

        # The boefje machine loses power mid-scan, and comes back.
        _wait(store, scan_id, lambda p: p["completed"] >= 5, 90, "no progress")
        boefjes.kill()
        progress = store.scan_progress(scan_id)
        assert not planner.finished(progress), f"scan ended before the kill: {progress}"
        boefjes.start().wait_for("Worker process is ready for action")

        # The data API goes away for 10 s while jobs run, then comes back.
        _wait(store, scan_id, lambda p: p["completed"] >= 20, 90, "no progress after restart")
        central.kill()
        time.sleep(10)
        central.start().wait_healthy(api)

        progress = _wait(store, scan_id, planner.finished, 240, "scan did not finish")
        jobs = [entry.job for entry in store.scan_jobs(scan_id)]
        assert {j.status for j in jobs} <= {"completed", "failed"}, progress
        failed = [(j.plugin_id, j.reason, j.detail) for j in jobs if j.status == "failed"]
        assert not failed, failed

        # Boefjes ran on machine A, normalizers on machine B.
        boefjes.seen_pids |= boefjes.pids()
        normalizers.seen_pids |= normalizers.pids()
        ran_on = {"boefje": boefjes.seen_pids, "normalizer": normalizers.seen_pids}
        for job in jobs:
            assert int(job.worker.rsplit(":", 1)[1]) in ran_on[job.type], (job.type, job.worker)

        # Every raw and every object exactly once.
        boefje_jobs = [j for j in jobs if j.type == "boefje"]
        for job in boefje_jobs:
            kinds = [tuple(r.mime_types) for r in store.raws_for(job.id)]
            assert len(kinds) == len(set(kinds)) >= 1, (job.plugin_id, kinds)
        normalizer_jobs = [j for j in jobs if j.type == "normalizer"]
        assert len(normalizer_jobs) >= len(boefje_jobs)
        for job in normalizer_jobs:
            keys = collections.Counter(o.primary_key for o in store.objects_for(job.id))
            assert all(n == 1 for n in keys.values()), (job.plugin_id, keys)

        # All objects show on the central machine.
        shown = kat(central_env, "objects", "--org", ORG, "--scan", scan_id, "--json")
        keys = {o["primary_key"] for o in json.loads(shown.stdout)}
        ssh = f"IPPort|internet|{target}|tcp|{ssh_server.port}"
        for expected in (
            "DNSARecord|internet|example.test|127.0.0.1",
            ssh,
            f"Finding|{ssh}|CVE-2024-6387",  # level 2: the banner of the port found
        ):
            assert expected in keys, sorted(keys)
        assert broker.messages_waiting(config.load(central_env)) == 0

        # The worker machines kept nothing.
        for machine in (boefjes, normalizers):
            assert leftovers(machine.folder) == [], machine.name
    finally:
        for machine in machines:
            machine.stop()
        for server in servers:
            server.close()
        if store is not None:
            store.close()
        if net is not None:
            net.close()
        broker.delete_queues(config.load(central_env))
