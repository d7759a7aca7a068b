"""Deduplication: the same boefje run (boefje, runnable, input, settings) within the
grace period runs once, even for two organisations; the reuse is recorded on the job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kat import config
from kat.catalogue import Catalogue
from kat.scheduling.dedup import REUSED_KEY, run_key
from kat.store import open_store
from tests.database import store_url

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

COUNTER = """
import os

def run(boefje_meta):
    with open(os.environ["COUNT_FILE"], "a") as f:
        f.write("run\\n")
    return [({"text/plain"}, "seen " + boefje_meta["arguments"]["input"]["name"])]
"""


@pytest.fixture
def system(tmp_path):
    plugins = tmp_path / "plugins" / "counter"
    plugins.mkdir(parents=True)
    (plugins / "boefje.json").write_text(
        json.dumps({"id": "counter", "consumes": ["Hostname"], "scan_level": 1, "enabled": True})
    )
    (plugins / "schema.json").write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"COUNT_FILE": {"type": "string"}, "MODE": {"type": "string"}},
            }
        )
    )
    (plugins / "main.py").write_text(COUNTER)
    env = {
        "KAT_PLUGINS_DIR": str(tmp_path / "plugins"),
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "KAT_GRACE_PERIOD": "3600",
    }
    catalogue = Catalogue.from_settings(config.load(env))
    # Jobs run as nobody under root: the counter lives where the job user can write.
    shared = Path(tempfile.mkdtemp(prefix="kat-test-jobs-"))
    shared.chmod(0o777)
    count = shared / "count.txt"
    for org in ("acme", "beta", "other"):
        catalogue.create_organisation(org)
        catalogue.put_setting(org, "counter", "COUNT_FILE", str(count))
    return env, count, tmp_path


SCHEDULED = {"arguments": {"schedule": {"level": 2}}}  # as the scheduler sends them


def _run(system, org: str, job_id: str, arguments=SCHEDULED, **extra) -> dict:
    env, _count, tmp_path = system
    path = tmp_path / f"{job_id}.json"
    path.write_text(
        json.dumps({
            "id": job_id, "boefje": {"id": "counter"}, "organization": org,
            "input_ooi": "Hostname|internet|example.com", **arguments,
        })
    )  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "kat", "run", "--job", str(path), "boefje"],
        env={**os.environ, **env, **extra}, cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    store = open_store(env["KAT_DATABASE_URL"])
    try:
        job = store.get_job(job_id)
        raws = [store.get_raw(r.id).data for r in store.raws_for(job_id)]
    finally:
        store.close()
    assert job.status == "completed"
    return {"meta": job.meta, "raws": raws, "org": job.organization}


def test_two_organisations_same_input_and_settings_run_once(system):
    _env, count, _tmp = system
    first = _run(system, "acme", "11111111-1111-4111-8111-111111111111")
    second = _run(system, "beta", "22222222-2222-4222-8222-222222222222")
    assert count.read_text() == "run\n"  # the boefje ran once
    assert REUSED_KEY not in first["meta"]
    assert second["meta"][REUSED_KEY] == "11111111-1111-4111-8111-111111111111"
    assert second["raws"] == first["raws"] == [b"seen example.com"]
    assert second["org"] == "beta"  # beta's own raws, for beta's normalizers


def test_other_settings_or_an_expired_grace_period_run_again(system):
    env, count, tmp = system
    _run(system, "acme", "33333333-3333-4333-8333-333333333333")
    catalogue = Catalogue.from_settings(config.load(env))
    catalogue.put_setting("other", "counter", "NOT_IN_SCHEMA", "x")  # not received: same run
    _run(system, "other", "66666666-6666-4666-8666-666666666666")
    assert count.read_text() == "run\n"
    catalogue.put_setting("other", "counter", "MODE", "fast")  # one more setting received
    _run(system, "other", "44444444-4444-4444-8444-444444444444")
    assert count.read_text() == "run\n" * 2
    _run(system, "acme", "55555555-5555-4555-8555-555555555555", KAT_GRACE_PERIOD="0")
    assert count.read_text() == "run\n" * 3


def test_the_key_hides_setting_values():
    key = run_key("counter", "abc", "Hostname|internet|x", {"API_KEY": "s3cret"})
    assert "s3cret" not in key and len(key) == 64
    assert key != run_key("counter", "abc", "Hostname|internet|x", {"API_KEY": "other"})


def test_a_job_a_person_asked_for_always_runs(system):
    _env, count, _tmp = system
    _run(system, "acme", "77777777-7777-4777-8777-777777777777")
    manual = _run(system, "beta", "88888888-8888-4888-8888-888888888888", arguments={})
    assert count.read_text() == "run\n" * 2
    assert REUSED_KEY not in manual["meta"]
