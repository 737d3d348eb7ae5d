"""Set-based loaders of the catalog domain: one transaction per unit of work (one batch, one refresh).

Every loader COPYs the parsed rows into temporary tables and then runs ``INSERT ... ON CONFLICT ... DO
UPDATE ... WHERE (...) IS DISTINCT FROM (...)``: a rerun with the same data updates no row (tables stay
byte-identical) and a failure anywhere rolls the whole unit back. Loaders take an open psycopg connection
and commit through ``with conn.transaction()``; nothing here imports Airflow.

Bugs of the original system that must not come back (origin-inventory §1.3, §4.5-4.8): the ISRC is the
object's ``value``; the label is ``labels[0].name`` (all labels kept as JSONB); the release date is kept;
tracks without artists are stored; every plot identifier of an audience series is its own row; 0 is a value.
Artist audience keeps every metric the API serves (``followerCount``, ``likeCount``, ``followingCount``,
``postCount``, ``viewCount``, each only on some platforms): a metric not served is NULL, never 0, and a
metric that stops being served never erases a stored value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from musiccharts.soundcharts.models import (
    ArtistMetadata,
    ChartInfo,
    Platform,
    SongMetadata,
)


@dataclass(frozen=True)
class MetadataLoadResult:
    """What one metadata batch wrote (rows actually inserted or changed, not rows offered)."""

    entities: int
    entities_changed: int
    artists_changed: int = 0
    links_changed: int = 0

    def as_xcom(self) -> dict[str, int]:
        return asdict(self)


#: Stored metric columns of each kind of audience series. Song plots carry one ``value``; artist items
#: carry named metrics, one column each (NULL = not served by that platform).
AUDIENCE_METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "track": ("value",),
    "artist": ("follower_count", "like_count", "following_count", "post_count", "view_count"),
}


@dataclass(frozen=True)
class AudiencePoint:
    """One stored audience row: entity x platform x identifier x date, and its metrics by column name."""

    entity_uuid: str
    platform: str
    identifier: str
    date: date
    metrics: dict[str, int]


def _copy_rows(
    cur: psycopg.Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _raw(model: Any) -> Jsonb:
    # The models ignore unknown keys; dumping by alias keeps the API's own spelling for audit/re-parsing.
    return Jsonb(model.model_dump(mode="json", by_alias=True))


# --- tracks -------------------------------------------------------------------------------------------------

_TRACK_COLUMNS = (
    "uuid",
    "name",
    "credit_name",
    "image_url",
    "isrc",
    "isrc_country_code",
    "label",
    "labels",
    "release_date",
    "duration_seconds",
    "explicit",
    "language_code",
    "copyright",
    "distributor",
    "composers",
    "producers",
    "audio_features",
    "metadata_raw",
)


def _track_row(song: SongMetadata) -> tuple[Any, ...]:
    return (
        song.uuid.lower(),
        song.name,
        song.credit_name,
        song.image_url,
        song.isrc.value if song.isrc else None,
        song.isrc.country_code if song.isrc else None,
        song.labels[0].name if song.labels else None,
        Jsonb([label.model_dump(mode="json") for label in song.labels]),
        song.release_date.date() if song.release_date else None,
        song.duration,
        song.explicit,
        song.language_code,
        song.copyright,
        song.distributor,
        list(song.composers),
        list(song.producers),
        Jsonb(song.audio.model_dump(mode="json", by_alias=True)) if song.audio else None,
        _raw(song),
    )


def load_track_metadata(
    conn: psycopg.Connection, songs: Sequence[SongMetadata], *, fetched_at: datetime
) -> MetadataLoadResult:
    """Upsert tracks, their artists, track-artist links and genres of one batch in one transaction."""
    songs = list({song.uuid.lower(): song for song in songs}.values())
    if not songs:
        return MetadataLoadResult(entities=0, entities_changed=0)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            CREATE TEMP TABLE tmp_tracks (
                uuid text, name text, credit_name text, image_url text, isrc text, isrc_country_code text,
                label text, labels jsonb, release_date date, duration_seconds integer, explicit boolean,
                language_code text, copyright text, distributor text, composers text[], producers text[],
                audio_features jsonb, metadata_raw jsonb
            ) ON COMMIT DROP;
            CREATE TEMP TABLE tmp_track_artists (
                track_uuid text, artist_uuid text, position integer, name text, slug text, app_url text,
                image_url text
            ) ON COMMIT DROP;
            CREATE TEMP TABLE tmp_track_genres (track_uuid text, genre text, parent text, is_root boolean)
                ON COMMIT DROP;
            """
        )
        _copy_rows(cur, "tmp_tracks", _TRACK_COLUMNS, (_track_row(song) for song in songs))
        _copy_rows(
            cur,
            "tmp_track_artists",
            ("track_uuid", "artist_uuid", "position", "name", "slug", "app_url", "image_url"),
            (
                (
                    song.uuid.lower(),
                    artist.uuid.lower(),
                    position,
                    artist.name,
                    artist.slug,
                    artist.app_url,
                    artist.image_url,
                )
                for song in songs
                for position, artist in enumerate(song.artists, start=1)
            ),
        )
        _copy_rows(
            cur,
            "tmp_track_genres",
            ("track_uuid", "genre", "parent", "is_root"),
            _genre_rows(songs),
        )
        assigned = ", ".join(f"{column} = EXCLUDED.{column}" for column in (*_TRACK_COLUMNS[1:],))
        compared = ", ".join(f"tracks.{column}" for column in _TRACK_COLUMNS[1:])
        excluded = ", ".join(f"EXCLUDED.{column}" for column in _TRACK_COLUMNS[1:])
        cur.execute(
            f"""
            INSERT INTO tracks ({", ".join(_TRACK_COLUMNS)}, metadata_fetched_at)
            SELECT uuid::uuid, {", ".join(_TRACK_COLUMNS[1:])}, %(fetched_at)s FROM tmp_tracks
            ON CONFLICT (uuid) DO UPDATE SET {assigned},
                metadata_fetched_at = EXCLUDED.metadata_fetched_at, updated_at = now()
            WHERE ({compared}, tracks.metadata_fetched_at)
                IS DISTINCT FROM ({excluded}, EXCLUDED.metadata_fetched_at)
            """,
            {"fetched_at": fetched_at},
        )
        tracks_changed = cur.rowcount
        artists_changed = _upsert_artist_refs(cur)
        links_changed = _replace_track_artists(cur) + _replace_track_genres(cur)
    return MetadataLoadResult(
        entities=len(songs),
        entities_changed=tracks_changed,
        artists_changed=artists_changed,
        links_changed=links_changed,
    )


