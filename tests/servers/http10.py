"""A plain HTTP/1.0 server that closes each connection after its answer, as many old
servers do, so nmap's service detection (``-sV``) finishes in seconds: a keep-alive
server makes each of nmap's probes wait for its own timeout. Its ``Server`` header
names an outdated Apache by default.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler

from tests.servers.web import TLSHandshakeServer

#: An Apache release long past its end of life.
OLD_BANNER = "Apache/2.2.22 (Debian)"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def version_string(self) -> str:
        return self.server.banner

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_GET(self):
        body = self.server.pages.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET


class Http10Server:
    """One HTTP/1.0 server on ``host`` (a free port unless given) in a daemon thread;
    HTTPS when given a server ``tls`` context."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        banner: str = OLD_BANNER,
        pages: dict[str, bytes] | None = None,
        tls: ssl.SSLContext | None = None,
    ):
        self.httpd = TLSHandshakeServer((host, port), _Handler)
        self.httpd.context = tls
        self.httpd.banner = banner
        #: path -> body served with 200; every other path is a 404.
        self.httpd.pages = pages or {"/": b"<html><body>It works!</body></html>\n"}
        self.host, self.port = host, self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
