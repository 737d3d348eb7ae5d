"""The Airflow configuration of the native stack, in one place.

``make run``, the end-to-end tests and the compose-file test all read it, so the native stack and
``docker-compose.yaml`` cannot drift apart silently (tests/unit/test_compose.py compares them).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("include", "plugins", "simulators", "stack")
SHARED_SECRET_VARS = (
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__FERNET_KEY",
)


#: Celery settings for many short tasks (one chart period is one short task). Explicit, so a provider upgrade
#: cannot change them silently:
#: - concurrency 4 per worker: a period task waits on the API and the database most of its time, so four
#:   fit in two cores; more only queue on the pool and the shared rate limit anyway;
#: - prefetch multiplier 1: a worker reserves one message per free slot, so a short task never waits behind
#:   a long one on a busy worker while another worker is idle;
#: - acks_late: a message is acknowledged when its task ends, so the tasks of a killed worker are
#:   redelivered (the end-to-end worker-kill test relies on it; the Execution API refuses a second start);
#: - the task code is imported once per worker, before the pool forks (musiccharts_airflow.celery_config).
CELERY_SETTINGS = {
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
    "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
    "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "musiccharts_airflow.celery_config.CELERY_CONFIG",
}


def python_path(root: Path = REPO_ROOT) -> str:
    return os.pathsep.join(str(root / part) for part in SOURCE_DIRS)


SECRET_GENERATORS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": lambda: secrets.token_urlsafe(32),
    "AIRFLOW__API__SECRET_KEY": lambda: secrets.token_urlsafe(32),
    # A Fernet key is 32 url-safe base64-encoded bytes.
    "AIRFLOW__CORE__FERNET_KEY": lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
}


#: The product's own secrets, generated per deployment and kept in the same file as the shared ones. The
#: ACRCloud callback token is the only thing that authenticates a File Scanning callback (ACRCloud signs
#: nothing), so it must be unguessable and differ between deployments; airflow_settings.yaml requires it.
APP_SECRET_VARS = ("ACRCLOUD_CALLBACK_TOKEN",)
APP_SECRET_GENERATORS = {"ACRCLOUD_CALLBACK_TOKEN": lambda: secrets.token_urlsafe(32)}


def generate_secrets() -> dict[str, str]:
    """Fresh shared secrets: every component of one deployment must use the same three values."""
    return {name: generate() for name, generate in SECRET_GENERATORS.items()}


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600 from creation (never written, then chmod-ed).

    A temporary file in the same directory is created 0600 with O_EXCL, filled, fsync-ed and renamed
    over ``path``: a reader sees the old content or the new one, never a partial or world-readable file.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )


def load_or_create_secrets(path: Path, names: tuple[str, ...] = SHARED_SECRET_VARS) -> dict[str, str]:
    """Secrets ``names`` persisted in ``path`` (0600) so a restarted stack can read what it encrypted before.

    Only a missing (or empty) secret is generated; the others (of any name) are kept exactly. Rotating the
    Fernet key as a side effect would make every stored connection unreadable.
    """
    generators = SECRET_GENERATORS | APP_SECRET_GENERATORS
    stored = read_env_file(path)
    missing = [name for name in names if not stored.get(name)]
    if missing:
        for name in missing:
            stored[name] = generators[name]()
        write_private_file(path, "".join(f"{key}={value}\n" for key, value in stored.items() if value))
    return {name: stored[name] for name in names}


def mask_url_password(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for printing."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def sizing_defaults(cpus: int | None = None) -> dict[str, str]:
    """Process counts for this machine instead of Airflow's defaults (32 executor slots, 16 Celery
    processes, 4 API workers), which on a 2-core box mostly compete for CPU and memory.

    Every value is a default: the same variable set in the environment wins.
    """
    cpus = cpus or os.cpu_count() or 2
    return {
        # Task slots of the LocalExecutor / the scheduler: a few per core, since tasks mostly wait on HTTP.
        "AIRFLOW__CORE__PARALLELISM": str(max(4, 2 * cpus)),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(max(2, cpus)),
        "AIRFLOW__API__WORKERS": str(1 if cpus <= 2 else 2),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(1 if cpus <= 2 else 2),
    }


def airflow_environment(
    *,
    executor: str,
    airflow_home: Path,
    metadata_db_url: str,
    shared_secrets: dict[str, str],
    api_host: str = "127.0.0.1",
    api_port: int = 8080,
    broker_url: str | None = None,
    result_backend: str | None = None,
    dags_paused_at_creation: bool = False,
    root: Path = REPO_ROOT,
) -> dict[str, str]:
    """AIRFLOW__* variables (and PYTHONPATH) for every component of one native deployment."""
    if executor not in {"LocalExecutor", "CeleryExecutor"}:
        raise ValueError(f"unsupported executor {executor!r}")
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "PYTHONPATH": python_path(root),
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(dags_paused_at_creation),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db_url,
        "AIRFLOW__API__BASE_URL": f"http://{api_host}:{api_port}",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": api_host,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{api_host}:{api_port}/execution/",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # New DAG files appear within seconds instead of the 5-minute default.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(airflow_home / "logs"),
        # Batches of ids keep mapping small, but leave room for 10,000 stale tracks in batches of 10.
        "AIRFLOW__CORE__MAX_MAP_LENGTH": "2048",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
        **shared_secrets,
    }
    if executor == "CeleryExecutor":
        if not broker_url:
            raise ValueError("CeleryExecutor needs a broker URL (Redis)")
        env["AIRFLOW__CELERY__BROKER_URL"] = broker_url
        env["AIRFLOW__CELERY__RESULT_BACKEND"] = result_backend or "db+" + metadata_db_url.replace(
            "+psycopg2", ""
        )
        env.update(CELERY_SETTINGS)
    return env
