"""A small HTTP client of the KATalogus: the catalogue reader of workers on other machines
(``KATALOGUS_API``). Standard library only, so a worker needs nothing extra."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from kat.catalogue.errors import (
    CatalogueError,
    CatalogueUnavailable,
    SealedValueError,
    UnknownOrganisation,
    check_id,
)

#: Seconds to wait for the KATalogus before a job fails.
TIMEOUT = 10.0


class KatalogusClient:
    """Reads organisations, plugin states and decrypted settings over the KATalogus API."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = TIMEOUT) -> None:
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout

    def _get(self, path: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base_url + path, headers={"Accept": "application/json"}
        )
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("detail", "")
            except (ValueError, AttributeError):
                detail = ""
            if exc.code == 401:
                raise CatalogueError(
                    f"KATALOGUS_API {self.base_url} refused the request: "
                    "KATALOGUS_API_TOKEN is missing or wrong"
                ) from None
            if exc.code == 404:
                return 404, detail
            if exc.code == 503:
                raise SealedValueError(f"KATALOGUS_API {self.base_url}: {detail}") from None
            raise CatalogueError(
                f"KATALOGUS_API {self.base_url}{path}: HTTP {exc.code} {detail}"
            ) from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            # HTTPException: a response cut short (IncompleteRead) or not HTTP at all
            reason = getattr(exc, "reason", exc)
            raise CatalogueUnavailable(
                f"KATALOGUS_API {self.base_url} is unreachable: {reason}"
            ) from None

    def organisations(self) -> list[str]:
        _status, body = self._get("/v1/organisations")
        return sorted(body)

    def plugin_state(self, org_id: str, plugin_id: str) -> tuple[bool | None, dict[str, Any]]:
        """The plugin's enabled state as the KATalogus sees it and its decrypted settings.

        A plugin the KATalogus does not know gives ``(None, {})``: the worker's manifest
        default applies.
        """
        org, plugin = quote(check_id(org_id), safe=""), quote(check_id(plugin_id), safe="")
        status, _body = self._get(f"/v1/organisations/{org}")
        if status == 404:
            raise UnknownOrganisation(f"organisation {org_id!r} does not exist")
        status, body = self._get(f"/v1/organisations/{org}/plugins/{plugin}")
        if status == 404:
            return None, {}
        enabled = body.get("enabled")
        status, settings = self._get(f"/v1/organisations/{org}/{plugin}/settings")
        return enabled, settings if status == 200 else {}

    def plugin_states(self, org_id: str) -> dict[str, bool]:
        """Every plugin's enabled state for the organisation, as the KATalogus sees it
        (its default where the organisation made no choice), in one request (the
        scheduler's read; it needs the KATalogus token, a worker's token may not list)."""
        org = quote(check_id(org_id), safe="")
        status, body = self._get(f"/v1/organisations/{org}/plugins")
        if status == 404:
            raise UnknownOrganisation(f"organisation {org_id!r} does not exist")
        return {p["id"]: bool(p.get("enabled")) for p in body if isinstance(p, dict) and "id" in p}

    def scope(self, org_id: str) -> Any:
        """The organisation's declared scope (``GET …/scope``, kat.scheduling.scope)."""
        org = quote(check_id(org_id), safe="")
        status, body = self._get(f"/v1/organisations/{org}/scope")
        if status == 404:
            raise UnknownOrganisation(f"organisation {org_id!r} does not exist")
        return body
