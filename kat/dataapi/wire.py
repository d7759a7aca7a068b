"""What every data API resource shares: the store (opened lazily, once per process),
JSON bodies checked against ``openapi.yaml``, and replies remembered per
``Idempotency-Key`` so a retried write is answered, not made again."""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Callable
from typing import Any

import falcon

from kat.config import Settings
from kat.katalogus import spec
from kat.store import Store, StoreError, open_store

#: Largest data API request body, in bytes (raws travel base64-encoded in JSON).
MAX_BODY = 64 * 1024 * 1024

#: Header naming one write attempt; the same key gets the same answer.
IDEMPOTENCY_KEY = "Idempotency-Key"


class StoreHolder:
    """The server's store, opened on first use in each (forked) gunicorn worker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        if self._store is None or self._pid != os.getpid():
            with self._lock:
                if self._store is None or self._pid != os.getpid():
                    if self.settings.data_api:
                        raise falcon.HTTPServiceUnavailable(
                            description="this server has KAT_DATA_API set: the data API"
                            " serves a database (KAT_DATABASE_URL), not another data API"
                        )
                    try:
                        self._store = open_store(self.settings.database_url)
                    except StoreError as exc:
                        raise falcon.HTTPServiceUnavailable(
                            description=f"the store cannot be opened: {exc}"
                        ) from None
                    self._pid = os.getpid()
        return self._store


def read_json(req: falcon.Request) -> Any:
    """The JSON body, checked against the route's schema in ``openapi.yaml``."""
    if req.content_length is not None and req.content_length > MAX_BODY:
        raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
    raw = req.bounded_stream.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise falcon.HTTPContentTooLarge(description=f"request body is over {MAX_BODY} bytes")
    try:
        body = json.loads(raw) if raw.strip() else None
        # Lone surrogates are not Unicode; NaN and Infinity (or 1e400) are not JSON.
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeError) as exc:
        raise falcon.HTTPBadRequest(description=f"request body is not JSON: {exc}") from None
    except RecursionError:
        raise falcon.HTTPBadRequest(description="request body is nested too deeply") from None
    template = req.uri_template or ""
    if (template, req.method) in spec.body_validators():
        if body is None:
            raise falcon.HTTPBadRequest(description="a JSON request body is required")
        reason = spec.body_error(template, req.method, body)
        if reason:
            raise falcon.HTTPBadRequest(description=reason)
    return body


def decode_base64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError):
        raise falcon.HTTPBadRequest(description=f"{where}: not base64") from None


def encode_base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def send_json(resp: falcon.Response, body: Any, status: str = falcon.HTTP_200) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.data = json.dumps(body).encode()


def once(
    req: falcon.Request, resp: falcon.Response, store: Store, write: Callable[[], Any],
    status: str = falcon.HTTP_200,
) -> None:  # fmt: skip
    """Answer with ``write()``'s result; with an ``Idempotency-Key`` header the first
    answer is remembered and a retry with the same key gets it without writing again."""
    key = req.get_header(IDEMPOTENCY_KEY)
    if key is not None and not (0 < len(key) <= 200):
        raise falcon.HTTPBadRequest(description=f"{IDEMPOTENCY_KEY}: 1 to 200 characters")
    scoped = f"{req.method} {req.path} {key}" if key else None
    if scoped:
        earlier = store.recall_reply(scoped)  # type: ignore[attr-defined]
        if earlier is not None:
            resp.set_header("Idempotent-Replayed", "true")
            send_json(resp, json.loads(earlier), status)
            return
    result = write()
    if scoped:
        store.keep_reply(scoped, json.dumps(result))  # type: ignore[attr-defined]
    send_json(resp, result, status)
