"""Raw forms the OpenKAT counterparts accept, and the failures they turn into findings.

Each test is one behaviour ported from OpenKAT's normalizer input handling (see
docs/normalizers.md for the list per normalizer).
"""

from __future__ import annotations

import json

import dns.edns
import dns.message
import dns.rcode
import dns.rrset
import pytest

from kat import ooi
from kat.pluginkit import json_raw, readable_dns_text, text_raw
from tests.plugins.helpers import input_ooi, references, run_normalizer

HOST = input_ooi("Hostname|internet|example.com")
ADDRESS = input_ooi("IPAddressV4|internet|192.0.2.1")


def response(name: str, kind: str, *values: str, rcode=dns.rcode.NOERROR, options=()) -> str:
    """A DNS response in dnspython's text form, as OpenKAT's boefjes write it: with EDNS and
    the given options (a resolver's Extended DNS Errors), so ``option`` lines appear."""
    query = dns.message.make_query(name, kind, use_edns=0)
    answer = dns.message.make_response(query)
    answer.use_edns(0, 0, 1232, options=list(options))
    answer.set_rcode(rcode)
    if values:
        answer.answer.append(dns.rrset.from_text(name, 300, "IN", kind, *values))
    return answer.to_text()


EDE = dns.edns.EDEOption(dns.edns.EDECode.NETWORK_ERROR, "192.0.2.53:53 rcode=REFUSED")

DIG_OUTPUT = """; <<>> DiG 9.18.24 <<>> example.com A
;; global options: +cmd
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 40000
;; flags: qr rd ra; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; QUESTION SECTION:
;example.com.\t\t\tIN\tA

;; ANSWER SECTION:
example.com.\t\t300\tIN\tA\t192.0.2.1

;; Query time: 10 msec
;; SERVER: 192.0.2.53#53(192.0.2.53) (UDP)
"""


def dns_records_raw(*responses: str, dkim="NXDOMAIN", dmarc="NXDOMAIN") -> bytes:
    records = "\n\n".join(f"RESOLVER: 192.0.2.53\n{r}" for r in responses)
    body = {"dns_records": records, "dkim_response": dkim, "dmarc_response": dmarc}
    return json.dumps(body).encode()


# -- pluginkit readers -----------------------------------------------------------------


def test_dns_text_with_edns_option_lines_is_read():
    text = response("example.com.", "A", "192.0.2.1", options=[EDE])
    assert "\noption EDE" in text  # the form dnspython writes but cannot read back
    with pytest.raises(dns.message.UnknownHeaderField):
        dns.message.from_text(text)
    assert dns.message.from_text(readable_dns_text(text)).answer[0][0].address == "192.0.2.1"


def test_dig_output_is_read_as_the_same_message():
    message = dns.message.from_text(readable_dns_text(DIG_OUTPUT))
    assert message.id == 40000 and message.rcode() == dns.rcode.NOERROR
    assert str(message.question[0].name) == "example.com."
    assert [rr.address for rr in message.answer[0]] == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ('{"a": "café"}'.encode("utf-16"), '{"a": "café"}'),
        (b'\xef\xbb\xbf{"a": "caf\xc3\xa9"}', '{"a": "café"}'),
        ('{"a": "café"}'.encode("utf-32"), '{"a": "café"}'),
        (b'{"a": "caf\xe9"}', '{"a": "café"}'),  # Latin-1, not UTF-8
    ],
)
def test_raws_in_other_encodings_are_read(raw, text):
    assert text_raw(raw) == text
    assert json_raw(raw, "x") == {"a": "café"}


# -- kat_dns_normalize -----------------------------------------------------------------


def test_dns_reads_responses_with_option_lines_and_dig_output():
    raw = dns_records_raw(
        response("example.com.", "A", "192.0.2.1", options=[EDE]),
        readable_dns_text(DIG_OUTPUT).replace("192.0.2.1", "192.0.2.2"),
        response("example.com.", "MX", "10 mail.example.com.", options=[EDE]),
    )
    out = references(run_normalizer("kat_dns_normalize", HOST, raw))
    assert "DNSARecord|internet|example.com|192.0.2.1" in out
    assert "DNSARecord|internet|example.com|192.0.2.2" in out
    assert "DNSMXRecord|internet|example.com|10 mail.example.com." in out


def test_dns_reads_dig_output_as_a_response():
    raw = dns_records_raw(DIG_OUTPUT)
    out = references(run_normalizer("kat_dns_normalize", HOST, raw))
    assert "DNSARecord|internet|example.com|192.0.2.1" in out


@pytest.mark.parametrize("answer", ["DNSSECFAIL", "Timeout", "NXDOMAIN", "NoAnswer"])
def test_dns_dkim_and_dmarc_failures_yield_nothing_for_them(answer):
    raw = dns_records_raw(response("example.com.", "A", "192.0.2.1"), dkim=answer, dmarc=answer)
    out = run_normalizer("kat_dns_normalize", HOST, raw)
    assert not [o for o in out if o.object_type in ("DKIMExists", "DMARCTXTRecord")]
    assert "DNSARecord|internet|example.com|192.0.2.1" in references(out)


