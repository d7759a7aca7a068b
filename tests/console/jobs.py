"""Jobs in a store as the console and API tests need them: a boefje job in a given state,
and a failed normalizer job on its raw file."""

from __future__ import annotations

import uuid

from kat.jobs import JobStatus


def boefje_job(store, status=None, org="acme", scan=None):
    """``scan``: the id of a scan the job counts in (at level 0)."""
    job_id = str(uuid.uuid4())
    meta = {"id": job_id, "organization": org, "boefje": {"id": "dns-records"},
            "input_ooi": "Hostname|internet|example.com", "arguments": {}}  # fmt: skip
    store.add_job(job_id, "boefje", org, "dns-records", meta,
                  input_ooi="Hostname|internet|example.com",
                  scan=(scan, 0) if scan else None)  # fmt: skip
    if status is not None:
        store.begin_job(job_id, "test:1", False)
        if status != JobStatus.RUNNING:
            store.end_job(job_id, status, "timeout" if status == JobStatus.FAILED else None)
    return job_id


def normalizer_job(store, boefje_id, org="acme"):
    boefje = store.get_job(boefje_id)
    (raw_id,) = store.replace_raws(boefje_id, org, [(["boefje/dns-records"], b"x")])
    job_id = str(uuid.uuid4())
    meta = {"id": job_id, "normalizer": {"id": "kat_dns_normalize"},
            "raw_data": {"id": raw_id, "boefje_meta": boefje.meta,
                         "mime_types": [{"value": "boefje/dns-records"}]}}  # fmt: skip
    store.add_job(job_id, "normalizer", org, "kat_dns_normalize", meta, raw_id=raw_id)
    store.begin_job(job_id, "test:1", False)
    store.end_job(job_id, JobStatus.FAILED, "crashed", "Traceback …")
    return job_id
