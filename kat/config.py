"""Every environment variable kat reads, in one place, each with one default.

Call :func:`load` rather than reading ``os.environ`` elsewhere; ``.env.example`` lists
the same variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kat.ids import id_problem
from kat.routing import claimable, zone_problem

#: Prefix of worker variables that become plugin settings defaults (``BOEFJE_X`` -> ``X``).
BOEFJE_PREFIX = "BOEFJE_"

#: Encryption middleware names that switch sealing on (kat's and OpenKAT's spelling).
SEALBOX = "NACL_SEALBOX"


class ConfigError(ValueError):
    """An environment variable holds a value kat cannot use; the message names it."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _whitelist(raw: str | None) -> dict[str, int]:
    from kat.ooi.scanprofiles import parse_whitelist

    try:
        return parse_whitelist(raw, "SCAN_PROFILE_WHITELIST")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _zone(raw: str) -> str:
    problem = zone_problem(raw)
    if problem:
        raise ConfigError(f"KAT_WORKER_ZONE: {problem}")
    return raw


def _plugin_ids(raw: str) -> tuple[str, ...]:
    ids = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    for plugin in ids:
        problem = id_problem(plugin, "plugin id")
        if problem is None and not claimable(plugin):
            problem = f"plugin id {plugin!r} ends in .DQ or .XQ and cannot name a queue"
        if problem:
            raise ConfigError(f"KAT_WORKER_PLUGINS: {problem}")
    return ids


