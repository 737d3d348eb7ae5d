"""docker-compose.yaml, Dockerfile and .env.example checked against each other and the native stack.

Each rule is a function returning the problems it finds in a parsed compose document, so the same rule runs
on the real file (no problems expected) and on a deliberately broken copy (its problem expected): that
second half proves every check can fail.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.paths import REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
LOCK_FILE = REPO_ROOT / "requirements.txt"

SHARED_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
    "flower",
}
LONG_RUNNING_AIRFLOW_SERVICES = AIRFLOW_SERVICES - {"airflow-init"}
MOUNTED_SOURCE_DIRS = ("dags", "plugins", "include")
IMPORTABLE_SOURCE_DIRS = ("include", "plugins", "simulators")
REQUIRED_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*):\?[^}]*\}")


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture
def compose() -> dict:
    return load_compose()


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolate(value: str, environ: dict[str, str] | None = None) -> str:
    """Resolve ``${X}``, ``${X:-default}`` and ``${X:?message}`` as compose would (required ones as ``X``)."""
    environ = environ or {}

    def resolve(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if environ.get(name):
            return environ[name]
        if operator == ":-":
            return argument
        return name.lower() if operator == ":?" else ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}", resolve, value)


def url_of(value: str | None):
    return urlsplit(interpolate(value or ""))


def airflow_services(doc: dict) -> dict[str, dict]:
    """Services that run Airflow (they carry an executor setting)."""
    return {
        name: service
        for name, service in doc["services"].items()
        if "AIRFLOW__CORE__EXECUTOR" in environment(service)
    }


def container_port(service: dict) -> int:
    published = service["ports"][0]
    return int(str(published).rsplit(":", 1)[-1].split("/")[0])


def locked_packages() -> dict[str, str]:
    pins = {}
    for line in LOCK_FILE.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;]+)", line)
        if match:
            pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


# --------------------------------------------------------------------------------------------- rules


def check_airflow_service_set(doc: dict) -> list[str]:
    found = set(airflow_services(doc))
    return (
        []
        if found == AIRFLOW_SERVICES
        else [f"Airflow services {sorted(found)} != {sorted(AIRFLOW_SERVICES)}"]
    )


def check_executor_and_celery_urls(doc: dict) -> list[str]:
    problems = []
    for name, service in airflow_services(doc).items():
        env = environment(service)
        if env["AIRFLOW__CORE__EXECUTOR"] != "CeleryExecutor":
            problems.append(f"{name}: executor {env['AIRFLOW__CORE__EXECUTOR']}")
        broker = url_of(env.get("AIRFLOW__CELERY__BROKER_URL"))
        if (broker.scheme, broker.hostname) != ("redis", "redis") or "redis" not in doc["services"]:
            problems.append(f"{name}: broker must be redis://redis:6379/N, got {broker.geturl()!r}")
        backend = url_of(env.get("AIRFLOW__CELERY__RESULT_BACKEND"))
        if (backend.scheme, backend.hostname) != ("db+postgresql", "postgres"):
            problems.append(
                f"{name}: result backend must be db+postgresql://...@postgres, got {backend.scheme}"
            )
        metadata = url_of(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
        if (metadata.scheme, metadata.hostname) != ("postgresql+psycopg2", "postgres"):
            problems.append(f"{name}: metadata DB must be postgresql+psycopg2://...@postgres")
    return problems


def check_execution_api_url(doc: dict) -> list[str]:
    port = container_port(doc["services"]["airflow-apiserver"])
    expected = f"http://airflow-apiserver:{port}/execution/"
    return [
        f"{name}: execution API URL {environment(service).get('AIRFLOW__CORE__EXECUTION_API_SERVER_URL')!r}"
        f" != {expected!r}"
        for name, service in airflow_services(doc).items()
        if environment(service).get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") != expected
    ]


def check_shared_secrets(doc: dict) -> list[str]:
    problems = []
    for secret in SHARED_SECRETS:
        references = {
            name: environment(service).get(secret) for name, service in airflow_services(doc).items()
        }
        if len(set(references.values())) != 1:
            problems.append(f"{secret}: differs between services: {references}")
        for name, value in references.items():
            match = REQUIRED_REFERENCE.fullmatch(value or "")
            if not match or match.group("name") != secret:
                problems.append(f"{name}: {secret} must be ${{{secret}:?...}} (fail loudly), got {value!r}")
    return problems


def check_mounts_and_pythonpath(doc: dict) -> list[str]:
    problems = []
    for name, service in airflow_services(doc).items():
        volumes = {str(v).split(":")[0]: str(v).split(":")[1] for v in service.get("volumes", [])}
        for part in MOUNTED_SOURCE_DIRS:
            if volumes.get(f"./{part}") != f"/opt/airflow/{part}":
                problems.append(f"{name}: ./{part} is not mounted on /opt/airflow/{part}")
        pythonpath = environment(service).get("PYTHONPATH", "").split(":")
        for part in IMPORTABLE_SOURCE_DIRS:
            if f"/opt/airflow/{part}" not in pythonpath:
                problems.append(f"{name}: /opt/airflow/{part} not on PYTHONPATH")
    return problems


def one_shot_services(doc: dict) -> set[str]:
    """Services others wait for with ``service_completed_successfully`` (they exit; no health to check)."""
    return {
        dependency
        for service in doc["services"].values()
        for dependency, spec in (service.get("depends_on") or {}).items()
        if isinstance(spec, dict) and spec.get("condition") == "service_completed_successfully"
    }


def check_healthchecks(doc: dict) -> list[str]:
    problems = []
    one_shot = one_shot_services(doc)
    for name, service in doc["services"].items():
        healthcheck = service.get("healthcheck") or {}
        if name in one_shot:
            if str(service.get("restart", "no")) != "no":
                problems.append(f"{name}: a one-shot service must not restart")
            continue
        test = healthcheck.get("test")
        if healthcheck.get("disable") or not test or test == ["NONE"]:
            problems.append(f"{name}: no healthcheck")
    return problems


def check_dependencies(doc: dict) -> list[str]:
    problems = []
    services = doc["services"]
    for name in LONG_RUNNING_AIRFLOW_SERVICES:
        depends = services[name].get("depends_on") or {}
        if (depends.get("airflow-init") or {}).get("condition") != "service_completed_successfully":
            problems.append(f"{name}: must wait for airflow-init to complete successfully")
        for store in ("postgres", "redis"):
            if (depends.get(store) or {}).get("condition") != "service_healthy":
                problems.append(f"{name}: must wait for {store} to be healthy")
    worker_depends = services["airflow-worker"].get("depends_on") or {}
    if (worker_depends.get("airflow-apiserver") or {}).get("condition") != "service_healthy":
        problems.append("airflow-worker: must wait for airflow-apiserver to be healthy")
    if str(environment(services["airflow-worker"]).get("DUMB_INIT_SETSID")) != "0":
        problems.append("airflow-worker: DUMB_INIT_SETSID must be 0 (warm Celery shutdown)")
    if "container_name" in services["airflow-worker"]:
        problems.append("airflow-worker: container_name prevents --scale")
    if "flower" not in (services["flower"].get("profiles") or []):
        problems.append("flower: must be behind the 'flower' profile")
    return problems


def check_init_steps(doc: dict) -> list[str]:
    script = " ".join(str(part) for part in doc["services"]["airflow-init"]["command"])
    steps = [
        "airflow db migrate",
        "python -m musiccharts.db.migrate upgrade",
        "python -m musiccharts_airflow.settings_file apply /opt/airflow/airflow_settings.yaml",
    ]
    positions = [script.find(step) for step in steps]
    if -1 in positions:
        return [f"airflow-init lacks: {[s for s, p in zip(steps, positions, strict=True) if p == -1]}"]
    if positions != sorted(positions):
        return ["airflow-init must migrate both databases before applying the settings"]
    return []


def check_no_runtime_installs(doc: dict) -> list[str]:
    text = yaml.safe_dump(doc)
    return (
        ["_PIP_ADDITIONAL_REQUIREMENTS reinstalls packages at start-up"] if "_PIP_ADDITIONAL" in text else []
    )


def check_product_environment(doc: dict) -> list[str]:
    env = environment(doc["services"]["airflow-worker"])
    expected = {
        "MUSICCHARTS_DB_HOST": "postgres",
        "MUSICCHARTS_DB_NAME": "musiccharts",
        "MUSICCHARTS_RATE_LIMIT_REDIS_URL": "redis://redis:6379/1",
        "SOUNDCHARTS_BASE_URL": "${SOUNDCHARTS_BASE_URL:-http://soundcharts-simulator:8765}",
    }
    problems = [
        f"{key}={env.get(key)!r}, expected {value!r}"
        for key, value in expected.items()
        if env.get(key) != value
    ]
    # musiccharts.db.migrate reads MUSICCHARTS_DB_URL: the product database, never Airflow's.
    product = url_of(env.get("MUSICCHARTS_DB_URL"))
    if (product.scheme, product.hostname, product.path) != ("postgresql", "postgres", "/musiccharts"):
        problems.append(
            f"MUSICCHARTS_DB_URL must be postgresql://...@postgres:5432/musiccharts, got {product.path}"
        )
    simulator = doc["services"].get("soundcharts-simulator") or {}
    if "8765" not in " ".join(map(str, simulator.get("command", []))):
        problems.append("soundcharts-simulator must listen on 8765 (the default SOUNDCHARTS_BASE_URL)")
    return problems


def published_ports(service: dict) -> list[str]:
    return [
        str(port) if not isinstance(port, dict) else yaml.safe_dump(port)
        for port in service.get("ports") or []
    ]


def check_only_the_ui_listens_on_all_interfaces(doc: dict) -> list[str]:
    """Every published port is bound to 127.0.0.1, except the UI's (the one thing users must reach)."""
    problems = []
    for name, service in doc["services"].items():
        for port in published_ports(service):
            if name != "airflow-apiserver" and not port.startswith("127.0.0.1:"):
                problems.append(f"{name}: publishes {port!r} on all interfaces")
    return problems


