"""The scheduler under honcho with the Procfile's processes, accelerated intervals and
loopback servers: levels decide what runs, a hand edit of the scope file is picked up,
reruns keep their interval, a restart runs nothing early, and a second organisation
with the same input and settings reuses the first one's run."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest

from kat import config
from kat.catalogue import Catalogue
from kat.store import open_store
from tests.e2e.e2e_harness import Honcho, delete_queues, environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

HOST = "Hostname|internet|example.test"
IP = "IPAddressV4|internet|127.0.0.1"
INTERVAL = 6


def _jobs(env, org: str, plugin: str) -> list:
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        jobs = store.list_jobs(org=org, plugin=plugin, job_type="boefje", limit=500)
    finally:
        store.close()
    return sorted(jobs, key=lambda j: j.queued_at)


def _wait(what, check, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout} s: {what}")


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_scheduler_under_honcho(tmp_path, dns_server, ssh_server):
    env = {
        **environment(tmp_path),
        "KAT_SCHEDULER_TICK": "1",
        "KAT_DEFAULT_INTERVAL": "3600",
        "KAT_GRACE_PERIOD": "60",
    }
    catalogue = Catalogue.from_settings(config.load(env))
    for org in ("acme", "beta"):
        catalogue.create_organisation(org)
        for plugin in ("dns-records", "port-scan"):
            catalogue.set_enabled(org, plugin, True)
        catalogue.put_setting(org, "dns-records", "REMOTE_NS", f"127.0.0.1:{dns_server.port}")
        catalogue.put_setting(org, "dns-records", "RECORD_TYPES", "A")
        catalogue.put_setting(org, "port-scan", "PORTS", str(ssh_server.port))
    scopes = tmp_path / "catalogue" / "scopes"
    scopes.mkdir()
    acme = scopes / "acme.yaml"
    acme.write_text(f"objects:\n  {HOST}: 2\nplugins:\n  dns-records: {{interval: {INTERVAL}s}}\n")
    system = Honcho(tmp_path, env)
    try:
        first = _wait("dns-records ran", lambda: [
            j for j in _jobs(env, "acme", "dns-records") if str(j.status) == "completed"
        ])  # fmt: skip
        assert REUSED not in first[0].meta
        time.sleep(3)
        # The A record's address inherits no level (OpenKAT's DNSARecord.address): no scan.
        assert _jobs(env, "acme", "port-scan") == []

        # A hand edit declares the IP at level 2: port-scan runs on it within a tick or two.
        acme.write_text(
            f"objects:\n  {HOST}: 2\n  {IP}: 2\n"
            f"plugins:\n  dns-records: {{interval: {INTERVAL}s}}\n"
        )
        scans = _wait("port-scan ran", lambda: _jobs(env, "acme", "port-scan"), timeout=30)
        assert scans[0].input_ooi == IP

        # beta declares the same hostname: same input and settings, so the run is reused.
        (scopes / "beta.yaml").write_text(f"objects:\n  {HOST}: 2\n")
        beta = _wait("beta's dns-records ended", lambda: [
            j for j in _jobs(env, "beta", "dns-records") if j.ended
        ])  # fmt: skip
        assert str(beta[0].status) == "completed"
        assert beta[0].meta[REUSED] == first[0].id

        # Reruns keep the interval.
        runs = _wait("acme's dns-records ran three times", lambda: (
            jobs if len(jobs := _jobs(env, "acme", "dns-records")) >= 3 else None
        ), timeout=3 * INTERVAL + 20)  # fmt: skip
        gaps = [_stamp(b.queued_at) - _stamp(a.queued_at) for a, b in itertools.pairwise(runs)]
        assert all(gap >= INTERVAL - 0.1 for gap in gaps), gaps
    finally:
        system.sigterm()

    # A restart runs nothing before it is due.
    store = open_store(env["KAT_DATABASE_URL"])
    due = {e.boefje_id: e.next_at for e in store.schedule_entries("acme")}
    store.close()
    before = len(_jobs(env, "acme", "dns-records"))
    system = Honcho(tmp_path, env, "honcho-2.log")
    try:
        again = _wait("dns-records ran after the restart", lambda: (
            jobs[before:] if len(jobs := _jobs(env, "acme", "dns-records")) > before else None
        ), timeout=INTERVAL + 30)  # fmt: skip
        assert _stamp(again[0].queued_at) >= _stamp(due["dns-records"]), (again[0], due)
    finally:
        system.sigterm()
        delete_queues(env)


REUSED = "deduplicated_from"
