"""Jobs as OpenKAT describes them: ``BoefjeMeta``, ``NormalizerMeta``, raw data, statuses.

Field names follow OpenKAT's boefjes API so a job file written for OpenKAT reads here
too. :func:`parse_boefje_meta` and :func:`parse_normalizer_meta` turn untrusted JSON
into these classes and raise :class:`JobError` naming the field that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from kat.ids import ID_PATTERN, is_id


class JobStatus(enum.StrEnum):
    """Where a job is in its life; only the status middleware moves it on."""

    #: Recorded and sent to the broker, not picked up yet.
    QUEUED = "queued"
    #: A worker took the message and a child runs (or is about to run) the plugin.
    RUNNING = "running"
    #: The plugin returned; its raws or objects are in the store.
    COMPLETED = "completed"
    #: The job ended without a result; ``reason`` says why.
    FAILED = "failed"


class FailureReason(enum.StrEnum):
    """Why a job failed; stored with the ``failed`` status."""

    #: The child ran past its wall-clock limit and was killed.
    TIMEOUT = "timeout"
    #: The child hit its memory limit (``MemoryError`` under ``RLIMIT_AS``).
    MEMORY = "memory"
    #: The child died from a signal (SIGKILL, SIGSEGV, ...).
    KILLED = "killed"
    #: The plugin raised; the traceback is stored as an ``error/boefje`` raw.
    CRASHED = "crashed"
    #: The organisation's settings break the plugin's ``schema.json``.
    INVALID_SETTINGS = "invalid-settings"
    #: No plugin with that id (or of that type) in the plugins folder.
    UNKNOWN_PLUGIN = "unknown-plugin"
    #: The plugin is disabled for the organisation.
    DISABLED = "disabled"
    #: The plugin returned something that is not raw data / not OOIs.
    BAD_OUTPUT = "bad-output"
    #: The store failed while the job was recorded, and retries did not help.
    STORE_ERROR = "store-error"
    #: Its runs kept ending without an outcome (the worker died each time).
    POISON = "poison"
    #: An operator cancelled it (``kat task cancel``, ``kat scan cancel``).
    CANCELLED = "cancelled"
    #: A program the plugin's manifest ``requires`` is not installed on this worker.
    MISSING_DEPENDENCY = "missing-dependency"
    #: A third-party API the plugin asks refused it: the key (401/403) or a rate limit
    #: (429; the detail names the Retry-After). Not retried: the same request would be
    #: refused again; fix the key or run the job again later.
    REFUSED = "refused"
    #: A normalizer job that never began, of a boefje job whose raws were stored before
    #: its end (``PUT …/raws``) and that ran again: the new run's jobs replace it.
    SUPERSEDED = "superseded"


#: Separates a failed job's detail (the reason) from the tail of its stdout/stderr.
OUTPUT_MARK = "\n--- output (tail) ---\n"


@dataclass
class JobResult:
    """How a job ended: what the runner returns and the lifecycle records."""

    job_id: str
    status: JobStatus
    reason: FailureReason | None = None
    detail: str | None = None
    raw_ids: list[str] = field(default_factory=list)
    object_count: int = 0
    runnable_hash: str | None = None
    meta: dict[str, Any] | None = None
    #: Normalizer jobs started for this boefje's raws (ids), once sent.
    followers: list[str] = field(default_factory=list)
    #: A completed normalizer job's objects (serialized), stored with its end.
    objects: list[dict[str, Any]] | None = None
    #: A boefje job's raw files ((mime types, bytes), their ids in ``raw_ids``) and the
    #: records of the normalizer jobs that read them, stored with its end.
    raws: list[tuple[set[str] | list[str], bytes]] | None = None
    jobs: list[dict[str, Any]] | None = None
    #: Those normalizer jobs, to send once the end is stored.
    unsent: list[NormalizerMeta] = field(default_factory=list)


class JobError(ValueError):
    """A job description is malformed; the message names the field."""


def now() -> datetime:
    return datetime.now(UTC)


def scan_of(arguments: Any) -> tuple[str, int] | None:
    """The scan a boefje job belongs to, from its ``arguments["scan"] = {"id", "level"}``
    (a normalizer job belongs to its boefje's): the scan's id and the job's level."""
    info = arguments.get("scan") if isinstance(arguments, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("id"), str):
        return None
    level = info.get("level")
    return info["id"], level if isinstance(level, int) else 1


@dataclass
class PluginRef:
    id: str
    version: str | None = None


@dataclass
class BoefjeMeta:
    """One boefje job (OpenKAT's ``BoefjeMeta``)."""

    id: str
    boefje: PluginRef
    organization: str
    input_ooi: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    ended_at: str | None = None
    runnable_hash: str | None = None
    environment: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RawDataMeta:
    """A stored raw file as a normalizer job sees it (OpenKAT's ``RawDataMeta``)."""

    id: str | None
    boefje_meta: BoefjeMeta
    mime_types: list[str]
    #: kat extension: the raw itself, inline (a job file's text ``raw``, or a message's
    #: base64 ``content``); the stored job meta never holds it.
    raw: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "boefje_meta": self.boefje_meta.to_dict(),
            "mime_types": [{"value": m} for m in self.mime_types],
        }


