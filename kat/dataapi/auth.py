"""The data API's token: one bearer token for workers, apart from the KATalogus token.

Scope (docs/multi-machine.md): the worker token opens ``/v1/data/*``, ``/bytes/*`` and
``POST /token`` and nothing else, and the KATalogus token does not open them. So a worker
machine can report jobs and write raws and objects, but cannot change the catalogue;
what settings it reads is up to the KATalogus token it is given (if any).

The check runs before routing, so every data path, known or not and whatever the id in
it, answers 401 alike without the token: no route tells whether an id exists. With no
token configured the data API is off and every data route answers 401.
"""

from __future__ import annotations

import hmac

import falcon

#: Path prefixes of the data API.
PREFIXES = ("/v1/data", "/bytes", "/token")

#: The route that trades OpenKAT Bytes' username/password form for the token.
TOKEN_PATH = "/token"


def is_data_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PREFIXES)


def token_matches(given: str, expected: str | None) -> bool:
    """Constant-time comparison; False when no token is configured."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header (OpenKAT sends ``bearer``)."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class DataTokenAuth:
    """Every data path but ``POST /token`` needs ``Authorization: Bearer <KAT_DATA_API_TOKEN>``."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if not is_data_path(req.path) or req.path == TOKEN_PATH:
            return
        if not token_matches(bearer(req.get_header("Authorization")), self.token):
            raise falcon.HTTPUnauthorized(
                description="a valid bearer token is required (KAT_DATA_API_TOKEN)"
                if self.token
                else "the data API is off: set KAT_DATA_API_TOKEN on the server",
                challenges=["Bearer"],
            )
