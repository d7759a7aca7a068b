"""Request plumbing in one place: the bearer token, the cross-site guard, the body size
limit, JSON bodies and query strings checked against the spec, and every error mapped to
``{"detail": …}``.

The cross-site guard applies to the API routes (:data:`API_PREFIXES`), the JSON body to
the JSON API (:data:`JSON_PREFIXES`): the web console mounted on the same app posts HTML
forms and checks its own CSRF tokens, and the data API reads raw files itself.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import falcon

from kat import catalogue
from kat.katalogus import spec
from kat.katalogus.registry import InvalidSettings

logger = logging.getLogger(__name__)

#: Largest request body accepted, in bytes (1 MiB); larger gets 413.
MAX_BODY = 1024 * 1024

#: Routes that need no token.
OPEN_PATHS = frozenset({"/health", "/metrics", "/"})
#: Path prefixes that need no token: the console (its own login and sessions) and the
#: API docs (static assets and the spec, no data).
OPEN_PREFIXES = ("/console", "/docs")

#: Path prefixes of the API: writes there are refused when a browser sends them from
#: another site. Other routes (the console's HTML forms) are left to their own handling.
API_PREFIXES: tuple[str, ...] = ("/v1/", "/bytes/")

#: Path prefixes whose bodies are JSON, read and checked against ``openapi.yaml`` here
#: (the data API under ``/bytes/`` takes raw files as they are, and reads them itself).
JSON_PREFIXES: tuple[str, ...] = ("/v1/",)

#: Methods that change state (a browser sends them cross-site only as forms or fetches).
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: ``Sec-Fetch-Site`` values of a request a browser made from this server's own pages, or
#: typed by a person (``none``); ``same-site`` is another origin (a sibling subdomain).
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def is_api(path: str, prefixes: Iterable[str] = API_PREFIXES) -> bool:
    return path.startswith(tuple(prefixes))


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class TokenAuth:
    """With ``KATALOGUS_API_TOKEN`` set, every route but ``/health`` needs the bearer token."""

    def __init__(
        self,
        token: str | None,
        skip: tuple[str, ...] = (),
        allow: Callable[[Any], bool] | None = None,
    ) -> None:
        self.expected = f"Bearer {token}".encode() if token else None
        #: Path prefixes another token guards (the data API's).
        self.skip = skip
        #: Requests let through without this token (the worker token's reads).
        self.allow = allow

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        given = (req.get_header("Authorization") or "").encode()
        # Open routes answer everyone, and say more to a client with the token.
        req.context.authenticated = self.expected is None or hmac.compare_digest(
            given, self.expected
        )
        if req.context.authenticated:
            return
        if req.path in OPEN_PATHS or req.path.startswith(OPEN_PREFIXES):
            return
        if any(req.path == p or req.path.startswith(p + "/") for p in self.skip):
            return  # the data API checks its own token
        if self.allow is not None and self.allow(req):
            return  # a worker token's reads of the organisations it has jobs for
        raise falcon.HTTPUnauthorized(
            description="a valid bearer token is required (KATALOGUS_API_TOKEN)",
            challenges=["Bearer"],
        )


class CrossSiteGuard:
    """Refuses a state-changing API request that a browser sent from another site (CSRF).

    A browser names the page that made a request in ``Sec-Fetch-Site`` and ``Origin``; a
    client that is not a browser (curl, the workers, kat's CLI) sends neither and passes,
    as does a page of this very server. Without the bearer token this is what keeps a web
    page a user visits from changing the catalogue through their browser.
    """

    def __init__(self, prefixes: Iterable[str] = API_PREFIXES) -> None:
        self.prefixes = tuple(prefixes)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method not in UNSAFE_METHODS or not is_api(req.path, self.prefixes):
            return
        site = (req.get_header("Sec-Fetch-Site") or "").strip().lower()
        if site:
            # A page cannot set this header: the browser's word is final, also behind a
            # proxy that rewrites Host (where Origin and Host may differ).
            if site not in _OWN_FETCH_SITES:
                raise falcon.HTTPForbidden(
                    description=f"cross-site request refused (Sec-Fetch-Site: {site[:40]})"
                )
            return
        # Older browsers send no Sec-Fetch-Site, but an Origin on every cross-site write.
        origin = req.get_header("Origin")
        if origin is not None and not _same_origin(origin, req):
            raise falcon.HTTPForbidden(
                description=f"cross-site request refused: Origin {origin[:100]!r} is not "
                f"this server ({req.host})"
            )


def _same_origin(origin: str, req: falcon.Request) -> bool:
    """Whether ``Origin`` names the host and port the request was sent to (``null``, sent
    by sandboxed frames and some redirects, never does)."""
    try:
        parts = urlsplit(origin.strip())
        given = (parts.hostname or "", parts.port)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not given[0]:
        return False
    default = 443 if parts.scheme == "https" else 80
    host = (req.get_header("Host") or "").strip().lower()
    try:
        own = urlsplit(f"//{host}")
        expected = (own.hostname or "", own.port or default)
    except ValueError:
        return False
    return (given[0], given[1] or default) == expected


class JSONBody:
    """Reads a JSON body into ``req.context.body``, refusing oversized or malformed ones, a
    body that is not ``application/json``, and any body that does not fit the route's
    schema in ``openapi.yaml``; checks query parameters against the spec too."""

    def __init__(self, prefixes: Iterable[str] = JSON_PREFIXES) -> None:
        self.prefixes = tuple(prefixes)

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if not is_api(req.path, self.prefixes):
            return
        template = req.uri_template or ""
        if req.query_string:
            reason = spec.query_error(template, req.method, req.params)
            if reason:
                raise falcon.HTTPBadRequest(description=reason)
        if req.method not in ("POST", "PUT", "PATCH") or getattr(resource, "reads_own_body", False):
            return
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
        media_type = _media_type(req.content_type)
        # Any Content-Type but JSON is refused, even on a route without a body: an HTML
        # form (the only write a cross-site page can make without CORS) never sends JSON.
        if media_type and media_type != falcon.MEDIA_JSON:
            raise falcon.HTTPUnsupportedMediaType(
                description=f"request body must be {falcon.MEDIA_JSON}, not {media_type[:80]}"
            )
        raw = req.bounded_stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
        if raw and not media_type:
            raise falcon.HTTPUnsupportedMediaType(
                description=f"a request body needs Content-Type: {falcon.MEDIA_JSON}"
            )
        body: Any = None
        if raw.strip():
            try:
                body = json.loads(raw)
                # Lone surrogates are not Unicode; NaN and Infinity (or 1e400) are not JSON.
                json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
            except (ValueError, UnicodeError) as exc:
                raise falcon.HTTPBadRequest(
                    description=f"request body is not JSON: {exc}"
                ) from None
            except RecursionError:
                raise falcon.HTTPBadRequest(
                    description="request body is nested too deeply"
                ) from None
        if (template, req.method) in spec.body_validators():
            if body is None:
                raise falcon.HTTPBadRequest(description="a JSON request body is required")
            reason = spec.body_error(template, req.method, body)
            if reason:
                raise falcon.HTTPBadRequest(description=reason)
        req.context.body = body


def serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    """Every error as ``{"detail": "…"}``."""
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps({"detail": exc.description or exc.title}).encode()


#: Catalogue errors and their status codes (most specific first).
_STATUS: list[tuple[type[Exception], str]] = [
    (catalogue.InvalidId, falcon.HTTP_400),
    (catalogue.InvalidValue, falcon.HTTP_400),
    (catalogue.NotFound, falcon.HTTP_404),
    (catalogue.Exists, falcon.HTTP_409),
    (catalogue.Forbidden, falcon.HTTP_403),
    (InvalidSettings, falcon.HTTP_422),
    (catalogue.CatalogueError, falcon.HTTP_503),  # broken file, key problems
]


def _handle_known(req, resp, exc: Exception, params) -> None:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            if status == falcon.HTTP_503:
                logger.error("%s %s: %s", req.method, req.path, exc)
            raise falcon.HTTPError(status, description=str(exc))
    raise exc  # pragma: no cover - every handled class is listed


def _handle_unexpected(req, resp, exc: Exception, params) -> None:
    if isinstance(exc, falcon.HTTPError):
        raise exc
    logger.exception("%s %s failed", req.method, req.path)
    raise falcon.HTTPInternalServerError(description="internal error; see the KATalogus log")


def add_error_handlers(app: falcon.App) -> None:
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, _handle_unexpected)
    for cls in (catalogue.CatalogueError, InvalidSettings):
        app.add_error_handler(cls, _handle_known)