@dataclass
class NormalizerMeta:
    """One normalizer job (OpenKAT's ``NormalizerMeta``)."""

    id: str
    normalizer: PluginRef
    raw_data: RawDataMeta
    started_at: str | None = None
    ended_at: str | None = None
    runnable_hash: str | None = None

    @property
    def organization(self) -> str:
        return self.raw_data.boefje_meta.organization

    @property
    def input_ooi(self) -> str | None:
        return self.raw_data.boefje_meta.input_ooi

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "normalizer": asdict(self.normalizer),
            "raw_data": self.raw_data.to_dict(),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "runnable_hash": self.runnable_hash,
        }

    def message(self) -> dict[str, Any]:
        """:meth:`to_dict` with the raw carried along (``raw_data.content``, base64) when
        it is inline: the worker that takes the job need not read it from the store."""
        job = self.to_dict()
        if self.raw_data.raw is not None:
            content = base64.b64encode(self.raw_data.raw).decode()
            job["raw_data"] = {**job["raw_data"], "content": content}
        return job


#: A raw of at most this many bytes travels inside its normalizer jobs' messages
#: (:meth:`NormalizerMeta.message`); a larger one is read from the store by the job.
CARRIED_RAW_MAX = 64 * 1024


def stored_form(job: dict[str, Any]) -> dict[str, Any]:
    """A job message as the store keeps its meta: without a raw carried inline."""
    raw_data = job.get("raw_data")
    if isinstance(raw_data, dict) and ("content" in raw_data or "raw" in raw_data):
        kept = {k: v for k, v in raw_data.items() if k not in ("content", "raw")}
        return {**job, "raw_data": kept}
    return job


# --- parsing untrusted job JSON -------------------------------------------------------


def _object(obj: Any, where: str) -> None:
    if not isinstance(obj, dict):
        raise JobError(f"{where or 'job'}: expected a JSON object, got {type(obj).__name__}")


def _get(obj: Any, key: str, where: str, kind: type | tuple[type, ...], required: bool = True):
    _object(obj, where)
    name = f"{where}.{key}" if where else key
    if key not in obj or obj[key] is None:
        if required:
            raise JobError(f"{name}: missing")
        return None
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(k.__name__ for k in kinds)
        raise JobError(f"{name}: expected {expected}, got {type(value).__name__}")
    return value


def _ident(value: str, name: str) -> str:
    if not is_id(value):
        raise JobError(f"{name}: {value!r:.80} is not a valid id ({ID_PATTERN}, no '..')")
    return value


