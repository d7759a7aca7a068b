"""kat_manual_ooi: declare objects written in OpenKAT's serialized JSON form.

The raw (mime type ``manual/ooi``) is a JSON list of ``{"ooi": {"object_type": …,
"primary_key": …, fields…}}`` (a bare object, or one such item, is accepted too). Each
object is yielded marked as a declaration. An item that does not describe a valid object
is an error naming its position.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, declare, from_serialized
from kat.pluginkit import json_raw


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "manual/ooi raw is not JSON")
    items = data if isinstance(data, list) else [data]
    for number, item in enumerate(items):
        form = item.get("ooi", item) if isinstance(item, dict) else item
        try:
            yield declare(from_serialized(form))
        except ValueError as exc:
            raise ValueError(f"manual/ooi item {number}: {exc}") from None
