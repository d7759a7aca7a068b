"""The scheduler under honcho with the Procfile's processes, accelerated intervals and
loopback servers, step by step as the continuous-scanning issue tells it:

a hostname declared at level 2; dns-records, port-scan (level 2) and service_banner
(level 3 for this organisation) enabled. dns-records runs; the IP it finds inherits no
level through the A record (OpenKAT's rule), so port-scan does not run on it until a
hand edit declares it at 2; the port found inherits 2, so service_banner does not run
until a hand edit raises the IP to 3, and then it runs within one interval. Each boefje
reruns on its interval and not more often; a restart runs nothing early. A second
organisation declaring the same hostname with the same settings causes one run, not
two (its job waits for the first and reuses its output)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest

from kat import config
from kat.catalogue import Catalogue
from kat.scheduling.levels import object_levels
from kat.scheduling.scope import Scopes
from kat.store import open_store
from tests.e2e.e2e_harness import Honcho, delete_queues, environment

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

HOST = "Hostname|internet|example.test"
IP = "IPAddressV4|internet|127.0.0.1"
#: Seconds between runs of each boefje (the scope file's intervals).
INTERVALS = {"dns-records": 6, "port-scan": 8, "service_banner": 10}
REUSED = "deduplicated_from"


def _jobs(env, org: str, plugin: str, after: float = 0.0) -> list:
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        jobs = store.list_jobs(org=org, plugin=plugin, job_type="boefje", limit=500)
    finally:
        store.close()
    return sorted((j for j in jobs if _stamp(j.queued_at) >= after), key=lambda j: j.queued_at)


def _objects(env, org: str, object_type: str) -> list[str]:
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        return [o.primary_key for o in store.objects(org, object_type=object_type)]
    finally:
        store.close()


def _levels(env, org: str) -> dict:
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        return object_levels(store, Scopes(env["KAT_CATALOGUE_DIR"]), org)
    finally:
        store.close()


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


def _scope(path, ip_level: int | None) -> None:
    """The hand-written scope file: the hostname at 2, the IP at ``ip_level`` (if any),
    each boefje's interval, port-scan at level 2 and service_banner at level 3."""
    ip = f"  {IP}: {ip_level}\n" if ip_level is not None else ""
    path.write_text(
        f"objects:\n  {HOST}: 2\n{ip}plugins:\n"
        f"  dns-records: {{interval: {INTERVALS['dns-records']}s}}\n"
        f"  port-scan: {{interval: {INTERVALS['port-scan']}s, scan_level: 2}}\n"
        f"  service_banner: {{interval: {INTERVALS['service_banner']}s, scan_level: 3}}\n"
    )


def _gaps(jobs) -> list[float]:
    return [_stamp(b.queued_at) - _stamp(a.queued_at) for a, b in itertools.pairwise(jobs)]


def test_scheduler_under_honcho(tmp_path, dns_server, ssh_server):
    env = {
        **environment(tmp_path),
        "KAT_SCHEDULER_TICK": "1",
        "KAT_DEFAULT_INTERVAL": "3600",
        "KAT_GRACE_PERIOD": "60",
    }
    port = f"IPPort|internet|127.0.0.1|tcp|{ssh_server.port}"
    catalogue = Catalogue.from_settings(config.load(env))
    for org in ("acme", "beta"):
        catalogue.create_organisation(org)
        for plugin in INTERVALS:
            catalogue.set_enabled(org, plugin, True)
        catalogue.put_setting(org, "dns-records", "REMOTE_NS", f"127.0.0.1:{dns_server.port}")
        catalogue.put_setting(org, "dns-records", "RECORD_TYPES", "A")
        catalogue.put_setting(org, "port-scan", "PORTS", str(ssh_server.port))
    scopes = tmp_path / "catalogue" / "scopes"
    scopes.mkdir()
    acme = scopes / "acme.yaml"
    _scope(acme, None)
    (scopes / "beta.yaml").write_text(f"objects:\n  {HOST}: 2\n")
    system = Honcho(tmp_path, env)
    try:
        # dns-records runs on the declared hostname and finds its IP address. beta
        # declared the same hostname, with the same settings: one run, not two.
        first = {org: _wait(f"{org}'s dns-records ran", lambda o=org: [
            j for j in _jobs(env, o, "dns-records") if str(j.status) == "completed"
        ])[0] for org in ("acme", "beta")}  # fmt: skip
        ran = [job for job in first.values() if REUSED not in job.meta]
        assert len(ran) == 1, f"{len(ran)} runs of dns-records, not one: {first}"
        [reused] = [job for job in first.values() if REUSED in job.meta]
        assert reused.meta[REUSED] == ran[0].id
        _wait("the IP was found", lambda: IP in _objects(env, "acme", "IPAddressV4"))
        # The A record's address inherits no level (OpenKAT's DNSARecord.address): no scan.
        assert IP not in _levels(env, "acme")
        time.sleep(3)  # three scheduler ticks
        assert _jobs(env, "acme", "port-scan") == []

        # A hand edit declares the IP at level 2: port-scan runs on it.
        _scope(acme, 2)
        scans = _wait("port-scan ran", lambda: _jobs(env, "acme", "port-scan"), timeout=30)
        assert scans[0].input_ooi == IP
        # The open port it finds inherits the IP's 2; service_banner needs 3 here.
        _wait("the port was found", lambda: port in _objects(env, "acme", "IPPort"))
        level = _levels(env, "acme")[port]
        assert (level.level, level.source) == (2, f"inherited (IPPort.address -> {IP})")
        time.sleep(3)
        assert _jobs(env, "acme", "service_banner") == []

        # A hand edit raises the IP to 3: service_banner runs within one interval.
        _scope(acme, 3)
        raised = time.time()
        banners = _wait("service_banner ran", lambda: _jobs(env, "acme", "service_banner"),
                        timeout=INTERVALS["service_banner"])  # fmt: skip
        assert banners[0].input_ooi == port
        assert _stamp(banners[0].queued_at) - raised <= INTERVALS["service_banner"]

        # Each boefje reruns on its interval and not more often (port-scan counted from
        # the raise, which made its pair due at once).
        for plugin, after in (("dns-records", 0.0), ("port-scan", raised),
                              ("service_banner", 0.0)):  # fmt: skip
            runs = _wait(f"acme's {plugin} ran three times", lambda p=plugin, a=after: (
                jobs if len(jobs := _jobs(env, "acme", p, a)) >= 3 else None
            ), timeout=3 * INTERVALS[plugin] + 30)  # fmt: skip
            assert all(gap >= INTERVALS[plugin] - 0.1 for gap in _gaps(runs)), (plugin, runs)
    finally:
        system.sigterm()

    # A restart runs nothing before it is due.
    store = open_store(env["KAT_DATABASE_URL"])
    due = {(e.boefje_id, e.input_ooi): e.next_at for e in store.schedule_entries("acme")}
    store.close()
    assert set(due) == {("dns-records", HOST), ("port-scan", IP), ("service_banner", port)}
    stopped = time.time()
    system = Honcho(tmp_path, env, "honcho-2.log")
    try:
        for (plugin, reference), next_at in due.items():
            again = _wait(f"{plugin} ran after the restart", lambda p=plugin: _jobs(
                env, "acme", p, stopped
            ), timeout=INTERVALS[plugin] + 30)  # fmt: skip
            assert again[0].input_ooi == reference
            assert _stamp(again[0].queued_at) >= _stamp(next_at), (again[0], next_at)
    finally:
        system.sigterm()
        delete_queues(env)
