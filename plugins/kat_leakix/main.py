"""leakix: what LeakIX knows of an IP address or hostname: leaks and services.

Asks LeakIX's search API (``/search?scope=leak|service&q=+ip:<ip>`` or
``+host:"<name>"``) page by page, with the key ``LEAKIX_API``, and keeps every event as
OpenKAT's raw (a JSON list of LeakIX events), read by ``kat_leakix_normalize``.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote_plus

from kat.pluginkit import api_get, timeout

DEFAULT_TIMEOUT = 30.0


#: Pages fetched per scope at most (LeakIX gives 20 events a page).
MAX_PAGES = 10


def query(input_: dict) -> str:
    if input_["object_type"] in ("IPAddressV4", "IPAddressV6"):
        return quote_plus(f"+ip:{input_['address']}")
    if input_["object_type"] == "Hostname":
        return quote_plus(f'+host:"{input_["name"]}"')
    raise ValueError(f"leakix: expected an IP address or a hostname, got {input_['object_type']}")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    base = (os.environ.get("LEAKIX_BASE_URL") or "https://leakix.net").rstrip("/")
    headers = {"Accept": "application/json", "api-key": os.environ.get("LEAKIX_API", "")}
    seconds = timeout(DEFAULT_TIMEOUT)
    q = query(boefje_meta["arguments"]["input"])
    results = []
    for scope in ("leak", "service"):
        for page in range(MAX_PAGES):
            url = f"{base}/search?scope={scope}&q={q}&page={page}"
            response = api_get("LeakIX", url, seconds, headers=headers)
            events = response.json() if response.content else None
            events = [e for e in events or [] if isinstance(e, dict) and e.get("event_fingerprint")]
            if not events:
                break
            results.extend(events)
    return [(set(), json.dumps(results))]
