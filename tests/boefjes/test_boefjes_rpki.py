"""rpki against loopback copies of the ROA and BGP data files: cached between runs,
downloaded again when stale or when the source changes, findings from the result."""

import json

import pytest

from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer
from tests.servers.apis import KNOWN_IP, APIServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def api():
    server = APIServer()
    yield server
    server.close()


def rpki_settings(api: APIServer, cache, max_age: str = "1800") -> dict[str, str]:
    return {
        "RPKI_SOURCE_URL": api.url("rpki") + "/vrps.json",
        "BGP_SOURCE_URL": api.url("rpki") + "/table.jsonl",
        "CACHE_DIR": str(cache),
        "RPKI_CACHE_TIMEOUT": max_age,
        "TIMEOUT": "10",
    }


def test_covered_address_with_a_rogue_announcement(api, tmp_path):
    inp = input_ooi(f"IPAddressV4|internet|{KNOWN_IP}")
    raws, _ = run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path))
    by_type = {next(iter(m)): raw for m, raw in raws}
    result = json.loads(by_type["rpki/results"])
    assert result["exists"] is True
    assert [r["asn"] for r in result["vrps_records"]] == [64500]
    assert result["invalid_bgp_entries"] == [{"ip": KNOWN_IP, "asn": 64999}]
    meta = json.loads(by_type["rpki/cache-meta"])
    assert meta["source"].endswith("/rpki/vrps.json") and len(meta["hash"]) == 64
    refs = references(run_normalizer("kat_rpki_normalize", inp, by_type["rpki/results"]))
    assert refs == [
        "KATFindingType|KAT-INVALID-RPKI",
        f"Finding|IPAddressV4|internet|{KNOWN_IP}|KAT-INVALID-RPKI",
    ]


def test_an_address_without_a_roa(api, tmp_path):
    inp = input_ooi("IPAddressV4|internet|8.8.4.4")
    raws, _ = run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path))
    result = dict((next(iter(m)), raw) for m, raw in raws)["rpki/results"]
    assert references(run_normalizer("kat_rpki_normalize", inp, result)) == [
        "KATFindingType|KAT-NO-RPKI",
        "Finding|IPAddressV4|internet|8.8.4.4|KAT-NO-RPKI",
    ]


def test_the_data_files_are_cached_and_refreshed(api, tmp_path):
    inp = input_ooi(f"IPAddressV4|internet|{KNOWN_IP}")
    run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path))
    run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path))
    assert api.rpki_downloads == ["vrps.json", "table.jsonl"]  # the second run used the cache
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bgp.jsonl", "bgp.jsonl.meta.json", "vrps.json", "vrps.json.meta.json",
    ]  # fmt: skip
    run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path, max_age="0"))
    assert api.rpki_downloads == ["vrps.json", "table.jsonl"] * 2  # 0: refresh every run


def test_a_private_address_is_not_checked(api, tmp_path):
    inp = input_ooi("IPAddressV4|internet|10.0.0.1")
    raws, _ = run_boefje("kat_rpki", inp, rpki_settings(api, tmp_path))
    assert raws[0][0] == set() and api.rpki_downloads == []


def test_an_unreachable_source_fails_with_a_reason(tmp_path, unused_port):
    settings = {
        "RPKI_SOURCE_URL": f"http://127.0.0.1:{unused_port}/vrps.json",
        "CACHE_DIR": str(tmp_path),
        "TIMEOUT": "5",
    }
    with pytest.raises(RuntimeError, match="rpki: cannot download"):
        run_boefje("kat_rpki", input_ooi(f"IPAddressV4|internet|{KNOWN_IP}"), settings)
