"""CVE_2023_35078: fetch the Ivanti EPMM (MobileIron Core) registration page of a website.

Requests ``/mifs/c/windows/api/v2/device/registration`` from the website's own IP
address (its hostname as Host header and SNI, certificate not checked, redirects not
followed). A 200 keeps the page as OpenKAT's raw, from which
``kat_CVE_2023_35078_normalize`` reads the EPMM version; any other answer gives
OpenKAT's "not found" text.
"""

from __future__ import annotations

import ipaddress
import os

import httpx

from kat.pluginkit import netloc, timeout, within

DEFAULT_TIMEOUT = 30.0
ENDPOINT_PATH = "/mifs/c/windows/api/v2/device/registration"
NOT_FOUND = "Ivanti Endpoint Manager Mobile (EPMM), formerly MobileIron Core not found"


def fetch(url: str, host: str, seconds: float) -> httpx.Response:
    headers = {"Host": host, "User-Agent": os.environ.get("USERAGENT") or "OpenKAT"}
    sni = {"sni_hostname": host.split(":")[0]}
    with httpx.Client(verify=False, timeout=seconds, follow_redirects=False) as client:  # noqa: S501 - we look, we do not trust
        return client.get(url, headers=headers, extensions=sni)


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]  # a Website
    hostname = input_["hostname"]["name"]
    ip_port = input_["ip_service"]["ip_port"]
    scheme = input_["ip_service"]["service"]["name"]
    if scheme not in ("http", "https"):
        return [(set(), NOT_FOUND)]
    ip, port = ip_port["address"]["address"], int(ip_port["port"])
    ip_host = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
    seconds = timeout(DEFAULT_TIMEOUT)
    url = f"{scheme}://{ip_host}:{port}{ENDPOINT_PATH}"
    try:
        response = within(seconds, fetch, url, netloc(hostname, scheme, port), seconds)
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        raise RuntimeError(f"CVE_2023_35078: no answer from {url}: {exc or 'timed out'}") from None
    if response.status_code == 200:
        return [(set(), response.content)]
    return [(set(), NOT_FOUND)]
