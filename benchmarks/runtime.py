"""Benchmark of the job runtime on this machine, in one run, against the real RabbitMQ.

Prints:
  * throughput of N no-op boefje -> normalizer chains through kat (jobs/s, each chain is
    two jobs) and of a bare Dramatiq actor that forks a child per message (the ceiling),
    both with ``--processes 2``, in alternating rounds, and the ratio of the best rounds;
  * enqueue -> completed latency (p50/p99) of single boefje jobs on an idle worker,
    from the store's own timestamps;
  * resident memory of every worker process and of its job helper.

Usage: ``python benchmarks/runtime.py [--chains 300] [--rounds 3] [--singles 200]``.
When Dramatiq imports this file as a module (``dramatiq runtime``), it only declares
the bare actor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker

from kat import config

ROOT = Path(__file__).resolve().parents[1]

# --- the ceiling: a bare actor that forks per message ----------------------------------


def declare(settings: config.Settings):
    """The bare broker and actor (queue ``<prefix>bare``), for this benchmark's settings."""
    broker = RabbitmqBroker(url=settings.broker_url)

    @dramatiq.actor(broker=broker, queue_name=f"{settings.queue_prefix}bare", max_retries=0)
    def fork_per_message(number: int) -> None:
        """Fork a child that exits at once, wait for it, note the message as done."""
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        with open(settings.data_dir / "bare.done", "a") as done:
            done.write(f"{number}\n")

    return broker, fork_per_message


if __name__ != "__main__":  # imported by `dramatiq runtime`
    broker, fork_per_message = declare(config.load())
    dramatiq.set_broker(broker)


# --- set-up ----------------------------------------------------------------------------

BOEFJE = """def run(boefje_meta):
    return [({"text/plain"}, "")]
"""
NORMALIZER = """def run(input_ooi, raw):
    return iter(())
"""


def _write_plugins(folder: Path) -> None:
    for plugin_id in ("bench-noop", "bench-lone"):
        path = folder / plugin_id
        path.mkdir(parents=True)
        manifest = {"id": plugin_id, "consumes": ["Hostname"], "enabled": True}
        (path / "boefje.json").write_text(json.dumps(manifest))
        (path / "main.py").write_text(BOEFJE)
    path = folder / "bench-normalizer"
    path.mkdir()
    manifest = {"id": "bench-normalizer", "consumes": ["boefje/bench-noop"]}
    (path / "normalizer.json").write_text(json.dumps(manifest))
    (path / "normalize.py").write_text(NORMALIZER)


def _environment(root: Path) -> dict[str, str]:
    plugins = root / "plugins"
    _write_plugins(plugins)
    (root / "catalogue" / "organisations").mkdir(parents=True)
    (root / "catalogue" / "organisations" / "bench.yaml").write_text("id: bench\nname: Bench\n")
    return {
        "KAT_PLUGINS_DIR": str(plugins),
        "KAT_CATALOGUE_DIR": str(root / "catalogue"),
        "KAT_DATA_DIR": str(root / "data"),
        "KAT_QUEUE_PREFIX": f"kat-bench-{uuid.uuid4().hex[:8]}-",
    }


def _start(args: list[str], env: dict[str, str], log: Path, processes: int) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", *args],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while log.read_text().count("ready for action") < processes:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"workers did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return proc


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _show(line: str, final: bool) -> None:
    """Progress rewritten in place on a terminal; in a log, only the final line."""
    if sys.stdout.isatty():
        print(f"\r  {line}   ", end="\n" if final else "", flush=True)
    elif final:
        print(f"  {line}", flush=True)


def _progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.monotonic() - started, 1e-9)
    _show(f"{label}: {done}/{total} jobs ({rate:.0f}/s)", done >= total)


# --- the measurements ------------------------------------------------------------------


def kat_throughput(actors, store, chains: int) -> float:
    """Jobs per second for ``chains`` boefje -> normalizer chains (2 jobs each)."""

    def finished() -> int:
        sql = "SELECT COUNT(*) FROM jobs WHERE status IN ('completed', 'failed')"
        return store.connection().execute(sql).fetchone()[0]

    before = finished()
    started = time.monotonic()
    for _ in range(chains):
        actors.enqueue_boefje("bench", "bench-noop", "Hostname|internet|bench.test")
    total = 2 * chains
    while True:
        done = finished() - before
        _progress("kat", done, total, started)
        if done >= total:
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    failed = store.list_jobs(status="failed", limit=5)
    if failed:
        raise SystemExit(f"jobs failed: {[(j['plugin_id'], j['reason']) for j in failed]}")
    return total / elapsed


