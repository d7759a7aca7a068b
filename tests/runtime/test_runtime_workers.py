"""Jobs through the real RabbitMQ and a real ``dramatiq kat.actors`` worker process.

One worker process serves the whole module: every misbehaving plugin below costs its
own job only, and the same process runs an ordinary job to completion at the end.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from runtime_harness import TOKEN, Workers

from kat.runtime.runner import SYSTEM_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REF = "Hostname|internet|example.com"


@pytest.fixture(scope="module")
def worker(runtime, tmp_path_factory):
    workers = Workers(runtime, tmp_path_factory.mktemp("logs") / "worker.log")
    yield workers
    workers.stop()


@pytest.fixture(scope="module")
def outcomes(runtime, worker):
    """Every misbehaving boefje at once (4 threads, so they overlap), then their ends."""
    plugins = ["sleeper", "hog", "suicide", "segfault", "raiser", "forker", "chatty"]
    ids = {p: runtime.actors.enqueue_boefje("acme", p, REF) for p in plugins}
    return {p: runtime.wait(job_id, timeout=60) for p, job_id in ids.items()}


def _seconds(job, start="started_at", end="ended_at") -> float:
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


def _raw_text(runtime, job) -> str:
    (raw,) = runtime.store.raws_for(job["id"])
    return runtime.store.get_raw(raw.id).data.decode()


def test_past_its_timeout_a_job_is_killed_promptly(outcomes):
    job = outcomes["sleeper"]
    assert (job["status"], job["reason"]) == ("failed", "timeout")
    assert 1.0 <= _seconds(job) < 1.5  # limit 1 s (manifest), killed within 0.5 s of it


def test_allocating_past_the_memory_limit_fails_as_memory(outcomes):
    job = outcomes["hog"]
    assert (job["status"], job["reason"]) == ("failed", "memory")


def test_sigkill_and_segfault_fail_as_killed(outcomes):
    assert (outcomes["suicide"]["status"], outcomes["suicide"]["reason"]) == ("failed", "killed")
    assert (outcomes["segfault"]["status"], outcomes["segfault"]["reason"]) == ("failed", "killed")
    assert "SIGSEGV" in outcomes["segfault"]["detail"]


def test_an_exception_is_crashed_with_the_traceback_stored_as_error_raw(runtime, outcomes):
    job = outcomes["raiser"]
    assert (job["status"], job["reason"]) == ("failed", "crashed")
    (raw,) = runtime.store.raws_for(job["id"])
    assert "error/boefje" in raw.mime_types
    text = runtime.store.get_raw(raw.id).data.decode()
    assert "Traceback" in text and "the raiser boefje always fails" in text


def test_a_grandchild_does_not_outlive_its_job(runtime, outcomes):
    job = outcomes["forker"]
    assert job["status"] == "completed"
    pid = int(_raw_text(runtime, job))
    # Killed with the job's process group, and reaped by the job helper (a subreaper),
    # so not even a zombie is left.
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    else:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        raise AssertionError(f"grandchild {pid} still there (state {state})")


def test_50_mb_on_stdout_does_not_hang(outcomes):
    assert outcomes["chatty"]["status"] == "completed"


def test_after_all_of_them_the_same_worker_runs_an_ordinary_job(runtime, worker, outcomes):
    (pid,) = worker.worker_pids()
    assert {job["worker"].split(":")[1] for job in outcomes.values()} == {str(pid)}
    job = runtime.wait(runtime.actors.enqueue_boefje("acme", "noop", REF))
    assert job["status"] == "completed"
    assert job["worker"].endswith(f":{pid}")
    assert worker.worker_pids() == [pid]


def test_only_schema_settings_reach_the_boefje_and_sealed_ones_decrypted(runtime, worker):
    stored = (runtime.settings.catalogue_dir / "organisations" / "acme.yaml").read_text()
    assert TOKEN not in stored  # sealed at rest
    job = runtime.wait(runtime.actors.enqueue_boefje("acme", "env-dump", REF))
    assert job["status"] == "completed", job["detail"]
    environ = json.loads(_raw_text(runtime, job))
    # BOEFJE_GREETING -> GREETING (in the schema); the catalogue's settings, decrypted.
    # Its settings, and kat's pointer to the system's CA bundle: no host variable.
    assert environ.pop("SSL_CERT_FILE", None) == SYSTEM_ENV.get("SSL_CERT_FILE")
    assert environ == {"GREETING": "hello", "API_TOKEN": TOKEN, "RETRIES": "3"}
    assert TOKEN not in json.dumps(job["meta"])  # the stored meta keeps names, not values
    assert TOKEN not in worker.log.read_text()


def test_a_missing_required_setting_fails_without_running(runtime, worker):
    job = runtime.wait(runtime.actors.enqueue_boefje("bare", "env-dump", REF))
    assert (job["status"], job["reason"]) == ("failed", "invalid-settings")
    assert "API_TOKEN" in job["detail"]
    assert job["meta"]["started_at"] is None  # no child was forked
    assert runtime.store.raws_for(job["id"]) == []


def test_unknown_and_disabled_plugins_fail_with_their_reason(runtime, worker):
    unknown = runtime.wait(runtime.actors.enqueue_boefje("acme", "no-such-boefje", REF))
    disabled = runtime.wait(runtime.actors.enqueue_boefje("off", "noop", REF))
    assert (unknown["status"], unknown["reason"]) == ("failed", "unknown-plugin")
    assert (disabled["status"], disabled["reason"]) == ("failed", "disabled")


def test_boefje_to_normalizer_chain_ends_with_objects(runtime, worker):
    job = runtime.wait(runtime.actors.enqueue_boefje("acme", "noop", "Hostname|internet|kat.test"))
    assert job["status"] == "completed"
    (raw,) = runtime.store.raws_for(job["id"])
    assert set(raw.mime_types) == {"text/plain", "boefje/noop"}
    normalizers = [
        j.to_dict() for j in runtime.store.list_jobs(job_type="normalizer") if j.raw_id == raw.id
    ]
    assert [j["plugin_id"] for j in normalizers] == ["hostname-normalizer"]
    # The raw went along in the normalizer job's message; the record keeps its id only.
    assert "content" not in runtime.store.get_job(normalizers[0]["id"]).meta["raw_data"]
    done = runtime.wait(normalizers[0]["id"])
    assert done["status"] == "completed"
    keys = sorted(o.primary_key for o in runtime.store.objects_for(done["id"]))
    assert keys == ["Hostname|internet|kat.test", "Hostname|internet|www.kat.test"]
    linked = {
        o.primary_key
        for o in runtime.store.objects(org="acme", object_type="Hostname")
        if o.job_id == done["id"]
    }
    assert linked == set(keys)


def test_a_normalizer_job_runs_on_the_raw_its_message_carries(runtime, worker):
    """A carried raw is not read back from the store (this id is in none), and the
    stored job keeps no copy of it."""
    job = {
        "id": str(uuid.uuid4()),
        "normalizer": {"id": "hostname-normalizer"},
        "raw_data": {
            "id": str(uuid.uuid4()),
            "boefje_meta": {"id": str(uuid.uuid4()), "boefje": {"id": "noop"},
                            "organization": "acme", "input_ooi": "Hostname|internet|c.test"},
            "mime_types": [{"value": "text/plain"}],
            "content": base64.b64encode(b"carried.test").decode(),
        },
    }  # fmt: skip
    runtime.actors.normalizer.send(job)
    done = runtime.wait(job["id"])
    assert done["status"] == "completed", done
    keys = sorted(o.primary_key for o in runtime.store.objects_for(job["id"]))
    assert keys == ["Hostname|internet|c.test", "Hostname|internet|www.carried.test"]
    assert "content" not in done["meta"]["raw_data"]
    job["id"] = str(uuid.uuid4())
    job["raw_data"]["content"] = "!"
    runtime.actors.normalizer.send(job)
    bad = runtime.wait(job["id"])
    assert (bad["status"], bad["reason"], bad["attempts"]) == ("failed", "crashed", 1)
    assert "malformed job: raw_data.content: not base64" in bad["detail"]
    assert "content" not in bad["meta"]["raw_data"]


def test_a_boefje_message_that_comes_back_sends_the_jobs_its_ended_run_left_unsent(runtime, worker):
    """A worker that dies after storing a boefje job's end (with its raws and their
    normalizer jobs) but before sending those jobs: when RabbitMQ delivers the boefje
    message again, it finds the job ended, and the jobs that never began are sent; the
    boefje does not run again."""
    done = runtime.wait(runtime.actors.enqueue_boefje("acme", "noop", REF))
    (raw,) = runtime.store.raws_for(done["id"])
    (ran,) = runtime.store.jobs_reading([raw.id])
    assert runtime.wait(ran.id)["status"] == "completed"
    left = {  # what the dead worker recorded with the end and never sent
        "id": str(uuid.uuid4()),
        "normalizer": {"id": "hostname-normalizer"},
        "raw_data": {"id": raw.id, "boefje_meta": done["meta"], "mime_types": raw.mime_types},
    }
    runtime.store.add_job(left["id"], "normalizer", "acme", "hostname-normalizer", left,
                          raw_id=raw.id)  # fmt: skip
    runtime.actors.boefje.send(done["meta"])  # the boefje message, delivered again
    resent = runtime.wait(left["id"])
    assert (resent["status"], resent["attempts"]) == ("completed", 1), resent
    assert {o.primary_key for o in runtime.store.objects_for(left["id"])} == {
        o.primary_key for o in runtime.store.objects_for(ran.id)
    }
    again = runtime.store.get_job(done["id"])
    assert (again.status, again.attempts, again.ended_at) == (
        "completed", 1, done["ended_at"]
    )  # fmt: skip
    assert runtime.wait(ran.id)["attempts"] == 1  # a job that had begun is not sent again


def test_a_normalizer_yielding_non_oois_fails_as_bad_output(runtime, worker):
    job = runtime.wait(runtime.actors.enqueue_boefje("acme", "noop", REF))
    (raw,) = runtime.store.raws_for(job["id"])
    bad = runtime.wait(runtime.actors.enqueue_normalizer("acme", "bad-normalizer", raw.id))
    assert (bad["status"], bad["reason"]) == ("failed", "bad-output")
    assert "not an OOI" in bad["detail"]


def test_a_malformed_message_fails_at_once_without_retries(runtime, worker):
    job = {
        "id": str(uuid.uuid4()),
        "boefje": {"id": "noop"},
        "organization": "acme",
        "input_ooi": "Nope|x|y",  # enqueue_boefje refuses this; a hand-made message may not
    }
    runtime.actors.boefje.send(job)
    done = runtime.wait(job["id"])
    assert (done["status"], done["reason"], done["attempts"]) == ("failed", "crashed", 1)
    assert "malformed job: input_ooi" in done["detail"]


def test_a_message_missing_its_organisation_fails_at_once_naming_it(runtime, worker):
    job = {"id": str(uuid.uuid4()), "boefje": {"id": "noop"}, "input_ooi": REF}
    runtime.actors.boefje.send(job)
    done = runtime.wait(job["id"], timeout=10)
    assert (done["status"], done["reason"], done["attempts"]) == ("failed", "crashed", 1)
    assert "malformed job: organization: missing" in done["detail"]


def test_a_message_in_the_job_file_shorthand_runs(runtime, worker):
    """``"boefje": "noop"`` is valid job JSON (kat run takes it); so is it as a message."""
    job = {"id": str(uuid.uuid4()), "boefje": "noop", "organization": "acme", "input_ooi": REF}
    runtime.actors.boefje.send(job)
    done = runtime.wait(job["id"], timeout=10)
    assert (done["status"], done["plugin_id"], done["attempts"]) == ("completed", "noop", 1)


def test_a_message_without_a_job_id_is_dropped_not_retried_or_run(runtime, worker):
    runtime.actors.boefje.send({"boefje": {"id": "noop"}, "organization": "acme",
                                "input_ooi": "Hostname|internet|no-id.test"})  # fmt: skip
    deadline = time.monotonic() + 10
    while "dropped a message without a job id" not in worker.log.read_text():
        assert time.monotonic() < deadline, worker.log.read_text()[-2000:]
        time.sleep(0.05)
    assert not [j for j in runtime.store.list_jobs(limit=10_000)
                if j.input_ooi == "Hostname|internet|no-id.test"]  # fmt: skip
    assert "Retrying" not in worker.log.read_text()


def test_a_message_whose_id_is_not_in_canonical_form_fails_instead_of_running_forever(
    runtime, worker
):
    """The store knows a job by its message's id; a result under the canonical form of
    it would never end that row."""
    ident = str(uuid.uuid4()).upper()
    runtime.actors.boefje.send({"id": ident, "boefje": {"id": "noop"}, "organization": "acme",
                                "input_ooi": REF})  # fmt: skip
    done = runtime.wait(ident, timeout=10)
    assert (done["status"], done["reason"]) == ("failed", "crashed")
    assert "not a UUID in canonical form" in done["detail"]
