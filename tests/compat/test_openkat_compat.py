"""OpenKAT's own normalizer expectations, run against kat's normalizers.

Every ``openkat/<normalizer_id>/<case>/case.json`` is one test, read as the README in
``openkat/`` describes: the raw (checked against its SHA-256) goes to the normalizer's
``run(input_ooi_dict, raw)`` and the output is compared by the case's ``match`` rule.

Where a case expects OpenKAT to raise, kat raises its own exception; the mapping:

| OpenKAT exception               | kat exception                          |
|---------------------------------|----------------------------------------|
| ``ObservationsWithoutInputOOI`` | ``kat.ooi.ObservationsWithoutInput``   |
| pydantic's ``ValidationError``  | ``ValueError`` (an object's field)     |
| ``TypeError``                   | ``TypeError``                          |

OpenKAT's output channels map onto marks on kat's objects: a declaration is
``obj.declared`` (``kat.ooi.declare``), an affirmation ``obj.affirmed``
(``kat.ooi.affirm``), a declared scan profile a ``kat.ooi.DeclaredScanProfile`` among the
objects. OpenKAT's runner files a job's observed objects as at most one observation, so
"N observations" is 1 when anything was observed and 0 otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from kat import ooi
from kat.catalogue.plugins import discover
from tests.plugins.helpers import PLUGINS_DIR, load_module

CASES_DIR = Path(__file__).parent / "openkat"
CASES = sorted(CASES_DIR.glob("*/*/case.json"))

#: OpenKAT exception name -> the exception kat raises for the same situation.
EXCEPTIONS = {
    "ObservationsWithoutInputOOI": ooi.ObservationsWithoutInput,
    "ValidationError": ValueError,
    "TypeError": TypeError,
}

#: What run() gets where OpenKAT's test passed a MagicMock (``input_ooi_mock``): the
#: fierce normalizer never reads it, the CVE-2023-35078 one reads only ``primary_key``.
MOCK_INPUT = {"primary_key": "HostnameHTTPURL|https|internet|example.com|443|/"}

_PLUGINS, _ = discover(PLUGINS_DIR)


def _normalizer(normalizer_id: str):
    plugin = _PLUGINS.get(normalizer_id)
    assert plugin is not None, f"no normalizer {normalizer_id!r} under plugins/"
    assert plugin.type == "normalizer"
    return load_module(plugin.code)


def _input(case: dict) -> dict:
    return MOCK_INPUT if case.get("input_ooi_mock") else case.get("input_ooi_dict", {})


def _run_job(module, case: dict, raw: bytes) -> list[ooi.OOI]:
    """Run the normalizer as a job would: collect, check types and the input object."""
    output = list(module.run(_input(case), raw))
    assert all(isinstance(obj, ooi.OOI) for obj in output), output
    ooi.check_observations(case.get("input_ooi") or case.get("input_ooi_mock"), output)
    return output


def _fields_match(obj: ooi.OOI, fields: dict) -> None:
    form = obj.serialize()
    for name, value in fields.items():
        assert name in form, f"{obj.reference}: no field {name!r}"
        assert form[name] == value, f"{obj.reference}.{name}: {form[name]!r} != {value!r}"


def _check_port_then_service(output: list[ooi.OOI], rule: dict) -> None:
    forced = {int(port): name for port, name in rule["port_to_service_name"].items()}
    pairs = 0
    for first, second in zip(output, output[1:], strict=False):
        if isinstance(first, ooi.IPPort) and isinstance(second, ooi.Service):
            pairs += 1
            if first.port in forced:
                assert second.name == forced[first.port], first.reference
            else:
                assert second.name not in rule["other_ports_service_name_not_in"]
    assert pairs, "no IPPort followed by a Service"


def _check_extra(output: list[ooi.OOI], extra: dict) -> None:
    if extra["kind"] == "port_then_service":
        _check_port_then_service(output, extra)
    elif extra["kind"] == "primary_keys_of_type":
        keys = {o.reference for o in output if o.object_type == extra["type"]}
        assert keys == set(extra["equals"])
    else:
        raise AssertionError(f"unknown extra assertion {extra['kind']!r}")


def _check_whitelist_runs(module, case: dict, raw: bytes) -> None:
    """OpenKAT's job handler, step by step: load the whitelist, run, save what counts."""
    for step in case["expected_whitelist_runs"]:
        text = json.dumps(step["whitelist"])
        if not step["accepted"]:
            with pytest.raises(ValueError, match="scan level must be 0-4"):
                ooi.parse_whitelist(text, case["settings_variable"])
            continue
        whitelist = ooi.parse_whitelist(text, case["settings_variable"])
        _, profiles = ooi.split_scan_profiles(_run_job(module, case, raw))
        saved = ooi.whitelisted(case["normalizer_id"], profiles, whitelist)
        assert bool(saved) is step["scan_profiles_saved"], step
        if "first_saved_level" in step:
            assert saved[0].level == step["first_saved_level"]


