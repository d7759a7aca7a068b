"""kat-finding-types: the catalogue entry of a KAT finding type, from kat_finding_types.yaml.

The raw is OpenKAT's JSON, ``{"<id>": {"name", "description", "source", "risk", "impact",
"recommendation"}}``, holding only the input's entry. An id the catalogue lacks fails the
job with a message naming it (every id kat's plugins emit has an entry; a test checks).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

#: kat's finding catalogue, next to this file.
CATALOGUE = Path(__file__).with_name("kat_finding_types.yaml")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    finding_type_id = boefje_meta["arguments"]["input"]["id"]
    catalogue = yaml.safe_load(CATALOGUE.read_text("utf-8"))
    if finding_type_id not in catalogue:
        raise ValueError(f"{finding_type_id} is not in kat's finding catalogue ({CATALOGUE.name})")
    return [(set(), json.dumps({finding_type_id: catalogue[finding_type_id]}))]
