"""A web page a user visits cannot change the catalogue through the user's browser:
against a real gunicorn without a token (the default), a cross-site form post and a
cross-site JSON fetch are refused and create nothing; curl-style clients still work."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from kat.catalogue import Catalogue
from tests.katalogus.conftest import Gunicorn, write_catalogue, write_plugins

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_cross_site_post_is_refused(tmp_path):
    env = {
        "KAT_CATALOGUE_DIR": str(write_catalogue(tmp_path / "catalogue")),
        "KAT_PLUGINS_DIR": str(write_plugins(tmp_path / "plugins")),
        "KAT_DATA_DIR": str(tmp_path / "data"),
    }
    server = Gunicorn(env, 1, tmp_path, tmp_path / "gunicorn.log")
    try:
        url = server.url + "/v1/organisations"
        form = b'{"id": "evil", "name": "x"}'
        assert _post(url, form, {"Content-Type": "text/plain",
                                 "Origin": "https://evil.example"}) in (403, 415)  # fmt: skip
        assert _post(url, form, {"Content-Type": "application/json",
                                 "Sec-Fetch-Site": "cross-site"}) == 403  # fmt: skip
        assert "evil" not in Catalogue(env["KAT_CATALOGUE_DIR"]).organisations()
        ok = json.dumps({"id": "mine", "name": "Mine"}).encode()
        assert _post(url, ok, {"Content-Type": "application/json"}) == 201
    finally:
        server.stop()