def _bool(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={raw!r}: use 1 or 0")


@dataclass(frozen=True)
class Settings:
    #: AMQP URL of the RabbitMQ broker.
    broker_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    #: Folder of the YAML catalogue (organisations, repositories).
    catalogue_dir: Path = Path("catalogue")
    #: Folder of the LOCAL plugin repository.
    plugins_dir: Path = Path("plugins")
    #: Folder of the SQLite store (``kat.db``).
    data_dir: Path = Path("data")
    #: Default wall-clock limit of one job, in seconds.
    job_timeout: int = 300
    #: Default memory limit of one job, in MiB.
    job_memory: int = 1024
    #: User the plugins run as (name or uid); default ``nobody`` when the worker is
    #: root, else the worker's own user. ``root`` under root switches nothing.
    job_user: str | None = None
    #: Base URL of a KATalogus; when set, workers read settings over HTTP instead of files.
    katalogus_api: str | None = None
    #: Bearer token the KATalogus requires (and workers send) when set.
    katalogus_api_token: str | None = None
    #: Address gunicorn binds the KATalogus to (loopback: see ``allow_insecure_bind``).
    katalogus_bind: str = "127.0.0.1:8003"
    #: Let the KATalogus listen beyond loopback without ``KATALOGUS_API_TOKEN`` (behind a
    #: proxy that authenticates); without it such a start is refused.
    allow_insecure_bind: bool = False
    #: True when settings are sealed at rest (``NACL_SEALBOX``).
    encryption: bool = False
    #: Base64 PyNaCl public key that seals settings.
    public_key: str | None = None
    #: Base64 PyNaCl private key that opens sealed settings.
    private_key: str | None = None
    #: Port on which a worker exposes Prometheus metrics (0: off).
    metrics_port: int = 0
    #: Prefix of the RabbitMQ queue names (``<prefix>boefjes``), to keep systems apart.
    queue_prefix: str = ""
    #: The zone (network) whose boefje jobs this worker takes (kat.routing).
    worker_zone: str = "internet"
    #: Boefjes this worker alone serves in its zone (``kat boefje --plugins``); empty: all.
    worker_plugins: tuple[str, ...] = ()
    #: Seconds a stopping worker gives running jobs to finish before it hands them back
    #: to the queue (below honcho's 5 s, after which honcho kills).
    shutdown_grace: int = 3
    #: Where the store lives: ``sqlite:///PATH`` or ``postgresql://…``; None: the SQLite
    #: file ``kat.db`` in :attr:`data_dir`.
    database_url_setting: str | None = None
    #: Runs of a job that may end without an outcome (its worker died) before the job
    #: fails as ``poison`` instead of running again.
    max_interrupted: int = 1
    #: Seconds between two sweeps of the dead-letter queues by each worker process.
    sweep_interval: int = 30
    #: Normalizers whose declared scan profiles count, with the highest level each may
    #: declare (OpenKAT's ``SCAN_PROFILE_WHITELIST``, JSON ``{"normalizer id": level}``).
    scan_profile_whitelist: dict[str, int] = field(default_factory=dict)
    #: Scheduling (kat.scheduling): seconds between runs of a boefje on an object when
    #: neither its manifest nor the scope file says; seconds a finished boefje run's raw
    #: is reused for the same (boefje, runnable, input, settings); seconds between passes;
    #: bounds on outstanding boefje jobs per organisation and in total.
    default_interval: int = 86400
    grace_period: int = 86400
    scheduler_tick: int = 5
    scheduler_max_per_org: int = 100
    scheduler_max_total: int = 1000
    #: Redis of the per-plugin rate limits (kat.runtime.ratelimit); empty: per process.
    redis_url: str | None = "redis://127.0.0.1:6379/0"
    #: ``BOEFJE_*`` variables of the worker, prefix stripped: plugin setting defaults.
    boefje_defaults: dict[str, str] = field(default_factory=dict)
    # --- several machines (docs/multi-machine.md) ---
    #: Base URL of a kat server's data API; when set, the store is reached over HTTP.
    data_api: str | None = None
    #: Bearer token of the data API: the server requires it, workers send it.
    data_api_token: str | None = None
    #: Base URL of an OpenKAT Bytes that workers write raws and metas to instead.
    bytes_api: str | None = None
    #: OpenKAT Bytes' login (``POST /token``).
    bytes_username: str | None = None
    bytes_password: str | None = None
    #: Base URL of an OpenKAT Octopoes that also receives normalizer objects.
    octopoes_api: str | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "kat.db"

    @property
    def database_url(self) -> str:
        """The store's URL: ``KAT_DATA_API`` (a kat server over HTTP), else
        ``KAT_DATABASE_URL``, else SQLite in the data folder."""
        return self.data_api or self.database_url_setting or f"sqlite:///{self.db_path}"

    def remote_store_conflict(self) -> str | None:
        """Why this worker must not start: it names a database and a data API at once."""
        if self.database_url_setting and self.data_api:
            return (
                "both KAT_DATABASE_URL and KAT_DATA_API are set: a worker either holds the"
                " database or talks to a kat server's data API; unset one of them"
            )
        return None


def load(env: dict[str, str] | None = None) -> Settings:
    """Read the settings from ``env`` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    middleware = env.get("BYTES_ENCRYPTION_MIDDLEWARE") or env.get(
        "BOEFJES_ENCRYPTION_MIDDLEWARE", ""
    )
    if middleware not in ("", "IDENTITY", SEALBOX):
        raise ConfigError(f"BYTES_ENCRYPTION_MIDDLEWARE={middleware!r}: use {SEALBOX} or IDENTITY")
    return Settings(
        broker_url=env.get("KAT_BROKER_URL") or Settings.broker_url,
        catalogue_dir=Path(env.get("KAT_CATALOGUE_DIR") or Settings.catalogue_dir),
        plugins_dir=Path(env.get("KAT_PLUGINS_DIR") or Settings.plugins_dir),
        data_dir=Path(env.get("KAT_DATA_DIR") or Settings.data_dir),
        job_timeout=_int(env, "KAT_JOB_TIMEOUT", Settings.job_timeout),
        job_memory=_int(env, "KAT_JOB_MEMORY", Settings.job_memory),
        job_user=env.get("KAT_JOB_USER") or ("nobody" if os.geteuid() == 0 else None),
        katalogus_api=(env.get("KATALOGUS_API") or "").rstrip("/") or None,
        katalogus_api_token=env.get("KATALOGUS_API_TOKEN") or None,
        katalogus_bind=env.get("KATALOGUS_BIND") or Settings.katalogus_bind,
        allow_insecure_bind=_bool(env, "KAT_ALLOW_INSECURE_BIND"),
        encryption=middleware == SEALBOX,
        public_key=env.get("KATALOGUS_PUBLIC_KEY") or None,
        private_key=env.get("KATALOGUS_PRIVATE_KEY") or None,
        metrics_port=_int(env, "KAT_METRICS_PORT", Settings.metrics_port, minimum=0),
        queue_prefix=env.get("KAT_QUEUE_PREFIX") or Settings.queue_prefix,
        worker_zone=_zone(env.get("KAT_WORKER_ZONE") or Settings.worker_zone),
        worker_plugins=_plugin_ids(env.get("KAT_WORKER_PLUGINS") or ""),
        shutdown_grace=_int(env, "KAT_SHUTDOWN_GRACE", Settings.shutdown_grace, minimum=0),
        database_url_setting=env.get("KAT_DATABASE_URL") or None,
        sweep_interval=_int(env, "KAT_SWEEP_INTERVAL", Settings.sweep_interval),
        max_interrupted=_int(env, "KAT_MAX_INTERRUPTED", Settings.max_interrupted, minimum=0),
        scan_profile_whitelist=_whitelist(env.get("SCAN_PROFILE_WHITELIST")),
        data_api=(env.get("KAT_DATA_API") or "").rstrip("/") or None,
        data_api_token=env.get("KAT_DATA_API_TOKEN") or None,
        bytes_api=(env.get("BYTES_API") or "").rstrip("/") or None,
        bytes_username=env.get("BYTES_USERNAME") or None,
        bytes_password=env.get("BYTES_PASSWORD") or None,
        octopoes_api=(env.get("OCTOPOES_API") or "").rstrip("/") or None,
        default_interval=_int(env, "KAT_DEFAULT_INTERVAL", Settings.default_interval),
        grace_period=_int(env, "KAT_GRACE_PERIOD", Settings.grace_period, minimum=0),
        scheduler_tick=_int(env, "KAT_SCHEDULER_TICK", Settings.scheduler_tick),
        scheduler_max_per_org=_int(
            env, "KAT_SCHEDULER_MAX_PER_ORG", Settings.scheduler_max_per_org
        ),
        scheduler_max_total=_int(env, "KAT_SCHEDULER_MAX_TOTAL", Settings.scheduler_max_total),
        redis_url=env.get("KAT_REDIS_URL", Settings.redis_url) or None,
        boefje_defaults={
            key[len(BOEFJE_PREFIX) :]: value
            for key, value in env.items()
            if key.startswith(BOEFJE_PREFIX) and len(key) > len(BOEFJE_PREFIX)
        },
    )
