"""The console over the real app (Falcon's test client): login, roles, CSRF, headers,
the KATalogus pages and the settings form."""

from __future__ import annotations

from pathlib import Path

import yaml

from kat.catalogue import Catalogue
from kat.catalogue.sealing import is_sealed
from kat.config import load
from tests.console.conftest import Browser


def org_file(env, org="acme") -> dict:
    path = f"{env['KAT_CATALOGUE_DIR']}/organisations/{org}.yaml"
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_a_visitor_is_sent_to_the_login_page_and_every_page_has_the_security_headers(browser):
    home = browser.client.simulate_get("/")
    assert home.status_code == 303 and home.headers["location"].endswith("/console")
    page = browser.get("/console/o/acme/plugins")
    assert page.status_code == 303 and page.headers["location"].endswith("/console/login")
    login = browser.get("/console/login")
    assert login.status_code == 200 and 'name="password"' in login.text
    csp = login.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert login.headers["x-frame-options"] == "DENY"
    assert login.headers["x-content-type-options"] == "nosniff"
    assert login.headers["referrer-policy"] == "no-referrer"
    cookie = login.cookies["kat_session"]
    assert cookie.http_only and cookie.same_site == "Strict"
    assert "<script" not in login.text  # readable without JavaScript


def test_the_api_keeps_its_bearer_token(browser):
    assert browser.client.simulate_get("/v1/organisations").status_code == 401
    browser.login("alice")
    # a console session is no API credential
    assert browser.get("/v1/organisations").status_code == 401
    ok = browser.client.simulate_get(
        "/v1/organisations", headers={"Authorization": "Bearer api-token-for-tests"}
    )
    assert ok.status_code == 200


def test_login_refuses_a_wrong_password_and_accepts_the_api_token(browser):
    wrong = browser.login("alice", "not the password")
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    assert browser.login("nobody").status_code == 401
    browser.get("/console/login")
    token = browser.post("/console/login", {"name": "", "password": "api-token-for-tests"})
    assert token.status_code == 303
    page = browser.get("/console")
    assert "token (operator)" in page.text and "Create organisation" in page.text


def test_a_form_without_the_csrf_token_is_refused(operator, env):
    refused = operator.post("/console", {"id": "forged", "name": "F"}, csrf=False)
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert refused.headers["content-type"].startswith("text/html")  # a page, not JSON
    stale = operator.post("/console", {"id": "forged", "csrf": "guessed"}, csrf=False)
    assert stale.status_code == 403
    assert "forged" not in Catalogue(env["KAT_CATALOGUE_DIR"]).organisations()
    # a session of another browser has its own token
    other = Browser(operator.client)
    other.login("alice")
    assert operator.csrf != other.csrf


def test_a_viewer_reads_but_cannot_change_anything(viewer, operator, env):
    before = org_file(env)
    page = viewer.get("/console/o/acme/plugins")
    assert page.status_code == 200 and "victor (viewer)" in page.text
    assert "/state" not in page.text  # no enable buttons
    assert "Create organisation" not in viewer.get("/console").text
    assert "Save settings" not in viewer.get("/console/o/acme/plugins/port-scan").text
    attempts = [
        ("/console", {"id": "viewers-org"}),
        ("/console/o/acme/plugins/port-scan/state", {"enabled": "true"}),
        ("/console/o/acme/plugins/port-scan", {"s_PORTS": "22"}),
        ("/console/o/acme/delete", {"confirm": "acme"}),
        ("/console/o/acme/scans", {"inputs": "127.0.0.1"}),
    ]
    for path, data in attempts:
        result = viewer.post(path, data)
        assert result.status_code == 403, path
        assert "viewers cannot change anything" in result.text
    assert org_file(env) == before
    assert Catalogue(env["KAT_CATALOGUE_DIR"]).organisations() == ["acme"]


def test_a_removed_user_is_logged_out_at_the_next_request(viewer, env):
    from kat.console.users import Users

    Users(load(env).catalogue_dir).remove("victor")
    assert viewer.get("/console").status_code == 303


