"""HTTPStore's transport: retries on lost answers and 5xx without writing twice,
StoreError when the server stays away, a timeout on a server that never answers."""

from __future__ import annotations

import socket
import time

import pytest

from kat.jobs import JobStatus
from kat.store import Scan, StoreError
from kat.store import http as http_store
from kat.store.http import HTTPStore
from tests.dataapi.conftest import TOKEN, serve


class LoseAnswers:
    """A gateway in front of the app that lets the first ``count`` writes through to
    the server but answers 502 (as a proxy whose upstream connection broke would)."""

    def __init__(self, app, count: int) -> None:
        self.app, self.count, self.lost = app, count, []

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] in ("POST", "PUT") and len(self.lost) < self.count:
            self.lost.append(environ["PATH_INFO"])
            body = list(self.app(environ, lambda *a, **k: None))  # the write happens
            del body
            start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
            return [b"upstream went away"]
        return self.app(environ, start_response)


def _job(store, job_id="job-1"):
    store.add_job(job_id, "boefje", "org1", "dns-records", {"id": job_id})


def test_a_raw_upload_whose_answer_was_lost_is_stored_once(server_app):
    gateway = LoseAnswers(server_app, 0)
    with serve(gateway) as url:
        store = HTTPStore(url, TOKEN, timeout=5, backoff=(0.01, 0.01, 0.01))
        _job(store)
        gateway.count = 1
        ids = store.replace_raws("job-1", "org1", [(["text/plain"], b"one"), (["a/b"], b"two")])
        assert gateway.lost == ["/v1/data/jobs/job-1/raws"]  # the first answer was lost
        raws = store.raws_for("job-1")
        assert [r.id for r in raws] == ids  # the retry got the first attempt's ids
        assert [store.get_raw(i).data for i in ids] == [b"one", b"two"]


def test_a_claim_whose_answer_was_lost_still_gets_its_job(server_app):
    gateway = LoseAnswers(server_app, 0)
    with serve(gateway) as url:
        store = HTTPStore(url, TOKEN, timeout=5, backoff=(0.01, 0.01))
        store.add_scan(Scan("scan-1", "org1", ("Hostname|internet|a.example",)))
        gateway.count = 2  # the claim, then the end of its job
        pair = ("dns-records", "Hostname|internet|a.example")
        (job_id,) = store.claim_pairs("scan-1", 1, [pair])
        assert job_id is not None  # not "taken": the retry is answered, not made again
        assert store.claim_pairs("scan-1", 1, [pair]) == [None]
        store.add_job(job_id, "boefje", "org1", "dns-records", {"id": job_id})
        assert store.begin_job(job_id, "host:1", False) is not None
        assert store.end_job(job_id, JobStatus.COMPLETED) is True  # lost, retried: same answer
        assert store.get_job(job_id).status == JobStatus.COMPLETED
        assert store.get_job(job_id).attempts == 1


def test_a_server_that_stays_away_raises_store_error_after_the_retries():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    store = HTTPStore(f"http://127.0.0.1:{port}", TOKEN, timeout=2, backoff=(0.01, 0.02, 0.04))
    with pytest.raises(StoreError, match="gave up after retries"):
        store.get_job("x")


def test_a_server_that_never_answers_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections, never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        store = HTTPStore(url, TOKEN, timeout=0.3, backoff=(0.01,))
        started = time.monotonic()
        with pytest.raises(StoreError, match="timed out"):
            store.workers()
        assert time.monotonic() - started < 10


def test_a_wrong_token_is_a_store_error_at_once(server):
    store = HTTPStore(server, "not-the-token", backoff=(5.0,))  # 4xx is not retried
    started = time.monotonic()
    with pytest.raises(StoreError, match="HTTP 401"):
        store.organizations()
    assert time.monotonic() - started < 5


def test_bad_urls_are_refused():
    with pytest.raises(StoreError, match="KAT_DATA_API"):
        HTTPStore("ftp://x", TOKEN)


class CountCalls:
    """Passes every request on to the app, noting its method and path."""

    def __init__(self, app) -> None:
        self.app, self.calls = app, []

    def __call__(self, environ, start_response):
        self.calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return self.app(environ, start_response)


def test_a_job_sent_by_someone_else_is_recorded_and_begun_in_one_call(server_app):
    counter = CountCalls(server_app)
    with serve(counter) as url:
        store = HTTPStore(url, TOKEN, timeout=5)
        create = {"job_type": "boefje", "organization": "org1", "plugin_id": "dns-records",
                  "meta": {"id": "job-9"}, "input_ooi": "Hostname|internet|a.example"}  # fmt: skip
        job = store.begin_job("job-9", "host:1", False, create)
        assert counter.calls == ["POST /v1/data/jobs/job-9/begin"]
        assert job.status == JobStatus.RUNNING and job.attempts == 1
        assert (job.organization, job.plugin_id, job.input_ooi) == (
            "org1", "dns-records", "Hostname|internet|a.example")  # fmt: skip
        # Recorded already: begun again (a redelivery), the record is kept, not doubled.
        again = store.begin_job("job-9", "host:2", True, create)
        assert again.attempts == 2 and again.worker == "host:2"
        store.end_job("job-9", JobStatus.COMPLETED)
        assert store.begin_job("job-9", "host:3", False, create) is None  # ended: never again


def test_a_scan_is_read_once_per_store(server_app):
    counter = CountCalls(server_app)
    with serve(counter) as url:
        store = HTTPStore(url, TOKEN, timeout=5)
        store.add_scan(Scan("scan-7", "org1", ("Hostname|internet|a.example",), depth=3))
        assert store.get_scan("scan-7").depth == 3
        assert store.get_scan("scan-7").depth == 3
        assert store.get_scan("missing") is None
        assert store.get_scan("missing") is None  # an unknown scan is asked again
        reads = [c for c in counter.calls if c.startswith("GET")]
        assert reads == ["GET /v1/data/scans/scan-7"] + ["GET /v1/data/scans/missing"] * 2


def test_a_large_scan_goes_in_batches_and_keeps_its_order(server_app, monkeypatch):
    monkeypatch.setattr(http_store, "BATCH", 3)  # 7 pairs and 7 jobs: three requests each
    with serve(server_app) as url:
        store = HTTPStore(url, TOKEN, timeout=5, backoff=(0.01,))
        store.add_scan(Scan("scan-b", "org1", ("Hostname|internet|a.example",)))
        pairs = [("dns-records", f"Hostname|internet|{n}.example") for n in range(7)]
        taken = store.claim_pairs("scan-b", 1, pairs[:2])
        claimed = store.claim_pairs("scan-b", 1, pairs)
        assert claimed[:2] == [None, None] and all(claimed[2:])  # in the order asked
        jobs = [
            {"job_id": job_id, "job_type": "boefje", "organization": "org1",
             "plugin_id": "dns-records", "meta": {"id": job_id}, "input_ooi": pair[1]}
            for job_id, pair in zip(taken + claimed[2:], pairs, strict=True)
        ]  # fmt: skip
        assert store.add_jobs(jobs) == [True] * 7
        assert store.add_jobs(jobs[5:]) == [False, False]
        assert [store.get_job(j["job_id"]).input_ooi for j in jobs] == [p[1] for p in pairs]
        assert store.scan_progress("scan-b")["queued"] == 7
