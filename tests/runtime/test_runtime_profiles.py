"""Declared scan profiles count only for whitelisted normalizers (OpenKAT's
``SCAN_PROFILE_WHITELIST``), each capped at the normalizer's level there."""

from __future__ import annotations

import pytest

from kat import config
from kat.ooi import DeclaredScanProfile, Hostname, Network
from kat.runtime.runner import counted_profiles

HOST = Hostname(network=Network(name="internet"), name="example.com")


def _objects(level: int) -> list[dict]:
    return [HOST.serialize(), DeclaredScanProfile(ooi=HOST, level=level).serialize()]


def test_a_normalizer_off_the_whitelist_declares_nothing():
    kept = counted_profiles("kat_external_db_normalize", _objects(3), {})
    assert [o["object_type"] for o in kept] == ["Hostname"]


def test_a_whitelisted_normalizer_declares_up_to_its_level():
    kept = counted_profiles(
        "kat_external_db_normalize", _objects(4), {"kat_external_db_normalize": 2}
    )
    (profile,) = [o for o in kept if o["object_type"] == "DeclaredScanProfile"]
    assert profile["level"] == 2 and profile["ooi"] == HOST.reference
    kept = counted_profiles(
        "kat_external_db_normalize", _objects(1), {"kat_external_db_normalize": 3}
    )
    assert [o["level"] for o in kept if o["object_type"] == "DeclaredScanProfile"] == [1]


def test_the_whitelist_setting_is_checked():
    loaded = config.load({"SCAN_PROFILE_WHITELIST": '{"kat_external_db_normalize": 3}'})
    assert loaded.scan_profile_whitelist == {"kat_external_db_normalize": 3}
    with pytest.raises(config.ConfigError, match="SCAN_PROFILE_WHITELIST"):
        config.load({"SCAN_PROFILE_WHITELIST": '{"x": 7}'})