def test_dns_dkim_found_when_the_domainkey_answers_noerror_with_options():
    dkim = response("_domainkey.example.com.", "TXT", options=[EDE])
    raw = dns_records_raw(response("example.com.", "A", "192.0.2.1"), dkim=dkim)
    out = references(run_normalizer("kat_dns_normalize", HOST, raw))
    assert "DKIMExists|internet|example.com" in out
    nx = response("_domainkey.example.com.", "TXT", rcode=dns.rcode.NXDOMAIN)
    raw = dns_records_raw(response("example.com.", "A", "192.0.2.1"), dkim=nx)
    assert "DKIMExists|internet|example.com" not in references(
        run_normalizer("kat_dns_normalize", HOST, raw)
    )


@pytest.mark.parametrize("raw", [b"Timeout", b"NoAnswer", b"", b"NXDOMAIN\n"])
def test_dns_plain_answers(raw):
    out = references(run_normalizer("kat_dns_normalize", HOST, raw))
    assert out == (["NXDOMAIN|internet|example.com"] if raw.strip() == b"NXDOMAIN" else [])


def test_dns_reads_a_utf16_raw():
    raw = dns_records_raw(response("example.com.", "A", "192.0.2.1")).decode().encode("utf-16")
    assert "DNSARecord|internet|example.com|192.0.2.1" in references(
        run_normalizer("kat_dns_normalize", HOST, raw)
    )


# -- kat_rdns_normalize ----------------------------------------------------------------


def test_rdns_unreachable_name_servers_become_a_lame_delegation_finding():
    raw = (
        b"NoAuthServersReachable:At delegation 2.0.192.in-addr.arpa for 1.2.0.192.in-addr.arpa/ptr"
    )
    out = run_normalizer("kat_rdns_normalize", ADDRESS, raw)
    assert references(out) == [
        "KATFindingType|KAT-LAME-DELEGATION",
        "Finding|IPAddressV4|internet|192.0.2.1|KAT-LAME-DELEGATION",
    ]
    assert out[1].description == "At delegation 2.0.192.in-addr.arpa for 1.2.0.192.in-addr.arpa/ptr"


@pytest.mark.parametrize("raw", [b"NXDOMAIN", b"NoAnswer", b"Timeout", b""])
def test_rdns_empty_answers_yield_nothing(raw):
    assert run_normalizer("kat_rdns_normalize", ADDRESS, raw) == []


def test_rdns_reads_a_response_with_option_lines():
    text = response("1.2.0.192.in-addr.arpa.", "PTR", "host.example.com.", options=[EDE])
    out = references(
        run_normalizer("kat_rdns_normalize", ADDRESS, f"RESOLVER: 1.1.1.1\n{text}".encode())
    )
    assert out == [
        "Hostname|internet|host.example.com",
        "DNSPTRRecord|internet|host.example.com|internet|192.0.2.1",
    ]


def test_rdns_a_name_containing_nxdomain_is_not_mistaken_for_no_answer():
    text = response("1.2.0.192.in-addr.arpa.", "PTR", "nxdomain.example.com.")
    out = references(
        run_normalizer("kat_rdns_normalize", ADDRESS, f"RESOLVER: 1.1.1.1\n{text}".encode())
    )
    assert "Hostname|internet|nxdomain.example.com" in out


# -- kat_dns_zone_normalize ------------------------------------------------------------


def test_dns_zone_reads_a_response_with_option_lines():
    soa = "ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 3600"
    text = response("example.com.", "SOA", soa, options=[EDE])
    zone = input_ooi("DNSZone|internet|sub.example.com")
    out = references(
        run_normalizer("kat_dns_zone_normalize", zone, f"RESOLVER: x\n{text}".encode())
    )
    assert "DNSZone|internet|example.com" in out
    assert "DNSSOARecord|internet|example.com|internet|ns1.example.com" in out


# -- kat_dnssec_normalize --------------------------------------------------------------


def test_dnssec_reads_a_latin1_trace():
    raw = ";; Chasing: example.com. A (caf\xe9)\n[U] No data found for: example.com. type A\n"
    out = references(run_normalizer("kat_dnssec_normalize", HOST, raw.encode("latin-1")))
    assert out == [
        "KATFindingType|KAT-NO-DNSSEC",
        "Finding|Hostname|internet|example.com|KAT-NO-DNSSEC",
    ]


# -- the second batch: forms beyond the cases ------------------------------------------


def test_leakix_reads_one_event_as_a_list_of_one():
    events = json.loads(open_case("kat_leakix_normalize/output"))
    one = run_normalizer("kat_leakix_normalize", input_ooi("Hostname|internet|example.com"),
                         json.dumps(events[0]).encode())  # fmt: skip
    many = run_normalizer("kat_leakix_normalize", input_ooi("Hostname|internet|example.com"),
                          json.dumps(events[:1]).encode())  # fmt: skip
    assert references(one) == references(many) and one


