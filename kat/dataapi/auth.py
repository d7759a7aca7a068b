"""The data API's token: one bearer token for workers, apart from the KATalogus token.

Scope (docs/multi-machine.md): the worker token opens ``/v1/data/*``, ``/bytes/*`` and
``POST /token``, and in the KATalogus only the reads of the jobs the store holds
(:class:`WorkerReads`); the KATalogus token does not open the data API. So a worker
machine can report jobs and write raws and objects, and read the settings of the jobs
it is handed, but cannot change the catalogue or read other settings.

The check runs before routing, so every data path, known or not and whatever the id in
it, answers 401 alike without the token: no route tells whether an id exists. With no
token configured the data API is off and every data route answers 401.
"""

from __future__ import annotations

import hmac
import re

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


#: The KATalogus reads a worker makes for a job: the organisation, the plugin, its settings.
_READS = re.compile(
    r"^/v1/organisations/(?P<org>[^/]+)(?:/plugins/(?P<plugin>[^/]+)|/(?P<of>[^/]+)/settings)?$"
)


class WorkerReads:
    """Lets the worker token make the KATalogus reads of the jobs it holds, and no more.

    A ``GET`` of ``/v1/organisations/{org}``, ``…/plugins/{plugin}`` or
    ``…/{plugin}/settings`` with the data API token is allowed while the store has a
    queued or running job of that organisation.
    Everything else in the KATalogus still needs the KATalogus token. Passed to the
    KATalogus' ``TokenAuth``.
    """

    def __init__(self, token: str | None, holder) -> None:
        self.token, self.holder = token, holder

    def __call__(self, req: falcon.Request) -> bool:
        if req.method != "GET" or not self.token:
            return False
        if not token_matches(bearer(req.get_header("Authorization")), self.token):
            return False
        match = _READS.match(req.path)
        if match is None:
            return False
        # Per organisation, not per plugin: a boefje job reads the state (enabled,
        # settings) of the normalizers it may start, which have no job yet.
        org = match["org"]
        try:
            store = self.holder.store
            return any(
                store.list_jobs(org=org, status=status, limit=1) for status in ("running", "queued")
            )
        except Exception:  # noqa: BLE001 - no store, no grant: the usual 401 follows
            return False
