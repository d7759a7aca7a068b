"""The catalogue: organisations, repositories and plugins, kept as YAML in git.

:mod:`~kat.catalogue.yamlfiles` reads and writes the files, :mod:`~kat.catalogue.records`
says what they may hold, :mod:`~kat.catalogue.sealing` seals settings,
:mod:`~kat.catalogue.catalogue` is the file-backed catalogue (its writes group-committed
by :mod:`~kat.catalogue.commits`), :mod:`~kat.catalogue.client`
the same reads over a KATalogus's HTTP API, :mod:`~kat.catalogue.plugins` the plugins
folder and :mod:`~kat.catalogue.settings` the one check of settings against a schema.
The names most callers need are re-exported here.
"""

from kat.catalogue.catalogue import LOCAL, Catalogue, org_text
from kat.catalogue.errors import (
    BrokenFile,
    CatalogueError,
    Exists,
    Forbidden,
    InvalidId,
    InvalidValue,
    NotFound,
    SealedValueError,
    UnknownOrganisation,
    UnknownRepository,
    UnknownSetting,
    check_id,
)
from kat.catalogue.reader import CatalogueReader, open_reader
from kat.catalogue.records import KEY_RE

__all__ = [
    "KEY_RE", "LOCAL", "BrokenFile", "Catalogue", "CatalogueError", "CatalogueReader",
    "Exists", "Forbidden", "InvalidId", "InvalidValue", "NotFound", "SealedValueError",
    "UnknownOrganisation", "UnknownRepository", "UnknownSetting", "check_id", "open_reader",
    "org_text",
]  # fmt: skip