def test_nikto_reads_a_report_of_one_host_and_missing_headers():
    report = {"host": "example.com", "vulnerabilities": [
        {"id": "013587", "msg": "The X-Content-Type-Options header is not set."},
        {"id": "013587", "msg": "Suggested security header missing: strict-transport-security."},
        {"id": "999970", "msg": "The site uses TLS and Strict-Transport-Security is not defined."},
    ]}  # fmt: skip
    out = references(run_normalizer("kat_nikto_normalize", HOST, json.dumps(report).encode()))
    assert out == [
        "KATFindingType|KAT-MISSING-HEADER",
        "Finding|Hostname|internet|example.com|KAT-MISSING-HEADER",
        "KATFindingType|KAT-HSTS-VULNERABILITIES",
        "Finding|Hostname|internet|example.com|KAT-HSTS-VULNERABILITIES",
        "KATFindingType|KAT-HSTS-VULNERABILITIES",
        "Finding|Hostname|internet|example.com|KAT-HSTS-VULNERABILITIES",
    ]


def test_testssl_reads_ciphers_of_both_forms():
    items = [
        {"id": "cipher-tls1_2_xc030", "finding": "TLSv1.2 xc030 ECDHE-RSA-AES256-GCM-SHA384 "
         "ECDH 253 AESGCM 256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
        {"id": "cipher-tls1_2_x0a", "finding": "TLSv1.2 x0a DES-CBC3-SHA RSA 3DES 168 "
         "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
    ]  # fmt: skip
    service = input_ooi("IPService|internet|192.0.2.1|tcp|443|https")
    [flat] = run_normalizer("kat_ssl_test_ciphers_normalize", service, json.dumps(items).encode())
    pretty = {"scanResult": [{"targetHost": "x", "cipherTests": items}]}
    [nested] = run_normalizer(
        "kat_ssl_test_ciphers_normalize", service, json.dumps(pretty).encode()
    )
    assert flat == nested
    assert flat.suites["TLSv1.2"][0]["key_size"] == 253
    assert flat.suites["TLSv1.2"][1] == {
        "cipher_suite_code": "x0a", "cipher_suite_name": "DES-CBC3-SHA",
        "key_exchange_algorithm": "RSA", "encryption_algorithm": "3DES", "bits": 168,
        "cipher_suite_alias": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    }  # fmt: skip


def test_cve_finding_types_reads_the_nvd_api_answer_too():
    record = json.loads(open_case("kat_cve_finding_types_normalize/cve_with_cvss"))
    answer = {"resultsPerPage": 1, "vulnerabilities": [record]}
    target = {"id": "CVE-2021-46882"}
    [direct] = run_normalizer(
        "kat_cve_finding_types_normalize", target, json.dumps(record).encode()
    )
    [wrapped] = run_normalizer(
        "kat_cve_finding_types_normalize", target, json.dumps(answer).encode()
    )
    assert direct == wrapped and direct.risk_severity == "high"


def test_external_db_netblocks_and_levels():
    raw = {"ip_addresses": [{"address": "192.0.2.0/24", "indemnification_level": 1}],
           "domains": [{"name": "Example.COM", "indemnification_level": "4"}]}  # fmt: skip
    out = run_normalizer(
        "kat_external_db_normalize", {"name": "internet"}, json.dumps(raw).encode()
    )
    objects, profiles = ooi.split_scan_profiles(out)
    assert references(objects) == [
        "IPAddressV4|internet|192.0.2.0",
        "IPV4NetBlock|internet|internet|192.0.2.0|24",
        "Hostname|internet|example.com",
    ]
    assert [(p.ooi.reference, p.level) for p in profiles] == [
        ("IPAddressV4|internet|192.0.2.0", 1),
        ("IPV4NetBlock|internet|internet|192.0.2.0|24", 1),
        ("Hostname|internet|example.com", 4),
    ]
    bad = {"ip_addresses": [{"address": "192.0.2.1", "indemnification_level": 7}], "domains": []}
    with pytest.raises(ValueError, match=r"ip_addresses\[0\]: indemnification_level must be 0-4"):
        run_normalizer("kat_external_db_normalize", {"name": "internet"}, json.dumps(bad).encode())


def open_case(name: str) -> bytes:
    from tests.normalizers.feeds import COMPAT

    return (COMPAT / name / "raw").read_bytes()


def test_generic_finding_ids_are_case_insensitive_and_cves_are_checked():
    out = references(
        run_normalizer("kat_generic_finding_normalize", HOST, b"kat-no-csp, cve-2021-44228")
    )
    assert out == [
        "KATFindingType|KAT-NO-CSP",
        "Finding|Hostname|internet|example.com|KAT-NO-CSP",
        "CVEFindingType|CVE-2021-44228",
        "Finding|Hostname|internet|example.com|CVE-2021-44228",
    ]
    with pytest.raises(ValueError, match="'CVE-20X1-1' is not a valid CVE id"):
        run_normalizer("kat_generic_finding_normalize", HOST, b"CVE-20X1-1")
