"""Track and artist: metadata, audience series per platform, and chart history.

Each part is shown only to users who may read the DAG that writes it (metadata: the metadata DAGs,
audience: ``fetch_audience``, chart history: each chart's sync DAG); the rest of the page still renders.
Series are read through the natural keys ``(entity, platform, identifier, date)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from musiccharts_airflow.ui.access import (
    ARTIST_METADATA_DAG,
    AUDIENCE_DAG,
    TRACK_METADATA_DAG,
    Viewer,
    ViewerDep,
    chart_dag_id,
)
from musiccharts_airflow.ui.readonly_db import ProductDbDep

router = APIRouter(prefix="/api", tags=["tracks and artists"])

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class AudienceSeries(BaseModel):
    platform: str
    identifier: str
    metric: str = Field(description="streams/plays for tracks; follower_count, like_count, ... for artists")
    dates: list[date]
    values: list[int]


class ChartPoint(BaseModel):
    chart_slug: str
    dag_id: str
    ranking_date: datetime
    position: int


class EntityRef(BaseModel):
    uuid: str
    name: str


class TrackDetail(BaseModel):
    uuid: str
    name: str
    hidden: list[str] = Field(description="Parts left out because their DAG is not readable by the user.")
    metadata: dict | None
    artists: list[EntityRef]
    audience: list[AudienceSeries] | None
    chart_history: list[ChartPoint]


class ArtistDetail(BaseModel):
    uuid: str
    name: str
    hidden: list[str]
    metadata: dict | None
    tracks: list[EntityRef]
    audience: list[AudienceSeries] | None


class SearchResult(BaseModel):
    kind: str = Field(description="track | artist")
    uuid: str
    name: str
    detail: str | None


#: Artist audience metrics, one column each (a platform serves some of them; the others are NULL).
ARTIST_METRICS = (
    "follower_count",
    "like_count",
    "following_count",
    "post_count",
    "view_count",
    "listener_count",
)


def _series(rows, metrics: tuple[str, ...] = ("value",)) -> list[dict]:
    """One series per (platform, identifier, metric), leaving out the dates a metric was not served."""
    grouped: dict[tuple[str, str, str], dict] = {}
    for row in rows:
        for metric in metrics:
            if row[metric] is None:
                continue
            key = (row["platform"], row["identifier"], metric)
            series = grouped.setdefault(
                key,
                {
                    "platform": row["platform"],
                    "identifier": row["identifier"],
                    "metric": metric,
                    "dates": [],
                    "values": [],
                },
            )
            series["dates"].append(row["date"])
            series["values"].append(row[metric])
    return list(grouped.values())


def _window(days: int) -> date:
    return date.today() - timedelta(days=days - 1)


@router.get("/tracks/{uuid}", response_model=TrackDetail, summary="Track metadata, audience, chart history")
def track_detail(
    viewer: ViewerDep,
    db: ProductDbDep,
    uuid: Annotated[str, Path(pattern=UUID_PATTERN, description="Soundcharts track uuid")],
    days: Annotated[int, Query(ge=1, le=1096, description="Audience and chart history window.")] = 365,
) -> dict:
    readable = viewer.readable_dag_ids([TRACK_METADATA_DAG, AUDIENCE_DAG])
    hidden = []
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT id, uuid, name, credit_name, isrc, label, release_date, duration_seconds, explicit,
                   language_code, distributor, composers, producers, metadata_fetched_at
            FROM tracks WHERE uuid = %s
            """,
            (uuid,),
        )
        track = cur.fetchone()
        if track is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no track {uuid}")
        cur.execute(
            """
            SELECT a.uuid, a.name FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
            WHERE ta.track_id = %s ORDER BY ta.position
            """,
            (track["id"],),
        )
        artists = cur.fetchall()
        audience = None
        if AUDIENCE_DAG in readable:
            cur.execute(
                """
                SELECT platform, identifier, date, value FROM track_audience
                WHERE track_id = %s AND date >= %s ORDER BY platform, identifier, date
                """,
                (track["id"], _window(days)),
            )
            audience = _series(cur)
        else:
            hidden.append("audience")
        history = _chart_history(cur, viewer, track["id"], days)
    metadata = None
    if TRACK_METADATA_DAG in readable:
        metadata = {key: value for key, value in track.items() if key not in ("id", "uuid", "name")}
    else:
        hidden.append("metadata")
    return {
        "uuid": track["uuid"],
        "name": track["name"],
        "hidden": hidden,
        "metadata": metadata,
        "artists": artists,
        "audience": audience,
        "chart_history": history,
    }


