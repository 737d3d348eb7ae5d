"""The recordings the simulated ACRCloud knows, derived from the Soundcharts simulator's catalogue.

A recording id (32 bits, carried in the synthetic audio, see :mod:`acrcloud_simulator.audio`) is
``kind << 28 | song_id`` where ``song_id`` numbers a song of the Soundcharts simulator's catalogue. So a
reference recording has exactly the title, artists and ISRC that Soundcharts serves for the same song,
and matches can be linked to catalogue tracks by ISRC.

Kinds:

- ``ORIGINAL``: the reference recording of the song (a ``music`` match; identifiable).
- ``COVER``: someone else's performance of the song (a ``cover_songs`` match pointing at the original).
- ``AI_GENERATED``: music made by a generator (no catalogue match; AI detection says ``ai_generated``).
- ``HUMAN_UNKNOWN``: a human recording nobody has registered (no match at all).
- ``UNLISTED``: a reference recording whose ISRC Soundcharts does not know (matched, never linkable).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from soundcharts_simulator.catalogue import Catalogue as SoundchartsCatalogue

__all__ = ["AI_SOURCES", "AcrCatalogue", "RecordingKind", "recording_id"]

AI_SOURCES = ("suno", "udio", "sonauto", "mureka", "rdiffusion")
_SONG_MASK = (1 << 28) - 1


class RecordingKind(IntEnum):
    ORIGINAL = 1
    COVER = 2
    AI_GENERATED = 3
    HUMAN_UNKNOWN = 4
    UNLISTED = 5


def recording_id(kind: RecordingKind, song_id: int) -> int:
    if not 0 <= song_id <= _SONG_MASK:
        raise ValueError(f"song id out of range: {song_id}")
    return (int(kind) << 28) | song_id


def _digest(*parts: Any) -> bytes:
    return hashlib.sha256(":".join(str(part) for part in parts).encode()).digest()


@dataclass(frozen=True)
class Recording:
    recording_id: int
    kind: RecordingKind
    song_id: int

    @property
    def known_to_music_database(self) -> bool:
        return self.kind in (RecordingKind.ORIGINAL, RecordingKind.UNLISTED)


class AcrCatalogue:
    """Metadata of every recording, in ACRCloud's shapes. Deterministic for a seed."""

    def __init__(self, seed: int = 42, soundcharts: SoundchartsCatalogue | None = None) -> None:
        self.seed = seed
        self.soundcharts = soundcharts or SoundchartsCatalogue(seed)

    @staticmethod
    def recording(recording_id_: int) -> Recording | None:
        try:
            kind = RecordingKind(recording_id_ >> 28)
        except ValueError:
            return None
        return Recording(recording_id_, kind, recording_id_ & _SONG_MASK)

    def acrid(self, recording: Recording) -> str:
        return _digest("acrid", self.seed, recording.kind, recording.song_id).hex()[:32]

    def isrc(self, song_id: int, kind: RecordingKind = RecordingKind.ORIGINAL) -> str:
        if kind == RecordingKind.UNLISTED:
            return f"ZZ{_digest('isrc', self.seed, song_id).hex()[:3].upper()}26{song_id % 100000:05d}"
        return self.soundcharts.song_by_id(song_id)["isrc"]["value"]

    def music_item(self, recording: Recording, *, list_shapes: bool) -> dict[str, Any]:
        """One ``metadata.music[]`` / ``results.music[].result`` item, without offsets.

        With ``list_shapes``, songs with an odd id send ``external_ids`` values and ``external_metadata``
        providers as lists, as the Broadcast Monitoring examples do; all others as objects (AVR examples).
        """
        list_shapes = list_shapes and recording.song_id % 2 == 1
        song = self.soundcharts.song_by_id(recording.song_id)
        digest = _digest("meta", self.seed, recording.song_id)
        isrc = self.isrc(recording.song_id, recording.kind)
        upc = str(int.from_bytes(digest[:6], "big") % 10**12).zfill(12)
        spotify = {
            "track": {"id": digest[6:17].hex()[:22], "name": song["name"]},
            "album": {"id": digest[17:28].hex()[:22]},
            "artists": [
                {"id": artist["uuid"].replace("-", "")[:22], "name": artist["name"]}
                for artist in song["artists"]
            ],
        }
        deezer = {"track": {"id": str(int.from_bytes(digest[28:32], "big"))}}
        if list_shapes:
            external_ids: dict[str, Any] = {"isrc": [isrc], "upc": [upc]}
            external_metadata: dict[str, Any] = {"spotify": [spotify], "deezer": [deezer]}
        else:
            external_ids = {"isrc": isrc, "upc": upc}
            external_metadata = {"spotify": spotify, "deezer": deezer}
        genres = [{"name": genre["root"].title()} for genre in song.get("genres", [])]
        return {
            "acrid": self.acrid(recording),
            "title": song["name"],
            "artists": [{"name": artist["name"]} for artist in song["artists"]],
            "album": {"name": f"{song['name']} (Single)"},
            "label": song["labels"][0]["name"] if song.get("labels") else None,
            "release_date": song["releaseDate"][:10],
            "duration_ms": int(song["duration"]) * 1000,
            "result_from": 3,
            "genres": genres,
            "external_ids": external_ids,
            "external_metadata": external_metadata,
        }

    def cover_item(self, recording: Recording, *, list_shapes: bool) -> dict[str, Any]:
        """A ``cover_songs[].result``: the original work's recording (title, artists, ISRC)."""
        original = Recording(
            recording_id(RecordingKind.ORIGINAL, recording.song_id), RecordingKind.ORIGINAL, recording.song_id
        )
        item = self.music_item(original, list_shapes=list_shapes)
        return {
            key: item[key]
            for key in (
                "title",
                "artists",
                "album",
                "label",
                "release_date",
                "duration_ms",
                "external_ids",
                "external_metadata",
            )
        } | {"distributors": []}

    def similarity(self, recording: Recording) -> int:
        """How strongly a match scores (inner score), 70-100 like the identification ``score``."""
        return 70 + _digest("score", self.seed, recording.recording_id)[0] % 31

    def ai_detection(self, recordings: list[Recording], duration: float) -> dict[str, Any]:
        """The ``ai_detection`` element for a file made of ``recordings``."""
        ai = [recording for recording in recordings if recording.kind == RecordingKind.AI_GENERATED]
        if ai:
            source = AI_SOURCES[ai[0].song_id % len(AI_SOURCES)]
            probability = 85 + _digest("ai", self.seed, ai[0].song_id)[0] % 15
            prediction = "ai_generated"
        else:
            source = "human"
            probability = 2 + _digest("human", self.seed, *[r.recording_id for r in recordings])[0] % 20
            prediction = "human"
        others = (100 - probability) / (len(AI_SOURCES) + 1 - 1)
        source_probabilities = {name: round(others, 2) for name in ("human", *AI_SOURCES)}
        source_probabilities[source] = float(probability) if source != "human" else float(100 - probability)
        if source == "human":
            source_probabilities = {"human": float(100 - probability)} | {
                name: round(probability / len(AI_SOURCES), 2) for name in AI_SOURCES
            }
        return {
            "prediction": prediction,
            "ai_probability": float(probability),
            "likely_source": source,
            "source_probabilities": source_probabilities,
            "segments": [{"start": 0, "end": round(duration, 1), "ai_probability": float(probability)}],
            "model_id": "sim-aid-1",
        }
