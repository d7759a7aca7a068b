"""Reference strings, the JSON form and the input dict: every type, property-tested."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kat import ooi
from tests.ooi.ooi_strategies import keys_only, objects

NAMES = sorted(ooi.TYPES)
#: Types whose reference names its objects: all but Config, keyed as Octopoes does on its
#: object's natural key without the class name.
PARSEABLE = [n for n in NAMES if n != "Config"]


@pytest.mark.parametrize("name", PARSEABLE)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_parse_reference_inverts_reference(name, data):
    obj = data.draw(keys_only(name))
    ref = obj.reference
    parsed = ooi.parse_reference(ref)
    assert parsed.reference == ref
    if name == "DNSTXTRecord":
        # its key holds the SHA-1 of the value, so the value itself cannot come back
        assert parsed.value is None and parsed.value_sha1 == obj.value_sha1
    else:
        assert parsed == obj
    assert ooi.from_serialized(parsed.serialize()).reference == ref


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_serialized_form_round_trips(name, data):
    obj = data.draw(objects(name))
    form = obj.serialize()
    assert form["object_type"] == name and form["primary_key"] == obj.reference
    assert ooi.from_serialized(form) == obj


@pytest.mark.parametrize("name", PARSEABLE)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_input_dict_names_the_object(name, data):
    obj = data.draw(keys_only(name))
    form = ooi.input_dict(obj.reference)
    assert form["object_type"] == name
    assert form["primary_key"] == obj.reference
    assert ooi.from_input_dict(form).reference == obj.reference


def test_every_listed_type_is_registered():
    listed = [
        "Network",
        "Hostname",
        "IPAddressV4",
        "IPAddressV6",
        "IPPort",
        "Service",
        "IPService",
        "Website",
        "HostnameHTTPURL",
        "URL",
        "HTTPResource",
        "HTTPHeader",
        "DNSZone",
        "DNSARecord",
        "DNSAAAARecord",
        "DNSCNAMERecord",
        "DNSMXRecord",
        "DNSNSRecord",
        "DNSSOARecord",
        "DNSTXTRecord",
        "DNSCAARecord",
        "DNSPTRRecord",
        "NXDOMAIN",
        "DMARCTXTRecord",
        "DKIMExists",
        "X509Certificate",
        "SubjectAlternativeNameHostname",
        "SecurityTXT",
        "Software",
        "SoftwareInstance",
        "KATFindingType",
        "CVEFindingType",
        "Finding",
    ]
    assert set(listed) <= set(ooi.TYPES)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("IPPort|internet|192.0.2.1|tcp|443", "IPPort|internet|192.0.2.1|tcp|443"),
        ("IPPort|internet|FE80:0::1|tcp|22", "IPPort|internet|fe80::1|tcp|22"),
        ("Hostname|internet|Example.COM", "Hostname|internet|example.com"),
        ("CVEFindingType|cve-2024-6387", "CVEFindingType|CVE-2024-6387"),
        (
            "Finding|Hostname|internet|example.org|KAT-NO-DNSSEC",
            "Finding|Hostname|internet|example.org|KAT-NO-DNSSEC",
        ),
    ],
)
def test_canonical_forms(ref, expected):
    assert ooi.parse_reference(ref).reference == expected


def test_octopoes_examples():
    website = ooi.parse_reference("Website|internet|192.0.2.1|tcp|443|https|internet|example.com")
    assert website.ip_service.ip_port.address.address == "192.0.2.1"
    assert isinstance(website.ip_service.ip_port.address, ooi.IPAddressV4)
    assert website.hostname.name == "example.com"
    assert ooi.input_dict(website.reference)["ip_service"] == {
        "ip_port": {
            "address": {"network": {"name": "internet"}, "address": "192.0.2.1"},
            "protocol": "tcp",
            "port": 443,
        },
        "service": {"name": "https"},
    }
    txt = ooi.DNSTXTRecord(
        hostname="Hostname|internet|example.nl", value="v=spf1 redirect=spf-a.example.nl"
    )
    assert txt.reference == (
        "DNSTXTRecord|internet|example.nl|2fdd81c7d128c5d3915c74be49f247b93f4ac48d"
    )
    finding = ooi.Finding(finding_type="KATFindingType|KAT-NO-DNSSEC", ooi=website)
    assert finding.reference == f"Finding|{website.reference}|KAT-NO-DNSSEC"
    assert isinstance(ooi.parse_reference(finding.reference).finding_type, ooi.KATFindingType)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("Hostname|internet", "needs a value for name"),
        ("Nope|x", "unknown object type 'Nope'"),
        ("Hostname|internet|a|b", "unexpected trailing values 'b'"),
        ("IPPort|internet|192.0.2.1|tcp|70000", "out of range"),
        ("IPPort|internet|192.0.2.1|sctp|80", "tcp or udp"),
        ("IPAddressV4|internet|not-an-ip", "not an IP address"),
        ("IPAddressV4|internet|::1", "not IPv4"),
        ("Finding|Nope|x|KAT-X", "unknown object type 'Nope'"),
        ("", "not a reference"),
    ],
)
def test_bad_references_name_the_problem(ref, message):
    with pytest.raises(ValueError, match=message):
        ooi.parse_reference(ref)


def test_from_serialized_rejects_mistakes():
    with pytest.raises(ValueError, match="unknown object_type 'Nope'"):
        ooi.from_serialized({"object_type": "Nope"})
    with pytest.raises(ValueError, match="unknown field"):
        ooi.from_serialized({"object_type": "Network", "name": "x", "colour": "red"})
    with pytest.raises(ValueError, match="missing field"):
        ooi.from_serialized({"object_type": "Hostname", "name": "x"})
    with pytest.raises(ValueError, match="does not match"):
        ooi.from_serialized({"object_type": "Network", "name": "x", "primary_key": "Network|y"})
    with pytest.raises(ValueError, match=r"'\|' is not allowed"):
        ooi.Network(name="a|b")


def test_declared_objects_are_marked():
    net = ooi.declare(ooi.Network(name="internet"))
    assert net.declared and not ooi.Network(name="internet").declared
    assert net.serialize()["declared"] is True
    assert "declared" not in ooi.Network(name="internet").serialize()
    assert ooi.from_serialized(net.serialize()).declared


def test_observations_need_an_input_object():
    seen = [ooi.Network(name="internet")]
    ooi.check_observations("Network|internet", seen)
    ooi.check_observations(None, [ooi.declare(ooi.Network(name="internet"))])
    with pytest.raises(ooi.ObservationsWithoutInput, match="no input object"):
        ooi.check_observations(None, seen)
