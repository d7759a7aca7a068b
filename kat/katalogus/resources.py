"""The KATalogus resources, one class per URI template; the catalogue and the plugin
registry are injected. Every id is checked by the catalogue before any path is built."""

from __future__ import annotations

import json

import falcon

from kat import __version__
from kat.catalogue import LOCAL, Catalogue, check_id
from kat.katalogus import spec
from kat.katalogus.registry import PluginRegistry, UnknownPlugin, matches, plugin_json


class _Base:
    def __init__(self, catalogue: Catalogue, registry: PluginRegistry) -> None:
        self.catalogue, self.registry = catalogue, registry

    def org(self, org: str) -> dict[str, str]:
        """The organisation, or 404 (400 for a malformed id)."""
        return self.catalogue.organisation(org)

    def plugin(self, org: str, plugin: str, repo: str | None = None):
        self.org(org)
        check_id(plugin, "plugin id")
        if repo is not None:
            self.catalogue.repository(repo)
            if repo != LOCAL:
                raise UnknownPlugin(f"repository {repo!r} holds no plugins")
        return self.registry.get(plugin)


class Health(_Base):
    """``GET /health``: 200 while the server answers; ``degraded`` names each broken
    catalogue file (path and line) and each plugin that was skipped (the names only to
    a client with the token, when one is set)."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        files = [
            {"path": p.path, "line": p.line, "reason": p.reason} for p in self.catalogue.problems()
        ]
        plugins = list(self.registry.problems)
        resp.media = {
            "status": "degraded" if files or plugins else "ok",
            "version": __version__,
        }
        # Which files are broken names organisations: only for a client with the token.
        if getattr(req.context, "authenticated", True):
            resp.media["catalogue"] = {"broken_files": files}
            resp.media["plugins"] = {"skipped": plugins}


class Spec:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/yaml"
        resp.text = spec.text()


class Organisations(_Base):
    def on_get(self, req, resp) -> None:
        resp.media = {o["id"]: o for o in self.catalogue.list_organisations()}

    def on_post(self, req, resp) -> None:
        body = req.context.body
        resp.media = self.catalogue.create_organisation(body["id"], body.get("name"))
        resp.status = falcon.HTTP_201


class Organisation(_Base):
    def on_get(self, req, resp, org: str) -> None:
        resp.media = self.org(org)

    def on_delete(self, req, resp, org: str) -> None:
        self.catalogue.delete_organisation(org)
        resp.status = falcon.HTTP_204


class Repositories(_Base):
    def on_get(self, req, resp, org: str) -> None:
        self.org(org)
        resp.media = {r["id"]: r for r in self.catalogue.repositories()}

    def on_post(self, req, resp, org: str) -> None:
        self.org(org)
        body = req.context.body
        resp.media = self.catalogue.create_repository(body["id"], body["name"], body["base_url"])
        resp.status = falcon.HTTP_201


class Repository(_Base):
    def on_get(self, req, resp, org: str, repo: str) -> None:
        self.org(org)
        resp.media = self.catalogue.repository(repo)

    def on_delete(self, req, resp, org: str, repo: str) -> None:
        self.org(org)
        self.catalogue.delete_repository(repo)
        resp.status = falcon.HTTP_204


class Plugins(_Base):
    """``GET …/plugins`` with OpenKAT's filters, also per repository.

    The rendered answer is kept per organisation, repository and query, and served as is
    while the organisation's file (its state object) and the plugins are the same ones.
    """

    #: Rendered lists kept at once (a list of 100 plugins is about 35 kB).
    CACHED = 256

    def __init__(self, catalogue: Catalogue, registry: PluginRegistry) -> None:
        super().__init__(catalogue, registry)
        self._rendered: dict[tuple, tuple[object, object, bytes]] = {}

    def on_get(self, req, resp, org: str, repo: str | None = None) -> None:
        state = self.catalogue.orgs.get(org)  # checks the id (400) and that it exists
        plugins = self.registry.plugins
        key = (org, repo, req.query_string)
        cached = self._rendered.get(key)
        if cached is not None and cached[0] is state and cached[1] is plugins:
            resp.data, resp.content_type = cached[2], falcon.MEDIA_JSON
            return
        if repo is not None:
            self.catalogue.repository(repo)
        plugin_type = req.get_param("plugin_type")
        if plugin_type not in (None, "boefje", "normalizer"):
            raise falcon.HTTPInvalidParam("use boefje or normalizer", "plugin_type")
        state_filter = req.get_param_as_bool("state")
        offset = req.get_param_as_int("offset", min_value=0, default=0)
        limit = req.get_param_as_int("limit", min_value=0)
        states = self.catalogue.enabled_states(org)
        items = [plugin_json(p, states.get(p.id)) for p in self.registry.all(repo)]
        items = [
            i
            for i in items
            if matches(
                i,
                plugin_type,
                state_filter,
                req.get_param("q"),
                req.get_param("consumes"),
                req.get_param("produces"),
            )
        ]
        data = json.dumps(items[offset : None if limit is None else offset + limit]).encode()
        if repo is None:  # a repository's file may change on its own: not kept
            if len(self._rendered) >= self.CACHED:
                self._rendered.clear()
            self._rendered[key] = (state, plugins, data)
        resp.data, resp.content_type = data, falcon.MEDIA_JSON


class PluginItem(_Base):
    def on_get(self, req, resp, org: str, plugin: str, repo: str | None = None) -> None:
        found = self.plugin(org, plugin, repo)
        resp.media = plugin_json(found, self.catalogue.enabled_states(org).get(plugin))

    def on_patch(self, req, resp, org: str, plugin: str, repo: str | None = None) -> None:
        found = self.plugin(org, plugin, repo)
        enabled = req.context.body["enabled"]
        if enabled:
            # OpenKAT refuses to enable a boefje whose settings do not fit its schema.
            self.registry.validate(plugin, self.catalogue.settings(org, plugin))
        self.catalogue.set_enabled(org, plugin, enabled)
        resp.media = plugin_json(found, enabled)


class PluginAsset(_Base):
    """``schema.json``, ``cover.jpg`` or ``description.md`` of a plugin, served as is."""

    def __init__(self, catalogue, registry, name: str, media_type: str) -> None:
        super().__init__(catalogue, registry)
        self.name, self.media_type = name, media_type

    def on_get(self, req, resp, org: str, plugin: str) -> None:
        path = self.plugin(org, plugin).asset(self.name)
        if path is None:
            raise falcon.HTTPNotFound(description=f"plugin {plugin!r} has no {self.name}")
        resp.content_type = self.media_type
        resp.data = path.read_bytes()


class Settings(_Base):
    def on_get(self, req, resp, org: str, plugin: str) -> None:
        self.plugin(org, plugin)
        resp.media = self.catalogue.settings(org, plugin)

    def on_put(self, req, resp, org: str, plugin: str) -> None:
        """Replace all settings; the whole set must fit the schema."""
        self.plugin(org, plugin)
        validate = lambda values: self.registry.validate(plugin, values)  # noqa: E731
        resp.media = self.catalogue.replace_settings(org, plugin, req.context.body, validate)


class Setting(_Base):
    def validator(self, plugin: str):
        return lambda values: self.registry.validate(plugin, values, partial=True)

    def on_get(self, req, resp, org: str, plugin: str, key: str) -> None:
        self.plugin(org, plugin)
        resp.media = {"value": self.catalogue.get_setting(org, plugin, key)}

    def on_post(self, req, resp, org: str, plugin: str, key: str) -> None:
        self.plugin(org, plugin)
        value = req.context.body["value"]
        self.catalogue.put_setting(org, plugin, key, value, True, self.validator(plugin))
        resp.media, resp.status = {"value": value}, falcon.HTTP_201

    def on_put(self, req, resp, org: str, plugin: str, key: str) -> None:
        self.plugin(org, plugin)
        value = req.context.body["value"]
        self.catalogue.put_setting(org, plugin, key, value, False, self.validator(plugin))
        resp.media = {"value": value}

    def on_delete(self, req, resp, org: str, plugin: str, key: str) -> None:
        self.plugin(org, plugin)
        self.catalogue.delete_setting(org, plugin, key)
        resp.status = falcon.HTTP_204


class Clone(_Base):
    def on_post(self, req, resp, org: str, to_org: str) -> None:
        self.catalogue.clone_settings(org, to_org)
        resp.status = falcon.HTTP_204
