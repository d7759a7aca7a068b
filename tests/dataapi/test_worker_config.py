"""Which store a worker uses: the data API when KAT_DATA_API is set, and never a
database and a data API at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kat.config import ConfigError, load
from kat.runtime.runner import Context
from kat.store import open_store
from kat.store.http import HTTPStore

ROOT = Path(__file__).parents[2]


def test_kat_data_api_makes_the_store_http(monkeypatch):
    monkeypatch.setenv("KAT_DATA_API_TOKEN", "t0k")
    settings = load({"KAT_DATA_API": "https://kat.example.org/", "KAT_DATA_API_TOKEN": "t0k"})
    assert settings.database_url == "https://kat.example.org"
    store = open_store(settings.database_url)
    assert isinstance(store, HTTPStore) and store._token == "t0k"


def test_a_context_refuses_a_database_and_a_data_api_at_once():
    settings = load({"KAT_DATA_API": "http://127.0.0.1:9", "KAT_DATABASE_URL": "sqlite:///x.db"})
    with pytest.raises(ConfigError, match="both KAT_DATABASE_URL and KAT_DATA_API"):
        Context(settings)


def test_a_worker_refuses_to_start_with_both(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "KAT_DATA_API": "http://127.0.0.1:9",
        "KAT_DATABASE_URL": f"sqlite:///{tmp_path}/kat.db",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kat", "boefje"], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "both KAT_DATABASE_URL and KAT_DATA_API are set" in done.stderr
    assert list(tmp_path.iterdir()) == []  # it made no database either
