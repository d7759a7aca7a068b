"""kat_missing_headers_normalize: findings for the security headers a response lacks.

OpenKAT draws these from the HTTPHeader objects with its ``missing-headers`` rule; kat has
no rules engine, so this normalizer applies the same rule to the same raw the headers
normalizer reads (``openkat-http/headers``), on the input HTTPResource:

- a redirect (a ``Location`` header) is not judged;
- KAT-NO-HSTS when an https resource lacks Strict-Transport-Security;
- KAT-NO-CSP when a response that can carry script (HTML, XHTML, XML, SVG) lacks
  Content-Security-Policy;
- KAT-NO-X-FRAME-OPTIONS, KAT-NO-PERMISSIONS-POLICY, KAT-NO-REFERRER-POLICY,
  KAT-NO-X-CONTENT-TYPE-OPTIONS when those headers are missing;
- KAT-NONSTANDARD-HEADERS for headers such as X-Forwarded-For or Pragma.
"""

from __future__ import annotations

from collections.abc import Iterator

from kat.ooi import OOI, Finding, HTTPResource, KATFindingType, from_input_dict
from kat.pluginkit import json_raw

#: Headers a response should not send.
NONSTANDARD = ("x-forwarded-host", "x-forwarded-proto", "x-dns-prefetch-control",
               "x-forwarded-for", "x-robots-tag", "pragma", "warning")  # fmt: skip
#: Content types in which injected script runs.
SCRIPT_CAPABLE = ("text/html", "application/xhtml+xml", "application/xml", "text/xml",
                  "image/svg+xml")  # fmt: skip
#: Header -> the finding when it is missing, for every resource.
ALWAYS = {
    "x-frame-options": "KAT-NO-X-FRAME-OPTIONS",
    "permissions-policy": "KAT-NO-PERMISSIONS-POLICY",
    "referrer-policy": "KAT-NO-REFERRER-POLICY",
    "x-content-type-options": "KAT-NO-X-CONTENT-TYPE-OPTIONS",
}


def _headers(raw: bytes) -> dict[str, str]:
    data = json_raw(raw, "openkat-http/headers raw is not JSON")
    if isinstance(data, dict) and isinstance(data.get("response"), dict):
        data = data["response"].get("headers")
    if not isinstance(data, dict):
        raise ValueError("openkat-http/headers raw: no header object found")
    return {str(k).lower(): ", ".join(map(str, v)) if isinstance(v, list) else str(v)
            for k, v in data.items()}  # fmt: skip


def missing(headers: dict[str, str], scheme: str) -> list[tuple[str, str]]:
    """(finding type id, description) for each rule the headers break."""
    if not headers or "location" in headers:
        return []
    found = []
    if scheme != "http" and "strict-transport-security" not in headers:
        found.append(("KAT-NO-HSTS", "strict-transport-security"))
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in SCRIPT_CAPABLE and "content-security-policy" not in headers:
        found.append(("KAT-NO-CSP", "content-security-policy"))
    found += [(finding, header) for header, finding in ALWAYS.items() if header not in headers]
    result = [(f, f"Header {h} is missing or not configured correctly.") for f, h in found]
    used = sorted(h for h in headers if h in NONSTANDARD)
    if used:
        result.append(("KAT-NONSTANDARD-HEADERS", f"Avoid these headers: {', '.join(used)}"))
    return result


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    headers = _headers(raw)
    resource = from_input_dict(input_ooi)
    if not isinstance(resource, HTTPResource):
        raise ValueError(f"expected an HTTPResource input, got {resource.object_type}")
    for finding_id, description in missing(headers, resource.web_url.scheme):
        finding_type = KATFindingType(id=finding_id)
        yield finding_type
        yield Finding(finding_type=finding_type, ooi=resource, description=description)
