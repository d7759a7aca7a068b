"""Fixtures of the console tests: a catalogue and store in a temp folder, the real
plugins folder, two users (an operator and a viewer), and a cookie-keeping client."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from falcon.testing import TestClient

from kat.catalogue import Catalogue
from kat.catalogue import sealing as crypto
from kat.config import load
from kat.console.users import Users
from kat.katalogus.app import create_app
from tests.database import store_url

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Browser:
    """A TestClient that keeps the session cookie and reads the CSRF token of each page."""

    def __init__(self, client: TestClient) -> None:
        self.client, self.cookie, self.csrf = client, None, None

    def _keep(self, result):
        if "kat_session" in result.cookies:
            self.cookie = result.cookies["kat_session"].value
        found = re.search(r'name="csrf" value="([^"]+)"', result.text or "")
        if found:
            self.csrf = found.group(1)
        return result

    def _headers(self, extra=None):
        headers = dict(extra or {})
        if self.cookie:
            headers["Cookie"] = f"kat_session={self.cookie}"
        return headers

    def get(self, path: str, **kw):
        return self._keep(self.client.simulate_get(path, headers=self._headers(), **kw))

    def post(self, path: str, data: dict | list | None = None, csrf: bool = True):
        from urllib.parse import urlencode

        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            items.append(("csrf", self.csrf or ""))
        body = urlencode(items)
        return self._keep(self.client.simulate_post(path, body=body, headers=self._headers(FORM)))

    def login(self, name: str, password: str = PASSWORD):
        self.get("/console/login")
        result = self.post("/console/login", {"name": name, "password": password})
        if result.status_code == 303:
            self.get(result.headers["location"])  # as a browser does: the new CSRF token
        return result


@pytest.fixture
def env(tmp_path, monkeypatch):
    public, private = crypto.generate()
    values = {
        "KAT_CATALOGUE_DIR": str(tmp_path / "catalogue"),
        "KAT_PLUGINS_DIR": str(ROOT / "plugins"),
        "KAT_DATA_DIR": str(tmp_path / "data"),
        "KAT_DATABASE_URL": store_url(tmp_path),
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
        "KATALOGUS_API_TOKEN": "api-token-for-tests",
        "KAT_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672/%2F",
        "KAT_QUEUE_PREFIX": f"kat-console-{tmp_path.name[-12:]}-",
        "BOEFJE_CONCURRENCY": "7",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = load(values)
    Catalogue.from_settings(settings).create_organisation("acme", "Acme")
    users = Users(settings.catalogue_dir)
    users.add("alice", "operator", PASSWORD)
    users.add("victor", "viewer", PASSWORD)
    return values


@pytest.fixture
def settings(env):
    return load(env)


@pytest.fixture
def app(settings):
    return create_app(settings)


@pytest.fixture
def browser(app) -> Browser:
    return Browser(TestClient(app))


@pytest.fixture
def operator(browser) -> Browser:
    assert browser.login("alice").status_code == 303
    return browser


@pytest.fixture
def viewer(app) -> Browser:
    b = Browser(TestClient(app))
    assert b.login("victor").status_code == 303
    return b
