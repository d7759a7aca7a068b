"""One scheduler pass at a time, on a real store, with a clock the test moves."""

from __future__ import annotations

from kat.ooi import DNSARecord, Hostname, IPAddressV4, IPPort, Network
from kat.scheduling.scheduler import LEASE, upcoming
from tests.scheduling.conftest import System

NET = Network(name="internet")
HOST = Hostname(network=NET, name="example.com")
IP = IPAddressV4(network=NET, address="127.0.0.1")
A = DNSARecord(hostname=HOST, address=IP, value="127.0.0.1")


def _enable(system: System, org: str, *plugin_ids: str) -> None:
    for plugin_id in plugin_ids:
        system.catalogue.set_enabled(org, plugin_id, True)


def _found(system: System, org: str, *oois) -> None:
    job = f"normalizer-{org}-{len(oois)}"
    system.store.add_job(job, "normalizer", org, "kat_dns_normalize", {"id": job})
    system.store.replace_objects(job, org, [o.serialize() for o in oois])


def test_declared_objects_are_scanned_at_once_then_on_their_interval(system):
    _enable(system, "acme", "dns-records")
    assert system.pass_() == []  # nothing declared: nothing scanned
    system.scopes.set("acme", HOST.reference, 2)
    assert system.pass_() == [("acme", "dns-records", HOST.reference)]
    system.clock.advance(30)
    assert system.pass_() == []  # the run has not ended, and it is not due
    system.finish_all()
    system.clock.advance(29)
    assert system.pass_() == []  # due after 60 s (KAT_DEFAULT_INTERVAL here), not before
    system.clock.advance(2)
    assert system.pass_() == [("acme", "dns-records", HOST.reference)]


def test_levels_decide_which_boefjes_run_and_a_raise_schedules_at_once(system):
    _enable(system, "acme", "dns-records", "port-scan", "service_banner")
    system.scopes.set("acme", HOST.reference, 2)
    assert system.pass_() == [("acme", "dns-records", HOST.reference)]
    _found(system, "acme", A, IP)
    assert system.pass_() == []  # the A record's address inherits nothing (OpenKAT's rule)
    system.scopes.set("acme", IP.reference, 1)
    assert system.pass_() == []  # port-scan is level 2
    system.scopes.set("acme", IP.reference, 2)
    assert system.pass_() == [("acme", "port-scan", IP.reference)]


def test_a_restarted_scheduler_runs_nothing_early(system, catalogue, store):
    _enable(system, "acme", "dns-records")
    system.scopes.set("acme", HOST.reference, 2)
    assert len(system.pass_()) == 1
    system.finish_all()
    system.clock.advance(30)
    again = System(catalogue, store)
    again.clock.now = system.clock.now
    assert again.pass_() == []
    again.clock.advance(31)
    assert again.pass_() == [("acme", "dns-records", HOST.reference)]


def test_interval_and_cron_from_the_scope_file(system):
    _enable(system, "acme", "dns-records", "port-scan")
    system.scopes.set("acme", HOST.reference, 2)
    system.scopes.set("acme", IP.reference, 2)
    path = system.catalogue.root / "scopes" / "acme.yaml"
    path.write_text(
        path.read_text() + "plugins:\n  dns-records: {interval: 10s}\n"
        "  port-scan: {cron: '0 * * * *'}\n"
    )
    assert len(system.pass_()) == 2
    system.finish_all()
    system.clock.advance(11)
    assert system.pass_() == [("acme", "dns-records", HOST.reference)]
    entry = {e.boefje_id: e for e in upcoming(system.store, "acme")}["port-scan"]
    assert entry.next_at == "2026-01-01T01:00:00.000000+00:00"  # the next full hour


def test_outstanding_jobs_are_bounded_per_organisation_and_urgent_first(catalogue, store):
    system = System(catalogue, store, max_per_org=2, max_total=3)
    _enable(system, "acme", "dns-records")
    _enable(system, "beta", "dns-records")
    for n in range(4):
        system.scopes.set("acme", f"Hostname|internet|h{n}.example", 2)
        system.scopes.set("beta", f"Hostname|internet|h{n}.example", 2)
    sent = system.pass_()
    assert len(sent) == 3
    assert max(sum(1 for s in sent if s[0] == org) for org in ("acme", "beta")) == 2
    assert system.pass_() == []  # all 3 still outstanding
    system.finish_all()
    assert len(system.pass_()) == 3
    system.finish_all()
    assert len(system.pass_()) == 2  # the last two of the 8 pairs


