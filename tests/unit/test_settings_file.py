"""airflow_settings.yaml parsing: the repository's file, environment expansion, and rejection messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from musiccharts_airflow.settings_file import (
    SettingsError,
    connection_values,
    expand_environment,
    load_settings,
    main,
)
from tests.paths import REPO_ROOT

SETTINGS_FILE = REPO_ROOT / "airflow_settings.yaml"
#: The one variable the repository's file requires (no default): the ACRCloud callback secret.
REQUIRED_ENV = {"ACRCLOUD_CALLBACK_TOKEN": "test-callback-token"}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "airflow_settings.yaml"
    path.write_text(textwrap.dedent(body))
    return path


# ------------------------------------------------------------------------------- the repository's file


def test_repository_file_requires_the_acrcloud_callback_token():
    with pytest.raises(SettingsError, match="ACRCLOUD_CALLBACK_TOKEN is not set"):
        load_settings(SETTINGS_FILE, environ={})


def test_repository_file_parses_with_simulator_defaults():
    settings = load_settings(SETTINGS_FILE, environ=REQUIRED_ENV)

    connections = {c.conn_id: c for c in settings.connections}
    assert set(connections) == {
        "soundcharts_default",
        "acrcloud_default",
        "acrcloud_identify",
        "musiccharts_db",
        "smtp_default",
        "alerts_webhook",
        "airflow_metadata_db",
    }
    soundcharts = connection_values(connections["soundcharts_default"].to_connection())
    assert soundcharts["conn_type"] == "http"
    assert soundcharts["host"] == "http://127.0.0.1:8765"
    assert (soundcharts["login"], soundcharts["password"]) == ("soundcharts", "soundcharts")
    assert soundcharts["extra"] == {
        "timeout": 30,
        "requests_per_minute": 600,
        "quota_floor": 1000,
        "max_retries": 5,
    }
    database = connection_values(connections["musiccharts_db"].to_connection())
    assert database["conn_type"] == "postgres"
    assert (database["host"], database["port"], database["schema"]) == ("127.0.0.1", 5432, "musiccharts")
    assert (database["login"], database["password"]) == ("postgres", None)
    assert connections["acrcloud_default"].conn_type == "http"

    assert {p.pool_name: p.pool_slot for p in settings.pools} == {
        "soundcharts_api": 4,
        "acrcloud_api": 2,
        "product_db": 8,
    }
    assert {v.variable_name: v.variable_value for v in settings.variables} == {
        "musiccharts_rate_limit_redis_url": "",
        "metadata_staleness_days": "30",
        "metadata_batch_failure_threshold": "0.1",
    }


def test_repository_file_takes_real_credentials_from_the_environment():
    environ = {
        "SOUNDCHARTS_BASE_URL": "https://customer.api.soundcharts.com",
        "SOUNDCHARTS_APP_ID": "my-app",
        "SOUNDCHARTS_API_KEY": "k3y-from-env",
        "SOUNDCHARTS_REQUESTS_PER_MINUTE": "120",
        "MUSICCHARTS_DB_HOST": "postgres",
        "MUSICCHARTS_DB_PORT": "6543",
        "MUSICCHARTS_DB_PASSWORD": "pw",
        "MUSICCHARTS_RATE_LIMIT_REDIS_URL": "redis://redis:6379/1",
    }
    settings = load_settings(SETTINGS_FILE, environ=REQUIRED_ENV | environ)
    connections = {c.conn_id: connection_values(c.to_connection()) for c in settings.connections}
    assert connections["acrcloud_default"]["extra"]["callback_token"] == "test-callback-token"
    soundcharts = connections["soundcharts_default"]
    assert soundcharts["host"] == "https://customer.api.soundcharts.com"
    assert (soundcharts["login"], soundcharts["password"]) == ("my-app", "k3y-from-env")
    # A whole-value reference inside conn_extra stays a number in the JSON extra.
    assert soundcharts["extra"]["requests_per_minute"] == 120
    assert (connections["musiccharts_db"]["host"], connections["musiccharts_db"]["port"]) == (
        "postgres",
        6543,
    )
    assert connections["musiccharts_db"]["password"] == "pw"
    variables = {v.variable_name: v.variable_value for v in settings.variables}
    assert variables["musiccharts_rate_limit_redis_url"] == "redis://redis:6379/1"


def test_governance_pool_names_are_declared():
    from musiccharts_airflow.governance import ACRCLOUD_POOL, PRODUCT_DB_POOL, SOUNDCHARTS_POOL

    declared = {pool.pool_name for pool in load_settings(SETTINGS_FILE, environ=REQUIRED_ENV).pools}
    assert {SOUNDCHARTS_POOL, ACRCLOUD_POOL, PRODUCT_DB_POOL} <= declared


# -------------------------------------------------------------------------------- environment expansion


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("${A:-fallback}", {}, "fallback"),
        ("${A:-fallback}", {"A": ""}, "fallback"),  # compose semantics: empty counts as unset
        ("${A:-fallback}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("http://${HOST:-localhost}:${PORT:-80}/x", {"PORT": "8080"}, "http://localhost:8080/x"),
        ("literal $$ and $${NOT_A_REF}", {}, "literal $ and ${NOT_A_REF}"),
        ("${A:-http://default:1/p}", {}, "http://default:1/p"),
        ("no references", {"A": "x"}, "no references"),
    ],
)
def test_expand_environment(text, environ, expected):
    assert expand_environment(text, environ) == expected


def test_variable_values_and_extras_expand_from_a_custom_environment(tmp_path):
    path = write(
        tmp_path,
        """
        airflow:
          connections:
            - conn_id: api
              conn_type: http
              conn_host: ${API_HOST}
              conn_extra: {flag: "${FLAG:-true}", label: "v${VERSION:-1}", nested: {n: "${N:-7}"}}
          variables:
            - variable_name: greeting
              variable_value: hello ${WHO:-world}
            - variable_name: as_json
              variable_value: {a: 1}
            - variable_name: flag
              variable_value: true
        """,
    )
    settings = load_settings(path, environ={"API_HOST": "api.internal", "WHO": "charts"})
    connection = settings.connections[0]
    assert connection.conn_host == "api.internal"
    # Whole references are re-typed (true, 7); a reference inside a longer string stays text ("v1").
    assert connection.conn_extra == {"flag": True, "label": "v1", "nested": {"n": 7}}
    variables = {v.variable_name: v.variable_value for v in settings.variables}
    assert variables == {"greeting": "hello charts", "as_json": '{"a": 1}', "flag": "true"}


def test_astro_placeholder_entries_are_skipped(tmp_path):
    # `astro dev init` writes entries with every key empty; astro ignores them, so do we.
    path = write(
        tmp_path,
        """
        airflow:
          connections:
            - conn_id:
              conn_type:
              conn_host:
          pools:
            - pool_name:
              pool_slot:
          variables:
            - variable_name:
              variable_value:
        """,
    )
    settings = load_settings(path, environ={})
    assert (settings.connections, settings.pools, settings.variables) == ((), (), ())


def test_conn_uri_is_accepted_alone(tmp_path):
    path = write(
        tmp_path,
        """
        airflow:
          connections:
            - conn_id: by_uri
              conn_uri: postgres://bob:secret@db.example:6432/product
        """,
    )
    fields = connection_values(load_settings(path, environ={}).connections[0].to_connection())
    assert fields["conn_type"] == "postgres"
    assert (fields["host"], fields["port"], fields["schema"]) == ("db.example", 6432, "product")
    assert (fields["login"], fields["password"]) == ("bob", "secret")


# ------------------------------------------------------------------------------------ malformed files


VALID_POOL = "- {pool_name: first, pool_slot: 1}"


@pytest.mark.parametrize(
    ("body", "expected_fragments"),
    [
        pytest.param(
            f"""
            airflow:
              pools:
                {VALID_POOL}
                - {{pool_name: soundcharts_api, pool_slot: 0}}
            """,
            ["pools[1] (pool_name=soundcharts_api)", "pool_slot", "greater than 0"],
            id="pool-slot-zero",
        ),
        pytest.param(
            """
            airflow:
              pools:
                - {pool_name: soundcharts_api, pool_slot: four}
            """,
            ["pools[0] (pool_name=soundcharts_api)", "pool_slot", "integer"],
            id="pool-slot-not-a-number",
        ),
        pytest.param(
            """
            airflow:
              pools:
                - {pool_name: soundcharts_api, pool_slot: 2.5}
            """,
            ["pools[0] (pool_name=soundcharts_api)", "pool_slot", "integer"],
            id="pool-slot-fractional",
        ),
        pytest.param(
            """
            airflow:
              pools:
                - {pool_name: soundcharts_api, pool_slot: true}
            """,
            ["pools[0] (pool_name=soundcharts_api)", "pool_slot", "boolean"],
            id="pool-slot-boolean",
        ),
        pytest.param(
            """
            airflow:
              pools:
                - {pool_name: soundcharts_api, pool_slot: 4, slots: 4}
            """,
            ["pools[0] (pool_name=soundcharts_api)", "slots", "unknown key"],
            id="pool-unknown-key",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: soundcharts_default, conn_type: http, host: api.example.com}
            """,
            ["connections[0] (conn_id=soundcharts_default)", "host", "unknown key"],
            id="connection-key-without-conn-prefix",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: ok, conn_type: http}
                - {conn_type: http, conn_host: example.com}
            """,
            ["connections[1]", "conn_id", "Field required"],
            id="connection-missing-conn-id",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: soundcharts_default, conn_host: example.com}
            """,
            ["connections[0] (conn_id=soundcharts_default)", "conn_type", "required"],
            id="connection-missing-conn-type",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: db, conn_type: postgres, conn_port: 70000}
            """,
            ["connections[0] (conn_id=db)", "conn_port", "65535"],
            id="connection-port-out-of-range",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: api, conn_type: http, conn_extra: [1, 2]}
            """,
            ["connections[0] (conn_id=api)", "conn_extra", "map"],
            id="connection-extra-not-a-map",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: api, conn_type: http, conn_extra: "{not json"}
            """,
            ["connections[0] (conn_id=api)", "conn_extra", "JSON"],
            id="connection-extra-bad-json-string",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: "bad id<script>", conn_type: http}
            """,
            ["connections[0] (conn_id=bad id<script>)", "conn_id", "may contain only"],
            id="connection-id-characters",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: mixed, conn_type: http, conn_uri: "http://x"}
            """,
            ["connections[0] (conn_id=mixed)", "conn_uri", "cannot be combined"],
            id="connection-uri-and-fields",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: api, conn_type: http, conn_password: "${UNSET_SECRET_FOR_TEST}"}
            """,
            ["connections[0] (conn_id=api)", "conn_password", "UNSET_SECRET_FOR_TEST is not set"],
            id="required-environment-variable-missing",
        ),
        pytest.param(
            f"""
            airflow:
              pools:
                {VALID_POOL}
                - {{pool_name: other, pool_slot: 2}}
                - {{pool_name: first, pool_slot: 3}}
            """,
            ["pools[2] (pool_name=first)", "pool_name", "duplicate of pools[0]"],
            id="duplicate-pool",
        ),
        pytest.param(
            """
            airflow:
              connections:
                - {conn_id: api, conn_type: http}
                - {conn_id: api, conn_type: postgres}
            """,
            ["connections[1] (conn_id=api)", "conn_id", "duplicate of connections[0]"],
            id="duplicate-connection",
        ),
        pytest.param(
            """
            airflow:
              variables:
                - {variable_name: x, variable_value: 1}
                - {variable_name: x, variable_value: 2}
            """,
            ["variables[1] (variable_name=x)", "variable_name", "duplicate of variables[0]"],
            id="duplicate-variable",
        ),
        pytest.param(
            """
            airflow:
              variables:
                - {variable_name: x, value: 1}
            """,
            ["variables[0] (variable_name=x)", "value", "unknown key"],
            id="variable-unknown-key",
        ),
        pytest.param(
            """
            airflow:
              pool:
                - {pool_name: x, pool_slot: 1}
            """,
            ["airflow.pool", "unknown key"],
            id="unknown-section",
        ),
        pytest.param(
            """
            connections: []
            """,
            ["top level", "'airflow'"],
            id="missing-airflow-root",
        ),
        pytest.param(
            """
            airflow:
              pools:
                - pool_name: x
                  pool_slot: [1
            """,
            ["not valid YAML", "line"],
            id="bad-yaml",
        ),
        pytest.param(
            """
            airflow:
              pools: {pool_name: x, pool_slot: 1}
            """,
            ["pools", "expected a list"],
            id="section-not-a-list",
        ),
    ],
)
def test_malformed_file_is_rejected_naming_entry_and_key(tmp_path, body, expected_fragments):
    path = write(tmp_path, body)
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    message = str(caught.value)
    assert str(path) in message
    for fragment in expected_fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        """
        airflow:
          connections:
            - {conn_id: a, conn_type: http, conn_hots: typo}
          pools:
            - {pool_name: p, pool_slot: -1}
        """,
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={})
    assert len(caught.value.problems) == 2
    assert caught.value.problems[0].startswith("connections[0] (conn_id=a): conn_hots")
    assert caught.value.problems[1].startswith("pools[0] (pool_name=p): pool_slot")


