"""The KATalogus as it runs: a real gunicorn started from gunicorn.conf.py, several
workers writing one file, hand edits while it serves, remote workers reading over HTTP."""

from __future__ import annotations

import fcntl
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from kat.catalogue import CatalogueError, UnknownOrganisation, open_reader
from kat.catalogue.sealing import generate
from kat.catalogue.yamlfiles import write_atomic
from kat.config import load
from tests.katalogus.conftest import Gunicorn

pytestmark = pytest.mark.e2e


class Http:
    """One keep-alive connection, JSON in and out."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        raw = response.read()
        is_json = response.getheader("content-type", "").startswith("application/json")
        return response.status, json.loads(raw) if raw and is_json else raw


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.mark.timeout(60)
def test_served_by_gunicorn_and_read_by_a_remote_worker(env, gunicorn):
    public, private = generate()
    keys = {
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        "KATALOGUS_API_TOKEN": "t0ken",
    }
    server = gunicorn({**env, **keys}, workers=2)
    api = Http(server.url, "t0ken")
    assert api.call("POST", "/v1/organisations", {"id": "acme"})[0] == 201
    setting = "/v1/organisations/acme/dns-records/settings/API_TOKEN"
    assert api.call("PUT", setting, {"value": "s"})[0] == 200
    enable = api.call("PATCH", "/v1/organisations/acme/plugins/dns-records", {"enabled": True})
    assert enable[0] == 200
    assert Http(server.url).call("GET", "/v1/organisations")[0] == 401

    remote = open_reader(load({"KATALOGUS_API": server.url, "KATALOGUS_API_TOKEN": "t0ken"}))
    assert remote.plugin_state("acme", "dns-records") == (True, {"API_TOKEN": "s"})
    assert remote.plugin_state("acme", "unknown-plugin") == (None, {})
    assert remote.organisations() == ["_dev", "acme"]
    with pytest.raises(UnknownOrganisation):
        remote.plugin_state("nobody", "dns-records")
    wrong = open_reader(load({"KATALOGUS_API": server.url, "KATALOGUS_API_TOKEN": "nope"}))
    with pytest.raises(CatalogueError, match="KATALOGUS_API_TOKEN"):
        wrong.plugin_state("acme", "dns-records")
    # the file reader sees the same state
    local = open_reader(load({**env, **keys}))
    assert local.plugin_state("acme", "dns-records") == (True, {"API_TOKEN": "s"})


@pytest.mark.timeout(60)
def test_hand_edits_and_new_plugins_are_picked_up_without_restart(env, gunicorn, tmp_path):
    server = gunicorn(env, workers=2)
    api = Http(server.url)
    path = Path(env["KAT_CATALOGUE_DIR"]) / "organisations" / "_dev.yaml"
    write_atomic(path, "id: _dev\nname: Edited by hand\n")  # as git pull does
    # every worker answers with the new state at once (two workers: ask several times)
    assert all(
        api.call("GET", "/v1/organisations/_dev")[1]["name"] == "Edited by hand" for _ in range(8)
    )
    write_atomic(path, "id: _dev\nname: a: b\n")
    for _ in range(8):
        assert api.call("GET", "/v1/organisations/_dev") == (
            200,
            {"id": "_dev", "name": "Edited by hand"},
        )
    log = tmp_path / "gunicorn-0.log"
    reported = "_dev.yaml:2: invalid YAML: mapping values are not allowed"
    assert wait_for(lambda: reported in log.read_text())
    assert "Traceback" not in log.read_text()

    # a plugin folder added while serving: the watcher of every worker rediscovers
    new = Path(env["KAT_PLUGINS_DIR"]) / "kat_new"
    new.mkdir()
    (new / "main.py").write_text("def run(boefje_meta):\n    return []\n")
    (new / "boefje.json").write_text(json.dumps({"id": "brand-new", "consumes": ["Hostname"]}))

    def everywhere() -> bool:
        return all(
            api.call("GET", "/v1/organisations/_dev/plugins/brand-new")[0] == 200 for _ in range(6)
        )

    assert wait_for(everywhere, timeout=15)

    # the watchers live in the workers, never in the master
    def thread_names(pid: int) -> list[str]:
        tasks = Path(f"/proc/{pid}/task")
        return [(task / "comm").read_text().strip() for task in tasks.iterdir()]

    master = server.proc.pid
    workers = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(workers) == 2
    assert not any(name.startswith("notify-rs") for name in thread_names(master))
    for pid in workers:
        assert any(name.startswith("notify-rs") for name in thread_names(int(pid)))


@pytest.mark.timeout(120)
def test_eight_clients_and_a_hand_edit_lose_nothing(env, gunicorn):
    server = gunicorn(env, workers=4)
    catalogue_dir = Path(env["KAT_CATALOGUE_DIR"])
    path = catalogue_dir / "organisations" / "_dev.yaml"
    errors: list[str] = []
    started = threading.Barrier(9)

    def client(n: int) -> None:
        api = Http(server.url)
        started.wait()
        for i in range(100):
            status, body = api.call(
                "PUT", f"/v1/organisations/_dev/ssl-certificates/settings/K{n}_{i}", {"value": i}
            )
            if status != 200:
                errors.append(f"{n}/{i}: {status} {body}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    started.wait()
    assert wait_for(lambda: path.read_text().count("      K") >= 50)  # mid-run
    # A person's edit of the same file, holding the catalogue lock as the README says.
    with open(catalogue_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = yaml.safe_load(path.read_text())
        data["name"] = "Renamed by hand"
        data["plugins"]["ssl-certificates"]["enabled"] = True
        hand_edit_saw = len(data["plugins"]["ssl-certificates"]["settings"])
        write_atomic(path, yaml.safe_dump(data, sort_keys=False))
    for thread in threads:
        thread.join()

    assert errors == []
    assert 50 <= hand_edit_saw < 800
    text = path.read_text()
    data = yaml.safe_load(text)
    settings = data["plugins"]["ssl-certificates"]["settings"]
    assert settings == {f"K{n}_{i}": i for n in range(8) for i in range(100)}
    assert data["name"] == "Renamed by hand"
    assert data["plugins"]["ssl-certificates"]["enabled"] is True
    keys = [line.split(":")[0].strip() for line in text.splitlines() if line.startswith("      K")]
    assert len(keys) == len(set(keys)) == 800  # nothing duplicated
    assert not list(catalogue_dir.rglob("*.tmp"))


@pytest.mark.timeout(60)
def test_sealed_plaintext_is_in_no_file_and_no_log_line(env, gunicorn, tmp_path):
    secret = "plaintext-4f1c9a-never-stored"
    public, private = generate()
    keys = {
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        "GUNICORN_CMD_ARGS": "--access-logfile - --log-level debug",
    }
    server = gunicorn({**env, **keys}, workers=2)
    api = Http(server.url)
    base = "/v1/organisations/_dev/dns-records/settings"
    assert api.call("POST", f"{base}/API_TOKEN", {"value": secret})[0] == 201
    assert api.call("PUT", base, {"API_TOKEN": secret, "PORT": 53})[0] == 200
    assert api.call("PUT", f"{base}/PORT", {"value": secret})[0] == 422  # rejected, not logged
    assert api.call("GET", f"{base}/API_TOKEN") == (200, {"value": secret})
    server.stop()
    for path in Path(env["KAT_CATALOGUE_DIR"]).rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    log = (tmp_path / "gunicorn-0.log").read_text()
    assert "PUT /v1/organisations/_dev/dns-records/settings" in log  # the log is there
    assert secret not in log


@pytest.mark.timeout(60)
def test_a_second_katalogus_on_a_taken_address_refuses_to_start(env, gunicorn, tmp_path):
    """Workers listen with SO_REUSEPORT; a second instance must still not share the port."""
    first = gunicorn(env, workers=2)
    log = tmp_path / "second.log"
    try:  # /health answers at once (the first instance does): wait for the second to exit
        second = Gunicorn(env, 1, tmp_path, log, port=first.port)
    except RuntimeError:
        pass
    else:
        assert second.proc.wait(timeout=20) != 0
    assert f"cannot listen on 127.0.0.1:{first.port}: Address already in use" in log.read_text()
    status, _ = Http(first.url).call("GET", "/health")
    assert status == 200


@pytest.mark.timeout(90)
def test_the_taken_address_check_follows_a_bind_given_to_gunicorn(env, gunicorn, tmp_path):
    """``--bind`` in GUNICORN_CMD_ARGS (or on the command line) overrides KATALOGUS_BIND: the
    check must look at the address gunicorn really binds, not at KATALOGUS_BIND."""
    import os
    import socket
    import subprocess
    import sys

    from tests.katalogus.conftest import ROOT, free_port

    first = gunicorn(env, workers=1)

    def start(bind_env: int, bind_arg: int, log: Path) -> subprocess.Popen:
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))},
            **env,
            "KATALOGUS_BIND": f"127.0.0.1:{bind_env}",
            "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{bind_arg}",
            "WEB_CONCURRENCY": "1",
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        return subprocess.Popen(
            [*command, "kat.katalogus.app:get_app()"],
            cwd=tmp_path,
            env=full_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    # KATALOGUS_BIND is taken, the address given to gunicorn is free: it serves there.
    port = free_port()
    served = start(first.port, port, tmp_path / "served.log")
    try:
        assert wait_for(lambda: Http(first.url).call("GET", "/health")[0] == 200)

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return served.poll() is not None

        assert wait_for(up, timeout=20) and served.poll() is None, (
            tmp_path / "served.log"
        ).read_text()
        assert Http(f"http://127.0.0.1:{port}").call("GET", "/health")[0] == 200
    finally:
        served.terminate()
        served.wait(timeout=15)
    # The address given to gunicorn is taken: it refuses, naming that address.
    log = tmp_path / "refused.log"
    refused = start(free_port(), first.port, log)
    try:
        assert refused.wait(timeout=20) != 0
    finally:
        if refused.poll() is None:
            refused.kill()
            refused.wait()
    assert f"cannot listen on 127.0.0.1:{first.port}: Address already in use" in log.read_text()


@pytest.mark.timeout(30)
def test_a_katalogus_that_dies_mid_answer_is_a_catalogue_error(tmp_path):
    """A truncated response (the KATalogus killed while it answers) fails the job with a
    message naming KATALOGUS_API, like an unreachable one, not with http.client's error."""
    import socket

    from kat.catalogue.client import KatalogusClient

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def answer_half() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"_dev": '
            )
        server.close()

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    with pytest.raises(CatalogueError, match=f"KATALOGUS_API {url}"):
        KatalogusClient(url, timeout=5).organisations()
    thread.join(timeout=5)


@pytest.mark.timeout(60)
def test_a_refused_start_leaves_no_metrics_folder(env, gunicorn, tmp_path):
    first = gunicorn(env, workers=1)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    log = tmp_path / "refused.log"
    try:
        second = Gunicorn({**env, "TMPDIR": str(scratch)}, 1, tmp_path, log, port=first.port)
    except RuntimeError:
        pass
    else:
        assert second.proc.wait(timeout=20) != 0
    assert "Address already in use" in log.read_text()
    assert list(scratch.iterdir()) == []


@pytest.mark.timeout(60)
def test_keys_of_two_pairs_stop_the_start_with_one_line(env, tmp_path):
    first, second = generate(), generate()
    keys = {
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": first[0],
        "KATALOGUS_PRIVATE_KEY": second[1],
    }
    log = tmp_path / "keys.log"
    with pytest.raises(RuntimeError, match="gunicorn exited"):
        Gunicorn({**env, **keys}, 1, tmp_path, log)
    text = log.read_text()
    assert "KATalogus: KATALOGUS_PRIVATE_KEY does not belong to KATALOGUS_PUBLIC_KEY" in text
    assert "Traceback" not in text and second[1] not in text
