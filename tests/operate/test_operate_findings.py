"""`kat objects --type Finding` lists findings with their risk: the severity and score
the finding-type feeders affirmed on their finding types, worst first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kat.store import open_store
from tests.database import store_url

HOST = "Hostname|internet|example.com"


def test_findings_are_listed_with_their_severity_worst_first(tmp_path):
    url = store_url(tmp_path)
    store = open_store(url)
    store.add_job("n1", "normalizer", "acme", "kat_generic_finding_normalize", {"id": "n1"})
    findings = [
        {"object_type": "Finding", "primary_key": f"Finding|{HOST}|{ft}", "ooi": HOST,
         "finding_type": f"KATFindingType|{ft}", "description": "d"}
        for ft in ("KAT-NO-CSP", "KAT-CERTIFICATE-EXPIRED", "KAT-UNKNOWN-ONE")
    ]  # fmt: skip
    types = [
        {"object_type": "KATFindingType", "primary_key": "KATFindingType|KAT-NO-CSP",
         "id": "KAT-NO-CSP", "risk_severity": "medium", "risk_score": 6.9},
        {"object_type": "KATFindingType", "primary_key": "KATFindingType|KAT-CERTIFICATE-EXPIRED",
         "id": "KAT-CERTIFICATE-EXPIRED", "risk_severity": "critical", "risk_score": 10.0},
    ]  # fmt: skip
    store.replace_objects("n1", "acme", findings + types)
    env = {**os.environ, "KAT_DATABASE_URL": url, "KAT_CATALOGUE_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "kat", "objects", "--org", "acme", "--type", "Finding"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["SEVERITY", "SCORE", "FINDING"]
    assert [line.split()[0] for line in lines[1:]] == ["critical", "medium", "unknown"]
    assert lines[1].split()[1] == "10" and "KAT-CERTIFICATE-EXPIRED" in lines[1]
    as_json = subprocess.run(
        [sys.executable, "-m", "kat", "objects", "--org", "acme", "--type", "Finding", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    risks = {o["finding_type"]: o["risk"]["severity"] for o in json.loads(as_json.stdout)}
    assert risks["KATFindingType|KAT-NO-CSP"] == "medium"


def test_a_finding_type_named_again_later_keeps_its_risk(tmp_path):
    """A normalizer that runs after the feeder names the finding type again, without its
    risk (each normalizer yields the types of its findings): the finding keeps the risk
    the feeder affirmed."""
    url = store_url(tmp_path)
    store = open_store(url)
    finding = {
        "object_type": "Finding",
        "primary_key": f"Finding|{HOST}|KAT-NO-HSTS",
        "ooi": HOST,
        "finding_type": "KATFindingType|KAT-NO-HSTS",
        "description": "d",
    }
    bare = {
        "object_type": "KATFindingType",
        "primary_key": "KATFindingType|KAT-NO-HSTS",
        "id": "KAT-NO-HSTS",
    }
    rated = {**bare, "risk_severity": "medium", "risk_score": 6.9}  # fmt: skip
    for job, objects in (("n1", [finding, bare]), ("feeder", [rated]), ("n2", [finding, bare])):
        store.add_job(job, "normalizer", "acme", "kat_missing_headers_normalize", {"id": job})
        store.replace_objects(job, "acme", objects)
    env = {**os.environ, "KAT_DATABASE_URL": url, "KAT_CATALOGUE_DIR": str(tmp_path)}
    as_json = subprocess.run(
        [sys.executable, "-m", "kat", "objects", "--org", "acme", "--type", "Finding", "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    [listed] = json.loads(as_json.stdout)
    assert (listed["risk"]["severity"], listed["risk"]["score"]) == ("medium", 6.9)
