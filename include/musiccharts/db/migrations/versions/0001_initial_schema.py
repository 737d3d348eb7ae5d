"""Initial product schema: platforms, charts, rankings, entries, exits, tracks, artists, genres, audience.

Natural keys are UNIQUE constraints, so a duplicate is refused by the database rather than by convention.
Soundcharts uuids are stored as canonical lower-case text
(a CHECK enforces the form) so that values compare equal to the API's strings everywhere.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_UUID_CHECK = "~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"

# Every table gets the same audit columns; the trigger keeps updated_at honest for ad-hoc UPDATEs too.
_AUDIT = """
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
"""

_TABLES_WITH_UPDATED_AT = (
    "platforms",
    "charts",
    "tracks",
    "artists",
    "genres",
    "rankings",
    "ranking_entries",
    "chart_exits",
    "track_artists",
    "track_genres",
    "track_audience",
    "artist_audience",
    "track_platform_identifiers",
)

UPGRADE_SQL = f"""
CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE platforms (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL,                       -- the Soundcharts platform code, e.g. "spotify"
    name text NOT NULL,
    {_AUDIT},
    CONSTRAINT platforms_slug_key UNIQUE (slug)
);

CREATE TABLE charts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL,
    platform_id bigint NOT NULL REFERENCES platforms (id),
    name text NOT NULL,
    country_code text,                        -- NULL for worldwide charts (the API sends "")
    frequency text NOT NULL,                  -- daily | weekly | monthly, as the API spells it
    max_entries integer CHECK (max_entries > 0),
    web_url text,
    metric_type text,
    sync_enabled boolean NOT NULL DEFAULT false,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    raw jsonb,
    {_AUDIT},
    CONSTRAINT charts_slug_key UNIQUE (slug)
);
CREATE INDEX charts_platform_id_idx ON charts (platform_id);

CREATE TABLE tracks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid text NOT NULL CHECK (uuid {_UUID_CHECK}),
    name text NOT NULL,
    credit_name text,
    image_url text,
    isrc text,                                -- the ISRC's "value", never the whole object
    isrc_country_code text,
    label text,                               -- labels[0].name
    labels jsonb,                             -- every label as sent: [{{"name", "type"}}]
    release_date date,
    duration_seconds integer CHECK (duration_seconds >= 0),
    explicit boolean,
    language_code text,
    copyright text,
    distributor text,
    composers text[],
    producers text[],
    audio_features jsonb,
    metadata_fetched_at timestamptz,          -- NULL until the metadata DAG has fetched the track
    metadata_raw jsonb,
    {_AUDIT},
    CONSTRAINT tracks_uuid_key UNIQUE (uuid)
);
CREATE INDEX tracks_isrc_idx ON tracks (isrc);
CREATE INDEX tracks_metadata_fetched_at_idx ON tracks (metadata_fetched_at);

CREATE TABLE artists (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid text NOT NULL CHECK (uuid {_UUID_CHECK}),
    slug text,
    name text NOT NULL,
    country_code text,
    image_url text,
    app_url text,
    gender text,
    type text,
    career_stage text,
    birth_date date,
    biography text,
    metadata_fetched_at timestamptz,
    metadata_raw jsonb,
    {_AUDIT},
    CONSTRAINT artists_uuid_key UNIQUE (uuid)
);
CREATE INDEX artists_metadata_fetched_at_idx ON artists (metadata_fetched_at);

CREATE TABLE rankings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chart_id bigint NOT NULL REFERENCES charts (id),
    ranking_date timestamptz NOT NULL,        -- related.date of the response, not the requested date
    period_start timestamptz NOT NULL,        -- the DAG run's data interval [period_start, period_end)
    period_end timestamptz NOT NULL,
    expected_entries integer CHECK (expected_entries >= 0),   -- page.total announced by the API
    entry_count integer NOT NULL DEFAULT 0 CHECK (entry_count >= 0),
    fetched_at timestamptz NOT NULL DEFAULT now(),            -- when the stored content was last written
    raw_pages jsonb NOT NULL DEFAULT '[]',   -- response envelopes; the items are ranking_entries.raw
    {_AUDIT},
    CONSTRAINT rankings_chart_id_ranking_date_key UNIQUE (chart_id, ranking_date),
    CONSTRAINT rankings_period_check CHECK (period_end > period_start)
);
CREATE INDEX rankings_ranking_date_idx ON rankings (ranking_date);

