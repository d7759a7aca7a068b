"""Scan levels: declared ones win, inherited ones follow Octopoes' per-reference limits."""

from kat.ooi import DNSARecord, Hostname, IPAddressV4, IPPort, IPService, Network, Service
from kat.scheduling.levels import LIMITS, levels

NET = Network(name="internet")
HOST = Hostname(network=NET, name="example.com")
IP = IPAddressV4(network=NET, address="127.0.0.1")
A = DNSARecord(hostname=HOST, address=IP, value="127.0.0.1")
PORT = IPPort(address=IP, protocol="tcp", port=443, state="open")
SERVICE = Service(name="https")
IPSVC = IPService(ip_port=PORT, service=SERVICE)


def _objects(*oois):
    return [(o.reference, o.serialize()) for o in oois]


def test_limits_name_fields_kat_objects_have():
    import kat.ooi as ooi

    for object_type, field in LIMITS:
        cls = getattr(ooi, object_type, None)
        if cls is not None:  # ResolvedHostname and netblocks are OpenKAT types kat may lack
            assert field in cls.__dataclass_fields__, (object_type, field)


def test_a_record_inherits_from_hostname_but_passes_nothing_to_its_address():
    found = levels({HOST.reference: 2}, _objects(A, IP))
    assert found[HOST.reference].declared and found[HOST.reference].level == 2
    assert found[A.reference].level == 2
    assert found[A.reference].source == f"inherited (DNSARecord.hostname -> {HOST.reference})"
    assert IP.reference not in found  # DNSARecord.address has no limits: never scanned


def test_hostname_level_capped_at_two_on_its_records():
    found = levels({HOST.reference: 4}, _objects(A))
    assert found[A.reference].level == 2  # max_inherit_scan_level=2


def test_port_and_service_inherit_from_a_declared_ip_but_issue_nothing_back():
    found = levels({PORT.reference: 3}, _objects(PORT, IPSVC, IP))
    assert IP.reference not in found  # IPPort.address: max_issue_scan_level=0
    assert found[IPSVC.reference].level == 3
    assert found[SERVICE.reference].level == 1  # IPService.service issues at most 1

    found = levels({IP.reference: 3}, _objects(PORT, IPSVC))
    assert found[PORT.reference].level == 3 and found[IPSVC.reference].level == 3


def test_resolved_hostname_passes_the_level_on_and_declared_wins():
    resolved = {"hostname": HOST.reference, "address": IP.reference}
    objects = [("ResolvedHostname|internet|example.com|internet|127.0.0.1", resolved)]
    assert levels({HOST.reference: 3}, objects)[IP.reference].level == 3
    found = levels({HOST.reference: 3, IP.reference: 1}, objects)
    assert found[IP.reference].level == 1 and found[IP.reference].declared


def test_nothing_declared_nothing_scanned():
    assert levels({}, _objects(A, IP, PORT, IPSVC)) == {}
