"""Checking a song's audio before it goes to ACRCloud, and cutting the identification sample.

Identification only looks at roughly the first 12 s and wants samples under 5 MB, so the sample is cut
with a real decoder (Python's ``wave`` for PCM WAV): a sample of whole frames, re-wrapped as a valid WAV,
never the whole file. Compressed formats (MP3, FLAC, Ogg, M4A/AAC) are accepted for File Scanning, which
takes whole files, but no decoder for them is installed, so they get no identification sample (the
analysis records why). Anything else is refused before upload with a message saying what is wrong.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

__all__ = ["AudioInfo", "AudioProblem", "cut_identification_sample", "inspect_audio"]


class AudioProblem(ValueError):
    """The song's file cannot be analysed (empty, too large, not audio, corrupt); the message says why."""


@dataclass(frozen=True)
class AudioInfo:
    format: str  # wav | mp3 | flac | ogg | m4a
    content_type: str
    size: int
    duration_seconds: float | None  # known for WAV
    decodable: bool  # a sample can be cut locally


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
        return AudioInfo(kind, _CONTENT_TYPES[kind], len(data), None, False)
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

    The offset is pulled back so that a short file still yields as much audio as it has.
    """
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
