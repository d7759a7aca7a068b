"""Prometheus: a worker's Dramatiq and kat job metrics on KAT_METRICS_PORT; the
KATalogus's request metrics at /metrics."""

from __future__ import annotations

import socket
import time

import falcon.testing
import httpx
import pytest

from kat import config
from kat.katalogus.app import create_app

#: Starts real processes (workers on RabbitMQ, or kat commands that fork jobs).
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int, wanted: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        except httpx.HTTPError:
            text = ""
        if wanted in text:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{wanted!r} not in metrics:\n{text}")


@pytest.mark.timeout(120)
def test_worker_metrics_count_jobs_by_plugin_status_and_reason(system):
    system.catalogue.set_enabled("acme", "crash", True)
    boefjes, normalizers = _free_port(), _free_port()
    system.start_workers(kinds=("boefje",), KAT_METRICS_PORT=str(boefjes))
    system.start_workers(kinds=("normalizer",), KAT_METRICS_PORT=str(normalizers))
    done = system.kat("scan", "--org", "acme", "--wait", "Hostname|internet|example.test")
    assert done.returncode == 1  # crash failed

    text = _scrape(boefjes, 'kat_jobs_total{plugin="crash",status="failed",type="boefje"} 1.0')
    assert 'kat_jobs_total{plugin="chain",status="completed",type="boefje"} 1.0' in text
    assert 'kat_job_failures_total{plugin="crash",reason="crashed",type="boefje"} 1.0' in text
    assert 'kat_job_duration_seconds_count{plugin="chain",type="boefje"} 1.0' in text
    assert "dramatiq_messages_total{" in text  # Dramatiq's own
    text = _scrape(
        normalizers,
        'kat_jobs_total{plugin="chain_normalize",status="completed",type="normalizer"} 1.0',
    )


def test_katalogus_metrics_count_requests_by_route_template(tmp_path):
    settings = config.load({"KAT_CATALOGUE_DIR": str(tmp_path), "KATALOGUS_API_TOKEN": "t"})
    client = falcon.testing.TestClient(create_app(settings))
    auth = {"Authorization": "Bearer t"}
    client.simulate_post("/v1/organisations", json={"id": "a1", "name": "A"}, headers=auth)
    client.simulate_get("/v1/organisations/a1", headers=auth)
    client.simulate_get("/v1/organisations/zz", headers=auth)
    client.simulate_get("/v1/organisations")  # no token: 401
    metrics = client.simulate_get("/metrics")  # open, like /health
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for line in (
        'katalogus_requests_total{method="POST",route="/v1/organisations",status="201"} 1.0',
        'katalogus_requests_total{method="GET",route="/v1/organisations/{org}",status="200"} 1.0',
        'katalogus_requests_total{method="GET",route="/v1/organisations/{org}",status="404"} 1.0',
        'katalogus_requests_total{method="GET",route="/v1/organisations",status="401"} 1.0',
        'katalogus_request_duration_seconds_count{method="GET",route="/v1/organisations/{org}"}'
        " 2.0",
    ):
        assert line in text
    assert "a1" not in text and "zz" not in text  # ids never become labels
