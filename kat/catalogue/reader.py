"""Where a worker reads plugin state and settings: the catalogue files, or a KATalogus
over HTTP (``KATALOGUS_API``). Both offer :class:`CatalogueReader`."""

from __future__ import annotations

from typing import Any, Protocol

from kat.catalogue.catalogue import Catalogue
from kat.catalogue.client import KatalogusClient
from kat.config import Settings


class CatalogueReader(Protocol):
    """What the workers need: an organisation's plugin state and its decrypted settings."""

    def plugin_state(self, org_id: str, plugin_id: str) -> tuple[bool | None, dict[str, Any]]: ...

    def organisations(self) -> list[str]: ...


def open_reader(settings: Settings) -> CatalogueReader:
    """The files under ``KAT_CATALOGUE_DIR``, or the KATalogus at ``KATALOGUS_API``."""
    if settings.katalogus_api:
        return KatalogusClient(settings.katalogus_api, settings.katalogus_api_token)
    return Catalogue.from_settings(settings)
