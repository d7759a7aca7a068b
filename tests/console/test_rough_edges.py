"""What a new user found untrue or rough, each checked the way they met it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from kat.catalogue import sealing as crypto

ROOT = Path(__file__).resolve().parents[2]
KAT = [sys.executable, "-m", "kat"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEFJE"))}
    env.update(
        KAT_CATALOGUE_DIR=str(tmp_path / "catalogue"),
        KAT_PLUGINS_DIR=str(ROOT / "plugins"),
        KAT_DATA_DIR=str(tmp_path / "data"),
        **extra,
    )
    env.pop("KATALOGUS_API", None)
    return env


def test_a_fresh_cli_process_names_the_broken_organisation_file_and_line(tmp_path):
    orgs = tmp_path / "catalogue" / "organisations"
    orgs.mkdir(parents=True)
    (orgs / "acme.yaml").write_text("id: acme\nname: Acme\nplugins: [unclosed\n")
    for argv in (
        ["scan", "--org", "acme", "--inline", "Hostname|internet|example.com"],
        ["plugin", "list", "--org", "acme"],
    ):
        done = subprocess.run(
            KAT + argv, env=_env(tmp_path), capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0, argv
        assert f"{orgs / 'acme.yaml'}:4" in done.stderr, done.stderr
        assert "does not exist" not in done.stderr


def test_plugin_new_says_how_to_enable_it(tmp_path):
    done = subprocess.run(
        [*KAT, "plugin", "new", "my_probe", "--plugins-dir", str(tmp_path)],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "kat plugin enable --org ORG my_probe" in done.stdout
    assert "enable it: kat scan" not in done.stdout


def test_keys_generate_appended_to_the_example_env_gives_one_line_per_variable(tmp_path):
    env_file = tmp_path / ".env"
    shutil.copy(ROOT / ".env.example", env_file)
    with env_file.open("a") as out:
        subprocess.run(KAT + ["keys", "generate"], stdout=out, check=True, timeout=60)
    names = [
        line.split("=", 1)[0]
        for line in env_file.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert names.count("BYTES_ENCRYPTION_MIDDLEWARE") == 1
    assert len(names) == len(set(names)), names


def test_the_shipped_dev_organisation_has_nothing_to_warn_about_once_sealing_is_on(tmp_path):
    public, private = crypto.generate()
    shutil.copytree(ROOT / "catalogue", tmp_path / "catalogue")
    env = _env(
        tmp_path,
        BYTES_ENCRYPTION_MIDDLEWARE="NACL_SEALBOX",
        KATALOGUS_PUBLIC_KEY=public,
        KATALOGUS_PRIVATE_KEY=private,
    )
    done = subprocess.run(
        KAT + ["catalogue", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout
    assert "plaintext" not in done.stdout
    assert "0 errors, 0 warnings" in done.stdout


def test_the_readme_metrics_example_works_with_the_example_env():
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    doc = ROOT / "docs" / "operations.md"
    curl = re.search(r"curl -s localhost:(\d+)/metrics", doc.read_text())
    assert curl, "the metrics example of docs/operations.md is gone"
    assert example["KAT_METRICS_PORT"] == curl.group(1)
    assert example["KAT_NORMALIZER_METRICS_PORT"] not in ("0", example["KAT_METRICS_PORT"])


def test_ensure_rabbitmq_uses_the_broker_url_of_the_env_file(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                listener.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        (tmp_path / ".env").write_text(
            "KAT_BROKER_URL=amqp://guest:guest@127.0.0.1:1/%2F\n"
            f"KAT_BROKER_URL=amqp://kat:pw@127.0.0.1:{port}/%2F\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "KAT_BROKER_URL"}
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "ensure-rabbitmq.sh")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        stop.set()
        thread.join()
        listener.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rabbitmq: reachable at 127.0.0.1:{port}"


def _make_run(tmp_path: Path, status: int) -> subprocess.CompletedProcess:
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    honcho = fake / "honcho"
    honcho.write_text(f"#!/bin/sh\nexit {status}\n")  # honcho's status after Ctrl-C: 130
    honcho.chmod(0o755)
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "install", "-o", "rabbitmq", "run",
         f"BIN={fake}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_make_run_ends_quietly_on_ctrl_c_and_still_fails_on_errors(tmp_path):
    interrupted = _make_run(tmp_path, 130)
    assert interrupted.returncode == 0 and "Error" not in interrupted.stderr
    broken = _make_run(tmp_path, 1)
    assert broken.returncode != 0 and "Error 1" in broken.stderr


def test_docker_build_context_layers_healthcheck_and_compose():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for name in (".env", ".venv/", "data/", ".git/"):
        assert name in ignored
    dockerfile = (ROOT / "Dockerfile").read_text()
    deps = dockerfile.index("pip install --no-cache-dir -r /tmp/requirements.txt")
    assert deps < dockerfile.index("COPY kat ./kat"), "dependencies before the code"
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert {"rabbitmq", "katalogus", "boefje", "normalizer"} <= set(compose["services"])
    for worker in ("boefje", "normalizer"):
        assert compose["services"][worker]["environment"]["KAT_BROKER_URL"].startswith(
            "amqp://guest:guest@rabbitmq:"
        )