def test_organisations_create_clone_and_delete(operator, env):
    created = operator.post("/console", {"id": "beta", "name": "Beta"})
    assert created.status_code == 303
    assert org_file(env, "beta") == {"id": "beta", "name": "Beta"}
    assert "organisation beta created" in operator.get(created.headers["location"]).text
    taken = operator.post("/console", {"id": "beta"})
    assert taken.status_code == 409 and "already exists" in taken.text
    bad = operator.post("/console", {"id": "../etc"})
    assert bad.status_code == 400
    operator.post("/console/o/acme/plugins/port-scan/state", {"enabled": "true"})
    assert operator.post("/console/o/acme/clone", {"to": "beta"}).status_code == 303
    assert org_file(env, "beta")["plugins"]["port-scan"]["enabled"] is True
    unconfirmed = operator.post("/console/o/beta/delete", {"confirm": "nope"})
    assert unconfirmed.status_code == 400
    assert operator.post("/console/o/beta/delete", {"confirm": "beta"}).status_code == 303
    assert Catalogue(env["KAT_CATALOGUE_DIR"]).organisations() == ["acme"]


def test_katalogus_cards_filter_and_enable(operator, env):
    page = operator.get("/console/o/acme/plugins")
    assert page.status_code == 200
    assert page.text.count('<li class="card') >= 9 and "port-scan" in page.text
    assert 'src="/console/static/plugin.svg"' in page.text  # no cover.jpg: a placeholder
    boefjes = operator.get("/console/o/acme/plugins?type=boefje&consumes=IPPort")
    assert boefjes.text.count('<li class="card') == 1
    assert 'href="/console/o/acme/plugins/service_banner"' in boefjes.text
    enabled = operator.post(
        "/console/o/acme/plugins/port-scan/state",
        {"enabled": "true", "back": "/console/o/acme/plugins?type=boefje"},
    )
    assert enabled.headers["location"] == "/console/o/acme/plugins?type=boefje"
    assert org_file(env)["plugins"]["port-scan"]["enabled"] is True
    only_on = operator.get("/console/o/acme/plugins?enabled=on&type=boefje")
    assert 'href="/console/o/acme/plugins/port-scan"' in only_on.text
    assert 'href="/console/o/acme/plugins/service_banner"' not in only_on.text  # disabled
    assert only_on.text.count('<li class="card') < page.text.count('<li class="card')
    operator.post("/console/o/acme/plugins/port-scan/state", {"enabled": "false"})
    assert org_file(env)["plugins"]["port-scan"]["enabled"] is False
    assert operator.get("/console/o/nope/plugins").status_code == 404


def test_settings_form_shows_the_schema_refuses_a_bad_value_and_seals_a_good_one(operator, env):
    page = operator.get("/console/o/acme/plugins/port-scan")
    assert page.status_code == 200
    assert "pattern <code>^[0-9,\\- ]*$</code>" in page.text
    assert "default 100" in page.text and "at most 1000" in page.text
    assert "now from <strong>BOEFJE_CONCURRENCY</strong>" in page.text  # a worker default
    assert "Ports and ranges to scan" in page.text  # the schema's description
    assert "<h1>port-scan" in page.text or "TCP" in page.text  # description.md rendered
    bad = operator.post(
        "/console/o/acme/plugins/port-scan", {"s_PORTS": "abc", "s_CONCURRENCY": "many"}
    )
    assert bad.status_code == 422
    assert 'id="e-PORTS" role="alert">PORTS: does not satisfy' in bad.text
    assert 'id="e-CONCURRENCY" role="alert">CONCURRENCY: must be a whole number' in bad.text
    assert 'value="abc"' in bad.text  # what was typed stays in the field
    assert "port-scan" not in (org_file(env).get("plugins") or {})
    good = operator.post(
        "/console/o/acme/plugins/port-scan", {"s_PORTS": "22,8000-8010", "s_CONCURRENCY": "5"}
    )
    assert good.status_code == 303
    stored = org_file(env)["plugins"]["port-scan"]["settings"]
    assert set(stored) == {"PORTS", "CONCURRENCY"}
    assert all(is_sealed(v) for v in stored.values())
    path = Path(env["KAT_CATALOGUE_DIR"]) / "organisations" / "acme.yaml"
    assert "22,8000" not in path.read_text()
    settings = Catalogue.from_settings(load(env)).settings("acme", "port-scan")
    assert settings == {"PORTS": "22,8000-8010", "CONCURRENCY": 5}
    shown = operator.get(good.headers["location"])
    assert "settings of port-scan saved (sealed)" in shown.text
    assert "now from <strong>organisation</strong>" in shown.text
    # emptying a field removes the setting (the default applies again)
    operator.post("/console/o/acme/plugins/port-scan", {"s_PORTS": "22", "s_CONCURRENCY": ""})
    assert Catalogue.from_settings(load(env)).settings("acme", "port-scan") == {"PORTS": "22"}


