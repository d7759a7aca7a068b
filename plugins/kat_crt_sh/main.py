"""certificate-search: certificates of a DNS zone's name in the crt.sh transparency logs.

Asks crt.sh (``/?Identity=<name>&match==&output=json&deduplicate=Y``) and keeps its
JSON list as OpenKAT's raw, read by ``kat_crt_sh_normalize`` into hostnames and the
certificates that are still valid.
"""

from __future__ import annotations

import json
import os
import time
from functools import partial

import httpx

from kat.pluginkit import timeout, within

DEFAULT_TIMEOUT = 30.0
#: A 429 whose Retry-After is at most this many seconds is waited out once.
MAX_RETRY_WAIT = 5.0


class APIError(RuntimeError):
    """The API refused or failed; the message says what happened and what to do."""


def get(
    service: str, url: str, seconds: float, ok: tuple[int, ...] = (200,), **request
) -> httpx.Response:
    """GET ``url`` within ``seconds`` overall; APIError for a refused key (401/403), a
    rate limit (429, waited out once when short) or any other unexpected answer."""
    deadline = time.monotonic() + seconds
    for attempt in (1, 2):
        left = deadline - time.monotonic()
        try:
            fetch = partial(httpx.get, url, timeout=left, follow_redirects=False, **request)
            response = within(left, fetch)
        except (httpx.TimeoutException, TimeoutError):
            raise APIError(f"{service}: no answer within {seconds:g} s from {url}") from None
        except httpx.HTTPError as exc:
            raise APIError(f"{service}: cannot reach {url}: {exc}") from None
        if response.status_code in ok:
            return response
        if response.status_code in (401, 403):
            raise APIError(f"{service}: the API key was refused ({response.status_code})")
        if response.status_code == 429:
            wait = response.headers.get("Retry-After", "")
            wait_s = float(wait) if wait.isdigit() else None
            if (
                attempt == 1
                and wait_s is not None
                and wait_s <= MAX_RETRY_WAIT
                and wait_s + 1 < left
            ):
                time.sleep(wait_s)
                continue
            raise APIError(
                f"{service}: rate limited (429), retry after {wait or 'an unknown time'} s"
            )
        raise APIError(
            f"{service}: unexpected answer {response.status_code}: {response.text[:200]!r}"
        )
    raise AssertionError("unreachable")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    name = boefje_meta["arguments"]["input"]["hostname"]["name"]
    base = (os.environ.get("CRT_SH_BASE_URL") or "https://crt.sh").rstrip("/")
    params = {"Identity": name, "match": "=", "output": "json", "deduplicate": "Y"}
    response = get("crt.sh", f"{base}/", timeout(DEFAULT_TIMEOUT), params=params)
    try:
        return [(set(), json.dumps(response.json()))]
    except ValueError:
        raise APIError(f"crt.sh: the answer is not JSON: {response.text[:200]!r}") from None
