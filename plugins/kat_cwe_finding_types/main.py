"""cwe-finding-types: the name and description of a CWE weakness, from MITRE's CWE API
(``<CWE_API_URL>/cwe/weakness/<number>``, answering ``{"Weaknesses": [{"ID", "Name",
"Description", …}]}``).

The raw is OpenKAT's: ``{"name": …, "description": …}`` (OpenKAT reads them from a
bundled CWE XML file; kat asks the API, so the list stays current).
"""

from __future__ import annotations

import json
import re

from kat.pluginkit import base_url, http_get, json_raw, timeout

DEFAULT_URL = "https://cwe-api.mitre.org/api/v1"
_CWE = re.compile(r"^CWE-(\d+)$", re.IGNORECASE)


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    cwe_id = str(boefje_meta["arguments"]["input"]["id"]).strip()
    match = _CWE.match(cwe_id)
    if not match:
        raise ValueError(f"{cwe_id!r} is not a CWE id")
    url = f"{base_url('CWE_API_URL', DEFAULT_URL)}/cwe/weakness/{match[1]}"
    answer = json_raw(http_get(url, timeout(default=30.0)).content, f"GET {url}: not JSON")
    weaknesses = answer.get("Weaknesses") if isinstance(answer, dict) else None
    if not weaknesses:
        raise ValueError(f"GET {url}: no weakness {cwe_id} in the answer")
    weakness = weaknesses[0]
    return [
        (
            set(),
            json.dumps({"name": weakness.get("Name"), "description": weakness.get("Description")}),
        )
    ]