def _chart_history(cur, viewer: Viewer, track_id: int, days: int) -> list[dict]:
    cur.execute(
        """
        SELECT c.slug AS chart_slug, r.ranking_date, e.position
        FROM ranking_entries e
        JOIN rankings r ON r.id = e.ranking_id
        JOIN charts c ON c.id = r.chart_id
        WHERE e.track_id = %s AND r.ranking_date >= %s
        ORDER BY c.slug, r.ranking_date
        """,
        (track_id, _window(days)),
    )
    rows = cur.fetchall()
    readable = viewer.readable_dag_ids(chart_dag_id(slug) for slug in {row["chart_slug"] for row in rows})
    return [
        {**row, "dag_id": chart_dag_id(row["chart_slug"])}
        for row in rows
        if chart_dag_id(row["chart_slug"]) in readable
    ]


@router.get("/artists/{uuid}", response_model=ArtistDetail, summary="Artist metadata, tracks, audience")
def artist_detail(
    viewer: ViewerDep,
    db: ProductDbDep,
    uuid: Annotated[str, Path(pattern=UUID_PATTERN, description="Soundcharts artist uuid")],
    days: Annotated[int, Query(ge=1, le=1096, description="Audience window.")] = 365,
) -> dict:
    readable = viewer.readable_dag_ids([ARTIST_METADATA_DAG, AUDIENCE_DAG])
    hidden = []
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT id, uuid, name, slug, country_code, gender, type, career_stage, birth_date,
                   metadata_fetched_at
            FROM artists WHERE uuid = %s
            """,
            (uuid,),
        )
        artist = cur.fetchone()
        if artist is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no artist {uuid}")
        cur.execute(
            """
            SELECT t.uuid, t.name FROM track_artists ta JOIN tracks t ON t.id = ta.track_id
            WHERE ta.artist_id = %s ORDER BY t.name LIMIT 500
            """,
            (artist["id"],),
        )
        tracks = cur.fetchall()
        audience = None
        if AUDIENCE_DAG in readable:
            cur.execute(
                f"""
                SELECT platform, identifier, date, {", ".join(ARTIST_METRICS)} FROM artist_audience
                WHERE artist_id = %s AND date >= %s ORDER BY platform, identifier, date
                """,
                (artist["id"], _window(days)),
            )
            audience = _series(cur, ARTIST_METRICS)
        else:
            hidden.append("audience")
    metadata = None
    if ARTIST_METADATA_DAG in readable:
        metadata = {key: value for key, value in artist.items() if key not in ("id", "uuid", "name")}
    else:
        hidden.append("metadata")
    return {
        "uuid": artist["uuid"],
        "name": artist["name"],
        "hidden": hidden,
        "metadata": metadata,
        "tracks": tracks,
        "audience": audience,
    }


@router.get("/search", response_model=list[SearchResult], summary="Tracks and artists by uuid or name prefix")
def search(
    viewer: ViewerDep,
    db: ProductDbDep,
    q: Annotated[str, Query(min_length=2, max_length=100, description="A uuid or the start of a name.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[dict]:
    del viewer  # authenticated is enough: names and uuids are shown on every chart page anyway
    pattern = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with db.cursor() as cur:
        cur.execute(
            """
            (SELECT 'track' AS kind, uuid, name, credit_name AS detail FROM tracks
             WHERE uuid = %(q)s OR name ILIKE %(pattern)s ORDER BY name LIMIT %(limit)s)
            UNION ALL
            (SELECT 'artist', uuid, name, country_code FROM artists
             WHERE uuid = %(q)s OR name ILIKE %(pattern)s ORDER BY name LIMIT %(limit)s)
            """,
            {"q": q.lower(), "pattern": pattern, "limit": limit},
        )
        return cur.fetchall()
