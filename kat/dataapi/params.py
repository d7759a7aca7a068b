"""Path and query parameters of data routes checked against ``openapi.yaml`` (bodies
are checked by :func:`kat.dataapi.wire.read_json`): a value that does not fit, or a
query parameter the route does not take, is a 400 naming it."""

from __future__ import annotations

from functools import cache
from typing import Any

import falcon
import jsonschema

from kat.dataapi.auth import is_data_path
from kat.katalogus import spec


@cache
def _parameters(template: str, method: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(location, name) -> schema of the route's path and query parameters."""
    item = spec.document()["paths"].get(template) or {}
    found = {}
    for param in [
        *item.get("parameters", []),
        *(item.get(method.lower()) or {}).get("parameters", []),
    ]:
        if param["in"] in ("path", "query"):
            found[(param["in"], param["name"])] = param["schema"]
    return found


def _typed(value: Any, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        values = value if isinstance(value, list) else [value]
        return [_typed(v, schema.get("items", {})) for v in values]
    if isinstance(value, list):
        return value  # repeated where one is expected: let the schema say so
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


@cache
def _validator(template: str, method: str, location: str, name: str) -> Any:
    """The parameter's schema, compiled once (not on every request)."""
    return jsonschema.Draft202012Validator(_parameters(template, method)[(location, name)])


def _problem(where: str, value: Any, schema: dict[str, Any], validator: Any) -> str | None:
    error = jsonschema.exceptions.best_match(validator.iter_errors(_typed(value, schema)))
    return f"{where}: {error.message[:200]}" if error else None


class CheckParams:
    """Falcon middleware: refuse data route requests whose parameters miss the spec."""

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource, params):
        if resource is None or not is_data_path(req.path) or req.uri_template is None:
            return
        item = spec.document()["paths"].get(req.uri_template) or {}
        if req.method.lower() not in item:
            return  # not a documented method: Falcon answers 405
        known = _parameters(req.uri_template, req.method)

        def validator(location: str, name: str) -> Any:
            return _validator(req.uri_template, req.method, location, name)

        for name, value in params.items():
            schema = known.get(("path", name))
            if schema and (
                reason := _problem(f"path parameter {name}", value, schema, validator("path", name))
            ):
                raise falcon.HTTPBadRequest(description=reason)
        for name, value in req.params.items():
            schema = known.get(("query", name))
            if schema is None:
                raise falcon.HTTPBadRequest(description=f"unknown query parameter {name!r:.60}")
            if reason := _problem(
                f"query parameter {name}", value, schema, validator("query", name)
            ):
                raise falcon.HTTPBadRequest(description=reason)
