"""The Store interface, the same on SQLite and PostgreSQL: what every part of kat
relies on when it records a job, its raws, its objects and a scan."""

from __future__ import annotations

import multiprocessing
import uuid

import pytest

from kat.jobs import JobStatus
from kat.store import Scan, StoreError, open_store
from kat.store.migrations import LATEST


def _job(store, job_id=None, org="acme", plugin="noop", kind="boefje"):
    job_id = job_id or str(uuid.uuid4())
    assert store.add_job(
        job_id, kind, org, plugin, {"id": job_id, "x": 1}, input_ooi="Hostname|internet|a.test"
    )
    return job_id


def test_a_new_store_is_at_the_latest_schema_version(store):
    assert store.schema_version() == LATEST
    assert store.migrate() == []  # a second migration applies nothing


def test_a_job_is_recorded_once_and_reads_back_typed(store):
    job_id = _job(store)
    assert not store.add_job(job_id, "boefje", "acme", "other", {"id": job_id})  # exists
    job = store.get_job(job_id)
    assert (job.status, job.plugin_id, job.meta, job.attempts) == (
        JobStatus.QUEUED,
        "noop",
        {"id": job_id, "x": 1},
        0,
    )
    assert job.to_dict()["status"] == "queued"
    assert store.get_job("no-such-job") is None


def test_an_ended_job_cannot_begin_or_end_again(store):
    job_id = _job(store)
    first = store.begin_job(job_id, "host:1", interrupted=False)
    assert (first.status, first.attempts, first.worker) == (JobStatus.RUNNING, 1, "host:1")
    assert store.end_job(job_id, JobStatus.COMPLETED, meta={"done": True})
    assert not store.end_job(job_id, JobStatus.FAILED, "crashed", "late")  # no second ending
    assert store.begin_job(job_id, "host:2", interrupted=True) is None  # never runs again
    store.requeue_job(job_id, "a late hand-back")
    job = store.get_job(job_id)
    assert (job.status, job.reason, job.meta, job.attempts) == (
        JobStatus.COMPLETED,
        None,
        {"done": True},
        1,
    )


def test_an_interrupted_run_is_counted(store):
    job_id = _job(store)
    store.begin_job(job_id, "host:1", interrupted=False)
    again = store.begin_job(job_id, "host:2", interrupted=True)
    assert (again.attempts, again.interrupted, again.worker) == (2, 1, "host:2")


def test_jobs_list_filter_count_and_page(store):
    ids = [_job(store, org="acme" if i % 2 else "other", plugin=f"p{i % 3}") for i in range(9)]
    store.end_job(ids[0], JobStatus.FAILED, "crashed", "boom")
    assert {j.id for j in store.list_jobs(limit=100)} == set(ids)
    assert [j.id for j in store.list_jobs(status="failed")] == [ids[0]]
    assert len(store.list_jobs(org="acme")) == 4 == store.count_jobs(org="acme")
    pages = (
        store.list_jobs(limit=4)
        + store.list_jobs(limit=4, offset=4)
        + store.list_jobs(limit=4, offset=8)
    )
    assert [j.id for j in pages] == [j.id for j in store.list_jobs(limit=100)]
    assert store.organizations() == ["acme", "other"]


def test_raws_keep_their_order_bytes_and_mime_types(store):
    job_id = _job(store)
    blobs = [({"text/plain", "boefje/noop"}, b"first"), ({"application/json"}, b"\x00\xff" * 1000)]
    ids = store.replace_raws(job_id, "acme", blobs)
    listed = store.raws_for(job_id)
    assert [r.id for r in listed] == ids and all(r.data is None for r in listed)
    assert listed[0].mime_types == ["boefje/noop", "text/plain"]
    raw = store.get_raw(ids[1])
    assert (raw.data, raw.size, raw.organization) == (b"\x00\xff" * 1000, 2000, "acme")
    assert store.get_raw(ids[1], with_data=False).data is None
    # A second attempt replaces the first attempt's raws.
    (again,) = store.replace_raws(job_id, "acme", [({"text/plain"}, b"again")])
    assert [r.id for r in store.raws_for(job_id)] == [again] and store.get_raw(ids[0]) is None


