"""The risk report of one analysis: match type, risk level, confidence, critical reasons, summary, advice.

Rules (thresholds from ``analysis.yaml``; the first that applies sets match type and risk):

- ``exact`` (high): a fingerprint match (File Scanning music, or identification) scoring above
  ``exact.score_above`` or with similarity above ``exact.similarity_above``;
- ``cover`` (medium): a cover match above ``cover.score_above`` / ``cover.similarity_above``;
- ``similar`` (medium): any fingerprint or cover match above ``similar.score_above``;
- ``no_match`` (low) otherwise. Matches that carry no score at all are listed but raise nothing.

``critical`` overrides the level when an exact match above ``critical.exact_other_artist_score_above``
belongs to a catalogue track whose artists do not include the song's artist, or when AI detection says
``ai_generated`` with at least ``critical.ai_probability_at_least`` percent. An AI-generated prediction
above ``ai_medium_probability_at_least`` raises a low risk to medium.

Summary and recommendations are built from the matches themselves (titles, artists, ISRCs, scores,
offsets), never fixed sentences per type.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from musiccharts.analysis.config import RiskConfig
from musiccharts.analysis.results import AiDetection, Match

__all__ = ["LinkedTrack", "RiskReport", "assess_risk", "normalise_name"]

_LEVELS = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class LinkedTrack:
    """A catalogue track a match was linked to by ISRC."""

    track_id: int
    uuid: str
    name: str
    artists: tuple[str, ...]


@dataclass(frozen=True)
class RiskReport:
    risk_level: str
    match_type: str
    confidence: float
    critical_reasons: tuple[str, ...]
    summary: str
    recommendations: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)


def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _confidence(match: Match) -> float:
    values = [value for value in (match.score, (match.similarity or 0) * 100) if value is not None]
    return max(values) if values else 0.0


def _above(match: Match, score_above: float, similarity_above: float | None) -> bool:
    if match.score is not None and match.score > score_above:
        return True
    return (
        similarity_above is not None and match.similarity is not None and match.similarity > similarity_above
    )


def _describe(match: Match, track: LinkedTrack | None) -> str:
    who = ", ".join(match.artists) or "unknown artist"
    parts = [f"'{match.title or 'untitled'}' by {who}"]
    if match.isrc:
        parts.append(f"ISRC {match.isrc}")
    if match.score is not None:
        parts.append(f"score {match.score:g}")
    if match.played_duration:
        parts.append(f"{match.played_duration:g} s from {match.offset_seconds:g} s")
    if track is not None:
        parts.append(f"catalogue track {track.uuid}")
    return "; ".join(parts)


def assess_risk(
    matches: Sequence[Match],
    ai: AiDetection | None,
    *,
    song_artist: str,
    linked: Mapping[tuple[str, str, float], LinkedTrack],
    config: RiskConfig,
    notes: Sequence[str] = (),
) -> RiskReport:
    """The report for one song. ``linked`` maps a match's natural key to its catalogue track."""

    def track_of(match: Match) -> LinkedTrack | None:
        return linked.get((match.match_type, match.match_key, match.offset_seconds))

    fingerprints = [match for match in matches if match.match_type in ("music", "identification")]
    covers = [match for match in matches if match.match_type == "cover"]
    exact = [m for m in fingerprints if _above(m, config.exact.score_above, config.exact.similarity_above)]
    cover = [m for m in covers if _above(m, config.cover.score_above, config.cover.similarity_above)]
    similar = [m for m in (*fingerprints, *covers) if _above(m, config.similar.score_above, None)]

    if exact:
        match_type, risk, evidence = "exact", config.exact.risk, exact
    elif cover:
        match_type, risk, evidence = "cover", config.cover.risk, cover
    elif similar:
        match_type, risk, evidence = "similar", config.similar.risk, similar
    else:
        match_type, risk, evidence = "no_match", config.no_match.risk, []
    evidence = sorted(evidence, key=_confidence, reverse=True)
    confidence = _confidence(evidence[0]) if evidence else 0.0

    critical: list[str] = []
    recommendations: list[str] = []
    artist_key = normalise_name(song_artist)
    for match in exact:
        track = track_of(match)
        if track is None or (match.score or 0) <= config.critical.exact_other_artist_score_above:
            continue
        owners = {normalise_name(name) for name in track.artists}
        if artist_key not in owners:
            critical.append(
                f"exact match to catalogue track '{track.name}' by {', '.join(track.artists) or 'unknown'}"
                f" (not {song_artist}): {_describe(match, track)}"
            )
    if ai is not None and ai.prediction == "ai_generated" and ai.ai_probability is not None:
        if ai.ai_probability >= config.critical.ai_probability_at_least:
            critical.append(
                f"AI-generated with probability {ai.ai_probability:g}%"
                + (f" (likely source: {ai.likely_source})" if ai.likely_source else "")
            )
        elif ai.ai_probability >= config.ai_medium_probability_at_least and _LEVELS.index(risk) < 1:
            risk = "medium"
    if critical:
        risk = "critical"
        recommendations.extend(f"Hold the release: {reason}." for reason in critical)

    # Advice per kind of evidence, naming what was found.
    for match in exact[:3]:
        track = track_of(match)
        if track is not None and normalise_name(song_artist) in {normalise_name(a) for a in track.artists}:
            recommendations.append(
                f"The song matches the artist's own catalogue recording ({_describe(match, track)}): "
                "check it is a re-release, not a new work."
            )
        elif track is None:
            recommendations.append(
                f"Clear the rights of {_describe(match, None)}"
                + (f" with {match.label}" if match.label else "")
                + "; it is not in the catalogue."
            )
    for match in cover[:3]:
        recommendations.append(
            f"Obtain a licence for the composition: cover of {_describe(match, track_of(match))}."
        )
    if match_type == "similar":
        recommendations.append(
            f"Review by ear: {len(similar)} partial match(es),"
            f" best {_describe(evidence[0], track_of(evidence[0]))}."
        )
    if match_type == "no_match" and not critical:
        recommendations.append(
            f"No match in ACRCloud's databases across {len(matches)} candidate(s); no rights action needed."
            if matches
            else "No match in ACRCloud's databases; no rights action needed."
        )
    recommendations.extend(notes)

    linked_count = sum(1 for match in matches if track_of(match) is not None)
    summary_parts = [
        f"{len(fingerprints)} fingerprint and {len(covers)} cover match(es),"
        f" {linked_count} linked to catalogue tracks by ISRC",
    ]
    if evidence:
        summary_parts.append(f"strongest: {_describe(evidence[0], track_of(evidence[0]))}")
    if ai is not None:
        summary_parts.append(
            f"AI detection: {ai.prediction}"
            + (f" (AI probability {ai.ai_probability:g}%)" if ai.ai_probability is not None else "")
            + (f", likely {ai.likely_source}" if ai.likely_source else "")
        )
    summary = f"{match_type} / {risk}: " + "; ".join(summary_parts) + "."
    details = {
        "exact": len(exact),
        "cover": len(cover),
        "similar": len(similar),
        "linked": linked_count,
        "matches": len(matches),
        "ai_prediction": ai.prediction if ai else None,
        "ai_probability": ai.ai_probability if ai else None,
    }
    return RiskReport(
        risk, match_type, round(confidence, 2), tuple(critical), summary, tuple(recommendations), details
    )
