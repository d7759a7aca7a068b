"""OpenKAT's own normalizer expectations, run against kat's normalizers.

Every ``openkat/<normalizer_id>/<case>/case.json`` is one test, read as the README in
``openkat/`` describes: the raw (checked against its SHA-256) goes to the normalizer's
``run(input_ooi_dict, raw)`` and the output is compared by the case's ``match`` rule.

Where a case expects OpenKAT to raise, kat raises its own exception; the mapping:

| OpenKAT exception               | kat exception                          |
|---------------------------------|----------------------------------------|
| ``ObservationsWithoutInputOOI`` | ``kat.ooi.ObservationsWithoutInput``   |

OpenKAT's manual normalizers emit declarations; kat's yield objects marked with
``kat.ooi.declare`` (``obj.declared``), so "0 observations" means none is unmarked.
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
EXCEPTIONS = {"ObservationsWithoutInputOOI": ooi.ObservationsWithoutInput}

_PLUGINS, _ = discover(PLUGINS_DIR)


def _normalizer(normalizer_id: str):
    plugin = _PLUGINS.get(normalizer_id)
    assert plugin is not None, f"no normalizer {normalizer_id!r} under plugins/"
    assert plugin.type == "normalizer"
    return load_module(plugin.code)


def _run_job(module, case: dict, raw: bytes) -> list[ooi.OOI]:
    """Run the normalizer as a job would: collect, check types and the input object."""
    output = list(module.run(case.get("input_ooi_dict", {}), raw))
    assert all(isinstance(obj, ooi.OOI) for obj in output), output
    ooi.check_observations(case.get("input_ooi"), output)
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


@pytest.mark.timeout(30)
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
    expected = case["expected"]

    if match == "function_result":
        call = case["expected_function_result"]
        assert getattr(module, call["function"])(call["argument"]) is call["result"]
        return
    if match == "exception":
        with pytest.raises(EXCEPTIONS[case["expected_exception"]]):
            _run_job(module, case, raw)
        return

    output = _run_job(module, case, raw)
    if "expected_count" in case and case["expected_count"] is not None and match != "set":
        assert len(output) == case["expected_count"], [o.reference for o in output]
    if case.get("output_channel") == "declarations":
        assert all(obj.declared for obj in output)
    if "expected_observation_count" in case:
        observed = [obj for obj in output if not obj.declared]
        assert len(observed) == case["expected_observation_count"]

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
            assert (obj.object_type, obj.reference) == (item["type"], item["primary_key"])
            _fields_match(obj, item["fields"])
    elif match == "count_by_type":
        counts = Counter(o.object_type for o in output)
        for name, count in case["expected_count_by_type"].items():
            assert counts[name] == count, counts

    for extra in case.get("extra_assertions", []):
        assert extra["kind"] == "port_then_service", extra
        _check_port_then_service(output, extra)


def _without_keys(obj: ooi.OOI) -> dict:
    form = obj.serialize()
    form.pop("object_type")
    form.pop("primary_key")
    return form


def test_every_case_is_collected():
    assert len(CASES) == 32
    ids = {json.loads(p.read_text())["normalizer_id"] for p in CASES}
    assert ids <= set(_PLUGINS), ids - set(_PLUGINS)
