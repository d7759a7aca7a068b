"""kat_server_software_normalize: the software a web server names in its headers.

``Server: nginx/1.18.0 (Ubuntu)`` and ``X-Powered-By: PHP/7.4.3`` each name products as
``name/version``; every one becomes a Software and a SoftwareInstance on the input
HTTPResource. A version older than the oldest release its makers still support
(``supported_versions.yaml`` beside this file, reviewed data) adds KAT-OUTDATED-SOFTWARE on
the SoftwareInstance, as OpenKAT's nikto normalizer reports outdated software.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from packaging.version import InvalidVersion, Version

from kat.ooi import (
    OOI,
    Finding,
    HTTPResource,
    KATFindingType,
    Software,
    SoftwareInstance,
    from_input_dict,
)
from kat.pluginkit import json_raw

#: Oldest supported release per product (lower-case name).
SUPPORTED = {
    str(name).lower(): str(version)
    for name, version in yaml.safe_load(
        Path(__file__).with_name("supported_versions.yaml").read_text("utf-8")
    ).items()
}
_PRODUCT = re.compile(r"([A-Za-z][\w.+-]*)/(\d[\w.+~-]*)")
BANNER_HEADERS = ("server", "x-powered-by")


def products(banner: str) -> list[tuple[str, str]]:
    """(name, version) of every ``name/version`` in a banner, in order."""
    return [(name, version.rstrip(".")) for name, version in _PRODUCT.findall(banner)]


def outdated(name: str, version: str) -> str | None:
    """The oldest supported release when ``version`` is older, else None."""
    oldest = SUPPORTED.get(name.lower())
    if oldest is None:
        return None
    try:
        numeric = re.match(r"\d+(?:\.\d+)*", version)
        return oldest if numeric and Version(numeric[0]) < Version(oldest) else None
    except InvalidVersion:
        return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    data = json_raw(raw, "openkat-http/headers raw is not JSON")
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        data = data["response"].get("headers")
    if not isinstance(data, dict):
        raise ValueError("openkat-http/headers raw: no header object found")
    banners = [str(v) for k, v in data.items() if str(k).lower() in BANNER_HEADERS]
    found = [p for banner in banners for p in products(banner) if "|" not in "".join(p)]
    if not found:
        return
    resource = from_input_dict(input_ooi)
    if not isinstance(resource, HTTPResource):
        raise ValueError(f"expected an HTTPResource input, got {resource.object_type}")
    for name, version in found:
        software = Software(name=name, version=version)
        instance = SoftwareInstance(ooi=resource, software=software)
        yield software
        yield instance
        oldest = outdated(name, version)
        if oldest:
            finding_type = KATFindingType(id="KAT-OUTDATED-SOFTWARE")
            yield finding_type
            yield Finding(
                finding_type=finding_type,
                ooi=instance,
                description=f"{name}/{version} is older than {oldest}, "
                f"the oldest release its makers still support.",
            )
