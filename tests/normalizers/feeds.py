"""A loopback server answering like the finding-type feeders' sources (recorded shapes).

Routes: ``/cve/<id>.json`` (an NVD 2.0 record: the one OpenKAT's tests use),
``/cwe/cwe/weakness/<n>`` (MITRE's CWE API), ``/retirejs/jsrepository.json`` (a slice of
RetireJS's repository), ``/snyk/<id>`` (a Snyk vulnerability page), ``/limited/...``
(429 with Retry-After), ``/refused/...`` (401). Anything else is a 404.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMPAT = Path(__file__).parents[1] / "compat" / "openkat"
NVD_RECORD = (COMPAT / "kat_cve_finding_types_normalize/cve_with_cvss/raw").read_bytes()

CWE_ANSWER = {
    "Weaknesses": [
        {
            "ID": "79",
            "Name": "Improper Neutralization of Input During Web Page Generation "
            "('Cross-site Scripting')",
            "Abstraction": "Base",
            "Status": "Stable",
            "Description": "The product does not neutralize or incorrectly neutralizes "
            "user-controllable input before it is placed in output that is used as a web page.",
        }
    ]
}

RETIREJS_REPOSITORY = {
    "jquery": {
        "vulnerabilities": [
            {
                "below": "1.9.0b1",
                "severity": "medium",
                "identifiers": {"issue": "2432", "summary": "3rd party CORS request may execute"},
                "info": ["https://github.com/jquery/jquery/issues/2432", "http://blog.jquery.com/"],
            },
            {
                "atOrAbove": "1.2",
                "below": "3.5.0",
                "severity": "high",
                "identifiers": {"CVE": ["CVE-2020-11022"]},
                "info": ["https://blog.jquery.com/2020/04/10/jquery-3-5-0-released/"],
            },
        ]
    }
}

SNYK_PAGE = """<!doctype html><html><body>
<div class="severity-widget" data-snyk-test-score="7.4">7.4</div>
<h1>Prototype Pollution</h1>
<span data-snyk-test="vuln versions"> &lt;4.17.11 </span>
<div><h2>Overview</h2>
<p>lodash is a modern JavaScript utility library delivering modularity, performance,
&amp; extras.</p>
<p>Affected versions of this package are vulnerable to Prototype Pollution.</p></div>
</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        path = self.path
        if path.startswith("/limited/"):
            return self._send(429, b'{"error": "rate limit"}', {"Retry-After": "30"})
        if path.startswith("/refused/"):
            return self._send(401, b'{"error": "invalid key"}')
        if path.startswith("/cve/CVE-2021-46882.json"):
            return self._send(200, NVD_RECORD)
        if path.startswith("/cve/CVE-2024-6387.json"):  # the same record, for the scan test
            return self._send(200, NVD_RECORD.replace(b"CVE-2021-46882", b"CVE-2024-6387"))
        if path == "/cwe/cwe/weakness/79":
            return self._send(200, json.dumps(CWE_ANSWER).encode())
        if path == "/retirejs/jsrepository.json":
            return self._send(200, json.dumps(RETIREJS_REPOSITORY).encode())
        if path == "/snyk/SNYK-JS-LODASH-590103":
            return self._send(200, SNYK_PAGE.encode(), {"Content-Type": "text/html"})
        return self._send(404, b"not found")

    def _send(self, status: int, body: bytes, headers: dict | None = None):
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FeedServer:
    """The server on 127.0.0.1 and a free port; ``url`` is its base URL."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
