"""censys: what Censys knows of an IP address (services, software, names).

Asks Censys Search v2 (``/api/v2/hosts/<ip>``, basic auth with ``CENSYS_API_ID`` and
``CENSYS_API_SECRET``) and keeps the host record (the answer's ``result``) as OpenKAT's
raw, read by ``kat_censys_normalize``; ``{}`` when Censys has no record.
"""

from __future__ import annotations

import json
import os

from kat.pluginkit import api_get, timeout

DEFAULT_TIMEOUT = 30.0


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    ip = boefje_meta["arguments"]["input"]["address"]
    base = (os.environ.get("CENSYS_BASE_URL") or "https://search.censys.io").rstrip("/")
    auth = (os.environ.get("CENSYS_API_ID", ""), os.environ.get("CENSYS_API_SECRET", ""))
    response = api_get(
        "Censys", f"{base}/api/v2/hosts/{ip}", timeout(DEFAULT_TIMEOUT), ok=(200, 404), auth=auth
    )
    if response.status_code == 404:
        return [(set(), json.dumps({}))]
    return [(set(), json.dumps(response.json().get("result") or {}))]
