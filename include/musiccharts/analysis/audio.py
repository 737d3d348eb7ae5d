"""Checking a song's audio before it goes to ACRCloud, and cutting the identification sample.

Identification only looks at roughly the first 12 s and wants samples under 5 MB, so the sample is cut
with a real decoder, never by slicing bytes: Python's ``wave`` for PCM WAV (whole frames, re-wrapped as a
valid WAV in the file's own format), and PyAV (FFmpeg's decoders, bundled in its wheels) for MP3, FLAC,
Ogg (Vorbis/Opus/FLAC) and M4A/AAC, decoded and resampled to 8 kHz mono 16-bit PCM, the input ACRCloud's
own fingerprint extractor resamples to. The type is sniffed from the content, never from the name.
Anything unreadable (empty, oversized, unknown, or a file its decoder rejects) is refused before upload
with a message saying what is wrong. Without PyAV installed, compressed files still go to File Scanning
(which decodes them itself) but get no identification sample (the analysis records why).
"""

from __future__ import annotations

import io
import wave
from array import array
from dataclasses import dataclass
from typing import Any

__all__ = ["AudioInfo", "AudioProblem", "cut_identification_sample", "inspect_audio"]


class AudioProblem(ValueError):
    """The song's file cannot be analysed (empty, too large, not audio, corrupt); the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    format: str  # wav | mp3 | flac | ogg | m4a
    content_type: str
    size: int
    duration_seconds: float | None  # as the container states it (None when it does not say)
    decodable: bool  # a sample can be cut locally


#: The identification sample of a compressed file: 8 kHz mono 16-bit PCM.
SAMPLE_RATE = 8000
_FORMAT_NAMES = {"mp3": "MP3", "flac": "FLAC", "ogg": "Ogg", "m4a": "M4A"}


_CONTENT_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
}


def _sniff(data: bytes) -> str | None:
    head = data[:12]
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "m4a"
    return None


def inspect_audio(data: bytes, *, max_bytes: int) -> AudioInfo:
    """What the file is; raises :class:`AudioProblem` for empty, oversized, unknown or corrupt files."""
    if not data:
        raise AudioProblem("the audio file is empty")
    if len(data) > max_bytes:
        raise AudioProblem(f"the audio file is {len(data)} bytes, over the {max_bytes}-byte limit")
    kind = _sniff(data)
    if kind is None:
        raise AudioProblem("unsupported file: not WAV, MP3, FLAC, Ogg or M4A audio (by its content)")
    if kind != "wav":
        return _inspect_compressed(data, kind)
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            frames, rate = reader.getnframes(), reader.getframerate()
            if rate <= 0 or reader.getnchannels() <= 0:
                raise AudioProblem("corrupt WAV file: no sample rate or channels")
            # Read the whole payload once: a truncated file announces more frames than it holds.
            available = len(reader.readframes(frames)) // (reader.getsampwidth() * reader.getnchannels())
    except (wave.Error, EOFError) as error:
        raise AudioProblem(f"corrupt or unsupported WAV file: {error}") from error
    if available == 0:
        raise AudioProblem("the WAV file holds no audio frames")
    return AudioInfo("wav", "audio/wav", len(data), available / rate, True)


def cut_identification_sample(
    data: bytes, *, seconds: float = 12.0, max_bytes: int = 5_000_000, offset_seconds: float = 0.0
) -> bytes:
    """A WAV of at most ``seconds`` (and fewer than ``max_bytes`` bytes) from ``offset_seconds`` on.

    The offset is pulled back so that a short file still yields as much audio as it has. WAV input keeps
    its own sample format; compressed input is decoded to 8 kHz mono 16-bit (needs PyAV).
    """
    if _sniff(data) not in (None, "wav"):
        return _cut_compressed(data, seconds=seconds, max_bytes=max_bytes, offset_seconds=offset_seconds)
    with wave.open(io.BytesIO(data), "rb") as reader:
        params = reader.getparams()
        frame_bytes = params.sampwidth * params.nchannels
        total = params.nframes
        budget = max(1, (max_bytes - 1024) // frame_bytes)  # room for the header
        count = min(total, int(seconds * params.framerate), budget)
        start = max(0, min(int(offset_seconds * params.framerate), total - count))
        reader.setpos(start)
        frames = reader.readframes(count)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(params.nchannels)
        writer.setsampwidth(params.sampwidth)
        writer.setframerate(params.framerate)
        writer.writeframes(frames)
    return buffer.getvalue()


def _pyav() -> Any | None:
    try:
        import av
    except ImportError:
        return None
    return av


def _inspect_compressed(data: bytes, kind: str) -> AudioInfo:
    """Open the container and decode its first audio frame: a file FFmpeg cannot read is refused now."""
    av = _pyav()
    if av is None:
        return AudioInfo(kind, _CONTENT_TYPES[kind], len(data), None, False)
    name = _FORMAT_NAMES[kind]
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioProblem(f"the {name} file holds no audio stream")
            stream = container.streams.audio[0]
            frame = next(iter(container.decode(stream)), None)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
    except av.FFmpegError as error:
        raise AudioProblem(f"corrupt or unsupported {name} file: {_ffmpeg_reason(error)}") from error
    if frame is None:
        raise AudioProblem(f"the {name} file holds no audio frames")
    return AudioInfo(kind, _CONTENT_TYPES[kind], len(data), duration, True)


def _ffmpeg_reason(error: Exception) -> str:
    # FFmpeg's messages name the in-memory file as "<none>"; keep only the decoder's words.
    return str(getattr(error, "strerror", None) or error)


def _cut_compressed(data: bytes, *, seconds: float, max_bytes: int, offset_seconds: float) -> bytes:
    av = _pyav()
    if av is None:
        raise AudioProblem("no decoder for compressed audio is installed (PyAV): cannot cut a sample")
    budget = max(1, (max_bytes - 1024) // 2)  # mono 16-bit samples, room for the header
    count = min(int(seconds * SAMPLE_RATE), budget)
    wanted_end = int(offset_seconds * SAMPLE_RATE) + count
    samples = array("h")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioProblem("the file holds no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            # Decode only as far as the sample reaches; a long file is never decoded whole.
            for frame in container.decode(container.streams.audio[0]):
                for converted in resampler.resample(frame):
                    samples.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
                if len(samples) >= wanted_end:
                    break
            else:
                for converted in resampler.resample(None):
                    samples.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
    except av.FFmpegError as error:
        raise AudioProblem(f"the audio could not be decoded: {_ffmpeg_reason(error)}") from error
    if not samples:
        raise AudioProblem("the audio file decoded to no samples")
    count = min(count, len(samples))
    start = max(0, min(int(offset_seconds * SAMPLE_RATE), len(samples) - count))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(samples[start : start + count].tobytes())
    return buffer.getvalue()