def test_raws_with_their_ids_are_stored_with_the_jobs_that_read_them(store):
    """A boefje's raws and its normalizer jobs in one write: the raw ids are the
    caller's, a retry of the write stores each once, and a taken id changes nothing."""
    store.add_scan(Scan("scan-r", "acme", ("Hostname|internet|a.test",), depth=2))
    job_id = _job(store)
    raw_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    readers = [str(uuid.uuid4()), str(uuid.uuid4())]
    jobs = [
        {"job_id": reader, "job_type": "normalizer", "organization": "acme",
         "plugin_id": "norm", "meta": {"id": reader}, "raw_id": raw_id,
         "scan": ("scan-r", 1) if n == 0 else None}
        for n, (reader, raw_id) in enumerate(zip(readers, raw_ids, strict=True))
    ]  # fmt: skip
    blobs = [({"text/plain"}, b"one"), ({"text/plain"}, b"two")]
    for _attempt in range(2):  # the second is a retry of the same write
        assert store.replace_raws(job_id, "acme", blobs, ids=raw_ids, jobs=jobs) == raw_ids
    assert [r.id for r in store.raws_for(job_id)] == raw_ids
    assert store.get_raw(raw_ids[1]).data == b"two"
    assert [(store.get_job(r).status, store.get_job(r).raw_id) for r in readers] == [
        (JobStatus.QUEUED, raw_ids[0]), (JobStatus.QUEUED, raw_ids[1])
    ]  # fmt: skip
    assert [e.job.id for e in store.scan_jobs("scan-r")] == [readers[0]]
    other, late = _job(store), str(uuid.uuid4())
    late_job = {**jobs[0], "job_id": late, "scan": None}
    with pytest.raises(ValueError, match="is taken"):
        store.replace_raws(other, "acme", [({"x"}, b"taken")], ids=raw_ids[:1], jobs=[late_job])
    assert store.raws_for(other) == [] and store.get_job(late) is None  # nothing stored
    assert store.get_raw(raw_ids[0]).job_id == job_id


