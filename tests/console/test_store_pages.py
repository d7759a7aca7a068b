"""The console's store pages: tasks (filters, pages), a task, its raw, objects with their
references and findings, and the health page."""

from __future__ import annotations

import uuid
from pathlib import Path

from kat.config import load
from kat.jobs import JobStatus
from kat.ooi import parse_reference
from kat.store import Store, open_store


def _job(store: Store, org="acme", plugin="port-scan", ooi="IPAddressV4|internet|127.0.0.1"):
    job_id = str(uuid.uuid4())
    store.add_job(job_id, "boefje", org, plugin, {"id": job_id}, input_ooi=ooi)
    return job_id


def test_tasks_are_paginated_and_filtered(operator, env):
    store = open_store(load(env).database_url)
    for _ in range(120):
        _job(store)
    failed = _job(store, plugin="service_banner")
    store.begin_job(failed, "test:1", False)
    store.end_job(failed, JobStatus.FAILED, "timeout", "line 1\nthe last line")
    _job(store, org="other")
    first = operator.get("/console/o/acme/tasks")
    assert first.status_code == 200
    assert first.text.count("/console/tasks/") == 50
    assert "page 1 of 3 (121 in all)" in first.text
    last = operator.get("/console/o/acme/tasks?page=3")
    assert last.text.count("/console/tasks/") == 21 and 'rel="next"' not in last.text
    only = operator.get("/console/o/acme/tasks?status=failed&reason=timeout")
    assert only.text.count("/console/tasks/") == 1 and failed in only.text
    by_plugin = operator.get("/console/o/acme/tasks?plugin=service_banner")
    assert by_plugin.text.count("/console/tasks/") == 1
    detail = operator.get(f"/console/tasks/{failed}")
    assert "failed (timeout)" in detail.text and "the last line" in detail.text
    assert "Retry task" in detail.text and "Cancel task" not in detail.text  # it has ended
    assert operator.get(f"/console/tasks/{uuid.uuid4()}").status_code == 404


def test_a_task_its_raw_and_an_object_with_references_both_ways(operator, env):
    store = open_store(load(env).database_url)
    boefje = _job(store)
    store.begin_job(boefje, "test:1", False)
    blob = b"<nmaprun>\x00\x01 open</nmaprun>"
    (raw_id,) = store.replace_raws(boefje, "acme", [(["boefje/port-scan"], blob)])
    store.end_job(boefje, JobStatus.COMPLETED)
    normalizer = str(uuid.uuid4())
    store.add_job(normalizer, "normalizer", "acme", "kat_nmap_normalize", {}, raw_id=raw_id)
    port = parse_reference("IPPort|internet|127.0.0.1|tcp|22").serialize()
    finding_type = {"object_type": "KATFindingType", "primary_key": "KATFindingType|KAT-OPEN",
                    "id": "KAT-OPEN", "risk_severity": "high"}  # fmt: skip
    finding = {"object_type": "Finding", "primary_key": f"Finding|{port['primary_key']}|KAT-OPEN",
               "finding_type": "KATFindingType|KAT-OPEN", "ooi": port["primary_key"],
               "description": "port 22 is open"}  # fmt: skip
    store.replace_objects(normalizer, "acme", [port, finding_type, finding])
    task = operator.get(f"/console/tasks/{boefje}")
    assert f"/console/raws/{raw_id}" in task.text and "kat_nmap_normalize" in task.text
    text = operator.get(f"/console/raws/{raw_id}")
    assert "&lt;nmaprun&gt;" in text.text
    hexed = operator.get(f"/console/raws/{raw_id}?view=hex")
    assert "00000000  3c 6e 6d 61 70" in hexed.text
    download = operator.get(f"/console/raws/{raw_id}/download")
    assert download.content == blob
    assert "attachment" in download.headers["content-disposition"]
    made = operator.get(f"/console/tasks/{normalizer}")
    assert "IPPort|internet|127.0.0.1|tcp|22" in made.text
    obj = operator.get("/console/o/acme/object?ref=IPPort%7Cinternet%7C127.0.0.1%7Ctcp%7C22")
    assert obj.status_code == 200
    assert "object?ref=IPAddressV4%7Cinternet%7C127.0.0.1" in obj.text  # refers to
    assert "High (1)" in obj.text and "port 22 is open" in obj.text  # findings by severity
    assert f"/console/tasks/{normalizer}" in obj.text  # the job that found it
    address = operator.get("/console/o/acme/object?ref=IPAddressV4%7Cinternet%7C127.0.0.1")
    assert address.status_code == 200 and "No task stored this object" in address.text
    assert "object?ref=IPPort%7Cinternet%7C127.0.0.1%7Ctcp%7C22" in address.text  # referred by
    nothing = operator.get("/console/o/acme/object?ref=IPAddressV4%7Cinternet%7C10.9.9.9")
    assert nothing.status_code == 404
    listing = operator.get("/console/o/acme/objects?type=IPPort")
    assert listing.text.count("object?ref=") == 1


def test_health_names_a_broken_catalogue_file_with_its_line(operator, env):
    broken = Path(env["KAT_CATALOGUE_DIR"]) / "organisations" / "broken.yaml"
    broken.write_text("id: broken\nname: [unclosed\n")
    page = operator.get("/console/health")
    assert page.status_code == 200
    assert f"{broken}:3</code>: invalid YAML" in page.text
    assert "Messages waiting" in page.text


def test_a_scan_with_rabbitmq_unreachable_says_where_and_leaves_no_job_queued(
    operator, env, monkeypatch
):
    import socket

    from kat.console import broker

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    monkeypatch.setattr(  # the console's sender, pointed at the closed port
        broker, "boefje_sender",
        _sender_to(broker.boefje_sender, f"amqp://guest:secret@127.0.0.1:{closed}/%2F"),
    )  # fmt: skip
    operator.post("/console/o/acme/plugins/port-scan/state", {"enabled": "true"})
    page = operator.post("/console/o/acme/scans", {"inputs": "127.0.0.1", "depth": "1"})
    assert page.status_code == 503
    assert f"cannot reach RabbitMQ at 127.0.0.1:{closed}" in page.text
    assert "secret" not in page.text
    store = open_store(load(env).database_url)
    assert store.list_jobs(org="acme") == []
    depths = broker.queue_depths(
        load({**env, "KAT_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{closed}/%2F"})
    )
    assert all("unreachable" in str(v) for v in depths.values())


def _sender_to(original, url: str):
    from dataclasses import replace

    return lambda settings, db: original(replace(settings, broker_url=url), db)


def test_a_scan_form_with_a_bad_input_is_shown_again_with_the_error(operator):
    operator.post("/console/o/acme/plugins/port-scan/state", {"enabled": "true"})
    page = operator.post("/console/o/acme/scans", {"inputs": "Nope|x|y", "depth": "1"})
    assert page.status_code == 422 and "Nope|x|y" in page.text
    nothing = operator.post("/console/o/acme/scans", {"inputs": "127.0.0.1", "depth": "99"})
    assert nothing.status_code == 422 and "depth is 1 to 10" in nothing.text
