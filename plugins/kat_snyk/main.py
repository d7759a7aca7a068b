"""snyk: known vulnerabilities of a piece of (npm) software from Snyk's vulnerability pages.

Reads ``<SNYK_BASE_URL>/vuln/npm:<name>``: its direct-vulnerabilities table (each
vulnerability with the versions it affects) and its versions table. For every
vulnerability whose range holds the software's version, the vulnerability's own page is
read for a CVE id. Raw, as OpenKAT's: ``{"table_versions": [...], "table_vulnerabilities":
[...], "cve_vulnerabilities": [...]}``, read by ``kat_snyk_normalize``. Pages are parsed
with the standard library's HTML parser; an unknown package gives empty lists.
"""

from __future__ import annotations

import json
import os
import re
import time
from functools import partial
from html.parser import HTMLParser

import httpx

from kat.pluginkit import timeout, within

DEFAULT_TIMEOUT = 60.0
#: Vulnerability pages read at most for CVE ids (one request each).
MAX_DETAIL_PAGES = 25


class Tables(HTMLParser):
    """Every ``<table>``: its attributes, header texts, and rows of cells (text, links);
    and the text of elements whose class is ``cve``."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self.cves: list[str] = []
        self._cell: dict | None = None
        self._header: list[str] | None = None
        self._in_thead = False
        self._link: list | None = None
        self._cve_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self._cve_depth:
            self._cve_depth += 1
        elif "cve" in (attrs.get("class") or "").split():
            self._cve_depth = 1
            self.cves.append("")
        if tag == "table":
            self.tables.append({"attrs": attrs, "headers": [], "rows": [], "thead_row_classes": []})
        elif not self.tables:
            return
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tr":
            if self._in_thead:
                self.tables[-1]["thead_row_classes"].append(attrs.get("class") or "")
            else:
                self.tables[-1]["rows"].append([])
        elif tag == "th" and self._in_thead:
            self._header = []
        elif tag == "td" and self.tables[-1]["rows"]:
            self._cell = {"text": "", "links": []}
        elif tag == "a" and self._cell is not None:
            self._link = [attrs.get("href") or "", ""]

    def handle_endtag(self, tag):
        if self._cve_depth:
            self._cve_depth -= 1
        if tag == "thead":
            self._in_thead = False
        elif tag == "th" and self._header is not None:
            self.tables[-1]["headers"].append("".join(self._header).strip())
            self._header = None
        elif tag == "td" and self._cell is not None:
            self.tables[-1]["rows"][-1].append(self._cell)
            self._cell = None
        elif tag == "a" and self._link is not None and self._cell is not None:
            self._cell["links"].append((self._link[0], self._link[1].strip()))
            self._link = None

    def handle_data(self, data):
        if self._cve_depth and self.cves:
            self.cves[-1] += data
        if self._header is not None:
            self._header.append(data)
        if self._cell is not None:
            self._cell["text"] += data
        if self._link is not None:
            self._link[1] += data


def _parts(version: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.\-+]", version.strip()) if p]


def _compare(a: str, b: str) -> int:
    for x, y in zip(_parts(a), _parts(b), strict=False):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return -1 if x < y else 1
        return -1 if str(x) < str(y) else 1
    return (len(_parts(a)) > len(_parts(b))) - (len(_parts(a)) < len(_parts(b)))


_OPS = {
    "<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0,
    ">=": lambda c: c >= 0, "=": lambda c: c == 0, "": lambda c: c == 0,
}  # fmt: skip


def version_in(version: str, ranges: str) -> bool:
    """Whether ``version`` is in Snyk's ``ranges`` (``<4.17.17``, ``>=1.0.0 <2.0.0``,
    ``[1.1,1.4)``, ``*``; alternatives separated by commas)."""
    text = ranges.strip()
    if text == "*":
        return True
    for low_b, low, high, high_b in re.findall(
        r"([\[(])\s*([^,\])]*)\s*,\s*([^\])]*)\s*([\])])", text
    ):
        lower_ok = not low or _compare(version, low) >= (0 if low_b == "[" else 1)
        upper_ok = not high or _compare(version, high) <= (0 if high_b == "]" else -1)
        if lower_ok and upper_ok:
            return True
    text = re.sub(r"[\[(][^\])]*[\])]", "", text)
    for alternative in filter(None, (a.strip() for a in text.split(","))):
        bounds = re.findall(r"(<=|>=|<|>|=)?\s*([0-9A-Za-z][0-9A-Za-z.\-+]*)", alternative)
        if bounds and all(_OPS[op](_compare(version, v)) for op, v in bounds):
            return True
    return False


def _get(url: str, deadline: float) -> str:
    left = deadline - time.monotonic()
    if left <= 0:
        raise RuntimeError(f"snyk: out of time before {url}")
    fetch = partial(httpx.get, url, timeout=left, follow_redirects=True)
    try:
        response = within(left, fetch)
    except (httpx.HTTPError, TimeoutError) as exc:
        raise RuntimeError(f"snyk: no answer from {url}: {exc or 'timed out'}") from None
    if response.status_code == 404:
        return ""
    if response.status_code == 429:
        retry = response.headers.get("Retry-After", "an unknown time")
        raise RuntimeError(f"snyk: rate limited (429), retry after {retry} s")
    if response.status_code != 200:
        raise RuntimeError(f"snyk: unexpected answer {response.status_code} from {url}")
    return response.text


def _parse(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    parser.close()
    return parser


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    software = boefje_meta["arguments"]["input"]["software"]
    name, version = software["name"], software.get("version") or ""
    base = (os.environ.get("SNYK_BASE_URL") or "https://snyk.io").rstrip("/")
    deadline = time.monotonic() + timeout(DEFAULT_TIMEOUT)
    result: dict[str, list[dict]] = {
        "table_versions": [], "table_vulnerabilities": [], "cve_vulnerabilities": [],
    }  # fmt: skip
    page = _parse(_get(f"{base}/vuln/npm:{name.lower().replace(' ', '-')}", deadline))
    details = 0
    for table in page.tables:
        headers = table["headers"]
        rows = [dict(zip(headers, row, strict=False)) for row in table["rows"]]
        if any("vue--table__row" in c for c in table["thead_row_classes"]):
            for row in rows:
                vuln, versions = row.get("Vulnerability"), row.get("Vulnerable Version")
                if not vuln or not versions or not vuln["links"]:
                    continue
                info = {
                    "Vuln_href": vuln["links"][0][0].rstrip("/").split("/")[-1],
                    "Vuln_text": vuln["text"].strip()[2:].strip(),
                    "Vuln_versions": versions["text"].strip(),
                }
                if not version or not version_in(version, info["Vuln_versions"]):
                    continue
                cve = ""
                if details < MAX_DETAIL_PAGES:
                    details += 1
                    detail = _parse(_get(f"{base}/vuln/{info['Vuln_href']}", deadline))
                    cve = detail.cves[0].strip().split("\n")[0].strip() if detail.cves else ""
                if cve.startswith("CVE-"):
                    result["cve_vulnerabilities"].append(
                        {"cve_code": cve, "Vuln_text": info["Vuln_text"]}
                    )
                else:
                    result["table_vulnerabilities"].append(info)
        elif table["attrs"].get("data-vue") == "vulns-version-table":
            for row in rows:
                cell = row.get("Version")
                if not cell or not cell["links"]:
                    continue
                result["table_versions"].append(
                    {
                        "Version_href": cell["links"][0][0].rstrip("/").split("/")[-1],
                        "Version_text": cell["links"][0][1],
                        "is_latest": len(cell["links"]) == 2 and cell["links"][1][1] == "Latest",
                    }
                )
    return [(set(), json.dumps(result))]
