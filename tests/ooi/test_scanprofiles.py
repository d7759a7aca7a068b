"""Declared scan profiles, the scan-profile whitelist and affirmations (OpenKAT's meaning)."""

from __future__ import annotations

import pytest

from kat import ooi
from kat.runtime.forker import _check_objects

HOST = ooi.parse_reference("Hostname|internet|example.com")
ADDRESS = ooi.parse_reference("IPAddressV4|internet|192.0.2.1")


def profiles(*levels: int) -> list[ooi.DeclaredScanProfile]:
    return [
        ooi.DeclaredScanProfile(ooi=target, level=level)
        for target, level in zip((HOST, ADDRESS), levels, strict=False)
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"kat_external_db_normalize": 2}', {"kat_external_db_normalize": 2}),
        ({"a": 0, "b": 4}, {"a": 0, "b": 4}),
        ("", {}),
        (None, {}),
        ("  ", {}),
    ],
)
def test_whitelist_is_read(value, expected):
    assert ooi.parse_whitelist(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"x": 5}', "x: scan level must be 0-4, not 5"),
        ('{"x": -1}', "x: scan level must be 0-4, not -1"),
        ('{"x": "2"}', "x: scan level must be 0-4, not '2'"),
        ('{"x": true}', "x: scan level must be 0-4, not True"),
        ("[1, 2]", "expected a JSON object of normalizer id -> scan level"),
        ("{nope", "not JSON"),
    ],
)
def test_bad_whitelists_name_the_variable_and_the_problem(value, message):
    with pytest.raises(ValueError, match="SCAN_PROFILE_WHITELIST: " + message.replace("[", r"\[")):
        ooi.parse_whitelist(value, "SCAN_PROFILE_WHITELIST")


def test_only_a_whitelisted_normalizers_profiles_count_capped_at_its_level():
    declared = profiles(3, 1)
    assert ooi.whitelisted("kat_external_db_normalize", declared, {"other": 4}) == []
    assert ooi.whitelisted("kat_external_db_normalize", declared, {}) == []
    capped = ooi.whitelisted(
        "kat_external_db_normalize", declared, {"kat_external_db_normalize": 2}
    )
    assert [(p.ooi.reference, p.level) for p in capped] == [
        ("Hostname|internet|example.com", 2),
        ("IPAddressV4|internet|192.0.2.1", 1),  # a lower declared level is kept
    ]
    assert declared[0].level == 3  # the declared profiles themselves are left alone


def test_scan_profiles_are_apart_from_observations():
    declared = profiles(3)
    objects, found = ooi.split_scan_profiles([HOST, *declared, ADDRESS])
    assert objects == [HOST, ADDRESS] and found == declared
    assert not declared[0].observed
    ooi.check_observations(None, declared)  # a job without an input may declare profiles
    with pytest.raises(ValueError, match=r"level: not in 0-4: 5"):
        ooi.DeclaredScanProfile(ooi=HOST, level=5)


def test_scan_profiles_and_affirmations_pass_the_job_child_as_marked_objects():
    affirmed = ooi.affirm(ooi.CVEFindingType(id="CVE-2021-44228", risk_severity="critical"))
    forms = _check_objects(iter([HOST, *profiles(2), affirmed]))
    assert forms[1] == {
        "object_type": "DeclaredScanProfile",
        "primary_key": "DeclaredScanProfile|Hostname|internet|example.com",
        "ooi": "Hostname|internet|example.com",
        "level": 2,
    }
    assert forms[2]["affirmed"] is True and "affirmed" not in forms[0]
    back = [ooi.from_serialized(form) for form in forms]
    assert back[2].affirmed and not back[2].observed
    assert isinstance(back[1], ooi.DeclaredScanProfile) and back[1].level == 2
    ooi.check_observations(None, back[1:])
    with pytest.raises(ooi.ObservationsWithoutInput):
        ooi.check_observations(None, back)
