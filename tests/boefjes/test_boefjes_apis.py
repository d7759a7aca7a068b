"""The threat-intelligence boefjes against loopback stand-ins of their APIs (recorded
shapes), then their normalizers; refused keys, rate limits and broken answers fail
the job with a one-line reason, never hang."""

import json
import os

import pytest

from kat.pluginkit import APIRefused
from tests.plugins.helpers import input_ooi, references, run_boefje, run_normalizer
from tests.servers.apis import API_KEY, CENSYS_ID, CENSYS_SECRET, KNOWN_IP, APIServer

pytestmark = pytest.mark.timeout(60)

IP = f"IPAddressV4|internet|{KNOWN_IP}"


@pytest.fixture(scope="module")
def apis():
    server = APIServer()
    yield server
    server.close()


@pytest.fixture
def api(apis):
    apis.reset()
    yield apis
    apis.reset()


def settings(api: APIServer, boefje: str, key: str = API_KEY) -> dict[str, str]:
    return {
        "leakix": {"LEAKIX_API": key, "LEAKIX_BASE_URL": api.url("leakix")},
        "shodan": {"SHODAN_API": key, "SHODAN_BASE_URL": api.url("shodan")},
        "internetdb": {"INTERNETDB_BASE_URL": api.url("internetdb")},
        "crtsh": {"CRT_SH_BASE_URL": api.url("crtsh")},
        "censys": {
            "CENSYS_API_ID": CENSYS_ID,
            "CENSYS_API_SECRET": key if key != API_KEY else CENSYS_SECRET,
            "CENSYS_BASE_URL": api.url("censys"),
        },
    }[boefje] | {"TIMEOUT": "10"}


#: (plugin folder, settings name, input reference)
BOEFJES = [
    ("kat_leakix", "leakix", IP),
    ("kat_shodan", "shodan", IP),
    ("kat_shodan_internetdb", "internetdb", IP),
    ("kat_crt_sh", "crtsh", "DNSZone|internet|example.com"),
    ("kat_censys", "censys", IP),
]


def test_leakix_pages_through_both_scopes_with_the_key(api):
    raws, _ = run_boefje("kat_leakix", input_ooi(IP), settings(api, "leakix"))
    events = json.loads(raws[0][1])
    assert [e["event_fingerprint"][:8] for e in events] == ["6f1c5a0e"]
    asked = [(q["scope"], q["page"]) for name, _path, q, _h in api.requests if name == "leakix"]
    assert asked == [("leak", "0"), ("service", "0"), ("service", "1")]
    assert all(h.get("api-key") == API_KEY for name, _p, _q, h in api.requests)
    assert f"+ip:{KNOWN_IP}" in api.requests[0][2]["q"]


def test_leakix_asks_about_a_hostname(api):
    run_boefje(
        "kat_leakix", input_ooi("Hostname|internet|www.example.com"), settings(api, "leakix")
    )
    assert api.requests[0][2]["q"] == '+host:"www.example.com"'


def test_shodan_ports_and_cves(api):
    inp = input_ooi(IP)
    raws, _ = run_boefje("kat_shodan", inp, settings(api, "shodan"))
    assert api.requests[0][2]["key"] == API_KEY
    refs = references(run_normalizer("kat_shodan_normalize", inp, raws[0][1]))
    assert refs == [
        f"IPPort|internet|{KNOWN_IP}|tcp|22",
        f"IPPort|internet|{KNOWN_IP}|tcp|443",
        "CVEFindingType|CVE-2021-23017",
        f"Finding|IPPort|internet|{KNOWN_IP}|tcp|443|CVE-2021-23017",
    ]


def test_shodan_and_internetdb_never_send_a_private_address(api):
    inp = input_ooi("IPAddressV4|internet|10.1.2.3")
    raws, _ = run_boefje("kat_shodan", inp, settings(api, "shodan"))
    assert raws == [(set(), b"{}")] and run_normalizer("kat_shodan_normalize", inp, b"{}") == []
    raws, _ = run_boefje("kat_shodan_internetdb", inp, settings(api, "internetdb"))
    assert raws == [({"info/boefje"}, b"Skipping private IP address")]
    assert api.requests == []


