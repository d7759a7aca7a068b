"""The data API: the store over HTTP, for workers on other machines.

Mounted on the KATalogus app by :func:`register` (same gunicorn, same port). Two route
sets: OpenKAT Bytes' routes under ``/bytes`` (plus ``POST /token``), so OpenKAT's own
clients can write raws and metas, and kat's routes under ``/v1/data`` that carry every
:class:`~kat.store.base.Store` method a remote worker uses (:mod:`kat.store.http` is
their client). Every route needs the data API token (``KAT_DATA_API_TOKEN``), which is
not the KATalogus token: see :mod:`kat.dataapi.auth`.
"""

from __future__ import annotations

import falcon

from kat.config import Settings
from kat.dataapi import auth, bytesapi, resources
from kat.dataapi.params import CheckParams
from kat.dataapi.wire import StoreHolder

#: Path prefixes the data API answers (the KATalogus token check leaves them alone).
PREFIXES = auth.PREFIXES

__all__ = ["PREFIXES", "register", "worker_reads"]


def worker_reads(settings: Settings) -> auth.WorkerReads:
    """The KATalogus reads the worker token may make (for ``TokenAuth(allow=…)``)."""
    return auth.WorkerReads(settings.data_api_token, StoreHolder(settings))


def register(app: falcon.App, settings: Settings) -> None:
    """Add the data API's routes and token check to the KATalogus ``app``."""
    holder = StoreHolder(settings)
    app.add_middleware(auth.DataTokenAuth(settings.data_api_token))
    app.add_middleware(CheckParams())
    bytesapi.add_routes(app, holder, settings.data_api_token)
    resources.add_routes(app, holder)