def check_flower_needs_basic_auth(doc: dict) -> list[str]:
    flower = doc["services"]["flower"]
    problems = []
    auth = environment(flower).get("AIRFLOW__CELERY__FLOWER_BASIC_AUTH", "")
    if not re.fullmatch(r"\$\{[A-Z_]+(:-|:\?)[^}]*\}", auth):
        problems.append("flower: AIRFLOW__CELERY__FLOWER_BASIC_AUTH must come from .env")
    script = " ".join(map(str, flower.get("command") or []))
    if not re.search(r"-z \"\$\$\{AIRFLOW__CELERY__FLOWER_BASIC_AUTH[^}]*\}\".*exit 1.*exec airflow celery flower", script,
                     re.DOTALL):  # fmt: skip
        problems.append("flower: must refuse to start without basic auth, then exec flower")
    ports = published_ports(flower)
    if not ports or not all(port.startswith("127.0.0.1:") for port in ports):
        problems.append(f"flower: must be bound to 127.0.0.1, got {ports}")
    return problems


def check_product_database_has_its_own_role(doc: dict) -> list[str]:
    problems = []
    for name, service in airflow_services(doc).items():
        env = environment(service)
        metadata_user = url_of(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")).username
        product_user = env.get("MUSICCHARTS_DB_USER")
        if not product_user or product_user in {metadata_user, "postgres"}:
            problems.append(f"{name}: product database user {product_user!r} is the metadata superuser")
        if url_of(env.get("MUSICCHARTS_DB_URL")).username != product_user:
            problems.append(f"{name}: MUSICCHARTS_DB_URL does not log in as MUSICCHARTS_DB_USER")
        password = REQUIRED_REFERENCE.fullmatch(env.get("MUSICCHARTS_DB_PASSWORD") or "")
        if not password or password.group("name") == "POSTGRES_PASSWORD":
            problems.append(f"{name}: MUSICCHARTS_DB_PASSWORD must be its own required secret")
    script = " ".join(str(part) for part in doc["services"]["airflow-init"]["command"])
    provision, migrate = (
        script.find("python -m musiccharts.db.provision"),
        script.find("musiccharts.db.migrate"),
    )
    if provision == -1 or provision > migrate:
        problems.append("airflow-init must provision the product role and database before migrating it")
    return problems


def check_simulator_only_on_request(doc: dict) -> list[str]:
    problems = []
    simulator = doc["services"].get("soundcharts-simulator") or {}
    if simulator.get("profiles") != ["simulator"]:
        problems.append("soundcharts-simulator must run only under the 'simulator' profile")
    script = " ".join(str(part) for part in doc["services"]["airflow-init"]["command"])
    check = script.find("python -m musiccharts.db.data_source")
    if check == -1 or check > script.find("airflow db migrate"):
        problems.append("airflow-init must check the data source (credentials or simulator) first")
    for name, service in doc["services"].items():
        spec = (service.get("depends_on") or {}).get("soundcharts-simulator")
        if spec is not None and (not isinstance(spec, dict) or spec.get("required") is not False):
            problems.append(f"{name}: a hard dependency on the simulator starts it without the profile")
    return problems


RULES = [
    check_airflow_service_set,
    check_executor_and_celery_urls,
    check_execution_api_url,
    check_shared_secrets,
    check_mounts_and_pythonpath,
    check_healthchecks,
    check_dependencies,
    check_init_steps,
    check_no_runtime_installs,
    check_product_environment,
    check_only_the_ui_listens_on_all_interfaces,
    check_flower_needs_basic_auth,
    check_product_database_has_its_own_role,
    check_simulator_only_on_request,
]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_compose_file_follows_rule(compose, rule):
    assert rule(compose) == []


# Each mutation breaks exactly what one rule guards; the rule must notice.
def _set_env(service: str, key: str, value: str | None):
    def mutate(doc):
        env = doc["services"][service]["environment"]
        if value is None:
            env.pop(key)
        else:
            env[key] = value

    return mutate


def _drop(path: tuple[str, ...]):
    def mutate(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1])

    return mutate


