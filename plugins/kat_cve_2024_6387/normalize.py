"""kat_cve_2024_6387_normalize: CVE-2024-6387 ("regreSSHion") from an SSH banner.

The raw is the banner the service sent (``SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13``); only
its first line counts. OpenSSH 8.5 up to 9.7 is vulnerable, except distribution builds
that carry the fix (Debian 12 ``deb12u3`` and later, Ubuntu ``3ubuntu13.3``,
``1ubuntu3.6``, ``3ubuntu0.10`` and later in their series).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kat.ooi import OOI, CVEFindingType, Finding, from_input_dict
from kat.pluginkit import text_raw

VULNERABLE_VERSIONS = tuple(
    f"SSH-2.0-OpenSSH_{v}"
    for v in (
        "8.5",
        "8.6",
        "8.7",
        "8.8",
        "8.9",
        "9.0",
        "9.1",
        "9.2",
        "9.3",
        "9.4",
        "9.5",
        "9.6",
        "9.7",
    )
)

#: Distribution builds: banner prefix -> first fixed package revision.
FIXED_FROM = {
    "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u": (3,),
    "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu": (13, 3),
    "SSH-2.0-OpenSSH_9.3p1 Ubuntu-1ubuntu": (3, 6),
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu": (0, 10),
}


def _revision(text: str) -> tuple[int, ...] | None:
    match = re.match(r"\d+(?:\.\d+)*", text)
    return tuple(int(part) for part in match.group().split(".")) if match else None


def is_vulnerable(banner: str) -> bool:
    """True when the SSH banner names an OpenSSH build vulnerable to CVE-2024-6387."""
    if not any(version in banner for version in VULNERABLE_VERSIONS):
        return False
    for prefix, fixed in FIXED_FROM.items():
        if banner.startswith(prefix):
            revision = _revision(banner[len(prefix) :])
            return revision is None or revision < fixed
    return True


def run(input_ooi: dict, raw: bytes) -> Iterator[OOI]:
    lines = text_raw(raw).strip().splitlines()
    banner = lines[0].strip() if lines else ""
    if not banner.startswith("SSH-2.0-OpenSSH") or not is_vulnerable(banner):
        return
    finding_type = CVEFindingType(id="CVE-2024-6387")
    yield finding_type
    yield Finding(
        finding_type=finding_type,
        ooi=from_input_dict(input_ooi),
        description="Service is most likely vulnerable to CVE-2024-6387",
    )
