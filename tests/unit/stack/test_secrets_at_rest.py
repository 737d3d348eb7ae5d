"""Secrets of the native stack at rest and in output: 0600 from creation, atomic, never rotated as a side
effect, never printed in clear (except the admin password, once, when it is created)."""

from __future__ import annotations

import os
import stat

import pytest

from musiccharts_stack import env as stack_env
from musiccharts_stack.env import (
    SHARED_SECRET_VARS,
    load_or_create_secrets,
    mask_url_password,
    read_env_file,
    sizing_defaults,
    write_private_file,
)
from musiccharts_stack.native import NativeStack, PostgresParts
from musiccharts_stack.processes import StackError
from musiccharts_stack.run import SoundchartsSource, display, print_banner


@pytest.fixture
def permissive_umask():
    """The most permissive umask a user could have: nothing may rely on the umask for privacy."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_file_is_0600_before_it_holds_any_content(tmp_path, monkeypatch, permissive_umask):
    seen = {}
    real_replace = os.replace

    def inspecting_replace(source, destination):
        # At the rename the temporary file holds the full content: it must already be private.
        seen["mode"] = mode(type(tmp_path)(source))
        seen["content"] = type(tmp_path)(source).read_text()
        real_replace(source, destination)

    monkeypatch.setattr(stack_env.os, "replace", inspecting_replace)
    target = tmp_path / "var" / "secrets.env"
    write_private_file(target, "KEY=value\n")
    assert seen == {"mode": 0o600, "content": "KEY=value\n"}
    assert mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert target.read_text() == "KEY=value\n"
    assert [p.name for p in target.parent.iterdir()] == ["secrets.env"]  # no temporary file left


def test_private_file_replaces_an_old_world_readable_one_with_a_private_one(tmp_path, permissive_umask):
    target = tmp_path / "env.sh"
    target.write_text("old")
    target.chmod(0o644)
    write_private_file(target, "new")
    assert (mode(target), target.read_text()) == (0o600, "new")


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "secrets.env"
    write_private_file(target, "A=1\n")

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(stack_env.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_private_file(target, "A=2\n")
    assert target.read_text() == "A=1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.env"]


def test_secrets_file_is_created_private(tmp_path, permissive_umask):
    path = tmp_path / "secrets.env"
    values = load_or_create_secrets(path)
    assert set(values) == set(SHARED_SECRET_VARS)
    assert mode(path) == 0o600


@pytest.mark.parametrize("missing", SHARED_SECRET_VARS)
def test_a_missing_secret_is_generated_alone(tmp_path, missing):
    path = tmp_path / "secrets.env"
    first = load_or_create_secrets(path)
    kept = {name: value for name, value in first.items() if name != missing}
    path.write_text("".join(f"{name}={value}\n" for name, value in kept.items()) + "OTHER=keep-me\n")

    second = load_or_create_secrets(path)

    assert {name: second[name] for name in kept} == kept  # above all the Fernet key: never rotated
    assert second[missing] and second[missing] != first[missing]
    assert read_env_file(path)["OTHER"] == "keep-me"


def test_an_empty_secret_counts_as_missing(tmp_path):
    path = tmp_path / "secrets.env"
    first = load_or_create_secrets(path)
    path.write_text(
        "".join(f"{n}={'' if n == 'AIRFLOW__API__SECRET_KEY' else v}\n" for n, v in first.items())
    )
    second = load_or_create_secrets(path)
    assert second["AIRFLOW__API__SECRET_KEY"]
    assert second["AIRFLOW__CORE__FERNET_KEY"] == first["AIRFLOW__CORE__FERNET_KEY"]


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:s3cr%21t@db:5432/musiccharts", "postgresql://app:***@db:5432/musiccharts"),
        ("postgresql://postgres@/musiccharts?host=/tmp/x", "postgresql://postgres@/musiccharts?host=/tmp/x"),
        ("redis://:hunter2@redis:6379/1", "redis://:***@redis:6379/1"),
    ],
)
def test_urls_are_printed_with_their_password_masked(url, masked):
    assert mask_url_password(url) == masked


def test_banner_shows_a_new_admin_password_once_and_never_the_database_password(tmp_path, capsys):
    stack = NativeStack(workdir=tmp_path, postgres=PostgresParts("db", "5432", "app", "db-pass-XYZ"))
    stack.new_admin_password = "first-admin-pw"
    print_banner(stack, SoundchartsSource(real=False, base_url=None))
    first = capsys.readouterr().out
    stack.new_admin_password = None
    print_banner(stack, SoundchartsSource(real=False, base_url=None))
    second = capsys.readouterr().out

    assert "db-pass-XYZ" not in first + second
    assert "postgresql://app:***@db:5432/musiccharts" in first
    assert first.count("first-admin-pw") == 1
    assert "first-admin-pw" not in second and "password in" in second


def test_admin_password_file_is_created_private_once(tmp_path, permissive_umask):
    stack = NativeStack(workdir=tmp_path, postgres=PostgresParts("db"))
    password = stack.ensure_admin_password()
    assert password and mode(stack.passwords_file) == 0o600
    assert stack.admin_password() == password
    assert stack.ensure_admin_password() is None  # kept, not regenerated, on the next start


def test_display_removes_the_checkout_path():
    assert display(stack_env.REPO_ROOT / "var" / "logs") == "var/logs"


def test_simulator_unless_every_real_setting_is_given():
    assert SoundchartsSource.from_environment({}) == SoundchartsSource(real=False, base_url=None)
    real = {
        "SOUNDCHARTS_API_KEY": "k",
        "SOUNDCHARTS_APP_ID": "a",
        "SOUNDCHARTS_BASE_URL": "https://customer.api.soundcharts.com",
    }
    assert SoundchartsSource.from_environment(real).real


@pytest.mark.parametrize("missing", ["SOUNDCHARTS_APP_ID", "SOUNDCHARTS_BASE_URL"])
def test_real_credentials_with_a_missing_setting_are_a_clear_error(missing):
    given = {
        "SOUNDCHARTS_API_KEY": "real-key",
        "SOUNDCHARTS_APP_ID": "a",
        "SOUNDCHARTS_BASE_URL": "https://x",
    }
    del given[missing]
    with pytest.raises(StackError) as raised:
        SoundchartsSource.from_environment(given)
    assert missing in str(raised.value) and "real-key" not in str(raised.value)


def test_sizing_for_a_two_core_machine_is_far_below_airflows_defaults():
    sizing = sizing_defaults(cpus=2)
    assert int(sizing["AIRFLOW__CORE__PARALLELISM"]) == 4  # Airflow: 32
    assert int(sizing["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) == 2  # Airflow: 16
    assert sizing["AIRFLOW__API__WORKERS"] == "1"
    assert int(sizing_defaults(cpus=16)["AIRFLOW__CORE__PARALLELISM"]) == 32


def test_an_explicit_sizing_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__PARALLELISM", "12")
    monkeypatch.setenv("AIRFLOW__CELERY__WORKER_CONCURRENCY", "7")
    stack = NativeStack(workdir=tmp_path, postgres=PostgresParts("db"))
    env = stack.environment()
    assert (env["AIRFLOW__CORE__PARALLELISM"], env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) == ("12", "7")
