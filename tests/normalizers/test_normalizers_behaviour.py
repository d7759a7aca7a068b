"""What each normalizer makes of the raws kat's boefjes write, beyond the OpenKAT cases."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from kat import ooi
from kat.catalogue.plugins import discover
from tests.plugins.helpers import (
    PLUGINS_DIR,
    input_ooi,
    load_module,
    references,
    run_normalizer,
)

PLUGINS, _ = discover(PLUGINS_DIR)
COMPAT = Path(__file__).parents[1] / "compat" / "openkat"


def normalizer(normalizer_id: str):
    return load_module(PLUGINS[normalizer_id].code)


def refs(objects) -> list[str]:
    return [obj.reference for obj in objects]


HOST = ooi.input_dict("Hostname|internet|example.com")


# -- nmap / port-scan ------------------------------------------------------------------

PORT_SCAN_XML = b"""<nmaprun scanner="kat-port-scan"><scaninfo type="connect" protocol="tcp"/>
<host><status state="up"/><address addr="2001:DB8::1" addrtype="ipv6"/><ports>
<extraports state="closed" count="2"/>
<port protocol="tcp" portid="22"><state state="open" reason="syn-ack"/><service name="ssh"/></port>
<port protocol="tcp" portid="23"><state state="closed"/><service name="telnet"/></port>
<port protocol="tcp" portid="443"><state state="open"/><service name="http"/></port>
<port protocol="tcp" portid="8080"><state state="open"/><service name="tcpwrapped"/></port>
<port protocol="tcp" portid="9999"><state state="open"/></port>
</ports></host></nmaprun>"""


def test_nmap_reads_the_port_scan_xml():
    out = list(
        normalizer("kat_nmap_normalize").run(
            ooi.input_dict("IPAddressV6|internet|2001:db8::1"), PORT_SCAN_XML
        )
    )
    assert refs(out) == [
        "IPPort|internet|2001:db8::1|tcp|22",
        "Service|ssh",
        "IPService|internet|2001:db8::1|tcp|22|ssh",
        "IPPort|internet|2001:db8::1|tcp|443",
        "Service|https",
        "IPService|internet|2001:db8::1|tcp|443|https",
        "IPPort|internet|2001:db8::1|tcp|9999",
        "Service|unknown",
        "IPService|internet|2001:db8::1|tcp|9999|unknown",
    ]
    assert out[0].state == "open"


@pytest.mark.timeout(10)
def test_nmap_refuses_entity_declarations():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE nmaprun [<!ENTITY a "aaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<nmaprun><host><address addr="192.0.2.1" addrtype="ipv4"/><ports/></host>&c;</nmaprun>"""
    started = time.monotonic()
    with pytest.raises(ValueError, match="entity"):
        list(normalizer("kat_nmap_normalize").run({}, bomb))
    assert time.monotonic() - started < 1


def test_nmap_names_bad_xml():
    with pytest.raises(ValueError, match="not valid XML"):
        list(normalizer("kat_nmap_normalize").run({}, b"<nmaprun><host>"))


# -- HTTP headers ----------------------------------------------------------------------

RESOURCE = (
    "HTTPResource|internet|192.0.2.1|tcp|443|https|internet|example.com"
    "|https|internet|example.com|443|/"
)


@pytest.mark.parametrize(
    "raw",
    [
        {"Server": "nginx", "X-Frame-Options": "DENY"},
        {"response": {"headers": {"Server": "nginx", "X-Frame-Options": "DENY"}}},
    ],
)
def test_headers_become_http_header_objects(raw):
    out = list(
        normalizer("kat_webpage_analysis_headers_normalize").run(
            ooi.input_dict(RESOURCE), json.dumps(raw).encode()
        )
    )
    assert refs(out) == [
        f"HTTPHeader|{RESOURCE.split('|', 1)[1]}|Server",
        f"HTTPHeader|{RESOURCE.split('|', 1)[1]}|X-Frame-Options",
    ]
    assert [h.value for h in out] == ["nginx", "DENY"]


