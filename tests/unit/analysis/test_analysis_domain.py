"""Parsing ACRCloud answers (the recorded callback included), the risk rules, and the identification sample."""

from __future__ import annotations

import io
import json
import wave

import pytest

from acrcloud_simulator.audio import read_marks
from acrcloud_simulator.catalogue import RecordingKind
from acrcloud_simulator.testing import encode_audio, recording_wav
from musiccharts.analysis.audio import AudioProblem, cut_identification_sample, inspect_audio
from musiccharts.analysis.config import ANALYSIS_FILE, load_analysis_config, parse_analysis_config
from musiccharts.analysis.results import parse_ai_detection, parse_identification, parse_scan_results
from musiccharts.analysis.risk import LinkedTrack, assess_risk
from tests.paths import RECORDED

RECORDED_CALLBACK = RECORDED / "acrcloud_file_scanning_callback.json"


@pytest.fixture(scope="module")
def risk_config():
    return load_analysis_config(ANALYSIS_FILE).risk


def test_recorded_callback_parses_every_match_with_its_natural_key():
    payload = json.loads(RECORDED_CALLBACK.read_text())
    matches = parse_scan_results(payload["results"])
    music = [m for m in matches if m.match_type == "music"]
    covers = [m for m in matches if m.match_type == "cover"]
    keys = {(m.match_type, m.match_key, m.offset_seconds) for m in matches}
    assert len(keys) == len(matches)
    assert len(music) <= len(payload["results"]["music"]) and len(covers) <= len(
        payload["results"]["cover_songs"]
    )
    first = next(m for m in music if m.acrid == "bc1ccb993cc7ac8bc798bc1664aa8da8")
    assert (first.outer_score, first.inner_score, first.title, first.artists) == (
        99,
        15,
        "Found Love",
        ("Double Dee",),
    )
    assert first.isrc is None  # external_ids held only an ISWC
    assert first.sample_end_time_offset_ms == pytest.approx(148165.64262986183)
    cover = next(m for m in covers if m.isrc == "FR10T1300090")
    assert cover.acrid is None and cover.match_key == "isrc:FR10T1300090" and cover.outer_score is None


def test_recorded_callback_is_an_exact_high_risk(risk_config):
    payload = json.loads(RECORDED_CALLBACK.read_text())
    report = assess_risk(
        parse_scan_results(payload["results"]), None, song_artist="Someone", linked={}, config=risk_config
    )
    # The origin read the wrong level and always said low/no_match for this very payload.
    best = max(item["score"] for item in payload["results"]["music"])
    assert (report.match_type, report.risk_level, report.confidence) == ("exact", "high", best)
    assert "Found Love" in report.summary


@pytest.mark.parametrize("shape", ["object", "list", "bm-list-of-objects", "empty-list"])
def test_external_ids_in_every_shape(shape):
    ids = {
        "object": {"isrc": "GBBKS1500214"},
        "list": {"isrc": ["GBBKS1500214"]},
        "bm-list-of-objects": [{"isrc": "GBBKS1500214"}],
        "empty-list": [],
    }[shape]
    body = {
        "status": {"code": 0},
        "metadata": {
            "music": [
                {"acrid": "a" * 32, "title": "T", "score": 90, "external_ids": ids, "play_offset_ms": "1200"}
            ]
        },
    }
    [match] = parse_identification(body)
    assert match.isrc == (None if shape == "empty-list" else "GBBKS1500214")
    assert match.play_offset_ms == 1200 and match.score == 90