-- The natural key is the primary key: no surrogate id, one index less to maintain on every load.
CREATE TABLE ranking_entries (
    ranking_id bigint NOT NULL REFERENCES rankings (id) ON DELETE CASCADE,
    position integer NOT NULL CHECK (position > 0),
    track_id bigint NOT NULL REFERENCES tracks (id),
    previous_position integer CHECK (previous_position > 0),  -- NULL when not on the previous ranking
    position_evolution integer,
    metric numeric,                           -- e.g. the stream count of the period
    time_on_chart integer,
    time_on_chart_unit text,                  -- e.g. DOC (days on chart), WOC
    entry_state text,
    entry_date timestamptz,
    rank_date timestamptz,
    raw jsonb,
    {_AUDIT},
    CONSTRAINT ranking_entries_pkey PRIMARY KEY (ranking_id, position)
);
CREATE INDEX ranking_entries_track_id_idx ON ranking_entries (track_id);

CREATE TABLE chart_exits (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chart_id bigint NOT NULL REFERENCES charts (id),
    track_id bigint NOT NULL REFERENCES tracks (id),
    last_ranking_id bigint NOT NULL REFERENCES rankings (id) ON DELETE CASCADE,
    exit_ranking_id bigint NOT NULL REFERENCES rankings (id) ON DELETE CASCADE,
    last_position integer NOT NULL,
    exit_date timestamptz NOT NULL,           -- ranking_date of the first ranking without the track
    {_AUDIT},
    CONSTRAINT chart_exits_exit_ranking_id_track_id_key UNIQUE (exit_ranking_id, track_id)
);
CREATE INDEX chart_exits_chart_id_exit_date_idx ON chart_exits (chart_id, exit_date);
CREATE INDEX chart_exits_track_id_idx ON chart_exits (track_id);
CREATE INDEX chart_exits_last_ranking_id_idx ON chart_exits (last_ranking_id);

CREATE TABLE track_artists (
    track_id bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    artist_id bigint NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    position integer NOT NULL DEFAULT 0,      -- order of the artist in the credits
    {_AUDIT},
    CONSTRAINT track_artists_track_id_artist_id_key UNIQUE (track_id, artist_id)
);
CREATE INDEX track_artists_artist_id_idx ON track_artists (artist_id);

CREATE TABLE genres (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    parent_id bigint REFERENCES genres (id),  -- NULL for a root genre
    {_AUDIT},
    CONSTRAINT genres_name_key UNIQUE (name),
    CONSTRAINT genres_not_own_parent CHECK (parent_id <> id)
);
CREATE INDEX genres_parent_id_idx ON genres (parent_id);

CREATE TABLE track_genres (
    track_id bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    genre_id bigint NOT NULL REFERENCES genres (id) ON DELETE CASCADE,
    is_root boolean NOT NULL DEFAULT false,
    {_AUDIT},
    CONSTRAINT track_genres_track_id_genre_id_key UNIQUE (track_id, genre_id)
);
CREATE INDEX track_genres_genre_id_idx ON track_genres (genre_id);

CREATE TABLE track_audience (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track_id bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    platform text NOT NULL,
    identifier text NOT NULL DEFAULT '',      -- the plot's platform identifier (one series per identifier)
    date date NOT NULL,
    value bigint NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    {_AUDIT},
    CONSTRAINT track_audience_natural_key UNIQUE (track_id, platform, identifier, date)
);
CREATE INDEX track_audience_platform_date_idx ON track_audience (platform, date);

CREATE TABLE artist_audience (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artist_id bigint NOT NULL REFERENCES artists (id) ON DELETE CASCADE,
    platform text NOT NULL,
    identifier text NOT NULL DEFAULT '',
    date date NOT NULL,
    value bigint NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    {_AUDIT},
    CONSTRAINT artist_audience_natural_key UNIQUE (artist_id, platform, identifier, date)
);
CREATE INDEX artist_audience_platform_date_idx ON artist_audience (platform, date);

CREATE TABLE track_platform_identifiers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track_id bigint NOT NULL REFERENCES tracks (id) ON DELETE CASCADE,
    platform text NOT NULL,                   -- platformCode, e.g. "spotify"
    identifier text NOT NULL,
    url text,
    is_default boolean NOT NULL DEFAULT false,
    {_AUDIT},
    CONSTRAINT track_platform_identifiers_natural_key UNIQUE (track_id, platform, identifier)
);
CREATE INDEX track_platform_identifiers_lookup_idx ON track_platform_identifiers (platform, identifier);
""" + "".join(
    f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION set_updated_at();\n"
    for table in _TABLES_WITH_UPDATED_AT
)

DOWNGRADE_SQL = """
DROP TABLE track_platform_identifiers, artist_audience, track_audience, track_genres, genres, track_artists,
    chart_exits, ranking_entries, rankings, artists, tracks, charts, platforms;
DROP FUNCTION set_updated_at();
"""


def upgrade() -> None:
    op.execute(UPGRADE_SQL)


def downgrade() -> None:
    op.execute(DOWNGRADE_SQL)