def _set(path: tuple[str, ...], value):
    def mutate(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


MUTATIONS = [
    (check_airflow_service_set, _drop(("services", "airflow-triggerer"))),
    (check_executor_and_celery_urls, _set_env("airflow-worker", "AIRFLOW__CORE__EXECUTOR", "LocalExecutor")),
    (
        check_executor_and_celery_urls,
        _set_env("airflow-worker", "AIRFLOW__CELERY__BROKER_URL", "amqp://rabbit//"),
    ),
    (
        check_executor_and_celery_urls,
        _set_env("flower", "AIRFLOW__CELERY__RESULT_BACKEND", "redis://redis:6379/2"),
    ),
    (
        check_execution_api_url,
        _set_env(
            "airflow-worker", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "http://localhost:8080/execution/"
        ),
    ),
    (check_execution_api_url, _set(("services", "airflow-apiserver", "ports"), ["8080:9090"])),
    (check_shared_secrets, _set_env("airflow-worker", "AIRFLOW__API_AUTH__JWT_SECRET", None)),
    (
        check_shared_secrets,
        _set_env("airflow-scheduler", "AIRFLOW__CORE__FERNET_KEY", "${AIRFLOW__CORE__FERNET_KEY:-}"),
    ),
    (
        check_mounts_and_pythonpath,
        _set(("services", "airflow-worker", "volumes"), ["./dags:/opt/airflow/dags"]),
    ),
    (check_mounts_and_pythonpath, _set_env("airflow-triggerer", "PYTHONPATH", "/opt/airflow/plugins")),
    (check_healthchecks, _drop(("services", "redis", "healthcheck"))),
    (check_healthchecks, _set(("services", "airflow-init", "restart"), "always")),
    (check_dependencies, _drop(("services", "airflow-worker", "depends_on", "airflow-apiserver"))),
    (check_dependencies, _drop(("services", "airflow-scheduler", "depends_on", "airflow-init"))),
    (check_dependencies, _set_env("airflow-worker", "DUMB_INIT_SETSID", "1")),
    (check_init_steps, _set(("services", "airflow-init", "command"), ["bash", "-c", "airflow db migrate"])),
    (check_no_runtime_installs, _set_env("airflow-worker", "_PIP_ADDITIONAL_REQUIREMENTS", "requests")),
    (check_product_environment, _set_env("airflow-worker", "MUSICCHARTS_DB_NAME", "airflow")),
    (
        check_product_environment,
        _set_env("airflow-worker", "MUSICCHARTS_DB_URL", "postgresql://airflow:x@postgres:5432/airflow"),
    ),
    # The broken copies "as today" (before least privilege): each must fail its rule.
    (check_only_the_ui_listens_on_all_interfaces, _set(("services", "flower", "ports"), ["5555:5555"])),
    (check_only_the_ui_listens_on_all_interfaces, _set(("services", "postgres", "ports"), ["5432:5432"])),
    (check_flower_needs_basic_auth, _set(("services", "flower", "command"), "celery flower")),
    (check_flower_needs_basic_auth, _set_env("flower", "AIRFLOW__CELERY__FLOWER_BASIC_AUTH", None)),
    (check_flower_needs_basic_auth, _set(("services", "flower", "ports"), ["${FLOWER_PORT:-5555}:5555"])),
    (check_product_database_has_its_own_role, _set_env("airflow-worker", "MUSICCHARTS_DB_USER", "airflow")),
    (
        check_product_database_has_its_own_role,
        _set_env("airflow-scheduler", "MUSICCHARTS_DB_PASSWORD", "${POSTGRES_PASSWORD:?set it}"),
    ),
    (
        check_product_database_has_its_own_role,
        _set(
            ("services", "airflow-init", "command"),
            ["bash", "-c", "python -m musiccharts.db.migrate upgrade"],
        ),
    ),
    (check_simulator_only_on_request, _drop(("services", "soundcharts-simulator", "profiles"))),
    (
        check_simulator_only_on_request,
        _set(
            ("services", "airflow-init", "depends_on", "soundcharts-simulator"),
            {"condition": "service_healthy"},
        ),
    ),
    (
        check_simulator_only_on_request,
        _set(("services", "airflow-init", "command"), ["bash", "-c", "airflow db migrate"]),
    ),
]


@pytest.mark.parametrize(
    ("rule", "mutate"),
    MUTATIONS,
    ids=[f"{rule.__name__}-{index}" for index, (rule, _) in enumerate(MUTATIONS)],
)
def test_rule_catches_a_broken_compose_file(compose, rule, mutate):
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert rule(broken) != []


# ----------------------------------------------------------------------------- Dockerfile and the lock


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_builds_from_the_locked_airflow_version():
    instructions = dockerfile_instructions()
    base = next(argument for keyword, argument in instructions if keyword == "FROM")
    assert base == "apache/airflow:3.3.2-python3.11"
    assert base.split(":")[1].split("-")[0] == locked_packages()["apache-airflow"]


def test_dockerfile_installs_exactly_the_lock_and_copies_the_code():
    instructions = dockerfile_instructions()
    copies = [argument.split() for keyword, argument in instructions if keyword == "COPY"]
    lock_copy = next(parts for parts in copies if "requirements.txt" in parts)
    lock_target = lock_copy[-1]
    runs = [argument for keyword, argument in instructions if keyword == "RUN"]
    install = next(run for run in runs if "install" in run)
    assert "--no-deps" in install and f"-r {lock_target}" in install
    copied_sources = {parts[-2].rstrip("/") for parts in copies}
    assert {"dags", "plugins", "include", "simulators", "airflow_settings.yaml"} <= copied_sources
    pythonpath = next(
        argument for keyword, argument in instructions if keyword == "ENV" and "PYTHONPATH" in argument
    )
    assert pythonpath.split("=", 1)[1].split(":") == [
        f"/opt/airflow/{part}" for part in IMPORTABLE_SOURCE_DIRS
    ]
    # The image must not fall back to pip resolving at start time.
    assert not any("_PIP_ADDITIONAL_REQUIREMENTS" in argument for _, argument in instructions)


def test_packages_the_compose_commands_need_are_locked(compose):
    locked = locked_packages()
    needed = {"apache-airflow", "apache-airflow-providers-celery", "celery", "psycopg", "pyyaml", "pydantic"}
    commands = " ".join(
        " ".join(
            map(str, s.get("command", []) if isinstance(s.get("command"), list) else [s.get("command", "")])
        )
        for s in compose["services"].values()
    )
    if "celery flower" in commands:
        needed.add("flower")
    if "soundcharts_simulator" in commands:
        needed |= {"uvicorn", "fastapi"}
    worker_env = environment(compose["services"]["airflow-worker"])
    if "+psycopg2" in worker_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]:
        needed.add("psycopg2-binary")
    if worker_env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"):
        needed.add("redis")
    missing = sorted(needed - set(locked))
    assert missing == [], f"compose needs packages missing from requirements.txt: {missing}"
    assert len(needed) >= 10  # the detection above found every command


