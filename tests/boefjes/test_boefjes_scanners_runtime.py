"""The scanners in the runtime's sandbox (`kat run`): the same memory and time limits as
any job, an environment holding only their settings and the PATH of the programs."""

import os

import pytest

from kat.ooi import input_dict
from tests.boefjes.test_boefjes_dependencies import JOB_ID, boefje_job, kat
from tests.servers.http10 import Http10Server
from tests.servers.tls import tls_server

#: Runs the real scanners (nmap, testssl.sh, masscan) or a whole scan against loopback servers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def test_nmap_in_the_sandbox_feeds_the_nmap_normalizer(tmp_path):
    server = Http10Server()
    try:
        reference = "IPAddressV4|internet|127.0.0.1"
        job = boefje_job(tmp_path, "nmap", reference, input_dict(reference))
        done = kat(
            tmp_path, os.environ["PATH"], "run", "boefje", "--job", str(job),
            BOEFJE_PORTS=str(server.port), BOEFJE_TIMEOUT="60",
        )  # fmt: skip
    finally:
        server.close()
    assert f"boefje job {JOB_ID}: completed" in done.stdout, done.stdout + done.stderr
    assert "normalizer kat_nmap_normalize job" in done.stdout
    assert "objects: 3" in done.stdout  # IPPort, Service http, IPService


def test_ssl_version_in_the_sandbox_finds_old_tls(tmp_path, cert_chain):
    server = tls_server(cert_chain, "weak")
    try:
        reference = f"IPService|internet|127.0.0.1|tcp|{server.port}|https"
        job = boefje_job(tmp_path, "ssl-version", reference, input_dict(reference))
        done = kat(tmp_path, os.environ["PATH"], "run", "boefje", "--job", str(job),
                   BOEFJE_TIMEOUT="10")  # fmt: skip
    finally:
        server.close()
    assert f"boefje job {JOB_ID}: completed" in done.stdout, done.stdout + done.stderr
    assert "normalizer kat_ssl_scan_normalize job" in done.stdout
    assert "objects: 2" in done.stdout  # KATFindingType + Finding