def test_internetdb_hostnames_software_and_cves(api):
    inp = input_ooi(IP)
    raws, _ = run_boefje("kat_shodan_internetdb", inp, settings(api, "internetdb"))
    refs = references(run_normalizer("kat_shodan_internetdb_normalize", inp, raws[0][1]))
    assert "Hostname|internet|www.example.com" in refs
    assert f"DNSPTRRecord|internet|34.216.184.93.in-addr.arpa|internet|{KNOWN_IP}" in refs
    assert f"Finding|{IP}|CVE-2023-38408" in refs
    assert "Software|nginx|1.18.0|cpe:/a:nginx:nginx:1.18.0" in refs


def test_internetdb_knows_nothing(api):
    inp = input_ooi("IPAddressV4|internet|93.184.216.35")
    raws, _ = run_boefje("kat_shodan_internetdb", inp, settings(api, "internetdb"))
    assert json.loads(raws[0][1]) == {"detail": "No information available"}
    assert run_normalizer("kat_shodan_internetdb_normalize", inp, raws[0][1]) == []


def test_certificate_search_hostnames_and_valid_certificates(api):
    inp = input_ooi("DNSZone|internet|example.com")
    raws, _ = run_boefje("kat_crt_sh", inp, settings(api, "crtsh"))
    assert api.requests[0][2] == {
        "Identity": "example.com", "match": "=", "output": "json", "deduplicate": "Y"
    }  # fmt: skip
    refs = references(run_normalizer("kat_crt_sh_normalize", inp, raws[0][1]))
    hostnames = sorted(r for r in refs if r.startswith("Hostname|"))
    assert hostnames == [
        "Hostname|internet|example.com",
        "Hostname|internet|mail.example.com",
        "Hostname|internet|www.example.com",
    ]
    certificates = [r for r in refs if r.startswith("X509Certificate|")]
    assert len(certificates) == 1 and "04A1B2C3D4E5F60718293A4B5C6D7E8F9A0B" in certificates[0]


def test_censys_services_and_software(api):
    inp = input_ooi(IP)
    raws, _ = run_boefje("kat_censys", inp, settings(api, "censys"))
    refs = references(run_normalizer("kat_censys_normalize", inp, raws[0][1]))
    assert f"IPService|internet|{KNOWN_IP}|tcp|443|http" in refs
    assert f"IPService|internet|{KNOWN_IP}|tcp|22|ssh" in refs
    assert "Hostname|internet|www.example.com" in refs
    assert any(r.startswith("SoftwareInstance|") and "NGINX" in r for r in refs)


@pytest.mark.parametrize(
    ("folder", "name", "reference"),
    [b for b in BOEFJES if b[1] != "internetdb" and b[1] != "crtsh"],
)
def test_a_refused_key_fails_with_a_clear_reason(api, folder, name, reference):
    main_settings = settings(api, name, key="wrong-key")
    with pytest.raises(APIRefused, match=r"the API key was refused \(401\)"):
        run_boefje(folder, input_ooi(reference), main_settings)


@pytest.mark.parametrize(("folder", "name", "reference"), BOEFJES)
def test_a_long_rate_limit_fails_at_once_naming_retry_after(api, folder, name, reference):
    api.reset("rate-limit")
    with pytest.raises(APIRefused, match=r"rate limited \(429\), retry after 3600 s"):
        run_boefje(folder, input_ooi(reference), settings(api, name))
    assert len(api.requests) == 1  # no hammering, no waiting an hour


@pytest.mark.parametrize(("folder", "name", "reference"), BOEFJES)
def test_a_short_rate_limit_is_waited_out_once(api, folder, name, reference):
    api.reset("rate-limit-once")
    raws, _ = run_boefje(folder, input_ooi(reference), settings(api, name))
    assert raws and raws[0][1]


@pytest.mark.parametrize(("folder", "name", "reference"), BOEFJES)
def test_a_server_error_fails_with_its_status(api, folder, name, reference):
    api.reset("error")
    with pytest.raises(RuntimeError, match="unexpected answer 500") as failed:
        run_boefje(folder, input_ooi(reference), settings(api, name))
    assert not isinstance(failed.value, APIRefused)  # a broken API is no refusal


def test_a_silent_api_fails_within_the_timeout(black_hole_server):
    url = f"http://127.0.0.1:{black_hole_server.port}"
    with pytest.raises(RuntimeError, match="no answer within 1 s"):
        run_boefje(
            "kat_shodan_internetdb", input_ooi(IP), {"INTERNETDB_BASE_URL": url, "TIMEOUT": "1"}
        )