def test_python_modules_the_compose_commands_run_are_in_the_image(compose):
    commands = " ".join(
        " ".join(map(str, service["command"])) if isinstance(service.get("command"), list) else ""
        for service in compose["services"].values()
    )
    modules = set(re.findall(r"python -m ([\w.]+)", commands)) | set(
        re.findall(r'"-m", "([\w.]+)"', commands)
    )
    modules |= {
        parts[index + 1]
        for service in compose["services"].values()
        if isinstance(service.get("command"), list)
        for parts in [list(map(str, service["command"]))]
        for index, part in enumerate(parts[:-1])
        if part == "-m"
    }
    assert {"musiccharts_airflow.settings_file", "soundcharts_simulator", "musiccharts.db.migrate"} <= modules
    for module in modules:
        relative = Path(*module.split("."))
        assert any(
            (REPO_ROOT / root / relative).with_suffix(".py").exists()
            or (REPO_ROOT / root / relative / "__main__.py").exists()
            for root in IMPORTABLE_SOURCE_DIRS
        ), f"python -m {module}: not found under {IMPORTABLE_SOURCE_DIRS} (copied into the image)"


def test_init_applies_the_settings_file_the_image_contains(compose):
    copies = [argument.split() for keyword, argument in dockerfile_instructions() if keyword == "COPY"]
    settings_target = next(parts[-1] for parts in copies if parts[-2] == "airflow_settings.yaml")
    script = " ".join(map(str, compose["services"]["airflow-init"]["command"]))
    assert f"settings_file apply {settings_target}" in script