def _match(match_type: str, score: float, isrc: str = "X1"):
    section = {"music": "music", "cover": "cover_songs"}[match_type]
    return parse_scan_results(
        {
            section: [
                {
                    "offset": 0,
                    "score": score,
                    "result": {
                        "acrid": "b" * 32,
                        "title": "Hit",
                        "artists": [{"name": "Star"}],
                        "external_ids": {"isrc": isrc},
                    },
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("matches", "expected"),
    [
        (lambda: _match("music", 95), ("exact", "high")),
        (lambda: _match("cover", 75), ("cover", "medium")),
        (lambda: _match("music", 60), ("similar", "medium")),
        (lambda: _match("music", 40), ("no_match", "low")),
        (lambda: [], ("no_match", "low")),
    ],
)
def test_risk_rules_in_order(risk_config, matches, expected):
    report = assess_risk(matches(), None, song_artist="Star", linked={}, config=risk_config)
    assert (report.match_type, report.risk_level) == expected
    assert report.recommendations  # always some advice, built from the matches


def test_critical_needs_a_catalogue_track_by_another_artist(risk_config):
    matches = _match("music", 99)
    key = (matches[0].match_type, matches[0].match_key, matches[0].offset_seconds)
    own = {key: LinkedTrack(1, "u-1", "Hit", ("Star",))}
    other = {key: LinkedTrack(1, "u-1", "Hit", ("Other Person",))}
    assert assess_risk(matches, None, song_artist="Star", linked=own, config=risk_config).risk_level == "high"
    report = assess_risk(matches, None, song_artist="Star", linked=other, config=risk_config)
    assert report.risk_level == "critical" and "Other Person" in report.critical_reasons[0]
    weak = _match("music", 85)  # exact, but not above the critical score
    weak_key = (weak[0].match_type, weak[0].match_key, weak[0].offset_seconds)
    linked = {weak_key: other[key]}
    assert assess_risk(weak, None, song_artist="Star", linked=linked, config=risk_config).risk_level == "high"


def test_ai_detection_thresholds(risk_config):
    results = {
        "ai_detection": [{"prediction": "ai_generated", "ai_probability": 92, "likely_source": "suno"}]
    }
    ai = parse_ai_detection(results)
    report = assess_risk([], ai, song_artist="X", linked={}, config=risk_config)
    assert report.risk_level == "critical" and "suno" in report.summary
    medium = parse_ai_detection({"ai_detection": [{"prediction": "ai_generated", "ai_probability": 60}]})
    assert assess_risk([], medium, song_artist="X", linked={}, config=risk_config).risk_level == "medium"
    human = parse_ai_detection({"ai_detection": [{"prediction": "human", "ai_probability": 3}]})
    assert assess_risk([], human, song_artist="X", linked={}, config=risk_config).risk_level == "low"


def test_config_is_strict():
    from musiccharts.config import ConfigError

    with pytest.raises(ConfigError, match="exact"):
        parse_analysis_config("risk: {exact: {score_above: 80, risk: extreme}}")


def test_identification_sample_is_cut_by_decoding_not_by_bytes():
    audio = recording_wav(RecordingKind.ORIGINAL, 77, 40)
    info = inspect_audio(audio, max_bytes=10**8)
    assert info.format == "wav" and info.decodable and info.duration_seconds == pytest.approx(40)
    sample = cut_identification_sample(audio, seconds=12, max_bytes=5_000_000, offset_seconds=10)
    with wave.open(io.BytesIO(sample)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(12)
    marks, _ = read_marks(sample)
    assert [mark.block_index for mark in marks] == list(range(10, 22))
    small = cut_identification_sample(audio, seconds=12, max_bytes=50_000)
    assert len(small) < 50_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"x" * 100, "over the"),
        (b"just some text, not audio", "unsupported"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt garbage", "corrupt"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(AudioProblem, match=message):
        inspect_audio(data, max_bytes=50 if message == "over the" else 10**6)


@pytest.mark.parametrize(
    ("encoding", "content_type", "lossless_enough"),
    [
        ("flac", "audio/flac", True),
        ("ogg", "audio/ogg", True),
        ("m4a", "audio/mp4", True),
        # MP3 smears single samples: the simulator's per-sample marks do not survive it (real music would).
        ("mp3", "audio/mpeg", False),
    ],
)
def test_compressed_audio_is_decoded_into_a_short_identification_sample(
    encoding, content_type, lossless_enough
):
    audio = encode_audio(recording_wav(RecordingKind.ORIGINAL, 77, 40), encoding)
    info = inspect_audio(audio, max_bytes=10**8)
    assert (info.format, info.content_type, info.decodable) == (encoding, content_type, True)
    assert info.duration_seconds == pytest.approx(40, abs=0.5)
    sample = cut_identification_sample(audio, seconds=12, max_bytes=5_000_000, offset_seconds=10)
    assert len(sample) < 5_000_000
    with wave.open(io.BytesIO(sample)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 8000)
        assert reader.getnframes() / reader.getframerate() == pytest.approx(12)
    marks, _ = read_marks(sample)
    if lossless_enough:
        # Whole seconds 10..21 of the recording (a codec's priming delay may cost the block at an edge).
        blocks = [mark.block_index for mark in marks]
        assert set(blocks) <= set(range(10, 22)) and len(blocks) >= 11
    else:
        assert marks == []


def test_compressed_sample_of_a_short_file_takes_what_there_is():
    audio = encode_audio(recording_wav(RecordingKind.ORIGINAL, 77, 5), "flac")
    sample = cut_identification_sample(audio, seconds=12, offset_seconds=10)
    with wave.open(io.BytesIO(sample)) as reader:
        assert reader.getnframes() / reader.getframerate() == pytest.approx(5)


@pytest.mark.parametrize("encoding", ["flac", "mp3", "ogg", "m4a"])
def test_corrupt_compressed_audio_is_refused_with_a_clear_message(encoding):
    valid = encode_audio(recording_wav(RecordingKind.ORIGINAL, 77, 3), encoding)
    corrupt = valid[:12] + b"\x00 not audio at all " * 40  # right magic, garbage behind it
    with pytest.raises(AudioProblem, match=rf"(?i)corrupt or unsupported {encoding} file: \w+"):
        inspect_audio(corrupt, max_bytes=10**6)


def test_offsets_are_floats_whatever_the_answer_sent():
    music = parse_scan_results({"music": [{"offset": 3, "score": 90, "result": {"acrid": "c" * 32}}]})
    identified = parse_identification({"metadata": {"music": [{"acrid": "d" * 32, "score": 90}]}}, 0)
    assert all(isinstance(match.offset_seconds, float) for match in [*music, *identified])
