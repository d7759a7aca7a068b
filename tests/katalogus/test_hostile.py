"""The KATalogus against a hostile web page or client: cross-site writes (CSRF), secrets
echoed in errors, values the worker would refuse, and queries the spec bounds."""

from __future__ import annotations

import pytest
from falcon.testing import TestClient

from kat.catalogue import Catalogue
from kat.catalogue.sealing import generate
from kat.config import load
from kat.katalogus.app import create_app

ORG = "/v1/organisations/_dev"
ORGS = "/v1/organisations"
MARKER = "s3cret-Marker-7f3a"


def organisations(env) -> list[str]:
    return sorted(p.stem for p in (load(env).catalogue_dir / "organisations").glob("*.yaml"))


@pytest.mark.parametrize(
    "headers",
    [
        # what a page on another site sends with a plain <form> or fetch(…, {mode: "no-cors"})
        {"Content-Type": "text/plain", "Origin": "https://evil.example"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"Content-Type": "multipart/form-data; boundary=x"},
        # JSON, but from another origin (needs CORS a browser would not grant, refused anyway)
        {"Content-Type": "application/json", "Origin": "https://evil.example"},
        {"Content-Type": "application/json", "Origin": "null"},
        {"Content-Type": "application/json", "Origin": "http://localhost:1"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
        {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_or_non_json_write_creates_nothing(env, headers):
    client = TestClient(create_app(load(env)))
    result = client.simulate_post(ORGS, body=b'{"id": "pwned"}', headers=headers)
    assert result.status_code in (403, 415), result.text
    assert "pwned" not in organisations(env)


def test_a_form_post_does_not_clone_settings(env, catalogue):
    client = TestClient(create_app(load(env)))
    catalogue.create_organisation("victim")
    catalogue.put_setting("_dev", "dns-records", "API_TOKEN", "attacker's")
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}
    assert client.simulate_post(f"{ORG}/settings/clone/victim", headers=form).status_code == 403
    bare_form = {"Content-Type": "application/x-www-form-urlencoded"}
    result = client.simulate_post(f"{ORG}/settings/clone/victim", headers=bare_form)
    assert result.status_code == 415 and "application/json" in result.json["detail"]
    assert catalogue.plugin_state("victim", "dns-records") == (None, {})


def test_deletes_and_patches_from_another_site_are_refused(env, catalogue):
    client = TestClient(create_app(load(env)))
    evil = {"Sec-Fetch-Site": "cross-site"}
    assert client.simulate_delete(f"{ORGS}/_dev", headers=evil).status_code == 403
    patch = client.simulate_patch(
        f"{ORG}/plugins/ssl-certificates", json={"enabled": True}, headers=evil
    )
    assert patch.status_code == 403 and "cross-site" in patch.json["detail"]
    assert organisations(env) == ["_dev"]
    assert catalogue.plugin_state("_dev", "ssl-certificates") == (None, {})


def test_same_origin_pages_and_non_browser_clients_still_write(env):
    client = TestClient(create_app(load(env)))
    # curl, the CLI and the workers send no Origin and no Sec-Fetch-Site
    assert client.simulate_post(ORGS, json={"id": "by-curl"}).status_code == 201
    # a page served by this very server (falcon's test host is falconframework.org)
    own = {"Origin": "http://falconframework.org", "Sec-Fetch-Site": "same-origin"}
    assert client.simulate_post(ORGS, json={"id": "by-page"}, headers=own).status_code == 201
    # a POST without a body needs no Content-Type; JSON may name its charset
    assert client.simulate_post(f"{ORG}/settings/clone/by-curl").status_code == 204
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert client.simulate_post(ORGS, body=b'{"id": "utf8"}', headers=charset).status_code == 201
    # behind a proxy that rewrites Host, the browser still says it is this site's page
    proxied = {"Origin": "https://kat.example", "Sec-Fetch-Site": "same-origin"}
    assert client.simulate_post(ORGS, json={"id": "proxied"}, headers=proxied).status_code == 201
    assert organisations(env) == ["_dev", "by-curl", "by-page", "proxied", "utf8"]
    # reads are not writes: a cross-site GET is answered (the browser keeps it from the page)
    assert client.simulate_get(ORGS, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_the_guard_leaves_routes_outside_the_api_to_their_own_handling(env):
    app = create_app(load(env))
    seen = []

    class Form:  # a route outside the API, with its own form handling
        def on_post(self, req, resp):
            seen.append(req.get_media(default_when_empty=None))
            resp.media = {"ok": True}

    app.add_route("/elsewhere/form", Form())
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://a.example"}
    client = TestClient(app)
    result = client.simulate_post("/elsewhere/form", body=b"a=1", headers=form)
    assert result.status_code == 200 and seen == [{"a": "1"}]


def test_the_data_api_is_guarded_from_other_sites(env):
    app = create_app(load({**env, "KAT_DATA_API_TOKEN": "worker-token"}))
    client = TestClient(app)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer worker-token"}
    body = b'{"files": []}'
    path = "/bytes/raw?boefje_meta_id=00000000-0000-4000-8000-000000000000"
    plain = client.simulate_post(path, body=body, headers=headers)
    assert plain.status_code != 403  # a worker (no browser headers) reaches the route
    evil = {**headers, "Origin": "https://evil.example"}
    assert client.simulate_post(path, body=body, headers=evil).status_code == 403
    assert client.simulate_post(path, body=body, headers={**headers, "Sec-Fetch-Site":
                                "cross-site"}).status_code == 403  # fmt: skip


def sealing_env(env) -> dict[str, str]:
    public, private = generate()
    return {
        **env,
        "BYTES_ENCRYPTION_MIDDLEWARE": "NACL_SEALBOX",
        "KATALOGUS_PUBLIC_KEY": public,
        "KATALOGUS_PRIVATE_KEY": private,
    }


def test_a_422_never_echoes_a_stored_sealed_value(env):
    keyed = sealing_env(env)
    catalogue = Catalogue.from_settings(load(keyed))
    # a sealed value that breaks the schema (hand-sealed, or sealed before the schema changed)
    catalogue.put_setting("_dev", "dns-records", "RECORD_TYPES", MARKER)
    catalogue.put_setting("_dev", "dns-records", "API_TOKEN", MARKER + "-token")
    text = (load(env).catalogue_dir / "organisations" / "_dev.yaml").read_text()
    assert MARKER not in text and "sealed:" in text
    client = TestClient(create_app(load(keyed)))
    base = f"{ORG}/dns-records/settings"
    answers = [
        client.simulate_patch(f"{ORG}/plugins/dns-records", json={"enabled": True}),
        client.simulate_put(f"{base}/PORT", json={"value": 70000}),
        client.simulate_put(f"{base}/PORT", json={"value": 53}),
        client.simulate_put(base, json={"RECORD_TYPES": MARKER}),
        client.simulate_post(f"{base}/API_TOKEN", json={"value": "x"}),  # 409
    ]
    assert [a.status_code for a in answers] == [422, 422, 422, 422, 409]
    for answer in answers:
        assert MARKER not in answer.text
        assert "s3cret" not in answer.text.lower()
    assert "RECORD_TYPES: does not satisfy 'pattern'" in answers[0].json["detail"]
    # the stored values are still what they were, and served to whom may read them
    assert client.simulate_get(f"{base}/RECORD_TYPES").json == {"value": MARKER}


@pytest.mark.parametrize("path", ["API_TOKEN", "RECORD_TYPES"])
def test_a_nul_in_a_setting_value_is_a_422_naming_the_setting(client, env, path):
    before = (load(env).catalogue_dir / "organisations" / "_dev.yaml").read_text()
    base = f"{ORG}/dns-records/settings"
    one = client.simulate_put(f"{base}/{path}", json={"value": "a\x00b"})
    assert one.status_code == 422
    assert one.json["detail"].startswith(f"settings of dns-records: {path}: contains a NUL")
    every = client.simulate_put(base, json={"API_TOKEN": "t", path: "x\x00"})
    assert every.status_code == 422 and "NUL" in every.json["detail"]
    # a plugin without a schema refuses it too (its settings are environment variables)
    bare = client.simulate_put(f"{ORG}/ssl-certificates/settings/X", json={"value": "\x00"})
    assert bare.status_code == 422
    assert (load(env).catalogue_dir / "organisations" / "_dev.yaml").read_text() == before


def test_query_parameters_are_held_to_the_spec(client):
    long_q = client.simulate_get(f"{ORG}/plugins", params={"q": "x" * 201})
    assert long_q.status_code == 400
    assert long_q.json["detail"] == "query parameter q: does not satisfy 'maxLength' 200"
    assert client.simulate_get(f"{ORG}/plugins", params={"q": "x" * 200}).status_code == 200
    for name in ("consumes", "produces"):
        result = client.simulate_get(f"{ORG}/repositories/LOCAL/plugins", params={name: "y" * 500})
        assert result.status_code == 400 and name in result.json["detail"]
    assert client.simulate_get(f"{ORG}/plugins", params={"offset": "x"}).status_code == 400