def test_headers_need_an_http_resource():
    with pytest.raises(ValueError, match="HTTPResource"):
        list(normalizer("kat_webpage_analysis_headers_normalize").run(HOST, b"{}"))


# -- DNSSEC ----------------------------------------------------------------------------


def test_dnssec_bogus_is_invalid_and_an_unfinished_trace_is_nothing():
    module = normalizer("kat_dnssec_normalize")
    bogus = b";; Domain: example.com.\n[B] example.com. 300 IN A 192.0.2.1\n;;[S] legend\n"
    assert refs(module.run(HOST, bogus)) == [
        "KATFindingType|KAT-INVALID-DNSSEC",
        "Finding|Hostname|internet|example.com|KAT-INVALID-DNSSEC",
    ]
    unfinished = b";; Number of trusted keys: 1\n;; Error: the server did not answer\n"
    assert list(module.run(HOST, unfinished)) == []
    with pytest.raises(ValueError, match="no status line"):
        list(module.run(HOST, b"something else entirely\n"))


# -- DNS -------------------------------------------------------------------------------


def test_dns_nxdomain_and_mail_records():
    module = normalizer("kat_dns_normalize")
    assert refs(module.run(HOST, b"NXDOMAIN")) == ["NXDOMAIN|internet|example.com"]
    records = (
        "RESOLVER: 127.0.0.1\nid 1\nopcode QUERY\nrcode NOERROR\nflags QR AA\n;QUESTION\n"
        'example.com. IN CAA\n;ANSWER\nexample.com. 300 IN CAA 0 issue "ca.example.net"\n'
        ";AUTHORITY\n;ADDITIONAL\n"
    )
    dmarc = (
        "id 2\nopcode QUERY\nrcode NOERROR\nflags QR AA\n;QUESTION\n_dmarc.example.com. IN TXT\n"
        ';ANSWER\n_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"\n;AUTHORITY\n;ADDITIONAL\n'
    )
    dkim = dmarc.replace("_dmarc", "_domainkey").replace("v=DMARC1; p=reject", "")
    raw = json.dumps({"dns_records": records, "dmarc_response": dmarc, "dkim_response": dkim})
    out = {o.object_type: o for o in module.run(HOST, raw.encode())}
    caa = out["DNSCAARecord"]
    assert (caa.flags, caa.tag, caa.value) == (0, "issue", '"ca.example.net"')
    assert out["DMARCTXTRecord"].value == "v=DMARC1; p=reject"
    assert out["DKIMExists"].reference == "DKIMExists|internet|example.com"


def test_dns_names_a_broken_raw():
    with pytest.raises(ValueError, match="not a DNS message"):
        list(
            normalizer("kat_dns_normalize").run(HOST, b'{"dns_records": "RESOLVER: x\\nnonsense"}')
        )


# -- security.txt ----------------------------------------------------------------------

WEBSITE = "Website|internet|192.0.2.1|tcp|443|https|internet|example.com"


def test_security_txt_on_another_website_is_followed():
    raw = {
        ".well-known/security.txt": {
            "content": "Contact: mailto:security@example.org",
            "url": "https://www.example.org/.well-known/security.txt",
            "ip": "192.0.2.7",
        },
        "security.txt": {"content": None, "url": None, "ip": None},
    }
    out = list(
        normalizer("kat_sec_txt_downloader_normalize").run(
            ooi.input_dict(WEBSITE), json.dumps(raw).encode()
        )
    )
    new_site = "Website|internet|192.0.2.7|tcp|443|https|internet|www.example.org"
    assert new_site in refs(out)
    original = out[-1]
    assert original.website.reference == WEBSITE
    assert original.url.raw == "https://example.com/.well-known/security.txt"
    assert original.redirects_to.website.reference == new_site
    assert original.serialize()["redirects_to"] == out[-2].reference
    assert out[-2].security_txt == "Contact: mailto:security@example.org"


# -- findings and manual input ---------------------------------------------------------


def test_generic_findings_pick_their_type_by_prefix():
    out = list(normalizer("kat_generic_finding_normalize").run(HOST, b"CWE-79,\n KAT-X ,"))
    assert refs(out) == [
        "CWEFindingType|CWE-79",
        "Finding|Hostname|internet|example.com|CWE-79",
        "KATFindingType|KAT-X",
        "Finding|Hostname|internet|example.com|KAT-X",
    ]


