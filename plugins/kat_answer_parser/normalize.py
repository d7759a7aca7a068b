"""kat_answer_parser: an answer (``{"schema": "/bit/<bit id>", "answer": {…},
"answer_ooi": "<reference>"}``) into a Config for that business rule on that object.

A raw that is not a JSON object raises :class:`NotAnObject` (a TypeError, as OpenKAT's,
and a ValueError, as every malformed raw in kat) and an answer that is not an object a
ValueError (OpenKAT: pydantic's ValidationError), both naming the problem.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Config
from kat.pluginkit import json_raw


class NotAnObject(TypeError, ValueError):
    """The answer raw is JSON, but not an object."""


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "answer raw: not JSON")
    if not isinstance(data, dict):
        raise NotAnObject(f"answer raw: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in ("schema", "answer", "answer_ooi") if key not in data]
    if missing:
        raise ValueError(f"answer raw: missing {', '.join(missing)}")
    if not isinstance(data["answer_ooi"], str) or not data["answer_ooi"]:
        raise ValueError(f"answer raw: answer_ooi is not a reference: {data['answer_ooi']!r}")
    if not isinstance(data["schema"], str) or not data["schema"].removeprefix("/bit/"):
        raise ValueError(f"answer raw: schema does not name a business rule: {data['schema']!r}")
    bit_id = data["schema"].removeprefix("/bit/")
    yield Config(ooi=data["answer_ooi"], bit_id=bit_id, config=data["answer"])
