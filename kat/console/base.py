"""What every console page shares: the catalogue, the plugin registry, the store path
and the process's settings, plus small helpers for forms and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from kat.catalogue import BrokenFile, Catalogue, Exists, NotFound, SealedValueError
from kat.config import Settings
from kat.console import data, render
from kat.katalogus.registry import PluginRegistry
from kat.store import Store


@dataclass
class Context:
    settings: Settings
    catalogue: Catalogue
    registry: PluginRegistry

    def store(self) -> Store:
        return data.store(self.settings.database_url)


_STATUS = [
    (NotFound, falcon.HTTP_404),
    (Exists, falcon.HTTP_409),
    (BrokenFile, falcon.HTTP_503),
    (SealedValueError, falcon.HTTP_503),
]


class Page:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def org(self, org: str) -> dict[str, str]:
        return self.ctx.catalogue.organisation(org)


def field(req: falcon.Request, name: str, default: str = "") -> str:
    value = getattr(req.context, "form", {}).get(name, default)
    return value[-1] if isinstance(value, list) else str(value)


def fields(req: falcon.Request, name: str) -> list[str]:
    value = getattr(req.context, "form", {}).get(name, [])
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def page_number(req: falcon.Request) -> int:
    return req.get_param_as_int("page", min_value=1, default=1)


def flash(req: falcon.Request, message: str, kind: str = "ok") -> None:
    """A message shown once on the next page (kept in the signed session)."""
    req.context.session["flash"] = [kind, message[:500]]


def take_flash(req: falcon.Request) -> list[str] | None:
    return req.context.session.pop("flash", None)


def error_page(
    req: falcon.Request, resp: falcon.Response, exc: Exception, status: str = falcon.HTTP_400
) -> None:
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            status = code
            break
    render.page(req, resp, "error.html", status=status, message=str(exc), flash=None)


def values(req: falcon.Request, **extra: Any) -> dict[str, Any]:
    return {"flash": take_flash(req), **extra}