def test_a_boefje_jobs_raws_and_their_jobs_are_stored_with_its_end_and_only_then(store):
    """One write ends a boefje job with its raws (their ids the caller's) and the
    normalizer jobs that read them; a job that had ended keeps nothing of the run, and
    a raw id taken by another raw leaves the job running and stores nothing."""
    store.add_scan(Scan("scan-e", "acme", ("Hostname|internet|a.test",), depth=2))
    job_id = _job(store)
    assert store.begin_job(job_id, "w:1", False)
    raw_ids = [str(uuid.uuid4()), str(uuid.uuid4())]
    readers = [str(uuid.uuid4()) for _ in raw_ids]
    jobs = [
        {"job_id": reader, "job_type": "normalizer", "organization": "acme",
         "plugin_id": "norm", "meta": {"id": reader}, "raw_id": raw_id,
         "scan": ("scan-e", 1)}
        for reader, raw_id in zip(readers, raw_ids, strict=True)
    ]  # fmt: skip
    blobs = [({"text/plain", "boefje/noop"}, b"one"), ({"text/html"}, b"\x00two")]
    store.replace_raws(job_id, "acme", blobs[:1], ids=raw_ids[:1])  # an earlier attempt's
    other = _job(store)
    store.begin_job(other, "w:1", False)
    with pytest.raises(ValueError, match="is taken"):
        store.end_job(other, JobStatus.COMPLETED, raws=blobs[:1], raw_ids=raw_ids[:1])
    assert store.get_job(other).status is JobStatus.RUNNING and store.raws_for(other) == []

    assert store.end_job(job_id, JobStatus.COMPLETED, meta={"id": job_id, "y": 2},
                         raws=blobs, raw_ids=raw_ids, jobs=jobs)  # fmt: skip
    ended = store.get_job(job_id)
    assert (ended.status, ended.meta) == (JobStatus.COMPLETED, {"id": job_id, "y": 2})
    stored = store.raws_for(job_id)
    assert [(r.id, r.organization, r.mime_types) for r in stored] == [
        (raw_ids[0], "acme", ["boefje/noop", "text/plain"]), (raw_ids[1], "acme", ["text/html"])
    ]  # fmt: skip
    assert store.get_raw(raw_ids[1]).data == b"\x00two"
    assert [j.id for j in store.jobs_reading(raw_ids)] == readers
    # The same end again (its answer was lost): stored once, and said to be stored, so
    # the worker still sends the jobs.
    assert store.end_job(job_id, JobStatus.COMPLETED, meta={"id": job_id, "y": 2},
                         raws=blobs, raw_ids=raw_ids, jobs=jobs)  # fmt: skip
    assert [r.id for r in store.raws_for(job_id)] == raw_ids
    assert [j.id for j in store.jobs_reading(raw_ids)] == readers
    assert {store.get_job(r).status for r in readers} == {JobStatus.QUEUED}
    assert sorted(e.job.id for e in store.scan_jobs("scan-e")) == sorted(readers)
    # Ended already: the late end stores nothing of its run.
    fresh = [str(uuid.uuid4())]
    late = {**jobs[0], "job_id": str(uuid.uuid4()), "raw_id": fresh[0], "scan": None}
    assert not store.end_job(job_id, JobStatus.FAILED, "crashed", raws=blobs[:1],
                             raw_ids=fresh, jobs=[late])  # fmt: skip
    assert [r.id for r in store.raws_for(job_id)] == raw_ids
    assert store.get_raw(fresh[0]) is None and store.get_job(late["job_id"]) is None


def test_a_boefje_run_again_supersedes_the_normalizer_jobs_its_last_run_left_unbegun(store):
    """A worker died between storing a boefje's raws with their normalizer jobs and
    sending them: when the boefje job runs again, those that never began fail as
    superseded and leave the scan, so the scan can finish; one that began runs on."""
    store.add_scan(Scan("scan-s", "acme", ("Hostname|internet|a.test",), depth=2))
    job_id = _job(store)

    def reader(raw_id):
        reader_id = str(uuid.uuid4())
        return {"job_id": reader_id, "job_type": "normalizer", "organization": "acme",
                "plugin_id": "norm", "meta": {"id": reader_id}, "raw_id": raw_id,
                "scan": ("scan-s", 1)}  # fmt: skip

    first = [str(uuid.uuid4()), str(uuid.uuid4())]
    unsent, begun = reader(first[0]), reader(first[1])
    blobs = [({"text/plain"}, b"one"), ({"text/plain"}, b"two")]
    store.replace_raws(job_id, "acme", blobs, ids=first, jobs=[unsent, begun])
    assert store.begin_job(begun["job_id"], "h:1", False) is not None
    again = [str(uuid.uuid4())]
    fresh = reader(again[0])
    store.replace_raws(job_id, "acme", blobs[:1], ids=again, jobs=[fresh])
    left = store.get_job(unsent["job_id"])
    assert (left.status, left.reason) == (JobStatus.FAILED, "superseded")
    assert job_id in left.detail
    assert store.begin_job(unsent["job_id"], "h:1", False) is None  # its late message: not run
    assert store.get_job(begun["job_id"]).status is JobStatus.RUNNING
    assert store.get_job(fresh["job_id"]).status is JobStatus.QUEUED
    in_scan = {e.job.id for e in store.scan_jobs("scan-s")}
    assert in_scan == {begun["job_id"], fresh["job_id"]}


