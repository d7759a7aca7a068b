"""The KATalogus Falcon app: ``create_app(settings)`` builds it, ``get_app()`` reads the
environment for gunicorn (``gunicorn -c gunicorn.conf.py 'kat.katalogus.app:get_app()'``)."""

from __future__ import annotations

import logging

import falcon

from kat import config, console
from kat.catalogue import Catalogue
from kat.config import Settings
from kat.dataapi import PREFIXES as DATA_PREFIXES
from kat.dataapi import register as register_data_api
from kat.dataapi import worker_reads
from kat.katalogus import resources as r
from kat.katalogus import scope as scope_routes
from kat.katalogus import spec
from kat.katalogus import tasks as task_routes
from kat.katalogus.metrics import MetricsResource, RequestMetrics
from kat.katalogus.middleware import (
    API_PREFIXES,
    JSON_PREFIXES,
    CrossSiteGuard,
    JSONBody,
    TokenAuth,
    add_error_handlers,
)
from kat.katalogus.registry import PluginRegistry
from kat.katalogus.watch import Watcher

logger = logging.getLogger(__name__)

ORG = "/v1/organisations/{org}"

#: The file watcher of each app built here (Falcon apps take no extra attributes).
_watchers: dict[int, Watcher] = {}


def create_app(
    settings: Settings, catalogue: Catalogue | None = None, watch: bool = False
) -> falcon.App:
    """The app over ``settings.catalogue_dir`` and ``settings.plugins_dir``.

    ``watch`` starts the file watcher thread in this process; gunicorn does that per
    worker from ``gunicorn.conf.py``.
    """
    catalogue = catalogue or Catalogue.from_settings(settings, remember_opened=True)
    registry = PluginRegistry(settings.plugins_dir)
    metrics = RequestMetrics()
    app = falcon.App(
        middleware=[
            metrics,
            TokenAuth(
                settings.katalogus_api_token, skip=DATA_PREFIXES, allow=worker_reads(settings)
            ),
            CrossSiteGuard(API_PREFIXES),
            JSONBody(JSON_PREFIXES),
        ]
    )
    app.req_options.strip_url_path_trailing_slash = True
    metrics.router = app._router  # names the route of requests refused before routing
    add_error_handlers(app)

    shared = (catalogue, registry)
    app.add_route("/health", r.Health(*shared))
    app.add_route("/metrics", MetricsResource(metrics))
    app.add_route("/openapi.yaml", r.Spec())
    console.register(app, settings, catalogue, registry)  # the console and /docs
    app.add_route("/v1/organisations", r.Organisations(*shared))
    app.add_route(ORG, r.Organisation(*shared))
    app.add_route(f"{ORG}/repositories", r.Repositories(*shared))
    app.add_route(f"{ORG}/repositories/{{repo}}", r.Repository(*shared))
    plugins, plugin = r.Plugins(*shared), r.PluginItem(*shared)
    app.add_route(f"{ORG}/plugins", plugins)
    app.add_route(f"{ORG}/plugins/{{plugin}}", plugin)
    app.add_route(f"{ORG}/repositories/{{repo}}/plugins", plugins)
    app.add_route(f"{ORG}/repositories/{{repo}}/plugins/{{plugin}}", plugin)
    for name, media_type in (
        ("schema.json", falcon.MEDIA_JSON),
        ("cover.jpg", falcon.MEDIA_JPEG),
        ("description.md", "text/markdown; charset=utf-8"),
    ):
        asset = r.PluginAsset(*shared, name=name, media_type=media_type)
        app.add_route(f"{ORG}/plugins/{{plugin}}/{name}", asset)
    app.add_route(f"{ORG}/{{plugin}}/settings", r.Settings(*shared))
    app.add_route(f"{ORG}/{{plugin}}/settings/{{key}}", r.Setting(*shared))
    app.add_route(f"{ORG}/settings/clone/{{to_org}}", r.Clone(*shared))
    scope_routes.register(app, catalogue, ORG)  # declared scope (kat.scheduling)
    task_routes.register(app, settings)  # cancel and retry jobs, cancel scans

    register_data_api(app, settings)  # /bytes, /token, /v1/data: the store for workers
    # Build the spec's validators now, at worker boot, not in the first request's time.
    spec.body_validators()
    spec.query_validators()

    _watchers[id(app)] = Watcher(catalogue, registry)
    if watch:
        _watchers[id(app)].start()
    return app


def get_app() -> falcon.App:
    """The app as configured by the environment (for gunicorn)."""
    return create_app(config.load())


def watcher_of(app: falcon.App) -> Watcher:
    """The file watcher of an app made by :func:`create_app` (started or not)."""
    return _watchers[id(app)]
