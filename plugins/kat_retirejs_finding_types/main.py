"""retirejs-finding-types: RetireJS's repository of vulnerable JavaScript libraries
(``jsrepository.json``), as it came (OpenKAT's raw)."""

from __future__ import annotations

from kat.pluginkit import base_url, http_get, timeout

DEFAULT_URL = "https://raw.githubusercontent.com/RetireJS/retire.js/v3/repository/jsrepository.json"


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    url = base_url("RETIREJS_REPOSITORY_URL", DEFAULT_URL)
    return [(set(), http_get(url, timeout(default=60.0)).content)]
