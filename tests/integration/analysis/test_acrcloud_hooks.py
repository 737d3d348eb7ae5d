"""The ACRCloud hooks against the simulator: credentials from connections only, retries, failing fast."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from acrcloud_simulator.catalogue import RecordingKind
from acrcloud_simulator.testing import recording_wav
from musiccharts.analysis.acrcloud import AcrUnavailable
from musiccharts_airflow.hooks.acrcloud import (
    AcrCloudAuthFailed,
    AcrCloudFileScanningHook,
    AcrCloudIdentificationHook,
    AcrCloudQuotaFailed,
)

FAST = {"timeout": 5, "max_retries": 2, "backoff_base": 0.01, "backoff_max": 0.02}


@pytest.fixture
def connections(monkeypatch, acr):
    def set_connections(token: str | None = None, secret: str | None = None, **extra) -> None:
        monkeypatch.setenv(
            "AIRFLOW_CONN_ACRCLOUD_DEFAULT",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": acr.base_url,
                    "password": token or acr.bearer_token,
                    "extra": FAST | {"container_id": acr.container_id} | extra,
                }
            ),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_ACRCLOUD_IDENTIFY",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": acr.base_url,
                    "login": acr.access_key,
                    "password": secret or acr.access_secret,
                    "extra": FAST | extra,
                }
            ),
        )

    set_connections()
    return set_connections


def test_identify_through_the_hook(connections, acr):
    body = AcrCloudIdentificationHook().identify(recording_wav(RecordingKind.ORIGINAL, 3001, 12))
    assert body["status"]["code"] == 0 and body["metadata"]["music"]


def test_wrong_secret_fails_at_once_without_retries(connections, acr):
    connections(secret="not-the-secret")
    with pytest.raises(AcrCloudAuthFailed, match="3014"):
        AcrCloudIdentificationHook().identify(recording_wav(RecordingKind.ORIGINAL, 3001, 3))
    assert acr.state.count("identify") == 1
    assert issubclass(AcrCloudAuthFailed, AirflowFailException)


def test_quota_fails_at_once(connections, acr):
    acr.state.identify_quota = 0
    with pytest.raises(AcrCloudQuotaFailed, match="3003"):
        AcrCloudIdentificationHook().identify(recording_wav(RecordingKind.ORIGINAL, 3001, 3))


def test_bad_token_fails_at_once(connections, acr):
    connections(token="wrong")
    with pytest.raises(AcrCloudAuthFailed):
        AcrCloudFileScanningHook().get_file("anything")
    assert acr.state.count("file") == 1


def test_server_errors_are_retried_with_backoff_then_give_up(connections, acr):
    hook = AcrCloudFileScanningHook()
    created = hook.upload(
        recording_wav(RecordingKind.ORIGINAL, 3001, 3), "a.wav", "audio/wav", presigned=False
    )
    acr.state.fail_next("file", 2)
    assert hook.get_file(created["id"])["id"] == created["id"]  # two 503s, then success
    assert acr.state.count("file") == 3
    acr.state.fail_next("file", 3)
    with pytest.raises(AcrUnavailable, match="3 attempts"):
        hook.get_file(created["id"])


def test_presigned_upload_and_lost_upload_lookup(connections, acr):
    hook = AcrCloudFileScanningHook()
    created = hook.upload(
        recording_wav(RecordingKind.ORIGINAL, 3001, 3), "big.wav", "audio/wav", presigned=True
    )
    assert acr.state.count("presigned_upload") == 1 and acr.state.count("file_upload") == 1
    assert hook.find_file_by_name("big.wav")["id"] == created["id"]
    assert hook.find_file_by_name("never-uploaded.wav") is None


def test_requests_take_a_slot_from_the_shared_limiter(connections, acr):
    class CountingLimiter:
        grants = 0

        def acquire(self, timeout=None):
            self.grants += 1
            return 0.0

    limiter = CountingLimiter()
    hook = AcrCloudFileScanningHook(limiter=limiter)
    created = hook.upload(
        recording_wav(RecordingKind.ORIGINAL, 3001, 3), "a.wav", "audio/wav", presigned=False
    )
    hook.get_file(created["id"])
    assert limiter.grants == 2
