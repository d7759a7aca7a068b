"""Property tests: settings survive YAML and sealing unchanged; no id outside the pattern
ever becomes a path."""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from falcon.testing import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kat.catalogue import KEY_RE, Catalogue, InvalidId, InvalidValue
from kat.catalogue.plugins import ID_PATTERN
from kat.catalogue.sealing import Sealer, generate
from kat.config import load
from kat.katalogus.app import create_app

PUBLIC, PRIVATE = generate()
#: The same examples every run, so a failure is reproducible.
FIXED = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow]}

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = (
    text
    | st.integers(-(2**63), 2**63)
    | st.booleans()
    | st.floats(allow_nan=False).filter(math.isfinite)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)
setting_dicts = st.dictionaries(st.from_regex(KEY_RE, fullmatch=True), values, max_size=6)


@pytest.fixture(scope="module")
def folder():
    path = Path(tempfile.mkdtemp(prefix="kat-prop-"))
    yield path
    shutil.rmtree(path)


@settings(max_examples=150, **FIXED)
@given(settings_dict=setting_dicts, sealed=st.booleans())
def test_any_settings_round_trip_through_yaml_and_sealing(folder, settings_dict, sealed):
    root = Path(tempfile.mkdtemp(dir=folder))
    sealer = Sealer(PUBLIC, [PRIVATE]) if sealed else None
    writer = Catalogue(root, sealer)
    writer.create_organisation("org")
    try:
        writer.replace_settings("org", "plugin", settings_dict)
    except InvalidValue:
        # unsealed, a string that looks sealed is refused rather than misread later
        assert not sealed and any(
            isinstance(v, str) and v.startswith("sealed:") for v in settings_dict.values()
        )
        return
    fresh = Catalogue(root, Sealer(None, [PRIVATE]))  # a new process: nothing cached
    assert fresh.settings("org", "plugin") == settings_dict
    read_back = fresh.settings("org", "plugin")
    assert {k: type(v) for k, v in read_back.items()} == {
        k: type(v) for k, v in settings_dict.items()
    }


def _outside_pattern(value: str) -> bool:
    return not re.fullmatch(ID_PATTERN, value) or ".." in value


bad_ids = st.text(max_size=80).filter(_outside_pattern) | st.sampled_from(
    ["..", "../x", "a/../../b", "a\x00b", "a..b", "x" * 65, "/etc/passwd", ".git", ""]
)


@pytest.fixture(scope="module")
def api(folder):
    root = folder / "ids" / "catalogue"
    return root, TestClient(create_app(load({"KAT_CATALOGUE_DIR": str(root)})))


@settings(max_examples=200, **FIXED)
@given(bad=bad_ids)
def test_ids_outside_the_pattern_are_refused_and_never_touch_the_disk(api, bad):
    root, client = api
    cat = Catalogue(root)
    with pytest.raises(InvalidId):
        cat.create_organisation(bad)
    with pytest.raises(InvalidId):
        cat.create_repository(bad, "n", "u")
    assert client.simulate_post("/v1/organisations", json={"id": bad}).status_code == 400
    if bad:
        encoded = quote(bad, safe="")
        for path in (
            f"/v1/organisations/{encoded}",
            f"/v1/organisations/{encoded}/p/settings/KEY",
            f"/v1/organisations/{encoded}/settings/clone/{encoded}",
        ):
            result = client.simulate_request("PUT" if "KEY" in path else "GET", path)
            assert 400 <= result.status_code < 500, path
    created = [p for p in root.parent.rglob("*") if p.is_file() and p.name != ".lock"]
    assert created == []
