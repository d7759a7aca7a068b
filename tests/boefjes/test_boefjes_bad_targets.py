"""Every boefje against targets that drop, hang or hang up: a clean raw within TIMEOUT.

"Clean" means: ``run`` returns (no exception), within TIMEOUT plus a small margin, a raw
in the boefje's documented no-answer form, and the matching normalizer yields nothing
from it but, at most, the input object itself.
"""

import json

import pytest

from tests.plugins.helpers import input_ooi, run_boefje, run_normalizer

TIMEOUT = 1.0
#: Generous room for thread start-up and a slow CI machine; the limit itself is TIMEOUT.
MARGIN = 1.5

pytestmark = pytest.mark.timeout(30)


def _tcp_target(request, kind: str) -> int:
    if kind == "refused":
        return request.getfixturevalue("unused_port")
    fixture = {
        "black hole": "black_hole_server",
        "closes": "closing_server",
        "trickles": "trickle_server",
    }.get(kind)
    return request.getfixturevalue(fixture or "dropping_port").port


def _dns_target(request, kind: str) -> str:
    if kind == "refused":
        return f"127.0.0.1:{request.getfixturevalue('unused_port')}"
    return request.getfixturevalue("silent_dns_server").address


def _quiet(normalizer_id, inp, raws, mime=None):
    for mimes, raw in raws:
        if any(m.startswith("error/") for m in mimes) or (mime and mime not in mimes):
            continue  # the runtime never hands these to the normalizer
        yielded = run_normalizer(normalizer_id, inp, raw)
        assert [o.reference for o in yielded if o.reference != inp["primary_key"]] == []


DNS_CASES = [
    ("kat_dns", "Hostname|internet|example.test", "kat_dns_normalize"),
    ("kat_rdns", "IPAddressV4|internet|127.0.0.1", "kat_rdns_normalize"),
    ("kat_dns_zone", "DNSZone|internet|example.test", "kat_dns_zone_normalize"),
    ("kat_dnssec", "Hostname|internet|signed.test", "kat_dnssec_normalize"),
]


@pytest.mark.parametrize("kind", ["drops", "refused"])
@pytest.mark.parametrize(("module", "reference", "normalizer"), DNS_CASES)
def test_dns_boefjes_against_a_dead_name_server(request, kind, module, reference, normalizer):
    settings = {"REMOTE_NS": _dns_target(request, kind), "TIMEOUT": str(TIMEOUT)}
    if module == "kat_dnssec":
        settings["TRUST_ANCHOR"] = "test. IN DS 1 13 2 " + "00" * 32
    inp = input_ooi(reference)
    raws, elapsed = run_boefje(module, inp, settings)
    assert elapsed < TIMEOUT + MARGIN
    (mimes, raw), *rest = raws
    assert not rest and mimes == set()
    text = raw.decode()
    if module == "kat_dns":
        assert json.loads(text)["dns_records"] == ""
        assert "error" in json.loads(text)
    elif module == "kat_dnssec":
        assert text.splitlines()[-1].startswith(";; Error: ")
        assert all(line.startswith(";") for line in text.splitlines())
    else:
        assert text == "NoAnswer"
    _quiet(normalizer, inp, raws)


KINDS = ["black hole", "closes", "drops", "refused", "trickles"]


def _website(port, scheme="https"):
    return input_ooi(f"Website|internet|127.0.0.1|tcp|{port}|{scheme}|internet|example.test")


@pytest.mark.parametrize("kind", KINDS)
def test_ssl_certificates_against_a_bad_target(request, kind):
    inp = _website(_tcp_target(request, kind))
    raws, elapsed = run_boefje("kat_ssl_certificates", inp, {"TIMEOUT": str(TIMEOUT)})
    assert elapsed < TIMEOUT + MARGIN
    assert raws[0][1].startswith(b"error ")
    _quiet("kat_ssl_certificates_normalize", inp, raws)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("kind", KINDS)
def test_webpage_analysis_against_a_bad_target(request, kind, scheme):
    port = _tcp_target(request, kind)
    web = f"127.0.0.1|tcp|{port}|{scheme}|internet|example.test"
    inp = input_ooi(f"HTTPResource|internet|{web}|{scheme}|internet|example.test|{port}|/")
    raws, elapsed = run_boefje("kat_webpage_analysis", inp, {"TIMEOUT": str(TIMEOUT)})
    assert elapsed < TIMEOUT + MARGIN
    assert [mimes for mimes, _ in raws] == [{"openkat-http/error"}]
    assert raws[0][1]
    _quiet("kat_webpage_analysis_headers_normalize", inp, raws, "openkat-http/headers")


@pytest.mark.parametrize("kind", KINDS)
def test_security_txt_against_a_bad_target(request, kind):
    inp = _website(_tcp_target(request, kind), "http")
    raws, elapsed = run_boefje("kat_security_txt_downloader", inp, {"TIMEOUT": str(TIMEOUT)})
    # one budget for both paths: the second gets what the first left
    assert elapsed < TIMEOUT + MARGIN
    results = json.loads(raws[0][1])
    assert set(results) == {".well-known/security.txt", "security.txt"}
    assert all(r["content"] is None and r["error"] for r in results.values())
    _quiet("kat_sec_txt_downloader_normalize", inp, raws)


@pytest.mark.parametrize("kind", KINDS)
def test_service_banner_against_a_bad_target(request, kind):
    inp = input_ooi(f"IPPort|internet|127.0.0.1|tcp|{_tcp_target(request, kind)}")
    raws, elapsed = run_boefje("kat_service_banner", inp, {"TIMEOUT": str(TIMEOUT)})
    assert elapsed < TIMEOUT + MARGIN
    [(mimes, raw)] = raws
    if kind == "closes":  # the service hung up without a word: an empty banner
        assert (mimes, raw) == ({"openkat/service-banner"}, b"")
    elif kind == "trickles":  # what came before the deadline is the banner
        assert mimes == {"openkat/service-banner"} and b"HTTP/1.1 200 OK".startswith(raw)
    else:
        assert mimes == {"error/boefje"} and raw.startswith(b"Unable to ")
    _quiet("kat_cve_2024_6387_normalize", inp, raws)


def test_port_scan_of_dropping_and_silent_ports(request):
    """Dropped SYNs are 'filtered', a silent server is still 'open'; one TIMEOUT in all."""
    dropping = request.getfixturevalue("dropping_port").port
    black_hole = request.getfixturevalue("black_hole_server").port
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    settings = {"PORTS": f"{dropping},{black_hole}", "TIMEOUT": str(TIMEOUT)}
    raws, elapsed = run_boefje("kat_port_scan", inp, settings)
    assert elapsed < TIMEOUT + MARGIN
    xml = raws[0][1].decode()
    assert '<extraports state="filtered" count="1">' in xml
    assert f'portid="{black_hole}"' in xml and f'portid="{dropping}"' not in xml


def test_port_scan_of_a_host_that_answers_nothing(request):
    dropping = request.getfixturevalue("dropping_port").port
    inp = input_ooi("IPAddressV4|internet|127.0.0.1")
    raws, elapsed = run_boefje(
        "kat_port_scan", inp, {"PORTS": str(dropping), "TIMEOUT": str(TIMEOUT)}
    )
    assert elapsed < TIMEOUT + MARGIN
    assert '<status state="down" reason="no-response"' in raws[0][1].decode()
    assert run_normalizer("kat_nmap_normalize", inp, raws[0][1]) == []