def _genre_rows(songs: Sequence[SongMetadata]) -> Iterable[tuple[str, str, str | None, bool]]:
    for song in songs:
        seen: set[str] = set()
        for genre in song.genres:
            if genre.root not in seen:
                seen.add(genre.root)
                yield (song.uuid.lower(), genre.root, None, True)
            for sub in genre.sub:
                if sub not in seen:
                    seen.add(sub)
                    yield (song.uuid.lower(), sub, genre.root, False)


def _upsert_artist_refs(cur: psycopg.Cursor) -> int:
    """Artists referenced by the tracks: create them, refresh the reference fields, keep their metadata."""
    cur.execute(
        """
        INSERT INTO artists (uuid, name, slug, app_url, image_url)
        SELECT DISTINCT ON (artist_uuid) artist_uuid::uuid, name, slug, app_url, image_url
        FROM tmp_track_artists ORDER BY artist_uuid
        ON CONFLICT (uuid) DO UPDATE SET
            name = EXCLUDED.name,
            slug = COALESCE(EXCLUDED.slug, artists.slug),
            app_url = COALESCE(EXCLUDED.app_url, artists.app_url),
            image_url = COALESCE(EXCLUDED.image_url, artists.image_url),
            updated_at = now()
        WHERE (artists.name, artists.slug, artists.app_url, artists.image_url) IS DISTINCT FROM
            (EXCLUDED.name, COALESCE(EXCLUDED.slug, artists.slug),
             COALESCE(EXCLUDED.app_url, artists.app_url), COALESCE(EXCLUDED.image_url, artists.image_url))
        """
    )
    return cur.rowcount


def _replace_track_artists(cur: psycopg.Cursor) -> int:
    """Make each batch track's artist links exactly the served list (set-based delete + upsert)."""
    cur.execute(
        """
        DELETE FROM track_artists ta USING tracks t
        WHERE ta.track_id = t.id AND t.uuid::text IN (SELECT uuid FROM tmp_tracks)
          AND NOT EXISTS (
            SELECT 1 FROM tmp_track_artists x JOIN artists a ON a.uuid::text = x.artist_uuid
            WHERE x.track_uuid = t.uuid::text AND a.id = ta.artist_id
          )
        """
    )
    deleted = cur.rowcount
    cur.execute(
        """
        INSERT INTO track_artists (track_id, artist_id, position)
        SELECT t.id, a.id, x.position
        FROM tmp_track_artists x
        JOIN tracks t ON t.uuid::text = x.track_uuid
        JOIN artists a ON a.uuid::text = x.artist_uuid
        ON CONFLICT (track_id, artist_id) DO UPDATE SET position = EXCLUDED.position
        WHERE track_artists.position IS DISTINCT FROM EXCLUDED.position
        """
    )
    return deleted + cur.rowcount


