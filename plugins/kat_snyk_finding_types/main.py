"""snyk-finding-types: a Snyk vulnerability page (``<SNYK_URL>/<id>``) read into OpenKAT's
raw, ``{"risk": "<score>", "affected_versions": …, "summary": …}``: the score is the
``data-snyk-test-score`` attribute, the versions the ``[data-snyk-test='vuln versions']``
text, the summary the first paragraph under the "Overview" heading.
"""

from __future__ import annotations

import json
import re

from kat.pluginkit import base_url, http_get, timeout

DEFAULT_URL = "https://snyk.io/vuln"
_SNYK = re.compile(r"^SNYK-[A-Z0-9-]+$", re.IGNORECASE)


def parse(html: str) -> dict:
    """OpenKAT's fields from a vulnerability page; ValueError when it has no score."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    score = soup.select_one("[data-snyk-test-score]")
    if score is None:
        raise ValueError("snyk page: no data-snyk-test-score (not a vulnerability page?)")
    versions = soup.select_one("[data-snyk-test='vuln versions']")
    heading = soup.find(["h2", "h3"], string=re.compile("Overview"))
    summary = None
    if heading is not None:
        paragraph = heading.find_next("p")
        summary = paragraph.get_text(" ", strip=True) if paragraph else None
    return {
        "risk": score["data-snyk-test-score"],
        "affected_versions": versions.get_text(strip=True) if versions else None,
        "summary": summary,
    }


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    snyk_id = str(boefje_meta["arguments"]["input"]["id"]).strip().upper()
    if not _SNYK.match(snyk_id):
        raise ValueError(f"{snyk_id!r} is not a Snyk id")
    url = f"{base_url('SNYK_URL', DEFAULT_URL)}/{snyk_id}"
    return [(set(), json.dumps(parse(http_get(url, timeout(default=30.0)).text)))]
