"""Product-database rows the analysis tests need: catalogue tracks from the simulator, songs on disk."""

from __future__ import annotations

from pathlib import Path

import psycopg


def seed_catalogue_track(dsn: str, acr, song_id: int) -> int:
    """The Soundcharts song as the catalogue holds it: track (uuid, name, ISRC) and its artists."""
    song = acr.catalogue.soundcharts.song_by_id(song_id)
    with psycopg.connect(dsn) as conn:
        track_id = conn.execute(
            "INSERT INTO tracks (uuid, name, isrc, credit_name) VALUES (%s, %s, %s, %s) RETURNING id",
            (song["uuid"], song["name"], song["isrc"]["value"], song["creditName"]),
        ).fetchone()[0]
        for position, artist in enumerate(song["artists"]):
            artist_id = conn.execute(
                """
                INSERT INTO artists (uuid, name) VALUES (%s, %s)
                ON CONFLICT (uuid) DO UPDATE SET name = EXCLUDED.name RETURNING id
                """,
                (artist["uuid"], artist["name"]),
            ).fetchone()[0]
            conn.execute(
                "INSERT INTO track_artists (track_id, artist_id, position) VALUES (%s, %s, %s)",
                (track_id, artist_id, position),
            )
    return track_id


def register_song(dsn: str, path: Path, title: str, artist: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "INSERT INTO songs (title, artist, audio_uri, original_filename) VALUES (%s, %s, %s, %s) RETURNING id",
            (title, artist, path.as_uri(), path.name),
        ).fetchone()[0]
