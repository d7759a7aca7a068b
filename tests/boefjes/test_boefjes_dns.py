"""DNS boefjes against the loopback DNS server, then their normalizers on the raw."""

import json

import dns.name
import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer

pytestmark = pytest.mark.timeout(30)


def dns_records(dns_server, name, **settings):
    inp = input_ooi(f"Hostname|internet|{name}")
    raws, _ = run_boefje("kat_dns", inp, {"REMOTE_NS": dns_server.address, **settings})
    assert len(raws) == 1
    return inp, raws[0][1]


def test_dns_records_become_objects(dns_server):
    inp, raw = dns_records(dns_server, "example.test")
    result = json.loads(raw)
    assert result["dns_records"].startswith("RESOLVER: 127.0.0.1\n")
    assert "example.test. IN SOA" in result["dns_records"]  # the zone's SOA comes first
    assert "v=DMARC1" in result["dmarc_response"]
    assert "NOERROR" in result["dkim_response"]  # _domainkey exists (a selector below it)

    refs = set(references(run_normalizer("kat_dns_normalize", inp, raw)))
    assert {
        "DNSARecord|internet|example.test|127.0.0.1",
        "DNSAAAARecord|internet|example.test|::1",
        "DNSMXRecord|internet|example.test|10 mail.example.test.",
        "DNSMXRecord|internet|example.test|20 mail2.example.test.",
        "DNSNSRecord|internet|example.test|ns1.example.test.",
        'DNSCAARecord|internet|example.test|"letsencrypt.org"',
        "DNSSOARecord|internet|example.test|internet|ns1.example.test",
        "DMARCTXTRecord|v=DMARC1; p=reject|internet|example.test",
        "DKIMExists|internet|example.test",
        "DNSZone|internet|example.test",
    } <= refs
    assert any(r.startswith("DNSTXTRecord|internet|example.test|") for r in refs)


def test_cname_is_followed_and_reported(dns_server):
    inp, raw = dns_records(dns_server, "www.example.test", RECORD_TYPES="A,CNAME")
    refs = set(references(run_normalizer("kat_dns_normalize", inp, raw)))
    assert "DNSCNAMERecord|internet|www.example.test|example.test." in refs
    assert "DNSARecord|internet|example.test|127.0.0.1" in refs
    asked = {(name, rdtype) for name, rdtype, _ in dns_server.queries}
    assert ("www.example.test.", "MX") not in asked  # RECORD_TYPES limits the questions


def test_missing_name_is_nxdomain(dns_server):
    inp, raw = dns_records(dns_server, "nope.example.test")
    assert raw == b"NXDOMAIN"
    assert references(run_normalizer("kat_dns_normalize", inp, raw)) == [
        "NXDOMAIN|internet|nope.example.test"
    ]


def test_truncated_udp_answers_are_asked_again_over_tcp(dns_server):
    """``big.example.test`` has more TXT than fits 512 bytes of UDP: the answer comes by TCP."""
    inp, raw = dns_records(dns_server, "big.example.test", RECORD_TYPES="TXT")
    asked = [
        (n, t, transport) for n, t, transport in dns_server.queries if n == "big.example.test."
    ]
    assert ("big.example.test.", "TXT", "udp") in asked
    assert ("big.example.test.", "TXT", "tcp") in asked
    records = json.loads(raw)["dns_records"]
    assert records.count("big.example.test. 300 IN TXT") == 12


def test_remote_ns_takes_ipv6_with_port():
    from tests.servers.dns_server import DNSServer

    server = DNSServer(host="::1")
    try:
        inp = input_ooi("Hostname|internet|example.test")
        raws, _ = run_boefje("kat_dns", inp, {"REMOTE_NS": server.address, "RECORD_TYPES": "A"})
        assert server.address.startswith("[::1]:")
        assert "example.test. 300 IN A 127.0.0.1" in json.loads(raws[0][1])["dns_records"]
    finally:
        server.close()


@pytest.mark.parametrize("bad", ["example.test", "1.2.3.4:x", "[::1]x", "1.2.3.4:70000"])
def test_bad_remote_ns_is_a_clear_error(dns_server, bad):
    with pytest.raises(ValueError, match="REMOTE_NS"):
        run_boefje("kat_dns", input_ooi("Hostname|internet|example.test"), {"REMOTE_NS": bad})


def test_rdns_ptr_and_nxdomain(dns_server):
    settings = {"REMOTE_NS": dns_server.address}
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    raws, _ = run_boefje("kat_rdns", inp, settings)
    assert raws[0][1].startswith(b"RESOLVER: 127.0.0.1\n")
    assert references(run_normalizer("kat_rdns_normalize", inp, raws[0][1])) == [
        "Hostname|internet|localhost.example.test",
        "DNSPTRRecord|internet|localhost.example.test|internet|127.0.0.1",
    ]
    missing = input_ooi("IPAddressV4|internet|127.0.0.2")
    raws, _ = run_boefje("kat_rdns", missing, settings)
    assert raws == [(set(), b"NXDOMAIN")]
    assert run_normalizer("kat_rdns_normalize", missing, raws[0][1]) == []


