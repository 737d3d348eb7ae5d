"""ACRCloud answers turned into typed matches and AI-detection results, whatever shape they come in.

Real answers vary: ``external_ids`` is an object in some answers and a list (or ``[]``) in others, its
values strings or lists; ``external_metadata`` likewise; offsets are numbers or strings; cover results
carry no acrid and often no score. Everything here accepts all of those (the recorded callback included).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AiDetection", "Match", "parse_ai_detection", "parse_identification", "parse_scan_results"]


@dataclass(frozen=True)
class Match:
    match_type: str  # music | cover | identification
    match_key: str
    acrid: str | None
    offset_seconds: float
    played_duration: float | None
    title: str | None
    artists: tuple[str, ...]
    album: str | None
    label: str | None
    isrc: str | None
    upc: str | None
    release_date: str | None
    duration_ms: int | None
    outer_score: float | None
    inner_score: float | None
    similarity: float | None
    play_offset_ms: int | None
    db_begin_time_offset_ms: int | None
    db_end_time_offset_ms: int | None
    sample_begin_time_offset_ms: float | None
    sample_end_time_offset_ms: float | None
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def score(self) -> float | None:
        """The score the risk rules use: the scan's outer score, or identification's own 70-100 score."""
        return self.inner_score if self.match_type == "identification" else self.outer_score


@dataclass(frozen=True)
class AiDetection:
    prediction: str
    ai_probability: float | None
    likely_source: str | None
    source_probabilities: dict[str, Any] | None
    model_id: str | None
    raw: dict[str, Any] = field(compare=False, repr=False)


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else round(number)


def _first_string(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((item for item in value if isinstance(item, str) and item), None)
    return value if isinstance(value, str) and value else None


def _external_id(result: dict[str, Any], name: str) -> str | None:
    ids = result.get("external_ids")
    if isinstance(ids, list):  # BM style: a list of objects, or [] when there are none
        for item in ids:
            if isinstance(item, dict) and (found := _first_string(item.get(name))):
                return found
        return None
    if isinstance(ids, dict):
        return _first_string(ids.get(name))
    return None


def _names(items: Any) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(str(item["name"]) for item in items if isinstance(item, dict) and item.get("name"))


def _name(value: Any) -> str | None:
    return str(value["name"]) if isinstance(value, dict) and value.get("name") else None


def _match(match_type: str, result: dict[str, Any], outer: dict[str, Any], offset: float) -> Match:
    acrid = result.get("acrid") or None
    isrc = _external_id(result, "isrc")
    artists = _names(result.get("artists"))
    if acrid:
        key = str(acrid)
    elif isrc:
        key = f"isrc:{isrc}"
    else:
        text = "\x1f".join([str(result.get("title") or ""), *artists])
        key = "title:" + hashlib.sha1(text.encode()).hexdigest()
    similarity = _number(result.get("similarity", outer.get("similarity")))
    if similarity is not None and similarity > 1:  # some answers send percent
        similarity /= 100
    return Match(
        match_type=match_type,
        match_key=key,
        acrid=str(acrid) if acrid else None,
        offset_seconds=float(offset),
        played_duration=_number(outer.get("played_duration")),
        title=result.get("title") or None,
        artists=artists,
        album=_name(result.get("album")),
        label=result.get("label") or None,
        isrc=isrc,
        upc=_external_id(result, "upc"),
        release_date=result.get("release_date") or None,
        duration_ms=_integer(result.get("duration_ms")),
        outer_score=_number(outer.get("score")) if outer is not result else None,
        inner_score=_number(result.get("score")),
        similarity=similarity,
        play_offset_ms=_integer(result.get("play_offset_ms")),
        db_begin_time_offset_ms=_integer(result.get("db_begin_time_offset_ms")),
        db_end_time_offset_ms=_integer(result.get("db_end_time_offset_ms")),
        sample_begin_time_offset_ms=_number(result.get("sample_begin_time_offset_ms")),
        sample_end_time_offset_ms=_number(result.get("sample_end_time_offset_ms")),
        raw=outer,
    )


def _dedupe(matches: list[Match]) -> list[Match]:
    """One match per natural key (the best-scored one), in first-seen order."""
    best: dict[tuple[str, str, float], Match] = {}
    for match in matches:
        key = (match.match_type, match.match_key, match.offset_seconds)
        kept = best.get(key)
        if kept is None or (match.score or 0) > (kept.score or 0):
            best[key] = match
    return list(best.values())


def parse_scan_results(results: dict[str, Any] | None) -> list[Match]:
    """Every ``music`` and ``cover_songs`` match of File Scanning ``results`` (the file's or a callback's)."""
    if not isinstance(results, dict):
        return []
    matches: list[Match] = []
    for section, match_type in (("music", "music"), ("cover_songs", "cover")):
        for item in results.get(section) or []:
            if not isinstance(item, dict) or not isinstance(item.get("result"), dict):
                continue
            matches.append(_match(match_type, item["result"], item, _number(item.get("offset")) or 0.0))
    return _dedupe(matches)


def parse_identification(body: dict[str, Any] | None, sample_offset_seconds: float = 0.0) -> list[Match]:
    """``metadata.music[]`` of an identification answer (status 0); [] for "no result"."""
    if not isinstance(body, dict):
        return []
    music = (body.get("metadata") or {}).get("music") or []
    matches = [
        _match("identification", item, item, sample_offset_seconds)
        for item in music
        if isinstance(item, dict)
    ]
    return _dedupe(matches)


def parse_ai_detection(results: dict[str, Any] | None) -> AiDetection | None:
    """The first ``ai_detection`` element of File Scanning results, if AI detection ran."""
    if not isinstance(results, dict):
        return None
    items = results.get("ai_detection")
    item = items[0] if isinstance(items, list) and items else items if isinstance(items, dict) else None
    if not isinstance(item, dict) or not item.get("prediction"):
        return None
    probability = _number(item.get("ai_probability"))
    if probability is not None and probability <= 1 and item.get("prediction") == "ai_generated":
        probability *= 100  # a 0-1 scale: store percent, as the thresholds are written
    return AiDetection(
        prediction=str(item["prediction"]),
        ai_probability=probability,
        likely_source=item.get("likely_source") or None,
        source_probabilities=item.get("source_probabilities")
        if isinstance(item.get("source_probabilities"), dict)
        else None,
        model_id=item.get("model_id") or None,
        raw=item,
    )
