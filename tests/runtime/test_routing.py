"""Routing through the real RabbitMQ to real ``kat boefje`` workers: zones and plugins.

A system of its own (queue prefix, store, catalogue): jobs are sent by a ``kat.actors``
process of that system, and the store says which worker process ran each job. A worker
of one zone never takes another zone's job, and a worker limited to some plugins never
runs another plugin's job; what nobody may take stays queued until a worker that may
starts, and then completes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from runtime_harness import ROOT, Runtime, Workers, _catalogue, _environment

from kat import config, routing
from kat.store import open_store
from tests.broker import delete_queues, queue_depth
from tests.hostile.hostile_harness import Sender

pytestmark = pytest.mark.e2e

INTERNET = "Hostname|internet|example.com"
INTERNAL = "Hostname|internal|db.corp.test"
LAB = "Hostname|lab|printer.lab.test"


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Its own prefix: a claimed plugin here must not hold back the other tests' jobs."""
    env = _environment(tmp_path_factory.mktemp("routing"))
    env["KAT_QUEUE_PREFIX"] = f"kat-test-routing-{uuid.uuid4().hex[:8]}-"
    settings = config.load(env)
    runtime = Runtime(env, settings, open_store(settings.database_url), _catalogue(settings), None)
    sender = Sender(env)
    runtime.send = lambda plugin, ref: sender.send("boefje", "acme", plugin, ref)
    yield runtime
    sender.close()
    others = [routing.zone_queue("", zone) for zone in ("internal", "lab")]
    others += [routing.plugin_queue("", "lab", plugin) for plugin in ("noop", "env-dump")]
    delete_queues(settings, *others)  # it puts the prefix in front


def kat_boefje(system, log, *args: str) -> Workers:
    command = (sys.executable, "-m", "kat", "boefje", "--processes", "1", "--log-level", "INFO")
    return Workers(system, log, *command, *args)


def wait_all(system, ids, timeout: float = 90.0) -> dict[str, dict]:
    return {ident: system.wait(ident, timeout) for ident in ids}


def status(system, ident: str) -> str:
    return system.store.get_job(ident).status


def ran_by(job: dict, workers: Workers) -> bool:
    return int(job["worker"].rpartition(":")[2]) in workers.worker_pids()