def test_secret_values_are_not_quoted_in_errors(tmp_path):
    # A bad port next to a password: the message must name keys, never echo the password.
    path = write(
        tmp_path,
        """
        airflow:
          connections:
            - {conn_id: db, conn_type: postgres, conn_password: "${DB_PW}", conn_port: "${DB_PORT}"}
        """,
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(path, environ={"DB_PW": "hunter2-very-secret", "DB_PORT": "not-a-port"})
    assert "conn_port" in str(caught.value)
    assert "hunter2-very-secret" not in str(caught.value)


# ------------------------------------------------------------------------------------------ command line


def test_validate_command_exit_codes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACRCLOUD_CALLBACK_TOKEN", REQUIRED_ENV["ACRCLOUD_CALLBACK_TOKEN"])
    assert main(["validate", str(SETTINGS_FILE)]) == 0
    connections = len(load_settings(SETTINGS_FILE, environ=REQUIRED_ENV).connections)
    assert f"{connections} connections, 3 pools, 3 variables" in capsys.readouterr().out

    bad = write(tmp_path, "airflow:\n  pools:\n    - {pool_name: soundcharts_api, pool_slot: 0}\n")
    assert main(["validate", str(bad)]) == 2
    assert "pools[0] (pool_name=soundcharts_api): pool_slot" in capsys.readouterr().err


def test_apply_command_refuses_a_bad_file_before_touching_any_database(tmp_path):
    # Run as a real process: exit status 2 and the message on stderr, without Airflow configured at all.
    bad = write(tmp_path, "airflow:\n  variables:\n    - {variable_name: x}\n")
    result = subprocess.run(
        [sys.executable, "-m", "musiccharts_airflow.settings_file", "apply", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT / "plugins"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    assert "variables[0] (variable_name=x): variable_value" in result.stderr
