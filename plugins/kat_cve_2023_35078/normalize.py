"""kat_CVE_2023_35078_normalize: the Ivanti EPMM version on a login page, and whether it is
vulnerable to CVE-2023-35078 (authentication bypass).

The version is the query string of ``/mifs/scripts/auth.js?`` (``VSP 11.10.0.3 Build 2``:
the word VSP dropped, everything from Build on), or, failing that, of
``/mifs/css/windowsAllAuth.css?`` (two parts only). A page with neither yields nothing.
Otherwise: Software "Ivanti EPMM" with that version, its instance on the input object,
and the CVE finding when the version is in a vulnerable range (ranges are half-open: the
end version is patched; a CSS version is vulnerable below 11.8).
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.version import InvalidVersion, Version

from kat.ooi import OOI, CVEFindingType, Finding, Software, SoftwareInstance, from_input_dict

#: [start, end) of the vulnerable versions.
VULNERABLE_RANGES = [("0", "11.8.1.1"), ("11.9.0.0", "11.9.1.1"), ("11.10.0.0", "11.10.0.2")]
_JS, _CSS = "/mifs/scripts/auth.js?", "/mifs/css/windowsAllAuth.css?"


def is_vulnerable_version(version: str | Version, ranges=VULNERABLE_RANGES) -> bool:
    """True when ``version`` lies in one of the half-open ``ranges``."""
    version = Version(str(version))
    return any(Version(start) <= version < Version(end) for start, end in ranges)


def version_after(html: str, telltale: str) -> Version | None:
    """The version in the query string that follows ``telltale``, or None."""
    start = html.find(telltale)
    if start == -1:
        return None
    end = html.find('"', start)
    if end == -1:
        return None
    words = []
    for word in html[start + len(telltale) : end].split():
        if word.lower() == "build":
            break
        if word.lower() != "vsp":
            words.append(word)
    try:
        return Version(" ".join(words)) if words else None
    except InvalidVersion:
        return None


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    html = raw.decode("utf-8", errors="replace")
    js, css = version_after(html, _JS), version_after(html, _CSS)
    if js is None and css is None:
        return
    software = Software(name="Ivanti EPMM", version=str(js or css))
    instance = SoftwareInstance(ooi=from_input_dict(input_ooi), software=software)
    yield software
    yield instance
    vulnerable = is_vulnerable_version(js) if js is not None else css < Version("11.8")
    if vulnerable:
        finding_type = CVEFindingType(id="CVE-2023-35078")
        yield finding_type
        yield Finding(
            finding_type=finding_type,
            ooi=instance,
            description="Software is most likely vulnerable to CVE-2023-35078",
        )