def test_dns_zone_finds_the_parent_zone(dns_server):
    inp = input_ooi("DNSZone|internet|example.test")
    raws, _ = run_boefje("kat_dns_zone", inp, {"REMOTE_NS": dns_server.address})
    assert b"test. IN SOA" in raws[0][1]
    refs = references(run_normalizer("kat_dns_zone_normalize", inp, raws[0][1]))
    assert "DNSZone|internet|test" in refs
    assert "DNSSOARecord|internet|test|internet|ns1.test" in refs


@pytest.mark.parametrize(
    ("hostname", "verdict", "findings"),
    [
        ("signed.test", "[T] signed.test. 300 IN A 127.0.0.1", []),
        ("www.signed.test", "[T] www.signed.test. 300 IN A 127.0.0.1", []),
        ("example.test", "[U] example.test. 300 IN A 127.0.0.1", ["KAT-NO-DNSSEC"]),
        ("bogus.test", "[B] bogus.test. A:", ["KAT-INVALID-DNSSEC"]),
        ("nope.signed.test", "[T] Existence denied: nope.signed.test. A", []),
        ("alias.signed.test", "[T] alias.signed.test. 300 IN CNAME www.signed.test.", []),
    ],
)
def test_dnssec_verdicts_become_findings(dns_server, hostname, verdict, findings):
    inp = input_ooi(f"Hostname|internet|{hostname}")
    settings = {"REMOTE_NS": dns_server.address, "TRUST_ANCHOR": dns_server.trust_anchor_text}
    raws, _ = run_boefje("kat_dnssec", inp, settings)
    lines = raws[0][1].decode().splitlines()
    assert lines[-1].startswith(";;[S] self sig OK")
    assert lines[-2].startswith(verdict)
    refs = references(run_normalizer("kat_dnssec_normalize", inp, raws[0][1]))
    assert refs == [
        ref
        for finding in findings
        for ref in (f"KATFindingType|{finding}", f"Finding|Hostname|internet|{hostname}|{finding}")
    ]


def test_dnssec_trust_anchor_can_be_a_dnskey(dns_server):
    """A DNSKEY anchor works like a DS; a wrong anchor makes the chain bogus."""
    import dns.dnssec
    import dns.name

    parent = next(z for z in dns_server.zones if z.origin == dns.name.from_text("test."))
    key = parent.find_rdataset("test.", "DNSKEY")[0]
    settings = {"REMOTE_NS": dns_server.address, "TRUST_ANCHOR": f"test. IN DNSKEY {key}"}
    raws, _ = run_boefje("kat_dnssec", input_ooi("Hostname|internet|signed.test"), settings)
    assert raws[0][1].decode().splitlines()[-2].startswith("[T]")

    wrong = "test. IN DS 1 13 2 " + "00" * 32
    raws, _ = run_boefje(
        "kat_dnssec",
        input_ooi("Hostname|internet|signed.test"),
        {**settings, "TRUST_ANCHOR": wrong},
    )
    assert raws[0][1].decode().splitlines()[-2].startswith("[B]")


def test_dnssec_bad_trust_anchor_is_a_clear_error(dns_server):
    with pytest.raises(ValueError, match="TRUST_ANCHOR line 1"):
        run_boefje(
            "kat_dnssec",
            input_ooi("Hostname|internet|signed.test"),
            {"REMOTE_NS": dns_server.address, "TRUST_ANCHOR": "test. IN DS not-a-ds"},
        )


def test_dnssec_name_outside_the_anchor_has_no_verdict(dns_server):
    inp = input_ooi("Hostname|internet|example.org")
    settings = {"REMOTE_NS": dns_server.address, "TRUST_ANCHOR": dns_server.trust_anchor_text}
    raws, _ = run_boefje("kat_dnssec", inp, settings)
    assert all(line.startswith(";") for line in raws[0][1].decode().splitlines())
    assert run_normalizer("kat_dnssec_normalize", inp, raws[0][1]) == []


def test_rdns_of_an_unreachable_reverse_zone_is_a_lame_delegation_finding(dns_server):
    """The resolver answers SERVFAIL with EDE 22 (No Reachable Authority): the raw says
    so in OpenKAT's form and the normalizer puts KAT-LAME-DELEGATION on the address."""
    reverse_zone = dns.name.from_text("2.0.192.in-addr.arpa.")
    dns_server.resolver.unreachable.append(reverse_zone)
    try:
        inp = input_ooi("IPAddressV4|internet|192.0.2.7")
        raws, _ = run_boefje("kat_rdns", inp, {"REMOTE_NS": dns_server.address})
    finally:
        dns_server.resolver.unreachable.remove(reverse_zone)
    assert raws == [(set(), b"NoAuthServersReachable:at delegation 2.0.192.in-addr.arpa.")]
    out = run_normalizer("kat_rdns_normalize", inp, raws[0][1])
    assert references(out) == [
        "KATFindingType|KAT-LAME-DELEGATION",
        "Finding|IPAddressV4|internet|192.0.2.7|KAT-LAME-DELEGATION",
    ]
    assert out[1].description == "at delegation 2.0.192.in-addr.arpa."


def test_rdns_without_an_answer_finds_nothing(silent_dns_server):
    inp = input_ooi("IPAddressV4|internet|192.0.2.7")
    settings = {"REMOTE_NS": silent_dns_server.address, "TIMEOUT": "1"}
    raws, _ = run_boefje("kat_rdns", inp, settings)
    assert raws == [(set(), b"NoAnswer")]
    assert run_normalizer("kat_rdns_normalize", inp, raws[0][1]) == []