def _replace_track_genres(cur: psycopg.Cursor) -> int:
    """Genres (root / sub with parent) and each batch track's genre links, exactly as served."""
    cur.execute(
        """
        INSERT INTO genres (name)
        SELECT DISTINCT genre FROM tmp_track_genres WHERE is_root
        ON CONFLICT (name) DO NOTHING;
        INSERT INTO genres (name, parent_id)
        SELECT DISTINCT ON (x.genre) x.genre, p.id
        FROM tmp_track_genres x JOIN genres p ON p.name = x.parent
        WHERE NOT x.is_root ORDER BY x.genre, p.id
        ON CONFLICT (name) DO NOTHING;
        """
    )
    cur.execute(
        """
        DELETE FROM track_genres tg USING tracks t
        WHERE tg.track_id = t.id AND t.uuid::text IN (SELECT uuid FROM tmp_tracks)
          AND NOT EXISTS (
            SELECT 1 FROM tmp_track_genres x JOIN genres g ON g.name = x.genre
            WHERE x.track_uuid = t.uuid::text AND g.id = tg.genre_id
          )
        """
    )
    deleted = cur.rowcount
    cur.execute(
        """
        INSERT INTO track_genres (track_id, genre_id, is_root)
        SELECT DISTINCT ON (t.id, g.id) t.id, g.id, x.is_root
        FROM tmp_track_genres x
        JOIN tracks t ON t.uuid::text = x.track_uuid
        JOIN genres g ON g.name = x.genre
        ORDER BY t.id, g.id, x.is_root DESC
        ON CONFLICT (track_id, genre_id) DO UPDATE SET is_root = EXCLUDED.is_root
        WHERE track_genres.is_root IS DISTINCT FROM EXCLUDED.is_root
        """
    )
    return deleted + cur.rowcount


# --- artists ------------------------------------------------------------------------------------------------

_ARTIST_COLUMNS = (
    "uuid",
    "slug",
    "name",
    "country_code",
    "image_url",
    "app_url",
    "gender",
    "type",
    "career_stage",
    "birth_date",
    "biography",
    "metadata_raw",
)


def _artist_row(artist: ArtistMetadata) -> tuple[Any, ...]:
    birth = artist.birth_date
    if isinstance(birth, datetime):
        birth = birth.date()
    return (
        artist.uuid.lower(),
        artist.slug,
        artist.name,
        artist.country_code or None,
        artist.image_url,
        artist.app_url,
        artist.gender,
        artist.type,
        artist.career_stage,
        birth,
        artist.biography,
        _raw(artist),
    )


