"""cve-finding-types: the NVD 2.0 record of a CVE, from ``<CVEAPI_URL>/<id>.json``.

The raw is the API's JSON as it came (OpenKAT's raw). A refused or failed request fails
the job with the URL and the status (429 with its Retry-After).
"""

from __future__ import annotations

import re

from kat.pluginkit import base_url, http_get, timeout

DEFAULT_URL = "https://cve.openkat.dev/v1"
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    cve_id = str(boefje_meta["arguments"]["input"]["id"]).strip().upper()
    if not _CVE.match(cve_id):
        raise ValueError(f"{cve_id!r} is not a CVE id")
    url = f"{base_url('CVEAPI_URL', DEFAULT_URL)}/{cve_id}.json"
    return [(set(), http_get(url, timeout(default=30.0)).content)]
