"""Known ranking dates per chart, named artist-audience metrics, remembered useless calls.

- ``chart_ranking_dates``: every ranking datetime ``available-rankings`` listed for a chart, so that a run
  asks for exactly a published ranking's datetime and a catchup reads that list once, not once per period.
  ``chart_ranking_date_scans.covered_from`` says how far back the stored list is complete: a date older
  than it may exist without being stored yet. Keyed by slug: the chart row may not exist yet.
- ``artist_audience``: the API sends ``followerCount``, ``likeCount``, ``followingCount``, ``postCount`` and
  ``viewCount``, each only on some platforms; one nullable column each (NULL = not served, 0 = a value)
  replaces the single ``value``. Existing values were follower counts and move to ``follower_count``.
- ``soundcharts_call_backoff``: a series that answered 404 or no data, or a uuid a batch endpoint left out,
  with the date before which it is not asked again (the delay doubles per useless answer, up to 30 days).
- ``track_platform_identifiers`` is dropped: nothing ever wrote it, and the audience series keep every
  platform identifier they are served.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE_SQL = """
CREATE TABLE chart_ranking_dates (
    chart_slug text NOT NULL,
    ranking_date timestamptz NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT chart_ranking_dates_pkey PRIMARY KEY (chart_slug, ranking_date)
);

CREATE TABLE chart_ranking_date_scans (
    chart_slug text PRIMARY KEY,
    covered_from timestamptz,                 -- every ranking dated from here to the newest one is stored
    history_complete boolean NOT NULL DEFAULT false,   -- the scan reached the API's oldest date
    scanned_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE artist_audience
    ADD COLUMN follower_count bigint,
    ADD COLUMN like_count bigint,
    ADD COLUMN following_count bigint,
    ADD COLUMN post_count bigint,
    ADD COLUMN view_count bigint;
UPDATE artist_audience SET follower_count = value;
ALTER TABLE artist_audience
    DROP COLUMN value,
    ADD CONSTRAINT artist_audience_some_metric CHECK (
        num_nonnulls(follower_count, like_count, following_count, post_count, view_count) > 0
    );

CREATE TABLE soundcharts_call_backoff (
    endpoint text NOT NULL,                   -- e.g. "song_audience", "artist_batch"
    entity_uuid text NOT NULL,
    platform text NOT NULL DEFAULT '',
    reason text NOT NULL,                     -- "not_found", "no_data", "left_out_of_batch"
    useless_answers integer NOT NULL DEFAULT 1 CHECK (useless_answers > 0),
    retry_after date NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT soundcharts_call_backoff_pkey PRIMARY KEY (endpoint, entity_uuid, platform)
);
CREATE INDEX soundcharts_call_backoff_retry_after_idx ON soundcharts_call_backoff (retry_after);

DROP TABLE track_platform_identifiers;
"""

DOWNGRADE_SQL = """
CREATE TABLE track_platform_identifiers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track_id bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    platform text NOT NULL,
    identifier text NOT NULL,
    url text,
    is_default boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT track_platform_identifiers_natural_key UNIQUE (track_id, platform, identifier)
);
CREATE INDEX track_platform_identifiers_lookup_idx ON track_platform_identifiers (platform, identifier);
CREATE TRIGGER track_platform_identifiers_set_updated_at BEFORE UPDATE ON track_platform_identifiers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

DROP TABLE soundcharts_call_backoff;

DELETE FROM artist_audience WHERE follower_count IS NULL;
ALTER TABLE artist_audience DROP CONSTRAINT artist_audience_some_metric, ADD COLUMN value bigint;
UPDATE artist_audience SET value = follower_count;
ALTER TABLE artist_audience
    ALTER COLUMN value SET NOT NULL,
    DROP COLUMN follower_count,
    DROP COLUMN like_count,
    DROP COLUMN following_count,
    DROP COLUMN post_count,
    DROP COLUMN view_count;

DROP TABLE chart_ranking_date_scans, chart_ranking_dates;
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
