"""Malformed, truncated and random raws: a normalizer yields valid objects, yields
nothing, or raises a ValueError naming the problem; it never hangs or crashes otherwise.

Seeds are the OpenKAT fixture raws (and a few hand-written ones where there are none);
hypothesis truncates them, flips and inserts bytes, or replaces them with noise.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kat import ooi
from kat.catalogue.plugins import discover
from tests.boefjes.seeds import SEEDS as BOEFJE_SEEDS
from tests.normalizers.feeds import RETIREJS_REPOSITORY
from tests.plugins.helpers import PLUGINS_DIR, load_module
from tests.tiers import examples

COMPAT = Path(__file__).resolve().parents[1] / "compat" / "openkat"
PLUGINS, _ = discover(PLUGINS_DIR)

#: Hard limit for one normalizer call on a small raw: far above normal (milliseconds).
LIMIT_SECONDS = 5.0
#: Examples per normalizer (the fast tier runs a share: tests/tiers.py); a few thousand
#: once found the bugs these tests now guard.
MAX_EXAMPLES = 150
#: Fewer for normalizers that take about a second a raw (Wappalyzer's thousands of
#: fingerprints), so the test stays within its time limit.
FEWER_EXAMPLES = {"kat_wappalyzer_normalize": 12}

RESOURCE = (
    "HTTPResource|internet|192.0.2.1|tcp|443|https|internet|example.com"
    "|https|internet|example.com|443|/"
)


def _retirejs_hash() -> str:
    import hashlib

    text = "2432" + "3rd party CORS request may execute"
    return hashlib.sha1(text.encode()).hexdigest()[:4]


#: Seeds and input for normalizers without (usable) fixture raws.
EXTRA = {
    "kat_webpage_analysis_headers_normalize": (
        ooi.input_dict(RESOURCE),
        [
            json.dumps(
                {"response": {"headers": {"Server": "nginx", "X-Frame-Options": "DENY"}}}
            ).encode(),
            b'{"Content-Type": "text/html"}',
        ],
    ),
    "kat_missing_headers_normalize": (
        ooi.input_dict(RESOURCE),
        [
            json.dumps(
                {"response": {"headers": {"Content-Type": "text/html", "Pragma": "no-cache"}}}
            ).encode(),
        ],
    ),
    "kat_server_software_normalize": (
        ooi.input_dict(RESOURCE),
        [
            json.dumps(
                {"response": {"headers": {"Server": "nginx/1.18.0", "X-Powered-By": "PHP/7.4"}}}
            ).encode(),
            b'{"Server": "Apache/2.4.41 (Ubuntu) OpenSSL/1.1.1f"}',
        ],
    ),
    "kat_cve_2024_6387_normalize": (
        ooi.input_dict("IPPort|internet|192.0.2.1|tcp|22"),
        [b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"],
    ),
    "kat_CVE_2023_35078_normalize": (
        ooi.input_dict("HostnameHTTPURL|https|internet|example.com|443|/"),
        [
            (
                COMPAT / "kat_CVE_2023_35078_normalize/cve_2023_35078_not_vulnerable/raw"
            ).read_bytes(),
            b'<script src="/mifs/scripts/auth.js?VSP 11.8.0.0 Build 1 "></script>',
        ],
    ),
    "kat_answer_parser": (
        ooi.input_dict("Network|internet"),
        [
            json.dumps(
                {
                    "schema": "/bit/port-classification-ip",
                    "answer": {"common_tcp_ports": "22,80,443"},
                    "answer_ooi": "Network|internet",
                }
            ).encode()
        ],
    ),
    "kat_ssl_test_ciphers_normalize": (
        ooi.input_dict("IPService|internet|192.0.2.1|tcp|443|https"),
        [
            json.dumps(
                [
                    {
                        "id": "service",
                        "ip": "192.0.2.1/192.0.2.1",
                        "port": "443",
                        "severity": "INFO",
                        "finding": "HTTP",
                    },
                    {
                        "id": "cipher-tls1_2_xc030",
                        "ip": "192.0.2.1/192.0.2.1",
                        "port": "443",
                        "severity": "OK",
                        "finding": "TLSv1.2 xc030 ECDHE-RSA-AES256-GCM-SHA384 "
                        "ECDH 253 AESGCM 256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                    },
                    {
                        "id": "cipher-tls1_3_x1302",
                        "ip": "192.0.2.1/192.0.2.1",
                        "port": "443",
                        "severity": "OK",
                        "finding": "TLSv1.3 x1302 TLS_AES_256_GCM_SHA384 "
                        "ECDH 253 AESGCM 256 TLS_AES_256_GCM_SHA384",
                    },
                ]
            ).encode()
        ],
    ),  # fmt: skip
    "kat_kat_finding_types_normalize": (
        ooi.input_dict("KATFindingType|KAT-NO-DNSSEC"),
        [
            json.dumps(
                {"KAT-NO-DNSSEC": {"name": "No DNSSEC", "risk": "medium", "description": "x"}}
            ).encode()
        ],
    ),
    "kat_cwe_finding_types_normalize": (
        ooi.input_dict("CWEFindingType|CWE-79"),
        [b'{"name": "Cross-site Scripting", "description": "The product does not neutralize."}'],
    ),
    "kat_retirejs_finding_types_normalize": (
        ooi.input_dict("RetireJSFindingType|RetireJS-jquery-" + _retirejs_hash()),
        [json.dumps(RETIREJS_REPOSITORY).encode()],
    ),
    "kat_snyk_finding_types_normalize": (
        ooi.input_dict("SnykFindingType|SNYK-JS-LODASH-590103"),
        [b'{"risk": "7.4", "affected_versions": "<4.17.11", "summary": "Prototype Pollution"}'],
    ),
    **BOEFJE_SEEDS,  # the normalizers of boefjes OpenKAT's fixture pack does not cover
}


def _seeds(normalizer_id: str) -> tuple[dict, list[bytes]]:
    if normalizer_id in EXTRA:
        return EXTRA[normalizer_id]
    cases = sorted((COMPAT / normalizer_id).glob("*/case.json"))
    inputs = [json.loads(p.read_text()).get("input_ooi_dict") for p in cases]
    input_ooi = next((i for i in inputs if i), {})
    return input_ooi, [(p.parent / "raw").read_bytes() for p in cases]


NORMALIZERS = sorted(p for p, plugin in PLUGINS.items() if plugin.type == "normalizer")


def _mutations(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    seed = st.sampled_from(seeds)
    truncated = st.tuples(seed, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
    flipped = st.tuples(seed, st.integers(0, 2**32), st.binary(min_size=1, max_size=8)).map(
        lambda t: t[0][: t[1] % (len(t[0]) + 1)] + t[2] + t[0][t[1] % (len(t[0]) + 1) + 1 :]
    )
    spliced = st.tuples(seed, seed, st.floats(0, 1)).map(
        lambda t: t[0][: int(len(t[0]) * t[2])] + t[1][int(len(t[1]) * t[2]) :]
    )
    noise = st.binary(max_size=300) | st.text(max_size=200).map(str.encode)
    strategies = truncated | flipped | spliced | noise
    documents = [doc for doc in map(_json, seeds) if isinstance(doc, dict | list)]
    if documents:
        # well-formed JSON of the wrong shape: a value of the seed replaced by any JSON
        strategies |= st.tuples(st.sampled_from(documents), st.integers(0, 99), JSON).map(
            lambda t: json.dumps(_replace(t[0], t[1], t[2])).encode()
        )
        strategies |= JSON.map(lambda v: json.dumps(v).encode())
    return strategies


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _replace(doc, index: int, value):
    """A copy of ``doc`` with its index-th node (depth first) replaced by ``value``."""
    nodes = []

    def walk(node, parent, key):
        nodes.append((parent, key))
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for k, child in children:
            walk(child, node, k)

    doc = json.loads(json.dumps(doc))
    walk(doc, None, None)
    parent, key = nodes[index % len(nodes)]
    if parent is None:
        return value
    parent[key] = value
    return doc


@pytest.mark.timeout(120)
@pytest.mark.parametrize("normalizer_id", NORMALIZERS)
def test_malformed_raw_gives_objects_nothing_or_a_clear_error(request, normalizer_id):
    module = load_module(PLUGINS[normalizer_id].code)
    input_ooi, seeds = _seeds(normalizer_id)
    assert seeds, f"no seed raws for {normalizer_id}"
    for seed in seeds:  # warm caches (fingerprints, compiled patterns) outside the clock
        list(module.run(dict(input_ooi), seed))

    @settings(
        max_examples=examples(request.config, FEWER_EXAMPLES.get(normalizer_id, MAX_EXAMPLES)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(raw=_mutations(seeds))
    def check(raw: bytes) -> None:
        started = time.monotonic()
        try:
            output = list(module.run(dict(input_ooi), raw))
        except ValueError as exc:
            assert str(exc), "the error must say what is wrong"
            output = []
        assert time.monotonic() - started < LIMIT_SECONDS
        for obj in output:
            assert isinstance(obj, ooi.OOI)
            json.dumps(obj.serialize())
            if obj.object_type != "Config":  # keyed without its object's type (Octopoes)
                assert ooi.parse_reference(obj.reference).reference == obj.reference

    check()


@pytest.mark.parametrize("normalizer_id", NORMALIZERS)
def test_seed_raws_give_objects(normalizer_id):
    """The unmodified seeds parse, so the mutations start from meaningful input."""
    module = load_module(PLUGINS[normalizer_id].code)
    input_ooi, seeds = _seeds(normalizer_id)
    produced = [obj for raw in seeds for obj in module.run(dict(input_ooi), raw)]
    assert produced
