"""A plugin SIGSTOPs its job helper: the worker service keeps serving.

As another user (the default under root) the signal is refused. A plugin that may
signal its helper (``KAT_JOB_USER=root``) stops it; the helper then does not answer
in time, is killed and replaced, and jobs run again within a minute.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from hostile_harness import make_system

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def _attack(system, service, handoff) -> tuple[dict, float]:
    system.catalogue.put_setting("alpha", "stop-helper", "FLAG", str(handoff / "attacked"))
    started = time.monotonic()
    attack = system.boefje("alpha", "stop-helper")
    deadline = time.monotonic() + 30
    while not (handoff / "attacked").exists():  # the attack has been made
        assert time.monotonic() < deadline, system.store.get_job(attack)
        time.sleep(0.05)
    system.ordinary_job_completes(service, timeout=60)
    return system.wait(attack, timeout=120), time.monotonic() - started


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: jobs run as another user only then")
def test_a_plugin_cannot_stop_its_job_helper(hostile, service, handoff):
    attack, _seconds = _attack(hostile, service, handoff)
    assert attack["status"] == "completed", attack
    _target, result = json.loads(hostile.raw(attack))
    assert result == "PermissionError"


def test_a_stopped_job_helper_is_replaced_within_a_minute(tmp_path, handoff):
    system = make_system(tmp_path, KAT_JOB_USER="root" if os.geteuid() == 0 else "")
    try:
        service = system.start(tmp_path / "service.log")
        attack, seconds = _attack(system, service, handoff)
        assert seconds < 60
        # Its first attempt stopped the helper and was retried on a new one.
        assert attack["status"] == "completed", attack
        assert json.loads(system.raw(attack)) == [None, "again"]
    finally:
        system.stop()