def test_description_markdown_cannot_inject_markup():
    from kat.console.render import markdown

    html = markdown("# Title\n\n<script>alert(1)</script> **bold** [x](javascript:alert(1))")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script>" not in html and 'href="javascript:' not in html


def test_api_docs_are_swagger_ui_served_from_the_package(browser):
    page = browser.client.simulate_get("/docs")
    assert page.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows none
    assert "script-src 'self'" in page.headers["content-security-policy"]
    bundle = browser.client.simulate_get("/docs/static/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and len(bundle.content) > 500_000
    init = browser.client.simulate_get("/console/static/docs-init.js")
    assert init.status_code == 200 and "/docs/openapi.json" in init.text
    spec = browser.client.simulate_get("/docs/openapi.json")
    body = spec.json["paths"]["/v1/organisations/{org}/plugins/{plugin}"]["patch"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["properties"]["enabled"]
    assert "$ref" not in spec.text


def test_secret_fields_are_never_shown_and_an_empty_one_keeps_its_value():
    from kat.console import forms

    schema = {
        "type": "object",
        "properties": {
            "API_KEY": {"type": "string", "description": "the service's key"},
            "ANCHOR": {"type": "string", "maxLength": 5000},
            "RETRIES": {"type": "integer", "default": 3},
        },
    }
    current = {"API_KEY": "s3cret-value", "ANCHOR": "a\nb"}
    shown = {f.name: f for f in forms.fields(schema, current, {"RETRIES": "4"})}
    assert shown["API_KEY"].secret and shown["API_KEY"].value is None
    assert shown["API_KEY"].is_set and shown["API_KEY"].source == "organisation"
    assert shown["ANCHOR"].long and shown["ANCHOR"].value == "a\nb"
    assert shown["RETRIES"].source == "BOEFJE_RETRIES" and shown["RETRIES"].value == "4"
    kept, _ = forms.parse(schema, {"s_API_KEY": "", "s_ANCHOR": "x\r\ny"}, current)
    assert kept == {"API_KEY": "s3cret-value", "ANCHOR": "x\ny"}
    cleared, _ = forms.parse(schema, {"s_API_KEY": "", "clear_API_KEY": "1"}, current)
    assert "API_KEY" not in cleared
    replaced, _ = forms.parse(schema, {"s_API_KEY": "new", "s_RETRIES": "x"}, current)
    assert replaced["API_KEY"] == "new"
    _, with_error = forms.parse(schema, {"s_RETRIES": "x"}, current)
    assert [f.error for f in with_error if f.name == "RETRIES"] == ["must be a whole number"]


def test_a_session_ends_twelve_hours_after_login_however_active(operator, monkeypatch):
    import time

    from kat.console import auth

    assert operator.get("/console").status_code == 200
    later = time.time() + auth.MAX_AGE + 60
    monkeypatch.setattr(auth, "now", lambda: later)  # the cookie's signature is still fresh
    assert operator.get("/console").status_code == 303


def test_ten_wrong_passwords_lock_the_name_for_a_while(browser):
    for _ in range(10):
        assert browser.login("alice", "a wrong password").status_code == 401
    locked = browser.login("alice")  # now even the right password is refused
    assert locked.status_code == 429 and "too many wrong passwords" in locked.text
    assert browser.login("victor").status_code == 303  # other names are not affected


def test_the_katalogus_app_with_its_console_never_imports_the_runtime():
    import subprocess
    import sys

    code = (
        "import sys, kat.katalogus.app, kat.console.pages_scans, kat.console.broker;"
        "print(sorted(m for m in sys.modules if m.startswith('kat.runtime')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
