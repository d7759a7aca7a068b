"""leakix: what LeakIX knows of an IP address or hostname: leaks and services.

Asks LeakIX's search API (``/search?scope=leak|service&q=+ip:<ip>`` or
``+host:"<name>"``) page by page, with the key ``LEAKIX_API``, and keeps every event as
OpenKAT's raw (a JSON list of LeakIX events), read by ``kat_leakix_normalize``.
"""

from __future__ import annotations

import json
import os
import time
from functools import partial
from urllib.parse import quote_plus

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


#: Pages fetched per scope at most (LeakIX gives 20 events a page).
MAX_PAGES = 10


def query(input_: dict) -> str:
    if input_["object_type"] in ("IPAddressV4", "IPAddressV6"):
        return quote_plus(f"+ip:{input_['address']}")
    if input_["object_type"] == "Hostname":
        return quote_plus(f'+host:"{input_["name"]}"')
    raise ValueError(f"leakix: expected an IP address or a hostname, got {input_['object_type']}")


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    base = (os.environ.get("LEAKIX_BASE_URL") or "https://leakix.net").rstrip("/")
    headers = {"Accept": "application/json", "api-key": os.environ.get("LEAKIX_API", "")}
    seconds = timeout(DEFAULT_TIMEOUT)
    q = query(boefje_meta["arguments"]["input"])
    results = []
    for scope in ("leak", "service"):
        for page in range(MAX_PAGES):
            url = f"{base}/search?scope={scope}&q={q}&page={page}"
            response = get("LeakIX", url, seconds, headers=headers)
            events = response.json() if response.content else None
            events = [e for e in events or [] if isinstance(e, dict) and e.get("event_fingerprint")]
            if not events:
                break
            results.extend(events)
    return [(set(), json.dumps(results))]
