"""Console figures: server time of the KATalogus page of an organisation with 100
plugins and of the task list over 10,000 tasks (first and last page), each next to a
same-run baseline that serves the same data without the console (the JSON API of the
plugins; the store query of the tasks alone).

    python benchmarks/console.py [--runs 50]

Server time is the time the Falcon app takes for one request, measured in this process
with Falcon's test client (no network, no client parsing). Prints figures; asserts
nothing. Target: at most 100 ms per page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLUGINS, TASKS = 100, 10_000
PASSWORD = "benchmark password"
SCHEMA = {
    "type": "object",
    "properties": {
        "TIMEOUT": {"type": "number", "default": 5, "maximum": 60},
        "PORTS": {"type": "string", "pattern": "^[0-9,]*$"},
    },
}


def make_plugins(folder: Path) -> None:
    for n in range(PLUGINS):
        plugin = folder / f"kat_bench_{n:03d}"
        plugin.mkdir(parents=True)
        manifest = {
            "id": f"bench-{n:03d}",
            "name": f"Benchmark boefje {n}",
            "description": "A boefje of the console benchmark.",
            "consumes": ["IPAddressV4"],
            "produces": [f"boefje/bench-{n:03d}"],
            "scan_level": 1,
        }
        (plugin / "boefje.json").write_text(json.dumps(manifest))
        (plugin / "main.py").write_text("def run(boefje_meta):\n    return []\n")
        (plugin / "schema.json").write_text(json.dumps(SCHEMA))
        (plugin / "description.md").write_text(f"# Boefje {n}\n\nScans *nothing*.\n")


def fill_store(db_path: Path) -> None:
    from kat.store import open_store, timestamp

    store = open_store(f"sqlite:///{db_path}")
    rows = []
    for n in range(TASKS):
        status = ("completed", "failed", "queued")[n % 3]
        rows.append({
            "id": str(uuid.uuid4()), "type": "boefje", "organization": "bench",
            "plugin_id": f"bench-{n % PLUGINS:03d}",
            "input_ooi": f"IPAddressV4|internet|10.0.{n // 256 % 256}.{n % 256}",
            "status": status, "reason": "timeout" if status == "failed" else None,
            "meta": "{}", "queued_at": timestamp(),
        })  # fmt: skip
    store.import_rows("jobs", rows)  # what `kat store copy` uses: one batch per 500 rows
    store.close()


def timed(call, runs: int) -> tuple[float, float]:
    """Median and 95th percentile of ``call()`` in milliseconds (after two warm-ups)."""
    call()
    call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kat-console-bench-"))
    try:
        run(work, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, runs: int) -> None:
    from falcon.testing import TestClient

    from kat.catalogue import Catalogue
    from kat.config import load
    from kat.console import data
    from kat.console.users import Users
    from kat.katalogus.app import create_app

    env = {
        "KAT_CATALOGUE_DIR": str(work / "catalogue"),
        "KAT_PLUGINS_DIR": str(work / "plugins"),
        "KAT_DATA_DIR": str(work / "data"),
    }
    os.environ.update(env)
    make_plugins(work / "plugins")
    settings = load(env)
    catalogue = Catalogue.from_settings(settings)
    catalogue.create_organisation("bench", "Benchmark")
    for n in range(0, PLUGINS, 2):
        catalogue.set_enabled("bench", f"bench-{n:03d}", True)
    fill_store(settings.db_path)
    Users(settings.catalogue_dir).add("bench", "viewer", PASSWORD)
    client = TestClient(create_app(settings))

    login = client.simulate_get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
    cookie = login.cookies["kat_session"].value
    done = client.simulate_post(
        "/console/login",
        body=f"csrf={csrf}&name=bench&password={PASSWORD.replace(' ', '+')}",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Cookie": f"kat_session={cookie}"},
    )  # fmt: skip
    headers = {"Cookie": f"kat_session={done.cookies['kat_session'].value}"}
    last_page = -(-TASKS // data.PAGE_SIZE)

    def get(path: str):
        def call():
            result = client.simulate_get(path, headers=headers)
            assert result.status_code == 200, (path, result.status)
            return result

        return call

    page = get("/console/o/bench/plugins")()
    assert page.text.count('<li class="card') == PLUGINS
    tasks = get("/console/o/bench/tasks")()
    assert f"page 1 of {last_page} ({TASKS} in all)" in tasks.text
    store = data.store(settings.database_url)
    api_token_free = TestClient(create_app(settings))
    figures = [
        ("console: KATalogus page, 100 plugins", get("/console/o/bench/plugins")),
        ("  baseline: GET /v1/organisations/bench/plugins (JSON)",
         lambda: api_token_free.simulate_get("/v1/organisations/bench/plugins")),
        ("console: task list, page 1 of 10,000 tasks", get("/console/o/bench/tasks")),
        (f"console: task list, page {last_page} (last)",
         get(f"/console/o/bench/tasks?page={last_page}")),
        ("console: task list, failed only", get("/console/o/bench/tasks?status=failed")),
        ("  baseline: the page's store query alone (data.tasks)",
         lambda: data.tasks(store, org="bench", page=1)),
    ]  # fmt: skip
    print(f"server time per request, {runs} runs each (median / p95, ms); target <= 100 ms")
    for name, call in figures:
        median, p95 = timed(call, runs)
        print(f"  {name:<58} {median:7.1f} / {p95:7.1f}")


if __name__ == "__main__":
    main()
