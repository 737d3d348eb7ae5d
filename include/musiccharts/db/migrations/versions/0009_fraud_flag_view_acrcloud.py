"""ACRCloud risk results join ``fraud_flag_view``, next to the audience fraud flags.

The view keeps its columns, names and order (readers, the fraud export and the UI's "fraud and risk" page
select them by name); the song-analysis rows are a UNION ALL branch:

- ``source`` ``acrcloud_analysis``, ``entity_type`` ``song`` and ``entity_id`` the song (an uploaded file is
  not a catalogue entity; the catalogue tracks its matches link to by ISRC are in ``evidence.track_ids``);
- ``platform`` ``acrcloud``, ``identifier`` ACRCloud's file id, ``detector`` ``acrcloud_risk``;
- ``window_start`` = ``window_end`` = the UTC day the scan finished (else completed, else the report);
- ``score`` the report's confidence (0-100, the best match's score or similarity x 100): unlike the audience
  detectors' scores (multiples of their threshold), it is on ACRCloud's scale, so compare scores within one
  ``detector`` only;
- ``evidence``: risk level, match type, confidence, critical reasons, the matched acrids, ISRCs and linked
  track ids, the AI-detection prediction and probability, the song's title and artist, the analysis id;
- ``detector_version`` ``acrcloud-risk-v1``; ``computed_at`` the report's last update.

Only reports of risk ``high`` or ``critical`` are listed: ``low`` and ``medium`` are not flags (the same rule
as the analysis notifications).

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_AUDIENCE_BRANCH = """
SELECT 'soundcharts_audience'::text AS source, entity_type, entity_id, platform, identifier, detector,
       window_start, window_end, score, evidence, detector_version, computed_at
FROM audience_fraud_flags
"""

UPGRADE_SQL = f"""
CREATE OR REPLACE VIEW fraud_flag_view AS
{_AUDIENCE_BRANCH}
UNION ALL
SELECT 'acrcloud_analysis'::text, 'song'::text, s.id, 'acrcloud'::text, coalesce(a.file_id, ''),
       'acrcloud_risk'::text,
       (coalesce(a.scan_finished_at, a.completed_at, r.created_at) AT TIME ZONE 'UTC')::date,
       (coalesce(a.scan_finished_at, a.completed_at, r.created_at) AT TIME ZONE 'UTC')::date,
       r.confidence,
       jsonb_build_object(
           'risk_level', r.risk_level,
           'match_type', r.match_type,
           'confidence', r.confidence,
           'critical_reasons', to_jsonb(r.critical_reasons),
           'acrids', coalesce(m.acrids, '[]'::jsonb),
           'isrcs', coalesce(m.isrcs, '[]'::jsonb),
           'track_ids', coalesce(m.track_ids, '[]'::jsonb),
           'ai_prediction', ai.prediction,
           'ai_probability', ai.ai_probability,
           'song_title', s.title,
           'song_artist', s.artist,
           'analysis_id', a.id
       ),
       'acrcloud-risk-v1'::text,
       r.updated_at
FROM analysis_reports r
JOIN song_analyses a ON a.id = r.analysis_id
JOIN songs s ON s.id = a.song_id
LEFT JOIN analysis_ai_detections ai ON ai.analysis_id = a.id
LEFT JOIN LATERAL (
    SELECT to_jsonb(array_agg(DISTINCT x.acrid) FILTER (WHERE x.acrid IS NOT NULL)) AS acrids,
           to_jsonb(array_agg(DISTINCT x.isrc) FILTER (WHERE x.isrc IS NOT NULL)) AS isrcs,
           to_jsonb(array_agg(DISTINCT x.track_id) FILTER (WHERE x.track_id IS NOT NULL)) AS track_ids
    FROM analysis_matches x WHERE x.analysis_id = a.id
) m ON true
WHERE r.risk_level IN ('high', 'critical');
"""

# CREATE OR REPLACE cannot remove a UNION branch's dependencies cleanly: drop and recreate 0005's view.
DOWNGRADE_SQL = f"""
DROP VIEW fraud_flag_view;
CREATE VIEW fraud_flag_view AS
{_AUDIENCE_BRANCH};
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
