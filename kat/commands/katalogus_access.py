"""The two ways the management commands reach the KATalogus: its files, or its API.

:class:`Files` calls the same catalogue and registry methods the API's resources call,
so a rule holds the same way in both; :class:`Api` calls the API and reports its
``detail``. Both raise :class:`AccessError` with the message the API would give.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Protocol
from urllib.parse import quote

from kat.config import Settings

#: Seconds to wait for a KATalogus.
TIMEOUT = 15.0


class AccessError(Exception):
    """``usage``: the request was wrong (exit 2); otherwise the KATalogus failed (exit 1)."""

    def __init__(self, message: str, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


class Backend(Protocol):
    def organisations(self) -> list[dict[str, str]]: ...
    def create_organisation(self, org: str, name: str | None) -> dict[str, str]: ...
    def delete_organisation(self, org: str) -> None: ...
    def plugins(self, org: str) -> list[dict[str, Any]]: ...
    def set_enabled(self, org: str, plugin: str, enabled: bool) -> dict[str, Any]: ...
    def settings(self, org: str, plugin: str) -> dict[str, Any]: ...
    def get_setting(self, org: str, plugin: str, key: str) -> Any: ...
    def put_setting(self, org: str, plugin: str, key: str, value: Any) -> None: ...
    def delete_setting(self, org: str, plugin: str, key: str) -> None: ...
    def typed(self, plugin: str, key: str, text: str) -> Any: ...


def typed_value(schema: dict[str, Any] | None, key: str, text: str) -> Any:
    """``text`` as the type the schema gives ``key`` (a string otherwise)."""
    prop = ((schema or {}).get("properties") or {}).get(key) or {}
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    try:
        if "integer" in kinds:
            return int(text)
        if "number" in kinds:
            return float(text)
    except ValueError:
        raise AccessError(f"setting {key}: {text!r} is not a {kinds[0]}") from None
    if "boolean" in kinds:
        if text.lower() not in ("true", "false"):
            raise AccessError(f"setting {key}: use true or false")
        return text.lower() == "true"
    return text


class Files:
    def __init__(self, settings: Settings) -> None:
        from kat.catalogue import Catalogue
        from kat.katalogus.registry import PluginRegistry

        self.catalogue = self._call(Catalogue.from_settings, settings)
        self.registry = PluginRegistry(settings.plugins_dir)

    @staticmethod
    def _call(fn, *args: Any) -> Any:
        from kat.catalogue import BrokenFile, CatalogueError, SealedValueError
        from kat.katalogus.registry import InvalidSettings

        try:
            return fn(*args)
        except (BrokenFile, SealedValueError) as exc:
            raise AccessError(str(exc), usage=False) from None
        except (CatalogueError, InvalidSettings) as exc:
            raise AccessError(str(exc)) from None

    def _plugin(self, org: str, plugin: str):
        self._call(self.catalogue.organisation, org)
        return self._call(self.registry.get, plugin)

    def organisations(self) -> list[dict[str, str]]:
        return self._call(self.catalogue.list_organisations)

    def create_organisation(self, org: str, name: str | None) -> dict[str, str]:
        return self._call(self.catalogue.create_organisation, org, name)

    def delete_organisation(self, org: str) -> None:
        self._call(self.catalogue.delete_organisation, org)

    def plugins(self, org: str) -> list[dict[str, Any]]:
        from kat.katalogus.registry import plugin_json

        states = self._call(self.catalogue.enabled_states, org)
        return [plugin_json(p, states.get(p.id)) for p in self.registry.all()]

    def set_enabled(self, org: str, plugin: str, enabled: bool) -> dict[str, Any]:
        from kat.katalogus.registry import plugin_json

        found = self._plugin(org, plugin)
        if enabled:
            current = self._call(self.catalogue.settings, org, plugin)
            self._call(self.registry.validate, plugin, current)
        self._call(self.catalogue.set_enabled, org, plugin, enabled)
        return plugin_json(found, enabled)

    def settings(self, org: str, plugin: str) -> dict[str, Any]:
        self._plugin(org, plugin)
        return self._call(self.catalogue.settings, org, plugin)

    def get_setting(self, org: str, plugin: str, key: str) -> Any:
        self._plugin(org, plugin)
        return self._call(self.catalogue.get_setting, org, plugin, key)

    def put_setting(self, org: str, plugin: str, key: str, value: Any) -> None:
        self._plugin(org, plugin)
        check = lambda v: self.registry.validate(plugin, v, partial=True)  # noqa: E731
        self._call(self.catalogue.put_setting, org, plugin, key, value, False, check)

    def delete_setting(self, org: str, plugin: str, key: str) -> None:
        self._plugin(org, plugin)
        self._call(self.catalogue.delete_setting, org, plugin, key)

    def typed(self, plugin: str, key: str, text: str) -> Any:
        return typed_value(self._call(self.registry.get, plugin).schema, key, text)


class Api:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url, self.token = base_url.rstrip("/"), token

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("detail") or exc.reason
            except (ValueError, AttributeError):
                detail = exc.reason
            if exc.code == 401:
                detail = f"{detail} (KATALOGUS_API_TOKEN is missing or wrong)"
            raise AccessError(str(detail), usage=exc.code < 500) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AccessError(
                f"KATALOGUS_API {self.base_url} is unreachable: {reason}", usage=False
            ) from None

    @staticmethod
    def _org(org: str, *rest: str) -> str:
        return "/v1/organisations/" + "/".join(quote(p, safe="") for p in (org, *rest))

    def organisations(self) -> list[dict[str, str]]:
        return list(self._request("GET", "/v1/organisations").values())

    def create_organisation(self, org: str, name: str | None) -> dict[str, str]:
        body = {"id": org} if name is None else {"id": org, "name": name}
        return self._request("POST", "/v1/organisations", body)

    def delete_organisation(self, org: str) -> None:
        self._request("DELETE", self._org(org))

    def plugins(self, org: str) -> list[dict[str, Any]]:
        return self._request("GET", self._org(org, "plugins"))

    def set_enabled(self, org: str, plugin: str, enabled: bool) -> dict[str, Any]:
        return self._request("PATCH", self._org(org, "plugins", plugin), {"enabled": enabled})

    def settings(self, org: str, plugin: str) -> dict[str, Any]:
        return self._request("GET", self._org(org, plugin, "settings"))

    def get_setting(self, org: str, plugin: str, key: str) -> Any:
        return self._request("GET", self._org(org, plugin, "settings", key))["value"]

    def put_setting(self, org: str, plugin: str, key: str, value: Any) -> None:
        self._request("PUT", self._org(org, plugin, "settings", key), {"value": value})

    def delete_setting(self, org: str, plugin: str, key: str) -> None:
        self._request("DELETE", self._org(org, plugin, "settings", key))

    def typed(self, plugin: str, key: str, text: str) -> Any:
        orgs = self.organisations()
        if not orgs:
            return text
        path = self._org(orgs[0]["id"], "plugins", plugin, "schema.json")
        try:
            schema = self._request("GET", path)
        except AccessError:
            schema = None  # no schema.json: a plain string
        return typed_value(schema, key, text)

    # The job control routes (``kat task cancel|retry``, ``kat scan cancel``): the store
    # and RabbitMQ are the server's.
    def cancel_task(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/tasks/{quote(job_id, safe='')}/cancel")

    def retry_task(self, job_id: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/tasks/{quote(job_id, safe='')}/retry")

    def cancel_scan(self, scan_id: str) -> dict[str, Any]:
        return self._request("POST", f"/v1/scans/{quote(scan_id, safe='')}/cancel")


def remote_control(settings: Settings) -> Api | None:
    """The KATalogus that cancels and retries jobs when ``KATALOGUS_API`` is set (its
    server holds the store and sends the messages); None: do it here."""
    if not settings.katalogus_api:
        return None
    return Api(settings.katalogus_api, settings.katalogus_api_token)


def control(call, *args: Any) -> Any:
    """``call(*args)`` with an :class:`AccessError` as the CLI's error (exit 2 or 1)."""
    from kat.cli import CommandFailed, UsageError

    try:
        return call(*args)
    except AccessError as exc:
        if exc.usage:
            raise UsageError(str(exc)) from None
        raise CommandFailed(str(exc)) from None


def open_backend(settings: Settings) -> Backend:
    """The API at ``KATALOGUS_API`` when set, else the catalogue files."""
    if settings.katalogus_api:
        return Api(settings.katalogus_api, settings.katalogus_api_token)
    return Files(settings)
