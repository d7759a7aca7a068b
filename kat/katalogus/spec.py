"""The OpenAPI document the API is built from: request bodies are validated against its
schemas, and ``/docs`` shows it (every ``$ref`` resolved) in Swagger UI."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

#: The spec, shipped as package data.
SPEC_PATH = Path(__file__).with_name("openapi.yaml")

_METHODS = ("get", "post", "put", "patch", "delete")


@cache
def text() -> str:
    return SPEC_PATH.read_text(encoding="utf-8")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(text())


@cache
def body_validators() -> dict[tuple[str, str], jsonschema.protocols.Validator]:
    """A validator for each ``(path template, METHOD)`` with a JSON request body."""
    spec = document()
    registry = Registry().with_resource(
        "urn:kat:openapi", Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    validators = {}
    for template, item in spec["paths"].items():
        for method in _METHODS:
            body = (item.get(method) or {}).get("requestBody")
            if not body or "application/json" not in body["content"]:
                continue
            schema = body["content"]["application/json"]["schema"]
            if "$ref" in schema:
                schema = {"$ref": "urn:kat:openapi" + schema["$ref"]}
            validators[(template, method.upper())] = jsonschema.Draft202012Validator(
                schema, registry=registry
            )
    return validators


@cache
def query_validators() -> dict[tuple[str, str], dict[str, jsonschema.protocols.Validator]]:
    """Validators of the string and integer query parameters of each ``(template, METHOD)``."""
    out: dict[tuple[str, str], dict[str, jsonschema.protocols.Validator]] = {}
    for template, item in document()["paths"].items():
        for method in _METHODS:
            params = (item.get(method) or {}).get("parameters") or []
            found = {
                p["name"]: jsonschema.Draft202012Validator(p["schema"])
                for p in params
                if p.get("in") == "query" and p.get("schema", {}).get("type") in _QUERY_TYPES
            }
            if found:
                out[(template, method.upper())] = found
    return out


#: Query parameter types checked here (Falcon parses booleans itself).
_QUERY_TYPES = ("string", "integer")


def query_error(template: str, method: str, params: dict[str, Any]) -> str | None:
    """Why the query string does not fit the spec for this route, or None when it does."""
    validators = query_validators().get((template, method), {})
    for name, check in validators.items():
        given = params.get(name)
        for value in given if isinstance(given, list) else [given]:
            if value is None:
                continue
            instance: Any = value
            if check.schema["type"] == "integer":
                try:
                    instance = int(value)
                except ValueError:
                    return f"query parameter {name}: must be a whole number"
            error = jsonschema.exceptions.best_match(check.iter_errors(instance))
            if error is not None:
                rule, limit = error.validator, error.validator_value
                return f"query parameter {name}: does not satisfy {rule!r} {limit!r}"
    return None


def body_error(template: str, method: str, body: Any) -> str | None:
    """Why ``body`` does not fit the spec for this route, or None when it does."""
    validator = body_validators().get((template, method))
    if validator is None:
        return None
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"request body{' at ' + where if where else ''}: {error.message[:300]}"


def _inline(node: Any, spec: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str) and target.startswith("#/") and target not in seen:
            found: Any = spec
            for part in target[2:].split("/"):
                found = found[part.replace("~1", "/").replace("~0", "~")]
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**found, **extra}, spec, (*seen, target))
        return {k: _inline(v, spec, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, spec, seen) for v in node]
    return node


@cache
def resolved() -> dict[str, Any]:
    """The spec with every local ``$ref`` replaced by what it points at (``/docs`` shows
    this one, so no request body or response reads as an unresolved reference)."""
    spec = document()
    out = {k: v for k, v in spec.items() if k != "components"}
    out = _inline(out, spec)
    if "components" in spec:  # security schemes stay referable by name
        out["components"] = {k: v for k, v in spec["components"].items() if k == "securitySchemes"}
    return out
