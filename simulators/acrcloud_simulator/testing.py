"""Run the ACRCloud simulator in-process for tests: uvicorn in a background thread on a free loopback port."""

from __future__ import annotations

import time
from typing import Any

from acrcloud_simulator.app import create_app, sign
from acrcloud_simulator.audio import synthesize_wav
from acrcloud_simulator.catalogue import RecordingKind, recording_id
from acrcloud_simulator.state import AcrState
from soundcharts_simulator.testing import LoopbackAppServer

__all__ = ["ENCODINGS", "AcrSimulatorServer", "encode_audio", "recording_wav"]


class AcrSimulatorServer(LoopbackAppServer):
    """Context manager serving the simulator on ``127.0.0.1:<free port>``.

    Attributes: ``base_url`` (identification and File Scanning share it), ``state`` (knobs and account),
    ``catalogue``, ``access_key``/``access_secret``/``bearer_token``, ``container_id``.
    """

    server_name = "ACRCloud simulator"

    def __init__(self, *, tls: tuple[str, str] | None = None, **state_options: Any) -> None:
        self.state = AcrState(**state_options)
        self.catalogue = self.state.catalogue
        super().__init__(create_app(self.state), tls=tls)

    @property
    def access_key(self) -> str:
        return self.state.settings.access_key

    @property
    def access_secret(self) -> str:
        return self.state.settings.access_secret

    @property
    def bearer_token(self) -> str:
        return self.state.settings.bearer_token

    @property
    def container_id(self) -> int:
        return self.state.container_id

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token}", "Accept": "application/json"}

    def signed_form(self, data_type: str = "audio", timestamp: str | None = None) -> dict[str, str]:
        """Identification form fields (without the sample) signed with the simulator's secret."""
        timestamp = timestamp or str(int(time.time()))
        return {
            "access_key": self.access_key,
            "data_type": data_type,
            "signature_version": "1",
            "timestamp": timestamp,
            "signature": sign(self.access_secret, self.access_key, data_type, "1", timestamp),
        }

    def stop(self) -> None:
        self.state.stop()
        super().stop()


def recording_wav(kind: RecordingKind, song_id: int, seconds: int = 30, first_block: int = 0) -> bytes:
    """A synthetic WAV of ``seconds`` of one recording (``kind`` of Soundcharts song ``song_id``)."""
    return synthesize_wav([(recording_id(kind, song_id), first_block, seconds)])


#: Compressed encodings tests can make of a recording: name -> (container format, codec, bit rate).
ENCODINGS: dict[str, tuple[str, str, int | None]] = {
    "flac": ("flac", "flac", None),
    "mp3": ("mp3", "libmp3lame", 128_000),
    "ogg": ("ogg", "libopus", 64_000),
    "m4a": ("ipod", "aac", 128_000),
}


def encode_audio(wav: bytes, encoding: str) -> bytes:
    """``wav`` (mono 16-bit PCM) re-encoded as ``encoding`` (a key of :data:`ENCODINGS`) with PyAV."""
    import io
    import wave

    import av
    from av.audio.stream import AudioStream

    container_format, codec, bit_rate = ENCODINGS[encoding]
    with wave.open(io.BytesIO(wav), "rb") as reader:
        rate, pcm = reader.getframerate(), reader.readframes(reader.getnframes())
    source = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    source.planes[0].update(pcm)
    source.sample_rate = rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as output:
        stream = output.add_stream(codec, rate=rate)
        assert isinstance(stream, AudioStream)  # an audio codec gives an audio stream
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in [*resampler.resample(source), *resampler.resample(None)]:
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()