# ---------------------------------------------------------------------------------------- .env.example


def required_variables(text: str) -> set[str]:
    return {match.group("name") for match in REQUIRED_REFERENCE.finditer(text)}


def env_example_values() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def test_env_example_defines_every_required_variable():
    required = required_variables(COMPOSE_FILE.read_text())
    assert set(SHARED_SECRETS) | {"POSTGRES_PASSWORD"} <= required
    values = env_example_values()
    missing = sorted(name for name in required if not values.get(name))
    assert missing == [], f".env.example lacks {missing}"


def test_env_example_holds_placeholders_not_secrets():
    values = env_example_values()
    for name in (*SHARED_SECRETS, "POSTGRES_PASSWORD"):
        assert "REPLACE_ME" in values[name], f"{name} in .env.example must be a placeholder"
    text = ENV_EXAMPLE.read_text()
    assert "token_urlsafe" in text and "Fernet.generate_key" in text  # says how to make real ones


def test_required_variable_detection_can_fail():
    assert required_variables("a: ${ONE:?needed} b: ${TWO:-x} c: ${THREE}") == {"ONE"}


def test_interpolation_resolves_like_compose():
    text = "p://u:${PW:?set it (see .env)}@${HOST:-db}:${PORT}/x"
    assert interpolate(text) == "p://u:pw@db:/x"
    assert interpolate(text, {"HOST": "h", "PORT": "1"}) == "p://u:pw@h:1/x"


