"""The catalog DAGs' shape: params refuse a bad conf at trigger time, mapping uses the API pool."""

from __future__ import annotations

import pytest

from tests.paths import DAGS_DIR


@pytest.fixture(scope="module")
def catalog_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / "catalog"))
    assert bag.import_errors == {}
    return bag  # read through bag.dags: DagBag.get_dag() also consults Airflow's metadata database


def validated(dag, conf: dict) -> dict:
    """What a trigger with ``conf`` goes through: each value is validated against its Param's schema."""
    import copy

    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


@pytest.mark.parametrize("dag_id", ["fetch_track_metadata", "fetch_artist_metadata"])
def test_metadata_params(catalog_dags, dag_id):
    from airflow.sdk.exceptions import ParamValidationError

    dag = catalog_dags.dags[dag_id]
    good = validated(
        dag, {"uuids": ["7d534228-5165-11e9-9375-549f35161576"], "force": True, "staleness_days": 0}
    )
    assert good["force"] is True and good["staleness_days"] == 0
    for bad in ({"uuids": ["not-a-uuid"]}, {"force": "yes"}, {"staleness_days": -1}, {"uuids": "7d534228"}):
        with pytest.raises(ParamValidationError):
            validated(dag, bad)


def test_audience_params(catalog_dags):
    from airflow.sdk.exceptions import ParamValidationError

    dag = catalog_dags.dags["fetch_audience"]
    assert validated(dag, {"until": "2026-11-20"})["until"] == "2026-11-20"
    with pytest.raises(ParamValidationError):
        validated(dag, {"until": "20 Nov"})


@pytest.mark.parametrize(
    ("dag_id", "mapped"),
    [
        ("fetch_track_metadata", ["fetch_batch"]),
        ("fetch_artist_metadata", ["fetch_batch"]),
        ("fetch_audience", ["fetch_track_batch", "fetch_artist_batch"]),
    ],
)
def test_batches_are_mapped_on_the_api_pool_with_a_threshold_summary(catalog_dags, dag_id, mapped):
    dag = catalog_dags.dags[dag_id]
    assert dag.catchup is False and dag.max_active_runs == 1
    for task_id in mapped:
        task = dag.get_task(task_id)
        assert task.pool == "soundcharts_api"
        assert task.map_index_template == "{{ batch_label }}"
        assert type(task).__name__.endswith("MappedOperator")
    summary = dag.get_task("summarise")
    assert summary.trigger_rule == "all_done"
    assert {upstream.task_id for upstream in summary.upstream_list} >= set(mapped)