def test_in_the_runtime_a_refused_key_is_a_failed_job_with_a_one_line_reason(api, tmp_path):
    """`kat run`: the job fails, the reason names the API and the status, and the key is
    neither printed nor stored in the job's meta."""
    from tests.boefjes.test_boefjes_dependencies import JOB_ID, boefje_job, kat

    secret = "wrong-key-that-must-not-leak"
    job = boefje_job(tmp_path, "leakix", IP, input_ooi(IP))
    done = kat(
        tmp_path, os.environ["PATH"], "run", "boefje", "--job", str(job),
        BOEFJE_LEAKIX_API=secret, BOEFJE_LEAKIX_BASE_URL=api.url("leakix"), BOEFJE_TIMEOUT="10",
    )  # fmt: skip
    assert f"boefje job {JOB_ID}: failed" in done.stdout, done.stdout + done.stderr
    assert "LeakIX: the API key was refused (401)" in done.stdout
    assert secret not in done.stdout + done.stderr
    task = kat(tmp_path, os.environ["PATH"], "task", JOB_ID, "--json")
    assert secret not in task.stdout and "LEAKIX_API" in task.stdout
    # a refusal, not a crash: the job says so, and the raw keeps the whole story
    recorded = json.loads(task.stdout)
    assert (recorded["status"], recorded["reason"]) == ("failed", "refused")
    assert recorded["detail"].startswith("LeakIX: the API key was refused (401)")


def test_in_the_runtime_a_rate_limit_is_refused_once_naming_retry_after(api, tmp_path):
    """A 429 with a long Retry-After: the job fails as ``refused`` at once, its detail
    names the wait, and the API was asked once (no retrying in a loop)."""
    from tests.boefjes.test_boefjes_dependencies import JOB_ID, boefje_job, kat

    api.reset("rate-limit")
    job = boefje_job(tmp_path, "shodan", IP, input_ooi(IP))
    done = kat(
        tmp_path, os.environ["PATH"], "run", "boefje", "--job", str(job),
        BOEFJE_SHODAN_API=API_KEY, BOEFJE_SHODAN_BASE_URL=api.url("shodan"), BOEFJE_TIMEOUT="10",
    )  # fmt: skip
    assert f"boefje job {JOB_ID}: failed" in done.stdout, done.stdout + done.stderr
    recorded = json.loads(kat(tmp_path, os.environ["PATH"], "task", JOB_ID, "--json").stdout)
    assert (recorded["status"], recorded["reason"]) == ("failed", "refused")
    assert "rate limited (429), retry after 3600 s" in recorded["detail"]
    assert len(api.requests) == 1


def test_snyk_vulnerabilities_of_a_version(api):
    inp = input_ooi("SoftwareInstance|IPAddressV4|internet|93.184.216.34|Software|lodash|4.17.15|")
    raws, _ = run_boefje("kat_snyk", inp, {"SNYK_BASE_URL": api.url("snyk"), "TIMEOUT": "10"})
    result = json.loads(raws[0][1])
    assert result["cve_vulnerabilities"] == [
        {"cve_code": "CVE-2021-23337", "Vuln_text": "Command Injection"}
    ]
    assert result["table_vulnerabilities"] == [
        {"Vuln_href": "SNYK-JS-LODASH-608086", "Vuln_text": "Prototype Pollution",
         "Vuln_versions": "<4.17.17"}
    ]  # fmt: skip
    assert result["table_versions"][0] == {
        "Version_href": "4.17.21", "Version_text": "4.17.21", "is_latest": True
    }  # fmt: skip


@pytest.mark.parametrize(
    ("version", "ranges", "inside"),
    [
        ("4.17.15", "<4.17.17", True),
        ("4.17.17", "<4.17.17", False),
        ("1.5.0", ">=1.0.0 <2.0.0", True),
        ("2.0.0", ">=1.0.0 <2.0.0", False),
        ("1.2", "[1.1,1.4)", True),
        ("1.4", "[1.1,1.4)", False),
        ("0.9", "<0.5, >=0.8 <1.0", True),
        ("3.0", "*", True),
    ],
)
def test_snyk_version_ranges(version, ranges, inside):
    from tests.plugins.helpers import load_module

    assert load_module("kat_snyk/main.py").version_in(version, ranges) is inside
