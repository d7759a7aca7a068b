"""certificate-search: certificates of a DNS zone's name in the crt.sh transparency logs.

Asks crt.sh (``/?Identity=<name>&match==&output=json&deduplicate=Y``) and keeps its
JSON list as OpenKAT's raw, read by ``kat_crt_sh_normalize`` into hostnames and the
certificates that are still valid.
"""

from __future__ import annotations

import json
import os

from kat.pluginkit import APIError, api_get, timeout

DEFAULT_TIMEOUT = 30.0


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    name = boefje_meta["arguments"]["input"]["hostname"]["name"]
    base = (os.environ.get("CRT_SH_BASE_URL") or "https://crt.sh").rstrip("/")
    params = {"Identity": name, "match": "=", "output": "json", "deduplicate": "Y"}
    response = api_get("crt.sh", f"{base}/", timeout(DEFAULT_TIMEOUT), params=params)
    try:
        return [(set(), json.dumps(response.json()))]
    except ValueError:
        raise APIError(f"crt.sh: the answer is not JSON: {response.text[:200]!r}") from None
