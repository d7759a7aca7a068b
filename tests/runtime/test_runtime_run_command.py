"""`kat run --job FILE boefje|normalizer`: the same sandbox and store, no broker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from runtime_harness import ROOT, TOKEN, job_meta

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def kat_run(runtime, tmp_path, kind: str, job, **env) -> subprocess.CompletedProcess:
    path = tmp_path / "job.json"
    path.write_text(job if isinstance(job, str) else json.dumps(job))
    environ = {k: v for k, v in {**os.environ, **runtime.env, **env}.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "kat", "run", "--job", str(path), kind],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_boefje_then_normalizer_inline_ends_with_objects(runtime, tmp_path):
    done = kat_run(runtime, tmp_path, "boefje", job_meta("noop", ref="Hostname|internet|run.test"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("boefje job ") and lines[0].endswith(": completed")
    assert lines[1].startswith("  raw ids: ")
    assert "normalizer hostname-normalizer job" in done.stdout and "objects: 2" in done.stdout
    job_id = lines[0].split()[2].rstrip(":")
    assert runtime.store.get_job(job_id).status == "completed"
    keys = {o.primary_key for o in runtime.store.objects(org="acme", object_type="Hostname")}
    assert {"Hostname|internet|run.test", "Hostname|internet|www.run.test"} <= keys


def test_a_normalizer_job_file_on_a_stored_raw(runtime, tmp_path):
    first = kat_run(runtime, tmp_path, "boefje", job_meta("noop", ref="Hostname|internet|a.test"))
    raw_id = first.stdout.splitlines()[1].split(": ")[1]
    job = {
        "normalizer": {"id": "hostname-normalizer"},
        "raw_data": {
            "id": raw_id,
            "boefje_meta": job_meta("noop", ref="Hostname|internet|a.test"),
        },
    }
    done = kat_run(runtime, tmp_path, "normalizer", job)
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout and "objects: 2" in done.stdout


def test_a_normalizer_job_file_with_the_raw_inline(runtime, tmp_path):
    job = {
        "normalizer": {"id": "hostname-normalizer"},
        "raw_data": {
            "raw": "inline.test",
            "mime_types": [{"value": "boefje/noop"}],
            "boefje_meta": job_meta("noop", ref="Hostname|internet|inline.test"),
        },
    }
    done = kat_run(runtime, tmp_path, "normalizer", job)
    assert done.returncode == 0, done.stderr
    keys = {o.primary_key for o in runtime.store.objects(org="acme", object_type="Hostname")}
    assert "Hostname|internet|www.inline.test" in keys


def test_a_failing_job_exits_1_and_says_why(runtime, tmp_path):
    done = kat_run(runtime, tmp_path, "boefje", job_meta("raiser"))
    assert done.returncode == 1
    assert "failed (crashed)" in done.stdout
    assert "the raiser boefje always fails" in done.stdout


def test_a_sealed_setting_without_the_private_key_fails_as_invalid_settings(runtime, tmp_path):
    done = kat_run(runtime, tmp_path, "boefje", job_meta("env-dump"), KATALOGUS_PRIVATE_KEY=None)
    assert done.returncode == 1
    assert "failed (invalid-settings)" in done.stdout
    assert "KATALOGUS_PRIVATE_KEY" in done.stdout
    assert TOKEN not in done.stdout + done.stderr


def test_encryption_without_keys_is_a_usage_error_not_a_traceback(runtime, tmp_path):
    done = kat_run(
        runtime, tmp_path, "boefje", job_meta("noop"),
        KATALOGUS_PRIVATE_KEY=None, KATALOGUS_PUBLIC_KEY=None,
    )  # fmt: skip
    assert done.returncode == 2
    assert "KATALOGUS_PUBLIC_KEY" in done.stderr and "Traceback" not in done.stderr


def test_a_failed_job_prints_its_reason_not_the_plugins_output(runtime, tmp_path):
    secret = "topsecret-from-the-environment"
    done = kat_run(runtime, tmp_path, "boefje", job_meta("loud-raiser"), BOEFJE_API_TOKEN=secret)
    assert done.returncode == 1
    assert "detail: ValueError: loud-raiser gives up" in done.stdout
    assert secret not in done.stdout + done.stderr
    job_id = done.stdout.split()[2].rstrip(":")
    job = runtime.store.get_job(job_id)
    # The output tail is kept for debugging, with the job's settings blanked out.
    assert "token is ***" in job.detail and secret not in job.detail
    (raw,) = runtime.store.raws_for(job_id)
    assert secret.encode() not in runtime.store.get_raw(raw.id).data


@pytest.mark.parametrize(
    ("job", "message"),
    [
        ({"boefje": {"id": "noop"}, "input_ooi": "Hostname|internet|x"}, "organization: missing"),
        ({"boefje": {"id": 7}, "organization": "acme"}, "boefje.id: expected str, got int"),
        ({"boefje": "noop", "organization": "../etc"}, "organization: '../etc' is not a valid id"),
        ({"boefje": "noop", "organization": "acme", "id": "x"}, "id: 'x' is not a UUID"),
        (job_meta("noop", ref="Nope|x|y"), "input_ooi: reference 'Nope|x|y': unknown object type"),
        ('{"boefje": ', "invalid JSON"),
        ([], "job: expected a JSON object, got list"),
    ],
)
def test_a_malformed_job_file_exits_2_naming_the_field(runtime, tmp_path, job, message):
    done = kat_run(runtime, tmp_path, "boefje", job)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_malformed_normalizer_job_names_the_nested_field(runtime, tmp_path):
    job = {"normalizer": "hostname-normalizer", "raw_data": {"id": "r", "boefje_meta": {}}}
    done = kat_run(runtime, tmp_path, "normalizer", job)
    assert done.returncode == 2
    assert "raw_data.boefje_meta.boefje: missing" in done.stderr


def test_settings_read_from_a_remote_katalogus(runtime, tmp_path):
    """A worker without the catalogue files or the private key reads decrypted settings
    from a real KATalogus (gunicorn) over ``KATALOGUS_API``."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "kat.katalogus.app:get_app()"],
        env={**os.environ, **runtime.env, "KATALOGUS_BIND": f"127.0.0.1:{port}",
             "WEB_CONCURRENCY": "1", "KATALOGUS_API_TOKEN": "t0ken"},
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no KATalogus"
                time.sleep(0.1)
        (tmp_path / "empty").mkdir()
        done = kat_run(
            runtime, tmp_path, "boefje", job_meta("env-dump"),
            KATALOGUS_API=url, KATALOGUS_API_TOKEN="t0ken",
            KAT_CATALOGUE_DIR=str(tmp_path / "empty"), KATALOGUS_PRIVATE_KEY=None,
            BYTES_ENCRYPTION_MIDDLEWARE=None, KATALOGUS_PUBLIC_KEY=None,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        raw_id = done.stdout.splitlines()[1].split(": ")[1]
        environ = json.loads(runtime.store.get_raw(raw_id).data)
        assert environ["API_TOKEN"] == TOKEN
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_ctrl_c_fails_the_job_instead_of_leaving_it_running(runtime, tmp_path):
    """No message will ever bring a `kat run` job back: once the command stops, the
    job is failed (and its child killed), not `running` forever."""
    job = {**job_meta("slow"), "id": "0b5e0d6e-4c1a-4d2e-9a49-6c0e5a8f5a10"}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    proc = subprocess.Popen(
        [sys.executable, "-m", "kat", "run", "--job", str(path), "boefje"],
        env={**os.environ, **runtime.env, "BOEFJE_SLEEP": "30"},
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while getattr(runtime.store.get_job(job["id"]), "status", None) != "running":
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(0.5)  # the child is running the plugin
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    done = runtime.store.get_job(job["id"]).to_dict()
    assert (done["status"], done["reason"]) == ("failed", "killed")
    assert "interrupted" in done["detail"]


def test_a_normalizer_job_cannot_read_another_organisations_raw(runtime, tmp_path):
    """A raw of acme's, named in a job of another organisation, is not read: its
    objects would land in that organisation."""
    first = kat_run(runtime, tmp_path, "boefje", job_meta("noop", ref="Hostname|internet|x.test"))
    raw_id = first.stdout.splitlines()[1].split(": ")[1]
    job = {
        "normalizer": {"id": "hostname-normalizer"},
        "raw_data": {"id": raw_id, "boefje_meta": job_meta("noop", org="bare")},
    }
    done = kat_run(runtime, tmp_path, "normalizer", job)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "failed" in done.stdout and "not a raw of organisation 'bare'" in done.stdout
    assert runtime.store.objects(org="bare") == []