def _job_id(obj: dict, where: str) -> str:
    value = _get(obj, "id", where, str, required=False)
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise JobError(f"{where + '.' if where else ''}id: {value!r} is not a UUID") from None


def _plugin_ref(obj: dict, key: str, where: str) -> PluginRef:
    ref = _get(obj, key, where, (dict, str))
    name = f"{where}.{key}" if where else key
    if isinstance(ref, str):  # kat shorthand: "boefje": "dns-records"
        return PluginRef(_ident(ref, name))
    return PluginRef(
        id=_ident(_get(ref, "id", name, str), f"{name}.id"),
        version=_get(ref, "version", name, str, required=False),
    )


def parse_boefje_meta(obj: Any, where: str = "") -> BoefjeMeta:
    """A :class:`BoefjeMeta` from JSON; :class:`JobError` names a wrong field."""
    _object(obj, where)

    def name(key: str) -> str:
        return f"{where}.{key}" if where else key

    environment = _get(obj, "environment", where, dict, required=False)
    if environment is not None:
        for key, value in environment.items():
            if not isinstance(value, str):
                raise JobError(f"{name('environment')}.{key}: expected str")
    input_ooi = _get(obj, "input_ooi", where, str, required=False)
    if input_ooi is not None:
        _check_reference(input_ooi, name("input_ooi"))
    return BoefjeMeta(
        id=_job_id(obj, where),
        boefje=_plugin_ref(obj, "boefje", where),
        organization=_ident(_get(obj, "organization", where, str), name("organization")),
        input_ooi=input_ooi,
        arguments=_get(obj, "arguments", where, dict, required=False) or {},
        started_at=_get(obj, "started_at", where, str, required=False),
        ended_at=_get(obj, "ended_at", where, str, required=False),
        runnable_hash=_get(obj, "runnable_hash", where, str, required=False),
        environment=environment,
    )


def _check_reference(reference: str, name: str) -> None:
    from kat.ooi import parse_reference  # not at import: keeps this module stdlib-only

    if "|" not in reference:
        raise JobError(f"{name}: {reference!r} is not an OOI reference")
    try:
        parse_reference(reference)
    except ValueError as exc:
        raise JobError(f"{name}: {exc}") from None


def _mime_types(raw: dict, where: str) -> list[str]:
    values = _get(raw, "mime_types", where, list, required=False) or []
    result = []
    for i, item in enumerate(values):
        if isinstance(item, dict):  # OpenKAT's {"value": "..."}
            item = item.get("value")
        if not isinstance(item, str) or not item:
            raise JobError(f"{where}.mime_types[{i}]: expected a mime type string")
        result.append(item)
    return result


def parse_normalizer_meta(obj: Any) -> NormalizerMeta:
    """A :class:`NormalizerMeta` from JSON; :class:`JobError` names a wrong field."""
    _object(obj, "")
    raw = _get(obj, "raw_data", "", dict)
    inline = _get(raw, "raw", "raw_data", str, required=False)
    content = _get(raw, "content", "raw_data", str, required=False)
    raw_id = _get(raw, "id", "raw_data", str, required=False)
    if raw_id is None and inline is None and content is None:
        raise JobError("raw_data.id: missing (or give the raw inline as raw_data.raw)")
    data = inline.encode() if inline is not None else None
    if content is not None:
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise JobError("raw_data.content: not base64") from None
    return NormalizerMeta(
        id=_job_id(obj, ""),
        normalizer=_plugin_ref(obj, "normalizer", ""),
        raw_data=RawDataMeta(
            id=raw_id,
            boefje_meta=parse_boefje_meta(
                _get(raw, "boefje_meta", "raw_data", dict), "raw_data.boefje_meta"
            ),
            mime_types=_mime_types(raw, "raw_data"),
            raw=data,
        ),
        started_at=_get(obj, "started_at", "", str, required=False),
        ended_at=_get(obj, "ended_at", "", str, required=False),
        runnable_hash=_get(obj, "runnable_hash", "", str, required=False),
    )
