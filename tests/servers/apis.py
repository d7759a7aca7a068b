"""Loopback stand-ins for the third-party APIs the threat-intelligence boefjes ask:
LeakIX, Shodan, Shodan InternetDB, crt.sh, Censys and the RPKI/BGP data files.

One HTTP server; each API lives under its own prefix (``/leakix``, ``/shodan``,
``/internetdb``, ``/crtsh``, ``/censys``, ``/rpki``), so a boefje's base-URL setting
points at ``server.url("leakix")``. Answers follow the recorded shapes of the real APIs.
``mode`` makes every API misbehave the way the real ones do:

- ``"ok"``: the recorded answer (the key ``API_KEY`` is required where the API needs one);
- ``"rate-limit"``: 429 with ``Retry-After: 3600``;
- ``"rate-limit-once"``: 429 with ``Retry-After: 1`` once, then the answer;
- ``"error"``: 500 with a short text body.
A wrong key always gets 401 (Censys: 401 with its JSON error).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

API_KEY = "test-key-0123456789"
CENSYS_ID, CENSYS_SECRET = "censys-id", "censys-secret"
#: The address every API knows something about (a public one, as the boefjes never send
#: a private one; no packet goes to it).
KNOWN_IP = "93.184.216.34"

LEAKIX_SERVICE = {
    "event_type": "service",
    "event_source": "HttpPlugin",
    "event_pipeline": ["tcpid", "HttpPlugin"],
    "event_fingerprint": "6f1c5a0e3b9d4c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6",
    "ip": KNOWN_IP,
    "host": "www.example.com",
    "reverse": "",
    "port": "443",
    "mac": "",
    "vendor": "",
    "transport": ["tcp", "tls", "http"],
    "protocol": "https",
    "http": {
        "root": "",
        "url": "/",
        "status": 200,
        "length": 612,
        "header": {"server": "nginx/1.18.0"},
        "title": "Welcome to nginx!",
        "favicon_hash": "",
    },
    "summary": "HTTP/1.1 200 OK\nServer: nginx/1.18.0\n",
    "time": "2024-03-01T12:00:00.000Z",
    "ssl": {
        "detected": True,
        "enabled": True,
        "jarm": "",
        "cypher_suite": "TLS_AES_128_GCM_SHA256",
        "version": "TLSv1.3",
        "certificate": {
            "cn": "www.example.com",
            "domain": ["www.example.com"],
            "fingerprint": "",
            "key_algo": "RSA",
            "key_size": 2048,
            "issuer_name": "R3",
            "not_before": "2024-01-01T00:00:00Z",
            "not_after": "2024-04-01T00:00:00Z",
            "valid": True,
        },
    },
    "ssh": {"fingerprint": "", "version": 0, "banner": "", "motd": ""},
    "service": {
        "credentials": {"noauth": False, "username": "", "password": "", "key": "", "raw": None},
        "software": {
            "name": "nginx",
            "version": "1.18.0",
            "os": "",
            "modules": None,
            "fingerprint": "",
        },
    },
    "leak": {
        "stage": "",
        "type": "",
        "severity": "",
        "dataset": {
            "rows": 0,
            "files": 0,
            "size": 0,
            "collections": 0,
            "infected": False,
            "ransom_notes": None,
        },
    },
    "tags": [],
    "geoip": {
        "continent_name": "Europe",
        "country_iso_code": "NL",
        "country_name": "Netherlands",
        "city_name": "",
        "location": {"lat": 52.38, "lon": 4.9},
    },
    "network": {"organization_name": "Example BV", "asn": 64500, "network": "93.184.216.0/24"},
}

SHODAN_HOST = {
    "ip_str": KNOWN_IP,
    "ip": 1572395042,
    "ports": [22, 443],
    "hostnames": ["www.example.com"],
    "org": "Example BV",
    "isp": "Example BV",
    "asn": "AS64500",
    "os": None,
    "last_update": "2024-03-01T12:00:00.000000",
    "country_code": "NL",
    "tags": [],
    "vulns": ["CVE-2021-23017"],
    "data": [
        {
            "port": 22,
            "transport": "tcp",
            "product": "OpenSSH",
            "version": "8.9p1",
            "data": "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.7\n",
            "_shodan": {"module": "ssh"},
        },
        {
            "port": 443,
            "transport": "tcp",
            "product": "nginx",
            "version": "1.18.0",
            "data": "HTTP/1.1 200 OK\r\nServer: nginx/1.18.0\r\n",
            "_shodan": {"module": "https"},
            "vulns": {
                "CVE-2021-23017": {
                    "verified": False,
                    "cvss": 7.7,
                    "summary": "A security issue in nginx resolver.",
                }
            },
        },
    ],
}

INTERNETDB = {
    "cpes": ["cpe:/a:nginx:nginx:1.18.0", "cpe:/a:openbsd:openssh:8.9p1"],
    "hostnames": ["www.example.com", "34.216.184.93.in-addr.arpa"],
    "ip": KNOWN_IP,
    "ports": [22, 443],
    "tags": [],
    "vulns": ["CVE-2021-23017", "CVE-2023-38408"],
}

CRT_SH = [
    {
        "issuer_ca_id": 183267,
        "issuer_name": "C=US, O=Let's Encrypt, CN=R3",
        "common_name": "example.com",
        "name_value": "example.com\nwww.example.com",
        "id": 12345678901,
        "entry_timestamp": "2024-01-01T00:00:00.123",
        "not_before": "2024-01-01T00:00:00",
        "not_after": "2099-01-01T00:00:00",
        "serial_number": "04a1b2c3d4e5f60718293a4b5c6d7e8f9a0b",
        "result_count": 3,
    },
    {
        "issuer_ca_id": 183267,
        "issuer_name": "C=US, O=Let's Encrypt, CN=R3",
        "common_name": "mail.example.com",
        "name_value": "mail.example.com",
        "id": 12345678902,
        "entry_timestamp": "2020-01-01T00:00:00.123",
        "not_before": "2020-01-01T00:00:00",
        "not_after": "2020-04-01T00:00:00",
        "serial_number": "03ffee",
        "result_count": 3,
    },
]

CENSYS_HOST = {
    "ip": KNOWN_IP,
    "services": [
        {
            "port": 443,
            "service_name": "HTTP",
            "transport_protocol": "TCP",
            "extended_service_name": "HTTPS",
            "software": [
                {
                    "uniform_resource_identifier": "cpe:2.3:a:nginx:nginx:1.18.0:*:*:*:*:*:*:*",
                    "part": "a",
                    "vendor": "nginx",
                    "product": "nginx",
                    "version": "1.18.0",
                }
            ],
        },
        {
            "port": 22,
            "service_name": "SSH",
            "transport_protocol": "TCP",
            "extended_service_name": "SSH",
        },
    ],
    "dns": {"names": ["www.example.com"]},
    "autonomous_system": {"asn": 64500, "name": "EXAMPLE", "bgp_prefix": "93.184.216.0/24"},
    "last_updated_at": "2024-03-01T12:00:00.000Z",
}

RPKI_VRPS = {
    "metadata": {
        "buildmachine": "rpki-client test",
        "buildtime": "2024-03-01T12:00:00Z",
        "vrps": 2,
    },
    "roas": [
        {
            "asn": 64500,
            "prefix": "93.184.216.0/24",
            "maxLength": 24,
            "ta": "ripe",
            "expires": 1893456000,
        },
        {
            "asn": 64501,
            "prefix": "2001:db8::/32",
            "maxLength": 48,
            "ta": "ripe",
            "expires": 1893456000,
        },
    ],
}
BGP_TABLE = [
    {"CIDR": "93.184.216.0/24", "ASN": 64500, "Hits": 1200},
    {"CIDR": "93.184.216.0/25", "ASN": 64999, "Hits": 3},
]


#: Snyk's package page for lodash, in the shape kat's and OpenKAT's snyk boefje read.
SNYK_PACKAGE = """<html><body>
<table><thead><tr class="vue--table__row">
<th>Vulnerability</th><th>Vulnerable Version</th></tr></thead>
<tbody>
<tr><td><a href="/vuln/SNYK-JS-LODASH-1040724">H Command Injection</a></td>
<td>&lt;4.17.21</td></tr>
<tr><td><a href="/vuln/SNYK-JS-LODASH-608086">M Prototype Pollution</a></td>
<td>&lt;4.17.17</td></tr>
<tr><td><a href="/vuln/SNYK-JS-LODASH-73638">H Prototype Pollution</a></td><td>&lt;4.17.12</td></tr>
<tr><td><a href="/vuln/SNYK-JS-LODASH-1">L Old Issue</a></td><td>&gt;=1.0.0 &lt;2.0.0</td></tr>
</tbody></table>
<table data-vue="vulns-version-table"><thead><tr><th>Version</th><th>Published</th></tr></thead>
<tbody>
<tr><td><a href="/package/npm/lodash/4.17.21">4.17.21</a><a href="#">Latest</a></td>
<td>2021</td></tr>
<tr><td><a href="/package/npm/lodash/4.17.20">4.17.20</a></td><td>2020</td></tr>
</tbody></table></body></html>"""
#: Snyk vulnerability pages: id -> the CVE they name ("" for none).
SNYK_CVES = {"SNYK-JS-LODASH-1040724": "CVE-2021-23337", "SNYK-JS-LODASH-73638": "CVE-2019-10744"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def _send(self, status: int, body: bytes | str | object, headers: dict | None = None) -> None:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        body = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: C901 - one branch per API, as the real ones differ
        owner: APIServer = self.server.owner
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        api, _, rest = parts.path.lstrip("/").partition("/")
        owner.requests.append((api, "/" + rest, query, dict(self.headers)))
        if owner.mode == "rate-limit" or (owner.mode == "rate-limit-once" and owner._limit_once()):
            wait = "3600" if owner.mode == "rate-limit" else "1"
            return self._send(429, {"error": "Too many requests"}, {"Retry-After": wait})
        if owner.mode == "error":
            return self._send(500, "Internal Server Error", {"Content-Type": "text/plain"})
        if api == "leakix":
            if self.headers.get("api-key") != API_KEY:
                return self._send(401, {"Error": "Invalid API key"})
            page = int(query.get("page", "0"))
            found = query.get("scope") == "service" and KNOWN_IP in query.get("q", "") and page == 0
            return self._send(200, [LEAKIX_SERVICE] if found else [])
        if api == "shodan":
            if query.get("key") != API_KEY:
                return self._send(
                    401,
                    "<html><body><h1>401 Unauthorized</h1></body></html>",
                    {"Content-Type": "text/html"},
                )
            if rest == f"shodan/host/{KNOWN_IP}":
                return self._send(200, SHODAN_HOST)
            return self._send(404, {"error": "No information available for that IP."})
        if api == "internetdb":
            if rest == KNOWN_IP:
                return self._send(200, INTERNETDB)
            return self._send(404, {"detail": "No information available"})
        if api == "crtsh":
            if query.get("output") != "json":
                return self._send(200, "<html>crt.sh</html>", {"Content-Type": "text/html"})
            name = query.get("Identity", "")
            return self._send(200, CRT_SH if name == "example.com" else [])
        if api == "censys":
            expected = base64.b64encode(f"{CENSYS_ID}:{CENSYS_SECRET}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}":
                return self._send(
                    401,
                    {
                        "code": 401,
                        "status": "Unauthorized",
                        "error": "You must authenticate with a valid API ID and secret.",
                    },
                )
            if rest == f"api/v2/hosts/{KNOWN_IP}":
                return self._send(200, {"code": 200, "status": "OK", "result": CENSYS_HOST})
            return self._send(404, {"code": 404, "status": "Not Found", "error": "Host not found"})
        if api == "snyk":
            if rest == "vuln/npm:lodash":
                return self._send(200, SNYK_PACKAGE, {"Content-Type": "text/html"})
            if rest.startswith("vuln/SNYK-"):
                cve = SNYK_CVES.get(rest.split("/")[-1], "")
                page = f'<html><div><span class="cve">{cve}\n</span></div></html>'
                return self._send(200, page, {"Content-Type": "text/html"})
            return self._send(404, "<html>not found</html>", {"Content-Type": "text/html"})
        if api == "rpki":
            owner.rpki_downloads.append(rest)
            if rest == "vrps.json":
                return self._send(200, RPKI_VRPS)
            if rest == "table.jsonl":
                return self._send(200, "\n".join(json.dumps(e) for e in BGP_TABLE) + "\n")
        return self._send(404, {"error": "not found"})


class APIServer:
    """The fake APIs on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self):
        self.mode = "ok"
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.rpki_downloads: list[str] = []
        self._limited = False
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, api: str) -> str:
        return f"http://127.0.0.1:{self.port}/{api}"

    def reset(self, mode: str = "ok") -> None:
        self.mode, self._limited = mode, False
        self.requests.clear()

    def _limit_once(self) -> bool:
        with self._lock:
            first, self._limited = not self._limited, True
            return first

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
