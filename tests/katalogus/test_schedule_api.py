"""``PUT`` / ``DELETE /v1/organisations/{org}/scope/plugins/{plugin}``: a plugin's
interval or cron for one organisation, checked as the scope file is."""

from __future__ import annotations

import yaml

ROUTE = "/v1/organisations/_dev/scope/plugins/dns-records"


def _file(env) -> dict:
    with open(f"{env['KAT_CATALOGUE_DIR']}/scopes/_dev.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_set_change_and_remove_a_plugins_schedule(client, env):
    made = client.simulate_put(ROUTE, json={"interval": "2h"})
    assert made.status_code == 200 and made.json["plugins"] == {"dns-records": {"interval": 7200}}
    assert _file(env)["plugins"] == {"dns-records": {"interval": 7200}}
    cron = client.simulate_put(ROUTE, json={"cron": "0 3 * * *"})
    assert cron.json["plugins"] == {"dns-records": {"cron": "0 3 * * *"}}
    shown = client.simulate_get("/v1/organisations/_dev/scope").json
    assert shown["plugins"] == {"dns-records": {"cron": "0 3 * * *"}}
    assert client.simulate_delete(ROUTE).status_code == 204
    assert "plugins" not in _file(env)


def test_a_bad_schedule_is_refused_with_what_is_wrong_and_nothing_is_written(client, env):
    client.simulate_put(ROUTE, json={"interval": 60})
    bad_cron = client.simulate_put(ROUTE, json={"cron": "61 * * * *"})
    assert bad_cron.status_code == 400
    assert bad_cron.json["detail"] == "'61 * * * *' is not a cron expression"
    bad_interval = client.simulate_put(ROUTE, json={"interval": "soon"})
    assert bad_interval.status_code == 400 and "is not a duration" in bad_interval.json["detail"]
    both = client.simulate_put(ROUTE, json={"interval": 5, "cron": "* * * * *"})
    assert both.status_code == 400
    assert _file(env)["plugins"] == {"dns-records": {"interval": 60}}
    unknown = client.simulate_put(
        "/v1/organisations/nope/scope/plugins/dns-records", json={"interval": 5}
    )
    assert unknown.status_code == 404
