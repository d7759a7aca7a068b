"""Request plumbing in one place: the bearer token, the body size limit, JSON bodies
checked against the spec, and every error mapped to ``{"detail": …}``."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import falcon

from kat import catalogue
from kat.katalogus import spec
from kat.katalogus.registry import InvalidSettings

logger = logging.getLogger(__name__)

#: Largest request body accepted, in bytes (1 MiB); larger gets 413.
MAX_BODY = 1024 * 1024

#: Routes that need no token.
OPEN_PATHS = frozenset({"/health", "/metrics"})


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
        if self.expected is None or req.path in OPEN_PATHS:
            return
        if any(req.path == p or req.path.startswith(p + "/") for p in self.skip):
            return
        if self.allow is not None and self.allow(req):
            return
        given = (req.get_header("Authorization") or "").encode()
        if not hmac.compare_digest(given, self.expected):
            raise falcon.HTTPUnauthorized(
                description="a valid bearer token is required (KATALOGUS_API_TOKEN)",
                challenges=["Bearer"],
            )


class JSONBody:
    """Reads a JSON body into ``req.context.body``, refusing oversized or malformed ones
    and any body that does not fit the route's schema in ``openapi.yaml``."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if req.method not in ("POST", "PUT", "PATCH") or getattr(resource, "reads_own_body", False):
            return
        if req.content_length is not None and req.content_length > MAX_BODY:
            raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
        raw = req.bounded_stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
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
        template = req.uri_template or ""
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