def test_objects_of_a_job_replace_an_earlier_attempt(store):
    job_id = _job(store, kind="normalizer")
    objects = [
        {"object_type": "Hostname", "primary_key": f"Hostname|internet|{n}.test", "name": n}
        for n in "ab"
    ]
    assert store.replace_objects(job_id, "acme", objects) == 2
    assert store.replace_objects(job_id, "acme", objects[:1]) == 1
    (found,) = store.objects_for(job_id)
    assert (found.primary_key, found.data["name"], found.to_dict()["_job_id"]) == (
        "Hostname|internet|a.test",
        "a",
        job_id,
    )
    assert store.objects(org="acme", object_type="Hostname") == [found]
    assert store.objects(org="other") == []


def test_objects_are_stored_with_the_end_of_their_job_and_only_then(store):
    objects = [
        {"object_type": "Hostname", "primary_key": f"Hostname|internet|{n}.test", "name": n}
        for n in "ab"
    ]
    job_id = _job(store, kind="normalizer", org="acme")
    store.replace_objects(job_id, "acme", objects[:1])  # an earlier attempt's
    store.begin_job(job_id, "h:1", False)
    assert store.end_job(job_id, JobStatus.COMPLETED, objects=objects) is True
    assert [o.primary_key for o in store.objects_for(job_id)] == [
        o["primary_key"] for o in objects
    ]  # replaced: each once
    assert {o.organization for o in store.objects_for(job_id)} == {"acme"}  # the job's
    assert store.end_job(job_id, JobStatus.COMPLETED, objects=objects[1:]) is False
    assert len(store.objects_for(job_id)) == 2  # an end that changes nothing stores nothing
    cancelled = _job(store, kind="normalizer")
    store.end_job(cancelled, JobStatus.FAILED, "cancelled")
    assert store.end_job(cancelled, JobStatus.COMPLETED, objects=objects) is False
    assert store.objects_for(cancelled) == []


def test_a_scan_claims_each_pair_once_and_counts_its_jobs(store):
    scan = Scan("scan-1", "acme", ("Hostname|internet|a.test",), depth=2, boefjes=("noop",))
    store.add_scan(scan)
    assert store.get_scan("scan-1") == scan
    a, b = ("noop", "Hostname|internet|a.test"), ("noop", "Hostname|internet|c.test")
    first, other = store.claim_pairs("scan-1", 1, [a, b])
    assert first and other and first != other
    assert store.claim_pairs("scan-1", 1, [b, a]) == [None, None]  # taken, in any order
    assert store.scan_progress("scan-1")["queued"] == 2  # claimed, not recorded yet
    store.release_pair(other)  # its job could not be sent: the pair is free again
    assert store.scan_progress("scan-1")["queued"] == 1
    _job(store, first)
    store.begin_job(first, "h:1", False)
    follower = str(uuid.uuid4())
    for added in (True, False):  # a retried add: the job and its place in the scan once
        assert store.add_job(
            follower, "normalizer", "acme", "norm", {"id": follower}, scan=("scan-1", 1)
        ) is added  # fmt: skip
    assert store.scan_progress("scan-1") == {"queued": 1, "running": 1, "completed": 0, "failed": 0}
    unsent = str(uuid.uuid4())
    store.add_job(unsent, "normalizer", "acme", "norm", {"id": unsent}, scan=("scan-1", 1))
    assert store.scan_progress("scan-1")["queued"] == 2
    store.forget_job(unsent)  # its message could not be sent: it never counted
    assert store.scan_progress("scan-1")["queued"] == 1
    store.replace_objects(
        follower, "acme", [{"object_type": "Hostname", "primary_key": "Hostname|internet|b.test"}]
    )
    assert store.scan_objects("scan-1") == [("Hostname", "Hostname|internet|b.test")]
    assert [(e.job.id, e.level) for e in store.scan_jobs("scan-1")] == [(first, 1), (follower, 1)]
    store.release_pair(first)  # its job was recorded (sent): the pair stays taken
    assert store.claim_pairs("scan-1", 2, [a]) == [None]
    (second,) = store.claim_pairs("scan-1", 2, [b])
    assert second and store.claim_pairs("scan-1", 2, [b]) == [None]