def bare_throughput(actor, messages: int, done_file: Path) -> float:
    def finished() -> int:
        return len(done_file.read_text().splitlines()) if done_file.exists() else 0

    before = finished()
    started = time.monotonic()
    for number in range(messages):
        actor.send(number)
    while True:
        done = finished() - before
        _progress("bare", done, messages, started)
        if done >= messages:
            break
        time.sleep(0.05)
    return messages / (time.monotonic() - started)


def latencies(actors, store, singles: int) -> list[float]:
    """Milliseconds from enqueue to completed, one job at a time on an idle worker."""
    result = []
    for number in range(singles):
        job_id = actors.enqueue_boefje("bench", "bench-lone", "Hostname|internet|bench.test")
        while (job := store.get_job(job_id))["status"] not in ("completed", "failed"):
            time.sleep(0.001)
        queued = datetime.fromisoformat(job["queued_at"])
        result.append((datetime.fromisoformat(job["ended_at"]) - queued).total_seconds() * 1000)
        if number % 20 == 19 or number + 1 == singles:
            _show(f"latency: {number + 1}/{singles} jobs", number + 1 == singles)
        time.sleep(0.02)  # idle between jobs
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chains", type=int, default=300, help="boefje->normalizer chains")
    parser.add_argument("--singles", type=int, default=200, help="single jobs for latency")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="kat-bench-"))
    env = _environment(root)
    os.environ.update(env)
    import kat.actors as actors  # reads the environment just set
    from kat.store import Store

    store = Store(Path(env["KAT_DATA_DIR"]) / "kat.db")
    worker_args = ["--processes", str(args.processes), "--threads", str(args.threads)]
    print(f"kat runtime benchmark: {args.processes} processes x {args.threads} threads")

    # Both sets of workers stay up and the rounds alternate, so a burst of load from
    # elsewhere on the machine hits both; the best round of each is compared.
    kat = _start(["kat.actors", *worker_args], env, root / "kat.log", args.processes)
    bare = _start(
        ["runtime", "--path", str(ROOT / "benchmarks"), *worker_args],
        env,
        root / "bare.log",
        args.processes,
    )
    done_file = Path(env["KAT_DATA_DIR"]) / "bare.done"
    try:
        _broker, actor = declare(config.load())
        kat_rates, bare_rates = [], []
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}")
            kat_rates.append(kat_throughput(actors, store, args.chains))
            bare_rates.append(bare_throughput(actor, 2 * args.chains, done_file))
        lat = latencies(actors, store, args.singles)
        workers = _children(kat.pid)
        rss = [(_rss_mib(w), sum(_rss_mib(h) for h in _children(w))) for w in workers]
    finally:
        _stop(kat)
        _stop(bare)
        _delete_queues(env["KAT_QUEUE_PREFIX"])
        store.close()
        shutil.rmtree(root, ignore_errors=True)  # its store, catalogue and worker logs
    kat_rate, bare_rate = max(kat_rates), max(bare_rates)

    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print()
    rounds = ", ".join(f"{r:.0f}" for r in kat_rates)
    print(f"kat chains (boefje + normalizer): {kat_rate:7.1f} jobs/s  (rounds: {rounds})")
    rounds = ", ".join(f"{r:.0f}" for r in bare_rates)
    print(f"bare fork-per-message actor:      {bare_rate:7.1f} jobs/s  (rounds: {rounds})")
    print(f"ratio kat / bare:                 {kat_rate / bare_rate:7.0%}   (target >= 40%)")
    print(
        f"latency enqueue->completed:       p50 {p50:.1f} ms, p99 {p99:.1f} ms (target p50 <= 20)"
    )
    for number, (worker_rss, helper_rss) in enumerate(rss):
        print(
            f"worker process {number}: {worker_rss:.0f} MiB RSS, its job helper "
            f"{helper_rss:.0f} MiB (target <= 100 MB per worker process)"
        )


def _delete_queues(prefix: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(config.load().broker_url))
    channel = connection.channel()
    for name in ("boefjes", "normalizers", "bare"):
        for suffix in ("", ".DQ", ".XQ"):
            channel.queue_delete(prefix + name + suffix)
    connection.close()


if __name__ == "__main__":
    main()
