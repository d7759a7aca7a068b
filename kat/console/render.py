"""HTML out: the Jinja2 templates shipped in this package, and plugins' Markdown.

Autoescaping is on for every template; Markdown is rendered with raw HTML turned off,
so a plugin's ``description.md`` cannot inject markup or script.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import falcon
import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False})


def markdown(text: str) -> Markup:
    return Markup(_markdown.render(text))


def _query(base: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kat.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["q"] = lambda s: quote(str(s), safe="")
    env.globals["query"] = _query
    return env


def page(
    req: falcon.Request, resp: falcon.Response, template: str, status: str = falcon.HTTP_200,
    **values: Any,
) -> None:  # fmt: skip
    """Render ``template`` into ``resp`` with the session's user and CSRF token."""
    session = getattr(req.context, "session", {}) or {}
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = (
        environment()
        .get_template(template)
        .render(
            user=getattr(req.context, "user", None),
            csrf=session.get("csrf", ""),
            path=req.path,
            **values,
        )
    )
