"""shodan: what Shodan knows of a public IP address (ports, banners, CVEs).

Asks Shodan's host API (``/shodan/host/<ip>?key=SHODAN_API``) and keeps its JSON as
OpenKAT's raw (``{}`` when Shodan has nothing, or for a private address, which is never
sent), read by ``kat_shodan_normalize``.
"""

from __future__ import annotations

import json
import os
from ipaddress import ip_address

from kat.pluginkit import api_get, timeout

DEFAULT_TIMEOUT = 30.0


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    ip = boefje_meta["arguments"]["input"]["address"]
    if ip_address(ip).is_private:
        return [(set(), json.dumps({}))]  # never sent to Shodan
    base = (os.environ.get("SHODAN_BASE_URL") or "https://api.shodan.io").rstrip("/")
    response = api_get(
        "Shodan", f"{base}/shodan/host/{ip}", timeout(DEFAULT_TIMEOUT), ok=(200, 404),
        params={"key": os.environ.get("SHODAN_API", "")},
    )  # fmt: skip
    if response.status_code == 404:  # "No information available for that IP."
        return [(set(), json.dumps({}))]
    return [(set(), json.dumps(response.json()))]
