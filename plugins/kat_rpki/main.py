"""rpki: is a public IP address covered by a ROA, and do BGP announcements match it?

Downloads two public data files and keeps them in a cache folder shared by the jobs of
this worker (``CACHE_DIR``), refreshed when older than ``RPKI_CACHE_TIMEOUT`` seconds
(0: every run): rpki-client's validated ROA payloads (``RPKI_SOURCE_URL``,
``vrps.json``) and the BGP table (``BGP_SOURCE_URL``, JSON lines of ``{"CIDR", "ASN"}``).
Raws, as OpenKAT's: ``rpki/results`` (the ROAs covering the address, whether any
exists, the BGP entries and those announced by an AS without a ROA), and the two
caches' metadata (``rpki/cache-meta``, ``rpki/bgp-cache-meta``: time, source, hash).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from kat.pluginkit import timeout

DEFAULT_TIMEOUT = 120.0
DEFAULT_CACHE_DIR = "/var/tmp/kat-rpki"
RPKI_SOURCE_URL = "https://console.rpki-client.org/vrps.json"
BGP_SOURCE_URL = "https://bgp.tools/table.jsonl"
CACHE_TIMEOUT = 1800


def cache_dir() -> Path:
    folder = Path(os.environ.get("CACHE_DIR") or DEFAULT_CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o755)
    return folder


def fresh(meta_path: Path, source: str) -> bool:
    """The cached file is younger than RPKI_CACHE_TIMEOUT and came from ``source``."""
    try:
        meta = json.loads(meta_path.read_text())
        made = datetime.fromisoformat(meta["timestamp"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    max_age = int(os.environ.get("RPKI_CACHE_TIMEOUT") or CACHE_TIMEOUT)
    return meta.get("source") == source and (datetime.now(UTC) - made).total_seconds() < max_age


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` atomically: a job killed half-way never leaves half a file."""
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as temp:
        temp.write(data)
    os.replace(temp.name, path)


def cached(name: str, source: str, seconds: float) -> tuple[bytes, dict]:
    """The data file ``name`` (downloaded again when stale) and its metadata."""
    folder = cache_dir()
    data_path, meta_path = folder / name, folder / f"{name}.meta.json"
    if data_path.is_file() and fresh(meta_path, source):
        return data_path.read_bytes(), json.loads(meta_path.read_text())
    headers = {"User-Agent": os.environ.get("USERAGENT") or "OpenKAT"}
    try:
        response = httpx.get(source, headers=headers, timeout=seconds, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"rpki: cannot download {source}: {exc}") from None
    if response.status_code != 200:
        raise RuntimeError(f"rpki: {source} answered {response.status_code}")
    algorithm = os.environ.get("HASHFUNC") or "sha256"
    meta = {
        "timestamp": datetime.now(UTC).isoformat(),
        "source": source,
        "hash": hashlib.new(algorithm, response.content).hexdigest(),
        "hash_algorithm": algorithm,
    }
    _write(data_path, response.content)
    _write(meta_path, json.dumps(meta).encode())
    return response.content, meta


def _covers(ip, prefix: str) -> bool:
    try:
        return ip in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    ip = ipaddress.ip_address(boefje_meta["arguments"]["input"]["address"])
    if not ip.is_global:  # a private address needs no ROA
        return [(set(), json.dumps("IP address is private, no need for RPKI validation"))]
    seconds = timeout(DEFAULT_TIMEOUT)
    started = time.monotonic()
    rpki_source = os.environ.get("RPKI_SOURCE_URL") or RPKI_SOURCE_URL
    bgp_source = os.environ.get("BGP_SOURCE_URL") or BGP_SOURCE_URL
    rpki_raw, rpki_meta = cached("vrps.json", rpki_source, seconds)
    left = max(seconds - (time.monotonic() - started), 1.0)
    bgp_raw, bgp_meta = cached("bgp.jsonl", bgp_source, left)
    try:
        vrps = json.loads(rpki_raw)
        bgp = [json.loads(line) for line in bgp_raw.decode().splitlines() if line.strip()]
    except ValueError as exc:
        raise RuntimeError(f"rpki: a cached data file is not JSON: {exc}") from None

    roas = [
        {
            "prefix": roa["prefix"],
            "expires": datetime.fromtimestamp(roa["expires"], UTC).strftime("%Y-%m-%dT%H:%M%z"),
            "ta": roa["ta"],
            "asn": roa["asn"],
        }
        for roa in (vrps.get("roas") or [] if isinstance(vrps, dict) else [])
        if _covers(ip, roa["prefix"])
    ]
    bgp_entries, invalid = [], []
    if roas:
        asns = {roa["asn"] for roa in roas}
        bgp_entries = [e for e in bgp if _covers(ip, e["CIDR"])]
        invalid_asns = sorted({e["ASN"] for e in bgp_entries} - asns)
        invalid = [{"ip": str(ip), "asn": asn} for asn in invalid_asns]
    results = {
        "vrps_records": roas,
        "exists": bool(roas),
        "bgp_entries": bgp_entries,
        "invalid_bgp_entries": invalid,
    }
    return [
        ({"rpki/results"}, json.dumps(results)),
        ({"rpki/cache-meta"}, json.dumps(rpki_meta)),
        ({"rpki/bgp-cache-meta"}, json.dumps(bgp_meta)),
    ]