def scan_follow_up(system, reference: str) -> tuple[str, dict]:
    """The scan id and the ended depth-2 boefje job of ``kat scan --depth 2`` on
    ``reference`` (noop's raw names the host; the hostname normalizer finds ``www.`` + it
    in the same network)."""
    done = subprocess.run(
        [sys.executable, "-m", "kat", "scan", "--org", "acme", "--boefje", "noop",
         "--depth", "2", "--json", reference],
        env={**os.environ, **system.env}, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scan_id = json.loads(done.stdout)["scan"]
    network = reference.split("|")[1]
    deeper = f"Hostname|{network}|www.{reference.rpartition('|')[2]}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for entry in system.store.scan_jobs(scan_id):
            if entry.job.type == "boefje" and entry.job.meta.get("input_ooi") == deeper:
                return scan_id, system.wait(entry.job.id, 60)
        time.sleep(0.1)
    raise AssertionError(f"scan {scan_id} queued no job on {deeper}")


def test_a_zone_worker_never_takes_another_zones_job(system, tmp_path):
    internet = [system.send("noop", INTERNET) for _ in range(3)]
    internal = [system.send("noop", INTERNAL) for _ in range(3)]
    inside = kat_boefje(system, tmp_path / "internal.log", "--zone", "internal")
    outside = None
    try:
        for job in wait_all(system, internal).values():
            assert job["status"] == "completed" and ran_by(job, inside), job
        # The internet's jobs wait in their queue: no worker of that zone runs yet.
        assert {status(system, i) for i in internet} == {"queued"}
        assert queue_depth(system.settings, "boefjes") == len(internet)

        # `dramatiq kat.actors` serves the default zone (and normalizers), as it always did.
        outside = Workers(system, tmp_path / "internet.log")
        for job in wait_all(system, internet).values():
            assert job["status"] == "completed" and ran_by(job, outside), job

        # A scan's next step is sent by the worker that ran the normalizer: the internet
        # worker here (it serves the normalizers). Sending to the internal queue must not
        # make it a consumer of that queue.
        scan_id, follow_up = scan_follow_up(system, "Hostname|internal|scan.corp.test")
        assert follow_up["status"] == "completed" and ran_by(follow_up, inside), follow_up
        parsers = [e.job for e in system.store.scan_jobs(scan_id) if e.job.type == "normalizer"]
        assert parsers and all(ran_by(job.to_dict(), outside) for job in parsers)

        # Both running (the internet worker has sent to the internal queue by now): every
        # job goes to its own zone's worker.
        mixed = {system.send("noop", ref): ref for ref in [INTERNAL, INTERNET] * 8}
        for ident, job in wait_all(system, mixed).items():
            assert ran_by(job, inside if mixed[ident] == INTERNAL else outside), job

    finally:
        inside.stop()
        if outside:
            outside.stop()


def test_a_plugin_limited_worker_never_runs_another_plugins_job(system, tmp_path):
    limited = kat_boefje(
        system, tmp_path / "limited.log", "--zone", "lab", "--plugins", "noop,env-dump"
    )
    generic = None
    try:
        ids = {system.send(plugin, LAB): plugin for plugin in ["noop", "env-dump", "raiser"] * 2}
        mine = [i for i, p in ids.items() if p != "raiser"]
        for job in wait_all(system, mine).values():
            assert job["status"] == "completed" and ran_by(job, limited), job
        others = [i for i, p in ids.items() if p == "raiser"]
        assert {status(system, i) for i in others} == {"queued"}
        assert queue_depth(system.settings, "boefjes@lab") == len(others)

        # A generic worker of the zone runs the rest; the claimed plugins stay with the
        # limited worker even now.
        generic = kat_boefje(system, tmp_path / "generic.log", "--zone", "lab")
        for job in wait_all(system, others).values():
            assert job["status"] == "failed" and job["reason"] == "crashed", job  # it raises
            assert ran_by(job, generic), job
        again = [system.send("noop", LAB) for _ in range(4)]
        for job in wait_all(system, again).values():
            assert ran_by(job, limited), job
    finally:
        limited.stop()
        if generic:
            generic.stop()


def release(system, plugin: str, zone: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kat", "boefje", "--zone", zone, "--plugins", plugin, "--release"],
        env={**os.environ, **system.env}, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_claimed_plugins_jobs_wait_for_its_worker_until_released(system, tmp_path):
    # The limited worker of the test above has stopped; its claim (the queue) remains.
    ident = system.send("noop", LAB)
    generic = kat_boefje(system, tmp_path / "generic.log", "--zone", "lab")
    try:
        # The generic worker runs what it may (a job sent after the noop job) ...
        job = system.wait(system.send("raiser", LAB), 60)
        assert ran_by(job, generic), job
        # ... and leaves the claimed plugin's job to the limited worker, when it is back.
        assert status(system, ident) == "queued"
        assert queue_depth(system.settings, "boefjes@lab/noop") == 1
        refused = release(system, "noop", "lab")  # a job waits there: no release
        assert refused.returncode == 1 and "1 message(s) wait" in refused.stderr
        limited = kat_boefje(system, tmp_path / "limited.log", "--zone", "lab", "--plugins", "noop")
        try:
            job = system.wait(ident, 60)
            assert job["status"] == "completed" and ran_by(job, limited), job
            refused = release(system, "noop", "lab")  # its worker still serves it
            assert refused.returncode == 1 and "still serve it" in refused.stderr
        finally:
            limited.stop()
        released = release(system, "noop", "lab")
        assert released.returncode == 0, released.stderr
        assert "released" in released.stdout
        # Given back: the zone's generic worker runs noop again.
        job = system.wait(system.send("noop", LAB), 60)
        assert job["status"] == "completed" and ran_by(job, generic), job
    finally:
        generic.stop()
