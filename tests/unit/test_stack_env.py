from pathlib import Path

import pytest

from musiccharts_stack.env import SHARED_SECRET_VARS, airflow_environment, load_or_create_secrets
from musiccharts_stack.native import PostgresParts


def test_secrets_are_created_once_and_reused(tmp_path):
    path = tmp_path / "secrets.env"
    first = load_or_create_secrets(path)
    assert set(first) == set(SHARED_SECRET_VARS)
    assert all(len(value) >= 32 for value in first.values())
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secrets(path) == first  # a restart must decrypt what it stored before


def test_celery_environment_points_every_component_at_one_api_and_broker(tmp_path):
    secrets = load_or_create_secrets(tmp_path / "s.env")
    env = airflow_environment(
        executor="CeleryExecutor",
        airflow_home=tmp_path,
        metadata_db_url="postgresql+psycopg2://u@127.0.0.1:5432/airflow",
        shared_secrets=secrets,
        api_port=9090,
        broker_url="redis://127.0.0.1:6379/0",
    )
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9090/execution/"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql://u@127.0.0.1:5432/airflow"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    for name in SHARED_SECRET_VARS:
        assert env[name] == secrets[name]
    for part in ("include", "plugins"):
        assert any(Path(p).name == part for p in env["PYTHONPATH"].split(":"))


def test_celery_without_broker_is_refused(tmp_path):
    with pytest.raises(ValueError, match="broker"):
        airflow_environment(
            executor="CeleryExecutor", airflow_home=tmp_path, metadata_db_url="x", shared_secrets={}
        )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres:@/postgres?host=/tmp/pg", PostgresParts("/tmp/pg", "5432", "postgres", "")),
        ("postgresql://bob:s3cret@db.internal:6543", PostgresParts("db.internal", "6543", "bob", "s3cret")),
    ],
)
def test_postgres_parts_from_url(url, expected):
    parts = PostgresParts.from_url(url)
    assert parts == expected
    assert parts.url("musiccharts").endswith(
        "musiccharts" if not parts.host.startswith("/") else f"port={parts.port}"
    )


def test_acrcloud_callback_token_is_generated_once_per_workdir_unless_configured(tmp_path, monkeypatch):
    from musiccharts_stack.native import NativeStack

    monkeypatch.delenv("ACRCLOUD_CALLBACK_TOKEN", raising=False)
    stack = NativeStack(workdir=tmp_path, postgres=PostgresParts("127.0.0.1"))
    shared_before = load_or_create_secrets(tmp_path / "secrets.env")
    token = stack.acrcloud_callback_token()
    assert len(token) >= 40 and token != "local-simulator-callback"
    assert stack.acrcloud_callback_token() == token  # kept in secrets.env, so a restart keeps the URL valid
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
    assert stack.environment()["ACRCLOUD_CALLBACK_TOKEN"] == token
    # The shared Airflow secrets live in the same file and are untouched by it (values, not only names).
    assert set(shared_before) == set(SHARED_SECRET_VARS)
    assert load_or_create_secrets(tmp_path / "secrets.env") == shared_before
    assert (
        NativeStack(workdir=tmp_path / "other", postgres=PostgresParts("x")).acrcloud_callback_token()
        != token
    )
    # A configured token wins (a deployment whose real container already calls a URL).
    monkeypatch.setenv("ACRCLOUD_CALLBACK_TOKEN", "configured-token")
    assert stack.acrcloud_callback_token() == "configured-token"
    assert stack.environment()["ACRCLOUD_SIMULATOR_CALLBACK_URL"].endswith(
        "/acrcloud/callback?token=configured-token"
    )
