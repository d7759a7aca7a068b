"""Console pages of continuous scanning: an organisation's declared scope (objects and
their scan levels) and its schedule (what runs next, and each boefje's interval or cron
override). Both edit ``catalogue/scopes/<org>.yaml`` through
:class:`kat.scheduling.scope.Scopes`, with the API's checks and messages."""

from __future__ import annotations

from typing import Any

import falcon

from kat.catalogue import CatalogueError
from kat.catalogue.errors import NotFound
from kat.console import render
from kat.console.auth import PREFIX, require_operator
from kat.console.base import Page, error_page, field, flash, values
from kat.scheduling import planner
from kat.scheduling.scheduler import upcoming
from kat.scheduling.scope import MAX_LEVEL, Schedule, Scopes, check_level, check_reference

#: Rows of the schedule's "runs next" table.
UPCOMING_ROWS = 50


def _level(text: str) -> int:
    """The form's level, checked as the API checks a JSON integer (same message)."""
    text = text.strip()
    return check_level(int(text) if text.lstrip("-").isdigit() else text)


class _ScopeBase(Page):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.scopes = Scopes(ctx.catalogue.root)

    def on_get(self, req, resp, org: str) -> None:
        try:
            self._show(req, resp, org)
        except CatalogueError as exc:
            error_page(req, resp, exc)


class ScopePage(_ScopeBase):
    def _show(self, req, resp, org: str, form=None, errors=None, status=falcon.HTTP_200):
        organisation = self.org(org)
        scope = self.scopes.get(org)
        render.page(
            req, resp, "scope.html", status=status,
            **values(
                req, org=organisation, objects=sorted(scope.objects.items()),
                levels=range(MAX_LEVEL + 1), form=form or {"reference": "", "level": "2"},
                errors=errors or {},
            ),
        )  # fmt: skip

    def on_post(self, req, resp, org: str) -> None:
        require_operator(req)
        action = field(req, "action")
        form = {"reference": field(req, "reference"), "level": field(req, "level")}
        scopes = self.scopes
        try:
            self.org(org)
            if action == "remove":
                scopes.remove(org, form["reference"])
                flash(req, f"{form['reference']} is out of scope")
            elif action in ("add", "level"):
                errors = {}
                for name, check in (("reference", check_reference), ("level", _level)):
                    try:
                        form[name] = check(form[name])
                    except ValueError as exc:
                        errors[name] = str(exc)
                if errors:
                    return self._show(req, resp, org, form, errors, falcon.HTTP_422)
                scopes.set(org, form["reference"], form["level"])
                flash(req, f"{form['reference']} is in scope at level {form['level']}")
            else:
                raise falcon.HTTPBadRequest(description="action is add, level or remove")
        except NotFound as exc:
            return error_page(req, resp, exc, falcon.HTTP_404)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org}/scope")


def _describe(schedule: Schedule | None, manifest: dict[str, Any], default: int) -> str:
    """Where a boefje's schedule comes from, in words."""
    if schedule is not None:
        return f"cron {schedule.cron}" if schedule.cron else f"every {schedule.interval} s"
    if manifest.get("cron"):
        return f"cron {manifest['cron']} (boefje.json)"
    minutes = manifest.get("interval")
    if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
        return f"every {int(minutes * 60)} s (boefje.json)"
    return f"every {default} s (KAT_DEFAULT_INTERVAL)"


class SchedulePage(_ScopeBase):
    def _show(self, req, resp, org: str, form=None, errors=None, status=falcon.HTTP_200):
        organisation = self.org(org)
        overrides = self.scopes.get(org).plugins
        boefjes = [
            {
                "id": p.id,
                "enabled": planner.enabled(self.ctx.catalogue, org, p),
                "override": overrides.get(p.id),
                "schedule": _describe(
                    overrides.get(p.id), p.manifest, self.ctx.settings.default_interval
                ),
            }
            for p in self.ctx.registry.all()
            if p.type == "boefje"
        ]
        boefjes = [b for b in boefjes if b["enabled"] or b["override"]]
        rows = list(upcoming(self.ctx.store(), org))[:UPCOMING_ROWS]
        render.page(
            req, resp, "schedule.html", status=status,
            **values(
                req, org=organisation, rows=[e.to_dict() for e in rows], boefjes=boefjes,
                form=form or {}, errors=errors or {},
            ),
        )  # fmt: skip

    def on_post(self, req, resp, org: str) -> None:
        require_operator(req)
        plugin = field(req, "plugin")
        form = {"plugin": plugin, "interval": field(req, "interval").strip(),
                "cron": field(req, "cron").strip()}  # fmt: skip
        try:
            self.org(org)
            if plugin not in self.ctx.registry.plugins:
                raise NotFound(f"no plugin {plugin!r}")
            if field(req, "action") == "clear":
                entry = None
            else:
                entry = {k: form[k] for k in ("interval", "cron") if form[k]}
            try:
                self.scopes.set_schedule(org, plugin, entry)
            except ValueError as exc:  # InvalidValue: shown next to the plugin's fields
                return self._show(req, resp, org, form, {plugin: str(exc)}, falcon.HTTP_422)
        except NotFound as exc:
            return error_page(req, resp, exc, falcon.HTTP_404)
        except CatalogueError as exc:
            return error_page(req, resp, exc)
        if entry is None:
            flash(req, f"{plugin}: the schedule override is removed")
        else:
            flash(req, f"{plugin}: runs " + ", ".join(f"{k} {v}" for k, v in entry.items()))
        raise falcon.HTTPSeeOther(f"{PREFIX}/o/{org}/schedule")