def _check_objects(output: list[ooi.OOI], case: dict) -> None:
    match, expected = case["match"], case["expected"]
    if match == "count" and expected:
        assert Counter(o.reference for o in output) == Counter(e["primary_key"] for e in expected)
        by_key = {o.reference: o for o in output}
        for item in expected:
            assert by_key[item["primary_key"]].object_type == item["type"]
            _fields_match(by_key[item["primary_key"]], item["fields"])
    elif match == "ordered":
        assert [o.reference for o in output] == [e["primary_key"] for e in expected]
        for obj, item in zip(output, expected, strict=True):
            assert obj.object_type == item["type"]
            _fields_match(obj, item["fields"])
    elif match == "set":
        got = {(o.reference, json.dumps(_without_keys(o), sort_keys=True)) for o in output}
        want = {(e["primary_key"], json.dumps(e["fields"], sort_keys=True)) for e in expected}
        assert got == want
    elif match == "index":
        for item in expected:
            assert len(output) > item["index"], [o.reference for o in output]
            obj = output[item["index"]]
            assert obj.object_type == item["type"]
            if item.get("primary_key_asserted", True):
                assert obj.reference == item["primary_key"]
            _fields_match(obj, item["fields"])
    elif match == "count_by_type":
        counts = Counter(o.object_type for o in output)
        for name, count in case.get("expected_count_by_type", {}).items():
            assert counts[name] == count, counts
        for name, count in case.get("expected_min_count_by_type", {}).items():
            assert counts[name] >= count, counts
    else:
        assert match == "count", f"unknown match {match!r}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "case_path", CASES, ids=[f"{p.parent.parent.name}/{p.parent.name}" for p in CASES]
)
def test_openkat_case(case_path: Path):
    case = json.loads(case_path.read_text())
    raw = (case_path.parent / "raw").read_bytes()
    assert len(raw) == case["raw_size"]
    assert hashlib.sha256(raw).hexdigest() == case["raw_sha256"], "raw file was changed"
    module = _normalizer(case["normalizer_id"])
    match = case["match"]

    if match == "function_result":
        call = case["expected_function_result"]
        assert getattr(module, call["function"])(call["argument"]) is call["result"]
        return
    if match == "exception":
        with pytest.raises(EXCEPTIONS[case["expected_exception"]]):
            _run_job(module, case, raw)
        return
    if match == "scan_profile_whitelist":
        _check_whitelist_runs(module, case, raw)
        return

    output, profiles = ooi.split_scan_profiles(_run_job(module, case, raw))
    if case.get("expected_count") is not None and match != "set":
        assert len(output) == case["expected_count"], [o.reference for o in output]
    channel = case.get("output_channel")
    if channel == "declarations":
        assert output and all(obj.declared for obj in output)
    elif channel == "affirmations":
        assert output and all(obj.affirmed for obj in output)
    else:
        assert not any(obj.declared or obj.affirmed for obj in output)
    if "expected_observation_count" in case:
        observations = 1 if any(obj.observed for obj in output) else 0
        assert observations == case["expected_observation_count"]
    if "expected_scan_profiles" in case:
        got = [(p.object_type, p.ooi.reference, p.level) for p in profiles]
        want = [(e["type"], e["reference"], e["level"]) for e in case["expected_scan_profiles"]]
        assert got == want
    else:
        assert not profiles

    _check_objects(output, case)
    for extra in case.get("extra_assertions", []):
        _check_extra(output, extra)


def _without_keys(obj: ooi.OOI) -> dict:
    form = obj.serialize()
    form.pop("object_type")
    form.pop("primary_key")
    return form


def test_every_case_is_collected():
    assert len(CASES) == 54
    ids = {json.loads(p.read_text())["normalizer_id"] for p in CASES}
    assert ids <= set(_PLUGINS), ids - set(_PLUGINS)
