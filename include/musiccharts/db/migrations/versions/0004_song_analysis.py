"""Song analysis with ACRCloud: songs, their analyses, every match, AI detection, reports, callbacks.

Natural keys are UNIQUE constraints so that re-running any step cannot duplicate anything: one analysis per
song (re-runs and retries reuse it, and with it the ACRCloud file id, so nothing is uploaded twice), one
match row per (analysis, match type, match key, offset), one AI-detection row and one report per analysis.
A match's ``match_key`` is its ``acrid`` when ACRCloud sends one (music results); cover results carry no
acrid, so theirs is the ISRC, or else the title and artists, exactly as sent.
Matches link to catalogue tracks by ISRC only (``track_id`` stays NULL when no track has that ISRC).

Revision ID: 0004
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None

_AUDIT = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
"""

UPGRADE_SQL = f"""
CREATE TABLE songs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL CHECK (title <> ''),
    artist text NOT NULL CHECK (artist <> ''),
    audio_uri text NOT NULL,                  -- an ObjectStoragePath URL (file://, s3://conn@bucket/key, ...)
    original_filename text,
    file_size bigint CHECK (file_size >= 0),
    status text NOT NULL DEFAULT 'uploaded'
        CHECK (status IN ('uploaded', 'processing', 'analyzed', 'failed')),
    failure_reason text,
    {_AUDIT},
    CONSTRAINT songs_audio_uri_key UNIQUE (audio_uri),
    CONSTRAINT songs_failed_has_reason CHECK (status <> 'failed' OR failure_reason IS NOT NULL)
);
CREATE INDEX songs_status_idx ON songs (status);

CREATE TABLE song_analyses (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    song_id bigint NOT NULL REFERENCES songs (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'processing'
        CHECK (status IN ('processing', 'analyzed', 'failed')),
    failure_reason text,
    upload_name text NOT NULL,                -- the name the file gets in the container (finds a lost upload)
    container_id bigint,
    file_id text,                             -- ACRCloud's file id once uploaded
    upload_started_at timestamptz,
    uploaded_at timestamptz,
    scan_state integer,                       -- 0 processing, 1 ready, -1 no results, -2/-3 error
    callback_received_at timestamptz,
    scan_finished_at timestamptz,
    scan_results jsonb,                       -- File Scanning ``results`` as received
    identification jsonb,                     -- the Identification answer for the sample
    completed_at timestamptz,
    dag_run_id text,
    {_AUDIT},
    CONSTRAINT song_analyses_song_id_key UNIQUE (song_id),
    CONSTRAINT song_analyses_upload_name_key UNIQUE (upload_name),
    CONSTRAINT song_analyses_file_id_key UNIQUE (file_id)
);
CREATE INDEX song_analyses_status_idx ON song_analyses (status);

CREATE TABLE analysis_matches (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    analysis_id bigint NOT NULL REFERENCES song_analyses (id) ON DELETE CASCADE,
    match_type text NOT NULL CHECK (match_type IN ('music', 'cover', 'identification')),
    match_key text NOT NULL,
    acrid text,
    offset_seconds numeric NOT NULL DEFAULT 0,
    played_duration numeric,
    title text,
    artists text[] NOT NULL DEFAULT '{{}}',
    album text,
    label text,
    isrc text,
    upc text,
    release_date text,
    duration_ms integer,
    outer_score numeric,                      -- the scan's confidence for the whole match (0-100)
    inner_score numeric,                      -- the reference's own ``result.score``
    similarity numeric,                       -- 0-1 when ACRCloud sends one
    play_offset_ms bigint,
    db_begin_time_offset_ms bigint,
    db_end_time_offset_ms bigint,
    sample_begin_time_offset_ms numeric,
    sample_end_time_offset_ms numeric,
    track_id bigint REFERENCES tracks (id) ON DELETE SET NULL,
    raw jsonb NOT NULL,
    {_AUDIT},
    CONSTRAINT analysis_matches_natural_key UNIQUE (analysis_id, match_type, match_key, offset_seconds)
);
CREATE INDEX analysis_matches_isrc_idx ON analysis_matches (isrc);
CREATE INDEX analysis_matches_track_id_idx ON analysis_matches (track_id);

CREATE TABLE analysis_ai_detections (
    analysis_id bigint PRIMARY KEY REFERENCES song_analyses (id) ON DELETE CASCADE,
    prediction text NOT NULL,
    ai_probability numeric,                   -- percent, as ACRCloud sends it
    likely_source text,
    source_probabilities jsonb,
    model_id text,
    raw jsonb NOT NULL,
    {_AUDIT}
);

CREATE TABLE analysis_reports (
    analysis_id bigint PRIMARY KEY REFERENCES song_analyses (id) ON DELETE CASCADE,
    risk_level text NOT NULL CHECK (risk_level IN ('low', 'medium', 'high', 'critical')),
    match_type text NOT NULL CHECK (match_type IN ('exact', 'cover', 'similar', 'no_match')),
    confidence numeric NOT NULL,
    critical_reasons text[] NOT NULL DEFAULT '{{}}',
    summary text NOT NULL,
    recommendations text[] NOT NULL DEFAULT '{{}}',
    details jsonb NOT NULL,
    notified_at timestamptz,
    {_AUDIT}
);

CREATE TABLE acrcloud_callbacks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    file_id text,
    state integer,
    outcome text NOT NULL
        CHECK (outcome IN ('accepted', 'duplicate', 'late', 'unknown_file', 'refused', 'invalid')),
    http_status integer NOT NULL,
    source_ip text,
    user_agent text,
    payload jsonb,
    error text
);
CREATE INDEX acrcloud_callbacks_file_id_idx ON acrcloud_callbacks (file_id);

CREATE TRIGGER songs_set_updated_at BEFORE UPDATE ON songs
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER song_analyses_set_updated_at BEFORE UPDATE ON song_analyses
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER analysis_matches_set_updated_at BEFORE UPDATE ON analysis_matches
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER analysis_ai_detections_set_updated_at BEFORE UPDATE ON analysis_ai_detections
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER analysis_reports_set_updated_at BEFORE UPDATE ON analysis_reports
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
"""

DOWNGRADE_SQL = """
DROP TABLE acrcloud_callbacks;
DROP TABLE analysis_reports;
DROP TABLE analysis_ai_detections;
DROP TABLE analysis_matches;
DROP TABLE song_analyses;
DROP TABLE songs;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