def test_removed_from_scope_is_no_longer_scheduled(system):
    _enable(system, "acme", "dns-records")
    system.scopes.set("acme", HOST.reference, 2)
    system.pass_()
    system.scopes.remove("acme", HOST.reference)
    system.scheduler.plan()
    assert list(upcoming(system.store, "acme")) == []


def test_only_one_scheduler_holds_the_lease(store):
    assert store.take_lease(LEASE, "a", 10)
    assert not store.take_lease(LEASE, "b", 10)
    assert store.take_lease(LEASE, "a", 10)  # renewed by its holder
    store.release_lease(LEASE, "a")
    assert store.take_lease(LEASE, "b", 10)


def test_a_large_schedule_write_round_trips(store):
    from kat.store.base import ScheduleEntry

    entries = [
        ScheduleEntry("acme", "dns-records", f"Hostname|internet|h{n}.example", 2, "2026-01-01")
        for n in range(250)
    ]
    assert store.put_schedule(entries) == 250
    changed = [ScheduleEntry(e.organization, e.boefje_id, e.input_ooi, 3, "2026-02-01", True)
               for e in entries[:120]]  # fmt: skip
    added = [ScheduleEntry("acme", "dns-records", f"Hostname|internet|new{n}.example", 4, "2026")
             for n in range(30)]  # fmt: skip
    store.put_schedule(changed + added)  # an upsert: no duplicate keys, the new ones added
    assert store.schedule_levels("acme", "dns-records") == {
        **{e.input_ooi: 3 if n < 120 else 2 for n, e in enumerate(entries)},
        **{e.input_ooi: 4 for e in added},
    }
    planned = {f"Hostname|internet|p{n}.example": 1 for n in range(150)}
    assert store.add_schedule("acme", "port-scan", planned, "2026-03-01") == 150
    assert store.schedule_levels("acme", "port-scan") == planned
    assert {(e.next_at, e.urgent) for e in store.schedule_entries("acme")
            if e.boefje_id == "port-scan"} == {("2026-03-01", True)}  # fmt: skip


def test_a_scope_scan_level_raises_what_a_boefje_needs_never_lowers_it(system, caplog):
    _enable(system, "acme", "port-scan", "service_banner")
    port = IPPort(address=IP, protocol="tcp", port=22)
    _found(system, "acme", IP, port)
    path = system.catalogue.root / "scopes" / "acme.yaml"
    path.parent.mkdir()
    path.write_text(
        f"objects:\n  {IP.reference}: 2\n"
        "plugins:\n  service_banner: {scan_level: 3}\n  port-scan: {scan_level: 1}\n"
    )
    # port-scan's own level (2) holds however low the override; service_banner waits for 3.
    assert system.pass_() == [("acme", "port-scan", IP.reference)]
    assert "port-scan scan_level 1 is below the plugin's own 2" in caplog.text
    system.scopes.set("acme", IP.reference, 3)  # the port inherits 3 from its address
    assert system.pass_() == [("acme", "service_banner", port.reference)]
    _enable(system, "beta", "service_banner")
    _found(system, "beta", IP, port)
    system.scopes.set("beta", IP.reference, 2)
    system.finish_all()  # (beta's banner waits for acme's to end)
    sent = system.pass_()
    assert [s for s in sent if s[0] == "beta"] == [("beta", "service_banner", port.reference)]
    assert ("acme", "port-scan", IP.reference) in sent  # its level rose to 3: due at once


def test_the_same_boefje_on_the_same_input_is_sent_for_one_organisation_at_a_time(system):
    for org in ("acme", "beta"):
        _enable(system, org, "dns-records")
        system.scopes.set(org, HOST.reference, 2)
    [first] = system.pass_()  # one of the two: the other waits for its run to end
    assert first[1:] == ("dns-records", HOST.reference)
    system.clock.advance(5)
    assert system.pass_() == []
    system.finish_all()  # now the worker can reuse the first run (same settings)
    other = "beta" if first[0] == "acme" else "acme"
    assert system.pass_() == [(other, "dns-records", HOST.reference)]
