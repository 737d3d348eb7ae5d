"""``fraud_flag_view`` on the real product database: audience flags and ACRCloud risk results, one view.

Columns (the UI's "fraud and risk" page and the fraud export read them by name): source, entity_type,
entity_id, platform, identifier, detector, window_start, window_end, score, evidence, detector_version,
computed_at.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest

from musiccharts.db.migrate import current_revision, downgrade, upgrade

pytestmark = pytest.mark.integration

COLUMNS = [
    "source",
    "entity_type",
    "entity_id",
    "platform",
    "identifier",
    "detector",
    "window_start",
    "window_end",
    "score",
    "evidence",
    "detector_version",
    "computed_at",
]
SCANNED = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def analysed_song(
    conn, number: int, risk: str, matches: list[tuple[str | None, str | None, int | None]]
) -> int:
    """A song with its analysis (scan finished at SCANNED), matches (acrid, isrc, track), AI result, report."""
    song_id = conn.execute(
        "INSERT INTO songs (title, artist, audio_uri, status) VALUES (%s, 'Uploader', %s, 'analyzed') RETURNING id",
        (f"Song {number}", f"file:///uploads/{number}.mp3"),
    ).fetchone()[0]
    analysis_id = conn.execute(
        "INSERT INTO song_analyses (song_id, status, upload_name, file_id, scan_finished_at)"
        " VALUES (%s, 'analyzed', %s, %s, %s) RETURNING id",
        (song_id, f"upload-{number}", f"file-{number}", SCANNED),
    ).fetchone()[0]
    for index, (acrid, isrc, track_id) in enumerate(matches):
        conn.execute(
            "INSERT INTO analysis_matches (analysis_id, match_type, match_key, offset_seconds, acrid, isrc,"
            " track_id, raw) VALUES (%s, 'music', %s, %s, %s, %s, %s, '{}')",
            (analysis_id, acrid or isrc or f"key-{index}", index * 10, acrid, isrc, track_id),
        )
    conn.execute(
        "INSERT INTO analysis_ai_detections (analysis_id, prediction, ai_probability, raw)"
        " VALUES (%s, 'human', 12.5, '{}')",
        (analysis_id,),
    )
    conn.execute(
        "INSERT INTO analysis_reports (analysis_id, risk_level, match_type, confidence, critical_reasons, summary,"
        " details) VALUES (%s, %s, 'exact', 96.5, %s, 'summary', '{}')",
        (analysis_id, risk, ["exact match with a catalogue recording"] if risk == "critical" else []),
    )
    return song_id


def test_view_unions_audience_flags_and_high_acrcloud_risks(clean_product_db):
    with psycopg.connect(clean_product_db) as conn:
        track_id = conn.execute(
            "INSERT INTO tracks (uuid, name) VALUES (gen_random_uuid()::text, 'T') RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO audience_fraud_flags (entity_type, entity_id, platform, detector, window_start, window_end,"
            " score, evidence, detector_version) VALUES ('track', %s, 'spotify', 'burst', '2026-11-01',"
            " '2026-11-02', 2.5, '{\"z\": 9}', 'v1')",
            (track_id,),
        )
        # Two matches of one acrid (two offsets) and a cover without acrid: acrids and ISRCs are listed once.
        critical = analysed_song(
            conn,
            1,
            "critical",
            [
                ("acr-1", "GBAAA0000001", track_id),
                ("acr-1", "GBAAA0000001", track_id),
                (None, "USBBB0000002", None),
            ],
        )
        analysed_song(conn, 2, "low", [("acr-9", None, None)])  # low risk: not a flag
        analysed_song(conn, 3, "medium", [])  # medium: not a flag
        high = analysed_song(conn, 4, "high", [])
        cursor = conn.execute("SELECT * FROM fraud_flag_view ORDER BY source DESC, entity_id")
        columns = [column.name for column in cursor.description]
        rows = cursor.fetchall()

    assert columns == COLUMNS
    assert [(r[0], r[1], r[2], r[5]) for r in rows] == [
        ("soundcharts_audience", "track", track_id, "burst"),
        ("acrcloud_analysis", "song", critical, "acrcloud_risk"),
        ("acrcloud_analysis", "song", high, "acrcloud_risk"),
    ]
    _, _, _, platform, identifier, _, start, end, score, evidence, version, computed_at = rows[1]
    assert (platform, identifier, start, end, score, version) == (
        "acrcloud",
        "file-1",
        date(2026, 11, 20),  # 23:30 UTC: the UTC day, whatever the session's time zone
        date(2026, 11, 20),
        Decimal("96.5"),
        "acrcloud-risk-v1",
    )
    assert computed_at is not None
    assert evidence == {
        "risk_level": "critical",
        "match_type": "exact",
        "confidence": 96.5,
        "critical_reasons": ["exact match with a catalogue recording"],
        "acrids": ["acr-1"],
        "isrcs": ["GBAAA0000001", "USBBB0000002"],
        "track_ids": [track_id],
        "ai_prediction": "human",
        "ai_probability": 12.5,
        "song_title": "Song 1",
        "song_artist": "Uploader",
        "analysis_id": evidence["analysis_id"],
    }
    assert rows[2][9]["acrids"] == [] and rows[2][9]["risk_level"] == "high"
    json.dumps(rows[1][9])  # plain JSON for the exports


def test_downgrade_restores_the_audience_only_view(postgres_server):
    dsn = postgres_server.recreate_database("musiccharts_fraud_view_migration")
    try:
        upgrade(dsn)
        downgrade(dsn, "0007")
        assert current_revision(dsn) == "0007"
        with psycopg.connect(dsn) as conn:
            definition = conn.execute("SELECT pg_get_viewdef('fraud_flag_view')").fetchone()[0]
            columns = [c.name for c in conn.execute("SELECT * FROM fraud_flag_view LIMIT 0").description]
        assert "analysis_reports" not in definition
        assert columns == COLUMNS
        assert upgrade(dsn) == "0009"
    finally:
        postgres_server.drop_database("musiccharts_fraud_view_migration")