# ----------------------------------------------------------------------------------- the native stack


@pytest.fixture
def native_celery_environment(tmp_path):
    env_module = pytest.importorskip("musiccharts_stack.env")
    return env_module, env_module.airflow_environment(
        executor="CeleryExecutor",
        airflow_home=tmp_path,
        metadata_db_url="postgresql+psycopg2://airflow:pw@postgres:5432/airflow",
        shared_secrets={name: f"value-of-{name}" for name in SHARED_SECRETS},
        api_host="airflow-apiserver",
        api_port=container_port(load_compose()["services"]["airflow-apiserver"]),
        broker_url="redis://redis:6379/0",
    )


# Native settings that legitimately differ in a container: host paths and where the API listens.
DEPLOYMENT_SPECIFIC = {
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
}
# Compared by shape (scheme, host, secret reference), not by value.
URLS_AND_SECRETS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    *SHARED_SECRETS,
}


def normalise(value: str) -> str:
    return value.lower() if value.lower() in {"true", "false"} else value


def drift_from_native(compose_env: dict[str, str], native: dict[str, str]) -> list[str]:
    problems = []
    for key, native_value in sorted(native.items()):
        if not key.startswith("AIRFLOW__") or key in DEPLOYMENT_SPECIFIC:
            continue
        if key not in compose_env:
            problems.append(f"{key} is set natively but not in docker-compose.yaml")
        elif key in URLS_AND_SECRETS:
            native_scheme = url_of(native_value).scheme if "://" in native_value else None
            compose_value = interpolate(compose_env[key])
            compose_scheme = url_of(compose_value).scheme if "://" in compose_value else None
            if native_scheme != compose_scheme:
                problems.append(f"{key}: scheme {compose_scheme} in compose, {native_scheme} natively")
        elif normalise(compose_env[key]) != normalise(native_value):
            problems.append(f"{key}: {compose_env[key]!r} in compose, {native_value!r} natively")
    return problems


def test_compose_matches_the_native_celery_stack(compose, native_celery_environment):
    env_module, native = native_celery_environment
    compose_env = environment(compose["services"]["airflow-scheduler"])
    assert drift_from_native(compose_env, native) == []
    # Both point the task runtime at the API server the same way.
    assert (
        compose_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        == native["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
    )
    assert set(env_module.SHARED_SECRET_VARS) == set(SHARED_SECRETS)
    native_dirs = {Path(part).name for part in native["PYTHONPATH"].split(":")}
    compose_dirs = {Path(part).name for part in compose_env["PYTHONPATH"].split(":")}
    # stack/ is the native runner itself; the image has no use for it.
    assert native_dirs - {"stack"} <= compose_dirs


def test_drift_detection_can_fail(compose, native_celery_environment):
    _, native = native_celery_environment
    compose_env = environment(compose["services"]["airflow-scheduler"])
    assert drift_from_native(compose_env, {**native, "AIRFLOW__CORE__PARALLELISM": "64"}) != []
    changed = {**compose_env, "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true"}
    assert drift_from_native(changed, native) != []
    broker = {**compose_env, "AIRFLOW__CELERY__BROKER_URL": "amqp://rabbit//"}
    assert drift_from_native(broker, native) != []
