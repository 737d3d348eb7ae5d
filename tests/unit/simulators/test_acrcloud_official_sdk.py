"""ACRCloud's official Identification SDK, unchanged, against the simulator: given only its host.

The SDK is ``pyacrcloud`` on PyPI (published by ACRCloud; source: github.com/acrcloud/acrcloud_sdk_python).
Its ``ACRCloudRecognizer`` takes ``host``, ``access_key`` and ``access_secret``, decodes the audio itself
with its bundled native extractor (8 kHz mono, re-encoded as Ogg), signs the request with the documented
HMAC-SHA1 string and POSTs multipart fields ``access_key, sample_bytes, timestamp, signature, data_type,
signature_version`` plus the file ``sample`` to ``https://<host>/v1/identify``. The scheme is fixed to
HTTPS, so the simulator serves TLS here with a throw-away certificate that this test trusts through
``SSL_CERT_FILE`` (read by the standard library's default context): the client itself is not touched.

Its default ``fingerprint`` mode sends ACRCloud's proprietary fingerprint, which the simulator cannot read
(it answers 1001, no result); the audio mode (``recognize_audio_buffer``) is the one that can match.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from pathlib import Path

import pytest
from acrcloud.recognizer import ACRCloudRecognizer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from acrcloud_simulator.catalogue import RecordingKind
from acrcloud_simulator.testing import AcrSimulatorServer, encode_audio, recording_wav

SONG = 1234


def self_signed_certificate(folder: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that is its own authority (trusted by pointing SSL_CERT_FILE at it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACRCloud simulator (tests)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "simulator.crt", folder / "simulator.key"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(certfile), str(keyfile)


@pytest.fixture(scope="module")
def tls_simulator(tmp_path_factory):
    certfile, keyfile = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", certfile)
        with AcrSimulatorServer(seed=42, tls=(certfile, keyfile)) as server:
            yield server


@pytest.fixture
def acr_tls(tls_simulator):
    tls_simulator.state.reset()
    return tls_simulator


def recognizer(acr: AcrSimulatorServer, **changes: str) -> ACRCloudRecognizer:
    config = {
        "host": acr.host,
        "access_key": acr.access_key,
        "access_secret": acr.access_secret,
        "timeout": 10,
    }
    return ACRCloudRecognizer(config | changes)


@pytest.mark.parametrize("encoding", [None, "flac", "m4a"])
def test_official_sdk_identifies_a_recording_unchanged(acr_tls, encoding):
    audio = recording_wav(RecordingKind.ORIGINAL, SONG, 20)
    if encoding:
        audio = encode_audio(audio, encoding)
    body = json.loads(recognizer(acr_tls).recognize_audio_buffer(audio, 0, 10))
    assert body["status"]["code"] == 0, body
    [music] = body["metadata"]["music"]
    song = acr_tls.catalogue.soundcharts.song_by_id(SONG)
    assert music["title"] == song["name"]
    assert acr_tls.state.count("identify") == 1


def test_official_sdk_sees_the_documented_error_codes(acr_tls):
    audio = recording_wav(RecordingKind.ORIGINAL, SONG, 20)
    wrong_secret = json.loads(
        recognizer(acr_tls, access_secret="x" * 32).recognize_audio_buffer(audio, 0, 10)
    )
    assert wrong_secret["status"]["code"] == 3014
    unknown_key = json.loads(recognizer(acr_tls, access_key="nobody").recognize_audio_buffer(audio, 0, 10))
    assert unknown_key["status"]["code"] == 3001
    unknown = recording_wav(RecordingKind.HUMAN_UNKNOWN, SONG, 20)
    assert json.loads(recognizer(acr_tls).recognize_audio_buffer(unknown, 0, 10))["status"]["code"] == 1001
    # The default mode sends a proprietary fingerprint: correctly signed, but nothing the simulator can read.
    fingerprint = json.loads(recognizer(acr_tls).recognize_by_filebuffer(audio, 0, 10))
    assert fingerprint["status"]["code"] == 1001
