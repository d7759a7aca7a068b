"""Seed raws (and inputs) for the normalizers of kat's boefjes that OpenKAT's fixture
pack does not cover, for the malformed-raw property tests in ``tests/normalizers``."""

from __future__ import annotations

import json

from kat import ooi
from tests.servers.apis import CENSYS_HOST, CRT_SH, INTERNETDB, KNOWN_IP, SHODAN_HOST

IP = ooi.input_dict(f"IPAddressV4|internet|{KNOWN_IP}")
SERVICE = ooi.input_dict("IPService|internet|192.0.2.1|tcp|443|https")
NETBLOCK = {
    "object_type": "IPV4NetBlock",
    "primary_key": "IPV4NetBlock|internet|192.0.2.0|24",
    "network": {"name": "internet"},
    "start_ip": {"address": "192.0.2.0", "network": {"name": "internet"}},
    "mask": 24,
}
SSLSCAN = (
    b'<?xml version="1.0" encoding="UTF-8"?><document title="SSLScan Results">'
    b'<ssltest host="192.0.2.1" port="443"><protocol type="ssl" version="3" enabled="0" />'
    b'<protocol type="tls" version="1.0" enabled="1" /><protocol type="tls" version="1.1" '
    b'enabled="1" /><protocol type="tls" version="1.2" enabled="1" /><protocol type="tls" '
    b'version="1.3" enabled="0" /><fallback supported="0" /></ssltest></document>'
)

#: normalizer id -> (input dict, seed raws)
SEEDS: dict[str, tuple[dict, list[bytes]]] = {
    "kat_shodan_normalize": (IP, [json.dumps(SHODAN_HOST).encode()]),
    "kat_shodan_internetdb_normalize": (
        IP,
        [
            json.dumps(INTERNETDB).encode(),
            json.dumps({**INTERNETDB, "tags": ["cdn"], "cpes": ["cpe:/a:cloudflare:cdn"]}).encode(),
        ],
    ),  # fmt: skip
    "kat_crt_sh_normalize": (
        ooi.input_dict("DNSZone|internet|example.com"),
        [json.dumps(CRT_SH).encode()],
    ),
    "kat_censys_normalize": (IP, [json.dumps(CENSYS_HOST).encode()]),
    "kat_website_discovery_normalize": (
        ooi.input_dict("Hostname|internet|example.com"),
        [
            b'{"hostname": "example.com", "addresses": ["192.0.2.1", "2001:db8::1"], "websites":'
            b' [{"address": "192.0.2.1", "port": 443, "scheme": "https", "status": "HTTP/1.1 200"},'
            b' {"address": "2001:db8::1", "port": 80, "scheme": "http", "status": "HTTP/1.0"}]}',
            b'{"hostname": "example.com", "addresses": [], "websites": []}',
        ],
    ),
    "kat_rpki_normalize": (
        IP,
        [
            b'{"vrps_records": [], "exists": false, "bgp_entries": [], "invalid_bgp_entries": []}',
            b'{"vrps_records": [{"prefix": "93.184.216.0/24", "asn": 1}], "exists": true, '
            b'"bgp_entries": [], "invalid_bgp_entries": [{"ip": "93.184.216.34", "asn": 2}]}',
        ],
    ),
    "dns-bind-version-normalize": (
        ooi.input_dict("IPService|internet|192.0.2.1|udp|53|domain"),
        [
            b'["9.11.4-P2-RedHat-9.11.4-26.P2.el7"]',
            b'["dnsmasq-2.89", "PowerDNS Authoritative Server 4.8.4"]',
        ],
    ),
    "kat_masscan_normalize": (
        NETBLOCK,
        [
            b'[{"ip": "192.0.2.7", "ports": [{"port": 443, "proto": "tcp", '
            b'"status": "open", "reason": "syn-ack", "ttl": 64}]}]'
        ],
    ),  # fmt: skip
    "kat_ssl_scan_normalize": (SERVICE, [SSLSCAN]),
}
