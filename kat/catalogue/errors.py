"""What the catalogue raises: one class per kind of refusal, mapped to HTTP by the API."""

from __future__ import annotations

from kat.ids import id_problem


class CatalogueError(Exception):
    """The catalogue cannot do what was asked; the message says why."""


class InvalidId(CatalogueError, ValueError):
    """An id outside ``[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}``: refused before any path is built."""


class InvalidValue(CatalogueError, ValueError):
    """A setting value or name the catalogue cannot store."""


class NotFound(CatalogueError, LookupError):
    """No such object."""


class UnknownOrganisation(NotFound):
    """No file for this organisation."""


class UnknownRepository(NotFound):
    """No file for this repository."""


class UnknownSetting(NotFound):
    """The plugin has no such setting for this organisation."""


class Exists(CatalogueError):
    """Creating an object that exists."""


class Forbidden(CatalogueError):
    """Deleting the LOCAL repository."""


class BrokenFile(CatalogueError):
    """A file on disk does not parse or validate and has no last good state."""


class SealedValueError(CatalogueError):
    """A sealed value cannot be opened (or sealed); the message names the variable."""


def check_id(value: str, what: str = "id") -> str:
    """``value`` when it is a valid id (:mod:`kat.ids`); :class:`InvalidId` otherwise."""
    problem = id_problem(value, what)
    if problem:
        raise InvalidId(problem)
    return value


class CatalogueUnavailable(CatalogueError):
    """The KATalogus (``KATALOGUS_API``) cannot be reached: not the job's fault, so a job
    waiting for its settings is retried rather than failed."""
