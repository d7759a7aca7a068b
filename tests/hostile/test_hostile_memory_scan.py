"""A job reads its whole memory: it must find its own organisation's secrets only.

The job helper, from which every job is forked, used to keep earlier requests'
decrypted settings (and normalizer raws) in its heap, so a job of organisation beta
found alpha's sealed setting in its own memory, 4 runs out of 4.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

#: Runs for organisation alpha before beta scans.
ALPHA_RUNS = 4


def _report(hostile, job) -> dict:
    assert job["status"] == "completed", job
    return json.loads(hostile.raw(job))


def test_a_boefje_finds_no_other_organisations_setting_in_its_memory(hostile, service):
    alpha, beta = hostile.markers["alpha"], hostile.markers["beta"]
    for _ in range(ALPHA_RUNS):
        report = _report(hostile, hostile.wait(hostile.boefje("alpha", "memory-scan")))
        assert alpha in report["found"]  # the scan works: it sees its own setting
    for _ in range(2):
        report = _report(hostile, hostile.wait(hostile.boefje("beta", "memory-scan")))
        assert beta in report["found"]
        assert alpha not in report["found"], "alpha's sealed setting in beta's job"
    hostile.ordinary_job_completes(service)


def test_a_normalizer_finds_no_other_organisations_raw_in_its_memory(hostile, service):
    raws = {}
    for org in ("alpha", "beta"):
        job = hostile.wait(hostile.boefje(org, "memory-scan"))
        marker = _report(hostile, job)["raw_marker"]
        (raw,) = hostile.store.raws_for(job["id"])
        raws[org] = (raw.id, marker)
    alpha_raw, alpha_marker = raws["alpha"]
    beta_raw, beta_marker = raws["beta"]
    for _ in range(ALPHA_RUNS):
        job = hostile.wait(hostile.normalizer("alpha", "raw-scan", alpha_raw))
        assert job["status"] == "completed", job
    job = hostile.wait(hostile.normalizer("beta", "raw-scan", beta_raw))
    assert job["status"] == "completed", job
    found = {o.primary_key for o in hostile.store.objects_for(job["id"])}
    assert f"Hostname|internet|{beta_marker}.scan.test" in found  # its own raw: seen
    assert not [key for key in found if alpha_marker in key], "alpha's raw in beta's job"
    hostile.ordinary_job_completes(service)
