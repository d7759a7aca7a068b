"""kat_webpage_analysis_headers_normalize: response headers as HTTPHeader objects.

The raw is OpenKAT's ``openkat-http/headers`` JSON: ``{"response": {"headers": {…}}, …}``
(the older flat ``{"Header": "value"}`` form is read too). The input is the HTTPResource
the headers were fetched for. A header whose name holds ``|`` cannot be part of a
reference and is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from kat.ooi import OOI, HTTPHeader, HTTPResource, from_input_dict
from kat.pluginkit import json_raw

logger = logging.getLogger(__name__)


def headers(raw: bytes) -> dict:
    """The header dict of the raw, in either of OpenKAT's layouts."""
    data = json_raw(raw, "openkat-http/headers raw is not JSON")
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        data = data["response"].get("headers")
    if not isinstance(data, dict):
        raise ValueError("openkat-http/headers raw: no header object found")
    return data


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    found = headers(raw)
    resource = from_input_dict(input_ooi)
    if not isinstance(resource, HTTPResource):
        raise ValueError(f"expected an HTTPResource input, got {resource.object_type}")
    for key, value in found.items():
        if "|" in key:
            logger.warning("skipped header %r: '|' cannot be part of a reference", key)
            continue
        values = value if isinstance(value, list) else [value]
        yield HTTPHeader(resource=resource, key=key, value=", ".join(str(v) for v in values))
