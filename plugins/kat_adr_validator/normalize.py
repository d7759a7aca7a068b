"""adr-validator-normalize: the ADR validator's results (``[{rule, passed, message}]``)
into an APIDesignRule and its result on the input RESTAPI; a failed rule adds an
ADRFindingType (the rule's name) and a Finding on the API whose description is the
validator's message.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import (
    OOI,
    ADRFindingType,
    APIDesignRule,
    APIDesignRuleResult,
    Finding,
    from_input_dict,
)
from kat.pluginkit import json_raw, raw_shape


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("adr-validator raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    results = json_raw(raw, "adr-validator raw: not JSON")
    if not isinstance(results, list):
        raise ValueError(f"adr-validator raw: expected a list, got {type(results).__name__}")
    api = from_input_dict(input_ooi) if results else None
    for i, result in enumerate(results):
        if not isinstance(result, dict) or not {"rule", "passed"} <= result.keys():
            raise ValueError(f"adr-validator raw: item {i} lacks 'rule' or 'passed'")
        message = str(result.get("message") or "")
        rule = APIDesignRule(name=result["rule"])
        yield rule
        yield APIDesignRuleResult(
            rest_api=api, rule=rule, passed=bool(result["passed"]), message=message
        )
        if not result["passed"]:
            finding_type = ADRFindingType(id=result["rule"])
            yield finding_type
            yield Finding(finding_type=finding_type, ooi=api, description=message)
