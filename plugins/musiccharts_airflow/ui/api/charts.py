"""Chart: the latest stored ranking with its movements and exits, a bump series of its top 20, and health.

Every query starts from one chart's rankings through the ``(chart_id, ranking_date)`` key and reads entries
through their ``(ranking_id, position)`` key, so a page costs the same on a week of data as on years.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from musiccharts_airflow.ui.access import ViewerDep
from musiccharts_airflow.ui.airflow_runs import runs_by_period
from musiccharts_airflow.ui.api.coverage import PeriodStatus, build_coverage
from musiccharts_airflow.ui.chart_catalog import chart_config, configured_charts
from musiccharts_airflow.ui.readonly_db import ProductDbDep

router = APIRouter(prefix="/api/charts", tags=["charts"])

BUMP_TOP = 20
HEALTH_WINDOW_DAYS = 90


class ChartSummary(BaseModel):
    slug: str
    dag_id: str
    platform: str
    country: str
    frequency: str
    enabled: bool
    name: str | None = Field(None, description="Chart name as Soundcharts spells it, once synced.")
    latest_ranking_date: datetime | None = None


class Entry(BaseModel):
    position: int
    previous_position: int | None
    movement: str = Field(description="new | up | down | same")
    change: int | None = Field(description="Places gained (positive) or lost (negative) since last ranking.")
    track_uuid: str
    track_name: str
    artists: str | None
    metric: float | None
    time_on_chart: int | None
    time_on_chart_unit: str | None
    entry_state: str | None


class ChartExit(BaseModel):
    track_uuid: str
    track_name: str
    artists: str | None
    last_position: int


class LatestRanking(BaseModel):
    ranking_id: int
    ranking_date: datetime
    period_start: datetime
    period_end: datetime
    entry_count: int
    expected_entries: int | None
    run_id: str | None = Field(None, description="The DAG run that covers this period, if any.")
    entries: list[Entry]
    exits: list[ChartExit]


class BumpSeries(BaseModel):
    track_uuid: str
    track_name: str
    positions: list[int | None] = Field(description="Position on each date of `dates` (null: not ranked).")


class Bump(BaseModel):
    dates: list[datetime]
    series: list[BumpSeries]


class Health(BaseModel):
    window_days: int
    counts: dict[PeriodStatus, int]
    coverage_ratio: float | None = Field(description="Stored share of the window's periods.")
    latest_ranking_age_hours: float | None
    incomplete_ranking_ids: list[int]


class ChartDetail(BaseModel):
    chart: ChartSummary
    latest: LatestRanking | None
    bump: Bump
    health: Health


def _movement(position: int, previous: int | None) -> tuple[str, int | None]:
    if previous is None:
        return "new", None
    if previous > position:
        return "up", previous - position
    if previous < position:
        return "down", previous - position
    return "same", 0


@router.get("", response_model=list[ChartSummary], summary="Configured charts the user may read")
def list_charts(viewer: ViewerDep, db: ProductDbDep) -> list[dict]:
    charts = list(configured_charts())
    readable = viewer.readable_dag_ids(c.dag_id for c in charts)
    charts = [c for c in charts if c.dag_id in readable]
    with db.cursor() as cur:
        cur.execute(
            """
            SELECT c.slug, c.name,
                   (SELECT max(r.ranking_date) FROM rankings r WHERE r.chart_id = c.id) AS latest
            FROM charts c WHERE c.slug = ANY(%s)
            """,
            ([c.slug for c in charts],),
        )
        stored = {row["slug"]: row for row in cur}
    return [
        {
            "slug": c.slug,
            "dag_id": c.dag_id,
            "platform": c.platform,
            "country": c.country,
            "frequency": c.frequency.value,
            "enabled": c.enabled,
            "name": stored.get(c.slug, {}).get("name"),
            "latest_ranking_date": stored.get(c.slug, {}).get("latest"),
        }
        for c in charts
    ]


@router.get(
    "/{slug}",
    response_model=ChartDetail,
    summary="Latest ranking with movements and exits, top-20 bump series, chart health",
)
def chart_detail(
    viewer: ViewerDep,
    db: ProductDbDep,
    session: SessionDep,
    slug: Annotated[str, Path(description="Chart slug, as in include/config/charts.yaml")],
    bump_rankings: Annotated[int, Query(ge=2, le=120, description="Rankings in the bump series.")] = 30,
) -> dict:
    config = chart_config(slug)
    if config is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no configured chart {slug!r}")
    viewer.require_dag(config.dag_id, f"chart {slug}")
    with db.cursor() as cur:
        cur.execute("SELECT id, name FROM charts WHERE slug = %s", (slug,))
        chart_row = cur.fetchone()
        latest = None
        bump: dict[str, list] = {"dates": [], "series": []}
        if chart_row is not None:
            cur.execute(
                """
                SELECT id, ranking_date, period_start, period_end, entry_count, expected_entries
                FROM rankings WHERE chart_id = %s ORDER BY ranking_date DESC LIMIT 1
                """,
                (chart_row["id"],),
            )
            latest = cur.fetchone()
        if latest is not None and chart_row is not None:
            latest = dict(latest)
            cur.execute(
                """
                SELECT e.position, e.previous_position, e.metric, e.time_on_chart, e.time_on_chart_unit,
                       e.entry_state, t.id AS track_id, t.uuid AS track_uuid, t.name AS track_name,
                       coalesce(t.credit_name, artists.names) AS artists
                FROM ranking_entries e
                JOIN tracks t ON t.id = e.track_id
                LEFT JOIN LATERAL (
                    SELECT string_agg(a.name, ', ' ORDER BY ta.position) AS names
                    FROM track_artists ta JOIN artists a ON a.id = ta.artist_id
                    WHERE ta.track_id = t.id
                ) artists ON true
                WHERE e.ranking_id = %s
                ORDER BY e.position
                """,
                (latest["id"],),
            )
            entries = cur.fetchall()
            cur.execute(
                """
                SELECT x.last_position, t.uuid AS track_uuid, t.name AS track_name, t.credit_name AS artists
                FROM chart_exits x JOIN tracks t ON t.id = x.track_id
                WHERE x.exit_ranking_id = %s ORDER BY x.last_position
                """,
                (latest["id"],),
            )
            exits = cur.fetchall()
            top = [row for row in entries if row["position"] <= BUMP_TOP]
            cur.execute(
                """
                SELECT r.ranking_date, e.track_id, e.position
                FROM (SELECT id, ranking_date FROM rankings WHERE chart_id = %(chart)s
                      ORDER BY ranking_date DESC LIMIT %(n)s) r
                JOIN ranking_entries e ON e.ranking_id = r.id AND e.track_id = ANY(%(tracks)s)
                """,
                {"chart": chart_row["id"], "n": bump_rankings, "tracks": [row["track_id"] for row in top]},
            )
            points = cur.fetchall()
            cur.execute(
                "SELECT ranking_date FROM rankings WHERE chart_id = %s ORDER BY ranking_date DESC LIMIT %s",
                (chart_row["id"], bump_rankings),
            )
            dates = sorted(row["ranking_date"] for row in cur)
            index = {moment: i for i, moment in enumerate(dates)}
            series = {row["track_id"]: [None] * len(dates) for row in top}
            for point in points:
                series[point["track_id"]][index[point["ranking_date"]]] = point["position"]
            bump = {
                "dates": dates,
                "series": [
                    {
                        "track_uuid": row["track_uuid"],
                        "track_name": row["track_name"],
                        "positions": series[row["track_id"]],
                    }
                    for row in top
                ],
            }
            runs = runs_by_period(
                session,
                [config.dag_id],
                latest["period_start"],
                latest["period_start"] + timedelta(seconds=1),
            )
            run = runs.get((config.dag_id, latest["period_start"]))
            latest = {
                "ranking_id": latest["id"],
                "ranking_date": latest["ranking_date"],
                "period_start": latest["period_start"],
                "period_end": latest["period_end"],
                "entry_count": latest["entry_count"],
                "expected_entries": latest["expected_entries"],
                "run_id": run.run_id if run else None,
                "entries": [
                    {
                        **{
                            k: row[k]
                            for k in Entry.model_fields
                            if k in row and k not in ("movement", "change")
                        },
                        "metric": float(row["metric"]) if row["metric"] is not None else None,
                        "movement": _movement(row["position"], row["previous_position"])[0],
                        "change": _movement(row["position"], row["previous_position"])[1],
                    }
                    for row in entries
                ],
                "exits": exits,
            }
    health = _health(db, session, config)
    return {
        "chart": {
            "slug": config.slug,
            "dag_id": config.dag_id,
            "platform": config.platform,
            "country": config.country,
            "frequency": config.frequency.value,
            "enabled": config.enabled,
            "name": chart_row["name"] if chart_row else None,
            "latest_ranking_date": latest["ranking_date"] if latest else None,
        },
        "latest": latest,
        "bump": bump,
        "health": health,
    }


def _health(db, session, config) -> dict:
    """Coverage of the last 90 days, and how old the newest stored period is."""
    now = datetime.now(UTC)
    first_day = now.date() - timedelta(days=HEALTH_WINDOW_DAYS - 1)
    [coverage] = build_coverage(db, session, [config], first_day, now.date())
    counts = coverage["counts"]
    total = sum(counts.values())
    stored_ends = [date.fromisoformat(cell["end"]) for cell in coverage["periods"] if cell["ranking_id"]]
    newest_end = datetime.combine(max(stored_ends), datetime.min.time(), tzinfo=UTC) if stored_ends else None
    return {
        "window_days": HEALTH_WINDOW_DAYS,
        "counts": counts,
        "coverage_ratio": round(counts["stored"] / total, 4) if total else None,
        "latest_ranking_age_hours": round((now - newest_end).total_seconds() / 3600, 1)
        if newest_end
        else None,
        "incomplete_ranking_ids": [
            cell["ranking_id"] for cell in coverage["periods"] if cell["status"] == PeriodStatus.INCOMPLETE
        ],
    }
