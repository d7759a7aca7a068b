"""Console pages of the catalogue: organisations, the KATalogus and plugin settings."""

from __future__ import annotations

import falcon

from kat.catalogue import CatalogueError
from kat.console import forms, render
from kat.console.auth import PREFIX, require_operator
from kat.console.base import Page, error_page, field, flash, values
from kat.katalogus.registry import InvalidSettings, matches, plugin_json


class Organisations(Page):
    def on_get(self, req, resp) -> None:
        orgs = self.ctx.catalogue.list_organisations()
        render.page(req, resp, "organisations.html", **values(req, orgs=orgs))

    def on_post(self, req, resp) -> None:
        require_operator(req)
        org_id, name = field(req, "id").strip(), field(req, "name").strip()
        try:
            self.ctx.catalogue.create_organisation(org_id, name or None)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        flash(req, f"organisation {org_id} created")
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org_id}/plugins")


class OrganisationDelete(Page):
    def on_post(self, req, resp, org: str) -> None:
        require_operator(req)
        if field(req, "confirm") != org:
            return error_page(req, resp, ValueError("type the organisation's id to delete it"))
        try:
            self.ctx.catalogue.delete_organisation(org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        flash(req, f"organisation {org} deleted")
        raise falcon.HTTPSeeOther(PREFIX)


class OrganisationClone(Page):
    def on_post(self, req, resp, org: str) -> None:
        require_operator(req)
        target = field(req, "to")
        try:
            self.ctx.catalogue.clone_settings(org, target)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        flash(req, f"settings of {org} cloned to {target}")
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{target}/plugins")


class Plugins(Page):
    """The KATalogus of one organisation: cards, filters, enable/disable."""

    def on_get(self, req, resp, org: str) -> None:
        try:
            organisation = self.org(org)
            states = self.ctx.catalogue.enabled_states(org)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        kind = req.get_param("type") or None
        consumes = req.get_param("consumes") or None
        state = {"on": True, "off": False}.get(req.get_param("enabled") or "")
        everything = [(p, plugin_json(p, states.get(p.id))) for p in self.ctx.registry.all()]
        shown = [
            (p, item)
            for p, item in everything
            if matches(item, kind, state, req.get_param("q"), consumes, None)
        ]
        types = sorted({t for _p, item in everything for t in item["consumes"]})
        filters = {
            "type": kind,
            "consumes": consumes,
            "enabled": req.get_param("enabled"),
            "q": req.get_param("q"),
        }
        render.page(
            req,
            resp,
            "plugins.html",
            **values(
                req,
                org=organisation,
                plugins=shown,
                total=len(everything),
                types=types,
                filters=filters,
                problems=self.ctx.registry.problems,
            ),
        )


class Plugin(Page):
    """One plugin: description, enable switch and the settings form."""

    def show(self, req, resp, org: str, plugin: str, form_fields=None, status=falcon.HTTP_200):
        organisation = self.org(org)
        found = self.ctx.registry.get(plugin)
        enabled, current = self.ctx.catalogue.plugin_state(org, plugin)
        if form_fields is None:
            form_fields = forms.fields(found.schema, current, self.ctx.settings.boefje_defaults)
        description = found.asset("description.md")
        render.page(
            req,
            resp,
            "plugin.html",
            status=status,
            **values(
                req,
                org=organisation,
                plugin=found,
                info=plugin_json(found, enabled),
                description=description.read_text(encoding="utf-8") if description else "",
                has_cover=found.asset("cover.jpg") is not None,
                fields=form_fields,
                sealed=self.ctx.settings.encryption,
            ),
        )

    def on_get(self, req, resp, org: str, plugin: str) -> None:
        try:
            self.show(req, resp, org, plugin)
        except CatalogueError as exc:
            error_page(req, resp, exc)

    def on_post(self, req, resp, org: str, plugin: str) -> None:
        """The settings form."""
        require_operator(req)
        try:
            self.org(org)
            found = self.ctx.registry.get(plugin)
            current = self.ctx.catalogue.settings(org, plugin)
            new, form_fields = forms.parse(found.schema or {}, req.context.form, current)
            if any(f.error for f in form_fields):
                return self.show(req, resp, org, plugin, form_fields, falcon.HTTP_422)
            validate = lambda v: self.ctx.registry.validate(plugin, v, partial=True)  # noqa: E731
            self.ctx.catalogue.replace_settings(org, plugin, new, validate)
        except InvalidSettings as exc:
            return error_page(req, resp, exc, falcon.HTTP_422)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        sealed = " (sealed)" if self.ctx.settings.encryption else ""
        flash(req, f"settings of {plugin} saved{sealed}")
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org}/plugins/{plugin}")


class PluginState(Page):
    def on_post(self, req, resp, org: str, plugin: str) -> None:
        require_operator(req)
        enabled = field(req, "enabled") == "true"
        try:
            self.org(org)
            self.ctx.registry.get(plugin)
            if enabled:  # as the API: settings must fit the schema to enable
                self.ctx.registry.validate(plugin, self.ctx.catalogue.settings(org, plugin))
            self.ctx.catalogue.set_enabled(org, plugin, enabled)
        except (CatalogueError, InvalidSettings) as exc:
            return error_page(req, resp, exc, falcon.HTTP_422)
        flash(req, f"{plugin} {'enabled' if enabled else 'disabled'} for {org}")
        back = field(req, "back")
        raise falcon.HTTPSeeOther(back if back.startswith(f"{PREFIX}/o/{org}/") else
                                  f"{PREFIX}/o/{org}/plugins")  # fmt: skip


class Cover(Page):
    def on_get(self, req, resp, plugin: str) -> None:
        try:
            path = self.ctx.registry.get(plugin).asset("cover.jpg")
        except CatalogueError:
            path = None
        if path is None:
            raise falcon.HTTPNotFound()
        resp.content_type = falcon.MEDIA_JPEG
        resp.cache_control = ["private", "max-age=300"]
        resp.data = path.read_bytes()
