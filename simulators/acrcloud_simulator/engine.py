"""Recognition: what File Scanning and Identification answer for some audio bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acrcloud_simulator.audio import AudioDecodeError, read_marks
from acrcloud_simulator.catalogue import AcrCatalogue, Recording, RecordingKind

__all__ = ["ScanOutcome", "Segment", "identify", "scan", "segments"]

#: File Scanning states (documented): 0 processing, 1 ready, -1 no results, -2/-3 errors.
STATE_PROCESSING, STATE_READY, STATE_NO_RESULTS, STATE_DECODE_ERROR, STATE_FAILED = 0, 1, -1, -2, -3


@dataclass(frozen=True)
class Segment:
    recording: Recording
    file_second: int
    first_block: int
    seconds: int


@dataclass(frozen=True)
class ScanOutcome:
    state: int
    duration: float
    results: dict[str, Any] | None
    music_detected: int


def segments(data: bytes, catalogue: AcrCatalogue) -> tuple[list[Segment], float]:
    """Runs of consecutive seconds of one known recording (raises AudioDecodeError)."""
    marks, duration = read_marks(data)
    runs: list[Segment] = []
    for mark in marks:
        recording = catalogue.recording(mark.recording_id)
        if recording is None:
            continue
        last = runs[-1] if runs else None
        if (
            last is not None
            and last.recording.recording_id == mark.recording_id
            and last.file_second + last.seconds == mark.file_second
            and last.first_block + last.seconds == mark.block_index
        ):
            runs[-1] = Segment(last.recording, last.file_second, last.first_block, last.seconds + 1)
        else:
            runs.append(Segment(recording, mark.file_second, mark.block_index, 1))
    return runs, duration


def outer_score(seconds: int) -> int:
    """How sure the scan is that a run is that recording: grows with the run's length, 100 from 10 s."""
    return min(100, 60 + 4 * seconds)


def _offsets(segment: Segment) -> dict[str, Any]:
    return {
        "play_offset_ms": (segment.first_block + segment.seconds) * 1000,
        "db_begin_time_offset_ms": segment.first_block * 1000,
        "db_end_time_offset_ms": (segment.first_block + segment.seconds) * 1000,
        "sample_begin_time_offset_ms": segment.file_second * 1000,
        "sample_end_time_offset_ms": (segment.file_second + segment.seconds) * 1000,
    }


def scan(
    data: bytes, catalogue: AcrCatalogue, *, engine: int, ai_detection: bool, list_shapes: bool
) -> ScanOutcome:
    """The outcome of scanning a whole file with a container's settings."""
    try:
        runs, duration = segments(data, catalogue)
    except AudioDecodeError:
        return ScanOutcome(STATE_DECODE_ERROR, 0.0, None, 0)
    if duration <= 0:
        return ScanOutcome(STATE_DECODE_ERROR, 0.0, None, 0)
    music: list[dict[str, Any]] = []
    covers: list[dict[str, Any]] = []
    for run in runs:
        base = {
            "offset": run.file_second,
            "played_duration": float(run.seconds),
            "type": "traverse",
            "time_skew": 0,
            "frequency_skew": 0,
            "file_duration": round(duration),
            "score": outer_score(run.seconds),
        }
        if run.recording.known_to_music_database and engine in (1, 3):
            result = catalogue.music_item(run.recording, list_shapes=list_shapes)
            result |= {"score": catalogue.similarity(run.recording)} | _offsets(run)
            music.append(base | {"engine_type": "1", "result": result})
        elif run.recording.kind == RecordingKind.COVER and engine in (2, 3):
            result = catalogue.cover_item(run.recording, list_shapes=list_shapes)
            covers.append(base | {"engine_type": "2", "result": result})
    results: dict[str, Any] = {"music": music, "cover_songs": covers, "custom_files": []}
    if ai_detection:
        results["ai_detection"] = [catalogue.ai_detection([run.recording for run in runs], duration)]
    found = music or covers or (ai_detection and results["ai_detection"][0]["prediction"] == "ai_generated")
    music_detected = 1 if runs else 2
    if not found and not ai_detection:
        return ScanOutcome(STATE_NO_RESULTS, duration, None, music_detected)
    return ScanOutcome(STATE_READY, duration, results, music_detected)


def identify(data: bytes, catalogue: AcrCatalogue, *, list_shapes: bool) -> list[dict[str, Any]]:
    """``metadata.music`` for a sample: the best-covered known recording, or [] (no result)."""
    try:
        runs, _ = segments(data, catalogue)
    except AudioDecodeError:
        return []
    known = [run for run in runs if run.recording.known_to_music_database]
    if not known:
        return []
    best = max(known, key=lambda run: run.seconds)
    item = catalogue.music_item(best.recording, list_shapes=list_shapes)
    return [item | {"score": catalogue.similarity(best.recording)} | _offsets(best)]
