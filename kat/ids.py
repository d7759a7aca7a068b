"""The one id rule: organisation, repository, plugin and catalogue ids.

``[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}`` without ``..``: safe as a file name, a queue name
and a log word. The models, the catalogue, plugin discovery and the API all check ids
here, so a name one of them accepts is never refused (or used as a path) by another.
"""

from __future__ import annotations

import re
from typing import Any

#: The id pattern, as JSON Schema and OpenAPI write it.
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)


def is_id(value: Any) -> bool:
    """True when ``value`` is a string that is a valid id (never a path)."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None and ".." not in value


def id_problem(value: Any, what: str = "id") -> str | None:
    """Why ``value`` is no valid id (naming ``what``), or None."""
    if is_id(value):
        return None
    return f"{what} {value!r:.80} does not match {ID_PATTERN} (and holds no '..')"
