"""shodan_internetdb: Shodan's free InternetDB entry of a public IP address.

Asks ``<INTERNETDB_BASE_URL>/<ip>`` (no key) and keeps the answer as OpenKAT's raw: the
JSON entry (ports, hostnames, CPEs, CVEs), or InternetDB's ``{"detail": "No information
available"}``. A private address is never sent (``info/boefje`` raw).
"""

from __future__ import annotations

import os
from ipaddress import ip_address

from kat.pluginkit import api_get, timeout

DEFAULT_TIMEOUT = 30.0


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    ip = boefje_meta["arguments"]["input"]["address"]
    if ip_address(ip).is_private:
        return [({"info/boefje"}, "Skipping private IP address")]
    base = (os.environ.get("INTERNETDB_BASE_URL") or "https://internetdb.shodan.io").rstrip("/")
    response = api_get("InternetDB", f"{base}/{ip}", timeout(DEFAULT_TIMEOUT), ok=(200, 404))
    return [(set(), response.content)]
