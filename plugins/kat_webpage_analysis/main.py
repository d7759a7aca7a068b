"""webpage-analysis: download one HTTP resource from the website's own IP address.

The request goes to the IP of the resource's Website, with the URL's hostname as Host
header and as TLS SNI (certificates are not validated: we look, we do not trust), and
redirects are not followed (a 301 is itself the result). Raws, as OpenKAT's:

- ``openkat-http/headers``: JSON object of the response headers (name -> value);
- ``openkat-http/response``: JSON ``{"response": …, "request": …}`` + ``\\r\\n\\r\\n`` + body;
- ``openkat-http/body`` (+ the body's content type when it is a known one): the body;
- ``application/json+har``: the exchange as an HTTP Archive (HAR 1.2) with one entry,
  which OpenKAT's wappalyzer normalizer and others read;
- ``openkat-http/error``: the reason, when no response came within TIMEOUT.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import mimetypes
import os
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import httpx

from kat.pluginkit import netloc, timeout, within

DEFAULT_TIMEOUT = 30.0
DEFAULT_USERAGENT = "OpenKAT"
#: Bodies are cut at this many bytes (the raw says so in the response JSON).
MAX_BODY = 10 * 1024 * 1024
KNOWN_CONTENT_TYPES = set(mimetypes.types_map.values())


def target(input_: dict) -> tuple[str, str, str]:
    """(URL to the IP, Host header / SNI name, URL as the resource names it)."""
    web_url = input_["web_url"]
    named = web_url["netloc"]
    host = named["address"] if "address" in named else named["name"]
    scheme, port, path = web_url["scheme"], int(web_url["port"]), web_url.get("path") or "/"
    ip = input_["website"]["ip_service"]["ip_port"]["address"]["address"]
    ip_host = f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip
    host_header = netloc(host, scheme, port)
    return (
        f"{scheme}://{ip_host}:{port}{path}",
        host_header,
        f"{scheme}://{host_header}{path}",
    )


def fetch(url: str, host_header: str, sni: str, seconds: float):
    """(response, body, truncated) within ``seconds`` overall."""
    deadline = time.monotonic() + seconds
    headers = {"Host": host_header, "User-Agent": os.environ.get("USERAGENT") or DEFAULT_USERAGENT}
    with (
        httpx.Client(
            verify=False, timeout=httpx.Timeout(seconds), follow_redirects=False
        ) as client,
        client.stream(
            "GET", url, headers=headers, extensions={"sni_hostname": sni} if sni else {}
        ) as response,
    ):
        body, truncated = bytearray(), False
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > MAX_BODY:
                del body[MAX_BODY:]
                truncated = True
                break
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout(f"the body did not arrive within {seconds:g} s")
        return response, bytes(body), truncated


def original_case_headers(response: httpx.Response) -> dict[str, str]:
    """Headers as the server spelled them; a repeated header's values joined with ", "."""
    headers: dict[str, str] = {}
    for raw_key, raw_value in response.headers.raw:
        key, value = raw_key.decode("latin-1"), raw_value.decode("latin-1")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _pairs(items) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in items]


def har(
    response: httpx.Response, body: bytes, named_url: str, started: datetime, seconds: float
) -> dict:
    """The exchange as a HAR 1.2 log with one entry (URL as the resource names it)."""
    content_type = response.headers.get("content-type", "")
    content: dict = {"size": len(body), "mimeType": content_type or "text/html"}
    try:
        content["text"] = body.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        content["text"], content["encoding"] = base64.b64encode(body).decode(), "base64"
    request = response.request
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "kat_webpage_analysis", "version": "1.0"},
            "browser": {"name": "httpx", "version": httpx.__version__},
            "entries": [
                {
                    "startedDateTime": started.isoformat(),
                    "time": round(seconds * 1000, 3),
                    "request": {
                        "method": request.method,
                        "url": named_url,
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "queryString": _pairs(parse_qsl(urlsplit(named_url).query)),
                        "headers": _pairs(request.headers.items()),
                        "headersSize": -1,
                        "bodySize": -1,
                    },
                    "response": {
                        "status": response.status_code,
                        "statusText": response.reason_phrase,
                        "httpVersion": response.http_version,
                        "cookies": _pairs(response.cookies.items()),
                        "headers": _pairs(
                            (k.decode("latin-1"), v.decode("latin-1"))
                            for k, v in response.headers.raw
                        ),
                        "content": content,
                        "redirectURL": response.headers.get("location", ""),
                        "headersSize": -1,
                        "bodySize": len(body),
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": round(seconds * 1000, 3), "receive": 0},
                }
            ],
        }
    }


def run(boefje_meta: dict) -> list[tuple[set, bytes | str]]:
    input_ = boefje_meta["arguments"]["input"]
    url, host_header, named_url = target(input_)
    sni = input_["web_url"]["netloc"].get("name") or None
    seconds = timeout(DEFAULT_TIMEOUT)
    started, clock = datetime.now().astimezone(), time.monotonic()
    try:
        response, body, truncated = within(seconds, fetch, url, host_header, sni, seconds)
    except (httpx.TimeoutException, TimeoutError) as exc:
        return [({"openkat-http/error"}, f"timed out after {seconds:g} s: {exc or url}")]
    except (httpx.HTTPError, OSError) as exc:
        return [({"openkat-http/error"}, f"{type(exc).__name__}: {exc}")]

    body_mimetypes = {"openkat-http/body"}
    content_type = response.headers.get("content-type")
    if content_type:
        for candidate in (content_type, content_type.split(";")[0].strip()):
            if candidate in KNOWN_CONTENT_TYPES:
                body_mimetypes.add(candidate)
    headers = original_case_headers(response)
    meta = {
        "response": {
            "url": named_url,
            "status_code": response.status_code,
            "headers": headers,
            "cookies": dict(response.cookies),
            "is_redirect": response.is_redirect,
            "truncated": truncated,
        },
        "request": {
            "url": named_url,
            "connected_to": url,
            "method": "GET",
            "headers": dict(response.request.headers),
        },
    }
    return [
        ({"openkat-http/response"}, json.dumps(meta).encode() + b"\r\n\r\n" + body),
        ({"openkat-http/headers"}, json.dumps(headers)),
        (body_mimetypes, body),
        (
            {"application/json+har"},
            json.dumps(har(response, body, named_url, started, time.monotonic() - clock)),
        ),
    ]
