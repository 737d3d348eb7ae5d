"""Synthetic reference recordings the simulator can recognise, as PCM WAV files.

The simulator cannot fingerprint real music. Instead every second of a synthetic recording starts with a
96-sample header that spells, one bit per sample, a magic word, the recording id, the second's index and a
CRC-32 of those; the rest of the second is a tone whose pitch depends on the recording. Recognising a file
is then reading the headers back: deterministic (the same audio always gives the same matches), robust to
cutting the file at any sample (the reader finds the block alignment), and audio that carries no headers
(any real recording) is simply not recognised. Uploads and samples in other formats (MP3, FLAC, Ogg, M4A)
are decoded with PyAV (FFmpeg) first, as ACRCloud accepts them: lossless and AAC/Opus encodings keep the
headers readable; MP3's smearing of single samples does not, so an MP3 of a reference is not recognised.

Both the simulator (to recognise uploads) and the tests/benchmarks (to build files) use this module.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "BLOCK_SAMPLES",
    "SAMPLE_RATE",
    "AudioDecodeError",
    "BlockMark",
    "read_marks",
    "synthesize_wav",
]

SAMPLE_RATE = 8000
BLOCK_SAMPLES = SAMPLE_RATE  # one block per second
_MAGIC = 0xAC7C
_HEADER_BITS = 16 + 32 + 16 + 32  # magic, recording id, block index, crc32
_BIT_LEVEL = 20000
_TONE_LEVEL = 6000


class AudioDecodeError(ValueError):
    """The bytes are not a PCM WAV file this simulator can read."""


@dataclass(frozen=True)
class BlockMark:
    """One recognised second: which recording, which second of it, and where it sits in the file."""

    recording_id: int
    block_index: int
    file_second: int


def _header_bits(recording_id: int, block_index: int) -> list[int]:
    payload = struct.pack(">HIH", _MAGIC, recording_id, block_index)
    word = int.from_bytes(payload + struct.pack(">I", zlib.crc32(payload)), "big")
    return [(word >> (_HEADER_BITS - 1 - position)) & 1 for position in range(_HEADER_BITS)]


def _tone(recording_id: int) -> array:
    frequency = 220 + (recording_id * 37) % 660
    return array(
        "h",
        (
            int(_TONE_LEVEL * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE))
            for n in range(BLOCK_SAMPLES - _HEADER_BITS)
        ),
    )


def synthesize_wav(segments: Sequence[tuple[int, int, int]] | Iterable[tuple[int, int, int]]) -> bytes:
    """A mono 16-bit WAV made of ``(recording_id, first_block, seconds)`` segments, in order.

    ``recording_id`` 0 is silence-like filler (a tone with no headers), i.e. audio nobody knows.
    """
    samples = array("h")
    tones: dict[int, array] = {}
    for recording_id, first_block, seconds in segments:
        tone = tones.get(recording_id)
        if tone is None:
            tone = tones[recording_id] = _tone(recording_id)
        for block_index in range(first_block, first_block + seconds):
            if recording_id == 0:
                samples.extend(array("h", [0] * _HEADER_BITS))
            else:
                samples.extend(
                    array(
                        "h",
                        (
                            _BIT_LEVEL if bit else -_BIT_LEVEL
                            for bit in _header_bits(recording_id, block_index)
                        ),
                    )
                )
            samples.extend(tone)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(samples.tobytes())
    return buffer.getvalue()


def _decode_pcm(data: bytes) -> tuple[array, int]:
    """Mono 16-bit samples and the sample rate of a PCM WAV (first channel if several), or of any other
    file FFmpeg decodes (MP3, FLAC, Ogg, M4A: ACRCloud accepts them all), when PyAV is installed."""
    if data[:4] != b"RIFF":
        return _decode_with_ffmpeg(data)
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, struct.error) as error:
        raise AudioDecodeError(f"not a PCM WAV file: {error}") from error
    if width != 2:
        raise AudioDecodeError(f"only 16-bit PCM is supported, got {8 * width}-bit")
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % 2])
    if channels > 1:
        samples = samples[::channels]
    return samples, rate


def _decode_with_ffmpeg(data: bytes) -> tuple[array, int]:
    try:
        import av
    except ImportError as error:
        raise AudioDecodeError("not a PCM WAV file (and no decoder for other formats)") from error
    samples = array("h")
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioDecodeError("no audio stream")
            stream = container.streams.audio[0]
            # ACRCloud fingerprints 8 kHz mono; Opus, for one, always decodes at 48 kHz.
            rate = SAMPLE_RATE
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(stream):
                for converted in resampler.resample(frame):
                    samples.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
            for converted in resampler.resample(None):
                samples.frombytes(bytes(converted.planes[0])[: converted.samples * 2])
    except av.FFmpegError as error:
        raise AudioDecodeError(f"cannot decode the file: {error}") from error
    return samples, rate


def _header_at(samples: array, start: int) -> tuple[int, int] | None:
    if start + _HEADER_BITS > len(samples):
        return None
    word = 0
    for value in samples[start : start + _HEADER_BITS]:
        if value >= _BIT_LEVEL // 2:
            word = (word << 1) | 1
        elif value <= -_BIT_LEVEL // 2:
            word <<= 1
        else:
            return None
    raw = word.to_bytes(_HEADER_BITS // 8, "big")
    if int.from_bytes(raw[:2], "big") != _MAGIC or zlib.crc32(raw[:8]) != int.from_bytes(raw[8:], "big"):
        return None
    _, recording_id, block_index = struct.unpack(">HIH", raw[:8])
    return recording_id, block_index


def read_marks(data: bytes) -> tuple[list[BlockMark], float]:
    """Every recognised second of an audio file and the file's duration in seconds.

    Raises :class:`AudioDecodeError` for bytes that are neither a readable PCM WAV nor audio FFmpeg
    decodes.
    """
    samples, rate = _decode_pcm(data)
    duration = len(samples) / rate if rate else 0.0
    if rate != SAMPLE_RATE or not samples:
        return [], duration
    # Find the block alignment: the first sample where a valid header starts.
    alignment = None
    for start in range(len(samples)):
        if abs(samples[start]) >= _BIT_LEVEL // 2 and _header_at(samples, start) is not None:
            alignment = start
            break
    marks: list[BlockMark] = []
    if alignment is None:
        return marks, duration
    for start in range(alignment % BLOCK_SAMPLES, len(samples), BLOCK_SAMPLES):
        found = _header_at(samples, start)
        if found is not None:
            marks.append(BlockMark(found[0], found[1], start // BLOCK_SAMPLES))
    return marks, duration
