"""The KATalogus routes of an organisation's declared scope (``catalogue/scopes/``):

- ``GET    /v1/organisations/{org}/scope``: the declared objects and plugin schedules;
- ``POST   /v1/organisations/{org}/scope/objects`` ``{"reference", "level"}``: declare
  an object, or change its level;
- ``DELETE /v1/organisations/{org}/scope/objects?reference=REF``: take it out of scope;
- ``PUT    /v1/organisations/{org}/scope/plugins/{plugin}`` ``{"interval"}`` or
  ``{"cron"}``: the plugin's schedule for the organisation; ``DELETE`` removes it.

References go in the body and the query, never the path: they may hold slashes.
"""

from __future__ import annotations

import falcon

from kat.catalogue import Catalogue
from kat.catalogue.errors import InvalidValue
from kat.scheduling.scope import Scope, Scopes


def scope_json(scope: Scope) -> dict:
    return scope.to_json()


class _Base:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue, self.scopes = catalogue, Scopes(catalogue.root)


class ScopeResource(_Base):
    def on_get(self, req, resp, org: str) -> None:
        self.catalogue.organisation(org)
        resp.media = scope_json(self.scopes.get(org))


class ScopeObjects(_Base):
    def on_post(self, req, resp, org: str) -> None:
        self.catalogue.organisation(org)
        body = req.context.body
        if not isinstance(body, dict) or set(body) != {"reference", "level"}:
            raise InvalidValue('the body is {"reference": "Type|…", "level": 0-4}')
        resp.media = scope_json(self.scopes.set(org, body["reference"], body["level"]))

    def on_delete(self, req, resp, org: str) -> None:
        self.catalogue.organisation(org)
        reference = req.get_param("reference", required=True)
        self.scopes.remove(org, reference)
        resp.status = falcon.HTTP_204


class ScopePlugin(_Base):
    def on_put(self, req, resp, org: str, plugin: str) -> None:
        self.catalogue.organisation(org)
        resp.media = scope_json(self.scopes.set_schedule(org, plugin, req.context.body))

    def on_delete(self, req, resp, org: str, plugin: str) -> None:
        self.catalogue.organisation(org)
        self.scopes.set_schedule(org, plugin, None)
        resp.status = falcon.HTTP_204


def register(app: falcon.App, catalogue: Catalogue, org_path: str) -> None:
    """Add the scope routes under ``org_path`` (``/v1/organisations/{org}``)."""
    app.add_route(f"{org_path}/scope", ScopeResource(catalogue))
    app.add_route(f"{org_path}/scope/objects", ScopeObjects(catalogue))
    app.add_route(f"{org_path}/scope/plugins/{{plugin}}", ScopePlugin(catalogue))
