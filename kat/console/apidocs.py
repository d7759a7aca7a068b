"""``/docs``: the API in Swagger UI, served from the assets of the ``swagger-ui-py``
package (no CDN), with "try it out" against this server and every ``$ref`` resolved.

The page and its assets hold no data and need no token; the spec they show is the one
the API validates requests with (:mod:`kat.katalogus.spec`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import falcon

from kat.console import render
from kat.katalogus import spec

#: Swagger UI sets style attributes from script, so this page allows inline styles
#: (never inline script).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def assets() -> Path:
    return Path(str(files("swagger_ui") / "static"))


class DocsPage:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Content-Security-Policy", CSP)
        resp.set_header("X-Frame-Options", "DENY")
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.text = (
            render.environment()
            .get_template("docs.html")
            .render(title=spec.document()["info"]["title"])
        )


class DocsSpec:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = spec.resolved()


def register(app: falcon.App) -> None:
    app.add_route("/docs", DocsPage())
    app.add_route("/docs/openapi.json", DocsSpec())
    app.add_static_route("/docs/static", str(assets()))
