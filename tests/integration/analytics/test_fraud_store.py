"""Fraud scoring against the product database: flags stored, kept on reruns, removed when data changes."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import numpy as np
import pytest

from musiccharts.analytics.config import load_analytics_config
from musiccharts.analytics.fraud_store import score_and_store
from musiccharts.db.connection import connect

pytestmark = pytest.mark.integration

THRESHOLDS = load_analytics_config().fraud
START = date(2026, 1, 1)


def artist(conn, number: int) -> int:
    return conn.execute(
        "INSERT INTO artists (uuid, name) VALUES (%s, %s) RETURNING id",
        (str(uuid.uuid5(uuid.NAMESPACE_DNS, f"artist-{number}")), f"Artist {number}"),
    ).fetchone()[0]


def store_series(conn, artist_id: int, increments: np.ndarray, platform: str = "spotify") -> None:
    cumulative = np.round(50_000 + np.cumsum(increments)).astype(int)
    with conn.cursor().copy(
        "COPY artist_audience (artist_id, platform, date, follower_count) FROM STDIN"
    ) as copy:
        for offset, value in enumerate(cumulative):
            copy.write_row((artist_id, platform, START + timedelta(days=offset), int(value)))


def organic(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 20_000 * rng.lognormal(0, 0.1, 150)


def stored_flags(dsn):
    with connect(dsn) as conn:
        return conn.execute(
            "SELECT v.entity_id, v.platform, v.detector, v.window_start, v.window_end, v.detector_version,"
            " f.xmin::text FROM fraud_flag_view v"
            " JOIN audience_fraud_flags f USING (entity_id, platform, detector, window_start) ORDER BY 1, 3"
        ).fetchall()


def test_flags_are_stored_and_a_rerun_writes_nothing(clean_product_db):
    burst = organic(1)
    burst[100:102] += 150_000
    with connect(clean_product_db) as conn:
        fraudulent, honest = artist(conn, 1), artist(conn, 2)
        store_series(conn, fraudulent, burst)
        store_series(conn, honest, organic(2))

    with connect(clean_product_db) as conn:
        first = score_and_store(conn, "artist", THRESHOLDS)
    flags = stored_flags(clean_product_db)

    assert (first.series, first.points, first.inserted) == (2, 300, 1)
    assert [row[:6] for row in flags] == [
        (fraudulent, "spotify", "burst", START + timedelta(days=100), START + timedelta(days=101), "1.0")
    ]
    with connect(clean_product_db) as conn:
        evidence = conn.execute("SELECT evidence, score FROM audience_fraud_flags").fetchone()
    assert len(evidence[0]["increments"]) == 2 and evidence[1] > 1

    with connect(clean_product_db) as conn:
        again = score_and_store(conn, "artist", THRESHOLDS)
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert stored_flags(clean_product_db) == flags


def test_a_flag_no_longer_found_is_removed(clean_product_db):
    burst = organic(1)
    burst[100:102] += 150_000
    with connect(clean_product_db) as conn:
        fraudulent = artist(conn, 1)
        store_series(conn, fraudulent, burst)
        score_and_store(conn, "artist", THRESHOLDS)
        # The source corrected the series: the injected streams are gone.
        conn.execute("DELETE FROM artist_audience")
        store_series(conn, fraudulent, organic(1))

    with connect(clean_product_db) as conn:
        result = score_and_store(conn, "artist", THRESHOLDS)
    assert result.deleted == 1
    assert stored_flags(clean_product_db) == []


def test_unknown_entity_type_is_refused(clean_product_db):
    with connect(clean_product_db) as conn, pytest.raises(ValueError, match="entity_type"):
        score_and_store(conn, "label", THRESHOLDS)