def test_cve_2024_6387_finding_on_the_port():
    port = ooi.input_dict("IPPort|internet|192.0.2.1|tcp|22")
    module = normalizer("kat_cve_2024_6387_normalize")
    out = list(module.run(port, b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"))
    assert refs(out) == [
        "CVEFindingType|CVE-2024-6387",
        "Finding|IPPort|internet|192.0.2.1|tcp|22|CVE-2024-6387",
    ]
    assert list(module.run(port, b"SSH-2.0-OpenSSH_9.8p1")) == []
    assert list(module.run(port, b"SSH-2.0-dropbear_2022.83")) == []


def test_manual_csv_declares_rows_and_skips_bad_ones(caplog):
    raw = b"address,network\n192.0.2.1,internet\nnot-an-ip,internet\n\n192.0.2.3,lab\n"
    out = list(normalizer("kat_manual_csv").run({}, raw))
    assert refs(out) == [
        "Network|internet",
        "IPAddressV4|internet|192.0.2.1",
        "Network|lab",
        "IPAddressV4|lab|192.0.2.3",
    ]
    assert all(obj.declared for obj in out)
    assert "line 3" in caplog.text
    with pytest.raises(ValueError, match="no name, raw or address column"):
        list(normalizer("kat_manual_csv").run({}, b"colour\nred\n"))


def test_manual_ooi_names_the_bad_item():
    raw = json.dumps(
        [{"ooi": {"object_type": "Network", "name": "a"}}, {"ooi": {"object_type": "Nope"}}]
    )
    module = normalizer("kat_manual_ooi")
    with pytest.raises(ValueError, match="item 1: unknown object_type 'Nope'"):
        list(module.run({}, raw.encode()))


def test_a_certificate_with_a_negative_serial_keeps_its_bytes():
    """RFC 5280 wants positive serials, but negative ones are met in the wild: the
    normalizer writes the serial's own two's-complement bytes instead of crashing."""
    import base64
    import re

    raw = COMPAT / "kat_ssl_certificates_normalize" / "ssl_certificates_normalizer" / "raw"
    text = raw.read_text()
    pem = re.search(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", text, re.S)
    der = bytearray(base64.b64decode(pem.group(1)))
    at = der.index(b"\xa0\x03\x02\x01\x02\x02") + 6  # version v3, then the serial INTEGER
    length = der[at]
    der[at + 1] |= 0x80  # the sign bit: now a negative number
    serial = bytes(der[at + 1 : at + 1 + length])
    body = base64.encodebytes(bytes(der)).decode()
    forged = text.replace(pem.group(1), body, 1).replace(pem.group(1), body)
    website = ooi.input_dict("Website|internet|192.0.2.1|tcp|443|https|internet|mispo.es")
    objects = list(normalizer("kat_ssl_certificates_normalize").run(website, forged.encode()))
    serials = {o.serial_number for o in objects if o.object_type == "X509Certificate"}
    assert "ff" * (20 - length) + serial.hex() in serials


def test_nmap_names_http_inside_tls_https():
    """nmap 7.93's own XML (``-sV`` against a loopback HTTPS server on an unusual port)
    marks HTTP inside TLS with ``tunnel="ssl"``: the service is https, as in OpenKAT."""
    raw = (Path(__file__).parent / "raws" / "nmap-http-in-tls.xml").read_bytes()
    assert b'<service name="http"' in raw and b'tunnel="ssl"' in raw
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    refs = references(run_normalizer("kat_nmap_normalize", inp, raw))
    assert "IPService|internet|127.0.0.1|tcp|41667|https" in refs
    assert "IPService|internet|127.0.0.1|tcp|41667|http" not in refs
    # plain HTTP (no tunnel) on the same port stays http
    plain = raw.replace(b' tunnel="ssl"', b"")
    assert "IPService|internet|127.0.0.1|tcp|41667|http" in references(
        run_normalizer("kat_nmap_normalize", inp, plain)
    )
