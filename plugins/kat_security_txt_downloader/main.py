"""security_txt_downloader: fetch ``/.well-known/security.txt`` and ``/security.txt`` of a website.

Both paths are asked of the Website's own IP and port, with its hostname as Host header
and TLS SNI (certificates are not validated). A redirect is followed once: to the same
host it goes to the same IP again; to another host, that host is looked up as usual.
The raw is OpenKAT's JSON, one entry per path::

    {".well-known/security.txt": {"content": "...", "url": "https://example.com/.well-known/security.txt",
                                  "request_url": "...", "ip": "192.0.2.1", "status": 200}, ...}

``content`` is null when the final answer is not a 200 or the server did not answer
(then ``error`` says why); ``url`` is the final URL, named by hostname.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from urllib.parse import urljoin, urlsplit

import httpx

from kat.pluginkit import WEB_PORTS, Budget, netloc, timeout, within

DEFAULT_TIMEOUT = 30.0
DEFAULT_USERAGENT = "OpenKAT"
PATHS = (".well-known/security.txt", "security.txt")
#: A security.txt larger than this is cut (RFC 9116 files are a few hundred bytes).
MAX_BYTES = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


class Fetcher:
    """GETs within one deadline; remembers which IP answered."""

    def __init__(self, seconds: float):
        self.budget = Budget(seconds)
        self.useragent = os.environ.get("USERAGENT") or DEFAULT_USERAGENT

    def get(self, url: str, connect_ip: str | None) -> tuple[int, str, dict, str]:
        """(status, text, headers, ip) of ``url``, connecting to ``connect_ip`` when given."""
        left = self.budget.left()
        if left <= 0:
            raise httpx.ConnectTimeout(f"no time left of {self.budget.seconds:g} s")
        return within(left, self._get, url, connect_ip, left)

    def _get(self, url: str, connect_ip: str | None, left: float):
        parts = urlsplit(url)
        port = parts.port or WEB_PORTS[parts.scheme]
        headers = {"User-Agent": self.useragent, "Host": parts.netloc}
        extensions = {}
        if connect_ip is not None:
            ip_host = f"[{connect_ip}]" if ":" in connect_ip else connect_ip
            url = parts._replace(netloc=f"{ip_host}:{port}").geturl()
            if parts.scheme == "https" and parts.hostname:
                extensions["sni_hostname"] = parts.hostname
        with (
            httpx.Client(verify=False, timeout=httpx.Timeout(left)) as client,
            client.stream("GET", url, headers=headers, extensions=extensions) as response,
        ):
            stream = response.extensions.get("network_stream")
            peer = stream.get_extra_info("server_addr") if stream else None
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= MAX_BYTES or time.monotonic() > self.budget.deadline:
                    break
            text = bytes(body[:MAX_BYTES]).decode(response.encoding or "utf-8", "replace")
            ip = peer[0] if peer else connect_ip
            return response.status_code, text, dict(response.headers), ip


def download(fetcher: Fetcher, url: str, ip: str, hostname: str) -> dict:
    result = {"content": None, "url": url, "request_url": url, "ip": ip, "status": None}
    try:
        status, text, headers, peer = fetcher.get(url, ip)
        if status in REDIRECTS and headers.get("location"):
            url = urljoin(url, headers["location"])
            same_host = urlsplit(url).hostname == hostname
            result.update(request_url=url, url=url)
            status, text, headers, peer = fetcher.get(url, ip if same_host else None)
    except (httpx.TimeoutException, TimeoutError):
        result["error"] = f"timed out after {fetcher.budget.seconds:g} s"
        return result
    except (httpx.HTTPError, OSError, KeyError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    result.update(status=status, ip=peer or ip, content=text if status == 200 else None)
    return result


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    hostname = input_["hostname"]["name"]
    scheme = input_["ip_service"]["service"]["name"]
    ip = str(ipaddress.ip_address(input_["ip_service"]["ip_port"]["address"]["address"]))
    port = int(input_["ip_service"]["ip_port"]["port"])
    if scheme not in ("http", "https"):
        scheme = "https" if port == 443 else "http"
    fetcher = Fetcher(timeout(DEFAULT_TIMEOUT))
    base = f"{scheme}://{netloc(hostname, scheme, port)}/"
    results = {path: download(fetcher, base + path, ip, hostname) for path in PATHS}
    return [(set(), json.dumps(results))]
