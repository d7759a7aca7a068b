"""Fixtures of the KATalogus tests: a tmp catalogue, a tmp plugins folder, the app."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from falcon.testing import TestClient

from kat.catalogue import Catalogue
from kat.config import load
from kat.katalogus.app import create_app

ROOT = Path(__file__).resolve().parents[2]

DNS_SCHEMA = {
    "type": "object",
    "properties": {
        "RECORD_TYPES": {"type": "string", "pattern": "^[A-Z,]*$", "maxLength": 50},
        "API_TOKEN": {"type": "string"},
        "PORT": {"type": "integer", "minimum": 1, "maximum": 65535},
    },
    "required": ["API_TOKEN"],
}


def write_plugins(folder: Path) -> Path:
    """A boefje with a schema and assets, a normalizer, and a plugin with a broken manifest."""
    dns = folder / "kat_dns"
    (dns / "normalize").mkdir(parents=True)
    (dns / "boefje.json").write_text(
        json.dumps(
            {
                "id": "dns-records",
                "name": "DNS records",
                "description": "Fetch the DNS records of a hostname",
                "consumes": ["Hostname"],
                "produces": ["boefje/dns-records"],
                "scan_level": 1,
            }
        )
    )
    (dns / "main.py").write_text("def run(boefje_meta):\n    return []\n")
    (dns / "schema.json").write_text(json.dumps(DNS_SCHEMA))
    (dns / "description.md").write_text("# DNS records\n")
    (dns / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0fakejpeg")
    (dns / "normalize" / "normalizer.json").write_text(
        json.dumps({"id": "dns-records-normalize", "consumes": ["boefje/dns-records"]})
    )
    (dns / "normalize" / "normalize.py").write_text("def run(input_ooi, raw):\n    yield from ()\n")
    ssl = folder / "kat_ssl"
    ssl.mkdir()
    (ssl / "boefje.json").write_text(
        json.dumps({"id": "ssl-certificates", "consumes": ["Website"], "scan_level": 2})
    )
    (ssl / "main.py").write_text("def run(boefje_meta):\n    return []\n")
    broken = folder / "kat_broken"
    broken.mkdir()
    (broken / "boefje.json").write_text('{"id": "broken", "consumes": [')
    (broken / "main.py").write_text("def run(boefje_meta):\n    return []\n")
    return folder


def write_catalogue(folder: Path) -> Path:
    """The LOCAL repository and a ``_dev`` organisation that enables dns-records."""
    (folder / "repositories").mkdir(parents=True)
    (folder / "organisations").mkdir()
    shutil.copy(ROOT / "catalogue" / "repositories" / "LOCAL.yaml", folder / "repositories")
    (folder / "organisations" / "_dev.yaml").write_text(
        "id: _dev\nname: Development organisation\nplugins:\n  dns-records:\n    enabled: true\n"
    )
    return folder


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """Environment of a KATalogus over a tmp catalogue and the test plugins; its data
    folder (console secret, SQLite store) is the test's own, not the working copy's."""
    write_catalogue(tmp_path / "catalogue")
    write_plugins(tmp_path / "plugins")
    return {
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_PLUGINS_DIR": str(tmp_path / "plugins"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def catalogue(env) -> Catalogue:
    return Catalogue.from_settings(load(env))


@pytest.fixture
def client(env) -> TestClient:
    return TestClient(create_app(load(env)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A real gunicorn serving the KATalogus from ``gunicorn.conf.py``."""

    def __init__(
        self, env: dict[str, str], workers: int, cwd: Path, log: Path, port: int | None = None
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAT", "BYTES", "BOEF"))},
            **env,
            "KATALOGUS_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
        }
        self.log = log
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(ROOT / "gunicorn.conf.py"),
                "kat.katalogus.app:get_app()",
            ],
            cwd=cwd,
            env=full_env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {log.read_text()}") from None
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not come up: {log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn with ``start(env, workers)``; stopped after the test."""
    started: list[Gunicorn] = []

    def start(env: dict[str, str], workers: int = 2) -> Gunicorn:
        server = Gunicorn(env, workers, tmp_path, tmp_path / f"gunicorn-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
