"""Analytics results: chart trends, chart health, audience fraud flags, performance reports, airplay.

Everything here is derived from the stored rankings and audience series and can be recomputed at any time;
the analytics code is the only writer. Trend rows are many (one per ranking entry) and written set-based,
so, like ``ranking_entries``, they carry no row-level foreign keys: a statement-level trigger deletes the
trend rows of deleted rankings instead. Exits are the loader's ``chart_exits`` seen through a view.
``chart_trend_rankings`` records, per ranking, the version of the ranking (``fetched_at``) and the
predecessor its trends were computed against; a ranking whose stored version or predecessor differs
(reloaded, loaded late before it, deleted neighbour) is recomputed.

Revision ID: 0005
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
CREATE TABLE chart_trend_rankings (
    ranking_id bigint PRIMARY KEY REFERENCES rankings (id) ON DELETE CASCADE,
    chart_id bigint NOT NULL REFERENCES charts (id),
    ranking_date timestamptz NOT NULL,
    sequence_number integer NOT NULL CHECK (sequence_number > 0),  -- 1 = the chart's first stored ranking
    previous_ranking_id bigint,               -- the stored predecessor the trends were computed against
    source_fetched_at timestamptz NOT NULL,   -- rankings.fetched_at when computed (the ranking's version)
    entries integer NOT NULL,
    entries_digest bigint,                    -- XOR of the hashes of the ranking's computed trend rows
    new_entries integer NOT NULL,
    re_entries integer NOT NULL,
    climbers integer NOT NULL,
    fallers integer NOT NULL,
    unchanged integer NOT NULL,
    exits integer NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chart_trend_rankings_chart_date_idx ON chart_trend_rankings (chart_id, ranking_date);

CREATE TABLE chart_trend_entries (
    ranking_id bigint NOT NULL,
    position integer NOT NULL,
    chart_id bigint NOT NULL,
    track_id bigint NOT NULL,
    ranking_date timestamptz NOT NULL,
    movement text NOT NULL CHECK (movement IN ('new', 're-entry', 'climber', 'faller', 'unchanged')),
    movement_size integer NOT NULL CHECK (movement_size >= 0),   -- positions gained or lost; 0 otherwise
    previous_position integer,                -- position on the chart's previous stored ranking
    peak_position integer NOT NULL,           -- best position up to and including this ranking
    peak_date timestamptz NOT NULL,           -- first ranking_date at which the peak was reached
    periods_on_chart integer NOT NULL,        -- stored rankings of the chart with the track, up to this one
    current_streak integer NOT NULL,          -- consecutive stored rankings ending with this one
    CONSTRAINT chart_trend_entries_pkey PRIMARY KEY (ranking_id, position)
);
CREATE INDEX chart_trend_entries_chart_track_idx ON chart_trend_entries (chart_id, track_id, ranking_date);

-- Exits are recorded by the chart loader (chart_exits); their trend figures are those of the track's last
-- entry before the exit, so this is a view and cannot disagree with either table.
CREATE VIEW chart_trend_exits AS
SELECT x.chart_id, x.exit_ranking_id, x.exit_date, x.track_id, x.last_ranking_id, x.last_position,
       t.peak_position, t.peak_date, t.periods_on_chart, t.current_streak AS streak_length
FROM chart_exits x
JOIN chart_trend_entries t ON t.ranking_id = x.last_ranking_id AND t.position = x.last_position;

CREATE FUNCTION delete_trends_of_deleted_rankings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM chart_trend_entries e USING deleted_rankings d WHERE e.ranking_id = d.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER rankings_delete_trend_rows AFTER DELETE ON rankings
    REFERENCING OLD TABLE AS deleted_rankings
    FOR EACH STATEMENT EXECUTE FUNCTION delete_trends_of_deleted_rankings();

CREATE TABLE chart_health (
    chart_id bigint NOT NULL REFERENCES charts (id) ON DELETE CASCADE,
    day date NOT NULL,
    frequency text NOT NULL,
    expected_periods integer NOT NULL,        -- periods since history_start up to the day
    stored_periods integer NOT NULL,
    completeness numeric NOT NULL,            -- stored / expected since history_start, 0..1
    recent_window integer NOT NULL,           -- 30 daily, 12 weekly, 6 monthly periods
    recent_completeness numeric NOT NULL,
    newest_ranking_date timestamptz,
    freshness_hours numeric,                  -- age of the newest ranking at the end of the day
    freshness_ratio numeric,                  -- freshness / period length; <= 1 is on time
    entry_ratio numeric,                      -- stored entries / announced entries over the recent window
    entry_count_variation numeric,            -- mean absolute relative change of entry counts, recent window
    validation_failures integer NOT NULL,     -- recent rankings failing their quality checks
    score integer NOT NULL CHECK (score BETWEEN 0 AND 100),
    band text NOT NULL,
    details jsonb NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chart_health_pkey PRIMARY KEY (chart_id, day)
);

CREATE TABLE audience_fraud_flags (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type text NOT NULL CHECK (entity_type IN ('track', 'artist')),
    entity_id bigint NOT NULL,
    platform text NOT NULL,
    identifier text NOT NULL DEFAULT '',
    detector text NOT NULL,
    window_start date NOT NULL,
    window_end date NOT NULL,
    score numeric NOT NULL,
    evidence jsonb NOT NULL,
    detector_version text NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audience_fraud_flags_natural_key
        UNIQUE (entity_type, entity_id, platform, identifier, detector, window_start, detector_version),
    CONSTRAINT audience_fraud_flags_window_check CHECK (window_end >= window_start)
);
CREATE INDEX audience_fraud_flags_entity_idx ON audience_fraud_flags (entity_type, entity_id, platform);

-- One place to read every risk signal; other risk sources join it with UNION ALL when they exist.
CREATE VIEW fraud_flag_view AS
SELECT 'soundcharts_audience'::text AS source, entity_type, entity_id, platform, identifier, detector,
       window_start, window_end, score, evidence, detector_version, computed_at
FROM audience_fraud_flags;

-- An artist's streaming audience (e.g. Spotify monthly listeners) is its own series next to the followers.
ALTER TABLE artist_audience
    ADD COLUMN listener_count bigint,
    DROP CONSTRAINT artist_audience_some_metric,
    ADD CONSTRAINT artist_audience_some_metric CHECK (
        num_nonnulls(follower_count, like_count, following_count, post_count, view_count, listener_count) > 0
    );

CREATE TABLE artist_airplay (
    artist_id bigint NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    date date NOT NULL,
    play_count bigint NOT NULL CHECK (play_count >= 0),   -- spins summed over broadcast groups that day
    fetched_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT artist_airplay_pkey PRIMARY KEY (artist_id, date)
);

CREATE TABLE performance_reports (
    -- artist_tracks: the sum over the artist's tracks (platform '*': also over platforms)
    entity_type text NOT NULL CHECK (entity_type IN ('track', 'artist', 'artist_tracks')),
    entity_id bigint NOT NULL,
    platform text NOT NULL,                   -- '*' for a roll-up across platforms
    period_start date NOT NULL,
    period_end date NOT NULL,
    start_value numeric,
    end_value numeric,
    difference numeric,
    growth_pct numeric,
    average numeric,
    peak numeric,
    points integer NOT NULL,
    best_chart_position integer,
    chart_days integer NOT NULL DEFAULT 0,
    computed_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT performance_reports_pkey
        PRIMARY KEY (entity_type, entity_id, platform, period_start, period_end)
);
"""

DOWNGRADE_SQL = """
DROP TABLE performance_reports, artist_airplay;
DELETE FROM artist_audience
WHERE num_nonnulls(follower_count, like_count, following_count, post_count, view_count) = 0;
ALTER TABLE artist_audience
    DROP CONSTRAINT artist_audience_some_metric,
    DROP COLUMN listener_count,
    ADD CONSTRAINT artist_audience_some_metric CHECK (
        num_nonnulls(follower_count, like_count, following_count, post_count, view_count) > 0
    );
DROP VIEW fraud_flag_view;
DROP TABLE audience_fraud_flags, chart_health;
DROP TRIGGER rankings_delete_trend_rows ON rankings;
DROP FUNCTION delete_trends_of_deleted_rankings();
DROP VIEW chart_trend_exits;
DROP TABLE chart_trend_entries, chart_trend_rankings;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
