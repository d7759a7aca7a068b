"""Findings with risk: kat's finding catalogue and the finding-type feeders.

The catalogue (``plugins/kat_kat_finding_types/kat_finding_types.yaml``) must hold every
finding type id that any plugin under ``plugins/`` emits, read from the plugins' code at
test time. The feeders that ask a third party are run against a loopback server that
answers in the recorded shape of the real service (:mod:`tests.normalizers.feeds`).
"""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from kat import ooi
from kat.pluginkit import APIRefused
from tests.normalizers.feeds import FeedServer
from tests.plugins.helpers import PLUGINS_DIR, input_ooi, run_boefje, run_normalizer

CATALOGUE_FILE = PLUGINS_DIR / "kat_kat_finding_types" / "kat_finding_types.yaml"
CATALOGUE = yaml.safe_load(CATALOGUE_FILE.read_text())
#: What a KAT finding type id looks like in plugin code.
KAT_ID = re.compile(r"^(KAT|SUB|EXPOSED)-[A-Z0-9][A-Z0-9.-]*[A-Z0-9]$")
FIELDS = {"name", "risk", "source", "description", "impact", "recommendation"}


def emitted_ids() -> dict[str, str]:
    """Every KAT finding type id written in plugin code -> the first file naming it."""
    found: dict[str, str] = {}
    for path in sorted(PLUGINS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and KAT_ID.match(text):
                found.setdefault(text, str(path.relative_to(PLUGINS_DIR)))
    return found


def test_every_emitted_finding_id_has_a_catalogue_entry():
    ids = emitted_ids()
    assert "KAT-NO-DNSSEC" in ids and "KAT-OUTDATED-SOFTWARE" in ids  # the scan sees code
    missing = {i: where for i, where in ids.items() if i not in CATALOGUE}
    assert not missing, f"finding ids without an entry in {CATALOGUE_FILE.name}: {missing}"


@pytest.mark.parametrize("finding_id", sorted(CATALOGUE))
def test_catalogue_entry_is_complete(finding_id):
    entry = CATALOGUE[finding_id]
    assert set(entry) == FIELDS, set(entry) ^ FIELDS
    assert entry["risk"] in ("critical", "high", "medium", "low", "recommendation")
    assert entry["source"].startswith("https://")
    assert all(isinstance(entry[f], str) and entry[f].strip() for f in FIELDS)


def test_kat_finding_types_feeder_fills_the_risk():
    target = input_ooi("KATFindingType|KAT-NO-DNSSEC")
    raws, _ = run_boefje("kat_kat_finding_types", target)
    [(_, raw)] = raws
    [finding_type] = run_normalizer("kat_kat_finding_types_normalize", target, raw)
    assert finding_type.affirmed and finding_type.reference == "KATFindingType|KAT-NO-DNSSEC"
    assert (finding_type.risk_severity, finding_type.risk_score) == ("medium", 6.9)
    assert finding_type.name == CATALOGUE["KAT-NO-DNSSEC"]["name"]
    assert finding_type.recommendation and finding_type.impact and finding_type.source


def test_kat_finding_types_feeder_names_an_unknown_id():
    with pytest.raises(ValueError, match="KAT-NOT-A-THING is not in kat's finding catalogue"):
        run_boefje("kat_kat_finding_types", input_ooi("KATFindingType|KAT-NOT-A-THING"))


@pytest.fixture(scope="module")
def feeds():
    server = FeedServer()
    yield server
    server.close()


def test_cve_feeder_reads_the_cve_api(feeds):
    target = input_ooi("CVEFindingType|CVE-2021-46882")
    raws, _ = run_boefje("kat_cve_finding_types", target, {"CVEAPI_URL": f"{feeds.url}/cve"})
    [finding_type] = run_normalizer("kat_cve_finding_types_normalize", target, raws[0][1])
    assert finding_type.affirmed
    assert (finding_type.risk_severity, finding_type.risk_score) == ("high", 7.5)
    assert finding_type.source == "https://cve.circl.lu/cve/CVE-2021-46882"


def test_cwe_feeder_reads_the_cwe_api(feeds):
    target = input_ooi("CWEFindingType|CWE-79")
    raws, _ = run_boefje("kat_cwe_finding_types", target, {"CWE_API_URL": f"{feeds.url}/cwe"})
    [finding_type] = run_normalizer("kat_cwe_finding_types_normalize", target, raws[0][1])
    assert finding_type.description.startswith("Improper Neutralization of Input")
    assert finding_type.source == "https://cwe.mitre.org/data/definitions/79.html"
    assert finding_type.risk_severity == "unknown" and finding_type.affirmed


def test_retirejs_feeder_finds_the_vulnerability_by_its_hash(feeds):
    target = input_ooi("RetireJSFindingType|RetireJS-jquery-" + _hash_of("2432"))
    settings = {"RETIREJS_REPOSITORY_URL": f"{feeds.url}/retirejs/jsrepository.json"}
    raws, _ = run_boefje("kat_retirejs_finding_types", target, settings)
    [finding_type] = run_normalizer("kat_retirejs_finding_types_normalize", target, raws[0][1])
    assert (finding_type.risk_severity, finding_type.risk_score) == ("medium", 6.9)
    assert finding_type.description == (
        "3rd party CORS request may execute. More information at: "
        "https://github.com/jquery/jquery/issues/2432 or http://blog.jquery.com/"
    )
    unknown = input_ooi("RetireJSFindingType|RetireJS-jquery-ffff")
    assert run_normalizer("kat_retirejs_finding_types_normalize", unknown, raws[0][1]) == []


def _hash_of(issue: str) -> str:
    import hashlib

    return hashlib.sha1(f"{issue}3rd party CORS request may execute".encode()).hexdigest()[:4]


def test_snyk_feeder_reads_the_vulnerability_page(feeds):
    target = input_ooi("SnykFindingType|SNYK-JS-LODASH-590103")
    raws, _ = run_boefje("kat_snyk_finding_types", target, {"SNYK_URL": f"{feeds.url}/snyk"})
    [finding_type] = run_normalizer("kat_snyk_finding_types_normalize", target, raws[0][1])
    assert (finding_type.risk_severity, finding_type.risk_score) == ("high", 7.4)
    assert finding_type.description.startswith("lodash is a modern JavaScript utility")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("limited", r"HTTP 429 \(rate limited; Retry-After: 30\)"),
        ("refused", r"HTTP 401 \(the service refused the credentials\)"),
        ("missing", r"HTTP 404"),
    ],
)
def test_feeder_failures_name_the_url_and_status(feeds, route, message):
    target = input_ooi("CVEFindingType|CVE-2021-46882")
    # a rate limit or a refused key is a refusal (the job fails as ``refused``)
    expected = ValueError if route == "missing" else APIRefused
    with pytest.raises(expected, match=message):
        run_boefje("kat_cve_finding_types", target, {"CVEAPI_URL": f"{feeds.url}/{route}"})


def test_feeder_refuses_a_base_url_that_is_not_http():
    target = input_ooi("CVEFindingType|CVE-2021-46882")
    with pytest.raises(ValueError, match="CVEAPI_URL='file:///etc' is not an http"):
        run_boefje("kat_cve_finding_types", target, {"CVEAPI_URL": "file:///etc"})


def test_finding_types_carry_risk_fields_and_refuse_unknown_severities():
    finding_type = ooi.KATFindingType(id="KAT-X", risk_severity="HIGH", risk_score=8.9)
    assert finding_type.serialize()["risk_severity"] == "high"
    assert finding_type.serialize()["risk_score"] == 8.9
    with pytest.raises(ValueError, match="risk_severity: 'severe' is not one of"):
        ooi.KATFindingType(id="KAT-X", risk_severity="severe")
    with pytest.raises(ValueError, match="risk_score: 11.0 not in 0-10"):
        ooi.CVEFindingType(id="CVE-2020-1", risk_score=11)
    assert [ooi.severity_for_score(s) for s in (None, 0.0, 0.1, 4.0, 7.0, 9.0)] == [
        "unknown", "recommendation", "low", "medium", "high", "critical",
    ]  # fmt: skip