def load_artist_metadata(
    conn: psycopg.Connection, artists: Sequence[ArtistMetadata], *, fetched_at: datetime
) -> MetadataLoadResult:
    """Upsert the full metadata of one batch of artists in one transaction."""
    artists = list({artist.uuid.lower(): artist for artist in artists}.values())
    if not artists:
        return MetadataLoadResult(entities=0, entities_changed=0)
    columns = _ARTIST_COLUMNS[1:]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            CREATE TEMP TABLE tmp_artists (
                uuid text, slug text, name text, country_code text, image_url text, app_url text,
                gender text, type text, career_stage text, birth_date date, biography text,
                metadata_raw jsonb
            ) ON COMMIT DROP
            """
        )
        _copy_rows(cur, "tmp_artists", _ARTIST_COLUMNS, (_artist_row(artist) for artist in artists))
        cur.execute(
            f"""
            INSERT INTO artists ({", ".join(_ARTIST_COLUMNS)}, metadata_fetched_at)
            SELECT uuid::uuid, {", ".join(_ARTIST_COLUMNS[1:])}, %(fetched_at)s FROM tmp_artists
            ON CONFLICT (uuid) DO UPDATE SET
                {", ".join(f"{column} = EXCLUDED.{column}" for column in columns)},
                metadata_fetched_at = EXCLUDED.metadata_fetched_at, updated_at = now()
            WHERE ({", ".join(f"artists.{column}" for column in columns)}, artists.metadata_fetched_at)
                IS DISTINCT FROM ({", ".join(f"EXCLUDED.{column}" for column in columns)},
                                  EXCLUDED.metadata_fetched_at)
            """,
            {"fetched_at": fetched_at},
        )
        changed = cur.rowcount
    return MetadataLoadResult(entities=len(artists), entities_changed=changed)


# --- audience -----------------------------------------------------------------------------------------------


def audience_points_from_song_items(
    track_uuid: str, platform: str, items: Iterable[Any]
) -> list[AudiencePoint]:
    """Song audience items (``date`` + ``plots[]``) → one point per plot identifier (none dropped)."""
    points = []
    for item in items:
        for plot in item.plots:
            if plot.value is None:  # no measurement; 0 is a measurement and is kept
                continue
            points.append(
                AudiencePoint(
                    track_uuid.lower(),
                    platform,
                    plot.identifier or "",
                    item.date.date(),
                    {"value": int(plot.value)},
                )
            )
    return points


def audience_points_from_artist_items(
    artist_uuid: str, platform: str, items: Iterable[Any]
) -> list[AudiencePoint]:
    """Artist audience items (``date`` + named metrics) → points with every metric served; 0 is kept.

    An item that carries no metric at all is no measurement and is left out.
    """
    points = []
    for item in items:
        metrics = item.metrics()
        if metrics:
            points.append(AudiencePoint(artist_uuid.lower(), platform, "", item.date.date(), metrics))
    return points


def load_audience(
    conn: psycopg.Connection, kind: str, points: Sequence[AudiencePoint], *, fetched_at: datetime
) -> int:
    """Upsert audience points of tracks (``kind="track"``) or artists in one transaction.

    Returns the number of rows inserted or whose metrics changed. A metric absent from a point (NULL) never
    overwrites a stored value. Points of entities not stored are an error (the batch selected stored
    entities only), so nothing is written silently to nowhere.
    """
    if kind not in AUDIENCE_METRIC_COLUMNS:
        raise ValueError(f"unknown entity kind {kind!r}")
    if not points:
        return 0
    table, audience, key = (
        ("tracks", "track_audience", "track_id")
        if kind == "track"
        else ("artists", "artist_audience", "artist_id")
    )
    metrics = AUDIENCE_METRIC_COLUMNS[kind]
    kept = [f"coalesce(EXCLUDED.{column}, {audience}.{column})" for column in metrics]
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE tmp_audience (entity_uuid text, platform text, identifier text, date date, "
            + ", ".join(f"{column} bigint" for column in metrics)
            + ") ON COMMIT DROP"
        )
        _copy_rows(
            cur,
            "tmp_audience",
            ("entity_uuid", "platform", "identifier", "date", *metrics),
            (
                (p.entity_uuid, p.platform, p.identifier, p.date, *(p.metrics.get(c) for c in metrics))
                for p in points
            ),
        )
        cur.execute(
            f"""
            SELECT count(DISTINCT x.entity_uuid) FROM tmp_audience x
            LEFT JOIN {table} e ON e.uuid::text = x.entity_uuid WHERE e.id IS NULL
            """
        )
        unknown = cur.fetchone()[0]
        if unknown:
            raise LookupError(f"{unknown} {kind}(s) of the audience batch are not stored")
        cur.execute(
            f"""
            INSERT INTO {audience} ({key}, platform, identifier, date, {", ".join(metrics)}, fetched_at)
            SELECT DISTINCT ON (e.id, x.platform, x.identifier, x.date)
                e.id, x.platform, x.identifier, x.date, {", ".join(f"x.{c}" for c in metrics)},
                %(fetched_at)s
            FROM tmp_audience x JOIN {table} e ON e.uuid::text = x.entity_uuid
            ORDER BY e.id, x.platform, x.identifier, x.date
            ON CONFLICT ({key}, platform, identifier, date) DO UPDATE SET
                {", ".join(f"{column} = {value}" for column, value in zip(metrics, kept, strict=True))},
                fetched_at = EXCLUDED.fetched_at
            WHERE ({", ".join(f"{audience}.{column}" for column in metrics)})
                IS DISTINCT FROM ({", ".join(kept)})
            """,
            {"fetched_at": fetched_at},
        )
        return cur.rowcount


# --- platforms and charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogueLoadResult:
    platforms: int
    platforms_changed: int
    charts: int
    charts_new: int
    charts_changed: int
    new_chart_slugs: tuple[str, ...] = ()

    def as_xcom(self) -> dict[str, Any]:
        result = asdict(self)
        result["new_chart_slugs"] = list(self.new_chart_slugs)
        return result


def load_catalogue(
    conn: psycopg.Connection,
    platforms: Sequence[Platform],
    charts: Sequence[ChartInfo],
    *,
    enabled_slugs: Iterable[str],
    seen_at: datetime,
) -> CatalogueLoadResult:
    """Upsert platforms and charts in one transaction.

    A chart seen for the first time is recorded as available with ``sync_enabled`` false unless
    ``charts.yaml`` enables it; ``sync_enabled`` follows ``charts.yaml`` on every refresh.
    """
    enabled = set(enabled_slugs)
    charts = list({chart.slug: chart for chart in charts}.values())
    known_platforms = {platform.code: platform for platform in platforms}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            """
            CREATE TEMP TABLE tmp_platforms (slug text, name text) ON COMMIT DROP;
            CREATE TEMP TABLE tmp_charts (
                slug text, platform text, name text, country_code text, frequency text, max_entries integer,
                web_url text, metric_type text, sync_enabled boolean, raw jsonb
            ) ON COMMIT DROP;
            """
        )
        # Charts may name a platform the platform list lacks: record it by its code rather than drop it.
        platform_rows = {code: platform.name for code, platform in known_platforms.items()}
        for chart in charts:
            platform_rows.setdefault(chart.platform, chart.platform)
        _copy_rows(cur, "tmp_platforms", ("slug", "name"), platform_rows.items())
        _copy_rows(
            cur,
            "tmp_charts",
            (
                "slug",
                "platform",
                "name",
                "country_code",
                "frequency",
                "max_entries",
                "web_url",
                "metric_type",
                "sync_enabled",
                "raw",
            ),
            (
                (
                    chart.slug,
                    chart.platform,
                    chart.name,
                    chart.country_code or None,
                    chart.frequency,
                    chart.max_results_count,
                    chart.web_url,
                    chart.metric.type if chart.metric else None,
                    chart.slug in enabled,
                    _raw(chart),
                )
                for chart in charts
            ),
        )
        cur.execute(
            """
            INSERT INTO platforms (slug, name) SELECT slug, name FROM tmp_platforms
            ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
            WHERE platforms.name IS DISTINCT FROM EXCLUDED.name
            """
        )
        platforms_changed = cur.rowcount
        cur.execute(
            """
            SELECT x.slug FROM tmp_charts x LEFT JOIN charts c ON c.slug = x.slug WHERE c.id IS NULL
            ORDER BY x.slug
            """
        )
        new_slugs = tuple(row[0] for row in cur.fetchall())
        cur.execute(
            """
            INSERT INTO charts (slug, platform_id, name, country_code, frequency, max_entries, web_url,
                                metric_type, sync_enabled, first_seen_at, raw)
            SELECT x.slug, p.id, x.name, x.country_code, x.frequency, x.max_entries, x.web_url,
                   x.metric_type, x.sync_enabled, %(seen_at)s, x.raw
            FROM tmp_charts x JOIN platforms p ON p.slug = x.platform
            ON CONFLICT (slug) DO UPDATE SET
                platform_id = EXCLUDED.platform_id, name = EXCLUDED.name,
                country_code = EXCLUDED.country_code, frequency = EXCLUDED.frequency,
                max_entries = EXCLUDED.max_entries, web_url = EXCLUDED.web_url,
                metric_type = EXCLUDED.metric_type, sync_enabled = EXCLUDED.sync_enabled,
                raw = EXCLUDED.raw, updated_at = now()
            WHERE (charts.platform_id, charts.name, charts.country_code, charts.frequency,
                   charts.max_entries, charts.web_url, charts.metric_type, charts.sync_enabled, charts.raw)
                IS DISTINCT FROM
                  (EXCLUDED.platform_id, EXCLUDED.name, EXCLUDED.country_code, EXCLUDED.frequency,
                   EXCLUDED.max_entries, EXCLUDED.web_url, EXCLUDED.metric_type, EXCLUDED.sync_enabled,
                   EXCLUDED.raw)
            """,
            {"seen_at": seen_at},
        )
        charts_changed = cur.rowcount
    return CatalogueLoadResult(
        platforms=len(platform_rows),
        platforms_changed=platforms_changed,
        charts=len(charts),
        charts_new=len(new_slugs),
        charts_changed=charts_changed - len(new_slugs),
        new_chart_slugs=new_slugs,
    )
