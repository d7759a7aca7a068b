"""The web console: server-rendered pages for operators, in the KATalogus app itself.

:func:`register` adds its routes under ``/console`` (and ``/`` redirects there), its
session middleware and its static files. Pages read the catalogue through
:mod:`kat.catalogue` and the store only through :mod:`kat.console.data`.
"""

from __future__ import annotations

import time
from pathlib import Path

import falcon

from kat.catalogue import Catalogue
from kat.config import Settings
from kat.katalogus.registry import PluginRegistry

STATIC = Path(__file__).with_name("static")


class _Home:
    def on_get(self, req, resp) -> None:
        raise falcon.HTTPSeeOther("/console")


class Login:
    def __init__(self, sessions) -> None:
        self.sessions = sessions

    def on_get(self, req, resp) -> None:
        from kat.console import render

        render.page(
            req, resp, "login.html", error="", flash=None,
            token_login=bool(self.sessions.api_token), users=bool(self.sessions.users.names()),
        )  # fmt: skip

    def on_post(self, req, resp) -> None:
        from kat.console import render
        from kat.console.base import field

        user = self.sessions.login(field(req, "name").strip(), field(req, "password"))
        if user is None:
            return render.page(
                req, resp, "login.html", status=falcon.HTTP_401, flash=None,
                error="wrong name or password", token_login=bool(self.sessions.api_token),
                users=True,
            )  # fmt: skip
        session = req.context.session
        session.clear()
        session.update(user=user.name, role=user.role, csrf=_new_token(), since=int(time.time()))
        raise falcon.HTTPSeeOther("/console")


class Logout:
    def on_post(self, req, resp) -> None:
        req.context.session.clear()
        req.context.session["csrf"] = _new_token()
        raise falcon.HTTPSeeOther("/console/login")


def _new_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


def register(
    app: falcon.App, settings: Settings, catalogue: Catalogue, registry: PluginRegistry
) -> None:
    """Add the console to the KATalogus ``app``."""
    from kat.console import apidocs, auth
    from kat.console import pages_catalogue as pc
    from kat.console import pages_control as pctl
    from kat.console import pages_scans as ps
    from kat.console import pages_scope as psc
    from kat.console import pages_store as pst
    from kat.console.base import Context
    from kat.console.users import Users

    sessions = auth.Sessions(
        auth.secret_key(settings.data_dir),
        Users(settings.catalogue_dir),
        settings.katalogus_api_token,
    )
    app.add_middleware(auth.ConsoleAuth(sessions))
    app.add_error_handler(auth.Refused, auth.show_refusal)
    ctx = Context(settings, catalogue, registry)
    p, o = auth.PREFIX, f"{auth.PREFIX}/o/{{org}}"
    app.add_route("/", _Home())
    app.add_route(f"{p}/login", Login(sessions))
    app.add_route(f"{p}/logout", Logout())
    app.add_route(p, pc.Organisations(ctx))
    app.add_route(f"{o}/delete", pc.OrganisationDelete(ctx))
    app.add_route(f"{o}/clone", pc.OrganisationClone(ctx))
    app.add_route(f"{o}/plugins", pc.Plugins(ctx))
    app.add_route(f"{o}/plugins/{{plugin}}", pc.Plugin(ctx))
    app.add_route(f"{o}/plugins/{{plugin}}/state", pc.PluginState(ctx))
    app.add_route(f"{p}/covers/{{plugin}}", pc.Cover(ctx))
    app.add_route(f"{o}/scans", ps.Scans(ctx))
    app.add_route(f"{o}/scans/{{scan_id}}", ps.ScanPage(ctx))
    app.add_route(f"{o}/scans/{{scan_id}}/cancel", pctl.ScanCancel(ctx))
    app.add_route(f"{o}/scope", psc.ScopePage(ctx))
    app.add_route(f"{o}/schedule", psc.SchedulePage(ctx))
    app.add_route(f"{o}/tasks", pst.Tasks(ctx))
    app.add_route(f"{p}/tasks/{{job_id}}", pst.Task(ctx))
    app.add_route(f"{p}/tasks/{{job_id}}/cancel", pctl.TaskCancel(ctx))
    app.add_route(f"{p}/tasks/{{job_id}}/retry", pctl.TaskRetry(ctx))
    app.add_route(f"{p}/raws/{{raw_id}}", pst.Raw(ctx))
    app.add_route(f"{p}/raws/{{raw_id}}/download", pst.RawDownload(ctx))
    app.add_route(f"{o}/objects", pst.Objects(ctx))
    app.add_route(f"{o}/object", pst.Object(ctx))
    app.add_route(f"{p}/health", ps.Health(ctx))
    app.add_static_route(f"{p}/static", str(STATIC))
    apidocs.register(app)