def test_jobs_are_added_together(store):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    jobs = [
        {"job_id": i, "job_type": "boefje", "organization": "acme", "plugin_id": "noop",
         "meta": {"id": i}, "input_ooi": f"Hostname|internet|{n}.test"}
        for n, i in enumerate(ids)
    ]  # fmt: skip
    assert store.add_jobs(jobs[:1]) == [True]
    assert store.add_jobs(jobs) == [False, True, True]  # the first was there already
    assert [store.get_job(i).input_ooi for i in ids] == [j["input_ooi"] for j in jobs]
    assert {store.get_job(i).status for i in ids} == {JobStatus.QUEUED}


def test_workers_say_they_are_alive(store):
    store.heartbeat("host:1", ["boefjes"])
    first = store.workers()[0].seen_at
    store.heartbeat("host:1", ["boefjes", "normalizers"])
    (worker,) = store.workers()
    assert worker.queues == ["boefjes", "normalizers"] and worker.seen_at >= first
    store.remove_worker("host:1")
    assert store.workers() == []


def _writer(url, worker: int, count: int) -> None:
    store = open_store(url)
    for i in range(count):
        job_id = f"{worker}-{i}"
        store.add_job(job_id, "boefje", "acme", "noop", {"id": job_id})
        store.begin_job(job_id, f"w{worker}", False)
        store.replace_raws(job_id, "acme", [({"text/plain"}, b"x" * 1000)])
        store.end_job(job_id, JobStatus.COMPLETED)
    store.close()


@pytest.mark.timeout(120)
def test_several_processes_write_at_once(url):
    open_store(url).close()  # migrated; no connection is open across the fork
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_writer, args=(url, w, 40)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(90)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    store = open_store(url)
    assert store.count_jobs(status="completed") == 160
    assert len(store.raws_for("3-39")) == 1


def _migrate(url) -> None:
    open_store(url).close()


@pytest.mark.timeout(60)
def test_processes_migrating_at_once_agree(url):
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_migrate, args=(url,)) for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert open_store(url).schema_version() == LATEST


def test_a_broken_store_raises_store_error_naming_the_backend(tmp_path):
    (tmp_path / "kat.db").write_bytes(b"this is not a database, " * 100)
    with pytest.raises(StoreError, match="SQLite: file is not a database"):
        open_store(f"sqlite:///{tmp_path}/kat.db")
    with pytest.raises(StoreError, match="PostgreSQL"):
        open_store("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1")


def test_store_urls_are_checked():
    from kat.store import BadDatabaseURL

    for bad in ("kat.db", "sqlite://kat.db", "mysql://x/y"):
        with pytest.raises(BadDatabaseURL):
            open_store(bad)


def test_the_sqlite_file_is_private(tmp_path):
    open_store(f"sqlite:///{tmp_path}/kat.db").close()
    assert (tmp_path / "kat.db").stat().st_mode & 0o777 == 0o600


def test_old_data_api_replies_are_deleted_and_new_ones_kept(store):
    # A retried write within the retention is answered from its stored reply; replies
    # a day old serve no retry any more and must not pile up.
    store._write(
        "INSERT INTO api_replies (key, reply, created_at) VALUES (?, ?, ?)",
        ("old-key", '{"id": "old"}', "2020-01-01T00:00:00.000000+00:00"),
    )
    store.keep_reply("new-key", '{"id": "new"}')
    assert store.recall_reply("old-key") is None
    assert store.recall_reply("new-key") == '{"id": "new"}'
    store.keep_reply("new-key", '{"id": "other"}')  # the first answer wins
    assert store.recall_reply("new-key") == '{"id": "new"}'
